//! MX block scaling (OCP MX v1.0, spec sdq.md §3): a block of elements shares one E8M0 scale
//! 2^s with s = ⌊log2 max|x|⌋ − emax (the element format's largest exponent), clamped to
//! [−127, 127]; each element is x / 2^s quantized into the element format, saturating.

use super::formats::{Format, Overflow, Rounding};

/// The MX elements of 32-element blocks, the standard block size.
pub const BLOCK: usize = 32;

/// The largest exponent of an element format: ⌊log2 max_finite⌋ (E4M3 8, E5M2 15, E2M1 2;
/// integers: their magnitude's, INT8 6, INT4 2).
pub fn emax(f: Format) -> i32 {
    f.max_finite().log2().floor() as i32
}

/// One quantized block: the scale's exponent and each element's code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub exp: i32,
    pub codes: Vec<u32>,
}

impl Block {
    /// The E8M0 code of the scale (exponent + 127).
    pub fn scale_code(&self) -> u32 {
        (self.exp + 127) as u32
    }
}

/// Quantizes one block of `x` into `f` elements with a shared power-of-two scale (ties to
/// even).
pub fn quantize_block(f: Format, x: &[f64]) -> Block {
    quantize_block_rounded(f, x, Rounding::Even)
}

/// `quantize_block` under one of the MX rounding modes.
pub fn quantize_block_rounded(f: Format, x: &[f64], rounding: Rounding) -> Block {
    let table = f.table();
    let max = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let exp = if max == 0.0 || !max.is_finite() {
        -127
    } else {
        (max.log2().floor() as i32 - emax(f)).clamp(-127, 127)
    };
    let s = (2f64).powi(exp);
    let codes = x
        .iter()
        .map(|&v| f.encode_rounded(table, v / s, Overflow::Saturate, rounding))
        .collect();
    Block { exp, codes }
}

/// The values a block stands for.
pub fn dequantize_block(f: Format, b: &Block) -> Vec<f64> {
    let s = (2f64).powi(b.exp);
    b.codes.iter().map(|&c| f.decode(c) * s).collect()
}

/// `x` quantized in blocks of `block` consecutive elements (the last may be shorter) and
/// brought back: what the format keeps of it.
pub fn fake_quantize(f: Format, x: &[f64], block: usize) -> Vec<f64> {
    x.chunks(block.max(1))
        .flat_map(|c| dequantize_block(f, &quantize_block(f, c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_exponent_puts_the_block_maximum_in_the_top_binade() {
        // max 100 → ⌊log2 100⌋ = 6; E2M1's emax is 2 → scale 2^4; 100/16 = 6.25 → saturates to 6.
        let b = quantize_block(Format::E2M1, &[100.0, 1.0, -3.0, 0.0]);
        assert_eq!(b.exp, 4);
        assert_eq!(b.scale_code(), 131);
        assert_eq!(dequantize_block(Format::E2M1, &b), [96.0, 0.0, -0.0, 0.0]);
        let b = quantize_block(Format::E4M3, &[1.0, 0.5]);
        assert_eq!(b.exp, -8);
        assert_eq!(dequantize_block(Format::E4M3, &b), [1.0, 0.5]);
        assert_eq!(quantize_block(Format::E4M3, &[0.0; 4]).exp, -127);
        assert_eq!(
            [emax(Format::E4M3), emax(Format::E5M2), emax(Format::E2M1)],
            [8, 15, 2]
        );
    }
}
