//! BIRRD and FEATHER behind AXI: an AXI4-Lite register file for configuration and control and
//! AXI4-Stream ports for the data, so each can sit in a Zynq block design (`plume fpga`).
//!
//! BIRRD is a fixed-latency pipeline that cannot stall, wrapped by the generic
//! `blocks::axi_pipe` (command word in `CMD_*`, vectors on the streams, credit-based admission
//! so back-pressure on `m_axis` never loses a beat). `axi_feather` and its register map are
//! described at the function.

use super::birrd::{generate, BirrdConfig, BirrdError};
use super::compiler::window::Geometry;
use super::sequencer::{programmable_top, SeqConfig, SeqLayout, SEQ_LATENCY};
use super::top::{FeatherConfig, FeatherError};
use crate::blocks::axi_lite::{attach, regfile, Param, RegMap, RegMapError, Status};
use crate::blocks::axi_pipe::{axi_pipeline, pipeline_map, word_params, Pipeline};
use crate::blocks::axis::{fifo, fifo_to_m_axis};
use crate::blocks::credit::admission;
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
    pipeline_map(
        &format!("birrd_n{}_w{}", cfg.ports, cfg.width),
        word_params(
            "cmd",
            cfg.cmd_width(),
            "BIRRD command word (all zero: every switch passes)",
        ),
    )
}

/// Generates `axi_birrd_n<N>_w<W>_<topology>`: the network as a fixed-latency pipeline behind
/// AXI (`blocks::axi_pipe`), its command word from `cmd_*`.
pub fn axi_birrd(cfg: &BirrdConfig) -> Result<Rc<Module>, WrapError> {
    let net = generate(cfg)?;
    let map = birrd_map(cfg)?;
    let words = map.params.iter().map(|p| p.name.clone()).collect();
    let pipe = Pipeline {
        name: format!("axi_birrd_n{}_w{}_{}", cfg.ports, cfg.width, cfg.topology),
        core: &net,
        data_in: "i_data",
        data_out: "o_data",
        valid_in: None,
        latency: cfg.stages() as u64,
        valid_out: None,
        params: vec![("i_cmd", words)],
    };
    Ok(axi_pipeline(&pipe, &map)?)
}

// ---------------------------------------------------------------------------------------------
// FEATHER behind AXI.

/// Cycles the run counter waits after the program's last micro-instruction reached the core
/// before it reports done (the compiler's length already ends at the last quantized write;
/// this is margin).
pub const RUN_DRAIN: u64 = 8;

/// Where an `s_axis` packet is written (`WR_TARGET`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Stream0 = 0,
    Stream1 = 1,
    Weights = 2,
    LoadQueue = 3,
    StreamQueue = 4,
    OutQueue = 5,
    Patterns = 6,
    Configs = 7,
    Windows = 8,
}

impl Target {
    /// The target for a sequencer table select (`SeqLayout::encode`'s first element).
    pub fn table(sel: u64) -> Target {
        [
            Target::LoadQueue,
            Target::StreamQueue,
            Target::OutQueue,
            Target::Patterns,
            Target::Configs,
            Target::Windows,
        ][sel as usize]
    }

    /// Bits of one entry of this target.
    pub fn entry_width(self, cfg: &FeatherConfig, lay: &SeqLayout) -> u32 {
        match self {
            Target::Stream0 | Target::Stream1 | Target::Weights => 8 * cfg.aw,
            Target::LoadQueue => lay.load.width(),
            Target::StreamQueue => lay.stream.width(),
            Target::OutQueue => lay.out.width(),
            Target::Patterns => lay.pattern.width(),
            Target::Configs => lay.config.width(),
            Target::Windows => lay.window.width(),
        }
    }

    pub const ALL: [Target; 9] = [
        Target::Stream0,
        Target::Stream1,
        Target::Weights,
        Target::LoadQueue,
        Target::StreamQueue,
        Target::OutQueue,
        Target::Patterns,
        Target::Configs,
        Target::Windows,
    ];
}

/// Stream width of the wrapped FEATHER: one buffer line (8·AW bits) per beat.
pub fn feather_stream_width(cfg: &FeatherConfig) -> u32 {
    8 * cfg.aw
}

/// Beats of one entry of `t` on `s_axis` (entries are packed LSB first, zero padded).
pub fn beats_per_entry(cfg: &FeatherConfig, seq: &SeqConfig, t: Target) -> u32 {
    let lay = SeqLayout::new(cfg, seq);
    t.entry_width(cfg, &lay).div_ceil(feather_stream_width(cfg))
}

/// Address bits of `WR_BASE` (the widest of the buffers' and the tables' addresses).
pub fn write_addr_bits(cfg: &FeatherConfig, seq: &SeqConfig) -> u32 {
    let lay = SeqLayout::new(cfg, seq);
    cfg.s_bits().max(cfg.w_bits()).max(lay.addr_width())
}

/// The wrapped FEATHER's register map.
pub fn feather_map(cfg: &FeatherConfig, seq: &SeqConfig) -> Result<RegMap, RegMapError> {
    let p = |name: &str, width: u32, doc: &str| Param {
        name: name.into(),
        width,
        reset: 0,
        doc: doc.into(),
    };
    let sb = cfg.s_bits();
    let params = vec![
        p(
            "op",
            1,
            "what start does: 0 runs the loaded program, 1 streams RD_COUNT lines out on m_axis",
        ),
        p(
            "length",
            32,
            "micro-instructions in the loaded program (the compiler's cycle count)",
        ),
        p("rows", cfg.nest().rows_bits(), "NEST rows in use"),
        p("zp_i", 8, "zero point of the streamed operand"),
        p("zp_w", 8, "zero point of the stationary operand"),
        p("iact_signed", 1, "streamed operand is int8 (else uint8)"),
        p("weight_signed", 1, "stationary operand is int8 (else uint8)"),
        p("scale", 32, "requantisation scale, signed 8.24 fixed point"),
        p("zp_o", 8, "output zero point"),
        p("out_signed", 1, "outputs are int8 (else uint8)"),
        p(
            "wr_target",
            4,
            "where s_axis packets go: 0 S0, 1 S1, 2 W, 3 load queue, 4 stream queue, 5 out queue, 6 pattern table, 7 configuration table, 8 window table",
        ),
        p(
            "wr_base",
            write_addr_bits(cfg, seq),
            "first line/entry a packet writes (each packet starts again here)",
        ),
        p("rd_sel", 1, "streaming buffer read back by op 1 (0 S0, 1 S1)"),
        p("rd_base", sb, "first line read back"),
        p("rd_count", sb + 1, "lines read back"),
        p(
            "s_base",
            sb,
            "added to every streaming-buffer line the program reads (double buffering)",
        ),
        p(
            "w_base",
            cfg.w_bits(),
            "added to every weight-buffer line the program loads (double buffering)",
        ),
    ];
    let mut params = params;
    for (name, w) in Geometry::fields(sb) {
        params.push(p(
            name,
            w,
            "window walker of a window-streamed convolution (0 otherwise), see window.rs",
        ));
    }
    let status = vec![
        Status {
            name: "cycles".into(),
            width: 32,
            doc: "last run: cycles from micro-instruction 0 to the last quantized write (0: none)"
                .into(),
        },
        Status {
            name: "entries".into(),
            width: 32,
            doc: "entries written from s_axis since reset".into(),
        },
    ];
    RegMap::new(
        &format!("feather_{}x{}_{}", cfg.ah, cfg.aw, cfg.topology),
        params,
        status,
    )
}

/// Generates `axi_feather_<AH>x<AW>_<topology>`: the programmable top behind an AXI4-Lite
/// register file (`feather_map`), an AXI4-Stream slave that writes buffers and program tables,
/// and an AXI4-Stream master that reads streaming-buffer lines back.
///
/// * `s_axis` (8·AW bits): a packet writes entries of `WR_TARGET` from `WR_BASE` upward; an
///   entry takes `beats_per_entry` beats, LSB first; an incomplete entry at `tlast` is
///   dropped (`ENTRIES` counts what was written). `tready` is low during a read-back, and
///   during a run unless `WR_TARGET` is a buffer (S0, S1, W): the host may load the next
///   tile into lines the running program does not touch (double buffering, with `S_BASE` /
///   `W_BASE` saying where a program's lines start). It must not write the buffer the
///   program's outputs go to: the host's write takes the port and the output line is lost.
/// * `CTRL.start` with `OP = 0`: pulses the sequencer's start; done comes
///   `LENGTH + SEQ_LATENCY + RUN_DRAIN` cycles later, and `CYCLES` then holds the cycles from
///   micro-instruction 0 to the last quantized write (the number the simulator reports).
/// * `CTRL.start` with `OP = 1`: streams lines `RD_BASE…` of `RD_SEL` out on `m_axis`
///   (`tlast` on the last), through a FIFO with credit-based admission so `m_axis`
///   back-pressure never loses a line; done when the last beat has left.
pub fn axi_feather(cfg: &FeatherConfig, seq: &SeqConfig) -> Result<Rc<Module>, FeatherError> {
    let wrap = |e: RegMapError| FeatherError::Wrap(e.to_string());
    let core = programmable_top(cfg, seq)?;
    let lay = SeqLayout::new(cfg, seq);
    let map = feather_map(cfg, seq).map_err(wrap)?;
    let regs = regfile(&map)?;
    let dw = feather_stream_width(cfg);
    let depth = 4;
    let out_fifo = fifo(dw, depth)?;
    let mut b = ModuleBuilder::new(format!(
        "axi_feather_{}x{}_{}",
        cfg.ah, cfg.aw, cfg.topology
    ));
    let s_data = b.input("s_axis_tdata", dw);
    let s_last = b.input("s_axis_tlast", 1);
    let s_valid = b.input("s_axis_tvalid", 1);
    let m_ready = b.input("m_axis_tready", 1);
    let done = b.wire("done", 1);
    let cycles = b.reg("cycles", Bits::zero(32));
    let entries = b.reg("entries", Bits::zero(32));
    let r = attach(
        &mut b,
        &map,
        &regs,
        done,
        &[("cycles", cycles), ("entries", entries)],
    );
    let prm = |name: &str| r.get(&format!("o_{name}"));
    let start = r.get("o_start");
    let op = prm("op");

    // ---- state: running a program / reading back.
    let running = b.reg("running", Bits::zero(1));
    let reading = b.reg("reading", Bits::zero(1));
    let busy = b.or(running, reading);
    let idle = b.not(busy);
    let go = b.and(start, idle);
    let nop = b.not(op);
    let go_run = b.and(go, nop);
    let go_read = b.and(go, op);

    // ---- s_axis: assemble entries, write them the cycle after their last beat.
    let wab = write_addr_bits(cfg, seq);
    let target = prm("wr_target");
    let max_beats = Target::ALL
        .iter()
        .map(|&t| t.entry_width(cfg, &lay).div_ceil(dw))
        .max()
        .unwrap();
    let beat_bits = (32 - max_beats.leading_zeros()).max(1);
    let arms: Vec<(u64, Sig)> = Target::ALL
        .iter()
        .map(|&t| {
            let n = t.entry_width(cfg, &lay).div_ceil(dw);
            (t as u64, b.lit(beat_bits, n as u64 - 1))
        })
        .collect();
    let zb = b.zero(beat_bits);
    let last_beat_idx = b.case(target, &arms, zb);
    // While a program runs, packets may still go to the buffers (never to the tables the
    // sequencer is reading): the host loads the next tile into lines this one does not use.
    let to_buffer = {
        let past = b.lit(4, Target::Weights as u64 + 1);
        b.lt(target, past)
    };
    let loading = b.and(running, to_buffer);
    let ready = b.or(idle, loading);
    b.output("s_axis_tready", ready);
    let take = b.and(s_valid, ready);
    let beat = b.reg("wr_beat", Bits::zero(beat_bits));
    let index = b.reg("wr_index", Bits::zero(wab));
    let mut slots = Vec::new();
    for j in 0..max_beats {
        let r = b.reg(&format!("wr_slot{j}"), Bits::zero(dw));
        let here = b.eq_lit(beat, j as u64);
        let en = b.and(take, here);
        b.next(r, s_data, Some(en));
        slots.push(r);
    }
    let entry_done = b.eq(beat, last_beat_idx);
    let complete = b.and(take, entry_done);
    let one_b = b.lit(beat_bits, 1);
    let beat1 = b.add(beat, one_b);
    let beat_next = b.mux(entry_done, zb, beat1);
    let beat_next = b.mux(s_last, zb, beat_next);
    b.next(beat, beat_next, Some(take));
    let one_i = b.lit(wab, 1);
    let index1 = b.add(index, one_i);
    let zi = b.zero(wab);
    let index_next = b.mux(s_last, zi, index1);
    let moved = {
        let x = b.and(take, s_last);
        b.or(complete, x)
    };
    b.next(index, index_next, Some(moved));
    let base = prm("wr_base");
    let waddr = b.add(base, index);
    let wr_q = b.delay("wr_q", complete);
    let waddr_q = b.reg("wr_addr_q", Bits::zero(wab));
    b.next(waddr_q, waddr, Some(complete));
    let one32 = b.lit(32, 1);
    let entries1 = b.add(entries, one32);
    b.next(entries, entries1, Some(complete));
    slots.reverse();
    let entry = b.cat(&slots);
    let is_table = {
        let hi = b.slice(target, 3, 2);
        let z2 = b.zero(2);
        let high = b.ne(hi, z2);
        let lo = b.slice(target, 1, 0);
        let three = b.eq_lit(lo, 3);
        b.or(high, three)
    };
    let is_buf = b.not(is_table);
    let host_we = b.and(wr_q, is_buf);
    let twe = b.and(wr_q, is_table);
    let three = b.lit(4, 3);
    let tsel = b.sub(target, three);
    let tsel = b.resize(tsel, 3);
    let host_sel = b.slice(target, 1, 0);
    let host_addr = b.resize(waddr_q, cfg.s_bits().max(cfg.w_bits()));
    let host_data = b.slice(entry, dw - 1, 0);
    let taddr = b.resize(waddr_q, lay.addr_width());
    let tdata = b.resize(entry, lay.data_width());

    // ---- read-back: issue a line read when the FIFO has room for it and the one in flight.
    let sb = cfg.s_bits();
    let rd_addr = b.reg("rd_addr", Bits::zero(sb));
    let rd_left = b.reg("rd_left", Bits::zero(sb + 1));
    let cb = depth.trailing_zeros() + 1;
    let fifo_count = b.wire("fifo_count", cb);
    let zl = b.zero(sb + 1);
    let more = b.ne(rd_left, zl);
    let want = b.and(reading, more);
    let one_l = b.lit(sb + 1, 1);
    let is_last = b.eq(rd_left, one_l);
    // A line read takes one cycle (the buffer's registered read port).
    let adm = admission(&mut b, "rd_", want, is_last, 1, depth, fifo_count);
    let issue = adm.take;
    let left1 = b.sub(rd_left, one_l);
    let left_d = b.mux(go_read, prm("rd_count"), left1);
    let load_left = b.or(go_read, issue);
    b.next(rd_left, left_d, Some(load_left));
    let one_a = b.lit(sb, 1);
    let addr1 = b.add(rd_addr, one_a);
    let addr_d = b.mux(go_read, prm("rd_base"), addr1);
    b.next(rd_addr, addr_d, Some(load_left));

    // ---- the programmable top.
    let mut cc: Vec<(String, Sig)> = vec![
        ("i_start".into(), go_run),
        ("i_twe".into(), twe),
        ("i_tsel".into(), tsel),
        ("i_taddr".into(), taddr),
        ("i_tdata".into(), tdata),
        ("i_host_we".into(), host_we),
        ("i_host_sel".into(), host_sel),
        ("i_host_addr".into(), host_addr),
        ("i_host_data".into(), host_data),
        ("i_host_raddr".into(), rd_addr),
        ("i_host_rsel".into(), prm("rd_sel")),
    ];
    for name in [
        "rows",
        "zp_i",
        "zp_w",
        "iact_signed",
        "weight_signed",
        "scale",
        "zp_o",
        "out_signed",
        "s_base",
        "w_base",
    ]
    .into_iter()
    .chain(Geometry::fields(cfg.s_bits()).map(|(n, _)| n))
    {
        cc.push((format!("i_{name}"), prm(name)));
    }
    let refs: Vec<(&str, Sig)> = cc.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let c = b.instance("feather", &core, &refs);
    let (m_valid, m_last) = fifo_to_m_axis(
        &mut b,
        &out_fifo,
        (c.get("o_host_rdata"), adm.arrive_tag, adm.arrive),
        m_ready,
        fifo_count,
    );
    let sent_last = {
        let x = b.and(m_valid, m_ready);
        b.and(x, m_last)
    };
    // A read-back of zero lines finishes at once.
    let empty_read = {
        let z = b.eq(prm("rd_count"), zl);
        b.and(go_read, z)
    };
    let read_end = b.or(sent_last, empty_read);

    // ---- run counter: done LENGTH + SEQ_LATENCY + RUN_DRAIN cycles after the start pulse.
    let t = b.reg("run_t", Bits::zero(32));
    let t1 = b.add(t, one32);
    let t_d = b.mux(go_run, one32, t1);
    let count_en = b.or(go_run, running);
    b.next(t, t_d, Some(count_en));
    let extra = b.lit(32, SEQ_LATENCY + RUN_DRAIN);
    let end_t = b.add(prm("length"), extra);
    let at_end = b.eq(t, end_t);
    let run_end = b.and(running, at_end);
    let qwe = c.get("o_qwe");
    let wrote = b.and(running, qwe);
    let lat = b.lit(32, SEQ_LATENCY - 1);
    let measured = b.sub(t, lat);
    let z32 = b.zero(32);
    let cyc_d = b.mux(go_run, z32, measured);
    let cyc_en = b.or(go_run, wrote);
    b.next(cycles, cyc_d, Some(cyc_en));

    let zero1 = b.zero(1);
    let one1 = b.lit(1, 1);
    let nrun = b.not(run_end);
    let run_keep = b.and(running, nrun);
    let run_d = b.or(go_run, run_keep);
    b.next(running, run_d, None);
    let nread = b.not(read_end);
    let read_keep = b.and(reading, nread);
    let read_d = b.mux(go_read, one1, read_keep);
    let read_d = b.mux(empty_read, zero1, read_d);
    b.next(reading, read_d, None);
    let fin = b.or(run_end, read_end);
    let done_q = b.delay("done_q", fin);
    b.assign(done, done_q);
    Ok(b.finish()?)
}
