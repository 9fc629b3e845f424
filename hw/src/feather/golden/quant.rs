//! The quantizer: requantising a 32-bit accumulator to an 8-bit activation.

/// Fractional bits of the quantizer's 32-bit fixed-point scale (the ZCU104 flow uses 24;
/// spec feather.md §2.6).
pub const SCALE_FRAC_BITS: u32 = 24;

/// Requantisation of a 32-bit accumulator to an 8-bit activation:
/// `clamp(round(acc · scale / 2^24) + zp_o)`, rounding half up (add 2^23, shift arithmetically),
/// clamped to uint8 or int8. `scale` is signed 8.24 fixed point.
pub fn requant(acc: u32, scale: u32, zp_o: u8, out_signed: bool) -> u8 {
    let p = acc as i32 as i64 * scale as i32 as i64;
    let y = ((p + (1i64 << (SCALE_FRAC_BITS - 1))) >> SCALE_FRAC_BITS)
        + if out_signed {
            zp_o as i8 as i64
        } else {
            zp_o as i64
        };
    if out_signed {
        y.clamp(-128, 127) as i8 as u8
    } else {
        y.clamp(0, 255) as u8
    }
}

/// Quantisation parameters of one layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quant {
    pub zp_i: u8,
    pub zp_w: u8,
    pub scale: u32,
    pub zp_o: u8,
    pub iact_signed: bool,
    pub weight_signed: bool,
    pub out_signed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requant_rounds_half_up_and_clamps() {
        let half = 1u32 << 23;
        assert_eq!(requant(100, half, 10, false), 60);
        // −1.5 rounds to −1: 0 as uint8 (clamped), 0xff as int8.
        assert_eq!(requant(-3i32 as u32, half, 0, false), 0);
        assert_eq!(requant(-3i32 as u32, half, 0, true), 0xff);
        assert_eq!(requant(1000, 1 << 24, 0, false), 255);
        assert_eq!(requant(1000, 1 << 24, 0, true), 127);
        // Output zero point as int8: −128 + 5.
        assert_eq!(requant(5, 1 << 24, 0x80, true) as i8, -123);
    }
}
