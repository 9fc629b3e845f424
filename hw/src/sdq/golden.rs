//! The golden model of the SDQ dot-product unit and GEMM engine, written from the arithmetic
//! `dot.rs` states and the formats' values (`Format::decode`), not from the datapath's decode
//! tables: a lane's chunk sum is computed exactly as a multiple of 2^-24 (every element value
//! of every format is one), scaled by 2^(scale − 127), floored to the accumulator's LSB and
//! wrapped to its width; the finished sum is converted to FP32 by Rust's correctly rounded
//! integer-to-float conversion.

use super::dot::{Chunk, DotConfig};

/// Every element value, of every format, is a whole multiple of 2^-GRID.
const GRID: i32 = 24;

/// What the unit hands over for one dot product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DotResult {
    /// The exact sum (wrapped to the accumulator's width), signed.
    pub acc: i128,
    /// FP32 bits of acc · 2^acc_lsb.
    pub y: u32,
    pub special: bool,
    pub overflow: bool,
    pub inexact: bool,
}

impl DotResult {
    /// `o_flags`: {special, overflow, inexact}.
    pub fn flags(&self) -> u64 {
        (self.special as u64) << 2 | (self.overflow as u64) << 1 | self.inexact as u64
    }
}

fn wrap(v: i128, bits: u32) -> i128 {
    let m = 1i128 << bits;
    let r = v.rem_euclid(m);
    if r >= m / 2 {
        r - m
    } else {
        r
    }
}

fn fits(v: i128, bits: u32) -> bool {
    let h = 1i128 << (bits - 1);
    (-h..h).contains(&v)
}

/// The dot product of `chunks` (in order; the last one ends it) with `acts` (C INT8 values
/// per chunk).
pub fn dot(cfg: &DotConfig, chunks: &[Chunk], acts: &[Vec<i8>]) -> DotResult {
    let a = cfg.acc_bits;
    let m = cfg.sdq.m as usize;
    let formats = [cfg.sdq.outlier_format, cfg.sdq.inlier_format];
    let present = [cfg.sdq.outliers > 0, cfg.sdq.n > cfg.sdq.outliers];
    let mut r = DotResult {
        acc: 0,
        y: 0,
        special: false,
        overflow: false,
        inexact: false,
    };
    for (c, x) in chunks.iter().zip(acts) {
        let mut total = r.acc;
        for lane in 0..2 {
            if !present[lane] {
                continue;
            }
            // S · 2^GRID, exactly.
            let mut s: i128 = 0;
            for (g, group) in c.groups.iter().enumerate() {
                for &(pos, code) in &group[lane] {
                    let v = formats[lane].decode(code);
                    if !v.is_finite() {
                        r.special = true;
                        continue;
                    }
                    let k = v * (2f64).powi(GRID);
                    assert_eq!(k, k.trunc(), "a value finer than 2^-{GRID}");
                    let act = x[g * m + pos as usize] as i128;
                    s += k as i128 * act;
                }
            }
            let scale = c.scales[lane];
            if scale == 0xFF {
                r.special = true;
            }
            // term = ⌊S · 2^(scale − 127 − acc_lsb)⌋ = ⌊s · 2^e⌋.
            let e = scale as i32 - 127 - cfg.acc_lsb - GRID;
            let term = if e >= 0 {
                // s · 2^e fits a bits iff s fits a − e bits; wrapped, only s's low a − e
                // bits survive.
                let e = e as u32;
                if s != 0 && (e >= a || !fits(s, a - e)) {
                    r.overflow = true;
                }
                if e >= a {
                    0
                } else {
                    wrap(wrap(s, a - e) << e, a)
                }
            } else {
                let k = (-e).min(127);
                let q = s >> k;
                if q << k != s {
                    r.inexact = true;
                }
                q
            };
            total += term;
        }
        if !fits(total, a) {
            r.overflow = true;
        }
        r.acc = wrap(total, a);
    }
    r.y = ((r.acc as f32) * (2f32).powi(cfg.acc_lsb)).to_bits();
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdq::formats::Format;

    fn one_group(out: (u32, u32), inl: Vec<(u32, u32)>, scales: [u32; 2]) -> Chunk {
        Chunk {
            groups: vec![[vec![out], inl]],
            scales,
        }
    }

    #[test]
    fn a_dot_product_is_the_sum_of_its_scaled_values() {
        let cfg = DotConfig::default();
        // Outlier at position 2: E4M3 0x44 = 3.0, scale 2^1; inliers E2M1 0x3 = 1.5 at 0,
        // 0x9 = -0.5 at 5 (the other four zero), scale 2^-1.
        let mut inl = vec![(0, 0x3), (5, 0x9)];
        inl.extend((0..4).map(|_| (1, 0)));
        let c = one_group((2, 0x44), inl, [128, 126]);
        let x: Vec<i8> = vec![10, 0, -7, 0, 0, 4, 0, 0];
        let r = dot(&cfg, &[c.clone(), c], &[x.clone(), x]);
        // Per chunk: 3·2·(−7) + (1.5·10 − 0.5·4)/2 = −42 + 6.5 = −35.5; twice: −71.
        assert_eq!(f32::from_bits(r.y), -71.0);
        assert_eq!(r.acc, -71 << 24);
        assert_eq!(r.flags(), 0);
        let _ = Format::E4M3;
    }

    #[test]
    fn bits_below_the_accumulator_are_floored_and_flagged() {
        let cfg = DotConfig {
            acc_lsb: 0,
            ..DotConfig::default()
        };
        let inl = (0..6).map(|_| (0, 0)).collect();
        // 1.5 · 1 · 2^0 = 1.5 → 1, inexact.
        let c = one_group((0, 0x3C), inl, [127, 127]);
        let r = dot(&cfg, &[c], &[vec![1, 0, 0, 0, 0, 0, 0, 0]]);
        assert_eq!((r.acc, r.inexact, r.overflow), (1, true, false));
        // −1.5 → −2 (floor).
        let inl = (0..6).map(|_| (0, 0)).collect();
        let c = one_group((0, 0xBC), inl, [127, 127]);
        let r = dot(&cfg, &[c], &[vec![1, 0, 0, 0, 0, 0, 0, 0]]);
        assert_eq!(r.acc, -2);
    }

    #[test]
    fn a_term_beyond_the_accumulator_wraps_and_is_flagged() {
        let cfg = DotConfig::default();
        let inl = (0..6).map(|_| (0, 0)).collect();
        // 448 · 127 · 2^127 does not fit 48 bits at LSB 2^-24.
        let c = one_group((0, 0x7E), inl, [254, 127]);
        let r = dot(&cfg, &[c], &[vec![127, 0, 0, 0, 0, 0, 0, 0]]);
        assert!(r.overflow);
        let c = one_group((0, 0x7F), (0..6).map(|_| (0, 0)).collect(), [127, 0xFF]);
        let r = dot(&cfg, &[c], &[vec![1; 8]]);
        assert!(r.special);
        assert_eq!(r.acc, 0);
    }
}
