//! FIR: the example family — a parametric direct-form FIR filter, small enough to read in one
//! sitting, that shows what a family writes to get every lifecycle verb (see the README's
//! "Adding a block family"). Its golden model is `golden.rs`.
//!
//! ```text
//!  i_x[W] ──► window: i_x, x_d0 … x_d(T−2) (shift on i_valid) ──► T products p_t (registered)
//!  i_valid                                                        ──► adder tree ─► y_q ─► o_y[Y]
//!  i_coef[T·C] (tap t at [t·C +: C])                               valid, 2 registers ─► o_valid
//! ```
//! `y[n] = Σ_t c_t · x[n−t]` over the valid samples, samples and coefficients signed (two's
//! complement), full precision: Y = W + C + ⌈log2 T⌉ bits, so nothing wraps. Latency
//! `FIR_LATENCY` = 2 cycles (products, sum), one sample per cycle; idle cycles (`i_valid` low)
//! leave the window alone and raise no `o_valid`. Ports are plain bit vectors; the signed
//! reading happens inside.

pub mod golden;

use crate::rtl::{Bits, DrcErrors, Module, ModuleBuilder};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// Cycles from a sample entering to its output.
pub const FIR_LATENCY: u64 = 2;
/// Taps accepted.
pub const MAX_TAPS: u32 = 64;
/// Sample and coefficient widths accepted (a signed 27 × 18 product fits one DSP48E2; the
/// golden model computes in 64-bit integers).
pub const MAX_SAMPLE_BITS: u32 = 27;
pub const MAX_COEF_BITS: u32 = 18;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FirConfig {
    /// Taps T.
    pub taps: u32,
    /// Sample width W (signed).
    pub width: u32,
    /// Coefficient width C (signed).
    pub coef_width: u32,
}

impl Default for FirConfig {
    fn default() -> Self {
        FirConfig {
            taps: 8,
            width: 16,
            coef_width: 16,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FirError {
    #[error("taps must be from 1 to {MAX_TAPS}, got {0}")]
    Taps(u32),
    #[error("sample width must be from 2 to {MAX_SAMPLE_BITS} bits, got {0}")]
    Width(u32),
    #[error("coefficient width must be from 2 to {MAX_COEF_BITS} bits, got {0}")]
    CoefWidth(u32),
    #[error("internal: {0}")]
    Drc(#[from] DrcErrors),
}

impl FirConfig {
    pub fn validate(&self) -> Result<(), FirError> {
        if !(1..=MAX_TAPS).contains(&self.taps) {
            return Err(FirError::Taps(self.taps));
        }
        if !(2..=MAX_SAMPLE_BITS).contains(&self.width) {
            return Err(FirError::Width(self.width));
        }
        if !(2..=MAX_COEF_BITS).contains(&self.coef_width) {
            return Err(FirError::CoefWidth(self.coef_width));
        }
        Ok(())
    }

    /// Output width: the exact sum of T products.
    pub fn out_width(&self) -> u32 {
        self.width + self.coef_width + (32 - (self.taps - 1).leading_zeros())
    }

    /// Width of `i_coef`.
    pub fn coef_bits(&self) -> u32 {
        self.taps * self.coef_width
    }

    pub fn module_name(&self) -> String {
        format!("fir_t{}_w{}_c{}", self.taps, self.width, self.coef_width)
    }
}

/// Generates the filter.
pub fn generate(cfg: &FirConfig) -> Result<Rc<Module>, FirError> {
    cfg.validate()?;
    let (t, w, c, yw) = (cfg.taps, cfg.width, cfg.coef_width, cfg.out_width());
    let mut b = ModuleBuilder::new(cfg.module_name());
    let x = b.input("i_x", w);
    let valid = b.input("i_valid", 1);
    let coef = b.input("i_coef", cfg.coef_bits());
    // The window: the new sample and the T−1 before it.
    let mut window = vec![x];
    for k in 0..t - 1 {
        let d = b.reg(&format!("x_d{k}"), Bits::zero(w));
        b.next(d, window[k as usize], Some(valid));
        window.push(d);
    }
    let mut products = Vec::new();
    for (k, s) in window.iter().enumerate() {
        let k = k as u32;
        let ck = b.slice(coef, k * c + c - 1, k * c);
        let ck = b.as_signed(ck);
        let xs = b.as_signed(*s);
        let p = b.mul(xs, ck);
        let p = b.delay(&format!("p{k}_q"), p);
        products.push(b.extend(p, yw));
    }
    let sum = crate::blocks::fixed::sum(&mut b, &products, yw);
    let y = b.delay("y_q", sum);
    let y = b.as_unsigned(y);
    let v = crate::blocks::delay::delay_line(&mut b, "valid_q", valid, FIR_LATENCY);
    b.output("o_y", y);
    b.output("o_valid", v);
    Ok(b.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_say_what_is_allowed() {
        let bad = |f: fn(&mut FirConfig)| {
            let mut c = FirConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert_eq!(bad(|c| c.taps = 0), "taps must be from 1 to 64, got 0");
        assert_eq!(
            bad(|c| c.width = 40),
            "sample width must be from 2 to 27 bits, got 40"
        );
        assert_eq!(
            bad(|c| c.coef_width = 1),
            "coefficient width must be from 2 to 18 bits, got 1"
        );
    }

    #[test]
    fn the_output_holds_the_largest_sum_exactly() {
        // 8 taps of 16 × 16 bits: 8 · 2^30 = 2^33 needs 34 signed bits; 16 + 16 + 3 = 35.
        assert_eq!(FirConfig::default().out_width(), 35);
        let one = FirConfig {
            taps: 1,
            ..Default::default()
        };
        assert_eq!(one.out_width(), 32);
    }
}
