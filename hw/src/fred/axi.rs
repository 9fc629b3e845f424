//! The FRED switch on a Zynq: its P port streams multiplexed onto one AXI DMA, its phases
//! loaded over AXI4-Lite.
//!
//! ```text
//!  s_axis ─► skid ─► by port byte ─► s<k> ┐                  ┌ m<k> ─► lowest port first ─► skid ─► m_axis
//!                                         └── FRED switch ───┘
//!  s_axi ─► regfile: CFG_* (a phase entry), PHASE, EXPECT; CTRL.start loads CFG_* into PHASE
//! ```
//!
//! A stream beat is one flit, `BEAT_BITS` wide: the element in bits [0, 64) (the low W bits
//! used, the rest zero on the way out), the phase ID in byte 8, the port in byte 9. Incoming
//! beats go to their port's input buffer; a beat for a port or phase the switch does not have
//! is dropped and raises FAULT. Outgoing flits leave one per cycle, the lowest ready port
//! first; `tlast` marks the flit that brings this run's count to EXPECT, and CTRL.done rises
//! when it has left. The switch core itself takes a flit on every port in the same cycle —
//! on the board one DMA channel feeds them all, so a release of k flits needs k beats.

use super::network::Network;
use super::switch::{entry_bits, SwitchConfig};
use crate::blocks::arbiter::{any, lowest, one_hot};
use crate::blocks::axi_lite::{attach, regfile, Param, RegMap, RegMapError, Status};
use crate::blocks::axi_pipe::{count_beats_out, word_params};
use crate::blocks::axis::skid;
use crate::rtl::{Bits, DrcErrors, Module, ModuleBuilder, Sig};
use std::rc::Rc;

/// Bits of one stream beat: element (64), phase (8), port (8).
pub const BEAT_BITS: u32 = 80;
/// Bit offsets of the phase and port bytes in a beat.
pub const PHASE_AT: u32 = 64;
pub const PORT_AT: u32 = 72;

/// The register map: a phase entry in `cfg_*`, the phase to load it into, the flits a run
/// expects out; status FLITS_OUT and FAULT.
pub fn map(sc: &SwitchConfig) -> Result<RegMap, RegMapError> {
    let net = Network::new(&sc.net);
    let mut params = word_params(
        "cfg",
        entry_bits(&net),
        "phase entry: µSwitch masks, input ports, output ports",
    );
    params.push(Param {
        name: "phase".into(),
        width: sc.phase_bits(),
        reset: 0,
        doc: "the phase CTRL.start loads the entry into".into(),
    });
    params.push(Param {
        name: "expect".into(),
        width: 32,
        reset: 0,
        doc: "flits this run sends on m_axis (tlast on the last)".into(),
    });
    RegMap::new(
        &format!("axi_{}", sc.module_name()),
        params,
        vec![
            Status {
                name: "flits_out".into(),
                width: 32,
                doc: "flits sent on m_axis since reset".into(),
            },
            Status {
                name: "fault".into(),
                width: 1,
                doc: "a flit came for a port or phase the switch does not have (sticky)".into(),
            },
        ],
    )
}

/// Generates the wrapper (`clk`, `rst`, `s_axi_*`, `s_axis_*`, `m_axis_*`, `o_irq`).
pub fn wrap(sc: &SwitchConfig, core: &Rc<Module>, map: &RegMap) -> Result<Rc<Module>, DrcErrors> {
    let regs = regfile(map)?;
    let (p, w, pb) = (sc.net.ports, sc.net.width, sc.phase_bits());
    let in_skid = skid(BEAT_BITS)?;
    let out_skid = skid(BEAT_BITS)?;
    let mut b = ModuleBuilder::new(map.name.clone());
    let s_data = b.input("s_axis_tdata", BEAT_BITS);
    let s_last = b.input("s_axis_tlast", 1);
    let s_valid = b.input("s_axis_tvalid", 1);
    let m_ready = b.input("m_axis_tready", 1);
    let done = b.wire("done", 1);
    let flits_out = b.reg("flits_out", Bits::zero(32));
    let fault = b.wire("fault", 1);
    let r = attach(
        &mut b,
        map,
        &regs,
        done,
        &[("flits_out", flits_out), ("fault", fault)],
    );

    // In: skid, then the beat's port.
    let in_ready = b.wire("in_ready", 1);
    let si = b.instance(
        "in_skid",
        &in_skid,
        &[
            ("s_axis_tdata", s_data),
            ("s_axis_tlast", s_last),
            ("s_axis_tvalid", s_valid),
            ("m_axis_tready", in_ready),
        ],
    );
    b.output("s_axis_tready", si.get("s_axis_tready"));
    let beat = si.get("m_axis_tdata");
    let bvalid = si.get("m_axis_tvalid");
    let elem = b.slice(beat, w - 1, 0);
    let phase_byte = b.slice(beat, PHASE_AT + 7, PHASE_AT);
    let port_byte = b.slice(beat, PORT_AT + 7, PORT_AT);
    let phase = b.slice(phase_byte, pb - 1, 0);
    let nphases = b.lit(8, sc.phases as u64);
    let phase_ok = b.lt(phase_byte, nphases);
    let nports = b.lit(8, p as u64);
    let port_ok = b.lt(port_byte, nports);
    let ok = b.and(phase_ok, port_ok);
    let nok = b.not(ok);
    let dropped = b.and(bvalid, nok);

    let mut conns: Vec<(String, Sig)> = Vec::new();
    let mut to_port = Vec::new();
    for k in 0..p {
        let here = b.eq_lit(port_byte, k as u64);
        let here = b.and(here, ok);
        let v = b.and(bvalid, here);
        conns.push((format!("s{k}_tdata"), elem));
        conns.push((format!("s{k}_tuser"), phase));
        conns.push((format!("s{k}_tvalid"), v));
        to_port.push(here);
    }
    // Out: the lowest port with a flit, when the output skid has room.
    let skid_ready = b.wire("out_skid_ready", 1);
    let m_valids: Vec<Sig> = (0..p).map(|k| b.wire(&format!("m{k}_valid"), 1)).collect();
    let grant = lowest(&mut b, &m_valids);
    let any_out = any(&mut b, &m_valids);
    for (k, &g) in grant.iter().enumerate() {
        let t = b.and(g, skid_ready);
        conns.push((format!("m{k}_tready"), t));
    }
    let start = r.get("o_start");
    let mut words: Vec<Sig> = map
        .params
        .iter()
        .filter(|q| q.name.starts_with("cfg_"))
        .map(|q| r.get(&format!("o_{}", q.name)))
        .collect();
    words.reverse();
    let entry = b.cat(&words);
    conns.push(("i_cfg_we".into(), start));
    conns.push(("i_cfg_addr".into(), r.get("o_phase")));
    conns.push(("i_cfg_data".into(), entry));
    let refs: Vec<(&str, Sig)> = conns.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let c = b.instance("switch", core, &refs);
    let mut taken = vec![dropped];
    for (k, &here) in to_port.iter().enumerate() {
        let rd = c.get(&format!("s{k}_tready"));
        taken.push(b.and(here, rd));
    }
    let acc = any(&mut b, &taken);
    b.assign(in_ready, acc);
    let sticky = b.reg("drop_fault", Bits::zero(1));
    let s1 = b.or(sticky, dropped);
    b.next(sticky, s1, None);
    let f = b.or(sticky, c.get("o_fault"));
    b.assign(fault, f);

    let mut datas = Vec::new();
    let mut users = Vec::new();
    let mut ports = Vec::new();
    for k in 0..p {
        b.assign(m_valids[k as usize], c.get(&format!("m{k}_tvalid")));
        datas.push(c.get(&format!("m{k}_tdata")));
        users.push(c.get(&format!("m{k}_tuser")));
        ports.push(b.lit(8, k as u64));
    }
    let od = one_hot(&mut b, &grant, &datas);
    let ou = one_hot(&mut b, &grant, &users);
    let op = one_hot(&mut b, &grant, &ports);
    let od = b.extend(od, 64);
    let ou = b.extend(ou, 8);
    let out_beat = b.cat(&[op, ou, od]);
    // tlast on the flit that brings this run's count to EXPECT.
    let gathered = b.reg("gathered", Bits::zero(32));
    let one32 = b.lit(32, 1);
    let g1 = b.add(gathered, one32);
    let last = b.eq(g1, r.get("o_expect"));
    let moved = b.and(any_out, skid_ready);
    let zero32 = b.zero(32);
    let gn = b.mux(last, zero32, g1);
    b.next(gathered, gn, Some(moved));
    let so = b.instance(
        "out_skid",
        &out_skid,
        &[
            ("s_axis_tdata", out_beat),
            ("s_axis_tlast", last),
            ("s_axis_tvalid", any_out),
            ("m_axis_tready", m_ready),
        ],
    );
    b.assign(skid_ready, so.get("s_axis_tready"));
    let m_valid = so.get("m_axis_tvalid");
    let m_last = so.get("m_axis_tlast");
    b.output("m_axis_tdata", so.get("m_axis_tdata"));
    b.output("m_axis_tlast", m_last);
    b.output("m_axis_tvalid", m_valid);
    count_beats_out(&mut b, (m_valid, m_ready, m_last), flits_out, done);
    b.finish()
}

/// A flit as a stream beat.
pub fn beat(port: u32, phase: u32, elem: u64) -> Bits {
    let mut b = Bits::zero(BEAT_BITS);
    b.set_slice(0, &Bits::from_u64(64, elem));
    b.set_slice(PHASE_AT, &Bits::from_u64(8, phase as u64));
    b.set_slice(PORT_AT, &Bits::from_u64(8, port as u64));
    b
}
