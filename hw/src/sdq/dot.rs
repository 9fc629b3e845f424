//! The SDQ dot-product unit: one chunk of C = G·M weight positions per cycle, each kept weight
//! stored as (position in its group, element code), outliers and inliers in their own lanes
//! with their own element formats and their own E8M0 block scales, INT8 activations.
//!
//! ```text
//!  i_act[C·8] ─┬─► M:1 mux per kept weight (its position) ─► × decoded code ─► « code shift ─┐
//!  i_w ────────┘   outlier lane: G·K products, inlier lane: G·(N−K)            (registered) │
//!    lane sums (adder trees, registered) ─► « or » by the lane's scale ─► + accumulator ─► FP32
//! ```
//!
//! **Arithmetic (the golden model, `golden.rs`, defines it from the formats' values):**
//! activations are signed INT8 (two's complement, a per-tensor scale stays on the host). For
//! each chunk and each lane, S = Σ value(code)·act over the lane's kept weights is exact; the
//! lane's term is ⌊S · 2^(scale − 127) / 2^L⌋ where L = `acc_lsb`, the accumulator's least
//! significant bit (a term that is not a whole number of 2^L raises the sticky `inexact`
//! flag), wrapped to A = `acc_bits` bits (a term or sum outside the A-bit range raises
//! `overflow`). The accumulator adds both terms exactly; on the chunk marked last it hands
//! over the sum and starts again from zero. The sum is rounded once, to FP32 (to nearest, ties
//! to even) — `o_y`; the exact sum is `o_acc`. NaN/Inf codes and the E8M0 NaN scale (0xFF)
//! raise `special` and count as zero. Flags are `o_flags` = {special, overflow, inexact}, for
//! the dot product just finished.
//!
//! In hardware a code decodes to a sign, a small significand and a left shift (a table built
//! from the format), so a product is a narrow multiply (4 × 8 bits for E4M3, 2 × 8 for E2M1)
//! and a shift; the block scale is one variable shift per lane, not per element.

use super::decompose::{SdqConfig, SdqError};
use super::formats::Format;
use crate::rtl::{Bits, DrcErrors, Module, ModuleBuilder, RedOp, Sig};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// Significands this narrow multiply by shift-and-add in LUTs (a DSP48E2 would be wasted on
/// a 4 × 8 product); wider ones (INT8's 7 bits) use the `mul` primitive, which synthesis maps
/// to DSPs.
pub const LUT_PRODUCT_BITS: u32 = 4;
/// Activation bits (signed INT8).
pub const ACT_BITS: u32 = 8;
/// Cycles from a chunk entering to the registers that hold its products.
pub const PRODUCT_STAGE: u64 = 1;
/// … to the lane sums.
pub const SUM_STAGE: u64 = 2;
/// … to the accumulator and the finished exact sum (`o_acc`).
pub const ACC_STAGE: u64 = 3;
/// Cycles from the last chunk of a dot product entering to its result on `o_y`.
pub const DOT_LATENCY: u64 = 4;

/// The unit's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DotConfig {
    pub sdq: SdqConfig,
    /// Groups of M positions per chunk (G); a chunk is one cycle's work.
    pub groups: u32,
    /// Accumulator width A.
    pub acc_bits: u32,
    /// Weight of the accumulator's least significant bit: 2^acc_lsb.
    pub acc_lsb: i32,
    /// Products wider than `LUT_PRODUCT_BITS` on DSPs (the `mul` primitive); false builds
    /// every product from LUTs (for comparisons at an equal LUT budget).
    #[serde(default = "yes")]
    pub dsp: bool,
}

fn yes() -> bool {
    true
}

impl Default for DotConfig {
    fn default() -> Self {
        DotConfig {
            sdq: SdqConfig::default(),
            groups: 1,
            acc_bits: 48,
            acc_lsb: -24,
            dsp: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DotError {
    #[error(transparent)]
    Sdq(#[from] SdqError),
    #[error("groups per chunk must be from 1 to 16, got {0}")]
    Groups(u32),
    #[error("a chunk of {chunk} positions (groups × M) must divide the MX block of {block}")]
    Chunk { chunk: u32, block: u32 },
    #[error("accumulator width must be from {min} to 64 bits, got {got}")]
    AccBits { got: u32, min: u32 },
    #[error(
        "accumulator LSB exponent must be from -126 to {max} (every sum an FP32 normal), got {got}"
    )]
    AccLsb { got: i32, max: i32 },
    #[error("internal: {0}")]
    Drc(#[from] DrcErrors),
}

impl DotConfig {
    pub fn validate(&self) -> Result<(), DotError> {
        self.sdq.validate()?;
        if !(1..=16).contains(&self.groups) {
            return Err(DotError::Groups(self.groups));
        }
        let chunk = self.chunk();
        if !self.sdq.block.is_multiple_of(chunk) {
            return Err(DotError::Chunk {
                chunk,
                block: self.sdq.block,
            });
        }
        let min = self.min_acc_bits();
        if !(min..=64).contains(&self.acc_bits) {
            return Err(DotError::AccBits {
                got: self.acc_bits,
                min,
            });
        }
        let max = 128 - self.acc_bits as i32;
        if !(-126..=max).contains(&self.acc_lsb) {
            return Err(DotError::AccLsb {
                got: self.acc_lsb,
                max,
            });
        }
        Ok(())
    }

    /// Positions per chunk, C = G·M.
    pub fn chunk(&self) -> u32 {
        self.groups * self.sdq.m
    }

    /// Outliers and inliers per group.
    pub fn lanes(&self) -> [(Format, u32); 2] {
        let s = &self.sdq;
        [
            (s.outlier_format, s.outliers),
            (s.inlier_format, s.n - s.outliers),
        ]
    }

    /// Whether positions are implicit: nothing pruned and a single part, so slot j is
    /// position j.
    pub fn implicit_positions(&self) -> bool {
        let s = &self.sdq;
        s.n == s.m && (s.outliers == 0 || s.outliers == s.n)
    }

    /// Bits of a stored position.
    pub fn index_bits(&self) -> u32 {
        if self.implicit_positions() {
            0
        } else {
            self.sdq.index_bits()
        }
    }

    /// The narrowest accumulator that holds every lane sum (26 at least: the FP32 rounding
    /// needs a guard bit below the 24 significant ones).
    pub fn min_acc_bits(&self) -> u32 {
        self.lanes()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|&(f, n)| lane_sum_bits(f, n * self.groups))
            .max()
            .unwrap_or(0)
            .max(26)
    }

    /// The bit layout of a chunk word (`i_w`).
    pub fn layout(&self) -> ChunkLayout {
        let mut slots = Vec::new();
        let mut at = 0;
        let ib = self.index_bits();
        for g in 0..self.groups {
            for (lane, &(f, n)) in self.lanes().iter().enumerate() {
                for j in 0..n {
                    slots.push(Slot {
                        group: g,
                        lane,
                        slot: j,
                        index_at: at,
                        code_at: at + ib,
                        code_bits: f.bits(),
                    });
                    at += ib + f.bits();
                }
            }
        }
        let mut scale_at = [None, None];
        for (lane, &(_, n)) in self.lanes().iter().enumerate() {
            if n > 0 {
                scale_at[lane] = Some(at);
                at += 8;
            }
        }
        ChunkLayout {
            slots,
            scale_at,
            index_bits: ib,
            bits: at,
        }
    }

    pub fn module_name(&self) -> String {
        let s = &self.sdq;
        format!(
            "sdq_dot_{}of{}_k{}_{}_{}_g{}{}",
            s.n,
            s.m,
            s.outliers,
            s.outlier_format.name(),
            s.inlier_format.name(),
            self.groups,
            if self.dsp { "" } else { "_lut" }
        )
    }
}

/// One kept weight's place in a chunk word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub group: u32,
    /// 0 outlier, 1 inlier.
    pub lane: usize,
    pub slot: u32,
    pub index_at: u32,
    pub code_at: u32,
    pub code_bits: u32,
}

/// Where everything sits in a chunk word, least significant bit first: group after group, in
/// each the outliers' (position, code) pairs then the inliers'; then the outlier scale and
/// the inlier scale (8-bit E8M0 each, present when the lane is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkLayout {
    pub slots: Vec<Slot>,
    pub scale_at: [Option<u32>; 2],
    pub index_bits: u32,
    pub bits: u32,
}

/// A chunk as the host describes it: per group, per lane, (position, code) of each kept
/// weight; the lanes' scale codes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Chunk {
    pub groups: Vec<[Vec<(u32, u32)>; 2]>,
    pub scales: [u32; 2],
}

impl ChunkLayout {
    /// The chunk word of `c` (positions ignored when they are implicit).
    pub fn encode(&self, c: &Chunk) -> Bits {
        let mut w = Bits::zero(self.bits.max(1));
        for s in &self.slots {
            let (pos, code) = c.groups[s.group as usize][s.lane][s.slot as usize];
            if self.index_bits > 0 {
                w.set_slice(s.index_at, &Bits::from_u64(self.index_bits, pos as u64));
            }
            w.set_slice(s.code_at, &Bits::from_u64(s.code_bits, code as u64));
        }
        for (lane, at) in self.scale_at.iter().enumerate() {
            if let Some(at) = at {
                w.set_slice(*at, &Bits::from_u64(8, c.scales[lane] as u64));
            }
        }
        w
    }
}

/// How a code is computed with: value = (−1)^neg · sig · 2^(shift + qexp).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Decoded {
    pub neg: bool,
    pub sig: u64,
    pub shift: u32,
    /// NaN or infinity.
    pub special: bool,
}

/// A format's decode table for the datapath.
#[derive(Clone, Debug)]
pub struct ElementTable {
    pub codes: Vec<Decoded>,
    /// Bits of the largest significand.
    pub sig_bits: u32,
    pub max_shift: u32,
    /// log2 of the format's quantum (its smallest positive value): every value is a whole
    /// multiple of 2^qexp.
    pub qexp: i32,
}

/// The table of `f`, built from its decoded values: each finite value is k·2^qexp with k an
/// integer; k splits into a significand of at most P bits (P the most significant bits any
/// code needs) and a shift.
pub fn element_table(f: Format) -> ElementTable {
    let values: Vec<f64> = (0..1u32 << f.bits()).map(|c| f.decode(c)).collect();
    let quantum = values
        .iter()
        .filter(|v| v.is_finite() && **v != 0.0)
        .fold(f64::INFINITY, |m, v| m.min(v.abs()));
    let qexp = quantum.log2() as i32;
    let ks: Vec<Option<u64>> = values
        .iter()
        .map(|v| v.is_finite().then(|| (v.abs() / quantum) as u64))
        .collect();
    let sig_bits = ks
        .iter()
        .flatten()
        .filter(|k| **k > 0)
        .map(|k| 64 - k.leading_zeros() - k.trailing_zeros())
        .max()
        .unwrap_or(1);
    let codes: Vec<Decoded> = values
        .iter()
        .zip(&ks)
        .map(|(v, k)| match k {
            None => Decoded {
                special: true,
                ..Default::default()
            },
            Some(k) => {
                let len = 64 - k.leading_zeros();
                let shift = len.saturating_sub(sig_bits);
                Decoded {
                    neg: v.is_sign_negative() && *k != 0,
                    sig: k >> shift,
                    shift,
                    special: false,
                }
            }
        })
        .collect();
    let max_shift = codes.iter().map(|d| d.shift).max().unwrap_or(0);
    ElementTable {
        codes,
        sig_bits,
        max_shift,
        qexp,
    }
}

/// Integer formats: stored as two's complement, multiplied as stored.
fn is_integer(f: Format) -> bool {
    matches!(f, Format::Int8 | Format::Int4)
}

/// Bits of one product: a signed activation times a two's-complement integer, or times a
/// significand and shifted.
fn product_bits(f: Format) -> u32 {
    if is_integer(f) {
        return ACT_BITS + f.bits();
    }
    let t = element_table(f);
    ACT_BITS + t.sig_bits + 1 + t.max_shift
}

/// `a · x` (both signed) as shift-and-add in LUTs, `width` bits: one masked, shifted copy of
/// `a` per bit of `x`, the sign bit's subtracted.
fn lut_mul(b: &mut ModuleBuilder, a: Sig, x: Sig, width: u32) -> Sig {
    let a_ext = b.extend(a, width);
    let zero = b.zero(width);
    let zero = b.as_signed(zero);
    let top = x.width - 1;
    let mut terms = Vec::new();
    for i in 0..x.width {
        let bit = b.bit(x, i);
        let shifted = b.shl_const(a_ext, i);
        let shifted = b.as_signed(shifted);
        let t = if i == top {
            b.sub(zero, shifted)
        } else {
            shifted
        };
        terms.push(b.mux(bit, t, zero));
    }
    crate::blocks::fixed::sum(b, &terms, width)
}

/// Bits of a lane's sum of `n` products.
pub fn lane_sum_bits(f: Format, n: u32) -> u32 {
    crate::blocks::fixed::sum_width(product_bits(f), n as usize)
}

/// Generates the unit: inputs `i_valid`, `i_last`, `i_act` (C × 8, position p at
/// [8p +: 8]), `i_w` (a chunk word); outputs `o_valid`, `o_y` (FP32), `o_acc` (the exact
/// sum, `acc_bits` signed, ready `ACC_STAGE` cycles after the last chunk), `o_flags`.
pub fn generate_dot(cfg: &DotConfig) -> Result<Rc<Module>, DotError> {
    cfg.validate()?;
    let mut b = ModuleBuilder::new(cfg.module_name());
    let valid = b.input("i_valid", 1);
    let last = b.input("i_last", 1);
    let act = b.input("i_act", cfg.chunk() * ACT_BITS);
    let layout = cfg.layout();
    let w = b.input("i_w", layout.bits.max(1));
    let out = dot_body(&mut b, cfg, (valid, last, act, w));
    b.output("o_valid", out.valid);
    b.output("o_y", out.y);
    b.output("o_acc", out.acc);
    b.output("o_flags", out.flags);
    Ok(b.finish()?)
}

struct DotOut {
    valid: Sig,
    y: Sig,
    acc: Sig,
    flags: Sig,
}

fn dot_body(
    b: &mut ModuleBuilder,
    cfg: &DotConfig,
    (valid, last, act, w): (Sig, Sig, Sig, Sig),
) -> DotOut {
    let layout = cfg.layout();
    let m = cfg.sdq.m;
    let ab = cfg.acc_bits;
    // Stage 0 → 1: select, decode, multiply, shift; register the products.
    let acts: Vec<Sig> = (0..cfg.chunk())
        .map(|p| {
            let a = b.slice(act, p * ACT_BITS + ACT_BITS - 1, p * ACT_BITS);
            b.as_signed(a)
        })
        .collect();
    let mut lane_products: [Vec<Sig>; 2] = [Vec::new(), Vec::new()];
    let mut specials = Vec::new();
    let lanes = cfg.lanes();
    let tables = [element_table(lanes[0].0), element_table(lanes[1].0)];
    for s in &layout.slots {
        let t = &tables[s.lane];
        let base = (s.group * m) as usize;
        let a = if layout.index_bits == 0 {
            acts[base + s.slot as usize]
        } else {
            let idx = b.slice(w, s.index_at + layout.index_bits - 1, s.index_at);
            let n = 1usize << layout.index_bits;
            let choices: Vec<Sig> = (0..n).map(|k| acts[base + k.min(m as usize - 1)]).collect();
            b.select(idx, &choices)
        };
        let code = b.slice(w, s.code_at + s.code_bits - 1, s.code_at);
        let pw = product_bits(lanes[s.lane].0);
        let p = if is_integer(lanes[s.lane].0) {
            // Integers multiply as they are stored (two's complement), like any INT8 MAC.
            let cs = b.as_signed(code);
            if s.code_bits <= LUT_PRODUCT_BITS || !cfg.dsp {
                lut_mul(b, a, cs, pw)
            } else {
                let p = b.mul(a, cs);
                b.extend(p, pw)
            }
        } else {
            let sb = t.sig_bits;
            let shb = bits_for(t.max_shift);
            let (mut sig_arms, mut shift_arms, mut neg_arms, mut special_arms) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (c, d) in t.codes.iter().enumerate() {
                let c = c as u64;
                if d.sig != 0 {
                    sig_arms.push((c, b.lit(sb, d.sig)));
                }
                if d.shift != 0 {
                    shift_arms.push((c, b.lit(shb, d.shift as u64)));
                }
                if d.neg {
                    neg_arms.push((c, b.lit(1, 1)));
                }
                if d.special {
                    special_arms.push((c, b.lit(1, 1)));
                }
            }
            let (z_sig, z_sh, z1) = (b.zero(sb), b.zero(shb), b.zero(1));
            let sig = b.case(code, &sig_arms, z_sig);
            let shift = b.case(code, &shift_arms, z_sh);
            let neg = b.case(code, &neg_arms, z1);
            let special = b.case(code, &special_arms, z1);
            specials.push(special);
            // act (signed 8) × sig (unsigned, read as signed sb + 1 bits), negated, at the
            // product's own width; then widened and shifted.
            let sig_s = b.extend(sig, sb + 1);
            let sig_s = b.as_signed(sig_s);
            let nw = ACT_BITS + sb + 1;
            let p = if sb <= LUT_PRODUCT_BITS || !cfg.dsp {
                lut_mul(b, a, sig_s, nw)
            } else {
                let p = b.mul(a, sig_s);
                b.extend(p, nw)
            };
            let zero = b.zero(nw);
            let zero = b.as_signed(zero);
            let negated = b.sub(zero, p);
            let p = b.mux(neg, negated, p);
            let p = b.extend(p, pw);
            b.shl(p, shift)
        };
        let name = format!("prod_g{}_{}{}", s.group, ["o", "i"][s.lane], s.slot);
        let p = b.delay(&name, p);
        lane_products[s.lane].push(p);
    }
    let special_codes = crate::blocks::arbiter::any(b, &specials);
    let special_codes = b.delay("special_codes_q", special_codes);
    let valid1 = b.delay("valid_q1", valid);
    let last1 = b.delay("last_q1", last);
    let scales: Vec<Option<Sig>> = layout
        .scale_at
        .iter()
        .enumerate()
        .map(|(lane, at)| {
            at.map(|at| {
                let s = b.slice(w, at + 7, at);
                b.delay(&format!("scale{lane}_q1"), s)
            })
        })
        .collect();

    // Stage 1 → 2: lane sums.
    let mut sums = Vec::new();
    for (lane, ps) in lane_products.iter().enumerate() {
        if ps.is_empty() {
            sums.push(None);
            continue;
        }
        let sw = lane_sum_bits(lanes[lane].0, ps.len() as u32);
        let s = crate::blocks::fixed::sum(b, ps, sw);
        sums.push(Some(b.delay(&format!("sum{lane}_q"), s)));
    }
    let special2 = b.delay("special_codes_q2", special_codes);
    let valid2 = b.delay("valid_q2", valid1);
    let last2 = b.delay("last_q2", last1);
    let scales2: Vec<Option<Sig>> = scales
        .iter()
        .enumerate()
        .map(|(lane, s)| s.map(|s| b.delay(&format!("scale{lane}_q2"), s)))
        .collect();

    // Stage 2 → 3: scale each lane's sum into the accumulator's units, accumulate.
    let mut terms = Vec::new();
    let (mut ovf, mut inexact, mut special) = (vec![], vec![], vec![special2]);
    for lane in 0..2 {
        let (Some(sum), Some(scale)) = (sums[lane], scales2[lane]) else {
            continue;
        };
        let t = &tables[lane];
        // d = scale − 127 + qexp − acc_lsb, as an 11-bit signed number.
        let c0 = t.qexp - cfg.acc_lsb - 127;
        let sc = b.extend(scale, 11);
        let sc = b.as_signed(sc);
        let c = b.lit_signed(11, c0 as i64);
        let d = b.add(sc, c);
        let d_neg = b.bit(d, 10);
        let zero11 = b.zero(11);
        let zero11 = b.as_signed(zero11);
        let minus_d = b.sub(zero11, d);
        let d_u = b.as_unsigned(d);
        let r_u = b.as_unsigned(minus_d);
        let s_ext = b.extend(sum, ab);
        let left = b.shl(s_ext, d_u);
        // A left shift by d keeps a non-zero value iff d is at most its redundant sign bits.
        let lead = redundant_sign_bits(b, s_ext);
        let lead = b.extend(lead, 11);
        let lead = b.as_signed(lead);
        let beyond = b.lt(lead, d);
        let s_zero = b.eq_lit(s_ext, 0);
        let s_nonzero = b.not(s_zero);
        let lost_high = b.and(beyond, s_nonzero);
        let right = b.shr(s_ext, r_u);
        let ones = b.constant(Bits::from_i64(ab, -1));
        let kept = b.shl(ones, r_u);
        let mask = b.not(kept);
        let s_bits = b.as_unsigned(s_ext);
        let low = b.and(s_bits, mask);
        let lost_low = b.reduce(RedOp::Or, low);
        let term = b.mux(d_neg, right, left);
        let nd = b.not(d_neg);
        ovf.push(b.and(nd, lost_high));
        inexact.push(b.and(d_neg, lost_low));
        special.push(b.eq_lit(scale, 0xFF));
        terms.push(term);
    }
    let acc = b.reg("acc", Bits::zero(ab));
    let acc_s = b.as_signed(acc);
    let mut all = vec![acc_s];
    all.extend(terms.iter().copied());
    let total = crate::blocks::fixed::sum(b, &all, ab + 2);
    let top = b.slice(total, ab + 1, ab - 1);
    let fits_zero = b.eq_lit(top, 0);
    let fits_ones = b.eq_lit(top, 7);
    let fits = b.or(fits_zero, fits_ones);
    ovf.push(b.not(fits));
    let total_a = b.slice(total, ab - 1, 0);
    let zero_a = b.zero(ab);
    let acc_next = b.mux(last2, zero_a, total_a);
    b.next(acc, acc_next, Some(valid2));
    // Sticky flags of the dot product in progress.
    let mut flag_now = Vec::new();
    let mut flag_next = Vec::new();
    for (name, list) in [
        ("special", special),
        ("overflow", ovf),
        ("inexact", inexact),
    ] {
        let f = b.reg(&format!("{name}_sticky"), Bits::zero(1));
        let mut l = list.clone();
        l.push(f);
        let now = crate::blocks::arbiter::any(b, &l);
        let z = b.zero(1);
        let nx = b.mux(last2, z, now);
        b.next(f, nx, Some(valid2));
        flag_now.push(now);
        flag_next.push(nx);
    }
    let flags_now = b.cat(&flag_now);
    let done = b.and(valid2, last2);
    let res = b.reg("result", Bits::zero(ab));
    b.next(res, total_a, Some(done));
    let flags = b.reg("result_flags", Bits::zero(3));
    b.next(flags, flags_now, Some(done));
    let valid3 = b.delay("done_q3", done);

    // Stage 3 → 4: one rounding, to FP32.
    let y = to_f32(b, res, cfg.acc_lsb);
    let y = b.delay("y_q", y);
    let flags4 = b.delay("flags_q", flags);
    let valid4 = b.delay("done_q4", valid3);
    let _ = flag_next;
    DotOut {
        valid: valid4,
        y,
        acc: res,
        flags: flags4,
    }
}

/// How many bits below the sign bit of `x` (signed) repeat it: x fits in `width − n` bits.
fn redundant_sign_bits(b: &mut ModuleBuilder, x: Sig) -> Sig {
    let w = x.width;
    let xs = b.as_unsigned(x);
    let one = b.lit(1, 1);
    let shifted = b.shr(xs, one);
    // Bit i of `diff` (i < w − 1): bits i and i + 1 differ.
    let diff = b.xor(xs, shifted);
    let pb = bits_for(w);
    // Redundant = w − 2 − (highest differing position), or w − 1 when none differs.
    let mut n = b.lit(pb, (w - 1) as u64);
    for i in 0..w - 1 {
        let bit = b.bit(diff, i);
        let v = b.lit(pb, (w - 2 - i) as u64);
        n = b.mux(bit, v, n);
    }
    n
}

/// Bits that hold `v`.
fn bits_for(v: u32) -> u32 {
    (32 - v.leading_zeros()).max(1)
}

/// FP32 of the signed integer `x` times 2^lsb, rounded to nearest, ties to even (the caller
/// keeps every non-zero result an FP32 normal).
pub fn to_f32(b: &mut ModuleBuilder, x: Sig, lsb: i32) -> Sig {
    let a = x.width;
    let neg = b.bit(x, a - 1);
    let xs = b.as_unsigned(x);
    let zero = b.zero(a);
    let minus = b.sub(zero, xs);
    let mag = b.mux(neg, minus, xs);
    // Position of the leading one (a priority chain from the bottom up).
    let pb = bits_for(a - 1);
    let mut pos = b.zero(pb);
    for i in 1..a {
        let bit = b.bit(mag, i);
        let li = b.lit(pb, i as u64);
        pos = b.mux(bit, li, pos);
    }
    let top = b.lit(pb, (a - 1) as u64);
    let amount = b.sub(top, pos);
    let norm = b.shl(mag, amount);
    let frac = b.slice(norm, a - 2, a - 24);
    let guard = b.bit(norm, a - 25);
    let rest = b.slice(norm, a - 26, 0);
    let sticky = b.reduce(RedOp::Or, rest);
    let lsb_bit = b.bit(frac, 0);
    let tie_or_more = b.or(sticky, lsb_bit);
    let up = b.and(guard, tie_or_more);
    // Biased exponent = pos + lsb + 127 (at least 1, at most 254 by the configuration).
    let pos9 = b.extend(pos, 9);
    let bias = b.lit(9, (lsb + 127) as u64 & 0x1FF);
    let e = b.add(pos9, bias);
    let e8 = b.slice(e, 7, 0);
    let ef = b.cat(&[e8, frac]);
    let up31 = b.extend(up, 31);
    let rounded = b.add(ef, up31);
    let word = b.cat(&[neg, rounded]);
    let is_zero = b.eq_lit(mag, 0);
    let z32 = b.zero(32);
    b.mux(is_zero, z32, word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_decodes_to_its_formats_value() {
        for f in [
            Format::E4M3,
            Format::E5M2,
            Format::E2M1,
            Format::Int8,
            Format::Int4,
        ] {
            let t = element_table(f);
            for (c, d) in t.codes.iter().enumerate() {
                let v = f.decode(c as u32);
                if !v.is_finite() {
                    assert!(d.special, "{f:?} code {c}");
                    continue;
                }
                let mag = d.sig as f64 * (2f64).powi(d.shift as i32 + t.qexp);
                assert_eq!(if d.neg { -mag } else { mag }, v, "{f:?} code {c}");
                assert!(d.sig < 1 << t.sig_bits);
            }
        }
        // The narrow multipliers the module note promises.
        assert_eq!(element_table(Format::E4M3).sig_bits, 4);
        assert_eq!(element_table(Format::E2M1).sig_bits, 2);
        assert_eq!(element_table(Format::Int8).sig_bits, 7);
    }

    #[test]
    fn config_errors_say_what_is_allowed() {
        let bad = |f: fn(&mut DotConfig)| {
            let mut c = DotConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert_eq!(
            bad(|c| c.groups = 0),
            "groups per chunk must be from 1 to 16, got 0"
        );
        assert_eq!(
            bad(|c| c.groups = 3),
            "a chunk of 24 positions (groups × M) must divide the MX block of 32"
        );
        assert_eq!(
            bad(|c| c.acc_bits = 20),
            "accumulator width must be from 27 to 64 bits, got 20"
        );
        assert_eq!(
            bad(|c| c.acc_lsb = -127),
            "accumulator LSB exponent must be from -126 to 80 (every sum an FP32 normal), got -127"
        );
        assert_eq!(
            bad(|c| c.sdq.n = 9),
            "N (kept per group) must be from 1 to M = 8, got 9"
        );
    }

    #[test]
    fn a_dense_single_part_stores_no_positions() {
        let mut c = DotConfig::default();
        assert_eq!(c.index_bits(), 3);
        // 1 × (3 + 8) + 6 × (3 + 4) + two scales.
        assert_eq!(c.layout().bits, 11 + 42 + 16);
        c.sdq = SdqConfig {
            m: 8,
            n: 8,
            outliers: 8,
            outlier_format: Format::Int8,
            inlier_format: Format::E2M1,
            block: 32,
        };
        assert_eq!(c.index_bits(), 0);
        assert_eq!(c.layout().bits, 64 + 8);
    }
}
