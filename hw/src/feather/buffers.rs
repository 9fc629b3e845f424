//! FEATHER's buffers and quantizer (spec feather.md §4.1–4.2), each its own module so they
//! show as such in the Verilog and in waveforms.
//!
//! * `stream_buffer` — AW banks × 8 bit (iActs; also receives the quantized outputs, so layer
//!   L's output is layer L+1's input without leaving the chip). One line read per cycle, one
//!   address for all banks; writes per bank with their own lines.
//! * `output_buffer` — AW banks × 32 bit with accumulation: the row vector leaving BIRRD at t
//!   reads its lines at t (one line per bank) and writes `value + old` (accumulate) or `value`
//!   at t+1. Write-first, so an accumulation can read the line written the cycle before.
//! * `quantizer` — per bank `clamp(round(sum · scale / 2^24) + zp_o)` to uint8 or int8, with
//!   the 32 × 32-bit product registered (latency 1). Matches `golden::requant`.
//!
//! Every memory is synchronous-read with one read and one write port (simple dual port), the
//! shape Vivado maps to BRAM.

use super::golden::SCALE_FRAC_BITS;
use crate::rtl::{DrcErrors, MemStyle, Module, ModuleBuilder, ReadDuringWrite, RedOp, Sig};
use std::rc::Rc;

fn lines_bits(depth: u32) -> u32 {
    depth.trailing_zeros()
}

/// Concatenates per-bank values, bank 0 in the least significant bits.
fn pack(b: &mut ModuleBuilder, lanes: &[Sig]) -> Sig {
    let msb_first: Vec<Sig> = lanes.iter().rev().copied().collect();
    b.cat(&msb_first)
}

/// Streaming buffer: `i_ren`, `i_raddr` → `o_rdata` (AW bytes, a cycle later); per bank `i_we`,
/// `i_waddr` (bank b at bits [b·L +: L]), `i_wdata` (byte b at [8b +: 8]).
pub fn stream_buffer(aw: u32, depth: u32) -> Result<Rc<Module>, DrcErrors> {
    let l = lines_bits(depth);
    let mut b = ModuleBuilder::new(format!("feather_sbuf_{aw}x{depth}"));
    let ren = b.input("i_ren", 1);
    let raddr = b.input("i_raddr", l);
    let we = b.input("i_we", aw);
    let waddr = b.input("i_waddr", aw * l);
    let wdata = b.input("i_wdata", 8 * aw);
    let mut out = Vec::new();
    for c in 0..aw {
        let m = b.memory(
            &format!("bank{c}"),
            8,
            depth,
            MemStyle::Block,
            ReadDuringWrite::ReadFirst,
        );
        out.push(b.mem_read(m, raddr, Some(ren)));
        let wa = b.slice(waddr, l * c + l - 1, l * c);
        let wd = b.slice(wdata, 8 * c + 7, 8 * c);
        let e = b.bit(we, c);
        b.mem_write(m, wa, wd, e);
    }
    let o = pack(&mut b, &out);
    b.output("o_rdata", o);
    b.finish()
}

/// Output buffer with accumulation. Inputs at t: `i_mask` (banks taking the vector), `i_addr`
/// (per-bank lines), `i_acc`, and `i_data` (the AW values leaving BIRRD). At t+1: `o_sum` (the
/// values written), `o_mask`, `o_addr` (the registered mask and lines, for the quantizer).
pub fn output_buffer(aw: u32, depth: u32) -> Result<Rc<Module>, DrcErrors> {
    let l = lines_bits(depth);
    let mut b = ModuleBuilder::new(format!("feather_obuf_{aw}x{depth}"));
    let mask = b.input("i_mask", aw);
    let addr = b.input("i_addr", aw * l);
    let acc = b.input("i_acc", 1);
    let data = b.input("i_data", 32 * aw);
    let any = b.reduce(RedOp::Or, mask);
    let mask_q = b.delay("mask_q", mask);
    let addr_q = b.delay("addr_q", addr);
    let acc_q = b.delay("acc_q", acc);
    let data_q = b.delay("data_q", data);
    let mut sums = Vec::new();
    for c in 0..aw {
        let m = b.memory(
            &format!("bank{c}"),
            32,
            depth,
            MemStyle::Block,
            ReadDuringWrite::WriteFirst,
        );
        let ra = b.slice(addr, l * c + l - 1, l * c);
        let old = b.mem_read(m, ra, Some(any));
        let v = b.slice(data_q, 32 * c + 31, 32 * c);
        let zero = b.zero(32);
        let base = b.mux(acc_q, old, zero);
        let sum = b.add(v, base);
        let sum = b.named(sum, &format!("sum{c}"));
        let e = b.bit(mask_q, c);
        let wa = b.slice(addr_q, l * c + l - 1, l * c);
        b.mem_write(m, wa, sum, e);
        sums.push(sum);
    }
    let o = pack(&mut b, &sums);
    b.output("o_sum", o);
    b.output("o_mask", mask_q);
    b.output("o_addr", addr_q);
    b.finish()
}

/// Cycles from `i_sum` to `o_q` in the quantizer.
pub const QUANT_LATENCY: u64 = 3;

/// Quantizer: `i_sum` (AW × 32 bit) → `o_q` (AW bytes) `QUANT_LATENCY` cycles later;
/// `i_scale` signed 8.24, `i_zp_o` and `i_out_signed` (int8 or uint8 output, zero point in the
/// same format; held while a layer runs). Pipelined as a DSP multiply wants it: the sum is
/// registered before the 32×32 multiply (input registers) and the product twice after it (M
/// and P registers, or the cascade's own stages); rounding, zero point and clamp follow, and
/// the streaming buffer's write registers the byte.
pub fn quantizer(aw: u32) -> Result<Rc<Module>, DrcErrors> {
    let mut b = ModuleBuilder::new(format!("feather_quant_{aw}"));
    let sum = b.input("i_sum", 32 * aw);
    let scale = b.input("i_scale", 32);
    let zp_o = b.input("i_zp_o", 8);
    let out_signed = b.input("i_out_signed", 1);
    let zp_s = b.as_signed(zp_o);
    let zp_s = b.extend(zp_s, 48);
    let zp_u = b.extend(zp_o, 48);
    let zp_u = b.as_signed(zp_u);
    let zp48 = b.mux(out_signed, zp_s, zp_u);
    let sc = b.as_signed(scale);
    let mut bytes = Vec::new();
    for c in 0..aw {
        let s = b.slice(sum, 32 * c + 31, 32 * c);
        let s = b.delay(&format!("sum{c}_q"), s);
        let ss = b.as_signed(s);
        let p = b.mul(ss, sc);
        let p = b.delay(&format!("prod{c}_m"), p);
        let p = b.delay(&format!("prod{c}_p"), p);
        let half = b.lit_signed(64, 1 << (SCALE_FRAC_BITS - 1));
        let r = b.add(p, half);
        // Arithmetic shift by the fraction: bits 63..24 as a signed 40-bit value.
        let hi = b.slice(r, 63, SCALE_FRAC_BITS);
        let hi = b.as_signed(hi);
        let hi = b.extend(hi, 48);
        let y = b.add(hi, zp48);
        let (lo_s, hi_s) = (b.lit_signed(48, -128), b.lit_signed(48, 127));
        let (lo_u, hi_u) = (b.lit_signed(48, 0), b.lit_signed(48, 255));
        let lo = b.mux(out_signed, lo_s, lo_u);
        let top = b.mux(out_signed, hi_s, hi_u);
        let under = b.lt(y, lo);
        let over = b.lt(top, y);
        let yb = b.slice(y, 7, 0);
        let lob = b.slice(lo, 7, 0);
        let hib = b.slice(top, 7, 0);
        let c1 = b.mux(over, hib, yb);
        bytes.push(b.mux(under, lob, c1));
    }
    let o = pack(&mut b, &bytes);
    b.output("o_q", o);
    b.finish()
}
