//! BIRRD behind AXI: an AXI4-Lite register file for the configuration and an AXI4-Stream path
//! for the data, so the network can sit in a Zynq block design.
//!
//! ```text
//!  s_axi (AXI4-Lite) ──► regfile: CMD_0… (the BIRRD command word), BEATS (status)
//!  s_axis (N·W bits) ──► BIRRD (S stages, no stalls) ──► FIFO (depth D) ──► m_axis
//!                         valid/tlast shift register ──┘
//! ```
//!
//! BIRRD itself cannot stall, so the wrapper admits a beat only when the output FIFO has room
//! for it and for every beat already inside the network (`count + in flight < D`, D ≥ S + 2);
//! back-pressure on `m_axis` then never loses a beat. `s_axis_tready` comes from registers.
//! CTRL's done is raised when a beat with `tlast` leaves on `m_axis`; BEATS counts beats out.
//! The configuration is static while a stream runs (written before it).

use super::birrd::{generate, BirrdConfig, BirrdError};
use crate::lib::axi_lite::{regfile, Param, RegMap, RegMapError, Status};
use crate::lib::axis::fifo;
use crate::rtl::{Bits, DrcErrors, Module, ModuleBuilder, Sig};
use std::rc::Rc;

#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    #[error(transparent)]
    Birrd(#[from] BirrdError),
    #[error(transparent)]
    Map(#[from] RegMapError),
    #[error(transparent)]
    Drc(#[from] DrcErrors),
}

/// The register map: the command word in 32-bit parameters `cmd_0…`, and the beat counter.
pub fn birrd_map(cfg: &BirrdConfig) -> Result<RegMap, RegMapError> {
    let words = cfg.cmd_width().div_ceil(32);
    let params = (0..words)
        .map(|k| Param {
            name: format!("cmd_{k}"),
            width: (cfg.cmd_width() - 32 * k).min(32),
            reset: 0,
            doc: format!(
                "BIRRD command word bits {}.. (all zero = every switch passes)",
                32 * k
            ),
        })
        .collect();
    RegMap::new(
        &format!("birrd_n{}_w{}", cfg.ports, cfg.width),
        params,
        vec![Status {
            name: "beats".into(),
            width: 32,
            doc: "beats sent on m_axis since reset".into(),
        }],
    )
}

/// FIFO depth for a network of `stages` stages.
pub fn fifo_depth(stages: u32) -> u32 {
    (stages + 2).next_power_of_two()
}

/// Generates `axi_birrd_n<N>_w<W>_<topology>`.
pub fn axi_birrd(cfg: &BirrdConfig) -> Result<Rc<Module>, WrapError> {
    let net = generate(cfg)?;
    let map = birrd_map(cfg)?;
    let regs = regfile(&map)?;
    let s = cfg.stages();
    let depth = fifo_depth(s);
    let dw = cfg.ports * cfg.width;
    let out_fifo = fifo(dw, depth)?;
    let mut b = ModuleBuilder::new(format!(
        "axi_birrd_n{}_w{}_{}",
        cfg.ports, cfg.width, cfg.topology
    ));
    let ab = map.addr_bits;
    let lite_in = [
        ("s_axi_awaddr", ab),
        ("s_axi_awvalid", 1),
        ("s_axi_wdata", 32),
        ("s_axi_wstrb", 4),
        ("s_axi_wvalid", 1),
        ("s_axi_bready", 1),
        ("s_axi_araddr", ab),
        ("s_axi_arvalid", 1),
        ("s_axi_rready", 1),
    ];
    let mut conns: Vec<(&str, Sig)> = lite_in.iter().map(|&(n, w)| (n, b.input(n, w))).collect();
    let s_data = b.input("s_axis_tdata", dw);
    let s_last = b.input("s_axis_tlast", 1);
    let s_valid = b.input("s_axis_tvalid", 1);
    let m_ready = b.input("m_axis_tready", 1);
    let done = b.wire("done", 1);
    let beats = b.reg("beats", Bits::zero(32));
    conns.push(("i_done", done));
    conns.push(("i_beats", beats));
    let r = b.instance("regs", &regs, &conns);
    for out in [
        "s_axi_awready",
        "s_axi_wready",
        "s_axi_bvalid",
        "s_axi_bresp",
        "s_axi_arready",
        "s_axi_rvalid",
        "s_axi_rdata",
        "s_axi_rresp",
    ] {
        b.output(out, r.get(out));
    }
    b.output("o_irq", r.get("o_irq"));
    let mut cmd_parts: Vec<Sig> = map
        .params
        .iter()
        .map(|p| r.get(&format!("o_{}", p.name)))
        .collect();
    cmd_parts.reverse();
    let cmd = b.cat(&cmd_parts);

    // Admission: FIFO occupancy + beats inside the network must stay below the depth.
    let cb = depth.trailing_zeros() + 1;
    let in_flight = b.reg("in_flight", Bits::zero(cb));
    let fifo_count = b.wire("fifo_count", cb);
    let total = b.add(fifo_count, in_flight);
    let limit = b.lit(cb, depth as u64);
    let s_ready = b.lt(total, limit);
    b.output("s_axis_tready", s_ready);
    let take = b.and(s_valid, s_ready);
    let n = b.instance("net", &net, &[("i_data", s_data), ("i_cmd", cmd)]);
    // The valid/tlast tags travel beside the data.
    let mut tag = b.cat(&[s_last, take]);
    for k in 0..s {
        tag = b.delay(&format!("tag{k}"), tag);
    }
    let arrive = b.bit(tag, 0);
    let arrive_last = b.bit(tag, 1);
    let one = b.lit(cb, 1);
    let up = b.add(in_flight, one);
    let down = b.sub(in_flight, one);
    let moved = b.xor(take, arrive);
    let next = b.mux(take, up, down);
    b.next(in_flight, next, Some(moved));
    let f = b.instance(
        "out_fifo",
        &out_fifo,
        &[
            ("s_axis_tdata", n.get("o_data")),
            ("s_axis_tlast", arrive_last),
            ("s_axis_tvalid", arrive),
            ("m_axis_tready", m_ready),
        ],
    );
    b.assign(fifo_count, f.get("o_count"));
    let m_valid = f.get("m_axis_tvalid");
    let m_last = f.get("m_axis_tlast");
    b.output("m_axis_tdata", f.get("m_axis_tdata"));
    b.output("m_axis_tlast", m_last);
    b.output("m_axis_tvalid", m_valid);
    let sent = b.and(m_valid, m_ready);
    let one32 = b.lit(32, 1);
    let beats1 = b.add(beats, one32);
    b.next(beats, beats1, Some(sent));
    let last_out = b.and(sent, m_last);
    let done_q = b.delay("done_q", last_out);
    b.assign(done, done_q);
    Ok(b.finish()?)
}
