//! The FEATHER commands: `plume feather run | net | switch | export`.

use super::layer::{compare, prepare, run, run_programmed, Layer, Prepared};
use crate::error::{bad, failed, Result};
use crate::output::{dir_target, file_target, FileTarget, StagedFile, TempDir};
use clap::{Args, Command, Subcommand};
use plume_hw::feather::birrd::Topology;
use plume_hw::feather::compiler::mapper::{
    choose_stream, compile_with, plan, plan_grouped, Dataflow, Gemm, Layout, MapError, Options,
    Plan, Stream, StreamChoice,
};
use plume_hw::feather::compiler::route::RouteCache;
use plume_hw::feather::golden::ConvShape;
use plume_hw::feather::sequencer::SeqConfig;
use plume_hw::feather::top::FeatherConfig;
use plume_sim::cosim::{self, Tool};
use std::path::{Path, PathBuf};

/// `plume feather …`.
pub fn command() -> Command {
    FeatherCmd::augment_subcommands(
        Command::new("feather")
            .about("FEATHER accelerator: run layers, whole networks, chained layers, layer packages for the board.")
            .subcommand_required(true),
    )
}

pub fn run_command(m: &clap::ArgMatches) -> Result<()> {
    dispatch(crate::cli::parsed(m)?)
}

#[derive(Args, Clone, Debug)]
pub struct ArrayArgs {
    /// Array size AHxAW (rows x columns): powers of two, AH from 2 and AW from 4, at most 64.
    #[arg(long, default_value = "16x16")]
    pub array: String,
    /// BIRRD topology: bitrev (public RTL) or benes.
    #[arg(long, default_value = "bitrev")]
    pub topology: String,
    /// Buffer depths in lines, S,W,O: each streaming buffer, the weight buffer, the output
    /// buffer (powers of two).
    #[arg(long, default_value = "1024,1024,1024")]
    pub depths: String,
}

impl ArrayArgs {
    pub fn config(&self) -> Result<FeatherConfig> {
        let (ah, aw) = self
            .array
            .split_once(['x', 'X'])
            .and_then(|(a, b)| Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?)))
            .ok_or_else(|| {
                bad(format!(
                    "--array {:?}: expected AHxAW, e.g. 16x16",
                    self.array
                ))
            })?;
        let mut cfg = FeatherConfig::new(ah, aw);
        cfg.topology = self.topology.parse::<Topology>().map_err(bad)?;
        let d = parse_list(&self.depths, 3, "depths")?;
        let depth = |x: usize| u32::try_from(x).unwrap_or(0);
        (cfg.s_depth, cfg.w_depth, cfg.o_depth) = (depth(d[0]), depth(d[1]), depth(d[2]));
        cfg.validate().map_err(|e| bad(e.to_string()))?;
        Ok(cfg)
    }
}

/// The DRAM behind the board's DMA, for tiled runs.
#[derive(Args, Clone, Debug)]
pub struct DramArgs {
    /// DRAM first-beat latency of each DMA transfer, in fabric cycles (ZCU104 assumption:
    /// about 400 ns at 100 MHz).
    #[arg(long, default_value_t = super::host::Dram::default().latency)]
    pub dram_latency: u64,
    /// DRAM bandwidth in bytes per fabric cycle (ZCU104 assumption: the 128-bit HP port).
    #[arg(long, default_value_t = super::host::Dram::default().bytes_per_cycle)]
    pub dram_bytes: u64,
}

impl DramArgs {
    pub fn get(&self) -> Result<super::host::Dram> {
        let d = super::host::Dram {
            latency: self.dram_latency,
            bytes_per_cycle: self.dram_bytes,
        };
        d.validate().map_err(|e| bad(e.to_string()))?;
        Ok(d)
    }
}

/// One layer and its data.
#[derive(Args)]
pub struct LayerArgs {
    /// GEMM M,K,N (C[M][N] = A[M][K]·B[K][N]).
    #[arg(long, conflicts_with_all = ["conv", "depthwise"], required_unless_present_any = ["conv", "depthwise"])]
    gemm: Option<String>,
    /// Convolution N,C,H,W,K,R,S,STRIDE,PAD[,DILATION] (NHWC input, K filters of RxS).
    #[arg(long, conflicts_with = "depthwise")]
    conv: Option<String>,
    /// Depthwise convolution N,C,H,W,R,S,STRIDE,PAD[,DILATION] (NHWC input, one RxS filter per
    /// channel, CRS), run as patch GEMMs with its C channels side by side, one per column
    /// group: C a power of two up to AW.
    #[arg(long)]
    depthwise: Option<String>,
    /// Depthwise: output pixels per patch, BHxBW (at most AH of them); default: the block
    /// the timing model finds fastest.
    #[arg(long, requires = "depthwise")]
    block: Option<String>,
    /// How a convolution's input is streamed: window (the compact NHWC input, the windows
    /// walked by the sequencer), lowered (the im2col matrix), or auto (window when the timing
    /// model says it is no slower or only the compact input fits the buffers).
    #[arg(long, default_value = "auto")]
    stream: String,
    /// ws (weights stationary) or is (inputs stationary).
    #[arg(long, default_value = "ws")]
    dataflow: String,
    /// Output layout: HWC_C<AW> (channel-last), HWC_W<AW> (row-major) or HWC_C<a>W<b>.
    #[arg(long)]
    layout: Option<String>,
    /// Seed of the random data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Operands from files instead: a JSON file {"a":[..],"b":[..]} for a GEMM (row-major A
    /// MxK, B KxN) or {"x":[..],"w":[..]} for a convolution (NHWC input, KRSC filters), bytes
    /// 0-255 or the name of a NumPy .npy file (int8 or uint8, that shape); or a directory of
    /// a.npy, b.npy (x.npy, w.npy) and optionally quant.json. Optional keys: "zp_i", "zp_w",
    /// "zp_o" (-128 to 255), "scale", "iact_signed", "weight_signed", "out_signed".
    #[arg(long)]
    data: Option<PathBuf>,
}

impl LayerArgs {
    /// The layer, its dataflow and output layout (nothing allocated yet).
    fn parse(&self, cfg: &FeatherConfig) -> Result<(Layer, Dataflow, Layout)> {
        let df = parse_dataflow(&self.dataflow)?;
        let choice = self.stream_choice()?;
        // A depthwise layer's channels side by side need column groups: row-major output.
        let name = self.layout.clone().unwrap_or_else(|| match self.depthwise {
            Some(_) => format!("HWC_W{}", cfg.aw),
            None => format!("HWC_C{}", cfg.aw),
        });
        let layout = Layout::parse(&name, cfg.aw as usize).map_err(bad)?;
        let layer = match &self.depthwise {
            Some(text) => {
                if choice == StreamChoice::Window {
                    return Err(bad(
                        "--stream window: a depthwise layer streams its patches (windows are for --conv)",
                    ));
                }
                parse_depthwise(text, self.block.as_deref(), cfg, df, layout)?
            }
            None => parse_layer(self.gemm.as_deref(), self.conv.as_deref())?,
        };
        Ok((layer, df, layout))
    }

    fn stream_choice(&self) -> Result<StreamChoice> {
        self.stream.parse().map_err(bad)
    }

    /// The stream `--stream` asks for and the layer's plan on `cfg`'s buffers.
    fn stream(
        &self,
        cfg: &FeatherConfig,
        layer: &Layer,
        gemm: Gemm,
        df: Dataflow,
        layout: Layout,
    ) -> Result<(Stream, Plan)> {
        if layer.groups() > 1 {
            let plan = plan_grouped(cfg, gemm, df, layout, layer.groups()).ok_or_else(|| {
                bad(MapError::Groups(layer.groups()).to_string() + " (try --layout HWC_W<AW>)")
            })?;
            return Ok((Stream::Placed, plan));
        }
        let shape = layer.conv_shape();
        choose_stream(cfg, gemm, shape, df, layout, self.stream_choice()?)
            .map_err(|e| bad(format!("--stream {}: {e}", self.stream)))
    }

    /// The layer's data (random or from --data) and golden output: called once the layer is
    /// known to fit.
    fn data(&self, layer: &Layer) -> Result<Prepared> {
        match &self.data {
            Some(p) => super::tensors::load_data(p, layer),
            None => Ok(prepare(layer, self.seed)?),
        }
    }
}

#[derive(Subcommand)]
pub enum FeatherCmd {
    /// Compile one layer, run it on the cycle simulator (and optionally on the emitted Verilog),
    /// and check the output tensor bit for bit against the golden model.
    Run {
        #[command(flatten)]
        a: ArrayArgs,
        #[command(flatten)]
        l: LayerArgs,
        /// sim (plume's simulator), or verilator / icarus: also replay the run on the emitted
        /// Verilog and require identical outputs in every cycle.
        #[arg(long, default_value = "sim")]
        engine: String,
        /// Write a VCD waveform of the run.
        #[arg(long)]
        vcd: Option<PathBuf>,
        /// Feed the compiler's micro-instructions straight into the core instead of running the
        /// loop-compressed program through the sequencer.
        #[arg(long)]
        uops: bool,
        /// Keep the buffers --depths gives (instead of sizing them to the layer), cut a layer
        /// that does not fit into tiles along M and N, and run them one after another through
        /// the AXI-wrapped top (as the board's host would), each tile's CYCLES equal to the
        /// compiler's.
        #[arg(long)]
        tiled: bool,
        #[command(flatten)]
        dram: DramArgs,
        /// Write the operands, the simulated output and the golden accumulators into this
        /// directory (must not exist or be empty) as NumPy .npy files, and layer.json (which
        /// --data reads back); written only if the run checks out.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Two chained GEMMs: layer 1 writes layer 2's input placement through BIRRD (reorder in
    /// reduction) against writing channel-last and reordering afterwards; both simulated.
    Switch {
        #[command(flatten)]
        a: ArrayArgs,
        /// Layer 1 GEMM M,K,N.
        #[arg(long, default_value = "64,64,64")]
        gemm: String,
        /// Output channels of layer 2 (it reads layer 1's M×N output).
        #[arg(long, default_value_t = 64)]
        n2: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Compile one layer for the board: a package (layer.json, DMA-ready packet images, the
    /// golden output) that `sw/run_feather.py` of a `plume fpga zcu104 feather` build runs on
    /// the ZCU104 — or, for a layer that does not fit the buffers whole (or with --tiled), a
    /// session (session.json: the host's steps for every tile, double-buffered where the
    /// timing model says so, and their transfers). The hardware is the build's: default
    /// buffer and table depths unless --depths. Before writing, the package runs through AXI
    /// on plume's simulator and must match the golden model.
    Export {
        #[command(flatten)]
        a: ArrayArgs,
        #[command(flatten)]
        l: LayerArgs,
        /// Output directory (must not exist or be empty).
        #[arg(short, long)]
        out: PathBuf,
        /// Skip the check on plume's simulator.
        #[arg(long)]
        no_verify: bool,
        /// Export as a session of tiles even if the layer fits whole.
        #[arg(long)]
        tiled: bool,
        /// The DRAM the check on plume's simulator runs against (tiled layers).
        #[command(flatten)]
        dram: DramArgs,
    },
    /// Every convolution layer of a network through the compiler and the timing model.
    Net {
        /// resnet50 or mobilenetv3.
        net: String,
        #[command(flatten)]
        a: ArrayArgs,
        /// model (the timing model only); sim: also simulate every selected layer on the
        /// programmable core with buffers sized to it, bit-exact against the golden model and
        /// equal to the model's cycle count (a depthwise layer: its first run of channels);
        /// board: run every selected layer tiled for the --depths buffers through the
        /// AXI-wrapped top.
        #[arg(long, default_value = "model")]
        engine: String,
        #[command(flatten)]
        dram: DramArgs,
        /// Only layers A..B (inclusive, the table's numbers), or one layer.
        #[arg(long)]
        layers: Option<String>,
        /// Also cycle-simulate the K smallest layers and require the model's cycle counts.
        #[arg(long, default_value_t = 0)]
        verify: usize,
        /// Print the table as JSON.
        #[arg(long)]
        json: bool,
        /// Plot per-layer utilisation and cycles (SVG for a .svg name, else PNG).
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Board engine: how the dense convolutions' inputs are tiled — window (bands of the
        /// compact input), lowered (tiles of the im2col matrix) or auto (the cheaper in compute
        /// cycles plus lines moved).
        #[arg(long, default_value = "auto")]
        stream: String,
    },
}

fn parse_list(text: &str, n: usize, what: &str) -> Result<Vec<usize>> {
    let v: Vec<&str> = text.split(',').map(str::trim).collect();
    if v.len() != n {
        return Err(bad(format!(
            "--{what} {text:?}: expected {n} comma-separated numbers"
        )));
    }
    v.iter()
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(format!("--{what}: {s:?} is not a non-negative integer")))
        })
        .collect()
}

/// Largest value of one layer dimension, and of the elements one operand or result may hold:
/// sizes are checked against these before anything is allocated (the on-chip buffers refuse
/// far smaller layers anyway, with a message naming the buffer).
const MAX_DIM: usize = 1 << 20;
const MAX_ELEMENTS: usize = 1 << 30;

/// `what` (a product of dimensions) must stay within `MAX_ELEMENTS`.
fn check_elements(arg: &str, what: &str, dims: &[usize]) -> Result<()> {
    let n = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS);
    match n {
        Some(_) => Ok(()),
        None => Err(bad(format!(
            "{arg}: {what} would hold {} elements; plume takes at most {MAX_ELEMENTS}",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("×")
        ))),
    }
}

pub fn parse_layer(gemm: Option<&str>, conv: Option<&str>) -> Result<Layer> {
    if let Some(g) = gemm {
        let v = parse_list(g, 3, "gemm")?;
        if v.contains(&0) {
            return Err(bad(format!(
                "--gemm {g}: every dimension must be at least 1"
            )));
        }
        if let Some(d) = v.iter().find(|&&d| d > MAX_DIM) {
            return Err(bad(format!(
                "--gemm {g}: dimension {d} is larger than {MAX_DIM}"
            )));
        }
        let arg = format!("--gemm {g}");
        check_elements(&arg, "A (M×K)", &[v[0], v[1]])?;
        check_elements(&arg, "B (K×N)", &[v[1], v[2]])?;
        check_elements(&arg, "C (M×N)", &[v[0], v[2]])?;
        return Ok(Layer::Gemm(Gemm {
            m: v[0],
            k: v[1],
            n: v[2],
        }));
    }
    let c =
        conv.ok_or_else(|| bad("give --gemm M,K,N or --conv N,C,H,W,K,R,S,STRIDE,PAD[,DILATION]"))?;
    let v = conv_values("conv", c, 10, "N, C, H, W, K, R, S, STRIDE and DILATION")?;
    let sh = ConvShape {
        n: v[0],
        c: v[1],
        h: v[2],
        w: v[3],
        k: v[4],
        r: v[5],
        s: v[6],
        stride: v[7],
        pad: v[8],
        dilation: v[9],
    };
    let (p, q) = filter_fits("conv", c, &sh)?;
    let arg = format!("--conv {c}");
    check_elements(&arg, "the input (N×H×W×C)", &[sh.n, sh.h, sh.w, sh.c])?;
    check_elements(&arg, "the filters (K×R×S×C)", &[sh.k, sh.r, sh.s, sh.c])?;
    check_elements(&arg, "the output (N×P×Q×K)", &[sh.n, p, q, sh.k])?;
    check_elements(
        &arg,
        "the lowered input (N·P·Q × C·R·S)",
        &[sh.n, p, q, sh.c, sh.r, sh.s],
    )?;
    Ok(Layer::Conv(sh))
}

/// The `n` numbers of a `--conv` / `--depthwise` list ending in PAD and an optional DILATION
/// (default 1); every one but PAD at least 1 (`names` lists them), none above `MAX_DIM`.
fn conv_values(flag: &str, text: &str, n: usize, names: &str) -> Result<Vec<usize>> {
    let mut v = if text.split(',').count() == n {
        parse_list(text, n, flag)?
    } else {
        parse_list(text, n - 1, flag)?
    };
    v.resize(n, 1);
    if v[..n - 2].contains(&0) || v[n - 1] == 0 {
        return Err(bad(format!("--{flag} {text}: {names} must be at least 1")));
    }
    if let Some(d) = v.iter().find(|&&d| d > MAX_DIM) {
        return Err(bad(format!(
            "--{flag} {text}: {d} is larger than {MAX_DIM}"
        )));
    }
    Ok(v)
}

/// The output height and width of `sh`, or one line saying the filter does not fit.
fn filter_fits(flag: &str, text: &str, sh: &ConvShape) -> Result<(usize, usize)> {
    sh.out_hw().ok_or_else(|| {
        bad(format!(
            "--{flag} {text}: a {}x{} filter (dilation {}) does not fit the {}x{} input with padding {}",
            sh.r, sh.s, sh.dilation, sh.h, sh.w, sh.pad
        ))
    })
}

/// `--depthwise N,C,H,W,R,S,STRIDE,PAD[,DILATION]` with `--block` (or the timing model's
/// fastest block for `df` and `layout`).
fn parse_depthwise(
    text: &str,
    block: Option<&str>,
    cfg: &FeatherConfig,
    df: Dataflow,
    layout: Layout,
) -> Result<Layer> {
    use plume_hw::feather::compiler::depthwise::{dw_gemm, fastest_block, DwBlock};
    let v = conv_values(
        "depthwise",
        text,
        9,
        "N, C, H, W, R, S, STRIDE and DILATION",
    )?;
    let sh = ConvShape {
        n: v[0],
        c: v[1],
        h: v[2],
        w: v[3],
        k: v[1],
        r: v[4],
        s: v[5],
        stride: v[6],
        pad: v[7],
        dilation: v[8],
    };
    let (p, q) = filter_fits("depthwise", text, &sh)?;
    if !sh.c.is_power_of_two() || sh.c > cfg.aw as usize {
        return Err(bad(format!(
            "--depthwise {text}: the {} channels run side by side, one per column group, so C must be a power of two up to AW = {}",
            sh.c, cfg.aw
        )));
    }
    let arg = format!("--depthwise {text}");
    check_elements(&arg, "the input (N×H×W×C)", &[sh.n, sh.h, sh.w, sh.c])?;
    check_elements(&arg, "the output (N×P×Q×C)", &[sh.n, p, q, sh.c])?;
    let block = match block {
        Some(b) => {
            let b: DwBlock = b.parse().map_err(|e| bad(format!("--block: {e}")))?;
            if b.pixels() > cfg.ah as usize {
                return Err(bad(format!(
                    "--block {}: {} output pixels per patch, the array has {} rows",
                    b.name(),
                    b.pixels(),
                    cfg.ah
                )));
            }
            b
        }
        None => fastest_block(cfg, &sh, df, layout)
            .map(|f| f.0)
            .ok_or_else(|| {
                bad(format!(
                    "--depthwise {text}: {} (try --layout HWC_W{})",
                    MapError::Groups(sh.c),
                    cfg.aw
                ))
            })?,
    };
    let patch = block.patch(&sh);
    check_elements(
        &arg,
        "the patch matrix (blocks × patch pixels)",
        &[
            dw_gemm(&sh, block).expect("valid shape").m,
            patch.0,
            patch.1,
        ],
    )?;
    Ok(Layer::Depthwise { shape: sh, block })
}

/// The tiling `feather run --tiled` and `feather export` use: a depthwise layer's grouped
/// patch GEMM, else `tile_layer`'s choice.
fn tile_for(
    cfg: &FeatherConfig,
    layer: &Layer,
    gemm: Gemm,
    (df, layout): (Dataflow, Layout),
    choice: StreamChoice,
    cpl: f64,
) -> std::result::Result<
    plume_hw::feather::compiler::tiling::Tiling,
    plume_hw::feather::compiler::tiling::TileError,
> {
    use plume_hw::feather::compiler::tiling::{tile_groups, tile_layer};
    if layer.groups() > 1 {
        return tile_groups(cfg, gemm, layer.groups(), df, layout, cpl);
    }
    tile_layer(cfg, gemm, layer.conv_shape(), df, layout, choice, cpl)
}

fn parse_dataflow(s: &str) -> Result<Dataflow> {
    match s {
        "ws" => Ok(Dataflow::Ws),
        "is" => Ok(Dataflow::Is),
        _ => Err(bad(format!("unknown dataflow {s:?} (expected ws or is)"))),
    }
}

/// A configuration whose buffers hold the planned layer (depths rounded up to powers of two).
pub fn sized_for(cfg: &FeatherConfig, p: &Plan) -> Result<FeatherConfig> {
    let depth = |need: usize| -> Result<u32> {
        let d = need.max(2).next_power_of_two();
        if d > 1 << 20 {
            return Err(bad(format!(
                "the layer needs {need} buffer lines, more than the simulator's limit of 2^20"
            )));
        }
        Ok(d as u32)
    };
    let mut c = *cfg;
    c.s_depth = depth(p.s_lines.max(p.o_lines))?;
    c.w_depth = depth(p.w_lines)?;
    c.o_depth = depth(p.o_lines)?;
    Ok(c)
}

fn dispatch(cmd: FeatherCmd) -> Result<()> {
    match cmd {
        FeatherCmd::Run {
            a,
            l,
            engine,
            vcd,
            uops,
            tiled,
            dram,
            out,
        } => {
            let cfg = a.config()?;
            let tool = match engine.as_str() {
                "sim" => None,
                "verilator" => Some(Tool::Verilator),
                "icarus" => Some(Tool::Icarus),
                e => {
                    return Err(bad(format!(
                        "unknown engine {e:?} (expected sim, verilator or icarus)"
                    )))
                }
            };
            let (layer, df, layout) = l.parse(&cfg)?;
            let vcd = vcd.map(|p| file_target(&p, "waveform")).transpose()?;
            if let Some(o) = &out {
                dir_target(o, |_| false)?;
            }
            let dram = dram.get()?;
            if let Some(t) = tool {
                if !cosim::require(t)? {
                    return Err(bad(format!("{} is not installed", t.name())));
                }
            }
            let gemm = layer
                .gemm()
                .ok_or_else(|| bad("the filter does not fit the padded input"))?;
            let (prep, got, cycles) = if tiled {
                if tool.is_some() || vcd.is_some() || uops {
                    return Err(bad(
                        "--tiled runs on plume's simulator through the AXI top: no --engine verilator/icarus, --vcd or --uops",
                    ));
                }
                let tiling = tile_for(
                    &cfg,
                    &layer,
                    gemm,
                    (df, layout),
                    l.stream_choice()?,
                    dram.line_cycles(cfg.aw),
                )
                .map_err(|e| bad(format!("{}: {e}", layer.describe())))?;
                let prep = l.data(&layer)?;
                let (got, cycles) =
                    run_tiled_layer(&cfg, &layer, &prep, df, layout, &tiling, dram)?;
                (prep, got, cycles)
            } else {
                let (stream, plan) = l.stream(&cfg, &layer, gemm, df, layout)?;
                let sized = sized_for(&cfg, &plan)?;
                let prep = l.data(&layer)?;
                let how = RunHow {
                    df,
                    layout,
                    stream,
                    tool,
                    uops,
                };
                let (got, cycles) = run_layer(&sized, &layer, &prep, &how, vcd.as_ref())?;
                (prep, got, cycles)
            };
            if let Some(o) = &out {
                let files = super::tensors::tensor_files(&layer, &prep, &got, cycles);
                crate::output::write_dir(o, &files)?;
                crate::outln!(
                    "tensors: {} ({})",
                    o.display(),
                    files
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(())
        }
        FeatherCmd::Net {
            net,
            a,
            dram,
            engine,
            layers,
            verify,
            json,
            plot,
            stream,
        } => {
            let cfg = a.config()?;
            let engine: super::net::Engine = engine.parse()?;
            let stream: StreamChoice = stream.parse().map_err(bad)?;
            if verify > 0 && engine != super::net::Engine::Model {
                return Err(bad(
                    "--verify K belongs to --engine model (sim and board run every selected layer)",
                ));
            }
            let opts = super::net::NetOptions {
                engine,
                dram: dram.get()?,
                layers: layers
                    .as_deref()
                    .map(super::net::parse_layers)
                    .transpose()?,
                verify,
                json,
                plot: plot.map(|p| file_target(&p, "plot")).transpose()?,
                stream,
            };
            super::net::net_cmd(&net, &cfg, &opts)
        }
        FeatherCmd::Export {
            a,
            l,
            out,
            no_verify,
            tiled,
            dram,
        } => {
            let cfg = a.config()?;
            let (layer, df, layout) = l.parse(&cfg)?;
            let dram = dram.get()?;
            dir_target(&out, |_| false)?;
            let how = ExportHow {
                df,
                layout,
                verify: !no_verify,
                tiled,
                dram,
            };
            export_layer(&cfg, &layer, &l, &how, &out)
        }
        FeatherCmd::Switch { a, gemm, n2, seed } => {
            let cfg = a.config()?;
            let Layer::Gemm(g1) = parse_layer(Some(&gemm), None)? else {
                unreachable!()
            };
            if n2 == 0 {
                return Err(bad("--n2 must be at least 1"));
            }
            switch_cmd(&cfg, g1, n2, seed)
        }
    }
}

/// How `feather export` packages a layer.
struct ExportHow {
    df: Dataflow,
    layout: Layout,
    verify: bool,
    /// A session of tiles even if the layer fits whole.
    tiled: bool,
    dram: super::host::Dram,
}

fn export_layer(
    cfg: &FeatherConfig,
    layer: &Layer,
    args: &LayerArgs,
    how: &ExportHow,
    out: &Path,
) -> Result<()> {
    use super::host::{run_package, Package, Stalls};
    let (df, layout, verify) = (how.df, how.layout, how.verify);
    let seq = SeqConfig::default();
    let gemm = layer
        .gemm()
        .ok_or_else(|| bad("the filter does not fit the padded input"))?;
    let whole = args
        .stream(cfg, layer, gemm, df, layout)
        .and_then(|(stream, _)| {
            compile_with(
                cfg,
                gemm,
                &Options::layer(df, layout, stream).grouped(layer.groups()),
                &mut RouteCache::new(),
            )
            .map_err(|e| match e {
                MapError::Route(_) | MapError::Conflict(_) => failed(&e),
                other => bad(format!(
                    "{other} (the hardware's buffers hold {},{},{} lines; see --depths)",
                    cfg.s_depth, cfg.w_depth, cfg.o_depth
                )),
            })
        });
    let sched = match whole {
        Ok(_) if how.tiled => return export_session(cfg, layer, args, gemm, how, out, None),
        Ok(s) => s,
        // Too big to hold whole (the only refusals tiling can answer): a session of tiles.
        Err(e @ crate::Error::BadInput(_)) => {
            return export_session(cfg, layer, args, gemm, how, out, Some(e))
        }
        Err(e) => return Err(e),
    };
    let prep = args.data(layer)?;
    let q = &prep.data.q;
    let pkg = Package::new(
        &sched,
        &seq,
        prep.data.streamed(sched.window.is_some()),
        &prep.data.b,
        q,
        &prep.golden,
        &layer.describe(),
    )
    .map_err(|e| bad(e.to_string()))?;
    if verify {
        let t0 = std::time::Instant::now();
        eprintln!(
            "plume: checking the package through AXI on plume's simulator ({} cycles of compute)…",
            sched.cycles
        );
        let r = run_package(&pkg, Stalls::default(), false)?;
        compare(&sched, &r.out, &prep.golden)?;
        if r.cycles != sched.cycles {
            return Err(failed(format!(
                "CYCLES reads {} but the compiler expects {}",
                r.cycles, sched.cycles
            )));
        }
        crate::outln!(
            "verified through AXI on plume's simulator in {:.1} s: output bit-exact, CYCLES = {}, bus cycles {} in / {} run / {} read-back",
            t0.elapsed().as_secs_f64(),
            r.cycles,
            r.phases[0],
            r.phases[1],
            r.phases[2]
        );
    }
    pkg.write(out)?;
    let bytes: usize = pkg.packets.iter().map(|p| p.bytes.len()).sum();
    crate::outln!(
        "wrote {}: {} for {} — {} packets ({bytes} bytes), {} read-back lines, {} output bytes",
        out.display(),
        layer.describe(),
        pkg.design,
        pkg.packets.len(),
        pkg.rd_lines,
        pkg.golden.len()
    );
    Ok(())
}

/// `feather export` of a layer as a session of tiles (`why`: the whole layer's refusal, when
/// it does not fit): tiled as `feather run --tiled` would, checked on plume's simulator
/// against the DRAM model unless asked not to, written as session.json and its files.
#[allow(clippy::too_many_arguments)]
fn export_session(
    cfg: &FeatherConfig,
    layer: &Layer,
    args: &LayerArgs,
    gemm: Gemm,
    how: &ExportHow,
    out: &Path,
    why: Option<crate::Error>,
) -> Result<()> {
    use super::host::{play_session, Host, Session, Stalls};
    use plume_hw::feather::axi::{axi_feather, feather_map, feather_stream_width};
    let seq = SeqConfig::default();
    let tiling = tile_for(
        cfg,
        layer,
        gemm,
        (how.df, how.layout),
        args.stream_choice()?,
        how.dram.line_cycles(cfg.aw),
    )
    .map_err(|e| match &why {
        Some(w) => bad(format!("{w}; nor can it be tiled: {e}")),
        None => bad(format!("{}: {e}", layer.describe())),
    })?;
    if let Some(w) = &why {
        crate::outln!("the layer does not fit the buffers whole — {w} — so it is exported as a session of tiles");
    }
    let prep = args.data(layer)?;
    let session = Session::tiled(
        cfg,
        &seq,
        &tiling,
        how.df,
        how.layout,
        prep.data.streamed(tiling.window.is_some()),
        &prep.data.b,
        &prep.data.q,
        &prep.golden,
        &layer.describe(),
    )
    .map_err(|e| failed(format!("{e:#}")))?;
    if how.verify {
        let t0 = std::time::Instant::now();
        eprintln!(
            "plume: checking the session through AXI on plume's simulator ({} tiles, {} cycles of compute)…",
            session.tiles.len(),
            session.cycles()
        );
        let mut h = Host::new(
            axi_feather(cfg, &seq)?,
            feather_map(cfg, &seq)?,
            Stalls::default(),
            false,
        )?;
        h.dram = how.dram.pace(feather_stream_width(cfg) as u64 / 8);
        let r = play_session(&mut h, &session).map_err(|e| failed(format!("{e:#}")))?;
        r.verify().map_err(|e| failed(format!("{e:#}")))?;
        super::layer::compare_tensor(&r.out, &prep.golden, gemm.n)
            .map_err(|e| failed(format!("{e:#}")))?;
        let chunks = session.tiles.iter().filter(|t| !t.last).count();
        crate::outln!(
            "verified through AXI on plume's simulator in {:.1} s: output bit-exact, every tile's CYCLES = the compiler's ({} in all{}), {} bus cycles against DRAM with {} cycles of latency and {} bytes per cycle",
            t0.elapsed().as_secs_f64(),
            r.compute_cycles(),
            if chunks > 0 {
                format!("; 0, as it must, after the {chunks} K chunks that do not quantize")
            } else {
                String::new()
            },
            r.bus_cycles,
            how.dram.latency,
            how.dram.bytes_per_cycle
        );
    }
    session.write(out)?;
    let sends = session
        .steps
        .iter()
        .filter(|s| matches!(s, super::host::Step::Send { .. }))
        .count();
    crate::outln!(
        "wrote {}: {} for {} — a session of {} tiles{}, {} steps ({sends} transfers), {} output bytes",
        out.display(),
        layer.describe(),
        session.design,
        session.tiles.len(),
        if session.double_buffered {
            ", double-buffered"
        } else {
            ""
        },
        session.steps.len(),
        session.golden.len()
    );
    Ok(())
}

/// How `run_layer` compiles and drives a layer.
struct RunHow {
    df: Dataflow,
    layout: Layout,
    stream: Stream,
    tool: Option<Tool>,
    /// The compiler's micro-instructions straight into the core (no sequencer).
    uops: bool,
}

/// Runs a layer on a core whose buffers were sized for it (`sized_for`); returns the output
/// tensor read back from the core and the cycles the layer took, once both check out.
fn run_layer(
    cfg: &FeatherConfig,
    layer: &Layer,
    prep: &Prepared,
    how: &RunHow,
    vcd: Option<&FileTarget>,
) -> Result<(Vec<u8>, u64)> {
    let cfg = *cfg;
    let RunHow {
        df,
        layout,
        stream,
        tool,
        uops,
    } = *how;
    let mut cache = RouteCache::new();
    let t_compile = std::time::Instant::now();
    let sched = compile_with(
        &cfg,
        prep.gemm,
        &Options::layer(df, layout, stream).grouped(layer.groups()),
        &mut cache,
    )
    .map_err(|e| match e {
        MapError::Route(_) | MapError::Conflict(_) => failed(&e),
        other => bad(other.to_string()),
    })?;
    let g = prep.gemm;
    crate::outln!(
        "FEATHER {}x{} ({} BIRRD) · {} → GEMM M={} K={} N={}",
        cfg.ah,
        cfg.aw,
        cfg.topology,
        layer.describe(),
        g.m,
        g.k,
        g.n
    );
    let compile_ms = t_compile.elapsed().as_secs_f64() * 1e3;
    let prog = plume_hw::feather::compiler::program::build(&sched);
    let m = sched.map;
    crate::outln!(
        "compiled in {compile_ms:.1} ms: {} micro-instructions, {} BIRRD targets routed ({} served from the route cache); loop-compressed program: {} load / {} stream / {} out descriptors, {} pattern entries, {} configurations",
        sched.uops.len(),
        cache.misses,
        cache.hits,
        prog.loads.len(),
        prog.streams.len(),
        prog.outs.len(),
        prog.patterns.len(),
        prog.configs.len()
    );
    crate::outln!(
        "dataflow {df}, layout {}: V={} rows={} G={} Pn={} Pm={} ({} tiles, {} VNs per tile)",
        layout.name(),
        m.v,
        m.rows,
        m.g,
        m.pn,
        m.pm,
        m.tiles(),
        m.mb
    );
    match &sched.window {
        Some(w) => crate::outln!(
            "input: compact NHWC, {} streaming-buffer lines (the lowered input would take {}); the sequencer walks {} taps per column ({} per VN)",
            w.lines(),
            plan(&cfg, g, df, layout).s_lines,
            w.t,
            w.v
        ),
        None => crate::outln!(
            "input: {} streaming-buffer lines in the mapping's placement{}",
            plan(&cfg, g, df, layout).s_lines,
            if matches!(layer, Layer::Conv(_)) {
                " (lowered with im2col)"
            } else {
                ""
            }
        ),
    }
    let dir = TempDir::new("feather-run")?;
    let staged = vcd.map(StagedFile::create).transpose()?;
    let wave = staged.as_ref().map(|s| s.path());
    let r = if uops {
        run(&sched, &prep.data, wave, tool, dir.path(), false)
    } else {
        run_programmed(&sched, &prep.data, wave, tool, dir.path())
    };
    crate::outln!(
        "core driven by {}",
        if uops {
            "the compiler's micro-instructions (--uops)"
        } else {
            "the sequencer expanding the loop-compressed program"
        }
    );
    let r = r?;
    if let Some(s) = staged {
        s.commit()?;
    }
    let checked = compare(&sched, &r.out, &prep.golden);
    let pes = (cfg.ah * cfg.aw) as f64;
    crate::outln!(
        "cycles {} (timing model {}) · MACs {} · utilisation {:.1}% · BIRRD configurations {} · simulated in {:.2} s ({:.0} cycles/s)",
        r.cycles,
        sched.cycles,
        layer.macs().unwrap_or(0),
        100.0 * layer.macs().unwrap_or(0) as f64 / (pes * r.cycles as f64),
        sched.configs,
        r.sim_seconds,
        sched.uops.len() as f64 / r.sim_seconds.max(1e-9)
    );
    if let Some(v) = vcd {
        crate::outln!("waveform: {}", v.path().display());
    }
    checked?;
    crate::outln!(
        "output: {} elements bit-exact against the golden model",
        prep.golden.len()
    );
    if let (Some(t), Some(n)) = (tool, r.cosim_cycles) {
        crate::outln!(
            "{}: {n} cycles replayed on the emitted Verilog, every output identical to plume's simulator",
            t.name()
        );
    }
    if r.cycles != sched.cycles {
        return Err(failed(format!(
            "the timing model predicts {} cycles but the simulation took {}",
            sched.cycles, r.cycles
        )));
    }
    let mut out = r.out;
    out.truncate(prep.golden.len());
    Ok((out, r.cycles))
}

/// Runs a tiled layer through the AXI-wrapped top for `cfg` (its own buffer depths); returns
/// the assembled output and the summed compute cycles, once the output is bit-exact and every
/// tile's `CYCLES` equals the compiler's count.
fn run_tiled_layer(
    cfg: &FeatherConfig,
    layer: &Layer,
    prep: &Prepared,
    df: Dataflow,
    layout: Layout,
    tiling: &plume_hw::feather::compiler::tiling::Tiling,
    dram: super::host::Dram,
) -> Result<(Vec<u8>, u64)> {
    use super::host::{run_tiled, Stalls};
    let g = tiling.gemm;
    crate::outln!(
        "FEATHER {}x{} ({} BIRRD, buffers {},{},{} lines) · {} → GEMM M={} K={} N={}",
        cfg.ah,
        cfg.aw,
        cfg.topology,
        cfg.s_depth,
        cfg.w_depth,
        cfg.o_depth,
        layer.describe(),
        g.m,
        g.k,
        g.n
    );
    if let Some(sh) = &tiling.window {
        let (_, q) = sh.out_hw().expect("a valid convolution");
        crate::outln!(
            "input streamed from its compact NHWC layout: bands of {} output rows, each loading only the input rows its windows touch",
            tiling.mt / q
        );
    }
    crate::outln!(
        "tiled {} × {} (M × N tiles of at most {} × {}; {}): {} tiles, {} compute cycles predicted, {} buffer lines loaded and read back, {}",
        g.m.div_ceil(tiling.mt),
        g.n.div_ceil(tiling.nt),
        tiling.mt,
        tiling.nt,
        if tiling.kt < g.k {
            format!(
                "K in {} chunks of at most {}, their partial sums kept in the output buffer",
                g.k.div_ceil(tiling.kt),
                tiling.kt
            )
        } else {
            "K whole".to_string()
        },
        tiling.tiles.len(),
        tiling.compute_cycles(),
        tiling.moved_lines(),
        if tiling.double {
            "double-buffered (each tile in half the buffers, the next one loading while it runs)"
        } else {
            "one tile after another (double buffering would need more, smaller tiles)"
        }
    );
    let t0 = std::time::Instant::now();
    let seq = plume_hw::feather::sequencer::SeqConfig::default();
    let r = run_tiled(
        cfg,
        &seq,
        tiling,
        df,
        layout,
        prep.data.streamed(tiling.window.is_some()),
        &prep.data.b,
        &prep.data.q,
        Stalls::default(),
        dram,
        false,
    )
    .map_err(|e| failed(format!("{e:#}")))?;
    r.verify().map_err(|e| failed(format!("{e:#}")))?;
    let compute = r.compute_cycles();
    let bus = r.phases();
    crate::outln!(
        "simulated through AXI in {:.1} s against DRAM with {} cycles of latency and {} bytes per cycle: {} bus cycles ({} loading, {} running — {} cycles of loads hidden beside the runs — {} reading back; the stream transfers took {} cycles, = the DRAM model; {} operand loads skipped, the buffers held them); CYCLES of every tile = the compiler's{}, {} in all ({:.1} % utilisation while computing)",
        t0.elapsed().as_secs_f64(),
        dram.latency,
        dram.bytes_per_cycle,
        r.bus_cycles,
        bus[0],
        bus[1],
        r.overlapped(),
        bus[2],
        r.load_transfers(),
        r.reused(),
        match r.tiles.iter().filter(|t| t.model_cycles == 0).count() {
            0 => String::new(),
            c => format!(" (0, as it must, after the {c} K chunks that do not quantize)"),
        },
        compute,
        100.0 * layer.macs().unwrap_or(0) as f64 / ((cfg.ah * cfg.aw) as f64 * compute as f64)
    );
    super::layer::compare_tensor(&r.out, &prep.golden, g.n)
        .map_err(|e| failed(format!("{e:#}")))?;
    crate::outln!(
        "output: {} elements bit-exact against the golden model",
        prep.golden.len()
    );
    Ok((r.out, compute))
}

fn switch_cmd(cfg: &FeatherConfig, g1: Gemm, n2: usize, seed: u64) -> Result<()> {
    // Buffers sized for the larger of the two layers.
    let g2 = Gemm {
        m: g1.m,
        k: g1.n,
        n: n2,
    };
    let aw = cfg.aw as usize;
    let cl = Layout { cb: aw, wb: 1 };
    let mut sized = *cfg;
    for (g, df) in [(g1, Dataflow::Ws), (g1, Dataflow::Is), (g2, Dataflow::Ws)] {
        let s = sized_for(cfg, &plan(cfg, g, df, cl))?;
        sized.s_depth = sized.s_depth.max(s.s_depth).max(s.w_depth);
        sized.w_depth = sized.w_depth.max(s.w_depth);
        sized.o_depth = sized.o_depth.max(s.o_depth).max(s.s_depth);
    }
    let mut cache = RouteCache::new();
    let r = super::layer::layout_switch(&sized, g1, n2, seed, &mut cache)?;
    let desc = |s: &plume_hw::feather::compiler::mapper::Schedule| {
        format!(
            "GEMM {}x{}x{}, {} (G={} Pn={} Pm={}), output to {}",
            s.gemm.m,
            s.gemm.k,
            s.gemm.n,
            s.dataflow,
            s.map.g,
            s.map.pn,
            s.map.pm,
            s.out.name()
        )
    };
    crate::outln!("FEATHER {}x{} ({} BIRRD)", cfg.ah, cfg.aw, cfg.topology);
    crate::outln!("layer 1 (RIR):      {}", desc(&r.layer1));
    crate::outln!("layer 1 (baseline): {}", desc(&r.baseline1));
    crate::outln!("layer 2:            {}", desc(&r.layer2));
    let rir = r.rir.0 + r.rir.1;
    let rar = r.rar.0 + r.rar.1 + r.rar.2;
    crate::outln!(
        "reorder in reduction:    layer 1 {:>8} + layer 2 {:>8}                   = {:>8} cycles (simulated)",
        r.rir.0, r.rir.1, rir
    );
    crate::outln!(
        "reorder after reduction: layer 1 {:>8} + reorder {:>8} + layer 2 {:>8} = {:>8} cycles (layers simulated, reorder = lower bound)",
        r.rar.0, r.rar.1, r.rar.2, rar
    );
    crate::outln!(
        "both chains bit-exact against the golden model; reorder in reduction saves {:.1}% ({:.2}x)",
        100.0 * (rar as f64 - rir as f64) / rar as f64,
        rar as f64 / rir as f64
    );
    Ok(())
}
