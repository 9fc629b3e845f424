//! The NEST processing element (FEATHER ISCA'24; spec feather.md §2.2, §9).
//!
//! ```text
//!   i_iact ──► di_q = iact − zp_i ─────────────┐
//!   i_widx,i_rbank ──► W[{rbank,widx}] (sync read) ─► dw = W − zp_w ─► prod_q = di_q·dw ─► sum
//!   i_wdata,i_wen,i_waddr,i_wbank ──► W write (ping/pong halves)                        │
//!   i_iact, i_wdata ──► registered copies for the PE below (o_iact, o_wdata)     o_psum, o_valid
//! ```
//!
//! * **Weights**: one memory of 2·AH × 8 bit — two halves (ping/pong) selected by the bank bit,
//!   so the next tile's weights load into one half while the other computes. Synchronous
//!   read, mapped to LUT RAM (`ram_style = "distributed"`) instead of the public PE's flip-flops.
//! * **Arithmetic** (the intended behaviour, not the public RTL's): both differences are 9-bit
//!   two's complement — `{0,x} − {0,zp}` for unsigned operands, `sext(x) − sext(zp)` for
//!   signed ones (chosen per layer by `i_iact_signed` / `i_weight_signed`) — and the product is a *signed* 9×9→18-bit multiply (the public PE multiplies
//!   the differences unsigned, wrong whenever one is negative; spec §2.3.1), sign-extended into a
//!   32-bit wrap-around accumulator.
//! * **Temporal reduction**: the stream carries `last` on a virtual neuron's final element.
//!   On that product the PE emits `sum + prod` and restarts from zero, so the next neuron's first
//!   product follows without a bubble. The sum is never cleared by an idle input (the public PE
//!   loses a stream's last group that way; spec §2.3.2): elements without `valid` are ignored.
//! * **Latency** (P = 3): an element in the PE's input at cycle c (read address presented, iAct
//!   difference registered) → product registered at the edge ending c+1 → on `last`, `o_psum`
//!   and `o_valid` hold the result during cycle c+3, for one cycle.
//!
//! Control (valid, index, bank, last, write enable) is decoded once per row by NEST and shared
//! by the row's PEs; the PE forwards only its column's data (iAct and weight byte).

use crate::rtl::{Bits, DrcErrors, MemStyle, Module, ModuleBuilder, ReadDuringWrite, Sig};
use std::rc::Rc;

/// Shape of the PE. The operands' number formats (int8 or uint8, zero point in the same
/// format) are layer constants on `i_iact_signed` / `i_weight_signed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeConfig {
    /// NEST rows = weight file depth per bank (a power of two ≥ 2).
    pub ah: u32,
}

/// Bits of a weight index (`log2 AH`).
pub fn index_bits(ah: u32) -> u32 {
    ah.trailing_zeros().max(1)
}

/// An 8-bit operand minus its 8-bit zero point as a 9-bit signed value; `signed` (1 bit)
/// chooses sign or zero extension.
fn diff9(b: &mut ModuleBuilder, x: Sig, zp: Sig, signed: Sig) -> Sig {
    let ext = |b: &mut ModuleBuilder, v: Sig| {
        let top = b.bit(v, 7);
        let e = b.and(top, signed);
        let w = b.cat(&[e, v]);
        b.as_signed(w)
    };
    let (x, zp) = (ext(b, x), ext(b, zp));
    b.sub(x, zp)
}

/// Generates the PE.
pub fn pe(cfg: &PeConfig) -> Result<Rc<Module>, DrcErrors> {
    let ib = index_bits(cfg.ah);
    let mut b = ModuleBuilder::new(format!("feather_pe_ah{}", cfg.ah));
    let iact = b.input("i_iact", 8);
    let valid = b.input("i_valid", 1);
    let widx = b.input("i_widx", ib);
    let rbank = b.input("i_rbank", 1);
    let last = b.input("i_last", 1);
    let wdata = b.input("i_wdata", 8);
    let wen = b.input("i_wen", 1);
    let waddr = b.input("i_waddr", ib);
    let wbank = b.input("i_wbank", 1);
    let zp_i = b.input("i_zp_i", 8);
    let zp_w = b.input("i_zp_w", 8);
    let i_signed = b.input("i_iact_signed", 1);
    let w_signed = b.input("i_weight_signed", 1);

    let o_iact = b.delay("iact_q", iact);
    let o_wdata = b.delay("wdata_q", wdata);
    b.output("o_iact", o_iact);
    b.output("o_wdata", o_wdata);

    let wf = b.memory(
        "wfile",
        8,
        2 * cfg.ah,
        MemStyle::Distributed,
        ReadDuringWrite::ReadFirst,
    );
    let wa = b.cat(&[wbank, waddr]);
    b.mem_write(wf, wa, wdata, wen);
    let ra = b.cat(&[rbank, widx]);
    let w = b.mem_read(wf, ra, None);

    // Stage 1: iAct difference; weight read in flight.
    let di = diff9(&mut b, iact, zp_i, i_signed);
    let di_q = b.delay("di_q", di);
    let v1 = b.delay("v1_q", valid);
    let vl = b.and(valid, last);
    let l1 = b.delay("l1_q", vl);
    // Stage 2: weight difference and the signed product.
    let dw = diff9(&mut b, w, zp_w, w_signed);
    let dw = b.named(dw, "dw");
    let prod = b.mul(di_q, dw);
    let prod_q = b.delay("prod_q", prod);
    let v2 = b.delay("v2_q", v1);
    let l2 = b.delay("l2_q", l1);
    // Stage 3: accumulate; emit and restart on the last element.
    let p32 = b.extend(prod_q, 32);
    let p32 = b.as_unsigned(p32);
    let sum = b.reg("sum_q", Bits::zero(32));
    let total = b.add(sum, p32);
    let zero = b.zero(32);
    let sum_d = b.mux(l2, zero, total);
    b.next(sum, sum_d, Some(v2));
    let psum = b.reg("psum_q", Bits::zero(32));
    b.next(psum, total, Some(l2));
    let pv = b.delay("psum_valid_q", l2);
    b.output("o_psum", psum);
    b.output("o_valid", pv);
    b.finish()
}
