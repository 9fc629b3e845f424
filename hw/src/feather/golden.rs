//! FEATHER golden models: what the blocks compute, with no notion of cycles.
//!
//! The BIRRD model is written independently of the generator's wiring function (`birrd::dest`):
//! the bit-reversal network follows the public RTL's formula stage by stage, and the Beneš
//! network is evaluated in address space (stage s pairs the addresses that differ in bit b_s).
//! Sums wrap at the data width, as the hardware's adders do.

use super::birrd::{BirrdConfig, BirrdError, Config, Mode, Topology};

fn switch(mode: Mode, a: u64, b: u64, mask: u64) -> (u64, u64) {
    let sum = a.wrapping_add(b) & mask;
    match mode {
        Mode::Pass => (a, b),
        Mode::Swap => (b, a),
        Mode::AddEven => (sum, b),
        Mode::AddOdd => (a, sum),
    }
}

/// Outputs of the network for `inputs` under `config` (checked for shape and range).
pub fn birrd(cfg: &BirrdConfig, config: &Config, inputs: &[u64]) -> Result<Vec<u64>, BirrdError> {
    cfg.validate()?;
    cfg.check_config(config)?;
    cfg.check_inputs(inputs)?;
    let n = cfg.ports as usize;
    let l = cfg.log2();
    let mask = if cfg.width == 64 {
        u64::MAX
    } else {
        (1u64 << cfg.width) - 1
    };
    let mut cur = inputs.to_vec();
    let s_count = config.len();
    match cfg.topology {
        Topology::Bitrev => {
            let rev = |x: usize, k: u32| {
                let lo = x & ((1 << k) - 1);
                let mut r = 0;
                for bit in 0..k {
                    r |= ((lo >> bit) & 1) << (k - 1 - bit);
                }
                (x & !((1 << k) - 1)) | r
            };
            for (s, row) in config.iter().enumerate() {
                let mut next = vec![0; n];
                for (j, mode) in row.iter().enumerate() {
                    let (e, o) = switch(*mode, cur[2 * j], cur[2 * j + 1], mask);
                    if s + 1 < s_count {
                        let k = (2 + s as u32).min(l).min(2 * l - s as u32);
                        next[rev(2 * j, k)] = e;
                        next[rev(2 * j + 1, k)] = o;
                    } else {
                        next[2 * j] = e;
                        next[2 * j + 1] = o;
                    }
                }
                cur = next;
            }
        }
        Topology::Benes => {
            // `cur` is indexed by address throughout; switch j of stage s joins addresses
            // (j with a 0 inserted at bit b) and (the same with a 1 there).
            for (s, row) in config.iter().enumerate() {
                let s = s as u32;
                let b = if s < l { s } else { 2 * l - 2 - s };
                for (j, mode) in row.iter().enumerate() {
                    let high = (j >> b) << (b + 1);
                    let a0 = high | (j & ((1 << b) - 1));
                    let a1 = a0 | (1 << b);
                    let (e, o) = switch(*mode, cur[a0], cur[a1], mask);
                    cur[a0] = e;
                    cur[a1] = o;
                }
            }
        }
    }
    Ok(cur)
}

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

/// int8 GEMM `C = requant(Σ_k (A[m][k] − zp_i)(B[k][n] − zp_w))`: A is M×K, B is K×N, both
/// row-major; returns C, M×N row-major.
pub fn gemm(a: &[u8], b: &[u8], m: usize, k: usize, n: usize, q: &Quant) -> Vec<u8> {
    assert_eq!(a.len(), m * k);
    assert_eq!(b.len(), k * n);
    let mut c = vec![0u8; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0u32;
            for kk in 0..k {
                let p = diff(a[i * k + kk], q.zp_i, q.iact_signed)
                    * diff(b[kk * n + j], q.zp_w, q.weight_signed);
                acc = acc.wrapping_add(p as u32);
            }
            c[i * n + j] = requant(acc, q.scale, q.zp_o, q.out_signed);
        }
    }
    c
}

/// A convolution's shape: batch N, C input channels, H×W input, K filters of R×S, stride and
/// zero padding (the same on every side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub r: usize,
    pub s: usize,
    pub stride: usize,
    pub pad: usize,
}

impl ConvShape {
    /// Output height and width, or None when the filter does not fit the padded input.
    pub fn out_hw(&self) -> Option<(usize, usize)> {
        let (hp, wp) = (self.h + 2 * self.pad, self.w + 2 * self.pad);
        if self.stride == 0 || self.r == 0 || self.s == 0 || self.r > hp || self.s > wp {
            return None;
        }
        Some((
            (hp - self.r) / self.stride + 1,
            (wp - self.s) / self.stride + 1,
        ))
    }
}

/// int8 convolution, NHWC input `x[n][h][w][c]`, filters `wt[k][r][s][c]`, NHWC output
/// `y[n][p][q][k]`, requantised. Padding holds the input zero point (contributes nothing).
pub fn conv(x: &[u8], wt: &[u8], sh: &ConvShape, q: &Quant) -> Vec<u8> {
    let (p_out, q_out) = sh.out_hw().expect("valid convolution shape");
    assert_eq!(x.len(), sh.n * sh.h * sh.w * sh.c);
    assert_eq!(wt.len(), sh.k * sh.r * sh.s * sh.c);
    let mut y = vec![0u8; sh.n * p_out * q_out * sh.k];
    for n in 0..sh.n {
        for p in 0..p_out {
            for qq in 0..q_out {
                for k in 0..sh.k {
                    let mut acc = 0u32;
                    for r in 0..sh.r {
                        for s in 0..sh.s {
                            let hi = (p * sh.stride + r) as isize - sh.pad as isize;
                            let wi = (qq * sh.stride + s) as isize - sh.pad as isize;
                            if hi < 0 || wi < 0 || hi >= sh.h as isize || wi >= sh.w as isize {
                                continue;
                            }
                            for c in 0..sh.c {
                                let xv =
                                    x[((n * sh.h + hi as usize) * sh.w + wi as usize) * sh.c + c];
                                let wv = wt[((k * sh.r + r) * sh.s + s) * sh.c + c];
                                let prod = diff(xv, q.zp_i, q.iact_signed)
                                    * diff(wv, q.zp_w, q.weight_signed);
                                acc = acc.wrapping_add(prod as u32);
                            }
                        }
                    }
                    y[((n * p_out + p) * q_out + qq) * sh.k + k] =
                        requant(acc, q.scale, q.zp_o, q.out_signed);
                }
            }
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feather::birrd::MODES;

    fn cfg(ports: u32, topology: Topology) -> BirrdConfig {
        BirrdConfig {
            ports,
            width: 32,
            topology,
        }
    }

    #[test]
    fn all_pass_is_a_fixed_permutation_and_preserves_values() {
        for topo in [Topology::Bitrev, Topology::Benes] {
            for n in [4u32, 8, 16, 64] {
                let c = cfg(n, topo);
                let config = vec![vec![Mode::Pass; n as usize / 2]; c.stages() as usize];
                let inputs: Vec<u64> = (0..n as u64).map(|i| i * 7 + 1).collect();
                let mut out = birrd(&c, &config, &inputs).unwrap();
                out.sort();
                assert_eq!(out, inputs, "{topo} {n}");
            }
        }
    }

    #[test]
    fn benes_all_pass_is_identity() {
        let c = cfg(16, Topology::Benes);
        let config = vec![vec![Mode::Pass; 8]; 7];
        let inputs: Vec<u64> = (100..116).collect();
        assert_eq!(birrd(&c, &config, &inputs).unwrap(), inputs);
    }

    /// N=4 bit-reversal by hand: stage wiring [0,2,1,3] between stages. With every switch of the
    /// first stage adding into its even output and the rest passing, out0 = in0+in1 and
    /// out1 = in2+in3 (wire 1 of stage 1 is stage 0's position 2).
    #[test]
    fn n4_hand_worked_reduction() {
        let c = BirrdConfig {
            ports: 4,
            width: 8,
            topology: Topology::Bitrev,
        };
        let config = vec![
            vec![Mode::AddEven, Mode::AddEven],
            vec![Mode::Pass, Mode::Pass],
            vec![Mode::Pass, Mode::Pass],
        ];
        // stage0: [1+2, 2, 3+4, 4] -> wiring [0,2,1,3] -> [3, 7, 2, 4] -> stage1 pass -> wiring -> [3, 2, 7, 4]
        let out = birrd(&c, &config, &[1, 2, 3, 4]).unwrap();
        assert_eq!(out, vec![3, 2, 7, 4]);
        // Wrap-around at the data width.
        let out = birrd(&c, &config, &[200, 100, 0, 0]).unwrap();
        assert_eq!(out[0], (300 % 256) as u64);
    }

    #[test]
    fn full_reduction_reaches_port_zero_on_benes() {
        // Adding into even outputs at every butterfly stage gathers the total at address 0.
        let c = cfg(8, Topology::Benes);
        let mut config = vec![vec![Mode::Pass; 4]; 5];
        for row in config.iter_mut().take(3) {
            row.iter_mut().for_each(|m| *m = Mode::AddEven);
        }
        let out = birrd(&c, &config, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        assert_eq!(out[0], 36);
        assert!(MODES.len() == 4);
    }

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

    #[test]
    fn gemm_by_hand() {
        // A = [[1, 2]], B = [[3], [4]] with zero points 1 and 2: (0)(1) + (1)(2) = 2.
        let q = Quant {
            zp_i: 1,
            zp_w: 2,
            scale: 1 << 24,
            zp_o: 0,
            iact_signed: false,
            weight_signed: false,
            out_signed: false,
        };
        assert_eq!(gemm(&[1, 2], &[3, 4], 1, 2, 1, &q), vec![2]);
        assert_eq!(vn_dot(&[0], &[0xff], (1, 0), (false, true)), 1);
    }
}
