//! The emulator behind AXI: one input stream carries both the transmitters' samples and the
//! paths' parameters, in the order they must take effect, so a DMA plays a whole scenario
//! from one buffer; the receivers' samples come back on the output stream.
//!
//! ```text
//!  s_axis ──► admission ──► decode ─┬─ sample beat ───► emulator (latency L) ──► FIFO ──► m_axis
//!                                   └─ parameter beats ─► assemble ─► i_pwr ─┘
//!  s_axi (AXI4-Lite): CTRL, BEATS (out), SAMPLES (in), FAULT
//! ```
//!
//! Input beats are `beat_bits` wide; the top bit says what the beat holds. 0: a sample — every
//! transmitter's I/Q in the low bits (the core's `i_tx`). 1: parameters — a header beat with
//! the path's index in the low bits, then `chunks` beats of `beat_bits − 1` payload bits each,
//! least significant first, holding `RfConfig::param_fields`. A path's parameters take effect
//! at the next sample whose index is a multiple of the epoch, so the host sends epoch 0's
//! before the first sample and epoch k + 1's after epoch k's first sample. Admission is credit
//! based as in `blocks::axi_pipe`: a beat enters only when the output FIFO has room for it and
//! every beat in flight, so back-pressure on `m_axis` never loses a sample.

use super::{emu, RfConfig};
use crate::blocks::axi_lite::{attach, regfile, RegMap, RegMapError, Status};
use crate::blocks::axi_pipe::{count_beats_out, fifo_depth};
use crate::blocks::axis::{fifo, fifo_to_m_axis};
use crate::blocks::credit::admission;
use crate::rtl::{Bits, DrcErrors, Module, ModuleBuilder};
use std::rc::Rc;

/// Width of an input beat: the samples and the kind bit, a power of two, at least 32.
pub fn beat_bits(cfg: &RfConfig) -> u32 {
    (cfg.iq_bits() * cfg.tx().len() as u32 + 1)
        .next_power_of_two()
        .max(32)
}

/// Payload beats after a parameter header.
pub fn chunks(cfg: &RfConfig) -> u32 {
    cfg.param_fields().width().div_ceil(beat_bits(cfg) - 1)
}

/// The register map: CTRL, BEATS (samples sent on `m_axis`), SAMPLES (taken from `s_axis`),
/// FAULT (a reader ever missed a row).
pub fn map(cfg: &RfConfig) -> Result<RegMap, RegMapError> {
    let status = |name: &str, width, doc: &str| Status {
        name: name.into(),
        width,
        doc: doc.into(),
    };
    RegMap::new(
        &format!("axi_{}", emu::module_name(cfg)),
        Vec::new(),
        vec![
            status("beats", 32, "receiver samples sent on m_axis since reset"),
            status("samples", 32, "transmitter samples taken from s_axis since reset"),
            status(
                "fault",
                1,
                "1 if a lane ever missed a row: parameters moved a delay faster than the hardware follows",
            ),
        ],
    )
}

/// The wrapper around `core` (`emu::generate(cfg)`), for `map`.
pub fn wrap(cfg: &RfConfig, core: &Rc<Module>, map: &RegMap) -> Result<Rc<Module>, DrcErrors> {
    let regs = regfile(map)?;
    let wb = beat_bits(cfg);
    let wp = wb - 1;
    let iq = cfg.iq_bits();
    let tx_bits = iq * cfg.tx().len() as u32;
    let out_bits = iq * cfg.rx().len().max(1) as u32;
    let pw = cfg.param_fields().width();
    let ch = chunks(cfg);
    let acc_bits = ch * wp;
    let latency = cfg.latency() as u64;
    let depth = fifo_depth(latency);
    let out_fifo = fifo(out_bits, depth)?;

    let mut b = ModuleBuilder::new(format!("axi_{}", emu::module_name(cfg)));
    let s_data = b.input("s_axis_tdata", wb);
    let s_last = b.input("s_axis_tlast", 1);
    let s_valid = b.input("s_axis_tvalid", 1);
    let m_ready = b.input("m_axis_tready", 1);
    let done = b.wire("done", 1);
    let beats = b.reg("beats", Bits::zero(32));
    let samples = b.wire("samples", 32);
    let fault = b.wire("fault", 1);
    attach(
        &mut b,
        map,
        &regs,
        done,
        &[("beats", beats), ("samples", samples), ("fault", fault)],
    );

    let cb = depth.trailing_zeros() + 1;
    let fifo_count = b.wire("fifo_count", cb);
    let kind = b.bit(s_data, wb - 1);
    let tag = b.cat(&[kind, s_last]);
    let adm = admission(&mut b, "", s_valid, tag, latency, depth, fifo_count);
    b.output("s_axis_tready", adm.ready);
    let is_param = b.and(adm.take, kind);
    let not_kind = b.not(kind);
    let is_sample = b.and(adm.take, not_kind);

    // Parameter beats: a header with the path, then the payload, least significant first.
    let payload = b.slice(s_data, wp - 1, 0);
    let lb = (ch + 1).next_power_of_two().trailing_zeros() + 1;
    let left = b.reg("param_left", Bits::zero(lb));
    let pb = emu::path_bits(cfg);
    let path = b.reg("param_path", Bits::zero(pb));
    let acc = b.reg("param_acc", Bits::zero(acc_bits));
    let idle = b.eq_lit(left, 0);
    let header = b.and(is_param, idle);
    let busy = b.not(idle);
    let chunk = b.and(is_param, busy);
    let new_path = b.slice(payload, pb - 1, 0);
    b.next(path, new_path, Some(header));
    let acc_next = if ch == 1 {
        b.slice(payload, wp - 1, 0)
    } else {
        let rest = b.slice(acc, acc_bits - 1, wp);
        b.cat(&[payload, rest])
    };
    b.next(acc, acc_next, Some(chunk));
    let one = b.lit(lb, 1);
    let less = b.sub(left, one);
    let full = b.lit(lb, ch as u64);
    let left_next = b.mux(header, full, less);
    let left_en = b.or(header, chunk);
    b.next(left, left_next, Some(left_en));
    let last_chunk = b.eq_lit(left, 1);
    let pwr = b.and(chunk, last_chunk);
    let pdata = b.slice(acc_next, pw - 1, 0);
    let tx = b.slice(s_data, tx_bits - 1, 0);

    let c = b.instance(
        "emu",
        core,
        &[
            ("i_valid", is_sample),
            ("i_tx", tx),
            ("i_pwr", pwr),
            ("i_ppath", path),
            ("i_pdata", pdata),
        ],
    );
    b.assign(samples, c.get("o_samples"));
    b.assign(fault, c.get("o_fault"));
    // Only sample beats leave: the kind travels with the beat through admission.
    let arrive_kind = b.bit(adm.arrive_tag, 1);
    let arrive_last = b.bit(adm.arrive_tag, 0);
    let no_kind = b.not(arrive_kind);
    let out_valid = b.and(adm.arrive, no_kind);
    let (m_valid, m_last) = fifo_to_m_axis(
        &mut b,
        &out_fifo,
        (c.get("o_rx"), arrive_last, out_valid),
        m_ready,
        fifo_count,
    );
    count_beats_out(&mut b, (m_valid, m_ready, m_last), beats, done);
    b.finish()
}

/// The build README's section on the streams.
pub fn stream_doc(cfg: &RfConfig) -> String {
    format!(
        "`s_axis` beats are {wb} bits. Bit {top} = 0: a sample, transmitter k's I/Q at bits \
         [k*{iq} +: {iq}] (I low, {s}-bit two's complement each). Bit {top} = 1: parameters — a \
         header beat with the path index in the low bits, then {ch} beat(s) of {wp} payload bits, \
         least significant first, holding the path's fields ({fields}). A path takes new \
         parameters at every sample whose index is a multiple of {epoch}: send epoch 0's before \
         the first sample and epoch k+1's after epoch k's first sample. Each sample beat gives one \
         {out}-bit `m_axis` beat {lat} cycles later (receiver k at bits [k*{iq} +: {iq}]), \
         `tlast` with it. CTRL.done rises when a beat with `tlast` has left; `BEATS`, `SAMPLES` \
         and `FAULT` are status.\n",
        wb = beat_bits(cfg),
        top = beat_bits(cfg) - 1,
        iq = cfg.iq_bits(),
        s = cfg.sample_bits,
        ch = chunks(cfg),
        wp = beat_bits(cfg) - 1,
        fields = cfg
            .param_fields()
            .0
            .iter()
            .map(|(n, w)| format!("{n}:{w}"))
            .collect::<Vec<_>>()
            .join(", "),
        epoch = cfg.epoch,
        out = cfg.iq_bits() * cfg.rx().len() as u32,
        lat = cfg.latency(),
    )
}
