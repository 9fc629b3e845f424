//! Constant tables the emulator's hardware holds and its bit-accurate model reads: the
//! fractional-delay filter (Lagrange interpolation) by filter phase, and the CORDIC's arctangent
//! constants and gain. Both sides take them from here, so they cannot drift apart; what they
//! compute with them is written twice (generator and golden model).

/// The newest tap's offset: a window of `taps` samples reads sample indices
/// `s_k = n − D + k0 − k` (k = 0 … taps−1), centred on the fractional point for even tap counts.
pub fn k0(taps: u32) -> u32 {
    if taps >= 2 {
        taps / 2 - 1
    } else {
        0
    }
}

/// Lagrange coefficients `h_k(μ)` interpolating `x(n − D − μ)` from the window's samples: tap k
/// sits at delay `k − k0` from `n − D`.
pub fn lagrange(taps: u32, mu: f64) -> Vec<f64> {
    let k0 = k0(taps) as f64;
    let pos: Vec<f64> = (0..taps).map(|k| k as f64 - k0).collect();
    (0..taps as usize)
        .map(|k| {
            pos.iter()
                .enumerate()
                .filter(|(m, _)| *m != k)
                .map(|(_, &pm)| (mu - pm) / (pos[k] - pm))
                .product()
        })
        .collect()
}

/// The filter phase table: `2^phase_bits` rows of `taps` coefficients, each a `coef_bits`-bit
/// signed number with `coef_bits − 2` fractional bits; row q is designed for the middle of the
/// fractions it serves, μ = (q + ½) / 2^phase_bits. With one tap the filter is the identity
/// (the integer delay is rounded instead).
pub fn fd_table(taps: u32, phase_bits: u32, coef_bits: u32) -> Vec<Vec<i64>> {
    let q = 1u32 << phase_bits;
    let scale = (1i64 << (coef_bits - 2)) as f64;
    let max = (1i64 << (coef_bits - 1)) - 1;
    (0..q)
        .map(|row| {
            let mu = if taps == 1 {
                0.0
            } else {
                (row as f64 + 0.5) / q as f64
            };
            lagrange(taps, mu)
                .into_iter()
                .map(|h| ((h * scale).round() as i64).clamp(-max - 1, max))
                .collect()
        })
        .collect()
}

/// CORDIC iteration i rotates by ±atan(2^-i): the angles in turns × 2^32.
pub fn cordic_atans(stages: u32) -> Vec<u32> {
    (0..stages)
        .map(|i| {
            let t = (2f64.powi(-(i as i32))).atan() / std::f64::consts::TAU;
            (t * 4_294_967_296.0).round() as u32
        })
        .collect()
}

/// The magnitude a CORDIC of `stages` iterations multiplies by.
pub fn cordic_gain(stages: u32) -> f64 {
    (0..stages)
        .map(|i| (1.0 + 4f64.powi(-(i as i32))).sqrt())
        .product()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lagrange_interpolates_polynomials_exactly() {
        // A cubic through the four taps is reproduced at any fraction by the 4-tap filter.
        let f = |d: f64| 0.3 * d * d * d - d * d + 2.0 * d - 0.5;
        for &mu in &[0.0, 0.25, 0.5, 0.9] {
            let h = lagrange(4, mu);
            // Tap k holds the value at delay k − 1.
            let v: f64 = (0..4).map(|k| h[k] * f(k as f64 - 1.0)).sum();
            assert!((v - f(mu)).abs() < 1e-12, "{mu}: {v} vs {}", f(mu));
        }
        assert_eq!(lagrange(2, 0.25), vec![0.75, 0.25]);
        assert_eq!(lagrange(1, 0.7), vec![1.0]);
    }

    #[test]
    fn the_phase_table_sums_to_one_in_every_row() {
        for taps in [2, 4, 8] {
            for row in fd_table(taps, 6, 18) {
                let sum: i64 = row.iter().sum();
                assert!((sum - (1 << 16)).abs() <= taps as i64, "{taps}: {row:?}");
            }
        }
    }

    #[test]
    fn cordic_constants() {
        assert_eq!(cordic_atans(2), vec![1 << 29, 316_933_406]);
        assert!((cordic_gain(18) - 1.646_760_258).abs() < 1e-9);
    }
}
