//! `plume feather net`: every convolution layer of a network (ResNet-50, MobileNet-V3; shapes in
//! `hw/data/conv_layers.csv`) through the compiler's timing model, with the best dataflow and
//! layout per layer; `--engine sim` also simulates every selected layer (`--layers A..B`) on
//! the programmable core, `--verify K` the K smallest; a table, `--json`, and `--plot`.

use super::cli::sized_for;
use super::layer::{compare, prepare, run_programmed, Layer};
use crate::error::{bad, failed, Result};
use crate::tools::TempDir;
use plume_hw::feather::compiler::depthwise::{fastest_block, DwBlock};
use plume_hw::feather::compiler::mapper::{
    compile_with, conv_gemm, plan, plan_window, Dataflow, Gemm, Layout, Options, Plan, Stream,
    StreamChoice,
};
use plume_hw::feather::compiler::route::RouteCache;
use plume_hw::feather::compiler::tiling::{TileError, Tiling};
use plume_hw::feather::golden::ConvShape;
use plume_hw::feather::top::FeatherConfig;

const CONV_LAYERS: &str = include_str!("../../hw/data/conv_layers.csv");

/// One row of conv_layers.csv.
#[derive(Clone, Debug)]
struct NetLayer {
    layer: usize,
    shape: ConvShape,
    depthwise: bool,
}

fn net_layers(net: &str) -> Result<Vec<NetLayer>> {
    let mut out = Vec::new();
    for (i, line) in CONV_LAYERS.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 12 || f[0] != net {
            continue;
        }
        let n = |j: usize| -> usize {
            f[j].parse()
                .unwrap_or_else(|_| panic!("conv_layers.csv line {}", i + 1))
        };
        let (r, s, stride) = (n(7), n(8), n(9));
        out.push(NetLayer {
            layer: n(1),
            shape: ConvShape {
                n: n(2),
                c: n(3),
                h: n(5) * stride,
                w: n(6) * stride,
                k: n(4),
                r,
                s,
                stride,
                pad: (r - 1) / 2,
                dilation: 1,
            },
            depthwise: f[11] == "depthwise",
        });
    }
    if out.is_empty() {
        return Err(bad(format!(
            "unknown network {net:?} (expected resnet50 or mobilenetv3)"
        )));
    }
    Ok(out)
}

/// How a depthwise layer runs (`compiler::depthwise`): `block` output pixels of a channel per
/// patch, `channels` channels side by side in one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Dw {
    block: DwBlock,
    channels: usize,
}

/// One run of a depthwise layer `sh`: `channels` of its channels.
fn run_shape(sh: &ConvShape, channels: usize) -> ConvShape {
    ConvShape {
        c: channels,
        k: channels,
        ..*sh
    }
}

/// A layer's plan: the GEMM one run computes, how many runs (a depthwise layer: one per group
/// of channels), the best dataflow, layout and plan of a run, and a depthwise layer's
/// blocking — all by the timing model.
struct LayerPlan {
    gemm: Gemm,
    runs: usize,
    df: Dataflow,
    layout: Layout,
    plan: Plan,
    dw: Option<Dw>,
}

fn layer_plan(cfg: &FeatherConfig, l: &NetLayer) -> LayerPlan {
    if !l.depthwise {
        let gemm = conv_gemm(&l.shape).expect("listed layers are valid");
        let (df, layout, plan) = best_plan(cfg, gemm);
        return LayerPlan {
            gemm,
            runs: 1,
            df,
            layout,
            plan,
            dw: None,
        };
    }
    // Every block of at most AH pixels, every power-of-two channel count up to AW that divides
    // C, both dataflows, every named layout: the fewest cycles over the whole layer.
    let c = l.shape.c;
    let mut best: Option<(u64, LayerPlan)> = None;
    let mut channels = 1;
    while channels <= cfg.aw as usize && c.is_multiple_of(channels) {
        let runs = c / channels;
        for df in [Dataflow::Ws, Dataflow::Is] {
            for layout in layouts(cfg.aw as usize) {
                let sh = run_shape(&l.shape, channels);
                let Some((block, gemm, plan)) = fastest_block(cfg, &sh, df, layout) else {
                    continue;
                };
                let total = plan.cycles * runs as u64;
                if best.as_ref().is_none_or(|b| total < b.0) {
                    let dw = Some(Dw { block, channels });
                    let lp = LayerPlan {
                        gemm,
                        runs,
                        df,
                        layout,
                        plan,
                        dw,
                    };
                    best = Some((total, lp));
                }
            }
        }
        channels *= 2;
    }
    best.expect("one channel in 1x1 blocks always maps").1
}

/// What one run of a layer computes: the convolution, or `dw.channels` channels of a
/// depthwise layer in its blocks.
fn run_layer(l: &NetLayer, dw: Option<Dw>) -> Layer {
    match dw {
        Some(d) => Layer::Depthwise {
            shape: run_shape(&l.shape, d.channels),
            block: d.block,
        },
        None => Layer::Conv(l.shape),
    }
}

/// The named layouts tried: channel-last, width-last and a mixed one.
fn layouts(aw: usize) -> [Layout; 3] {
    [
        Layout { cb: aw, wb: 1 },
        Layout { cb: 1, wb: aw },
        Layout {
            cb: 4.min(aw),
            wb: aw / 4.min(aw),
        },
    ]
}

/// The best (dataflow, layout) for a GEMM by the timing model.
fn best_plan(cfg: &FeatherConfig, g: Gemm) -> (Dataflow, Layout, Plan) {
    let mut best: Option<(Dataflow, Layout, Plan)> = None;
    for df in [Dataflow::Ws, Dataflow::Is] {
        for l in layouts(cfg.aw as usize) {
            let p = plan(cfg, g, df, l);
            if best.as_ref().is_none_or(|b| p.cycles < b.2.cycles) {
                best = Some((df, l, p));
            }
        }
    }
    best.expect("at least one plan")
}

/// How `plume feather net` runs the layers beyond the timing model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The timing model only (and `--verify K`).
    Model,
    /// Every selected layer simulated on the programmable core, buffers sized to it.
    Sim,
    /// Every selected layer tiled for the configuration's buffers and run through the
    /// AXI-wrapped top against the DRAM model.
    Board,
}

impl std::str::FromStr for Engine {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> Result<Engine> {
        match s {
            "model" => Ok(Engine::Model),
            "sim" => Ok(Engine::Sim),
            "board" => Ok(Engine::Board),
            e => Err(bad(format!(
                "unknown engine {e:?} (expected model, sim or board)"
            ))),
        }
    }
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Model => "model",
            Engine::Sim => "sim",
            Engine::Board => "board",
        }
    }
}

/// What `plume feather net` is asked for.
pub struct NetOptions {
    pub engine: Engine,
    /// The DRAM the board engine's DMA reads and writes.
    pub dram: super::host::Dram,
    /// Layer numbers (inclusive) as the network's table numbers them.
    pub layers: Option<(usize, usize)>,
    /// Also cycle-simulate the K smallest layers (with the model engine).
    pub verify: usize,
    pub json: bool,
    pub plot: Option<crate::output::FileTarget>,
    /// How the board engine tiles dense convolutions' inputs.
    pub stream: StreamChoice,
}

/// Parses `A..B` (or one number) into an inclusive range of layer numbers.
pub fn parse_layers(text: &str) -> Result<(usize, usize)> {
    let bad_range = || {
        bad(format!(
            "--layers {text:?}: expected A..B (layer numbers, A ≤ B) or one layer number"
        ))
    };
    let num = |t: &str| t.trim().parse::<usize>().map_err(|_| bad_range());
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let a = num(text)?;
            (a, a)
        }
    };
    if a > b {
        return Err(bad_range());
    }
    Ok((a, b))
}

/// One layer's line of the table.
struct Row {
    l: NetLayer,
    /// One run's GEMM, and how many runs the layer takes (a depthwise layer: one per group of
    /// `dw.channels` channels; every run has the same schedule).
    gemm: Gemm,
    groups: usize,
    /// A depthwise layer's blocking.
    dw: Option<Dw>,
    df: Dataflow,
    layout: Layout,
    plan: Plan,
    cycles: u64,
    macs: u64,
    /// Cycles to do the MACs with every PE busy.
    ideal: u64,
    /// (simulated cycles of one group, seconds) when simulated.
    sim: Option<(u64, f64)>,
    /// Run through the board (one group).
    board: Option<BoardRun>,
    /// The layer (one group) tiled for the --depths buffers as the board engine runs it, or
    /// why it cannot be; `dram` is its predicted bus cycles over all groups.
    tiling: Result<Tiling, TileError>,
    dram: Option<u64>,
    /// A dense layer streamed from its compact input (`--stream window`): the plan.
    window: Option<Plan>,
}

impl Row {
    /// Lines the layer's input activations take on chip (lowered): the streamed operand for
    /// weights stationary, the stationary one for inputs stationary.
    fn input_lines(&self) -> usize {
        match self.df {
            Dataflow::Ws => self.plan.s_lines,
            Dataflow::Is => self.plan.w_lines,
        }
    }

    /// The layer's data and golden output: a dense layer as the convolution, a depthwise
    /// layer's first run as its channels' depthwise convolution (both against the direct
    /// golden models).
    fn prepared(&self) -> Result<super::layer::Prepared> {
        Ok(prepare(&self.layer(), self.l.layer as u64)?)
    }

    /// What one run computes.
    fn layer(&self) -> Layer {
        run_layer(&self.l, self.dw)
    }

    /// GEMMs side by side in one run (`Schedule::groups`).
    fn channels(&self) -> usize {
        self.dw.map_or(1, |d| d.channels)
    }

    /// How much of the layer one simulated run is, for the progress lines and the notes.
    fn per_run(&self) -> String {
        match self.dw {
            Some(d) if self.groups > 1 => format!(
                " (one run of {} channels in {} blocks; all {} runs have that schedule)",
                d.channels,
                d.block.name(),
                self.groups
            ),
            Some(d) => format!(" ({} channels in {} blocks)", d.channels, d.block.name()),
            None => String::new(),
        }
    }
}

/// A progress line on stderr after layer `i` of `n`: `done` of `total` units of work, the
/// time left at the rate since `t0`.
fn progress(i: usize, n: usize, what: &str, done: u64, total: u64, t0: std::time::Instant) {
    let rate = done as f64 / t0.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "plume: [{}/{n}] {what}; {:.0} % done, about {:.0} s left",
        i + 1,
        100.0 * done as f64 / total.max(1) as f64,
        total.saturating_sub(done) as f64 / rate.max(1.0)
    );
}

/// One layer (one group of it) tiled through the AXI-wrapped top.
#[derive(Clone, Copy, Debug)]
struct BoardRun {
    tiles: usize,
    /// `CYCLES` summed over the tiles (= the compiler's).
    compute: u64,
    /// Bus cycles: loading, running, reading back.
    phases: [u64; 3],
    seconds: f64,
    /// Tiled as bands of the compact input (else tiles of the lowered matrix).
    window: bool,
    /// Double-buffered: the next tile's operands loaded while one runs.
    double: bool,
    /// Load transfer cycles that ran beside a tile's run (inside `phases[1]`).
    overlapped: u64,
}

pub fn net_cmd(net: &str, cfg: &FeatherConfig, opts: &NetOptions) -> Result<()> {
    let all = net_layers(net)?;
    let layers: Vec<NetLayer> = match opts.layers {
        None => all,
        Some((a, b)) => {
            let last = all.last().map_or(0, |l| l.layer);
            if a < 1 || b > last {
                return Err(bad(format!(
                    "--layers {a}..{b}: {net} has layers 1..{last}"
                )));
            }
            all.into_iter()
                .filter(|l| (a..=b).contains(&l.layer))
                .collect()
        }
    };
    let pes = (cfg.ah * cfg.aw) as u64;
    let cpl = opts.dram.line_cycles(cfg.aw);
    let mut rows: Vec<Row> = layers
        .iter()
        .map(|l| {
            let LayerPlan {
                gemm: g,
                runs: groups,
                df,
                layout,
                plan: p,
                dw,
            } = layer_plan(cfg, l);
            // The layer's own MACs (a depthwise layer's R·S per output, not its patch GEMM's).
            let macs = run_layer(l, dw).macs().expect("listed layers are valid") * groups as u64;
            let tiling = tiling_of(cfg, l, g, dw, (df, layout), cpl, opts.stream);
            let dram = tiling
                .as_ref()
                .ok()
                .map(|t| t.predicted(cpl).round() as u64 * groups as u64);
            Row {
                l: l.clone(),
                gemm: g,
                groups,
                dw,
                df,
                layout,
                cycles: p.cycles * groups as u64,
                plan: p,
                macs,
                ideal: macs.div_ceil(pes),
                sim: None,
                board: None,
                tiling,
                dram,
                window: if l.depthwise {
                    None
                } else {
                    plan_window(cfg, &l.shape, layout).ok()
                },
            }
        })
        .collect();
    match opts.engine {
        Engine::Board => board_all(cfg, opts.dram, &mut rows)?,
        Engine::Sim => simulate_all(cfg, &mut rows)?,
        Engine::Model => {}
    }
    if opts.engine == Engine::Model && opts.verify > 0 {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| rows[i].macs);
        for &i in order.iter().take(opts.verify) {
            let (c, secs) = simulate(cfg, &rows[i])?;
            rows[i].sim = Some((c, secs));
        }
    }
    if let Some(t) = &opts.plot {
        crate::output::write_file(t, &plot(net, cfg, &rows, t.path())?)?;
    }
    if opts.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&json(net, cfg, opts, &rows))?
        );
    } else {
        table(net, cfg, opts, &rows)?;
    }
    if let Some(t) = &opts.plot {
        if !opts.json {
            crate::outln!("plot: {}", t.path().display());
        }
    }
    Ok(())
}

/// Compiles and simulates one layer (a depthwise layer's first run: every run has the same
/// schedule), checks the output against the golden model and the cycles against the timing
/// model; returns the simulated cycles and seconds.
fn simulate(cfg: &FeatherConfig, row: &Row) -> Result<(u64, f64)> {
    let l = &row.l;
    let p = &row.plan;
    let sized = sized_for(cfg, p)?;
    let mut cache = RouteCache::new();
    let opt = Options::layer(row.df, row.layout, Stream::Placed).grouped(row.channels());
    let sched = compile_with(&sized, row.gemm, &opt, &mut cache)?;
    let prep = row.prepared()?;
    let dir = TempDir::new("feather-net")?;
    let r = run_programmed(&sched, &prep.data, None, None, dir.path())?;
    compare(&sched, &r.out, &prep.golden).map_err(|e| failed(format!("layer {}: {e}", l.layer)))?;
    if r.cycles != p.cycles {
        return Err(failed(format!(
            "layer {}: the timing model predicts {} cycles but the simulation took {}",
            l.layer, p.cycles, r.cycles
        )));
    }
    Ok((r.cycles, r.sim_seconds))
}

/// Every row simulated in order, a progress line on stderr after each with the time left
/// (the cycles still to simulate at the rate so far).
fn simulate_all(cfg: &FeatherConfig, rows: &mut [Row]) -> Result<()> {
    let total: u64 = rows.iter().map(|r| r.plan.cycles).sum();
    let t0 = std::time::Instant::now();
    let mut done = 0u64;
    let n = rows.len();
    for (i, row) in rows.iter_mut().enumerate() {
        let (c, secs) = simulate(cfg, row)?;
        row.sim = Some((c, secs));
        done += c;
        let what = format!(
            "layer {}: {c} cycles simulated{}, bit-exact, = timing model",
            row.l.layer,
            row.per_run(),
        );
        progress(i, n, &what, done, total, t0);
    }
    Ok(())
}

/// A layer (one run: `gemm`) tiled for the configuration's buffers as the board engine runs
/// it (a depthwise layer: one run's grouped patch GEMM, no windows), a buffer line costing
/// `cpl` cycles.
fn tiling_of(
    cfg: &FeatherConfig,
    l: &NetLayer,
    gemm: Gemm,
    dw: Option<Dw>,
    (df, layout): (Dataflow, Layout),
    cpl: f64,
    stream: StreamChoice,
) -> std::result::Result<Tiling, TileError> {
    use plume_hw::feather::compiler::tiling::{tile_groups, tile_layer};
    match dw {
        Some(d) => tile_groups(cfg, gemm, d.channels, df, layout, cpl),
        None => tile_layer(cfg, gemm, Some(&l.shape), df, layout, stream, cpl),
    }
}

/// Every row tiled for the configuration's buffers and run through the AXI-wrapped top (a
/// depthwise layer: its first run), output bit-exact, every tile's `CYCLES` the compiler's; a
/// progress line after each layer.
fn board_all(cfg: &FeatherConfig, dram: super::host::Dram, rows: &mut [Row]) -> Result<()> {
    use super::host::{run_tiled, Stalls};
    let seq = plume_hw::feather::sequencer::SeqConfig::default();
    let tilings = rows
        .iter()
        .map(|r| {
            r.tiling
                .as_ref()
                .cloned()
                .map_err(|e| bad(format!("layer {}: {e}", r.l.layer)))
        })
        .collect::<Result<Vec<_>>>()?;
    // Work estimate for the time left: compute cycles plus one bus beat per line moved.
    let work =
        |t: &plume_hw::feather::compiler::tiling::Tiling| t.compute_cycles() + t.moved_lines();
    let total: u64 = tilings.iter().map(work).sum();
    let (t0, mut done, n) = (std::time::Instant::now(), 0u64, rows.len());
    for (i, (row, t)) in rows.iter_mut().zip(&tilings).enumerate() {
        let prep = row.prepared()?;
        let started = std::time::Instant::now();
        let r = run_tiled(
            cfg,
            &seq,
            t,
            row.df,
            row.layout,
            prep.data.streamed(t.window.is_some()),
            &prep.data.b,
            &prep.data.q,
            Stalls::default(),
            dram,
            false,
        )
        .map_err(|e| failed(format!("layer {}: {e:#}", row.l.layer)))?;
        super::layer::compare_tensor(&r.out, &prep.golden, row.gemm.n)
            .map_err(|e| failed(format!("layer {}: {e}", row.l.layer)))?;
        r.verify()
            .map_err(|e| failed(format!("layer {}: {e:#}", row.l.layer)))?;
        row.board = Some(BoardRun {
            tiles: t.tiles.len(),
            compute: r.compute_cycles(),
            phases: r.phases(),
            seconds: started.elapsed().as_secs_f64(),
            window: t.window.is_some(),
            double: t.double,
            overlapped: r.overlapped(),
        });
        done += work(t);
        let what = format!(
            "layer {}: {} {} through the AXI top{}, bit-exact, CYCLES = the compiler's",
            row.l.layer,
            t.tiles.len(),
            if t.window.is_some() {
                "bands of the compact input"
            } else {
                "tiles"
            },
            row.per_run(),
        );
        progress(i, n, &what, done, total, t0);
    }
    Ok(())
}

fn shape_text(l: &NetLayer) -> String {
    let sh = l.shape;
    format!(
        "{},{},{},{},{},{},{},{}{}",
        sh.n,
        sh.c,
        sh.h,
        sh.w,
        sh.k,
        sh.r,
        sh.s,
        sh.stride,
        if l.depthwise { " dw" } else { "" }
    )
}

/// The shape column of a row: a depthwise layer also names its blocks and channels per run.
fn row_shape_text(r: &Row) -> String {
    match r.dw {
        Some(d) => format!("{} {}/{}", shape_text(&r.l), d.block.name(), d.channels),
        None => shape_text(&r.l),
    }
}

fn table(net: &str, cfg: &FeatherConfig, opts: &NetOptions, rows: &[Row]) -> Result<()> {
    let pes = (cfg.ah * cfg.aw) as u64;
    crate::outln!(
        "{net} on FEATHER {}x{} ({} BIRRD), timing model per layer (best dataflow and layout; `cycles`: operands resident on chip; `with DRAM`: the bus cycles the tiler predicts for the layer tiled for {},{},{}-line buffers, loading from DRAM at {} cycles of latency and {} bytes per cycle){}",
        cfg.ah,
        cfg.aw,
        cfg.topology,
        cfg.s_depth,
        cfg.w_depth,
        cfg.o_depth,
        opts.dram.latency,
        opts.dram.bytes_per_cycle,
        if opts.engine == Engine::Sim {
            "; every layer also simulated"
        } else {
            ""
        }
    );
    crate::outln!(
        "{:>5}  {:<34} {:>3} {:>10} {:>12} {:>12} {:>14} {:>6} {:>10} {:>16} {:>12}",
        "layer",
        "shape (N,C,H,W,K,R,S,stride)",
        "df",
        "layout",
        "cycles",
        "with DRAM",
        "MACs",
        "util",
        "simulated",
        "input lines",
        "window cyc"
    );
    let (mut cycles, mut macs, mut secs, mut dram) = (0u64, 0u64, 0f64, 0u64);
    for r in rows {
        cycles += r.cycles;
        dram += r.dram.unwrap_or(0);
        macs += r.macs;
        let sim = match r.sim {
            Some((_, s)) => {
                secs += s;
                format!("{s:.2} s")
            }
            None => "-".into(),
        };
        let (lines, wcyc) = match &r.window {
            Some(w) => (
                format!("{} → {}", r.input_lines(), w.s_lines),
                w.cycles.to_string(),
            ),
            None => (r.input_lines().to_string(), "-".into()),
        };
        crate::outln!(
            "{:>5}  {:<34} {:>3} {:>10} {:>12} {:>12} {:>14} {:>5.1}% {:>10} {:>16} {:>12}",
            r.l.layer,
            row_shape_text(r),
            r.df.to_string(),
            r.layout.name(),
            r.cycles,
            r.dram.map_or("-".into(), |d| d.to_string()),
            r.macs,
            100.0 * r.macs as f64 / (pes * r.cycles) as f64,
            sim,
            lines,
            wcyc
        );
    }
    crate::outln!(
        "total  {:<34} {:>3} {:>10} {:>12} {:>12} {:>14} {:>5.1}% {:>10}",
        format!("{} layers", rows.len()),
        "",
        "",
        cycles,
        // A partial sum would read as the network's.
        if rows.iter().all(|r| r.dram.is_some()) {
            dram.to_string()
        } else {
            "-".into()
        },
        macs,
        100.0 * macs as f64 / (pes * cycles).max(1) as f64,
        if rows.iter().any(|r| r.sim.is_some()) {
            format!("{secs:.1} s")
        } else {
            "-".into()
        }
    );
    // Layers whose compact input is smaller than the lowered one.
    let smaller: Vec<(&Row, &Plan)> = rows
        .iter()
        .filter_map(|r| r.window.as_ref().map(|w| (r, w)))
        .filter(|(r, w)| w.s_lines < r.input_lines())
        .collect();
    if !smaller.is_empty() {
        let largest = |compact: bool| {
            rows.iter()
                .map(|r| match (&r.window, compact) {
                    (Some(w), true) => w.s_lines.min(r.input_lines()),
                    _ => r.input_lines(),
                })
                .max()
                .unwrap_or(0)
        };
        crate::outln!(
            "input lines: the activations' lines as the layer stores them, lowered (im2col, in the mapping's placement) → compact NHWC (--stream window, the windows walked by the sequencer); on the {} layers where compact is smaller, window streaming takes {} cycles against {} lowered; largest layer input {} lines lowered, {} taking the smaller of the two per layer",
            smaller.len(),
            smaller.iter().map(|(_, w)| w.cycles).sum::<u64>(),
            smaller.iter().map(|(r, _)| r.cycles).sum::<u64>(),
            largest(false),
            largest(true)
        );
    }
    if rows.iter().any(|r| r.board.is_some()) {
        board_table(cfg, opts.dram, rows)?;
    }
    let simulated: Vec<&Row> = rows.iter().filter(|r| r.sim.is_some()).collect();
    if !simulated.is_empty() {
        let dw = simulated.iter().filter(|r| r.l.depthwise).count();
        crate::outln!(
            "simulated {} layers on the programmable core (sequencer, buffers sized per layer): every output bit-exact against the golden model, every cycle count equal to the timing model{}",
            simulated.len(),
            if dw > 0 {
                format!("; {dw} depthwise layers simulated for their first run of channels (every run has that schedule)")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// The board run's table: per layer the tiles, the compute cycles (`CYCLES`, summed) and the
/// bus cycles of each phase, all channels of a depthwise layer counted (one simulated).
fn board_table(cfg: &FeatherConfig, dram: super::host::Dram, rows: &[Row]) -> Result<()> {
    let pes = (cfg.ah * cfg.aw) as u64;
    crate::outln!(
        "through the AXI-wrapped top on {},{},{}-line buffers against DRAM with {} cycles of latency and {} bytes per cycle (buf 1: tiles one after another; buf 2: double-buffered, the next tile's operands loading while one runs — `hidden` of the run cycles; operands a tile shares with the one before are not loaded again):",
        cfg.s_depth,
        cfg.w_depth,
        cfg.o_depth,
        dram.latency,
        dram.bytes_per_cycle
    );
    crate::outln!(
        "{:>5} {:>8} {:>7} {:>3} {:>12} {:>6} {:>12} {:>12} {:>12} {:>12} {:>12} {:>9}",
        "layer",
        "input",
        "tiles",
        "buf",
        "compute",
        "util",
        "load",
        "run",
        "hidden",
        "read-back",
        "bus total",
        "time"
    );
    let mut tot = [0u64; 6];
    let mut secs = 0.0;
    for r in rows {
        let Some(b) = r.board else { continue };
        let g = r.groups as u64;
        let bus = b.phases.iter().sum::<u64>();
        let v = [
            b.compute * g,
            b.phases[0] * g,
            b.phases[1] * g,
            b.overlapped * g,
            b.phases[2] * g,
            bus * g,
        ];
        for (t, x) in tot.iter_mut().zip(v) {
            *t += x;
        }
        secs += b.seconds;
        crate::outln!(
            "{:>5} {:>8} {:>7} {:>3} {:>12} {:>5.1}% {:>12} {:>12} {:>12} {:>12} {:>12} {:>7.2} s",
            r.l.layer,
            if b.window { "window" } else { "lowered" },
            b.tiles * r.groups,
            if b.double { 2 } else { 1 },
            v[0],
            100.0 * r.macs as f64 / (pes * v[0]) as f64,
            v[1],
            v[2],
            v[3],
            v[4],
            v[5],
            b.seconds
        );
    }
    let macs: u64 = rows
        .iter()
        .filter(|r| r.board.is_some())
        .map(|r| r.macs)
        .sum();
    crate::outln!(
        "total {:>8} {:>7} {:>3} {:>12} {:>5.1}% {:>12} {:>12} {:>12} {:>12} {:>12} {:>7.1} s",
        "",
        "",
        "",
        tot[0],
        100.0 * macs as f64 / (pes * tot[0]).max(1) as f64,
        tot[1],
        tot[2],
        tot[3],
        tot[4],
        tot[5],
        secs
    );
    let predicted: u64 = rows
        .iter()
        .filter(|r| r.board.is_some())
        .filter_map(|r| r.dram)
        .sum();
    crate::outln!(
        "the tiler predicted {predicted} bus cycles for these layers (the model table's `with DRAM`); simulated {} ({:.3}×)",
        tot[5],
        tot[5] as f64 / predicted.max(1) as f64
    );
    Ok(())
}

fn json(net: &str, cfg: &FeatherConfig, opts: &NetOptions, rows: &[Row]) -> serde_json::Value {
    let pes = (cfg.ah * cfg.aw) as u64;
    let layers: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let sh = r.l.shape;
            serde_json::json!({
                "layer": r.l.layer,
                "shape": {"n": sh.n, "c": sh.c, "h": sh.h, "w": sh.w, "k": sh.k, "r": sh.r,
                          "s": sh.s, "stride": sh.stride, "pad": sh.pad},
                "depthwise": r.l.depthwise,
                "groups": r.groups,
                "depthwise_blocks": r.dw.map(|d| serde_json::json!({
                    "block": d.block.name(), "channels_per_run": d.channels,
                })),
                "gemm": {"m": r.gemm.m, "k": r.gemm.k, "n": r.gemm.n},
                "dataflow": r.df.to_string(),
                "layout": r.layout.name(),
                "cycles": r.cycles,
                "ideal_cycles": r.ideal,
                "macs": r.macs,
                "utilisation": r.macs as f64 / (pes * r.cycles) as f64,
                "buffer_lines": {"streamed": r.plan.s_lines, "stationary": r.plan.w_lines,
                                 "output": r.plan.o_lines},
                "window": r.window.map(|w| serde_json::json!({
                    "input_lines": w.s_lines, "cycles": w.cycles,
                })),
                "predicted_bus_cycles_with_dram": r.dram,
                "simulated_cycles": r.sim.map(|s| s.0),
                "sim_seconds": r.sim.map(|s| s.1),
                "board": r.board.map(|b| serde_json::json!({
                    "tiles": b.tiles, "compute_cycles": b.compute,
                    "input": if b.window { "window" } else { "lowered" },
                    "load_cycles": b.phases[0], "run_cycles": b.phases[1],
                    "readback_cycles": b.phases[2], "seconds": b.seconds,
                    "double_buffered": b.double, "overlapped_load_cycles": b.overlapped,
                    "per": if r.groups > 1 { "one run" } else { "layer" },
                })),
            })
        })
        .collect();
    let cycles: u64 = rows.iter().map(|r| r.cycles).sum();
    let macs: u64 = rows.iter().map(|r| r.macs).sum();
    serde_json::json!({
        "net": net,
        "array": format!("{}x{}", cfg.ah, cfg.aw),
        "topology": cfg.topology.to_string(),
        "engine": opts.engine.name(),
        "dram": {"latency_cycles": opts.dram.latency, "bytes_per_cycle": opts.dram.bytes_per_cycle,
                 "buffer_lines": [cfg.s_depth, cfg.w_depth, cfg.o_depth],
                 "cycles": "operands resident on chip",
                 "predicted_bus_cycles_with_dram": "the layer tiled for the buffers, loading from this DRAM"},
        "layers": layers,
        "total": {"cycles": cycles, "macs": macs,
                  "utilisation": macs as f64 / (pes * cycles).max(1) as f64,
                  "predicted_bus_cycles_with_dram": rows.iter().map(|r| r.dram).sum::<Option<u64>>()},
    })
}

/// Per-layer utilisation as bars (depthwise layers in orange) over where the cycles go:
/// the share the MACs need with every PE busy, and the rest (weight loads, pipeline fill,
/// idle PEs).
fn plot(net: &str, cfg: &FeatherConfig, rows: &[Row], name: &std::path::Path) -> Result<Vec<u8>> {
    crate::plot::render(
        name,
        (1200, 720),
        |root| draw_net(root, net, cfg, rows),
        |root| draw_net(root, net, cfg, rows),
    )
}

fn draw_net<DB: plotters::prelude::DrawingBackend>(
    root: plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    net: &str,
    cfg: &FeatherConfig,
    rows: &[Row],
) -> std::result::Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    use plotters::prelude::*;
    {
        root.fill(&WHITE)?;
        let (top, bottom) = root.split_vertically(340);
        let n = rows.len();
        let pes = (cfg.ah * cfg.aw) as f64;
        let cycles: u64 = rows.iter().map(|r| r.cycles).sum();
        let macs: u64 = rows.iter().map(|r| r.macs).sum();
        let mut c = ChartBuilder::on(&top)
            .caption(
                format!(
                    "{net} on FEATHER {}x{}: {} cycles, {:.1} % utilisation (timing model{})",
                    cfg.ah,
                    cfg.aw,
                    cycles,
                    100.0 * macs as f64 / (pes * cycles as f64),
                    if rows.iter().all(|r| r.sim.is_some()) {
                        " = simulation"
                    } else {
                        ""
                    }
                ),
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..n as f64, 0f64..100f64)?;
        c.configure_mesh()
            .x_desc("layer (in network order)")
            .y_desc("PE utilisation (%)")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_label_formatter(&|x| {
                rows.get(*x as usize)
                    .map_or(String::new(), |r| r.l.layer.to_string())
            })
            .draw()?;
        c.draw_series(rows.iter().enumerate().map(|(i, r)| {
            let u = 100.0 * r.macs as f64 / (pes * r.cycles as f64);
            let color = if r.l.depthwise {
                RGBColor(230, 140, 30)
            } else {
                RGBColor(60, 110, 190)
            };
            Rectangle::new([(i as f64 + 0.1, 0.0), (i as f64 + 0.9, u)], color.filled())
        }))?;
        let cmax = rows.iter().map(|r| r.cycles).max().unwrap_or(1) as f64 * 1.05;
        let mut c2 = ChartBuilder::on(&bottom)
            .caption(
                "cycles per layer: coloured = the MACs at full utilisation (orange: depthwise), grey = the rest (weight loads, pipeline fill, idle PEs)",
                ("sans-serif", 14),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(75)
            .build_cartesian_2d(0f64..n as f64, 0f64..cmax)?;
        c2.configure_mesh()
            .x_desc("layer (in network order)")
            .y_desc("cycles")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_label_formatter(&|x| {
                rows.get(*x as usize)
                    .map_or(String::new(), |r| r.l.layer.to_string())
            })
            .draw()?;
        c2.draw_series(rows.iter().enumerate().map(|(i, r)| {
            Rectangle::new(
                [
                    (i as f64 + 0.1, r.ideal as f64),
                    (i as f64 + 0.9, r.cycles as f64),
                ],
                RGBColor(170, 170, 170).filled(),
            )
        }))?;
        c2.draw_series(rows.iter().enumerate().map(|(i, r)| {
            let color = if r.l.depthwise {
                RGBColor(230, 140, 30)
            } else {
                RGBColor(60, 110, 190)
            };
            Rectangle::new(
                [(i as f64 + 0.1, 0.0), (i as f64 + 0.9, r.ideal as f64)],
                color.filled(),
            )
        }))?;
        root.present()?;
        Ok(())
    }
}
