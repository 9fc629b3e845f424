//! Arithmetic on values wider than one machine word, little-endian `u64` words with the bits
//! above the width kept zero. Only used for operations whose operands or result exceed 64 bits;
//! the hot path of the simulator works on single words.

use plume_hw::rtl::bits::{top_mask, words_for};

pub fn mask_top(v: &mut [u64], width: u32) {
    let n = words_for(width);
    v[n - 1] &= top_mask(width);
    for w in v.iter_mut().skip(n) {
        *w = 0;
    }
}

pub fn get_bits(v: &[u64], lo: u32) -> u64 {
    let (w, b) = (lo as usize / 64, lo % 64);
    let low = v.get(w).copied().unwrap_or(0) >> b;
    let high = if b == 0 {
        0
    } else {
        v.get(w + 1).copied().unwrap_or(0) << (64 - b)
    };
    low | high
}

pub fn slice(v: &[u64], lo: u32, width: u32) -> Vec<u64> {
    let mut out: Vec<u64> = (0..words_for(width))
        .map(|i| get_bits(v, lo + 64 * i as u32))
        .collect();
    mask_top(&mut out, width);
    out
}

/// ORs the low `width` bits of `src` into `dst` at bit `lo` (dst bits there must be zero).
pub fn deposit(dst: &mut [u64], lo: u32, src: &[u64], width: u32) {
    for i in 0..words_for(width) {
        let chunk_w = (width - 64 * i as u32).min(64);
        let mut x = src[i];
        if chunk_w < 64 {
            x &= (1u64 << chunk_w) - 1;
        }
        let bit = lo + 64 * i as u32;
        let (w, b) = (bit as usize / 64, bit % 64);
        dst[w] |= x << b;
        if b != 0 && b + chunk_w > 64 {
            dst[w + 1] |= x >> (64 - b);
        }
    }
}

pub fn msb(v: &[u64], width: u32) -> bool {
    (v[(width as usize - 1) / 64] >> ((width - 1) % 64)) & 1 == 1
}

/// Extends `v` (of `from` bits) to `to` bits, with copies of the sign bit when `signed`.
pub fn extend(v: &[u64], from: u32, to: u32, signed: bool) -> Vec<u64> {
    let mut out = vec![0u64; words_for(to)];
    out[..words_for(from)].copy_from_slice(&v[..words_for(from)]);
    if signed && msb(v, from) {
        let top = (from - 1) / 64;
        let fill_from = from % 64;
        if fill_from != 0 {
            out[top as usize] |= !((1u64 << fill_from) - 1);
        }
        for w in out.iter_mut().skip(top as usize + 1) {
            *w = u64::MAX;
        }
    }
    mask_top(&mut out, to);
    out
}

pub fn add(a: &[u64], b: &[u64], width: u32) -> Vec<u64> {
    let mut carry = 0u128;
    let mut out: Vec<u64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| {
            let s = *x as u128 + *y as u128 + carry;
            carry = s >> 64;
            s as u64
        })
        .collect();
    mask_top(&mut out, width);
    out
}

pub fn neg(a: &[u64], width: u32) -> Vec<u64> {
    let inv: Vec<u64> = a.iter().map(|x| !x).collect();
    let mut one = vec![0u64; a.len()];
    one[0] = 1;
    add(&inv, &one, width)
}

pub fn sub(a: &[u64], b: &[u64], width: u32) -> Vec<u64> {
    add(a, &neg(b, width), width)
}

/// Product of `a` and `b` truncated to `width` bits (operands already extended to `width`).
pub fn mul(a: &[u64], b: &[u64], width: u32) -> Vec<u64> {
    let n = words_for(width);
    let mut out = vec![0u64; n];
    for i in 0..n.min(a.len()) {
        let mut carry = 0u128;
        for j in 0..(n - i).min(b.len()) {
            let cur = out[i + j] as u128 + (a[i] as u128) * (b[j] as u128) + carry;
            out[i + j] = cur as u64;
            carry = cur >> 64;
        }
    }
    mask_top(&mut out, width);
    out
}

/// Unsigned comparison: -1, 0, 1.
pub fn cmp_unsigned(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    for i in (0..a.len().max(b.len())).rev() {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

pub fn cmp_signed(a: &[u64], b: &[u64], width: u32) -> std::cmp::Ordering {
    match (msb(a, width), msb(b, width)) {
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => cmp_unsigned(a, b),
    }
}

/// Shift left by `n` bits (n may exceed the width).
pub fn shl(a: &[u64], n: u64, width: u32) -> Vec<u64> {
    let mut out = vec![0u64; words_for(width)];
    if n < width as u64 {
        let k = width - n as u32;
        let part = slice(a, 0, k);
        deposit(&mut out, n as u32, &part, k);
    }
    out
}

/// Shift right by `n` bits, filling with the sign bit when `arith`.
pub fn shr(a: &[u64], n: u64, width: u32, arith: bool) -> Vec<u64> {
    let fill = arith && msb(a, width);
    if n >= width as u64 {
        return if fill {
            extend(&[1], 1, width, true)
        } else {
            vec![0u64; words_for(width)]
        };
    }
    let k = width - n as u32;
    let part = slice(a, n as u32, k);
    extend(&part, k, width, fill)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_and_borrows_cross_words() {
        assert_eq!(add(&[u64::MAX, 0], &[1, 0], 65), vec![0, 1]);
        assert_eq!(sub(&[0, 1], &[1, 0], 65), vec![u64::MAX, 0]);
        assert_eq!(sub(&[0, 0], &[1, 0], 65), vec![u64::MAX, 1]);
        assert_eq!(mul(&[1 << 63, 0], &[2, 0], 128), vec![0, 1]);
        assert_eq!(extend(&[0b10], 2, 70, true), vec![u64::MAX - 1, 0x3f]);
        assert_eq!(shr(&[0, 1 << 5], 4, 70, true), vec![0, 0x3e]);
    }
}
