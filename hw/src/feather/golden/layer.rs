//! Whole layers, computed directly from their definitions (not from the compiler's lowering):
//! int8 GEMM and NHWC convolution, requantised.

use super::pe::diff;
use super::quant::{requant, Quant};

/// int8 GEMM `C = requant(Σ_k (A[m][k] − zp_i)(B[k][n] − zp_w))`: A is M×K, B is K×N, both
/// row-major; returns C, M×N row-major.
pub fn gemm(a: &[u8], b: &[u8], m: usize, k: usize, n: usize, q: &Quant) -> Vec<u8> {
    requant_all(&gemm_acc(a, b, m, k, n, q), q)
}

/// The 32-bit wrap-around accumulators of `gemm`, before requantisation (M×N row-major).
pub fn gemm_acc(a: &[u8], b: &[u8], m: usize, k: usize, n: usize, q: &Quant) -> Vec<u32> {
    assert_eq!(a.len(), m * k);
    assert_eq!(b.len(), k * n);
    let mut c = vec![0u32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0u32;
            for kk in 0..k {
                let p = diff(a[i * k + kk], q.zp_i, q.iact_signed)
                    * diff(b[kk * n + j], q.zp_w, q.weight_signed);
                acc = acc.wrapping_add(p as u32);
            }
            c[i * n + j] = acc;
        }
    }
    c
}

/// Every accumulator requantised.
pub fn requant_all(acc: &[u32], q: &Quant) -> Vec<u8> {
    acc.iter()
        .map(|&a| requant(a, q.scale, q.zp_o, q.out_signed))
        .collect()
}

/// A convolution's shape: batch N, C input channels, H×W input, K filters of R×S, stride,
/// zero padding (the same on every side) and dilation (filter taps `dilation` pixels apart).
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
    pub dilation: usize,
}

impl ConvShape {
    /// Output height and width, or None when the filter does not fit the padded input.
    pub fn out_hw(&self) -> Option<(usize, usize)> {
        let (hp, wp) = (self.h + 2 * self.pad, self.w + 2 * self.pad);
        if self.stride == 0 || self.dilation == 0 || self.r == 0 || self.s == 0 {
            return None;
        }
        let (re, se) = self.extent();
        if re > hp || se > wp {
            return None;
        }
        Some(((hp - re) / self.stride + 1, (wp - se) / self.stride + 1))
    }

    /// Rows and columns of input one filter spans: (R − 1)·dilation + 1, (S − 1)·dilation + 1.
    pub fn extent(&self) -> (usize, usize) {
        (
            (self.r - 1) * self.dilation + 1,
            (self.s - 1) * self.dilation + 1,
        )
    }

    /// The input row and column tap (r, s) of output pixel (p, q) reads, padding included
    /// (negative or past the edge: padding).
    pub fn tap(&self, p: usize, q: usize, r: usize, s: usize) -> (isize, isize) {
        (
            (p * self.stride + r * self.dilation) as isize - self.pad as isize,
            (q * self.stride + s * self.dilation) as isize - self.pad as isize,
        )
    }
}

/// int8 convolution, NHWC input `x[n][h][w][c]`, filters `wt[k][r][s][c]`, NHWC output
/// `y[n][p][q][k]`, requantised. Padding holds the input zero point (contributes nothing).
pub fn conv(x: &[u8], wt: &[u8], sh: &ConvShape, q: &Quant) -> Vec<u8> {
    requant_all(&conv_acc(x, wt, sh, q), q)
}

/// The 32-bit wrap-around accumulators of `conv`, before requantisation (N×P×Q×K, NHWC).
pub fn conv_acc(x: &[u8], wt: &[u8], sh: &ConvShape, q: &Quant) -> Vec<u32> {
    let (p_out, q_out) = sh.out_hw().expect("valid convolution shape");
    assert_eq!(x.len(), sh.n * sh.h * sh.w * sh.c);
    assert_eq!(wt.len(), sh.k * sh.r * sh.s * sh.c);
    let mut y = vec![0u32; sh.n * p_out * q_out * sh.k];
    for n in 0..sh.n {
        for p in 0..p_out {
            for qq in 0..q_out {
                for k in 0..sh.k {
                    let mut acc = 0u32;
                    for r in 0..sh.r {
                        for s in 0..sh.s {
                            let hi = (p * sh.stride + r * sh.dilation) as isize - sh.pad as isize;
                            let wi = (qq * sh.stride + s * sh.dilation) as isize - sh.pad as isize;
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
                    y[((n * p_out + p) * q_out + qq) * sh.k + k] = acc;
                }
            }
        }
    }
    y
}

/// int8 depthwise convolution: NHWC input `x[n][h][w][c]`, one filter per channel
/// `wt[c][r][s]`, NHWC output `y[n][p][q][c]` (channel c from input channel c alone),
/// requantised; `sh.k` is ignored (it is C).
pub fn depthwise(x: &[u8], wt: &[u8], sh: &ConvShape, q: &Quant) -> Vec<u8> {
    requant_all(&depthwise_acc(x, wt, sh, q), q)
}

/// The 32-bit wrap-around accumulators of `depthwise` (N×P×Q×C, NHWC).
pub fn depthwise_acc(x: &[u8], wt: &[u8], sh: &ConvShape, q: &Quant) -> Vec<u32> {
    let (p_out, q_out) = sh.out_hw().expect("valid convolution shape");
    assert_eq!(x.len(), sh.n * sh.h * sh.w * sh.c);
    assert_eq!(wt.len(), sh.c * sh.r * sh.s);
    let mut acc = vec![0u32; sh.n * p_out * q_out * sh.c];
    for n in 0..sh.n {
        for p in 0..p_out {
            for qq in 0..q_out {
                for c in 0..sh.c {
                    let mut a = 0u32;
                    for r in 0..sh.r {
                        for s in 0..sh.s {
                            let (hi, wi) = sh.tap(p, qq, r, s);
                            if hi < 0 || wi < 0 || hi >= sh.h as isize || wi >= sh.w as isize {
                                continue;
                            }
                            let xv = x[((n * sh.h + hi as usize) * sh.w + wi as usize) * sh.c + c];
                            let wv = wt[(c * sh.r + r) * sh.s + s];
                            let prod =
                                diff(xv, q.zp_i, q.iact_signed) * diff(wv, q.zp_w, q.weight_signed);
                            a = a.wrapping_add(prod as u32);
                        }
                    }
                    acc[((n * p_out + p) * q_out + qq) * sh.c + c] = a;
                }
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feather::golden::vn_dot;

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
