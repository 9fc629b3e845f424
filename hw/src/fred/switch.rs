//! The whole FRED switch (spec fred.md §3, §6, §10): input buffers, a configuration memory
//! indexed by communication phase, a scheduler that releases a phase's flits only when every
//! input port of the phase has one, the Fred_m(P) interconnect, and credit-managed output
//! buffers. Each port is an AXI4-Stream pair: `s<k>_*` in, `m<k>_*` out, the phase ID riding
//! in `tuser` as the packet header's configuration index does in the paper.
//!
//! ```text
//!  s<k> ─► input FIFO ─┐                 cfg memory[phase] ─┐
//!                      ├─► scheduler ─► vector register ───►├─► Fred_m(P) ─► output FIFO ─► m<k>
//!  i_cfg_* ─► phase tables (input set, output set, µSwitch masks)
//! ```
//!
//! A phase is a set of disjoint flows (routed by `router`), loaded through `i_cfg_*` as one
//! entry: the µSwitch masks (`rtl::encode`), the phase's input ports and its output ports
//! (`entry`). In a cycle where a port's head flit belongs to phase h, every input port of h
//! holds a flit of h at its head, and every output port of h has credit, the switch *fires*:
//! it pops those flits (the lowest such port's phase wins when several could fire), and
//! `1 + C` cycles later (C = the interconnect's columns) every output of each flow receives the
//! sum of the flow's inputs. So the i-th flits of phase h at its input ports are reduced
//! together — the flit alignment the paper's reducing µSwitches need — and different phases
//! whose ports are free proceed independently, one release per cycle. A flit whose port is not
//! an input of its phase (or whose phase was never loaded) is dropped and raises the sticky
//! `o_fault`. Phases are loaded before their flits arrive (the paper routes at compile time).
//!
//! Credits: output port j counts releases in flight to it; the switch fires only when every
//! output of the phase has room for them and for the new one, so back-pressure on `m<j>` never
//! loses a flit and the interconnect itself never stalls.

use super::network::{check_flows, Flow, FlowError, Network};
use super::rtl;
use super::{FredConfig, FredError};
use crate::blocks::arbiter::{all, any, lowest, one_hot};
use crate::blocks::axis::fifo;
use crate::blocks::delay::delay_line;
use crate::rtl::{Bits, DrcErrors, MemStyle, Module, ModuleBuilder, ReadDuringWrite, Sig};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// Phase-table limits: at least one phase; the phase ID is one header byte.
pub const MAX_PHASES: u32 = 256;
/// Port limit of the whole switch: its scheduler compares every port's head with every other.
pub const MAX_SWITCH_PORTS: u32 = 64;
/// Cycles from a release (the pop) to the interconnect's input: the vector register and the
/// configuration memory's read.
pub const ISSUE_LATENCY: u64 = 1;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SwitchError {
    #[error(transparent)]
    Net(#[from] FredError),
    #[error("a whole switch has at most {MAX_SWITCH_PORTS} ports, got {0}")]
    Ports(u32),
    #[error("phases must be from 1 to {MAX_PHASES}, got {0}")]
    Phases(u32),
    #[error("input buffer depth must be a power of two from 2 to 64 flits, got {0}")]
    Depth(u32),
}

/// One whole switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchConfig {
    #[serde(flatten)]
    pub net: FredConfig,
    /// Entries of the phase memory.
    pub phases: u32,
    /// Flits each input buffer holds.
    pub depth: u32,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            net: FredConfig::default(),
            phases: 16,
            depth: 8,
        }
    }
}

impl SwitchConfig {
    pub fn validate(&self) -> Result<(), SwitchError> {
        self.net.validate()?;
        if self.net.ports > MAX_SWITCH_PORTS {
            return Err(SwitchError::Ports(self.net.ports));
        }
        if !(1..=MAX_PHASES).contains(&self.phases) {
            return Err(SwitchError::Phases(self.phases));
        }
        if !self.depth.is_power_of_two() || !(2..=64).contains(&self.depth) {
            return Err(SwitchError::Depth(self.depth));
        }
        Ok(())
    }

    pub fn module_name(&self) -> String {
        format!(
            "fred_switch{}_p{}_w{}_ph{}_d{}",
            self.net.m, self.net.ports, self.net.width, self.phases, self.depth
        )
    }

    /// Bits of a phase ID (`tuser`, `i_cfg_addr`).
    pub fn phase_bits(&self) -> u32 {
        (32 - (self.phases - 1).leading_zeros()).max(1)
    }

    /// Cycles from a release to its flits entering the output buffers.
    pub fn latency(&self, net: &Network) -> u64 {
        ISSUE_LATENCY + net.columns as u64
    }

    /// Output buffer depth: every release in flight and a few more, so a port that is always
    /// ready never holds the switch back.
    pub fn out_depth(&self, net: &Network) -> u32 {
        ((self.latency(net) + 4) as u32).next_power_of_two().max(4)
    }
}

/// Width of a phase entry: µSwitch masks, then the input set, then the output set.
pub fn entry_bits(net: &Network) -> u32 {
    rtl::cfg_bits(net) + 2 * net.cfg.ports
}

/// The input and output sets of a phase's flows (bit p = port p).
pub fn port_sets(flows: &[Flow]) -> (u64, u64) {
    let set = |ps: &mut dyn Iterator<Item = u32>| ps.fold(0u64, |a, p| a | 1 << p);
    (
        set(&mut flows.iter().flat_map(|f| f.ins.iter().copied())),
        set(&mut flows.iter().flat_map(|f| f.outs.iter().copied())),
    )
}

/// The phase entry for routed `flows` (`masks` from `router::route`).
pub fn entry(net: &Network, masks: &super::network::Masks, flows: &[Flow]) -> Bits {
    let p = net.cfg.ports;
    let cb = rtl::cfg_bits(net);
    let mut e = Bits::zero(entry_bits(net));
    e.set_slice(0, &rtl::encode(net, masks));
    let (ins, outs) = port_sets(flows);
    e.set_slice(cb, &Bits::from_u64(p, ins));
    e.set_slice(cb + p, &Bits::from_u64(p, outs));
    e
}

/// Traffic through a switch: phases (each a set of flows, its ID its index) and the releases
/// in the order they are offered, each a phase and one element per port (elements of ports
/// outside the phase's inputs are not sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traffic {
    pub phases: Vec<Vec<Flow>>,
    pub releases: Vec<(u32, Vec<u64>)>,
}

/// Per port, the flits in order: (phase, element).
pub type PortFlits = Vec<Vec<(u32, u64)>>;

impl Traffic {
    pub fn check(&self, cfg: &FredConfig) -> Result<(), FlowError> {
        for flows in &self.phases {
            check_flows(cfg.ports, flows)?;
        }
        Ok(())
    }

    /// What each input port sends.
    pub fn inputs(&self, ports: u32) -> PortFlits {
        let mut v: PortFlits = vec![Vec::new(); ports as usize];
        for (ph, x) in &self.releases {
            let (ins, _) = port_sets(&self.phases[*ph as usize]);
            for (p, port) in v.iter_mut().enumerate() {
                if ins >> p & 1 == 1 {
                    port.push((*ph, x[p]));
                }
            }
        }
        v
    }

    /// What each output port must receive, by the flow golden model (`network::apply`). Flits
    /// of one phase at one port arrive in this order; flits of different phases may
    /// interleave differently, so compare with `by_phase`.
    pub fn outputs(&self, cfg: &FredConfig) -> PortFlits {
        let mut v: PortFlits = vec![Vec::new(); cfg.ports as usize];
        for (ph, x) in &self.releases {
            let flows = &self.phases[*ph as usize];
            let y = super::network::apply(cfg, flows, x);
            let (_, outs) = port_sets(flows);
            for (p, port) in v.iter_mut().enumerate() {
                if outs >> p & 1 == 1 {
                    port.push((*ph, y[p]));
                }
            }
        }
        v
    }
}

/// A port's flits grouped by phase, each group in arrival order — what the switch guarantees.
pub fn by_phase(flits: &[(u32, u64)]) -> std::collections::BTreeMap<u32, Vec<u64>> {
    let mut m = std::collections::BTreeMap::<u32, Vec<u64>>::new();
    for &(ph, x) in flits {
        m.entry(ph).or_default().push(x);
    }
    m
}

/// Generates the switch: per port `s<k>_tdata` (W), `s<k>_tuser` (phase), `s<k>_tvalid`,
/// `s<k>_tready`, `m<k>_*` likewise; `i_cfg_we`, `i_cfg_addr`, `i_cfg_data` (`entry`);
/// `o_fault`.
pub fn generate(sc: &SwitchConfig) -> Result<Rc<Module>, DrcErrors> {
    let cfg = sc.net;
    let net = Network::new(&cfg);
    let (p, w, pb) = (cfg.ports, cfg.width, sc.phase_bits());
    let cb = rtl::cfg_bits(&net);
    let eb = entry_bits(&net);
    let core = rtl::generate(&cfg)?;
    let in_fifo = fifo(w + pb, sc.depth)?;
    let od = sc.out_depth(&net);
    let out_fifo = fifo(w + pb, od)?;
    let lat = sc.latency(&net);
    let mut b = ModuleBuilder::new(sc.module_name());

    // Phase tables: input and output sets in registers (every port reads them at once), the
    // µSwitch masks in a memory read once per release.
    let we = b.input("i_cfg_we", 1);
    let wa = b.input("i_cfg_addr", pb);
    let wd = b.input("i_cfg_data", eb);
    let wd_in = b.slice(wd, cb + p - 1, cb);
    let wd_out = b.slice(wd, cb + 2 * p - 1, cb + p);
    let wd_masks = b.slice(wd, cb - 1, 0);
    let slots = 1u32 << pb;
    let (mut in_sets, mut out_sets) = (Vec::new(), Vec::new());
    for ph in 0..slots {
        if ph < sc.phases {
            let hit = b.eq_lit(wa, ph as u64);
            let en = b.and(we, hit);
            let i = b.reg(&format!("in_set{ph}"), Bits::zero(p));
            b.next(i, wd_in, Some(en));
            let o = b.reg(&format!("out_set{ph}"), Bits::zero(p));
            b.next(o, wd_out, Some(en));
            in_sets.push(i);
            out_sets.push(o);
        } else {
            let z = b.zero(p);
            in_sets.push(z);
            out_sets.push(z);
        }
    }
    let style = if sc.phases * cb <= 16 * 1024 {
        MemStyle::Distributed
    } else {
        MemStyle::Auto
    };
    let mem = b.memory("masks", cb, sc.phases, style, ReadDuringWrite::ReadFirst);
    b.mem_write(mem, wa, wd_masks, we);

    // Input buffers.
    let cnt_bits = |d: u32| d.trailing_zeros() + 1;
    let pops: Vec<Sig> = (0..p).map(|k| b.wire(&format!("pop{k}"), 1)).collect();
    let (mut heads, mut hvalid, mut hphase) = (Vec::new(), Vec::new(), Vec::new());
    let zero1 = b.zero(1);
    for k in 0..p {
        let d = b.input(&format!("s{k}_tdata"), w);
        let u = b.input(&format!("s{k}_tuser"), pb);
        let v = b.input(&format!("s{k}_tvalid"), 1);
        let beat = b.cat(&[u, d]);
        let f = b.instance(
            &format!("in_fifo{k}"),
            &in_fifo,
            &[
                ("s_axis_tdata", beat),
                ("s_axis_tlast", zero1),
                ("s_axis_tvalid", v),
                ("m_axis_tready", pops[k as usize]),
            ],
        );
        b.output(&format!("s{k}_tready"), f.get("s_axis_tready"));
        let head = f.get("m_axis_tdata");
        heads.push(b.slice(head, w - 1, 0));
        hphase.push(b.slice(head, w + pb - 1, w));
        hvalid.push(f.get("m_axis_tvalid"));
    }

    // Credits of the output buffers.
    let ob = cnt_bits(od);
    let out_counts: Vec<Sig> = (0..p)
        .map(|k| b.wire(&format!("out_count{k}"), ob))
        .collect();
    // Releases in flight to each output (counted from the cycle after they fire), and the
    // release of the last cycle: registered, so no adder sits behind the scheduler.
    let in_flight: Vec<Sig> = (0..p)
        .map(|k| b.reg(&format!("in_flight{k}"), Bits::zero(ob)))
        .collect();
    let issued: Vec<Sig> = (0..p)
        .map(|k| b.reg(&format!("issued{k}"), Bits::zero(1)))
        .collect();
    let limit = b.lit(ob, od as u64);
    let room: Vec<Sig> = (0..p as usize)
        .map(|j| {
            let t = b.add(out_counts[j], in_flight[j]);
            let q = b.extend(issued[j], ob);
            let t = b.add(t, q);
            b.lt(t, limit)
        })
        .collect();

    // The scheduler: can port k's head phase fire?
    let mut cand = Vec::new();
    let mut bad = Vec::new();
    let mut ins_k = Vec::new();
    let mut outs_k = Vec::new();
    for k in 0..p as usize {
        let ins = b.select(hphase[k], &in_sets);
        let outs = b.select(hphase[k], &out_sets);
        let member = b.bit(ins, k as u32);
        let mut conds = Vec::new();
        for j in 0..p as usize {
            let needed = b.bit(ins, j as u32);
            let not_needed = b.not(needed);
            let same = if j == k {
                hvalid[j]
            } else {
                let eq = b.eq(hphase[j], hphase[k]);
                b.and(hvalid[j], eq)
            };
            conds.push(b.or(not_needed, same));
            let out_j = b.bit(outs, j as u32);
            let no_out = b.not(out_j);
            conds.push(b.or(no_out, room[j]));
        }
        let ok = all(&mut b, &conds);
        let c = b.and(ok, member);
        cand.push(c);
        let nm = b.not(member);
        bad.push(b.and(hvalid[k], nm));
        ins_k.push(ins);
        outs_k.push(outs);
    }
    // The lowest port that can fire decides the phase.
    let grant = lowest(&mut b, &cand);
    let fire = any(&mut b, &cand);
    let sel_ins = one_hot(&mut b, &grant, &ins_k);
    let sel_outs = one_hot(&mut b, &grant, &outs_k);
    let sel_phase = one_hot(&mut b, &grant, &hphase);
    let mut vec = Vec::new();
    for k in 0..p as usize {
        let take = b.bit(sel_ins, k as u32);
        let take = b.and(fire, take);
        let pop = b.or(take, bad[k]);
        b.assign(pops[k], pop);
        let z = b.zero(w);
        vec.push(b.mux(take, heads[k], z));
    }
    vec.reverse();
    let vec = b.cat(&vec);
    let fault = b.reg("fault", Bits::zero(1));
    let any_bad = any(&mut b, &bad);
    let f1 = b.or(fault, any_bad);
    b.next(fault, f1, None);
    b.output("o_fault", fault);

    // The release: the vector registered while the phase's masks are read.
    let vec_q = b.delay("vec_q", vec);
    let fire_q = b.delay("fire_q", fire);
    let zero_outs = b.zero(p);
    let outs_fired = b.mux(fire, sel_outs, zero_outs);
    let tag = b.cat(&[sel_phase, outs_fired]);
    let tag_q = b.delay("tag_q", tag);
    let masks = b.mem_read(mem, sel_phase, Some(fire));
    let net_out = b.instance(
        "net",
        &core,
        &[("i_data", vec_q), ("i_valid", fire_q), ("i_cfg", masks)],
    );
    let tag_out = delay_line(&mut b, "tag_d", tag_q, net.columns as u64);
    let arrive_set = b.slice(tag_out, p - 1, 0);
    let arrive_phase = b.slice(tag_out, p + pb - 1, p);
    let valid_out = net_out.get("o_valid");
    let data_out = net_out.get("o_data");
    debug_assert_eq!(lat, ISSUE_LATENCY + net.columns as u64);

    // Output buffers.
    let one = b.lit(ob, 1);
    for j in 0..p {
        let i = j as usize;
        let a = b.bit(arrive_set, j);
        let push = b.and(valid_out, a);
        let d = b.slice(data_out, j * w + w - 1, j * w);
        let beat = b.cat(&[arrive_phase, d]);
        let ready = b.input(&format!("m{j}_tready"), 1);
        let f = b.instance(
            &format!("out_fifo{j}"),
            &out_fifo,
            &[
                ("s_axis_tdata", beat),
                ("s_axis_tlast", zero1),
                ("s_axis_tvalid", push),
                ("m_axis_tready", ready),
            ],
        );
        b.assign(out_counts[i], f.get("o_count"));
        let head = f.get("m_axis_tdata");
        let hd = b.slice(head, w - 1, 0);
        let hu = b.slice(head, w + pb - 1, w);
        b.output(&format!("m{j}_tdata"), hd);
        b.output(&format!("m{j}_tuser"), hu);
        b.output(&format!("m{j}_tvalid"), f.get("m_axis_tvalid"));
        // Credit: +1 the cycle after a release to j fires, −1 when it reaches the buffer
        // (at least 1 + C cycles after it fired).
        let sent = b.bit(sel_outs, j);
        let issue = b.and(fire, sent);
        b.next(issued[i], issue, None);
        let up = b.add(in_flight[i], one);
        let down = b.sub(in_flight[i], one);
        let moved = b.xor(issued[i], push);
        let next = b.mux(issued[i], up, down);
        b.next(in_flight[i], next, Some(moved));
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_errors_say_what_is_allowed() {
        let bad = |f: fn(&mut SwitchConfig)| {
            let mut c = SwitchConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert_eq!(bad(|c| c.phases = 0), "phases must be from 1 to 256, got 0");
        assert_eq!(
            bad(|c| c.depth = 12),
            "input buffer depth must be a power of two from 2 to 64 flits, got 12"
        );
        assert_eq!(
            bad(|c| c.net.ports = 65),
            "a whole switch has at most 64 ports, got 65"
        );
        assert_eq!(
            bad(|c| c.net.m = 4),
            "m (middle sub-networks) must be 2 or 3, got 4"
        );
        assert!(SwitchConfig::default().validate().is_ok());
    }

    #[test]
    fn phase_ids_take_just_enough_bits() {
        let bits = |phases| {
            SwitchConfig {
                phases,
                ..Default::default()
            }
            .phase_bits()
        };
        assert_eq!(
            [bits(1), bits(2), bits(3), bits(16), bits(17), bits(256)],
            [1, 1, 2, 4, 5, 8]
        );
    }
}
