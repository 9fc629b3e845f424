//! Tiling a layer that does not fit the core's buffers: the GEMM `C[M][N] = A[M][K]·B[K][N]`
//! is cut along M and N (never K: every output's whole reduction runs in one tile, so each
//! tile's outputs are final and requantised in place, and a tiled layer is bit for bit the
//! untiled one). A tile is the sub-GEMM `C[m0..m0+mt][n0..n0+nt]`; its operands are A's rows
//! `m0..m0+mt` and B's columns `n0..n0+nt`, loaded into the buffers before it runs.
//!
//! Among the tile sizes whose every tile fits the buffers (by `plan`'s line counts), the one
//! with the fewest predicted cycles wins: the tiles' compute cycles (the timing model, exact
//! against simulation) plus the buffer lines loaded and read back, at `cycles_per_line`.
//!
//! A convolution streamed from its compact input (`tile_window`) is cut into bands of whole
//! output rows of one image (a contiguous range of the GEMM's rows) and blocks of output
//! channels; a band loads only the input rows its windows touch (`window::slab_rows`), so
//! neighbouring bands share just the filter's halo, and nothing is lowered.

use super::mapper::{plan, plan_of, window_shape, Dataflow, Gemm, Layout, Plan, StreamChoice};
use super::window::Window;
use crate::feather::golden::ConvShape;
use crate::feather::top::FeatherConfig;

/// One tile of a layer's GEMM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    pub m0: usize,
    pub mt: usize,
    pub n0: usize,
    pub nt: usize,
}

impl Tile {
    pub fn gemm(&self, k: usize) -> Gemm {
        Gemm {
            m: self.mt,
            k,
            n: self.nt,
        }
    }
}

/// A layer cut into tiles.
#[derive(Clone, Debug, PartialEq)]
pub struct Tiling {
    pub gemm: Gemm,
    /// Tile sizes (the last tile of each dimension may be smaller).
    pub mt: usize,
    pub nt: usize,
    /// Row-major over (m-tile, n-tile).
    pub tiles: Vec<Tile>,
    /// Predicted compute cycles of every tile (the timing model).
    pub cycles: Vec<u64>,
    /// Buffer lines moved per tile: streamed and stationary operands in, outputs back.
    pub lines: Vec<u64>,
    /// Set when the tiles are bands of this convolution streamed from its compact input.
    pub window: Option<ConvShape>,
}

impl Tiling {
    pub fn compute_cycles(&self) -> u64 {
        self.cycles.iter().sum()
    }

    pub fn moved_lines(&self) -> u64 {
        self.lines.iter().sum()
    }

    /// A band tile's image, first output row and rows (window tilings only).
    pub fn band(&self, t: &Tile) -> Option<(usize, usize, usize)> {
        let sh = self.window?;
        let (p, q) = sh.out_hw()?;
        Some((t.m0 / (p * q), t.m0 % (p * q) / q, t.mt / q))
    }

    /// The convolution a band tile runs: the layer with its `nt` filters.
    pub fn band_shape(&self, t: &Tile) -> Option<ConvShape> {
        self.window.map(|sh| ConvShape { k: t.nt, ..sh })
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TileError {
    #[error("GEMM dimensions must be positive, got M={0} K={1} N={2}")]
    Shape(usize, usize, usize),
    #[error(
        "cannot be tiled into the buffers: even one output row and one output channel (K = {k}) need {s} streamed, {w} stationary and {o} output lines; the core has {sd}, {wd}, {od}"
    )]
    TooDeep {
        k: usize,
        s: usize,
        w: usize,
        o: usize,
        sd: u32,
        wd: u32,
        od: u32,
    },
    /// Why windows cannot be streamed (`MapError::Window`'s message).
    #[error("{0}")]
    Window(String),
}

/// Sizes worth trying for a dimension of `total`: the whole, then halves down to 1.
fn candidates(total: usize) -> Vec<usize> {
    let mut v = vec![total];
    let mut t = total.next_power_of_two() / 2;
    while t >= 1 {
        if t < total {
            v.push(t);
        }
        t /= 2;
    }
    v
}

/// A sub-GEMM's compute cycles and buffer lines moved, if it fits the core's buffers.
fn fits(cfg: &FeatherConfig, g: Gemm, df: Dataflow, layout: Layout) -> Option<(u64, u64)> {
    cost(cfg, &plan(cfg, g, df, layout))
}

/// A tile's compute cycles and buffer lines moved, if its plan fits the core's buffers.
fn cost(cfg: &FeatherConfig, p: &Plan) -> Option<(u64, u64)> {
    p.fits(cfg)
        .then_some((p.cycles, (p.s_lines + p.w_lines + p.o_lines) as u64))
}

/// The tiling of `gemm` with the fewest predicted cycles, a buffer line taking
/// `cycles_per_line` cycles to load or read back.
pub fn tile(
    cfg: &FeatherConfig,
    gemm: Gemm,
    df: Dataflow,
    layout: Layout,
    cycles_per_line: f64,
) -> Result<Tiling, TileError> {
    if gemm.m == 0 || gemm.k == 0 || gemm.n == 0 {
        return Err(TileError::Shape(gemm.m, gemm.k, gemm.n));
    }
    let mut best: Option<(f64, Tiling)> = None;
    for &nt in &candidates(gemm.n) {
        for &mt in &candidates(gemm.m) {
            // Every distinct tile shape must fit: the full one and the edge ones.
            let shapes = [
                (mt, nt),
                (gemm.m % mt, nt),
                (mt, gemm.n % nt),
                (gemm.m % mt, gemm.n % nt),
            ];
            let mut cost = std::collections::HashMap::new();
            let ok = shapes
                .iter()
                .filter(|&&(m, n)| m > 0 && n > 0)
                .all(
                    |&(m, n)| match fits(cfg, Gemm { m, k: gemm.k, n }, df, layout) {
                        Some(c) => {
                            cost.insert((m, n), c);
                            true
                        }
                        None => false,
                    },
                );
            if !ok {
                continue;
            }
            let mut t = Tiling {
                gemm,
                mt,
                nt,
                tiles: Vec::new(),
                cycles: Vec::new(),
                lines: Vec::new(),
                window: None,
            };
            for m0 in (0..gemm.m).step_by(mt) {
                for n0 in (0..gemm.n).step_by(nt) {
                    let tl = Tile {
                        m0,
                        mt: mt.min(gemm.m - m0),
                        n0,
                        nt: nt.min(gemm.n - n0),
                    };
                    let (c, l) = cost[&(tl.mt, tl.nt)];
                    t.cycles.push(c);
                    t.lines.push(l);
                    t.tiles.push(tl);
                }
            }
            let total = t.compute_cycles() as f64 + t.moved_lines() as f64 * cycles_per_line;
            if best.as_ref().is_none_or(|b| total < b.0) {
                best = Some((total, t));
            }
            // Smaller M tiles of this N only add tiles (and reload B for each).
            break;
        }
    }
    best.map(|b| b.1).ok_or_else(|| {
        let p = plan(
            cfg,
            Gemm {
                m: 1,
                k: gemm.k,
                n: 1,
            },
            df,
            layout,
        );
        TileError::TooDeep {
            k: gemm.k,
            s: p.s_lines,
            w: p.w_lines,
            o: p.o_lines,
            sd: cfg.s_depth,
            wd: cfg.w_depth,
            od: cfg.o_depth,
        }
    })
}

/// Tiles a layer (`shape`: Some for a convolution) as `choice` asks: `Window` bands of the
/// compact input, `Lowered` the GEMM, `Auto` whichever the cost (compute cycles plus lines
/// moved at `cycles_per_line`) favours (windows only for weights stationary).
pub fn tile_layer(
    cfg: &FeatherConfig,
    gemm: Gemm,
    shape: Option<&ConvShape>,
    dataflow: Dataflow,
    layout: Layout,
    choice: StreamChoice,
    cycles_per_line: f64,
) -> Result<Tiling, TileError> {
    let total = |t: &Tiling| t.compute_cycles() as f64 + t.moved_lines() as f64 * cycles_per_line;
    let window = || -> Result<Tiling, TileError> {
        let sh = window_shape(shape, dataflow).map_err(|e| TileError::Window(e.to_string()))?;
        tile_window(cfg, sh, layout, cycles_per_line)
    };
    let lowered = || tile(cfg, gemm, dataflow, layout, cycles_per_line);
    match choice {
        StreamChoice::Window => window(),
        StreamChoice::Lowered => lowered(),
        StreamChoice::Auto => match (window(), lowered()) {
            (Ok(w), Ok(l)) => Ok(if total(&w) <= total(&l) { w } else { l }),
            (Ok(w), Err(_)) => Ok(w),
            (Err(_), l) => l,
        },
    }
}

/// Tiles a convolution streamed from its compact input: bands of output rows of one image
/// × blocks of output channels, for each channel block the largest band height whose every
/// tile fits, the fewest predicted cycles (compute plus lines moved at `cycles_per_line`) kept.
pub fn tile_window(
    cfg: &FeatherConfig,
    shape: &ConvShape,
    layout: Layout,
    cycles_per_line: f64,
) -> Result<Tiling, TileError> {
    let sh = *shape;
    let gemm =
        super::mapper::conv_gemm(&sh).ok_or(TileError::Shape(0, sh.c * sh.r * sh.s, sh.k))?;
    let (p_out, q_out) = sh.out_hw().expect("conv_gemm checked the shape");
    let fits = |n: usize, p0: usize, rows: usize, nt: usize| -> Option<(u64, u64)> {
        let band = ConvShape { k: nt, ..sh };
        let win = Window::band(cfg, &band, n, p0, rows).ok()?;
        cost(cfg, &plan_of(cfg, &win, layout))
    };
    let mut best: Option<(f64, Tiling)> = None;
    for &nt in &candidates(sh.k) {
        for &pt in &candidates(p_out) {
            let mut t = Tiling {
                gemm,
                mt: pt * q_out,
                nt,
                tiles: Vec::new(),
                cycles: Vec::new(),
                lines: Vec::new(),
                window: Some(sh),
            };
            let mut ok = true;
            'all: for n in 0..sh.n {
                for p0 in (0..p_out).step_by(pt) {
                    let rows = pt.min(p_out - p0);
                    for n0 in (0..sh.k).step_by(nt) {
                        let ntt = nt.min(sh.k - n0);
                        let Some((c, l)) = fits(n, p0, rows, ntt) else {
                            ok = false;
                            break 'all;
                        };
                        t.tiles.push(Tile {
                            m0: (n * p_out + p0) * q_out,
                            mt: rows * q_out,
                            n0,
                            nt: ntt,
                        });
                        t.cycles.push(c);
                        t.lines.push(l);
                    }
                }
            }
            if !ok {
                continue;
            }
            let total = t.compute_cycles() as f64 + t.moved_lines() as f64 * cycles_per_line;
            if best.as_ref().is_none_or(|b| total < b.0) {
                best = Some((total, t));
            }
            break;
        }
    }
    best.map(|b| b.1).ok_or_else(|| {
        // The largest one-row, one-channel band (an interior one has the tallest slab).
        let band = ConvShape { k: 1, ..sh };
        let (s, w, o) = (0..p_out)
            .filter_map(|p0| Window::band(cfg, &band, 0, p0, 1).ok())
            .map(|win| {
                let p = plan_of(cfg, &win, layout);
                (p.s_lines, p.w_lines, p.o_lines)
            })
            .max()
            .unwrap_or((0, 0, 0));
        TileError::TooDeep {
            k: gemm.k,
            s,
            w,
            o,
            sd: cfg.s_depth,
            wd: cfg.w_depth,
            od: cfg.o_depth,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(ah: u32, aw: u32, d: u32) -> FeatherConfig {
        let mut c = FeatherConfig::new(ah, aw);
        (c.s_depth, c.w_depth, c.o_depth) = (d, d, d);
        c
    }

    #[test]
    fn tiles_cover_every_output_once_and_each_fits() {
        let cfg = small(8, 8, 64);
        let layout = Layout { cb: 8, wb: 1 };
        let g = Gemm {
            m: 300,
            k: 40,
            n: 50,
        };
        let t = tile(&cfg, g, Dataflow::Ws, layout, 1.0).unwrap();
        assert!(t.tiles.len() > 1, "{t:?}");
        let mut seen = vec![0u8; g.m * g.n];
        for tl in &t.tiles {
            assert!(fits(&cfg, tl.gemm(g.k), Dataflow::Ws, layout).is_some());
            for m in tl.m0..tl.m0 + tl.mt {
                for n in tl.n0..tl.n0 + tl.nt {
                    seen[m * g.n + n] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&s| s == 1));
        // A layer that fits is one tile.
        let one = tile(&small(8, 8, 1 << 16), g, Dataflow::Ws, layout, 1.0).unwrap();
        assert_eq!(
            one.tiles,
            vec![Tile {
                m0: 0,
                mt: 300,
                n0: 0,
                nt: 50
            }]
        );
    }

    #[test]
    fn a_reduction_too_deep_for_the_buffers_is_refused_with_the_line_counts() {
        let cfg = small(8, 8, 4);
        let e = tile(
            &cfg,
            Gemm {
                m: 4,
                k: 4096,
                n: 4,
            },
            Dataflow::Ws,
            Layout { cb: 8, wb: 1 },
            1.0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("cannot be tiled into the buffers: even one output row and one output channel (K = 4096) need"), "{e}");
        assert!(e.ends_with("the core has 4, 4, 4"), "{e}");
    }
}
