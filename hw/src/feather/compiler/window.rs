//! Compact activations: a convolution streamed straight out of its NHWC input, the windows
//! walked by the sequencer, no im2col copy anywhere.
//!
//! # Layout and mapping
//! The input sits in the streaming buffer in the channel-last layout `HWC_C<AW>` — the layout
//! a previous layer writes with `Out::Layout(HWC_C<AW>)`: channel c of pixel (n, h, w) is in
//! bank `c mod AW`, line `((n·H + h)·W + w)·CB + ⌊c / AW⌋` with `CB = ⌈C / AW⌉` channel blocks.
//! Each column owns one residue of the channels (G = AW, Pn = Pm = 1): column g reduces the
//! taps `(r, s, c)` with `c mod AW = g`, in the order t = (r·S + s)·CB + cb (channel blocks
//! fastest), so at every cycle all columns read the **same line** — one pixel's channel block —
//! and the buffer keeps its single read address. T = R·S·CB taps per column, cut into VNs of
//! V = min(AH, T); BIRRD adds the AW columns and the output buffer the ⌈T / V⌉ K-superchunks.
//! Taps that fall outside the input, and t ≥ T, are padding: the core substitutes the zero
//! point (`Uop::s_pad`), so padding is generated, never stored.
//!
//! # Hardware walk
//! The sequencer needs two things per layer: the **window table** (entry t: the tap's row and
//! column offset (dh, dw) = (r·dil, s·dil) and line offset `(dh·W + dw)·CB + cb`, or invalid
//! for t ≥ T) and the **geometry** registers (`Geometry`). A stream descriptor in window mode
//! walks the output pixels of the layer (q fastest, then p, then n) keeping the top-left input
//! coordinate (hb, wb) = (p·st − pad, q·st − pad) and that pixel's line; each cycle it reads
//! table entry `t0 + k` and forms h = hb + dh, w = wb + dw (padding unless 0 ≤ h < H,
//! 0 ≤ w < W) and the line `pixel line + offset`. `expand` in `program.rs` is this walk in
//! software; the compiler's micro-instructions come from the direct formula here (`element`),
//! and tests hold the two equal.

use super::mapper::MapError;
use crate::feather::golden::ConvShape;
use crate::feather::top::FeatherConfig;

/// Largest input height/width, output height/width and filter extent the walker's 16-bit
/// signed coordinates take.
pub const MAX_COORD: usize = 1 << 14;
/// Largest stride and padding (8-bit registers).
pub const MAX_STEP: usize = 255;

/// A convolution as the window walk sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub shape: ConvShape,
    pub aw: usize,
    /// Output height and width.
    pub p: usize,
    pub q: usize,
    /// What the window covers: `images` images, output rows `p0 .. p0 + rows` of each, read
    /// from an input slab of `slab_h` rows from input row `h_lo` (the whole layer: all images,
    /// all rows, the whole input; a band of a tiled layer: one image's slab, some rows).
    pub images: usize,
    pub p0: usize,
    pub rows: usize,
    pub h_lo: usize,
    pub slab_h: usize,
    /// Channel blocks ⌈C / AW⌉.
    pub cb: usize,
    /// Taps per column, R·S·CB.
    pub t: usize,
    /// VN length min(AH, T).
    pub v: usize,
    /// K-superchunks ⌈T / V⌉.
    pub ks: usize,
}

/// One window-table entry (`None` in the table: past the last tap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tap {
    pub dh: u32,
    pub dw: u32,
    pub off: u32,
}

/// The walker's per-layer registers (line deltas wrap at the streaming buffer's depth).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Geometry {
    /// The first output row's window origin row p0·st − pad, 16-bit two's complement.
    pub hb0: u32,
    pub q: u32,
    pub p: u32,
    pub stride: u32,
    pub pad: u32,
    pub h: u32,
    pub w: u32,
    /// Lines from one output pixel's window origin to the next one's in the row: st·CB.
    pub dq: u32,
    /// From one output row's origin to the next row's: st·W·CB.
    pub drow: u32,
    /// From the last output row's origin of an image to the first row's of the next image.
    pub dimg: u32,
}

impl Geometry {
    /// The walker's registers by name (the sequencer's `i_<name>` inputs, AXI-Lite registers
    /// of the wrapped top) and their widths for a streaming buffer of `2^s_bits` lines.
    pub fn fields(s_bits: u32) -> [(&'static str, u32); 10] {
        [
            ("win_hb0", 16),
            ("win_q", 16),
            ("win_p", 16),
            ("win_stride", 8),
            ("win_pad", 8),
            ("win_h", 16),
            ("win_w", 16),
            ("win_dq", s_bits),
            ("win_drow", s_bits),
            ("win_dimg", s_bits),
        ]
    }

    /// Values in the order of `fields`.
    pub fn values(&self) -> [u64; 10] {
        [
            self.hb0,
            self.q,
            self.p,
            self.stride,
            self.pad,
            self.h,
            self.w,
            self.dq,
            self.drow,
            self.dimg,
        ]
        .map(u64::from)
    }
}

impl Window {
    pub fn new(cfg: &FeatherConfig, shape: &ConvShape) -> Result<Window, MapError> {
        let bad = |why: String| MapError::Window(why);
        let (p, q) = shape
            .out_hw()
            .ok_or_else(|| bad("the filter does not fit the padded input".into()))?;
        let (re, se) = shape.extent();
        if [shape.h, shape.w, p, q, re, se]
            .iter()
            .any(|&x| x >= MAX_COORD)
        {
            return Err(bad(format!(
                "sizes, output sizes and filter extents must be below {MAX_COORD}"
            )));
        }
        if shape.stride > MAX_STEP || shape.pad > MAX_STEP {
            return Err(bad(format!(
                "stride and padding must be at most {MAX_STEP}"
            )));
        }
        let aw = cfg.aw as usize;
        let cb = shape.c.div_ceil(aw);
        let t = shape.r * shape.s * cb;
        let v = t.min(cfg.ah as usize);
        Ok(Window {
            shape: *shape,
            aw,
            p,
            q,
            images: shape.n,
            p0: 0,
            rows: p,
            h_lo: 0,
            slab_h: shape.h,
            cb,
            t,
            v,
            ks: t.div_ceil(v),
        })
    }

    /// A band of a tiled layer: output rows `p0 .. p0 + rows` of image `n`, read from the
    /// input rows their windows touch (the slab, `slab_rows`).
    pub fn band(
        cfg: &FeatherConfig,
        shape: &ConvShape,
        n: usize,
        p0: usize,
        rows: usize,
    ) -> Result<Window, MapError> {
        let mut w = Window::new(cfg, shape)?;
        if n >= shape.n || rows == 0 || p0 + rows > w.p {
            return Err(MapError::Window(format!(
                "band of output rows {p0}..{} of image {n} is outside the {}x{} output of {} images",
                p0 + rows,
                w.p,
                w.q,
                shape.n
            )));
        }
        let (lo, hi) = slab_rows(shape, p0, rows);
        (w.images, w.p0, w.rows, w.h_lo, w.slab_h) = (1, p0, rows, lo, hi - lo);
        Ok(w)
    }

    /// Output pixels the window covers (the rows of the GEMM the array runs).
    pub fn pixels(&self) -> usize {
        self.images * self.rows * self.q
    }

    /// Streaming-buffer lines the compact input (the slab) takes.
    pub fn lines(&self) -> usize {
        self.images * self.slab_h * self.shape.w * self.cb
    }

    /// Length of the hardware's reduction: every column's ⌈T / V⌉·V taps.
    pub fn hw_k(&self) -> usize {
        self.ks * self.v * self.aw
    }

    /// (r, s, channel block) of tap t, or None past the last one.
    pub fn tap(&self, t: usize) -> Option<(usize, usize, usize)> {
        if t >= self.t {
            return None;
        }
        let cbi = t % self.cb;
        let rs = t / self.cb;
        Some((rs / self.shape.s, rs % self.shape.s, cbi))
    }

    /// The line output pixel m reads at tap t, or None when the tap is padding.
    pub fn element(&self, m: usize, t: usize) -> Option<usize> {
        let sh = &self.shape;
        let (r, s, cbi) = self.tap(t)?;
        let per = self.rows * self.q;
        let (img, pq) = (m / per, m % per);
        let (hi, wi) = sh.tap(self.p0 + pq / self.q, pq % self.q, r, s);
        if hi < 0 || wi < 0 || hi >= sh.h as isize || wi >= sh.w as isize {
            return None;
        }
        let h = hi as usize - self.h_lo;
        debug_assert!(h < self.slab_h, "row {hi} outside the slab");
        Some(((img * self.slab_h + h) * sh.w + wi as usize) * self.cb + cbi)
    }

    /// Where hardware reduction index k' (column g = ⌊k'/V⌋ mod AW of superchunk ⌊k'/(V·AW)⌋,
    /// element k' mod V) takes its weight from: the row (r·S + s)·C + c of the lowered filter
    /// matrix, or None for padding.
    pub fn weight_row(&self, k: usize) -> Option<usize> {
        let (chunk, kk) = (k / self.v, k % self.v);
        let (ksi, g) = (chunk / self.aw, chunk % self.aw);
        let (r, s, cbi) = self.tap(ksi * self.v + kk)?;
        let c = cbi * self.aw + g;
        (c < self.shape.c).then_some((r * self.shape.s + s) * self.shape.c + c)
    }

    /// The window table: entries 0 … ks·V − 1.
    pub fn table(&self) -> Vec<Option<Tap>> {
        let dil = self.shape.dilation;
        (0..self.ks * self.v)
            .map(|t| {
                self.tap(t).map(|(r, s, cbi)| {
                    let (dh, dw) = (r * dil, s * dil);
                    Tap {
                        dh: dh as u32,
                        dw: dw as u32,
                        off: ((dh * self.shape.w + dw) * self.cb + cbi) as u32,
                    }
                })
            })
            .collect()
    }

    /// The walker's registers for a streaming buffer of `2^s_bits` lines.
    pub fn geometry(&self, s_bits: u32) -> Geometry {
        let sh = &self.shape;
        let wrap = |x: i64| (x.rem_euclid(1i64 << s_bits)) as u32;
        let cb = self.cb as i64;
        let (st, w, h) = (sh.stride as i64, sh.w as i64, sh.h as i64);
        let slab = self.slab_h as i64;
        Geometry {
            hb0: (self.hb0() as i64).rem_euclid(1 << 16) as u32,
            q: self.q as u32,
            p: self.rows as u32,
            stride: sh.stride as u32,
            pad: sh.pad as u32,
            h: h as u32,
            w: sh.w as u32,
            dq: wrap(st * cb),
            drow: wrap(st * w * cb),
            dimg: wrap((slab * w - (self.rows as i64 - 1) * st * w) * cb),
        }
    }

    /// The first output row's window origin row, p0·st − pad.
    fn hb0(&self) -> isize {
        (self.p0 * self.shape.stride) as isize - self.shape.pad as isize
    }

    /// Line of the first output pixel's window origin (hb0, −pad) in the slab, wrapped to the
    /// buffer's depth.
    pub fn origin(&self, s_bits: u32) -> u32 {
        let pad = self.shape.pad as i64;
        let row = self.hb0() as i64 - self.h_lo as i64;
        let x = (row * self.shape.w as i64 - pad) * self.cb as i64;
        x.rem_euclid(1i64 << s_bits) as u32
    }
}

/// The input rows [lo, hi) the windows of output rows `p0 .. p0 + rows` touch, inside the input.
pub fn slab_rows(shape: &ConvShape, p0: usize, rows: usize) -> (usize, usize) {
    let top = (p0 * shape.stride) as isize - shape.pad as isize;
    let (re, _) = shape.extent();
    let bottom = ((p0 + rows - 1) * shape.stride + re) as isize - shape.pad as isize;
    let lo = top.clamp(0, shape.h as isize) as usize;
    let hi = bottom.clamp(lo as isize, shape.h as isize) as usize;
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(c: usize, r: usize, stride: usize, pad: usize, dilation: usize) -> ConvShape {
        ConvShape {
            n: 2,
            c,
            h: 7,
            w: 5,
            k: 3,
            r,
            s: r,
            stride,
            pad,
            dilation,
        }
    }

    #[test]
    fn every_real_tap_of_every_pixel_reads_the_input_element_im2col_would_copy() {
        let cfg = FeatherConfig::new(4, 4);
        for (c, r, st, pad, dil) in [(5, 3, 1, 1, 1), (4, 3, 2, 0, 2), (9, 2, 2, 3, 1)] {
            let sh = shape(c, r, st, pad, dil);
            let win = Window::new(&cfg, &sh).unwrap();
            // Each (m, k) of the lowered matrix must come from the input element at the line
            // and bank the walk reads (the flat NHWC index, computed the direct way).
            let kk = c * r * r;
            for m in 0..win.pixels() {
                for k in 0..win.hw_k() {
                    let Some(row) = win.weight_row(k) else {
                        continue;
                    };
                    let (rs, ch) = (row / c, row % c);
                    let (n, pq) = (m / (win.p * win.q), m % (win.p * win.q));
                    let (hi, wi) = sh.tap(pq / win.q, pq % win.q, rs / r, rs % r);
                    let inside = hi >= 0 && wi >= 0 && hi < sh.h as isize && wi < sh.w as isize;
                    let t = (k / win.v / win.aw) * win.v + k % win.v;
                    let got = win.element(m, t);
                    assert_eq!(got.is_some(), inside, "{sh:?} m {m} k {k}");
                    if let Some(line) = got {
                        let want = ((n * sh.h + hi as usize) * sh.w + wi as usize) * c + ch;
                        assert_eq!(line / win.cb, want / c, "pixel of {sh:?} m {m} k {k}");
                        assert_eq!((line % win.cb) * 4 + (k / win.v) % 4, ch);
                        assert!(row < kk);
                    }
                }
            }
        }
    }

    #[test]
    fn window_table_offsets_are_the_taps_lines_from_the_window_origin() {
        let cfg = FeatherConfig::new(8, 4);
        let sh = shape(6, 3, 1, 1, 2);
        let win = Window::new(&cfg, &sh).unwrap();
        assert_eq!((win.cb, win.t, win.v, win.ks), (2, 18, 8, 3));
        let table = win.table();
        assert_eq!(table.len(), 24);
        assert!(table[18..].iter().all(|e| e.is_none()));
        // Tap t = 7: (r, s, cb) = (1, 0, 1): two rows down (dilation 2), block 1.
        assert_eq!(
            table[7],
            Some(Tap {
                dh: 2,
                dw: 0,
                off: 2 * 5 * 2 + 1
            })
        );
    }

    #[test]
    fn shapes_the_walker_cannot_hold_are_refused() {
        let cfg = FeatherConfig::new(4, 4);
        let mut sh = shape(4, 3, 1, 1, 1);
        sh.stride = 300;
        let e = Window::new(&cfg, &sh).unwrap_err().to_string();
        assert_eq!(
            e,
            "window streaming: stride and padding must be at most 255"
        );
        let mut sh = shape(4, 3, 1, 1, 1);
        sh.w = 20000;
        assert!(Window::new(&cfg, &sh).is_err());
    }
}
