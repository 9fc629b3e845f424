//! Depthwise convolutions as patch GEMMs: several output pixels of one channel per stream.
//!
//! A NEST column multicasts one stream to all its rows, and the rows differ only in their
//! stationary weights. Lowered the usual way (one output pixel's R×S window per row vector,
//! one filter), a depthwise channel keeps one row of each column busy. Here a block of
//! `bh × bw` neighbouring output pixels becomes one row vector instead: the *patch* of input
//! the block's windows cover (`ph × pw` pixels, halo included), and every output pixel of the
//! block is a column of the weight matrix — the channel's R×S filter placed at that pixel's
//! offset inside the patch, every other entry the weight zero point (a product of zero). So
//! the array runs the GEMM
//!
//! ```text
//!   M = N · ⌈P/bh⌉ · ⌈Q/bw⌉ blocks,  K = ph · pw,  N = bh · bw,
//!   ph = (bh − 1)·stride + (R − 1)·dilation + 1   (pw likewise)
//! ```
//!
//! and `bh · bw` rows of every column do useful work. The price is the halo (a patch's pixels
//! per output, K/N, against R·S/stride² for an ideal reuse) and zero weights; the timing model
//! chooses the block per layer, and `DwBlock::ONE` (1 × 1) is exactly the usual lowering.
//! Blocks past the output's edge compute pixels nobody reads (`scatter` drops them).
//!
//! **Channels side by side.** Each channel is its own GEMM of that shape, and the columns of
//! the array can serve different ones (`Schedule::groups`): `cg` channels run together as one
//! grouped GEMM whose row `m = block · cg + channel` — the channels interleaved, so with Pm a
//! multiple of `cg` every column streams one channel's patches against that channel's
//! filters. One run then pays one pipeline fill and one weight load for `cg` channels.

use super::mapper::{plan_grouped, Dataflow, Gemm, Layout, Plan};
use crate::feather::golden::layer::ConvShape;
use crate::feather::top::FeatherConfig;

/// A block of output pixels computed from one patch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DwBlock {
    pub bh: usize,
    pub bw: usize,
}

impl DwBlock {
    /// One pixel per patch: the usual im2col lowering.
    pub const ONE: DwBlock = DwBlock { bh: 1, bw: 1 };

    /// Output pixels per patch (= the GEMM's N).
    pub fn pixels(&self) -> usize {
        self.bh * self.bw
    }

    /// The patch (rows, columns of input) a block of `sh`'s outputs covers.
    pub fn patch(&self, sh: &ConvShape) -> (usize, usize) {
        let (re, se) = sh.extent();
        (
            (self.bh - 1) * sh.stride + re,
            (self.bw - 1) * sh.stride + se,
        )
    }

    /// Blocks down and across the output.
    pub fn grid(&self, sh: &ConvShape) -> (usize, usize) {
        let (p, q) = sh.out_hw().expect("valid convolution shape");
        (p.div_ceil(self.bh), q.div_ceil(self.bw))
    }

    /// `bh×bw`.
    pub fn name(&self) -> String {
        format!("{}x{}", self.bh, self.bw)
    }

    /// Every block of at most `max_pixels` pixels (any sides: a patch whose pixel count is
    /// just under a whole number of VNs wastes least).
    pub fn candidates(max_pixels: usize) -> Vec<DwBlock> {
        (1..=max_pixels)
            .flat_map(|bh| (1..=max_pixels / bh).map(move |bw| DwBlock { bh, bw }))
            .collect()
    }
}

impl std::str::FromStr for DwBlock {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("bad depthwise block {s:?} (expected HxW, e.g. 4x4)");
        let (h, w) = s.split_once('x').ok_or_else(bad)?;
        let (bh, bw) = (
            h.parse::<usize>().map_err(|_| bad())?,
            w.parse::<usize>().map_err(|_| bad())?,
        );
        if bh == 0 || bw == 0 {
            return Err(bad());
        }
        Ok(DwBlock { bh, bw })
    }
}

/// The grouped GEMM of `sh.c` channels of a depthwise layer run side by side in blocks
/// (`sh.k` is ignored: one filter per channel); `Schedule::groups` = `sh.c`.
pub fn dw_gemm(sh: &ConvShape, blk: DwBlock) -> Option<Gemm> {
    sh.out_hw()?;
    let (gh, gw) = blk.grid(sh);
    let (ph, pw) = blk.patch(sh);
    Some(Gemm {
        m: sh.n * gh * gw * sh.c,
        k: ph * pw,
        n: blk.pixels(),
    })
}

/// The block of at most AH pixels with the fewest cycles by the timing model for the `sh.c`
/// channels of `sh` side by side in `dataflow` and `layout` (ties: the smaller bh, then bw),
/// with its GEMM and plan; None when the layout has no column groups for them.
pub fn fastest_block(
    cfg: &FeatherConfig,
    sh: &ConvShape,
    dataflow: Dataflow,
    layout: Layout,
) -> Option<(DwBlock, Gemm, Plan)> {
    DwBlock::candidates(cfg.ah as usize)
        .into_iter()
        .filter_map(|b| {
            let g = dw_gemm(sh, b)?;
            Some((b, g, plan_grouped(cfg, g, dataflow, layout, sh.c)?))
        })
        .min_by_key(|(b, _, p)| (p.cycles, b.bh, b.bw))
}

/// The streamed matrix A (M × K) from the NHWC input `x[n][h][w][c]`: row
/// `((n·gh + bi)·gw + bj)·C + c` is channel c's patch of block (bi, bj), row by row; pixels
/// outside the input (padding, blocks past the edge) are the input zero point.
pub fn patches(x: &[u8], sh: &ConvShape, blk: DwBlock, zp_i: u8) -> Vec<u8> {
    assert_eq!(x.len(), sh.n * sh.h * sh.w * sh.c);
    let (gh, gw) = blk.grid(sh);
    let (ph, pw) = blk.patch(sh);
    let kk = ph * pw;
    let cc = sh.c;
    let mut a = vec![zp_i; sh.n * gh * gw * cc * kk];
    for n in 0..sh.n {
        for bi in 0..gh {
            for bj in 0..gw {
                let m0 = ((n * gh + bi) * gw + bj) * cc;
                let y0 = (bi * blk.bh * sh.stride) as isize - sh.pad as isize;
                let x0 = (bj * blk.bw * sh.stride) as isize - sh.pad as isize;
                for u in 0..ph {
                    for v in 0..pw {
                        let (y, xx) = (y0 + u as isize, x0 + v as isize);
                        if y >= 0 && xx >= 0 && (y as usize) < sh.h && (xx as usize) < sh.w {
                            let px = ((n * sh.h + y as usize) * sh.w + xx as usize) * cc;
                            for c in 0..cc {
                                a[(m0 + c) * kk + u * pw + v] = x[px + c];
                            }
                        }
                    }
                }
            }
        }
    }
    a
}

/// The stationary operand: one K × N matrix per channel (stacked, channel-major), from the
/// filters `wt[c][r][s]`. Column `dy·bw + dx` of channel c's matrix holds its filter at patch
/// row `dy·stride + r·dilation`, column `dx·stride + s·dilation`; every other entry is the
/// weight zero point.
pub fn shifted_filters(wt: &[u8], sh: &ConvShape, blk: DwBlock, zp_w: u8) -> Vec<u8> {
    assert_eq!(wt.len(), sh.c * sh.r * sh.s);
    let (ph, pw) = blk.patch(sh);
    let (kk, nn) = (ph * pw, blk.pixels());
    let mut b = vec![zp_w; sh.c * kk * nn];
    for c in 0..sh.c {
        for dy in 0..blk.bh {
            for dx in 0..blk.bw {
                for r in 0..sh.r {
                    for s in 0..sh.s {
                        let u = dy * sh.stride + r * sh.dilation;
                        let v = dx * sh.stride + s * sh.dilation;
                        b[(c * kk + u * pw + v) * nn + dy * blk.bw + dx] =
                            wt[(c * sh.r + r) * sh.s + s];
                    }
                }
            }
        }
    }
    b
}

/// The NHWC output `y[n][p][q][c]` from the grouped GEMM's M × N result (pixels past the
/// edge dropped).
pub fn scatter(out: &[u8], sh: &ConvShape, blk: DwBlock) -> Vec<u8> {
    let (p_out, q_out) = sh.out_hw().expect("valid convolution shape");
    let (gh, gw) = blk.grid(sh);
    let (nn, cc) = (blk.pixels(), sh.c);
    assert_eq!(out.len(), sh.n * gh * gw * cc * nn);
    let mut y = vec![0u8; sh.n * p_out * q_out * cc];
    for n in 0..sh.n {
        for p in 0..p_out {
            for q in 0..q_out {
                let m0 = ((n * gh + p / blk.bh) * gw + q / blk.bw) * cc;
                let j = (p % blk.bh) * blk.bw + q % blk.bw;
                for c in 0..cc {
                    y[((n * p_out + p) * q_out + q) * cc + c] = out[(m0 + c) * nn + j];
                }
            }
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feather::golden::layer::{conv, depthwise, gemm};
    use crate::feather::golden::quant::Quant;

    #[allow(clippy::too_many_arguments)]
    fn shape(
        c: usize,
        h: usize,
        w: usize,
        r: usize,
        stride: usize,
        pad: usize,
        dil: usize,
    ) -> ConvShape {
        ConvShape {
            n: 2,
            c,
            h,
            w,
            k: c,
            r,
            s: r,
            stride,
            pad,
            dilation: dil,
        }
    }

    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect()
    }

    const Q: Quant = Quant {
        zp_i: 3,
        zp_w: 0xfe,
        scale: 1 << 20,
        zp_o: 7,
        iact_signed: false,
        weight_signed: true,
        out_signed: true,
    };

    /// The grouped GEMM evaluated group by group: rows m ≡ g (mod groups) against the g-th
    /// stacked B.
    fn grouped_gemm(a: &[u8], b: &[u8], g: Gemm, groups: usize) -> Vec<u8> {
        let mut out = vec![0u8; g.m * g.n];
        for grp in 0..groups {
            let rows: Vec<usize> = (grp..g.m).step_by(groups).collect();
            let ag: Vec<u8> = rows
                .iter()
                .flat_map(|&m| a[m * g.k..(m + 1) * g.k].iter().copied())
                .collect();
            let bg = &b[grp * g.k * g.n..(grp + 1) * g.k * g.n];
            let cg = gemm(&ag, bg, rows.len(), g.k, g.n, &Q);
            for (i, &m) in rows.iter().enumerate() {
                out[m * g.n..(m + 1) * g.n].copy_from_slice(&cg[i * g.n..(i + 1) * g.n]);
            }
        }
        out
    }

    #[test]
    fn a_patch_gemm_computes_the_direct_depthwise_convolution() {
        let mut seed = 1;
        for (c, h, w) in [(1, 7, 5), (3, 9, 13)] {
            for r in [1, 3, 5] {
                for stride in [1, 2] {
                    for pad in [0, 1, 3] {
                        for dil in [1, 2] {
                            let sh = shape(c, h, w, r, stride, pad, dil);
                            if sh.out_hw().is_none() {
                                continue;
                            }
                            seed += 1;
                            let x = bytes(sh.n * h * w * c, seed);
                            let wt = bytes(c * r * r, seed + 1000);
                            let want = depthwise(&x, &wt, &sh, &Q);
                            for blk in DwBlock::candidates(16) {
                                let g = dw_gemm(&sh, blk).unwrap();
                                let a = patches(&x, &sh, blk, Q.zp_i);
                                let b = shifted_filters(&wt, &sh, blk, Q.zp_w);
                                let out = grouped_gemm(&a, &b, g, c);
                                assert_eq!(
                                    scatter(&out, &sh, blk),
                                    want,
                                    "{sh:?} in blocks of {}",
                                    blk.name()
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_golden_depthwise_convolution_is_one_dense_convolution_per_channel() {
        let sh = shape(3, 6, 7, 3, 2, 1, 1);
        let x = bytes(sh.n * 6 * 7 * 3, 8);
        let wt = bytes(3 * 9, 9);
        let got = depthwise(&x, &wt, &sh, &Q);
        let one = ConvShape { c: 1, k: 1, ..sh };
        for c in 0..3 {
            let xc: Vec<u8> = x.iter().skip(c).step_by(3).copied().collect();
            let y = conv(&xc, &wt[c * 9..(c + 1) * 9], &one, &Q);
            let gc: Vec<u8> = got.iter().skip(c).step_by(3).copied().collect();
            assert_eq!(gc, y, "channel {c}");
        }
    }

    #[test]
    fn the_one_pixel_block_of_one_channel_is_the_usual_lowering() {
        let sh = shape(1, 9, 7, 3, 2, 1, 1);
        let g = dw_gemm(&sh, DwBlock::ONE).unwrap();
        assert_eq!(g, super::super::mapper::conv_gemm(&sh).unwrap());
        let x = bytes(sh.n * 9 * 7, 5);
        assert_eq!(
            patches(&x, &sh, DwBlock::ONE, 9),
            super::super::mapper::im2col(&x, &sh, 9)
        );
    }

    #[test]
    fn a_block_names_its_patch_and_grid() {
        let sh = shape(16, 112, 112, 3, 1, 1, 1);
        let blk = DwBlock { bh: 4, bw: 4 };
        assert_eq!(blk.patch(&sh), (6, 6));
        assert_eq!(blk.grid(&sh), (28, 28));
        assert_eq!(
            dw_gemm(&sh, blk),
            Some(Gemm {
                m: 2 * 28 * 28 * 16,
                k: 36,
                n: 16
            })
        );
        let s2 = shape(1, 112, 112, 3, 2, 1, 1);
        assert_eq!(blk.patch(&s2), (9, 9));
        // 1x1..1x4, 2x1, 2x2, 3x1, 4x1.
        assert_eq!(DwBlock::candidates(4).len(), 8);
    }

    #[test]
    fn a_bad_block_name_is_refused() {
        assert_eq!("4x2".parse::<DwBlock>(), Ok(DwBlock { bh: 4, bw: 2 }));
        for bad in ["4", "0x2", "ax2", "4x"] {
            let e = bad.parse::<DwBlock>().unwrap_err();
            assert!(e.contains("expected HxW"), "{e}");
        }
    }
}
