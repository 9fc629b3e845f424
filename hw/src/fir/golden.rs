//! The FIR filter's golden model: the convolution sum, in exact integers, written from the
//! definition (no window registers, no adder tree).

use super::FirConfig;

/// The value of a `bits`-bit two's-complement word.
pub fn signed(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

/// `y[n] = Σ_t coefs[t] · samples[n − t]` for every n, samples before the first being zero.
pub fn filter(coefs: &[i64], samples: &[i64]) -> Vec<i64> {
    (0..samples.len())
        .map(|n| {
            coefs
                .iter()
                .enumerate()
                .filter(|(t, _)| *t <= n)
                .map(|(t, c)| c * samples[n - t])
                .sum()
        })
        .collect()
}

/// `filter` over `samples` (raw `width`-bit words) with raw `coef_width`-bit coefficients, as
/// the hardware's `o_y` words (`out_width` bits).
pub fn filter_words(cfg: &FirConfig, coefs: &[u64], samples: &[u64]) -> Vec<u64> {
    let c: Vec<i64> = coefs.iter().map(|&v| signed(v, cfg.coef_width)).collect();
    let x: Vec<i64> = samples.iter().map(|&v| signed(v, cfg.width)).collect();
    let mask = (1u64 << cfg.out_width()) - 1;
    filter(&c, &x)
        .into_iter()
        .map(|y| y as u64 & mask)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_by_hand() {
        // Taps [1, -2, 3] on an impulse and a step.
        assert_eq!(filter(&[1, -2, 3], &[1, 0, 0, 0]), [1, -2, 3, 0]);
        assert_eq!(filter(&[1, -2, 3], &[5, 5, 5]), [5, -5, 10]);
        assert_eq!(signed(0xfff, 12), -1);
        assert_eq!(signed(0x7ff, 12), 2047);
    }
}
