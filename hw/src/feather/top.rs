//! The FEATHER accelerator core: buffers, NEST, BIRRD, output buffer and quantizer, driven by
//! one micro-instruction per cycle (`controller.rs`).
//!
//! ```text
//!  host ──► S0 / S1 streaming buffers (AW banks × 8 b) ──► NEST iActs ─┐
//!  host ──► W stationary buffer (AW bytes a line)     ──► NEST weights ┤
//!                                NEST (AH × AW) ──► column mux ──► BIRRD (reduce + reorder)
//!                                                                    │ AW sums, bank = port
//!        S0 / S1 ◄── quantizer (8.24 scale, zero point, clamp) ◄── OB (AW banks × 32 b, accumulate)
//! ```
//!
//! Latencies (cycle t = the micro-instruction's cycle): buffer reads 1 → NEST row 0 at t+1;
//! NEST `V + r + 3` from a VN's first element to the column mux output (see `nest.rs`); BIRRD
//! S stages; OB read at t, sum written at t+1; quantized byte written at t+1+QUANT_LATENCY (t+4).
//!
//! The buffers and the quantizer are modules of their own (`buffers.rs`). The host's writes
//! share the quantizer's write port and its read-back shares the stream's read port (the host
//! uses them only while the core is idle), so every memory stays simple dual port.

use super::birrd::{self, BirrdConfig, BirrdError, Topology};
use super::buffers::{output_buffer, quantizer, stream_buffer, QUANT_LATENCY};
use super::controller::UopLayout;
use super::nest::{nest, NestConfig};
use crate::blocks::delay::delay_line;
use crate::rtl::{DrcErrors, MemStyle, Module, ModuleBuilder, ReadDuringWrite, Sig};
use std::rc::Rc;

/// Largest array dimension accepted (AH and AW).
pub const MAX_DIM: u32 = 64;

/// One FEATHER core: array size, BIRRD topology, buffer depths. The default is the board
/// configuration: 16×16, bit-reversal BIRRD, 1,024-line buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatherConfig {
    pub ah: u32,
    pub aw: u32,
    pub topology: Topology,
    /// Lines per streaming-buffer bank (power of two).
    pub s_depth: u32,
    /// Lines of the weight buffer.
    pub w_depth: u32,
    /// Lines per output-buffer bank.
    pub o_depth: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum FeatherError {
    #[error(
        "array {0}x{1}: both dimensions must be powers of two from {min} to {MAX_DIM}",
        min = 2
    )]
    Array(u32, u32),
    #[error("array {0}x{1}: BIRRD needs at least 4 columns")]
    Columns(u32, u32),
    #[error("{0} depth {1} must be a power of two from 2 to 2^20")]
    Depth(&'static str, u32),
    #[error(transparent)]
    Birrd(#[from] BirrdError),
    #[error(transparent)]
    Drc(#[from] DrcErrors),
    #[error("AXI wrapper: {0}")]
    Wrap(String),
}

impl Default for FeatherConfig {
    fn default() -> Self {
        FeatherConfig::new(16, 16)
    }
}

impl FeatherConfig {
    pub fn new(ah: u32, aw: u32) -> FeatherConfig {
        FeatherConfig {
            ah,
            aw,
            topology: Topology::Bitrev,
            s_depth: 1024,
            w_depth: 1024,
            o_depth: 1024,
        }
    }

    pub fn validate(&self) -> Result<(), FeatherError> {
        let p2 = |x: u32| x.is_power_of_two();
        if !p2(self.ah) || !p2(self.aw) || self.ah < 2 || self.ah > MAX_DIM || self.aw > MAX_DIM {
            return Err(FeatherError::Array(self.ah, self.aw));
        }
        if self.aw < 4 {
            return Err(FeatherError::Columns(self.ah, self.aw));
        }
        for (name, d) in [
            ("streaming buffer", self.s_depth),
            ("weight buffer", self.w_depth),
            ("output buffer", self.o_depth),
        ] {
            if !p2(d) || !(2..=1 << 20).contains(&d) {
                return Err(FeatherError::Depth(name, d));
            }
        }
        self.birrd().validate()?;
        Ok(())
    }

    pub fn nest(&self) -> NestConfig {
        NestConfig {
            ah: self.ah,
            aw: self.aw,
        }
    }

    pub fn birrd(&self) -> BirrdConfig {
        BirrdConfig {
            ports: self.aw,
            width: 32,
            topology: self.topology,
        }
    }

    pub fn s_bits(&self) -> u32 {
        self.s_depth.trailing_zeros()
    }

    pub fn w_bits(&self) -> u32 {
        self.w_depth.trailing_zeros()
    }

    pub fn o_bits(&self) -> u32 {
        self.o_depth.trailing_zeros()
    }

    pub fn uop_layout(&self) -> UopLayout {
        UopLayout::new(
            self.aw,
            self.ah,
            self.s_bits(),
            self.w_bits(),
            self.o_bits(),
            &self.birrd(),
        )
    }

    pub fn module_name(&self) -> String {
        format!("feather_{}x{}_{}", self.ah, self.aw, self.topology)
    }

    /// Cycles from a row vector entering BIRRD to leaving it.
    pub fn birrd_latency(&self) -> u64 {
        self.birrd().stages() as u64
    }
}

/// Generates the core. Ports: `i_uop` (one micro-instruction per cycle), the layer constants
/// `i_rows i_zp_i i_zp_w i_iact_signed i_weight_signed i_scale i_zp_o i_out_signed`, the host port
/// `i_host_we i_host_sel (0 = S0, 1 = S1, 2 = W) i_host_addr i_host_data`, read-back
/// `i_host_raddr i_host_rsel → o_host_rdata` (one cycle later), `o_qwe` (a quantized byte
/// is being written this cycle), and the bases `i_s_base i_w_base` added to every line the
/// program streams or loads (0 unless the host double-buffers: a program that reads lines it
/// wrote itself, a chained `Out::Feed`, runs with `i_s_base` = 0).
pub fn generate(cfg: &FeatherConfig) -> Result<Rc<Module>, FeatherError> {
    cfg.validate()?;
    let aw = cfg.aw;
    let lay = cfg.uop_layout();
    let nest_mod = nest(&cfg.nest())?;
    let birrd_mod = birrd::generate(&cfg.birrd())?;
    let mut b = ModuleBuilder::new(cfg.module_name());
    let uop = b.input("i_uop", lay.width());
    let rows = b.input("i_rows", cfg.nest().rows_bits());
    let zp_i = b.input("i_zp_i", 8);
    let zp_w = b.input("i_zp_w", 8);
    let i_signed = b.input("i_iact_signed", 1);
    let w_signed = b.input("i_weight_signed", 1);
    let scale = b.input("i_scale", 32);
    let zp_o = b.input("i_zp_o", 8);
    let out_signed = b.input("i_out_signed", 1);
    let host_we = b.input("i_host_we", 1);
    let host_sel = b.input("i_host_sel", 2);
    let addr_bits = cfg.s_bits().max(cfg.w_bits());
    let host_addr = b.input("i_host_addr", addr_bits);
    let host_data = b.input("i_host_data", 8 * aw);
    let host_raddr = b.input("i_host_raddr", cfg.s_bits());
    let host_rsel = b.input("i_host_rsel", 1);
    // Where the program's streamed and stationary lines start (double buffering: the host
    // loads the next tile into the other half while this one runs).
    let s_base = b.input("i_s_base", cfg.s_bits());
    let w_base = b.input("i_w_base", cfg.w_bits());

    let f = |b: &mut ModuleBuilder, name: &str| {
        let s = lay.fields.slice(b, uop, name);
        b.named(s, &format!("u_{name}"))
    };
    let s_read = f(&mut b, "s_read");
    let s_buf = f(&mut b, "s_buf");
    let s_addr = f(&mut b, "s_addr");
    let s_pad = f(&mut b, "s_pad");
    let widx = f(&mut b, "widx");
    let rbank = f(&mut b, "rbank");
    let last = f(&mut b, "last");
    let w_read = f(&mut b, "w_read");
    let w_addr = f(&mut b, "w_addr");
    let wrow = f(&mut b, "wrow");
    let waddr = f(&mut b, "waddr");
    let wbank = f(&mut b, "wbank");
    let birrd_cmd = f(&mut b, "birrd");
    let ob_mask = f(&mut b, "ob_mask");
    let ob_addr = f(&mut b, "ob_addr");
    let ob_acc = f(&mut b, "ob_acc");
    let quant = f(&mut b, "quant");
    let q_buf = f(&mut b, "q_buf");

    // ---- streaming buffers: read port = stream or host read-back; write port = host or
    // quantizer. Quantizer signals are wires, driven at the end.
    let sb = cfg.s_bits();
    let ob = cfg.o_bits();
    let sbuf = stream_buffer(aw, cfg.s_depth)?;
    let q_we = b.wire("q_we", aw);
    let q_addr = b.wire("q_addr", aw * ob);
    let q_sel = b.wire("q_sel", 1);
    let q_data = b.wire("q_data", 8 * aw);
    let s_at = b.add(s_addr, s_base);
    let rd_addr = b.mux(s_read, s_at, host_raddr);
    let rd_sel = b.mux(s_read, s_buf, host_rsel);
    let rd_sel_q = b.delay("s_rd_sel_q", rd_sel);
    let host_s_addr = b.trunc(host_addr, sb);
    // Per-bank write lines from the quantizer, resized to the streaming buffer's depth.
    let q_lines: Vec<Sig> = (0..aw)
        .rev()
        .map(|c| {
            let qa = b.slice(q_addr, ob * c + ob - 1, ob * c);
            if ob >= sb {
                b.trunc(qa, sb)
            } else {
                b.extend(qa, sb)
            }
        })
        .collect();
    let q_lines = b.cat(&q_lines);
    let host_lines = b.cat(&vec![host_s_addr; aw as usize]);
    let mut s_data = Vec::new();
    for buf in 0..2u64 {
        let ren = b.eq_lit(rd_sel, buf);
        let host_hit = b.eq_lit(host_sel, buf);
        let host_w = b.and(host_we, host_hit);
        let q_hit = b.eq_lit(q_sel, buf);
        let all = b.lit(aw, if aw == 64 { u64::MAX } else { (1 << aw) - 1 });
        let none = b.zero(aw);
        let q_mask = b.mux(q_hit, q_we, none);
        let we = b.mux(host_w, all, q_mask);
        let wa = b.mux(host_w, host_lines, q_lines);
        let wd = b.mux(host_w, host_data, q_data);
        let o = b.instance(
            &format!("s{buf}"),
            &sbuf,
            &[
                ("i_ren", ren),
                ("i_raddr", rd_addr),
                ("i_we", we),
                ("i_waddr", wa),
                ("i_wdata", wd),
            ],
        );
        s_data.push(o.get("o_rdata"));
    }
    let s_line = b.mux(rd_sel_q, s_data[1], s_data[0]);
    b.output("o_host_rdata", s_line);

    // ---- weight buffer.
    let wm = b.memory(
        "wbuf",
        8 * aw,
        cfg.w_depth,
        MemStyle::Block,
        ReadDuringWrite::ReadFirst,
    );
    let w_at = b.add(w_addr, w_base);
    let w_line = b.mem_read(wm, w_at, Some(w_read));
    let host_w_hit = b.eq_lit(host_sel, 2);
    let host_w_we = b.and(host_we, host_w_hit);
    let host_w_addr = b.trunc(host_addr, cfg.w_bits());
    b.mem_write(wm, host_w_addr, host_data, host_w_we);

    // ---- NEST: control delayed one cycle to meet the buffer data.
    // A padding element is the streamed operand's zero point in every column.
    let pad_q = b.delay("n_pad_q", s_pad);
    let zp_line = b.cat(&vec![zp_i; aw as usize]);
    let iact = b.mux(pad_q, zp_line, s_line);
    let valid_q = b.delay("n_valid_q", s_read);
    let widx_q = b.delay("n_widx_q", widx);
    let rbank_q = b.delay("n_rbank_q", rbank);
    let last_q = b.delay("n_last_q", last);
    let wen_q = b.delay("n_wen_q", w_read);
    let wrow_q = b.delay("n_wrow_q", wrow);
    let waddr_q = b.delay("n_waddr_q", waddr);
    let wbank_q = b.delay("n_wbank_q", wbank);
    let n = b.instance(
        "nest",
        &nest_mod,
        &[
            ("i_iact", iact),
            ("i_wdata", w_line),
            ("i_valid", valid_q),
            ("i_widx", widx_q),
            ("i_rbank", rbank_q),
            ("i_last", last_q),
            ("i_wen", wen_q),
            ("i_wrow", wrow_q),
            ("i_waddr", waddr_q),
            ("i_wbank", wbank_q),
            ("i_rows", rows),
            ("i_zp_i", zp_i),
            ("i_zp_w", zp_w),
            ("i_iact_signed", i_signed),
            ("i_weight_signed", w_signed),
        ],
    );
    let nest_data = n.get("o_data");
    let nest_valid = n.get("o_valid");
    let _ = b.named(nest_valid, "nest_valid");

    // ---- BIRRD.
    let br = b.instance(
        "birrd",
        &birrd_mod,
        &[("i_data", nest_data), ("i_cmd", birrd_cmd)],
    );
    let birrd_out = br.get("o_data");

    // ---- output buffer: read at t, add and write at t+1; quantized bytes written at
    // t+1+QUANT_LATENCY.
    let obuf = output_buffer(aw, cfg.o_depth)?;
    let o = b.instance(
        "obuf",
        &obuf,
        &[
            ("i_mask", ob_mask),
            ("i_addr", ob_addr),
            ("i_acc", ob_acc),
            ("i_data", birrd_out),
        ],
    );
    let quant_q = b.delay("ob_quant_q", quant);
    let qbuf_q = b.delay("ob_qbuf_q", q_buf);
    let qmod = quantizer(aw)?;
    let qz = b.instance(
        "quant",
        &qmod,
        &[
            ("i_sum", o.get("o_sum")),
            ("i_scale", scale),
            ("i_zp_o", zp_o),
            ("i_out_signed", out_signed),
        ],
    );
    let no_q = b.zero(aw);
    let qwe = b.mux(quant_q, o.get("o_mask"), no_q);
    let qwe_q = delay_line(&mut b, "q_we_q", qwe, QUANT_LATENCY);
    let qaddr_q = delay_line(&mut b, "q_addr_q", o.get("o_addr"), QUANT_LATENCY);
    let qsel_q = delay_line(&mut b, "q_sel_q", qbuf_q, QUANT_LATENCY);
    b.assign(q_we, qwe_q);
    b.assign(q_addr, qaddr_q);
    b.assign(q_sel, qsel_q);
    b.assign(q_data, qz.get("o_q"));
    let qwe_any = b.reduce(crate::rtl::RedOp::Or, qwe_q);
    b.output("o_qwe", qwe_any);
    Ok(b.finish()?)
}
