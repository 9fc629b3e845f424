//! The layer compiler: an int8 GEMM (or a convolution lowered to one) → a static schedule of
//! micro-instructions, buffer placements and BIRRD configurations for one FEATHER core.
//!
//! # Mapping (weights stationary)
//! `C[M][N] = A[M][K] · B[K][N]`. K is cut into chunks of V = min(AH, K) elements (one virtual
//! neuron, VN). The AW columns are split as `AW = G · Pn · Pm`:
//! * G columns hold G different K-chunks of the same outputs — BIRRD adds them (spatial
//!   reduction); further chunks are added in the output buffer (temporal reduction, `ob_acc`);
//! * Pn column groups hold different output channels n, Pm groups stream different rows m.
//!
//! PE row r of column (g, pm, pn) holds `B[k0 + g·V + k][n0 + r·Pn + pn]` for k < V; the column
//! streams `A[m0 + pm][k0 + g·V + k]`. Rows = min(V, ⌈N / Pn⌉) (NEST needs rows ≤ V). A *tile*
//! is one (n-block, K-superchunk) weight set; its weights load into the idle ping/pong bank
//! while the previous tile streams.
//!
//! # Output layout and bank conflicts
//! A layout `C<cb>W<wb>` (cb · wb = AW) stores `C[m][n]` in bank `n mod cb + cb·(m mod wb)` at
//! line `⌊m / wb⌋ · ⌈N / cb⌉ + ⌊n / cb⌋`. `HWC_C<AW>` (channel-last) is C<AW>W1, `HWC_W<AW>`
//! (row-major) is C1W<AW>, and `HWC_C4W<AW/4>` is the mixed one. A row vector's Pn·Pm results
//! must land in distinct banks on one line; the compiler picks Pn ≤ cb and Pm ≤ wb so they do,
//! checks every row vector anyway, and refuses (never emits) a schedule with a conflict. BIRRD
//! then both reduces the G columns and steers each sum to its bank (reorder in reduction).
//!
//! Convolutions are lowered to GEMM (`conv_gemm`, `im2col`): output pixels are GEMM rows,
//! (r, s, c) the reduction, filters the columns, so C is the NHWC output. Placed in the
//! mapping's own placement the streaming buffer holds the lowered iActs (each input pixel up
//! to R·S times); with `Stream::Window` it holds the compact NHWC input instead and the
//! sequencer walks the windows (`window.rs`).
//!
//! Among the splits that satisfy the layout the compiler keeps the one the timing model says is
//! fastest. The inputs-stationary dataflow is the same machine on the transposed GEMM
//! (`Cᵀ = Bᵀ Aᵀ`): the compiler swaps the operands' roles and transposes the layout.

use super::route::{RouteCache, RouteError, Target};
use super::window::Window;
use crate::feather::birrd::Config;
use crate::feather::buffers::QUANT_LATENCY;
use crate::feather::controller::Uop;
use crate::feather::golden::ConvShape;
use crate::feather::top::FeatherConfig;
use crate::rtl::Bits;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Budget for routing one BIRRD target.
const ROUTE_BUDGET: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

impl Gemm {
    pub fn macs(&self) -> u64 {
        (self.m * self.k * self.n) as u64
    }
}

/// A convolution lowered to the GEMM the array runs: rows m = (n, p, q) output pixels,
/// reduction kk = (r, s, c), columns = filters. The output C[m][k] is the NHWC output.
pub fn conv_gemm(sh: &ConvShape) -> Option<Gemm> {
    let (p, q) = sh.out_hw()?;
    Some(Gemm {
        m: sh.n * p * q,
        k: sh.c * sh.r * sh.s,
        n: sh.k,
    })
}

/// The lowered iAct matrix A (im2col; padding = the input zero point).
pub fn im2col(x: &[u8], sh: &ConvShape, zp_i: u8) -> Vec<u8> {
    let (p_out, q_out) = sh.out_hw().expect("valid convolution shape");
    let kk = sh.c * sh.r * sh.s;
    let mut a = vec![zp_i; sh.n * p_out * q_out * kk];
    for n in 0..sh.n {
        for p in 0..p_out {
            for q in 0..q_out {
                let m = (n * p_out + p) * q_out + q;
                for r in 0..sh.r {
                    for s in 0..sh.s {
                        let (hi, wi) = sh.tap(p, q, r, s);
                        if hi < 0 || wi < 0 || hi >= sh.h as isize || wi >= sh.w as isize {
                            continue;
                        }
                        for c in 0..sh.c {
                            a[m * kk + (r * sh.s + s) * sh.c + c] =
                                x[((n * sh.h + hi as usize) * sh.w + wi as usize) * sh.c + c];
                        }
                    }
                }
            }
        }
    }
    a
}

/// The lowered weight matrix B (K = C·R·S rows, one column per filter).
pub fn filters_matrix(wt: &[u8], sh: &ConvShape) -> Vec<u8> {
    let kk = sh.c * sh.r * sh.s;
    let mut b = vec![0u8; kk * sh.k];
    for k in 0..sh.k {
        for i in 0..kk {
            b[i * sh.k + k] = wt[k * kk + i];
        }
    }
    b
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dataflow {
    /// Weights stationary, iActs streamed.
    Ws,
    /// iActs stationary, weights streamed (the transposed GEMM).
    Is,
}

impl std::fmt::Display for Dataflow {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Dataflow::Ws => "ws",
            Dataflow::Is => "is",
        })
    }
}

/// Output layout: `cb` consecutive channels × `wb` consecutive rows across the AW banks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub cb: usize,
    pub wb: usize,
}

impl Layout {
    /// Parses `HWC_C<AW>`, `HWC_W<AW>`, `HWC_C<a>W<b>` (a·b = AW), or the short `C<a>W<b>`.
    pub fn parse(name: &str, aw: usize) -> Result<Layout, String> {
        let bad = || {
            format!(
                "unknown layout {name:?}: expected HWC_C{aw} (channel-last), HWC_W{aw} (row-major) or HWC_C<a>W<b> with a·b = {aw}, e.g. HWC_C4W{}",
                (aw / 4).max(1)
            )
        };
        let body = name.strip_prefix("HWC_").unwrap_or(name);
        let num = |s: &str| s.parse::<usize>().ok().filter(|v| v.is_power_of_two());
        let (cb, wb) = if let Some(rest) = body.strip_prefix('C') {
            match rest.split_once('W') {
                Some((a, b)) => (num(a).ok_or_else(bad)?, num(b).ok_or_else(bad)?),
                None => (num(rest).ok_or_else(bad)?, 1),
            }
        } else if let Some(rest) = body.strip_prefix('W') {
            (1, num(rest).ok_or_else(bad)?)
        } else {
            return Err(bad());
        };
        if cb * wb != aw {
            return Err(bad());
        }
        Ok(Layout { cb, wb })
    }

    pub fn name(&self) -> String {
        match (self.cb, self.wb) {
            (c, 1) => format!("HWC_C{c}"),
            (1, w) => format!("HWC_W{w}"),
            (c, w) => format!("HWC_C{c}W{w}"),
        }
    }

    pub fn bank(&self, m: usize, n: usize) -> usize {
        n % self.cb + self.cb * (m % self.wb)
    }

    pub fn line(&self, m: usize, n: usize, n_total: usize) -> usize {
        (m / self.wb) * n_total.div_ceil(self.cb) + n / self.cb
    }

    pub fn lines(&self, m_total: usize, n_total: usize) -> usize {
        m_total.div_ceil(self.wb) * n_total.div_ceil(self.cb)
    }
}

/// Where a layer's outputs go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// A named layout (`C<cb>W<wb>`).
    Layout(Layout),
    /// Straight into the streamed-operand placement of a following weights-stationary layer
    /// with this mapping (which must have Pn = 1): reorder in reduction across layers.
    Feed(Mapping),
}

impl Out {
    /// (bank, line) of C[m][n] (coordinates of the layer's own GEMM).
    pub fn place(&self, m: usize, n: usize, n_total: usize) -> (usize, usize) {
        match self {
            Out::Layout(l) => (l.bank(m, n), l.line(m, n, n_total)),
            Out::Feed(next) => {
                // C[m][n] is the next layer's X[m][k = n].
                let (chunk, kk) = (n / next.v, n % next.v);
                let (ksi, g) = (chunk / next.g, chunk % next.g);
                let (j, pm) = (m / next.pm, m % next.pm);
                (next.column(g, pm, 0), (ksi * next.mb + j) * next.v + kk)
            }
        }
    }

    /// Lines the output occupies.
    pub fn lines(&self, m_total: usize, n_total: usize) -> usize {
        match self {
            Out::Layout(l) => l.lines(m_total, n_total),
            Out::Feed(next) => next.ks * next.mb * next.v,
        }
    }

    pub fn name(&self) -> String {
        match self {
            Out::Layout(l) => l.name(),
            Out::Feed(_) => "next layer's stream".into(),
        }
    }
}

/// The output placement seen from the GEMM the hardware runs: for `Is` the hardware computes
/// Cᵀ, so its row m' is the channel n of C and its channel n' is the row m.
#[derive(Clone, Copy, Debug)]
struct HwLayout {
    out: Out,
    transposed: bool,
    /// N of the original C.
    n_total: usize,
}

impl HwLayout {
    fn orig(&self, m: usize, n: usize) -> (usize, usize) {
        if self.transposed {
            (n, m)
        } else {
            (m, n)
        }
    }

    fn place(&self, m: usize, n: usize) -> (usize, usize) {
        let (m, n) = self.orig(m, n);
        self.out.place(m, n, self.n_total)
    }

    /// Most hardware channels / rows a row vector may hold without a conflict (for named
    /// layouts; a feed is checked row vector by row vector).
    fn limits(&self, aw: usize) -> (usize, usize) {
        match self.out {
            Out::Layout(l) if self.transposed => (l.wb, l.cb),
            Out::Layout(l) => (l.cb, l.wb),
            Out::Feed(_) => (aw, aw),
        }
    }
}

/// One output of a row vector: its column group (pn, pm) and its place in the output.
struct RowOutput {
    pn: usize,
    pm: usize,
    bank: usize,
    line: usize,
}

/// The real (unpadded) outputs of the row vector of PE row r, VN j, n-block nbi, with their
/// places; Err names the bank two of them would share.
fn row_vector(
    map: &Mapping,
    hw_gemm: &Gemm,
    place: &HwLayout,
    (nbi, j, r): (usize, usize, usize),
) -> Result<Vec<RowOutput>, String> {
    let mut mask = 0u128;
    let mut out = Vec::new();
    for pn in 0..map.pn {
        for pm in 0..map.pm {
            let m = j * map.pm + pm;
            let n = map.channel(nbi, r, pn);
            if m >= hw_gemm.m || n >= hw_gemm.n {
                continue;
            }
            let (bank, line) = place.place(m, n);
            if mask >> bank & 1 == 1 {
                return Err(format!(
                    "two outputs of one row vector (PE row {r}, VN {j}) meet in bank {bank}"
                ));
            }
            mask |= 1 << bank;
            out.push(RowOutput { pn, pm, bank, line });
        }
    }
    Ok(out)
}

/// The GEMM the hardware runs and where its outputs go: the transposed GEMM for `Is`.
fn hardware_view(gemm: Gemm, dataflow: Dataflow, out: Out) -> (Gemm, HwLayout) {
    let transposed = dataflow == Dataflow::Is;
    let hw_gemm = if transposed {
        Gemm {
            m: gemm.n,
            k: gemm.k,
            n: gemm.m,
        }
    } else {
        gemm
    };
    (
        hw_gemm,
        HwLayout {
            out,
            transposed,
            n_total: gemm.n,
        },
    )
}

/// The first bank conflict among a mapping's row vectors, if any.
fn conflict(map: &Mapping, hw_gemm: &Gemm, place: &HwLayout) -> Option<String> {
    for nbi in 0..map.nb {
        for j in 0..map.mb {
            for r in 0..map.rows {
                if let Err(e) = row_vector(map, hw_gemm, place, (nbi, j, r)) {
                    return Some(e);
                }
            }
        }
    }
    None
}

/// How a (possibly transposed) GEMM is spread over the array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// VN length.
    pub v: usize,
    /// Active PE rows.
    pub rows: usize,
    pub g: usize,
    pub pn: usize,
    pub pm: usize,
    /// K-chunks (⌈K / V⌉), K-superchunks (⌈chunks / G⌉), n-blocks, m-blocks.
    pub kg: usize,
    pub ks: usize,
    pub nb: usize,
    pub mb: usize,
    /// The last PE row holding a real output channel in the last n-block.
    pub last_r: usize,
    /// Channel order within an n-block: interleaved (PE row r of group pn holds channel
    /// r·Pn + pn, so a row vector's channels are consecutive — what channel-last layouts need)
    /// or blocked (pn·rows + r, a row vector's channels `rows` apart — what a following layer's
    /// VN chunks need).
    pub blocked: bool,
}

impl Mapping {
    fn new(
        cfg: &FeatherConfig,
        gemm: &Gemm,
        g: usize,
        pn: usize,
        pm: usize,
        blocked: bool,
    ) -> Mapping {
        Mapping::with_v(gemm.k.min(cfg.ah as usize), gemm, g, pn, pm, blocked)
    }

    /// A split with VN length v (≤ AH).
    fn with_v(v: usize, gemm: &Gemm, g: usize, pn: usize, pm: usize, blocked: bool) -> Mapping {
        let rows = v.min(gemm.n.div_ceil(pn));
        let kg = gemm.k.div_ceil(v);
        let nb = gemm.n.div_ceil(rows * pn);
        Mapping {
            v,
            rows,
            g,
            pn,
            pm,
            kg,
            ks: kg.div_ceil(g),
            nb,
            mb: gemm.m.div_ceil(pm),
            last_r: if blocked {
                (gemm.n - 1 - (nb - 1) * rows * pn).min(rows - 1)
            } else {
                ((gemm.n - 1) / pn - (nb - 1) * rows).min(rows - 1)
            },
            blocked,
        }
    }

    /// Output channel held by PE row r of column group pn in n-block nbi.
    pub fn channel(&self, nbi: usize, r: usize, pn: usize) -> usize {
        if self.blocked {
            (nbi * self.pn + pn) * self.rows + r
        } else {
            (nbi * self.rows + r) * self.pn + pn
        }
    }

    pub fn tiles(&self) -> usize {
        self.nb * self.ks
    }

    /// Weight-load cycles per tile (one byte per column per cycle).
    pub fn load_cycles(&self) -> u64 {
        (self.rows * self.v) as u64
    }

    /// Stream cycles per tile.
    pub fn stream_cycles(&self) -> u64 {
        (self.mb * self.v) as u64
    }

    /// Column of chunk g in group (pm, pn).
    pub fn column(&self, g: usize, pm: usize, pn: usize) -> usize {
        g + self.g * (pm + self.pm * pn)
    }
}

/// Start cycles of every tile's weight load and stream (the schedule's skeleton).
fn tile_starts(map: &Mapping) -> Vec<(u64, u64)> {
    let (lw, ls) = (map.load_cycles(), map.stream_cycles());
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(map.tiles());
    for i in 0..map.tiles() {
        let l = if i == 0 {
            0
        } else {
            let mut l = out[i - 1].0 + lw;
            if i >= 2 {
                // The bank is free once tile i−2 has streamed.
                l = l.max(out[i - 2].1 + ls);
            }
            l
        };
        let s = if i == 0 {
            lw
        } else {
            (out[i - 1].1 + ls).max(l + lw)
        };
        out.push((l, s));
    }
    out
}

/// Cycle at which the row vector of PE row r, VN j of a tile streaming from `s` enters BIRRD:
/// buffer read 1 + NEST (V + r + 3).
fn birrd_entry(s: u64, map: &Mapping, j: usize, r: usize) -> u64 {
    s + (j * map.v) as u64 + map.v as u64 + r as u64 + 4
}

/// The analytical timing model: cycles from the first micro-instruction to the last quantized
/// write (inclusive), for a mapping. Equal to the cycle-simulated count (tests assert it).
pub fn predict_cycles(cfg: &FeatherConfig, map: &Mapping) -> u64 {
    let starts = tile_starts(map);
    let (_, s) = *starts.last().expect("a layer has at least one tile");
    // Leaves BIRRD at +S (OB read), sum at +1, quantized write QUANT_LATENCY later; inclusive.
    birrd_entry(s, map, map.mb - 1, map.last_r) + cfg.birrd_latency() + 2 + QUANT_LATENCY
}

/// A compiled layer.
pub struct Schedule {
    pub cfg: FeatherConfig,
    pub gemm: Gemm,
    /// The GEMM the hardware runs (transposed for `Is`).
    pub hw_gemm: Gemm,
    pub dataflow: Dataflow,
    pub out: Out,
    pub map: Mapping,
    pub uops: Vec<Uop>,
    /// Predicted cycles (timing model).
    pub cycles: u64,
    /// Distinct BIRRD configurations used.
    pub configs: usize,
    /// Streaming buffer holding the inputs and the one receiving the outputs.
    pub in_buf: u8,
    pub out_buf: u8,
    /// Per tile: (weight-load start, stream start) in micro-instruction cycles.
    pub starts: Vec<(u64, u64)>,
    /// The distinct BIRRD command words, in order of first use.
    pub config_words: Vec<Bits>,
    /// The window walk, when the input is streamed from its compact layout.
    pub window: Option<Window>,
    /// Per tile, per (VN j, PE row r) at index j·rows + r: the row vector's outputs, or None
    /// when it holds only padding.
    pub row_vectors: Vec<Vec<Option<RowVector>>>,
    /// A K chunk of a longer reduction (`Schedule::k_chunk`): its first output-buffer writes
    /// add to what an earlier chunk left there, and only the last chunk quantizes.
    pub acc_in: bool,
    pub quantize: bool,
    /// `groups` independent GEMMs of one shape run side by side (a depthwise layer's
    /// channels, `depthwise.rs`): row m of A belongs to GEMM `m % groups`, whose stationary
    /// operand is the `m % groups`-th of `groups` stacked K×N matrices. Every column then
    /// serves one GEMM — weights stationary: Pm a multiple of `groups`, so column group pm
    /// streams only rows of GEMM `pm % groups`; inputs stationary: Pn a multiple of `groups`,
    /// channels interleaved, so column group pn holds only rows of GEMM `pn % groups` — and
    /// the host places each column's own GEMM's operand in it (`place`).
    pub groups: usize,
}

impl Schedule {
    /// The GEMM column group (pm, pn) serves (`groups`; always 0 for an ordinary GEMM).
    pub fn group_of(&self, pm: usize, pn: usize) -> usize {
        match self.dataflow {
            Dataflow::Ws => pm % self.groups,
            Dataflow::Is => pn % self.groups,
        }
    }

    /// This schedule as one K chunk of a reduction split across programs run one after
    /// another on the same outputs: unless `first`, every output-buffer write accumulates
    /// (the partial sums of the chunks before stay in the output buffer between programs);
    /// unless `last`, nothing is quantized, so the program leaves `CYCLES` at 0 (it counts to
    /// the last quantized write). The output placement depends on (m, n) alone, so every
    /// chunk of a tile writes the same lines whatever its mapping.
    pub fn k_chunk(mut self, first: bool, last: bool) -> Schedule {
        for u in self.uops.iter_mut().filter(|u| u.ob_mask != 0) {
            u.ob_acc |= !first;
            u.quant &= last;
        }
        self.acc_in = !first;
        self.quantize = last;
        self
    }
}

/// What happens to one row vector: its BIRRD configuration (an index into
/// `Schedule::config_words`), the output-buffer banks it writes and their lines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RowVector {
    pub config: u32,
    pub mask: u128,
    pub lines: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("GEMM dimensions must be positive, got M={0} K={1} N={2}")]
    Shape(usize, usize, usize),
    #[error("layout {layout} does not suit the array: {why}")]
    Layout { layout: String, why: String },
    #[error("{what} needs {need} lines but the {cfg} core has {have}")]
    Capacity {
        what: &'static str,
        need: usize,
        have: usize,
        cfg: String,
    },
    #[error("bank conflict: {0}")]
    Conflict(String),
    #[error("BIRRD cannot route a row vector of this mapping ({0}); try --topology benes or another layout")]
    Route(RouteError),
    #[error("window streaming: {0}")]
    Window(String),
    #[error("{0} GEMMs side by side need the columns split into a multiple of {0} groups, which this layout does not allow")]
    Groups(usize),
    #[error("{groups} GEMMs side by side need M a multiple of {groups}, got M={m}")]
    GroupRows { groups: usize, m: usize },
}

/// How the streamed operand sits in the streaming buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// In the mapping's own placement (`place`): a GEMM operand or a convolution's lowered
    /// (im2col) input.
    Placed,
    /// A convolution's compact NHWC input in `HWC_C<AW>` from line 0, the windows walked by
    /// the sequencer (`window.rs`). Weights stationary only.
    Window(ConvShape),
    /// Output rows `p0 .. p0 + rows` of image `n` of a convolution (a tile of a tiled layer),
    /// streamed from the input rows their windows touch (`window::slab_rows`), from line 0.
    Band {
        shape: ConvShape,
        n: usize,
        p0: usize,
        rows: usize,
    },
}

/// Compiles `gemm` for `cfg` with a dataflow and an output layout (of the GEMM's C[M][N]),
/// streaming from buffer S0 and writing into S1.
pub fn compile(
    cfg: &FeatherConfig,
    gemm: Gemm,
    dataflow: Dataflow,
    layout: Layout,
    cache: &mut RouteCache,
) -> Result<Schedule, MapError> {
    compile_with(
        cfg,
        gemm,
        &Options::layer(dataflow, layout, Stream::Placed),
        cache,
    )
}

/// Everything `compile_with` can be told.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub dataflow: Dataflow,
    pub out: Out,
    /// Streaming buffer read (0/1) and the one the quantized outputs go to.
    pub in_buf: u8,
    pub out_buf: u8,
    /// Only mappings with Pn = 1 (each streamed element in one bank): required of a layer
    /// whose input another layer writes directly (`Out::Feed`).
    pub single_pn: bool,
    pub stream: Stream,
    /// Independent GEMMs run side by side (`Schedule::groups`); 1 for an ordinary GEMM.
    pub groups: usize,
}

impl Options {
    /// A layer on its own: streamed from S0, outputs in a named layout into S1.
    pub fn layer(dataflow: Dataflow, layout: Layout, stream: Stream) -> Options {
        Options {
            dataflow,
            out: Out::Layout(layout),
            in_buf: 0,
            out_buf: 1,
            single_pn: false,
            stream,
            groups: 1,
        }
    }

    /// `groups` independent GEMMs side by side (see `Schedule::groups`).
    pub fn grouped(self, groups: usize) -> Options {
        Options { groups, ..self }
    }
}

pub fn compile_with(
    cfg: &FeatherConfig,
    gemm: Gemm,
    opt: &Options,
    cache: &mut RouteCache,
) -> Result<Schedule, MapError> {
    if gemm.m == 0 || gemm.k == 0 || gemm.n == 0 {
        return Err(MapError::Shape(gemm.m, gemm.k, gemm.n));
    }
    let aw = cfg.aw as usize;
    let dataflow = opt.dataflow;
    if let Out::Layout(layout) = opt.out {
        if layout.cb * layout.wb != aw {
            return Err(MapError::Layout {
                layout: layout.name(),
                why: format!(
                    "it spans {} banks, the array has {aw}",
                    layout.cb * layout.wb
                ),
            });
        }
    }
    let window = match opt.stream {
        Stream::Placed => None,
        Stream::Window(shape) => Some(Window::new(cfg, window_shape(Some(&shape), dataflow)?)?),
        Stream::Band { shape, n, p0, rows } => {
            let shape = window_shape(Some(&shape), dataflow)?;
            Some(Window::band(cfg, shape, n, p0, rows)?)
        }
    };
    if let Some(win) = &window {
        if win_gemm(win) != gemm {
            return Err(MapError::Window(format!(
                "the GEMM {gemm:?} is not the convolution's"
            )));
        }
    }
    if opt.groups == 0 || !gemm.m.is_multiple_of(opt.groups) {
        return Err(MapError::GroupRows {
            groups: opt.groups,
            m: gemm.m,
        });
    }
    if opt.groups > 1 && window.is_some() {
        return Err(MapError::Window(
            "grouped GEMMs stream their placed operand, not windows".into(),
        ));
    }
    let (lowered, hw_layout) = hardware_view(gemm, dataflow, opt.out);
    let (hw_gemm, map) = match &window {
        None => (
            lowered,
            best_mapping(cfg, &lowered, &hw_layout, opt.single_pn, opt.groups)?,
        ),
        Some(win) => {
            let (hw_gemm, map) = window_mapping(cfg, win);
            if let Some(e) = conflict(&map, &hw_gemm, &hw_layout) {
                return Err(MapError::Conflict(e));
            }
            capacity(cfg, "the compact input", win.lines(), cfg.s_depth)?;
            capacity(
                cfg,
                "the stationary operand",
                map.tiles() * map.rows * map.v,
                cfg.w_depth,
            )?;
            (hw_gemm, map)
        }
    };
    let out_lines = opt.out.lines(gemm.m, gemm.n);
    capacity(cfg, "the output", out_lines, cfg.o_depth.min(cfg.s_depth))?;
    let starts = tile_starts(&map);
    let total = predict_cycles(cfg, &map) as usize;
    let mut uops = vec![Uop::default(); total];
    let bcfg = cfg.birrd();
    let s_lat = cfg.birrd_latency() as usize;
    let mut words: HashSet<Vec<u64>> = HashSet::new();
    let mut config_words: Vec<Bits> = Vec::new();
    let mut config_index: HashMap<Vec<u64>, u32> = HashMap::new();
    let mut row_vectors = vec![vec![None; map.mb * map.rows]; starts.len()];
    for (i, &(l, s)) in starts.iter().enumerate() {
        let (nbi, ksi) = (i / map.ks, i % map.ks);
        let bank = (i % 2) as u8;
        for r in 0..map.rows {
            for k in 0..map.v {
                let u = &mut uops[l as usize + r * map.v + k];
                u.w_read = true;
                u.w_addr = ((i * map.rows + r) * map.v + k) as u32;
                u.wrow = r as u32;
                u.waddr = k as u32;
                u.wbank = bank;
            }
        }
        for j in 0..map.mb {
            for k in 0..map.v {
                let u = &mut uops[s as usize + j * map.v + k];
                u.s_read = true;
                u.s_buf = opt.in_buf;
                match &window {
                    None => u.s_addr = ((ksi * map.mb + j) * map.v + k) as u32,
                    Some(win) => match win.element(j, ksi * map.v + k) {
                        Some(line) => u.s_addr = line as u32,
                        None => u.s_pad = true,
                    },
                }
                u.widx = k as u32;
                u.rbank = bank;
                u.last = k + 1 == map.v;
            }
            for r in 0..map.rows {
                let tb = birrd_entry(s, &map, j, r) as usize;
                let outs = row_vector(&map, &hw_gemm, &hw_layout, (nbi, j, r))
                    .map_err(MapError::Conflict)?;
                let mut target = Target::new();
                let mut mask = 0u128;
                let mut addrs = vec![0u32; aw];
                for o in &outs {
                    mask |= 1 << o.bank;
                    addrs[o.bank] = o.line as u32;
                    target.insert(
                        o.bank,
                        (0..map.g).map(|g| map.column(g, o.pm, o.pn)).collect(),
                    );
                }
                if outs.is_empty() {
                    continue; // padding rows: nothing to route or write
                }
                let config: Config = cache
                    .route(cfg.aw, cfg.topology, &target, ROUTE_BUDGET)
                    .map_err(MapError::Route)?;
                let word = bcfg.command_word(&config);
                words.insert(word.words().to_vec());
                let next_index = config_words.len() as u32;
                let ci = *config_index
                    .entry(word.words().to_vec())
                    .or_insert_with(|| {
                        config_words.push(word.clone());
                        next_index
                    });
                row_vectors[i][j * map.rows + r] = Some(RowVector {
                    config: ci,
                    mask,
                    lines: addrs.clone(),
                });
                let ub = &mut uops[tb];
                assert!(
                    ub.birrd.is_none(),
                    "two row vectors enter BIRRD at cycle {tb}"
                );
                ub.birrd = Some(word);
                let uo = &mut uops[tb + s_lat];
                assert_eq!(
                    uo.ob_mask,
                    0,
                    "two row vectors leave BIRRD at cycle {}",
                    tb + s_lat
                );
                uo.ob_mask = mask;
                uo.ob_addr = addrs;
                uo.ob_acc = ksi > 0;
                uo.quant = ksi + 1 == map.ks;
                uo.q_buf = opt.out_buf;
            }
        }
    }
    Ok(Schedule {
        cfg: *cfg,
        gemm,
        hw_gemm,
        dataflow,
        out: opt.out,
        map,
        uops,
        cycles: total as u64,
        configs: words.len(),
        in_buf: opt.in_buf,
        out_buf: opt.out_buf,
        starts,
        config_words,
        row_vectors,
        window,
        acc_in: false,
        quantize: true,
        groups: opt.groups,
    })
}

fn capacity(
    cfg: &FeatherConfig,
    what: &'static str,
    need: usize,
    have: u32,
) -> Result<(), MapError> {
    if need > have as usize {
        Err(MapError::Capacity {
            what,
            need,
            have: have as usize,
            cfg: cfg.module_name(),
        })
    } else {
        Ok(())
    }
}

/// Whether a mapping's operands fit the buffers.
fn fits(cfg: &FeatherConfig, map: &Mapping) -> Result<(), MapError> {
    capacity(
        cfg,
        "the streamed operand",
        map.ks * map.mb * map.v,
        cfg.s_depth,
    )?;
    capacity(
        cfg,
        "the stationary operand",
        map.tiles() * map.rows * map.v,
        cfg.w_depth,
    )
}

/// The fastest split `AW = G·Pn·Pm` (powers of two) that the layout allows and the buffers
/// hold; when none fits, the fastest one's capacity error.
fn best_mapping(
    cfg: &FeatherConfig,
    gemm: &Gemm,
    layout: &HwLayout,
    single_pn: bool,
    groups: usize,
) -> Result<Mapping, MapError> {
    let map = fastest(cfg, gemm, layout, true, single_pn, groups).ok_or_else(|| {
        if groups > 1 {
            MapError::Groups(groups)
        } else {
            MapError::Conflict("no split of the columns avoids bank conflicts".into())
        }
    })?;
    fits(cfg, &map)?;
    Ok(map)
}

/// The fastest conflict-free split; with `respect_capacity`, splits that fit the buffers
/// come first.
fn fastest(
    cfg: &FeatherConfig,
    gemm: &Gemm,
    layout: &HwLayout,
    respect_capacity: bool,
    single_pn: bool,
    groups: usize,
) -> Option<Mapping> {
    let aw = cfg.aw as usize;
    let (max_pn, max_pm) = layout.limits(aw);
    let max_pn = if single_pn { 1 } else { max_pn };
    let mut best: Option<(bool, u64, Mapping)> = None;
    let mut pn = 1;
    while pn <= max_pn {
        let mut pm = 1;
        while pm <= max_pm && pn * pm <= aw {
            let g = aw / (pn * pm);
            for blocked in [false, true] {
                // Named layouts want consecutive channels in a row vector (interleaved).
                if blocked && (pn == 1 || matches!(layout.out, Out::Layout(_))) {
                    continue;
                }
                // Grouped GEMMs: every column serves one of them (`Schedule::groups`).
                let split = if layout.transposed { pn } else { pm };
                if split % groups != 0 || (layout.transposed && blocked) {
                    continue;
                }
                let map = Mapping::new(cfg, gemm, g, pn, pm, blocked);
                let c = predict_cycles(cfg, &map);
                let ok = !respect_capacity || fits(cfg, &map).is_ok();
                let better = best.as_ref().is_none_or(|(bok, bc, _)| {
                    (ok, std::cmp::Reverse(c)) > (*bok, std::cmp::Reverse(*bc))
                });
                if better
                    && (matches!(layout.out, Out::Layout(_))
                        || conflict(&map, gemm, layout).is_none())
                {
                    best = Some((ok, c, map));
                }
            }
            pm *= 2;
        }
        pn *= 2;
    }
    best.map(|b| b.2)
}

/// A layer planned with the timing model only (no schedule, no routing).
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub map: Mapping,
    pub cycles: u64,
    /// Buffer lines the layer needs: streamed operand, stationary operand, output.
    pub s_lines: usize,
    pub w_lines: usize,
    pub o_lines: usize,
}

impl Plan {
    /// Whether the buffers hold the layer as the compiler requires: the streamed operand and
    /// the quantized outputs in a streaming buffer, the weights, the sums in the output buffer.
    pub fn fits(&self, cfg: &FeatherConfig) -> bool {
        self.s_lines.max(self.o_lines) <= cfg.s_depth as usize
            && self.w_lines <= cfg.w_depth as usize
            && self.o_lines <= cfg.o_depth as usize
    }
}

/// Plans a GEMM as `compile` would, ignoring buffer capacity (for whole-network estimates:
/// operands are assumed resident; the traffic that tiling them through DRAM would add is not
/// modelled).
pub fn plan(cfg: &FeatherConfig, gemm: Gemm, dataflow: Dataflow, layout: Layout) -> Plan {
    plan_grouped(cfg, gemm, dataflow, layout, 1).expect("named layouts always map")
}

/// `plan` for `groups` GEMMs side by side (`Schedule::groups`); None when no split of the
/// columns gives every column one of them (the layout's limits).
pub fn plan_grouped(
    cfg: &FeatherConfig,
    gemm: Gemm,
    dataflow: Dataflow,
    layout: Layout,
    groups: usize,
) -> Option<Plan> {
    let (hw_gemm, hw) = hardware_view(gemm, dataflow, Out::Layout(layout));
    let map = fastest(cfg, &hw_gemm, &hw, false, false, groups)?;
    Some(Plan {
        map,
        cycles: predict_cycles(cfg, &map),
        s_lines: map.ks * map.mb * map.v,
        w_lines: map.tiles() * map.rows * map.v,
        o_lines: layout.lines(gemm.m, gemm.n),
    })
}

/// Plans a convolution streamed from its compact input (`Stream::Window`) with the timing
/// model only; `s_lines` is the compact input's size.
pub fn plan_window(
    cfg: &FeatherConfig,
    shape: &ConvShape,
    layout: Layout,
) -> Result<Plan, MapError> {
    Ok(plan_of(cfg, &Window::new(cfg, shape)?, layout))
}

/// The timing-model plan of a window (a whole layer or a band).
pub fn plan_of(cfg: &FeatherConfig, win: &Window, layout: Layout) -> Plan {
    let (_, map) = window_mapping(cfg, win);
    let g = win_gemm(win);
    Plan {
        map,
        cycles: predict_cycles(cfg, &map),
        s_lines: win.lines(),
        w_lines: map.tiles() * map.rows * map.v,
        o_lines: layout.lines(g.m, g.n),
    }
}

/// The lowered GEMM of the pixels a window covers.
fn win_gemm(win: &Window) -> Gemm {
    let sh = &win.shape;
    Gemm {
        m: win.pixels(),
        k: sh.c * sh.r * sh.s,
        n: sh.k,
    }
}

/// The GEMM the array runs for a window (every column's taps padded to whole VNs) and its
/// split: G = AW (each column one channel residue), VN length the window's.
fn window_mapping(cfg: &FeatherConfig, win: &Window) -> (Gemm, Mapping) {
    let hw_gemm = Gemm {
        k: win.hw_k(),
        ..win_gemm(win)
    };
    let map = Mapping::with_v(win.v, &hw_gemm, cfg.aw as usize, 1, 1, false);
    (hw_gemm, map)
}

/// The convolution a window stream is asked for, if it can have one: a convolution
/// (`shape`: Some) in the weights-stationary dataflow.
pub fn window_shape(shape: Option<&ConvShape>, dataflow: Dataflow) -> Result<&ConvShape, MapError> {
    let sh = shape.ok_or_else(|| MapError::Window("only convolutions have windows".into()))?;
    if dataflow != Dataflow::Ws {
        return Err(MapError::Window(
            "only the weights-stationary dataflow streams windows".into(),
        ));
    }
    Ok(sh)
}

/// Which way a convolution's input is streamed, as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamChoice {
    /// Windows from the compact input when the timing model says they are no slower, or when
    /// only the compact input fits the buffers; else the lowered input.
    Auto,
    Window,
    Lowered,
}

impl std::str::FromStr for StreamChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(StreamChoice::Auto),
            "window" => Ok(StreamChoice::Window),
            "lowered" => Ok(StreamChoice::Lowered),
            _ => Err(format!(
                "unknown stream {s:?} (expected auto, window or lowered)"
            )),
        }
    }
}

/// The stream for a layer (`shape`: Some for a convolution) and its plan. `Window` for a GEMM,
/// for the inputs-stationary dataflow or for a shape the walker cannot hold is an error.
pub fn choose_stream(
    cfg: &FeatherConfig,
    gemm: Gemm,
    shape: Option<&ConvShape>,
    dataflow: Dataflow,
    layout: Layout,
    choice: StreamChoice,
) -> Result<(Stream, Plan), MapError> {
    let lowered = || (Stream::Placed, plan(cfg, gemm, dataflow, layout));
    let window = || -> Result<(Stream, Plan), MapError> {
        let sh = window_shape(shape, dataflow)?;
        Ok((Stream::Window(*sh), plan_window(cfg, sh, layout)?))
    };
    match choice {
        StreamChoice::Lowered => Ok(lowered()),
        StreamChoice::Window => window(),
        StreamChoice::Auto => {
            let low = lowered();
            let Ok(win) = window() else { return Ok(low) };
            let take_window = win.1.cycles <= low.1.cycles || (win.1.fits(cfg) && !low.1.fits(cfg));
            Ok(if take_window { win } else { low })
        }
    }
}

/// An operand matrix's element (row, column, the GEMM a column serves).
type Operand<'a> = Box<dyn Fn(usize, usize, usize) -> u8 + 'a>;

/// Where the host puts the operands: streaming-buffer lines (AW bytes each) and weight-buffer
/// lines, for operand matrices A (M×K) and B (K×N) of the *original* GEMM — or, when the
/// schedule streams windows, A is the convolution's compact NHWC input (N·H·W × C) and B its
/// lowered filters. Unused bytes hold the zero point, so padding contributes nothing. For
/// grouped GEMMs (`Schedule::groups`) B is the `groups` stacked K×N matrices, and each column
/// gets its own GEMM's operand.
pub fn place(
    sched: &Schedule,
    a: &[u8],
    b: &[u8],
    zp_i: u8,
    zp_w: u8,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let g = sched.gemm;
    let map = &sched.map;
    let aw = sched.cfg.aw as usize;
    let groups = sched.groups;
    assert_eq!(
        b.len(),
        groups * g.k * g.n,
        "B: {groups} stacked K×N matrices"
    );
    // The hardware's streamed matrix X (Mh × K) and stationary Y (K × Nh), given the GEMM a
    // column serves (always 0 unless grouped).
    let (x, y): (Operand<'_>, Operand<'_>) = match sched.dataflow {
        Dataflow::Ws => (
            Box::new(|m, k, _| a[m * g.k + k]),
            Box::new(|k, n, grp| b[(grp * g.k + k) * g.n + n]),
        ),
        Dataflow::Is => (
            Box::new(|m, k, grp| b[(grp * g.k + k) * g.n + m]),
            Box::new(|k, n, _| a[n * g.k + k]),
        ),
    };
    // For IS the streamed operand is B's columns and the zero points swap roles with them.
    let (zx, zy) = match sched.dataflow {
        Dataflow::Ws => (zp_i, zp_w),
        Dataflow::Is => (zp_w, zp_i),
    };
    let hg = sched.hw_gemm;
    if let Some(win) = &sched.window {
        let c = win.shape.c;
        assert_eq!(
            a.len(),
            win.lines() / win.cb * c,
            "the compact input (or slab)"
        );
        let mut s_lines = vec![vec![zx; aw]; win.lines()];
        for (i, &x) in a.iter().enumerate() {
            let (pixel, ch) = (i / c, i % c);
            s_lines[pixel * win.cb + ch / aw][ch % aw] = x;
        }
        let w_lines = weight_lines(sched, zy, &|k, n, _| {
            win.weight_row(k).map(|row| b[row * g.n + n])
        });
        return (s_lines, w_lines);
    }
    let mut s_lines = vec![vec![zx; aw]; map.ks * map.mb * map.v];
    for ksi in 0..map.ks {
        for j in 0..map.mb {
            for kk in 0..map.v {
                let line = &mut s_lines[(ksi * map.mb + j) * map.v + kk];
                for gi in 0..map.g {
                    let k = (ksi * map.g + gi) * map.v + kk;
                    for pm in 0..map.pm {
                        let m = j * map.pm + pm;
                        if k < hg.k && m < hg.m {
                            for pn in 0..map.pn {
                                line[map.column(gi, pm, pn)] = x(m, k, sched.group_of(pm, pn));
                            }
                        }
                    }
                }
            }
        }
    }
    let w_lines = weight_lines(sched, zy, &|k, n, grp| {
        (k < hg.k && n < hg.n).then(|| y(k, n, grp))
    });
    (s_lines, w_lines)
}

/// Weight-buffer lines for the stationary matrix `y(k, n, group)` of the hardware's GEMM
/// (None: padding, which holds the stationary operand's zero point); `group` is the GEMM the
/// column serves (`Schedule::groups`).
fn weight_lines(
    sched: &Schedule,
    zy: u8,
    y: &dyn Fn(usize, usize, usize) -> Option<u8>,
) -> Vec<Vec<u8>> {
    let map = &sched.map;
    let aw = sched.cfg.aw as usize;
    let hg = sched.hw_gemm;
    let mut w_lines = vec![vec![zy; aw]; map.tiles() * map.rows * map.v];
    for i in 0..map.tiles() {
        let (nbi, ksi) = (i / map.ks, i % map.ks);
        for r in 0..map.rows {
            for kk in 0..map.v {
                let line = &mut w_lines[(i * map.rows + r) * map.v + kk];
                for gi in 0..map.g {
                    let k = (ksi * map.g + gi) * map.v + kk;
                    for pn in 0..map.pn {
                        let n = map.channel(nbi, r, pn);
                        if n >= hg.n {
                            continue;
                        }
                        for pm in 0..map.pm {
                            if let Some(v) = y(k, n, sched.group_of(pm, pn)) {
                                line[map.column(gi, pm, pn)] = v;
                            }
                        }
                    }
                }
            }
        }
    }
    w_lines
}

/// Reads C (M×N, row-major) out of the output streaming buffer's lines.
pub fn gather(sched: &Schedule, out_lines: &[Vec<u8>]) -> Vec<u8> {
    let g = sched.gemm;
    let mut c = vec![0u8; g.m * g.n];
    for m in 0..g.m {
        for n in 0..g.n {
            let (bank, line) = sched.out.place(m, n, g.n);
            c[m * g.n + n] = out_lines[line][bank];
        }
    }
    c
}
