//! The CORDIC that turns a path's gain mantissa m and carrier phase φ into its complex gain
//! g = K·m·e^{−jφ} (Q2.16), one per clock, fully pipelined: a quadrant register (the rotation
//! by the multiple of 90° is exact), one register per iteration, a rounding register. The
//! golden model's `golden::fixed::cordic` is the same arithmetic written in integers.

use super::{RfConfig, CORDIC_GUARD, G_BITS, VG_FRAC};
use crate::blocks::fixed::{round_shift, saturate};
use crate::rtl::{Bits, DrcErrors, Module, ModuleBuilder, Sig};
use std::rc::Rc;

/// Bits of the CORDIC's x and y: the mantissa with its guard bits, the gain K < 2 and a sign,
/// with one bit to spare for mantissas the planner never loads (any `gain_bits` value is safe).
pub fn xy_bits(gain_bits: u32) -> u32 {
    gain_bits + CORDIC_GUARD + 3
}

/// Cycles from (m, φ) to g: the quadrant register, one per iteration, the rounding register.
pub fn latency(cfg: &RfConfig) -> u32 {
    cfg.cordic_stages() + 2
}

pub fn module_name(cfg: &RfConfig) -> String {
    format!("rf_cordic_g{}", cfg.gain_bits)
}

/// `a + d` or, when `sub`, `a − d`, as one carry chain: {a, 1} + {d ⊕ sub, sub} ≫ 1 (the
/// low bit turns `sub` into the carry in).
fn add_sub(b: &mut ModuleBuilder, a: Sig, d: Sig, sub: Sig) -> Sig {
    let w = a.width;
    let (zeros, ones) = (b.zero(w), b.constant(Bits::from_i64(w, -1)));
    let mask = b.select(sub, &[zeros, ones]);
    let du = b.as_unsigned(d);
    let flip = b.xor(du, mask);
    let one = b.lit(1, 1);
    let aa = b.cat(&[a, one]);
    let dd = b.cat(&[flip, sub]);
    let s = b.add(aa, dd);
    let r = b.slice(s, w, 1);
    b.as_signed(r)
}

/// `i_m` (gain_bits, unsigned), `i_phi` (turns × 2^32) → `o_gr`, `o_gi` (G_BITS, signed),
/// `latency` cycles later.
pub fn generate(cfg: &RfConfig) -> Result<Rc<Module>, DrcErrors> {
    let g = cfg.gain_bits;
    let w = xy_bits(g);
    let mut b = ModuleBuilder::new(module_name(cfg));
    let m = b.input("i_m", g);
    let phi = b.input("i_phi", 32);
    // θ = −φ; quadrant = round(θ / 90°) mod 4; z = θ − quadrant·90° ∈ [−45°, 45°).
    let zero32 = b.zero(32);
    let theta = b.sub(zero32, phi);
    let eighth = b.lit(32, 1 << 29);
    let shifted = b.add(theta, eighth);
    let quadrant = b.slice(shifted, 31, 30);
    let zq = b.zero(30);
    let turn = b.cat(&[quadrant, zq]);
    let z0 = b.sub(theta, turn);
    let z0 = b.as_signed(z0);
    let mext = b.extend(m, w);
    let guard = b.zero(CORDIC_GUARD);
    let mm = b.cat(&[mext, guard]);
    let mm = b.slice(mm, w - 1, 0);
    let mm = b.as_signed(mm);
    let zero = b.zero(w);
    let zero = b.as_signed(zero);
    let neg = b.sub(zero, mm);
    let x0 = b.case(quadrant, &[(0, mm), (2, neg)], zero);
    let y0 = b.case(quadrant, &[(1, mm), (3, neg)], zero);
    let (mut x, mut y, mut z) = (
        b.delay("x_q0", x0),
        b.delay("y_q0", y0),
        b.delay("z_q0", z0),
    );
    for (i, a) in super::tables::cordic_atans(cfg.cordic_stages())
        .into_iter()
        .enumerate()
    {
        let i = i as u32;
        let shr = |b: &mut ModuleBuilder, v: Sig| -> Sig {
            if i == 0 {
                v
            } else if i >= w {
                let s = b.bit(v, w - 1);
                let ones = b.constant(Bits::from_i64(w, -1));
                let zeros = b.zero(w);
                let r = b.mux(s, ones, zeros);
                b.as_signed(r)
            } else {
                let t = b.slice(v, w - 1, i);
                let t = b.as_signed(t);
                b.extend(t, w)
            }
        };
        let (dx, dy) = (shr(&mut b, y), shr(&mut b, x));
        let up = b.bit(z, 31); // z < 0: rotate the other way
        let down = b.not(up);
        // z ≥ 0: x − dx, y + dy, z − atan; z < 0: x + dx, y − dy, z + atan.
        let xn = add_sub(&mut b, x, dx, down);
        let yn = add_sub(&mut b, y, dy, up);
        let plus = b.lit_signed(32, a as i64);
        let minus = b.lit_signed(32, -(a as i64));
        let step = b.mux(up, plus, minus);
        let zn = b.add(z, step);
        x = b.delay(&format!("x_q{}", i + 1), xn);
        y = b.delay(&format!("y_q{}", i + 1), yn);
        z = b.delay(&format!("z_q{}", i + 1), zn);
    }
    let s = (g - 1 + CORDIC_GUARD) as i32 - VG_FRAC as i32;
    let gr = round_shift(&mut b, x, s);
    let gr = saturate(&mut b, gr, G_BITS);
    let gi = round_shift(&mut b, y, s);
    let gi = saturate(&mut b, gi, G_BITS);
    let gr = b.delay("gr_q", gr);
    let gi = b.delay("gi_q", gi);
    b.output("o_gr", gr);
    b.output("o_gi", gi);
    b.finish()
}
