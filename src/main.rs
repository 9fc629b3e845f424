//! The `plume` command. Bad input (parameters, configurations, data) ends with one line on
//! stderr and exit code 2; a failed check (a disagreement between engines, a tool failure)
//! with exit code 1. No command leaves a partial output file behind.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use plume::bench;
use plume::birrd::{self as run, Engine};
use plume::fpga;
use plume::rng::XorShift;
use plume::tools::{self, write_file_atomically, TempDir};
use plume_hw::feather::birrd::{generate, BirrdConfig, Config, Encoding, Mode, Topology};
use plume_hw::feather::golden;
use plume_hw::rtl::verilog::emit_bundle;
use plume_sim::cosim::{self, Tool};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod feather_cli;
mod fpga_cli;
use feather_cli::{ArrayArgs, FeatherCmd};
use fpga_cli::{FpgaBoard, FpgaDesign, ReportBoard, ServeDesign};

#[derive(Parser)]
#[command(
    name = "plume",
    version,
    about = "Hardware generator, cycle simulator and golden models for FEATHER, RF-emulation, FRED and SDQ accelerators"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate Verilog (one file per module) and a manifest.json.
    Gen {
        #[command(subcommand)]
        design: GenDesign,
    },
    /// Cycle-simulate with random traffic, checking every cycle against the golden model.
    Sim {
        #[command(subcommand)]
        design: SimDesign,
    },
    /// Golden model ≡ plume simulator ≡ Verilator ≡ Icarus, plus Verilator lint.
    Check {
        #[command(subcommand)]
        design: CheckDesign,
    },
    /// Resource estimate with Yosys synth_xilinx for the ZCU104's XCZU7EV.
    Synth {
        #[command(subcommand)]
        design: SynthDesign,
    },
    /// FEATHER accelerator: run layers, whole networks.
    Feather {
        #[command(subcommand)]
        cmd: FeatherCmd,
    },
    /// A ZCU104 build directory for a design: Verilog, AXI shell, constraints, Vivado Tcl,
    /// Makefile (`make` runs Vivado), C header, PYNQ driver, README.
    Fpga {
        #[command(subcommand)]
        board: FpgaBoard,
    },
    /// Resources (share of the device) and longest combinational path of every design at its
    /// default board configuration, by Yosys.
    Report {
        #[command(subcommand)]
        board: ReportBoard,
    },
    /// Serve an AXI-wrapped design on plume's simulator over stdin/stdout, one command per
    /// line, for host-software tests: `W <offset> <value>`, `R <offset>`, `SEND <file>` (MM2S),
    /// `RECV <beats> <file>` (S2MM), `XFER <file> <beats> <file>` (both at once), `INFO`
    /// (bytes per beat in and out), `QUIT`. Replies `OK …` or `ERR <message>`.
    #[command(hide = true)]
    Serve {
        #[command(subcommand)]
        design: ServeDesign,
    },
    /// BIRRD tools.
    Birrd {
        #[command(subcommand)]
        cmd: BirrdCmd,
    },
    /// Generate, route, simulate and cross-check a 16-port BIRRD; writes out/birrd16.{v,vcd,svg}.
    Demo {
        /// Output directory.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Simulation speed: plume vs Verilator -O3 on the same stimulus (`bench sim` for BIRRD,
    /// `bench feather` for whole FEATHER cores running a GEMM), or BIRRD routing time
    /// (`bench route`).
    Bench {
        /// sim or route.
        #[arg(default_value = "sim")]
        what: String,
        /// Cycles per run.
        #[arg(long, default_value_t = 200_000)]
        cycles: u64,
        /// BIRRD port counts to measure.
        #[arg(long, value_delimiter = ',', default_value = "16,64")]
        ports: Vec<u32>,
    },
}

#[derive(Args, Clone)]
struct BirrdParams {
    /// Ports N: a power of two from 4 to 256.
    #[arg(long, default_value_t = 16)]
    ports: u32,
    /// Data width W in bits (1-64); sums wrap around.
    #[arg(long, default_value_t = 32)]
    width: u32,
    /// bitrev (public RTL, 2·log2 N stages) or benes (2·log2 N − 1 stages).
    #[arg(long, default_value = "bitrev")]
    topology: String,
}

impl BirrdParams {
    fn config(&self) -> Result<BirrdConfig> {
        let topology: Topology = self.topology.parse().map_err(bad)?;
        let cfg = BirrdConfig {
            ports: self.ports,
            width: self.width,
            topology,
        };
        cfg.validate().map_err(|e| bad(e.to_string()))?;
        Ok(cfg)
    }
}

/// A network and a configuration for it.
#[derive(Args, Clone)]
struct ConfiguredNetwork {
    #[command(flatten)]
    p: BirrdParams,
    /// rtl (0 pass, 1 add_even, 2 add_odd, 3 swap), allo (0 pass, 1 add_odd, 2 add_even, 3 swap) or names.
    #[arg(long, default_value = "rtl")]
    encoding: String,
    /// JSON array [stage][switch] of modes (or @FILE).
    #[arg(long)]
    config: String,
}

impl ConfiguredNetwork {
    fn parse(&self) -> Result<(BirrdConfig, Config)> {
        let cfg = self.p.config()?;
        let enc: Encoding = self.encoding.parse().map_err(bad)?;
        let config = parse_config(&cfg, enc, &self.config)?;
        Ok((cfg, config))
    }
}

#[derive(Subcommand)]
enum GenDesign {
    Birrd {
        #[command(flatten)]
        p: BirrdParams,
        /// Output directory (must not exist or be empty).
        #[arg(short, long)]
        out: PathBuf,
    },
    /// The FEATHER core (buffers, NEST, BIRRD, output buffer, quantizer).
    Feather {
        #[command(flatten)]
        a: ArrayArgs,
        /// Output directory (must not exist or be empty).
        #[arg(short, long)]
        out: PathBuf,
        /// Only the micro-instruction-driven core, without the sequencer.
        #[arg(long)]
        core: bool,
    },
}

#[derive(Subcommand)]
enum SimDesign {
    Birrd {
        #[command(flatten)]
        p: BirrdParams,
        #[arg(long, default_value_t = 10_000)]
        cycles: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write a VCD waveform here.
        #[arg(long)]
        vcd: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CheckDesign {
    Birrd {
        #[command(flatten)]
        p: BirrdParams,
        #[arg(long, default_value_t = 500)]
        cycles: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum SynthDesign {
    Birrd {
        #[command(flatten)]
        p: BirrdParams,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The FEATHER core at its default buffer depths.
    Feather {
        #[command(flatten)]
        a: ArrayArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Only the micro-instruction-driven core, without the sequencer.
        #[arg(long)]
        core: bool,
    },
}

#[derive(Subcommand)]
enum BirrdCmd {
    /// Draw a configured network as SVG: switches coloured by mode, wires labelled with the
    /// inputs they carry.
    Draw {
        #[command(flatten)]
        c: ConfiguredNetwork,
        /// The SVG file to write.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Find a configuration that sums the given inputs onto the given outputs. Prints the
    /// configuration (as `eval --config` takes it); exit 3 when no configuration exists, 4 when
    /// the time budget runs out first.
    Route {
        /// Ports N: a power of two from 4 to 256.
        #[arg(long, default_value_t = 16)]
        ports: u32,
        /// bitrev or benes.
        #[arg(long, default_value = "bitrev")]
        topology: String,
        /// JSON object: output port → array of input ports, e.g. {"6":[0,4],"5":[1,5]} (or @FILE).
        #[arg(long)]
        target: String,
        /// rtl, allo or names.
        #[arg(long, default_value = "rtl")]
        encoding: String,
        /// Time budget in milliseconds.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
    },
    /// Package a configuration and random vectors for the board: `birrd.json` (command-word
    /// registers), `in.bin` / `golden.bin` (DMA images of the input and expected output
    /// vectors), run by `sw/run_birrd.py` of a `plume fpga zcu104 birrd` build. Checked
    /// through AXI on plume's simulator before writing.
    Export {
        #[command(flatten)]
        c: ConfiguredNetwork,
        /// Input vectors.
        #[arg(long, default_value_t = 256)]
        vectors: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output directory (must not exist or be empty).
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Evaluate one input vector under a configuration; prints the N outputs as a JSON array.
    Eval {
        #[command(flatten)]
        c: ConfiguredNetwork,
        /// Comma-separated list of N unsigned integers.
        #[arg(long)]
        inputs: String,
        /// golden, sim, verilator or icarus.
        #[arg(long, default_value = "golden")]
        engine: String,
    },
}

/// No configuration exists (exit 3) or none was found in time (exit 4).
#[derive(Debug)]
struct RouteFailure(String, u8);

impl std::fmt::Display for RouteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RouteFailure {}

/// An error in what the user gave: exit code 2.
#[derive(Debug)]
struct BadInput(String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

fn bad(msg: impl Into<String>) -> anyhow::Error {
    anyhow!(BadInput(msg.into()))
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`plume feather net resnet50 | head`), as Unix tools do.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("plume: {first}");
            return ExitCode::from(2);
        }
    };
    match dispatch(cli.cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(b) = e.downcast_ref::<BadInput>() {
                eprintln!("plume: {b}");
                ExitCode::from(2)
            } else if let Some(b) = e.downcast_ref::<plume::BadInputError>() {
                eprintln!("plume: {b}");
                ExitCode::from(2)
            } else if let Some(RouteFailure(msg, code)) = e.downcast_ref::<RouteFailure>() {
                eprintln!("plume: {msg}");
                ExitCode::from(*code)
            } else {
                eprintln!("plume: {e:#}");
                ExitCode::from(1)
            }
        }
    }
}

fn dispatch(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Gen {
            design: GenDesign::Birrd { p, out },
        } => gen_birrd(&p.config()?, &out),
        Cmd::Gen {
            design: GenDesign::Feather { a, out, core },
        } => feather_cli::gen_feather(&a.config()?, &out, core),
        Cmd::Synth {
            design: SynthDesign::Feather { a, json, core },
        } => feather_cli::synth_feather(&a.config()?, json, core),
        Cmd::Feather { cmd } => feather_cli::dispatch(cmd),
        Cmd::Sim {
            design:
                SimDesign::Birrd {
                    p,
                    cycles,
                    seed,
                    vcd,
                },
        } => sim_birrd(&p.config()?, cycles, seed, vcd.as_deref()),
        Cmd::Check {
            design: CheckDesign::Birrd { p, cycles, seed },
        } => check_birrd(&p.config()?, cycles, seed),
        Cmd::Synth {
            design: SynthDesign::Birrd { p, json },
        } => {
            let r = tools::synth(&generate(&p.config()?)?)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", r.table());
            }
            Ok(())
        }
        Cmd::Birrd {
            cmd:
                BirrdCmd::Export {
                    c,
                    vectors,
                    seed,
                    out,
                },
        } => birrd_export(&c, vectors, seed, &out),
        Cmd::Birrd {
            cmd: BirrdCmd::Eval { c, inputs, engine },
        } => {
            let (cfg, config) = c.parse()?;
            let engine: Engine = engine.parse().map_err(bad)?;
            let inputs = parse_inputs(&cfg, &inputs)?;
            let out = run::eval(&cfg, &config, &inputs, engine)?;
            println!("{}", serde_json::to_string(&out)?);
            Ok(())
        }
        Cmd::Birrd {
            cmd:
                BirrdCmd::Route {
                    ports,
                    topology,
                    target,
                    encoding,
                    timeout_ms,
                },
        } => route_cmd(ports, &topology, &target, &encoding, timeout_ms),
        Cmd::Birrd {
            cmd: BirrdCmd::Draw { c, out },
        } => {
            let (cfg, config) = c.parse()?;
            write_file_atomically(&out, plume::draw::birrd_svg(&cfg, &config).as_bytes())?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Cmd::Fpga {
            board: FpgaBoard::Zcu104 { design },
        } => {
            let (d, o) = match design {
                FpgaDesign::Birrd { p, o } => (fpga::Design::Birrd(p.config()?), o),
                FpgaDesign::Feather { a, o } => {
                    (fpga::Design::Feather(a.config()?, Default::default()), o)
                }
            };
            fpga_cli::fpga_cmd(&d, &o)
        }
        Cmd::Serve { design } => {
            let d = match design {
                ServeDesign::Birrd { p } => fpga::Design::Birrd(p.config()?),
                ServeDesign::Feather { a } => {
                    fpga::Design::Feather(a.config()?, Default::default())
                }
            };
            fpga_cli::serve(&d)
        }
        Cmd::Report {
            board: ReportBoard::Zcu104 { array, ports, json },
        } => fpga_cli::report_cmd(&array, ports, json),
        Cmd::Demo { out } => demo(&out),
        Cmd::Bench {
            what,
            cycles,
            ports,
        } => match what.as_str() {
            "sim" => bench_cmd(cycles, &ports),
            "route" => bench_route(),
            "feather" => feather_cli::bench_feather(),
            other => Err(bad(format!(
                "unknown benchmark '{other}' (expected sim, feather or route)"
            ))),
        },
    }
}

fn birrd_export(c: &ConfiguredNetwork, vectors: usize, seed: u64, out: &Path) -> Result<()> {
    use plume::axi::{Host, Stalls};
    let (cfg, config) = c.parse()?;
    if vectors == 0 {
        bail!(bad("--vectors must be at least 1"));
    }
    let d = fpga::Design::Birrd(cfg);
    let map = d.map()?;
    let (wi, wo) = d.stream_widths();
    let (di, d_o) = (
        fpga::dma_width(wi) as usize / 8,
        fpga::dma_width(wo) as usize / 8,
    );
    let word = cfg.command_word(&config);
    let registers: Vec<(String, u64)> = map
        .params
        .iter()
        .enumerate()
        .map(|(k, p)| (p.name.clone(), word.slice(32 * k as u32, p.width).to_u64()))
        .collect();
    let mut rng = XorShift::new(seed);
    let mask = if cfg.width == 64 {
        u64::MAX
    } else {
        (1 << cfg.width) - 1
    };
    let (mut image_in, mut image_out) = (Vec::new(), Vec::new());
    let (mut design_in, mut design_out) = (Vec::new(), Vec::new());
    for _ in 0..vectors {
        let v: Vec<u64> = (0..cfg.ports).map(|_| rng.next() & mask).collect();
        let g = golden::birrd(&cfg, &config, &v)?;
        for (bits, w, dma, image, design) in [
            (cfg.pack(&v), wi, di, &mut image_in, &mut design_in),
            (cfg.pack(&g), wo, d_o, &mut image_out, &mut design_out),
        ] {
            let mut beat = Vec::new();
            plume::axi::bits_bytes(&bits, w.div_ceil(8) as usize, &mut beat);
            design.extend_from_slice(&beat);
            beat.resize(dma, 0);
            image.extend_from_slice(&beat);
        }
    }
    // The package on the simulated hardware first.
    let mut h = Host::new(d.wrapped()?, map, Stalls::default(), false)?;
    for (name, v) in &registers {
        h.write(name, *v)?;
    }
    let got = h.transfer(&design_in, vectors)?;
    if got != design_out {
        bail!("the wrapped BIRRD's output differs from the golden model");
    }
    let t0 = h.sim.cycle();
    h.wait_done(t0, 100)?;
    if h.read("beats")? != vectors as u64 {
        bail!("BEATS does not count the vectors");
    }
    let manifest = serde_json::json!({
        "design": d.name(),
        "hardware": d.params(),
        "registers": registers,
        "vectors": vectors,
        "beat_bytes_in": di,
        "beat_bytes_out": d_o,
    });
    tools::write_dir_atomically(
        out,
        &[
            ("birrd.json".into(), serde_json::to_vec_pretty(&manifest)?),
            ("in.bin".into(), image_in),
            ("golden.bin".into(), image_out),
        ],
    )
    .map_err(|e| bad(format!("{e:#}")))?;
    println!(
        "wrote {}: {} vectors for {} (checked through AXI on plume's simulator)",
        out.display(),
        vectors,
        d.name()
    );
    Ok(())
}

fn parse_config(cfg: &BirrdConfig, enc: Encoding, text: &str) -> Result<Config> {
    let text = read_arg(text, "configuration")?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("configuration is not valid JSON: {e}")))?;
    let rows = v
        .as_array()
        .ok_or_else(|| bad("configuration must be a JSON array [stage][switch]"))?;
    let mut config = Vec::new();
    for (s, row) in rows.iter().enumerate() {
        let row = row
            .as_array()
            .ok_or_else(|| bad(format!("configuration stage {s} is not an array")))?;
        let modes: Result<Vec<Mode>> = row
            .iter()
            .enumerate()
            .map(|(j, m)| {
                Mode::decode(enc, m).map_err(|e| bad(format!("stage {s} switch {j}: {e}")))
            })
            .collect();
        config.push(modes?);
    }
    cfg.check_config(&config).map_err(|e| bad(e.to_string()))?;
    Ok(config)
}

fn parse_inputs(cfg: &BirrdConfig, text: &str) -> Result<Vec<u64>> {
    let inputs: Result<Vec<u64>> = text
        .split(',')
        .enumerate()
        .map(|(i, s)| {
            s.trim().parse::<u64>().map_err(|_| {
                bad(format!(
                    "input {i} '{}' is not an unsigned integer below 2^64",
                    s.trim()
                ))
            })
        })
        .collect();
    let inputs = inputs?;
    cfg.check_inputs(&inputs).map_err(|e| bad(e.to_string()))?;
    Ok(inputs)
}

fn gen_birrd(cfg: &BirrdConfig, out: &Path) -> Result<()> {
    let top = generate(cfg)?;
    let manifest = serde_json::json!({
        "design": "birrd",
        "parameters": cfg,
        "stages": cfg.stages(),
        "latency_cycles": cfg.stages(),
        "throughput": "one N-wide vector per cycle",
        "port_layout": {
            "i_data": "port p at bits [p*W +: W]",
            "o_data": "port p at bits [p*W +: W]",
            "i_cmd": "switch row j at bits [j*2S +: 2S], stage 0 in the row's most significant 2 bits; codes 00 pass, 01 add_even, 10 add_odd, 11 swap",
        },
    });
    let n = tools::write_design(out, &top, manifest).map_err(|e| bad(format!("{e:#}")))?;
    println!(
        "wrote {} ({n} Verilog files, top module {}, latency {} cycles) and manifest.json",
        out.display(),
        top.name,
        cfg.stages()
    );
    Ok(())
}

fn sim_birrd(cfg: &BirrdConfig, cycles: u64, seed: u64, vcd: Option<&Path>) -> Result<()> {
    if cycles == 0 {
        return Err(bad("--cycles must be at least 1"));
    }
    if let Some(dir) = vcd
        .and_then(|p| p.parent())
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
    }
    let tmp = vcd.map(|p| p.with_extension("vcd.plume-partial"));
    if let Some(t) = &tmp {
        std::fs::File::create(t).map_err(|e| bad(format!("cannot write {}: {e}", t.display())))?;
    }
    let r = run::simulate(cfg, cycles, seed, tmp.as_deref(), false);
    let r = match r {
        Ok(r) => r,
        Err(e) => {
            if let Some(t) = &tmp {
                let _ = std::fs::remove_file(t);
            }
            return Err(e);
        }
    };
    if let (Some(t), Some(p)) = (&tmp, vcd) {
        std::fs::rename(t, p).with_context(|| format!("cannot write {}", p.display()))?;
    }
    println!(
        "{}: simulated {} cycles (seed {seed}), {} output vectors equal to the golden model; {:.0} cycles/s",
        cfg.module_name(),
        r.cycles,
        r.checked,
        r.cycles as f64 / r.seconds.max(1e-9)
    );
    if let Some(p) = vcd {
        println!("waveform: {}", p.display());
    }
    Ok(())
}

fn check_birrd(cfg: &BirrdConfig, cycles: u64, seed: u64) -> Result<()> {
    let top = generate(cfg)?;
    let r = run::simulate(cfg, cycles.max(cfg.stages() as u64 + 2), seed, None, true)?;
    println!(
        "golden ≡ sim:       {} output vectors over {} cycles",
        r.checked, r.cycles
    );
    tools::lint(&top)?;
    println!("verilator lint:     clean (--lint-only -Wall)");
    let rec = r.recording.expect("recorded");
    for tool in [Tool::Verilator, Tool::Icarus] {
        let dir = TempDir::new("check")?;
        let n = cosim::check(tool, &top, &rec, dir.path())?;
        println!(
            "sim ≡ {:<12} {} cycles, every output compared",
            format!("{}:", tool.name()),
            n
        );
    }
    println!("{}: all engines agree", top.name);
    Ok(())
}

fn demo(out_dir: &Path) -> Result<()> {
    let cfg = BirrdConfig {
        ports: 16,
        width: 32,
        topology: Topology::Bitrev,
    };
    let top = generate(&cfg)?;
    println!(
        "plume demo: {} — {} ports, {} stages of {} EGG switches, {}-bit data, latency {} cycles",
        top.name,
        cfg.ports,
        cfg.stages(),
        cfg.switches(),
        cfg.width,
        cfg.stages()
    );

    // Reorder-in-reduction: four groups of four inputs are summed and each sum lands on the
    // output bank a next layer's layout might want, in one pass (the router finds the modes).
    let s = cfg.stages() as usize;
    let wanted: plume_hw::feather::route::Target = [
        (3, vec![0, 1, 2, 3]),
        (12, vec![4, 5, 6, 7]),
        (0, vec![8, 9, 10, 11]),
        (9, vec![12, 13, 14, 15]),
    ]
    .into_iter()
    .collect();
    let router = plume_hw::feather::route::Router::new(cfg.ports, cfg.topology)?;
    let pattern = router.route(&wanted, std::time::Duration::from_secs(10))?;
    let sets = plume::draw::wire_sets(&cfg, &pattern)
        .pop()
        .expect("outputs");
    println!(
        "pattern (routed by `plume birrd route`): four sums of four, written to reordered banks"
    );
    for o in wanted.keys() {
        println!(
            "  output port {o:>2} = sum of inputs {}",
            plume::draw::set_label(&sets[*o])
        );
    }

    // Stream: the pattern on even cycles, a random configuration on odd ones (commands travel
    // with the data, so every cycle may differ), random data throughout.
    let cycles = 64u64;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let vcd_path = out_dir.join("birrd16.vcd");
    let vcd_tmp = out_dir.join("birrd16.vcd.plume-partial");
    let mut sim = plume_sim::Sim::new(&top)?;
    sim.trace_vcd(&vcd_tmp)?;
    sim.record();
    let mut rng = XorShift::new(2024);
    let mut expected = std::collections::VecDeque::new();
    let mut checked = 0;
    sim.poke_u64("rst", 1)?;
    sim.step();
    sim.poke_u64("rst", 0)?;
    for c in 1..cycles {
        let config = if c % 2 == 0 {
            pattern.clone()
        } else {
            run::random_config(&cfg, &mut rng)
        };
        let inputs: Vec<u64> = (0..cfg.ports).map(|_| rng.next() % 1000).collect();
        sim.poke("i_data", &cfg.pack(&inputs))?;
        sim.poke("i_cmd", &cfg.command_word(&config))?;
        expected.push_back(golden::birrd(&cfg, &config, &inputs)?);
        if expected.len() > s {
            let want = expected.pop_front().unwrap();
            let got = cfg.unpack(&sim.peek("o_data")?);
            if got != want {
                bail!("cycle {c}: simulator {got:?} but golden model {want:?}");
            }
            checked += 1;
        }
        sim.step();
    }
    sim.finish_vcd()?;
    std::fs::rename(&vcd_tmp, &vcd_path)?;
    println!("simulated {cycles} cycles: {checked} output vectors equal to the golden model");

    let rec = sim.take_recording().expect("recording");
    for tool in [Tool::Verilator, Tool::Icarus] {
        if cosim::available(tool) {
            let dir = TempDir::new("demo")?;
            let n = cosim::check(tool, &top, &rec, dir.path())?;
            println!("{} runs the emitted Verilog on the same stimulus: {n} cycles, every output identical", tool.name());
        } else {
            println!(
                "{} not installed: Verilog cross-check skipped (make deps installs it)",
                tool.name()
            );
        }
    }
    let v_path = out_dir.join("birrd16.v");
    write_file_atomically(&v_path, emit_bundle(&top).as_bytes())?;
    let svg_path = out_dir.join("birrd16.svg");
    write_file_atomically(&svg_path, plume::draw::birrd_svg(&cfg, &pattern).as_bytes())?;
    println!(
        "wrote {} (the routed pattern as a picture)",
        svg_path.display()
    );
    let (vars, changes) = plume_sim::vcd::summarize(&vcd_path)?;
    println!(
        "wrote {} and {} ({} signals, {} value changes; open with gtkwave)",
        v_path.display(),
        vcd_path.display(),
        vars.len(),
        changes
    );
    feather_cli::demo_feather(out_dir)
}

fn bench_cmd(cycles: u64, ports: &[u32]) -> Result<()> {
    println!("BIRRD (bitrev, W=32), random configuration and data every cycle, {cycles} cycles, same stimulus in both simulators");
    println!(
        "{:>6} {:>14} {:>16} {:>10} {:>14} {:>16}",
        "ports", "plume cyc/s", "verilator cyc/s", "ratio", "vl build (s)", "plume model (KB)"
    );
    for &n in ports {
        let cfg = BirrdConfig {
            ports: n,
            width: 32,
            topology: Topology::Bitrev,
        };
        cfg.validate().map_err(|e| bad(e.to_string()))?;
        let top = generate(&cfg)?;
        let p = bench::plume_random(&top, cycles, 1)?;
        let pr = cycles as f64 / p.seconds;
        match bench::verilator_random(&top, cycles, 1) {
            Ok(v) => {
                if v.checksum != p.checksum {
                    bail!(
                        "BIRRD-{n}: output checksums differ (plume {:016x}, verilator {:016x})",
                        p.checksum,
                        v.checksum
                    );
                }
                let vr = cycles as f64 / v.seconds;
                println!(
                    "{n:>6} {pr:>14.0} {vr:>16.0} {:>10.2} {:>14.1} {:>16.0}",
                    pr / vr,
                    v.build_seconds,
                    p.model_bytes as f64 / 1024.0
                );
            }
            Err(e) => println!(
                "{n:>6} {pr:>14.0} {:>16} {:>10} {:>14} {:>16.0}   ({e})",
                "-",
                "-",
                "-",
                p.model_bytes as f64 / 1024.0
            ),
        }
    }
    let cfg = BirrdConfig {
        ports: 256,
        width: 32,
        topology: Topology::Bitrev,
    };
    let top = generate(&cfg)?;
    let p = bench::plume_random(&top, 1000, 1)?;
    println!(
        "BIRRD-256: plume model {:.1} MB; peak resident memory of this process {:.1} MB",
        p.model_bytes as f64 / 1e6,
        bench::peak_rss().unwrap_or(0) as f64 / 1e6
    );
    Ok(())
}

fn bench_route() -> Result<()> {
    let budget = std::time::Duration::from_secs(1);
    println!("BIRRD routing, random targets, 1 s budget per target");
    println!(
        "{:>8} {:>6} {:>12} {:>6} {:>11} {:>10} {:>11} {:>9}",
        "topology", "ports", "kind", "cases", "median ms", "worst ms", "unroutable", "timeouts"
    );
    for topology in [Topology::Bitrev, Topology::Benes] {
        for ports in [16u32, 32, 64, 128] {
            for reduction in [false, true] {
                let cases = if ports >= 128 { 20 } else { 50 };
                let seed = ports as u64 + reduction as u64;
                let r = bench::route_stats(ports, topology, reduction, cases, budget, seed)?;
                println!(
                    "{:>8} {:>6} {:>12} {:>6} {:>11.2} {:>10.2} {:>10.0}% {:>9}",
                    topology.to_string(),
                    r.ports,
                    r.kind,
                    r.cases,
                    r.median_ms,
                    r.worst_ms,
                    100.0 * r.unroutable as f64 / r.cases as f64,
                    r.timeouts
                );
            }
        }
    }
    Ok(())
}

fn read_arg(text: &str, what: &str) -> Result<String> {
    match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| bad(format!("cannot read {what} {path}: {e}"))),
        None => Ok(text.to_string()),
    }
}

fn parse_target(text: &str) -> Result<plume_hw::feather::route::Target> {
    let v: serde_json::Value = serde_json::from_str(&read_arg(text, "target")?)
        .map_err(|e| bad(format!("target is not valid JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| {
        bad("target must be a JSON object mapping output ports to arrays of input ports")
    })?;
    let mut target = plume_hw::feather::route::Target::new();
    for (k, ins) in obj {
        let o: usize = k
            .trim()
            .parse()
            .map_err(|_| bad(format!("target output '{k}' is not a port number")))?;
        let arr = ins.as_array().ok_or_else(|| {
            bad(format!(
                "target output {o}: inputs must be an array of port numbers"
            ))
        })?;
        let mut list = Vec::new();
        for x in arr {
            let i = x
                .as_u64()
                .ok_or_else(|| bad(format!("target output {o}: input {x} is not a port number")))?;
            list.push(i as usize);
        }
        target.insert(o, list);
    }
    Ok(target)
}

fn route_cmd(
    ports: u32,
    topology: &str,
    target: &str,
    encoding: &str,
    timeout_ms: u64,
) -> Result<()> {
    use plume_hw::feather::route::{RouteError, Router};
    let topology: Topology = topology.parse().map_err(bad)?;
    let enc: Encoding = encoding.parse().map_err(bad)?;
    let router = Router::new(ports, topology).map_err(|e| bad(e.to_string()))?;
    let target = parse_target(target)?;
    match router.route(&target, std::time::Duration::from_millis(timeout_ms)) {
        Ok(config) => {
            let rows: Vec<Vec<serde_json::Value>> = config
                .iter()
                .map(|row| row.iter().map(|m| m.encode(enc)).collect())
                .collect();
            println!("{}", serde_json::to_string(&rows)?);
            Ok(())
        }
        Err(e @ RouteError::Unroutable(_)) => Err(anyhow!(RouteFailure(e.to_string(), 3))),
        Err(e @ RouteError::Timeout(_)) => Err(anyhow!(RouteFailure(e.to_string(), 4))),
        Err(e) => Err(bad(e.to_string())),
    }
}
