//! Fixed-point arithmetic on signed signals, as golden models write it in integers: sums that
//! cannot overflow, rounding right shifts (half up: add half, shift arithmetically) and
//! saturation to a narrower two's-complement width. Checked against those definitions on
//! every input value in `tests/ir/blocks.rs`.

use crate::rtl::{Bits, ModuleBuilder, RedOp, Sig};

/// Bits that hold the sum of `n` terms of `width` bits without overflow.
pub fn sum_width(width: u32, n: usize) -> u32 {
    width + (n.max(1) as u32).next_power_of_two().trailing_zeros()
}

/// The exact sum of `terms` (each sign- or zero-extended to `width`), as a balanced tree of
/// adders. An empty list sums to zero.
pub fn sum(b: &mut ModuleBuilder, terms: &[Sig], width: u32) -> Sig {
    let signed = terms.first().is_some_and(|t| t.signed);
    let mut level: Vec<Sig> = terms.iter().map(|&t| b.extend(t, width)).collect();
    if level.is_empty() {
        let z = b.zero(width);
        return if signed { b.as_signed(z) } else { z };
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| {
                if p.len() == 2 {
                    b.add(p[0], p[1])
                } else {
                    p[0]
                }
            })
            .collect();
    }
    level[0]
}

/// Register stages `sum_pipelined` puts in a sum of `n` terms: one per adder level.
pub fn sum_stages(n: usize) -> u32 {
    (n.max(1) as u32).next_power_of_two().trailing_zeros()
}

/// The exact sum of `terms` like `sum`, with a register after every level of adders
/// (`<name>_l<level>_<k>`), so a long sum does not lengthen the clock period: ready
/// `sum_stages(terms.len())` cycles after the terms.
pub fn sum_pipelined(b: &mut ModuleBuilder, name: &str, terms: &[Sig], width: u32) -> Sig {
    let signed = terms.first().is_some_and(|t| t.signed);
    let mut level: Vec<Sig> = terms.iter().map(|&t| b.extend(t, width)).collect();
    if level.is_empty() {
        let z = b.zero(width);
        return if signed { b.as_signed(z) } else { z };
    }
    let mut l = 0;
    while level.len() > 1 {
        level = level
            .chunks(2)
            .enumerate()
            .map(|(k, p)| {
                let v = if p.len() == 2 {
                    b.add(p[0], p[1])
                } else {
                    p[0]
                };
                b.delay(&format!("{name}_l{l}_{k}"), v)
            })
            .collect();
        l += 1;
    }
    level[0]
}

/// `x / 2^s` rounded half up for s > 0 (one bit wider than `x` less `s`), `x · 2^−s` for
/// s ≤ 0 (|s| bits wider); `x` signed.
pub fn round_shift(b: &mut ModuleBuilder, x: Sig, s: i32) -> Sig {
    let w = x.width;
    if s <= 0 {
        let wide = b.extend(x, w + (-s) as u32);
        return b.shl_const(wide, (-s) as u32);
    }
    let s = s as u32;
    let wide = b.extend(x, w + 1);
    let half = b.lit_signed(w + 1, 1i64 << (s - 1));
    let t = b.add(wide, half);
    let q = b.slice(t, w, s.min(w));
    b.as_signed(q)
}

/// `x` (signed) shifted right arithmetically by `s + amount` and rounded half up, where
/// `amount` is a run-time shift (unsigned) and `s` ≥ 1 a constant; as wide as `x` less `s − 1`.
pub fn round_shift_var(b: &mut ModuleBuilder, x: Sig, s: u32, amount: Sig) -> Sig {
    // ⌊(x + 2^(k−1)) / 2^k⌋ = ⌊(⌊x / 2^(k−1)⌋ + 1) / 2⌋ for k = s + amount ≥ 1.
    let w = x.width;
    let pre = b.slice(x, w - 1, s - 1);
    let pre = b.as_signed(pre);
    let y = b.shr(pre, amount);
    let wy = y.width;
    let y1 = b.extend(y, wy + 1);
    let one = b.lit_signed(wy + 1, 1);
    let t = b.add(y1, one);
    let q = b.slice(t, wy, 1);
    b.as_signed(q)
}

/// `x` (signed) clamped to a `bits`-bit two's-complement number.
pub fn saturate(b: &mut ModuleBuilder, x: Sig, bits: u32) -> Sig {
    let w = x.width;
    if w <= bits {
        return b.extend(x, bits);
    }
    let top = b.slice(x, w - 1, bits - 1);
    let all_ones = b.reduce(RedOp::And, top);
    let any = b.reduce(RedOp::Or, top);
    let none = b.not(any);
    let fits = b.or(all_ones, none);
    let low = b.slice(x, bits - 1, 0);
    let sign = b.bit(x, w - 1);
    let max = b.constant(Bits::from_i64(bits, (1i64 << (bits - 1)) - 1));
    let min = b.constant(Bits::from_i64(bits, -(1i64 << (bits - 1))));
    let clamp = b.mux(sign, min, max);
    let v = b.mux(fits, low, clamp);
    b.as_signed(v)
}
