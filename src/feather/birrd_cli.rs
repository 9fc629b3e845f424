//! The BIRRD commands: `plume birrd route | draw | eval | export | bench`.

use super::birrd::{BirrdParams, Engine};
use super::draw;
use crate::board::Wrapped;
use crate::error::{bad, failed, Error, Result};
use crate::input::{self, read_arg};
use crate::output::{dir_target, file_target, write_dir, write_file, FileTarget};
use crate::registry;
use clap::{Args, Command, Subcommand};
use plume_hw::feather::birrd::{BirrdConfig, Config, Encoding, Mode, Topology};
use plume_hw::feather::compiler::route::{RouteError, Router, Target};
use plume_hw::feather::golden;
use plume_sim::bfm::{bits_bytes, Host, Stalls};
use plume_sim::rng::XorShift;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `plume birrd …`.
pub fn command() -> Command {
    BirrdCmd::augment_subcommands(
        Command::new("birrd")
            .about("BIRRD tools: route, draw, evaluate, export for the board, routing benchmark.")
            .subcommand_required(true),
    )
}

pub fn run(m: &clap::ArgMatches) -> Result<()> {
    let cmd: BirrdCmd = crate::cli::parsed(m)?;
    match cmd {
        BirrdCmd::Export {
            c,
            vectors,
            seed,
            out,
        } => birrd_export(&c, vectors, seed, &out),
        BirrdCmd::Eval { c, inputs, engine } => {
            let (cfg, config) = c.parse()?;
            let engine: Engine = engine.parse().map_err(bad)?;
            let inputs = parse_inputs(&cfg, &inputs)?;
            let out = super::birrd::eval(&cfg, &config, &inputs, engine)?;
            crate::outln!("{}", serde_json::to_string(&out)?);
            Ok(())
        }
        BirrdCmd::Route {
            ports,
            topology,
            target,
            encoding,
            timeout_ms,
        } => route_cmd(ports, &topology, &target, &encoding, timeout_ms),
        BirrdCmd::Draw { c, out } => {
            let target = file_target(&out, "SVG")?;
            let (cfg, config) = c.parse()?;
            write_file(&target, draw::birrd_svg(&cfg, &config).as_bytes())?;
            if target != FileTarget::Stdout {
                crate::outln!("wrote {}", out.display());
            }
            Ok(())
        }
        BirrdCmd::Bench => bench_route(),
    }
}

/// A network and a configuration for it.
#[derive(Args, Clone)]
pub struct ConfiguredNetwork {
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
pub enum BirrdCmd {
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
    /// Routing time and unroutable fraction for random permutations and reductions,
    /// N = 16…128, both topologies (1 s budget per target).
    Bench,
}

/// Vectors one package may hold (its images then stay below 256 MiB at the widest beats).
const MAX_VECTORS: usize = 1 << 17;

fn birrd_export(c: &ConfiguredNetwork, vectors: usize, seed: u64, out: &Path) -> Result<()> {
    dir_target(out, |_| false)?;
    let (cfg, config) = c.parse()?;
    if vectors == 0 || vectors > MAX_VECTORS {
        return Err(bad(format!(
            "--vectors must be from 1 to {MAX_VECTORS}, got {vectors}"
        )));
    }
    let d = Wrapped::of(&*registry::instance(&super::birrd::BIRRD, cfg))?;
    // The package must run on the board build of the same network.
    crate::board::check_streams(&d).map_err(bad)?;
    let map = d.board.map.clone();
    let (wi, wo) = d.stream_widths();
    let (di, d_o) = d.dma_bytes();
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
            bits_bytes(&bits, w.div_ceil(8) as usize, &mut beat);
            design.extend_from_slice(&beat);
            beat.resize(dma, 0);
            image.extend_from_slice(&beat);
        }
    }
    // The package on the simulated hardware first.
    let mut h = Host::new(d.board.top.clone(), map, Stalls::default(), false)?;
    for (name, v) in &registers {
        h.write(name, *v)?;
    }
    let got = h.transfer(&design_in, vectors)?;
    if got != design_out {
        return Err(failed(
            "the wrapped BIRRD's output differs from the golden model",
        ));
    }
    let t0 = h.sim.cycle();
    h.wait_done(t0, 100)?;
    if h.read("beats")? != vectors as u64 {
        return Err(failed("BEATS does not count the vectors"));
    }
    let manifest = serde_json::json!({
        "design": d.name,
        "hardware": d.params,
        "registers": registers,
        "vectors": vectors,
        "beat_bytes_in": di,
        "beat_bytes_out": d_o,
    });
    write_dir(
        out,
        &[
            ("birrd.json".into(), serde_json::to_vec_pretty(&manifest)?),
            ("in.bin".into(), image_in),
            ("golden.bin".into(), image_out),
        ],
    )?;
    crate::outln!(
        "wrote {}: {} vectors for {} (checked through AXI on plume's simulator)",
        out.display(),
        vectors,
        d.name
    );
    Ok(())
}

fn parse_config(cfg: &BirrdConfig, enc: Encoding, text: &str) -> Result<Config> {
    let v = input::json(&read_arg(text, "configuration")?, "configuration")?;
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

fn parse_target(text: &str) -> Result<Target> {
    let v = input::json(&read_arg(text, "target")?, "target")?;
    let obj = v.as_object().ok_or_else(|| {
        bad("target must be a JSON object mapping output ports to arrays of input ports")
    })?;
    let mut target = Target::new();
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
            list.push(usize::try_from(i).unwrap_or(usize::MAX));
        }
        if list.is_empty() {
            return Err(bad(format!(
                "target output {o} lists no inputs (leave an output out to say it does not matter)"
            )));
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
    let topology: Topology = topology.parse().map_err(bad)?;
    let enc: Encoding = encoding.parse().map_err(bad)?;
    let router = Router::new(ports, topology).map_err(|e| bad(e.to_string()))?;
    let target = parse_target(target)?;
    match router.route(&target, Duration::from_millis(timeout_ms)) {
        Ok(config) => {
            let rows: Vec<Vec<serde_json::Value>> = config
                .iter()
                .map(|row| row.iter().map(|m| m.encode(enc)).collect())
                .collect();
            crate::outln!("{}", serde_json::to_string(&rows)?);
            Ok(())
        }
        Err(e @ RouteError::Unroutable(_)) => Err(Error::Unroutable(e.to_string())),
        Err(e @ RouteError::Timeout(_)) => Err(Error::Timeout(e.to_string())),
        Err(e) => Err(bad(e.to_string())),
    }
}

fn bench_route() -> Result<()> {
    let budget = std::time::Duration::from_secs(1);
    crate::outln!("BIRRD routing, random targets, 1 s budget per target");
    crate::outln!(
        "{:>8} {:>6} {:>12} {:>6} {:>11} {:>10} {:>11} {:>9}",
        "topology",
        "ports",
        "kind",
        "cases",
        "median ms",
        "worst ms",
        "unroutable",
        "timeouts"
    );
    for topology in [Topology::Bitrev, Topology::Benes] {
        for ports in [16u32, 32, 64, 128] {
            for reduction in [false, true] {
                let cases = if ports >= 128 { 20 } else { 50 };
                let seed = ports as u64 + reduction as u64;
                let r = route_stats(ports, topology, reduction, cases, budget, seed)?;
                crate::outln!(
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

/// Routing time by network size and pattern kind: a permutation sends every input to a distinct
/// output; a reduction splits all inputs into groups of 1–8, each to a distinct output.
pub struct RouteStats {
    pub ports: u32,
    pub kind: &'static str,
    pub cases: usize,
    pub median_ms: f64,
    pub worst_ms: f64,
    pub unroutable: usize,
    pub timeouts: usize,
}

/// A random target: inputs and outputs shuffled, then up to `groups` outputs each get the sum of
/// the next 1–`max_group` inputs (fewer when inputs run out). `max_group` = 1 gives a
/// permutation of the chosen inputs; `groups` = n with `max_group` = 1 a full permutation.
pub fn random_target(rng: &mut XorShift, n: usize, groups: usize, max_group: usize) -> Target {
    let mut ins: Vec<usize> = (0..n).collect();
    let mut outs: Vec<usize> = (0..n).collect();
    for k in (1..n).rev() {
        ins.swap(k, (rng.next() % (k as u64 + 1)) as usize);
        outs.swap(k, (rng.next() % (k as u64 + 1)) as usize);
    }
    let mut target = Target::new();
    let mut at = 0;
    for &o in outs.iter().take(groups) {
        if at == n {
            break;
        }
        let g = (1 + (rng.next() % max_group as u64) as usize).min(n - at);
        target.insert(o, ins[at..at + g].to_vec());
        at += g;
    }
    target
}

pub fn route_stats(
    ports: u32,
    topology: Topology,
    reduction: bool,
    cases: usize,
    budget: Duration,
    seed: u64,
) -> Result<RouteStats> {
    let router = Router::new(ports, topology)?;
    let mut rng = XorShift::new(seed);
    let mut times = Vec::with_capacity(cases);
    let (mut unroutable, mut timeouts) = (0, 0);
    for _ in 0..cases {
        let target = random_target(
            &mut rng,
            ports as usize,
            ports as usize,
            if reduction { 8 } else { 1 },
        );
        let t0 = Instant::now();
        match router.route(&target, budget) {
            Ok(_) => {}
            Err(RouteError::Unroutable(_)) => unroutable += 1,
            Err(RouteError::Timeout(_)) => timeouts += 1,
            Err(e) => return Err(bad(e)),
        }
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(RouteStats {
        ports,
        kind: if reduction {
            "reduction"
        } else {
            "permutation"
        },
        cases,
        median_ms: times[times.len() / 2],
        worst_ms: *times.last().unwrap(),
        unroutable,
        timeouts,
    })
}
