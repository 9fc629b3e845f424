//! The PE's arithmetic: operand differences and the virtual-neuron dot product in the PE's
//! 32-bit wrap-around accumulator.

/// An 8-bit operand minus its zero point, as the PE's 9-bit difference: both read as int8 when
/// `signed`, else as uint8.
pub fn diff(x: u8, zp: u8, signed: bool) -> i32 {
    if signed {
        x as i8 as i32 - zp as i8 as i32
    } else {
        x as i32 - zp as i32
    }
}

/// One virtual neuron: Σ (iact − zp_i)·(w − zp_w) over the pairs, in a 32-bit wrap-around
/// accumulator (the PE's sum, and the value BIRRD receives).
pub fn vn_dot(iacts: &[u8], weights: &[u8], zp: (u8, u8), signed: (bool, bool)) -> u32 {
    assert_eq!(
        iacts.len(),
        weights.len(),
        "a VN pairs each iAct with a weight"
    );
    iacts.iter().zip(weights).fold(0u32, |acc, (&a, &w)| {
        let p = diff(a, zp.0, signed.0) * diff(w, zp.1, signed.1);
        acc.wrapping_add(p as u32)
    })
}
