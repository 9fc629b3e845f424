//! The Fred_m(P) interconnect in hardware: one µSwitch module for every stage (I inputs, O
//! outputs, W bits; output o is the registered sum of the inputs its mask selects), wired as
//! `network.rs` numbers them, one column of µSwitches per pipeline stage.
//!
//! ```text
//!  i_data[P·W], i_cfg ─► column 0 ─► column 1 ─► … ─► column C−1 ─► o_data[P·W]
//!                         masks of column c travel c cycles with their data
//! ```
//! Port p of a vector is bits `[p·W +: W]`. `i_cfg` holds every µSwitch's masks in µSwitch
//! order (`cfg_layout`); the configuration given with a vector is the one applied to it, so a
//! new communication phase can start on any cycle. Latency: C cycles (`Network::columns`),
//! one vector per cycle; sums wrap at W bits.

use super::network::{Masks, Network, Src};
use super::FredConfig;
use crate::blocks::delay::delay_line;
use crate::rtl::{Bits, DrcErrors, Module, ModuleBuilder, Sig};
use std::collections::HashMap;
use std::rc::Rc;

/// Bit offset and width of each µSwitch's masks in `i_cfg` (output o's mask at
/// `offset + o·inputs`, bit i = input i).
pub fn cfg_layout(net: &Network) -> Vec<(u32, u32)> {
    let mut off = 0;
    net.switches
        .iter()
        .map(|s| {
            let w = s.outputs * s.inputs.len() as u32;
            let at = (off, w);
            off += w;
            at
        })
        .collect()
}

/// Width of `i_cfg`.
pub fn cfg_bits(net: &Network) -> u32 {
    cfg_layout(net).iter().map(|&(_, w)| w).sum::<u32>().max(1)
}

/// A configuration as the `i_cfg` word.
pub fn encode(net: &Network, masks: &Masks) -> Bits {
    let mut word = Bits::zero(cfg_bits(net));
    for ((off, _), (s, m)) in cfg_layout(net).iter().zip(net.switches.iter().zip(masks)) {
        let n = s.inputs.len() as u32;
        for (o, &mask) in m.iter().enumerate() {
            word.set_slice(
                off + o as u32 * n,
                &Bits::from_u64(n, mask as u64 & ((1 << n) - 1)),
            );
        }
    }
    word
}

/// The µSwitch: `i_d` (I·W), `i_mask` (O·I, output o's at bits `[o·I +: I]`) → `o_d` (O·W),
/// registered.
pub fn micro_switch(inputs: u32, outputs: u32, width: u32) -> Result<Rc<Module>, DrcErrors> {
    let mut b = ModuleBuilder::new(format!("fred_usw_i{inputs}_o{outputs}_w{width}"));
    let d = b.input("i_d", inputs * width);
    let mask = b.input("i_mask", outputs * inputs);
    let xs: Vec<Sig> = (0..inputs)
        .map(|i| b.slice(d, i * width + width - 1, i * width))
        .collect();
    let mut outs = Vec::new();
    for o in 0..outputs {
        let zero = b.zero(width);
        let mut acc: Option<Sig> = None;
        for (i, &x) in xs.iter().enumerate() {
            let on = b.bit(mask, o * inputs + i as u32);
            let t = b.mux(on, x, zero);
            acc = Some(match acc {
                None => t,
                Some(a) => b.add(a, t),
            });
        }
        let v = acc.unwrap_or(zero);
        outs.push(b.delay(&format!("q{o}"), v));
    }
    outs.reverse();
    let o = b.cat(&outs);
    b.output("o_d", o);
    b.finish()
}

/// The interconnect for `cfg`: `i_data`, `i_valid`, `i_cfg` → `o_data`, `o_valid`.
pub fn generate(cfg: &FredConfig) -> Result<Rc<Module>, DrcErrors> {
    let net = Network::new(cfg);
    let w = cfg.width;
    let p = cfg.ports;
    let mut modules: HashMap<(u32, u32), Rc<Module>> = HashMap::new();
    for s in &net.switches {
        let shape = (s.inputs.len() as u32, s.outputs);
        if !modules.contains_key(&shape) {
            modules.insert(shape, micro_switch(shape.0, shape.1, w)?);
        }
    }
    let mut b = ModuleBuilder::new(cfg.module_name());
    let data = b.input("i_data", p * w);
    let valid = b.input("i_valid", 1);
    let word = b.input("i_cfg", cfg_bits(&net));
    let ports: Vec<Sig> = (0..p)
        .map(|k| b.slice(data, k * w + w - 1, k * w))
        .collect();
    // The configuration as each column sees it: delayed with its data.
    let cfg_at: Vec<Sig> = {
        let mut v = vec![word];
        for c in 1..net.columns {
            let prev = v[c as usize - 1];
            v.push(b.delay(&format!("cfg_q{c}"), prev));
        }
        v
    };
    let layout = cfg_layout(&net);
    // Each µSwitch's outputs, valid in the cycle after its column.
    let mut outs: Vec<Vec<Sig>> = Vec::with_capacity(net.switches.len());
    let source =
        |b: &mut ModuleBuilder, name: &str, src: &Src, col: u32, outs: &Vec<Vec<Sig>>| -> Sig {
            let (sig, ready_at) = match *src {
                Src::Port(k) => (ports[k as usize], 0),
                Src::Switch { sw, out } => (outs[sw][out as usize], net.switches[sw].column + 1),
            };
            // A wire that skips columns waits for its column (none does in Fred_m(P)).
            delay_line(b, name, sig, (col - ready_at) as u64)
        };
    for (k, s) in net.switches.iter().enumerate() {
        let n = s.inputs.len() as u32;
        let m = modules[&(n, s.outputs)].clone();
        let mut ins: Vec<Sig> = s
            .inputs
            .iter()
            .enumerate()
            .map(|(i, src)| source(&mut b, &format!("skip{k}_{i}_q"), src, s.column, &outs))
            .collect();
        ins.reverse();
        let d = b.cat(&ins);
        let (off, width) = layout[k];
        let mask = b.slice(cfg_at[s.column as usize], off + width - 1, off);
        let inst = b.instance(&format!("usw{k}"), &m, &[("i_d", d), ("i_mask", mask)]);
        let od = inst.get("o_d");
        outs.push(
            (0..s.outputs)
                .map(|o| b.slice(od, o * w + w - 1, o * w))
                .collect(),
        );
    }
    let mut out_ports: Vec<Sig> = net
        .outputs
        .iter()
        .enumerate()
        .map(|(k, src)| source(&mut b, &format!("out{k}_q"), src, net.columns, &outs))
        .collect();
    out_ports.reverse();
    let o = b.cat(&out_ports);
    b.output("o_data", o);
    let v = delay_line(&mut b, "valid_q", valid, net.columns as u64);
    b.output("o_valid", v);
    b.finish()
}
