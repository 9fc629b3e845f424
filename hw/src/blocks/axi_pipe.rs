//! A fixed-latency pipeline behind AXI: its parameters in an AXI4-Lite register file, its data
//! on AXI4-Stream, so any block that takes one beat per cycle and never stalls (BIRRD, a FIR
//! filter) sits in a Zynq block design without a wrapper of its own.
//!
//! ```text
//!  s_axi (AXI4-Lite) ──► regfile: parameters (core inputs), BEATS (status)
//!  s_axis ──► admission ──► core (latency L, no stalls) ──► FIFO (depth ≥ L + 2) ──► m_axis
//!                  └── valid/tlast tags, L registers ──┘
//! ```
//!
//! Admission is credit based (`credit.rs`): a beat enters only when the output FIFO has room
//! for it and every beat in flight, so back-pressure on `m_axis` never loses one, and
//! `s_axis_tready` comes from registers. A core with state that must advance only on real
//! beats (a filter's delay line) takes the admission strobe on its `valid_in` input; a
//! stateless core (BIRRD) sees whatever `s_axis_tdata` holds on idle cycles and its results
//! are dropped. A core that answers only some beats says which on its `valid_out` output
//! (credits are still held for every beat in flight, so admission stays conservative).
//! CTRL's done rises when a beat with `tlast` leaves on `m_axis`; BEATS counts beats out. Parameters are static while a stream runs (written before it).

use super::axi_lite::{attach, regfile, Param, RegMap, RegMapError, Status};
use super::axis::{fifo, fifo_to_m_axis};
use super::credit::admission;
use crate::rtl::{Bits, DrcErrors, Module, ModuleBuilder, Sig};
use std::rc::Rc;

/// A core to wrap, and how its ports meet the buses.
pub struct Pipeline<'a> {
    /// The wrapper's module name.
    pub name: String,
    pub core: &'a Rc<Module>,
    /// The core input that takes a beat's data (as wide as `s_axis_tdata`).
    pub data_in: &'a str,
    /// The core output that holds a beat's result `latency` cycles after it entered.
    pub data_out: &'a str,
    /// A core input raised in the cycle a beat enters, if the core has one.
    pub valid_in: Option<&'a str>,
    pub latency: u64,
    /// A core output, raised `latency` cycles after a beat entered, saying whether that beat
    /// has a result (a core that answers only some beats, like a dot-product engine that
    /// answers a row's last chunk); without one, every beat has.
    pub valid_out: Option<&'a str>,
    /// Core inputs driven by parameters: (core input, its parameters, least significant first).
    pub params: Vec<(&'a str, Vec<String>)>,
}

/// The parameters holding a `width`-bit value in 32-bit words, `<name>_0`, `<name>_1`, …,
/// least significant first.
pub fn word_params(name: &str, width: u32, doc: &str) -> Vec<Param> {
    (0..width.div_ceil(32))
        .map(|k| Param {
            name: format!("{name}_{k}"),
            width: (width - 32 * k).min(32),
            reset: 0,
            doc: format!("{doc}: bits {}..{}", 32 * k, (32 * k + 31).min(width - 1)),
        })
        .collect()
}

/// The register map of a wrapped pipeline: `params`, then the BEATS counter.
pub fn pipeline_map(name: &str, params: Vec<Param>) -> Result<RegMap, RegMapError> {
    RegMap::new(
        name,
        params,
        vec![Status {
            name: "beats".into(),
            width: 32,
            doc: "beats sent on m_axis since reset".into(),
        }],
    )
}

/// FIFO depth for a pipeline of `latency` cycles: room for every beat in flight and two more.
pub fn fifo_depth(latency: u64) -> u32 {
    (latency as u32 + 2).next_power_of_two().max(2)
}

/// Generates the wrapper (`clk`, `rst`, `s_axi_*`, `s_axis_*`, `m_axis_*`, `o_irq`).
pub fn axi_pipeline(p: &Pipeline, map: &RegMap) -> Result<Rc<Module>, DrcErrors> {
    let regs = regfile(map)?;
    let din = p.core.input_index(p.data_in).map(|i| p.core.inputs[i].1);
    let dout = p.core.output_index(p.data_out).map(|i| p.core.outputs[i].1);
    let wi = din.map_or(1, |id| p.core.node(id).width);
    let wo = dout.map_or(1, |id| p.core.node(id).width);
    let depth = fifo_depth(p.latency);
    let out_fifo = fifo(wo, depth)?;
    let mut b = ModuleBuilder::new(p.name.clone());
    let s_data = b.input("s_axis_tdata", wi);
    let s_last = b.input("s_axis_tlast", 1);
    let s_valid = b.input("s_axis_tvalid", 1);
    let m_ready = b.input("m_axis_tready", 1);
    let done = b.wire("done", 1);
    let beats = b.reg("beats", Bits::zero(32));
    let r = attach(&mut b, map, &regs, done, &[("beats", beats)]);

    let cb = depth.trailing_zeros() + 1;
    let fifo_count = b.wire("fifo_count", cb);
    let adm = admission(&mut b, "", s_valid, s_last, p.latency, depth, fifo_count);
    b.output("s_axis_tready", adm.ready);
    let mut conns: Vec<(String, Sig)> = vec![(p.data_in.to_string(), s_data)];
    if let Some(v) = p.valid_in {
        conns.push((v.to_string(), adm.take));
    }
    for (input, names) in &p.params {
        let mut parts: Vec<Sig> = names.iter().map(|n| r.get(&format!("o_{n}"))).collect();
        parts.reverse();
        let v = b.cat(&parts);
        conns.push((input.to_string(), v));
    }
    let refs: Vec<(&str, Sig)> = conns.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let c = b.instance("core", p.core, &refs);
    let push = match p.valid_out {
        Some(v) => {
            let v = c.get(v);
            b.and(adm.arrive, v)
        }
        None => adm.arrive,
    };
    let (m_valid, m_last) = fifo_to_m_axis(
        &mut b,
        &out_fifo,
        (c.get(p.data_out), adm.arrive_tag, push),
        m_ready,
        fifo_count,
    );
    count_beats_out(&mut b, (m_valid, m_ready, m_last), beats, done);
    b.finish()
}

/// The output side's bookkeeping: `beats` (a 32-bit register) counts beats sent on
/// `m_axis`, and the wire `done` pulses the cycle after a beat with `tlast` left.
pub fn count_beats_out(
    b: &mut ModuleBuilder,
    (m_valid, m_ready, m_last): (Sig, Sig, Sig),
    beats: Sig,
    done: Sig,
) {
    let sent = b.and(m_valid, m_ready);
    let one32 = b.lit(32, 1);
    let beats1 = b.add(beats, one32);
    b.next(beats, beats1, Some(sent));
    let last_out = b.and(sent, m_last);
    let done_q = b.delay("done_q", last_out);
    b.assign(done, done_q);
}
