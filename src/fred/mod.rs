//! The FRED family: the whole switch (`fred`) and its interconnect alone (`fred_net`) as
//! registered designs (`plume gen|sim|check|synth|bench|fpga …`), the router, pictures of
//! routed networks, a routing benchmark, and board packages for the switch.

pub mod chakra_cli;
pub mod collective;
pub mod demo;
pub mod design;
pub mod draw;
pub mod fabric;
pub mod heat;
pub mod switch;

use crate::error::{bad, Error, Result};
use crate::input::{self, read_arg};
use crate::output::{dir_target, file_target, write_file, FileTarget};
use crate::registry::{Entry, Family};
use clap::{ArgMatches, Args, Command, Subcommand};
use plume_hw::fred::network::{Flow, Masks, Network};
use plume_hw::fred::router::{route, RouteError};
use plume_hw::fred::FredConfig;
use plume_sim::rng::XorShift;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Args, Clone, Debug)]
pub struct FredParams {
    /// Ports P (2-256).
    #[arg(long, default_value_t = 8)]
    pub ports: u32,
    /// Middle sub-networks m (2 or 3).
    #[arg(long, default_value_t = 3)]
    pub m: u32,
}

impl FredParams {
    fn network(&self) -> Result<Network> {
        let cfg = FredConfig {
            ports: self.ports,
            m: self.m,
            width: 32,
        };
        cfg.validate().map_err(bad)?;
        Ok(Network::new(&cfg))
    }
}

#[derive(Subcommand)]
enum FredCmd {
    /// Configure Fred_m(P) so that every output of each flow receives the sum of the flow's
    /// inputs. Prints, for every µSwitch in order, the mask of inputs each of its outputs
    /// sums (JSON); exit 3 with the conflicting flows when no configuration exists, 4 when
    /// the time budget runs out.
    Route {
        #[command(flatten)]
        p: FredParams,
        /// JSON array of flows, e.g. [{"ins":[0,1,2],"outs":[0,1,2]},{"ins":[3],"outs":[5,6]}]
        /// (or @FILE).
        #[arg(long)]
        flows: String,
        /// Time budget in milliseconds.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
    },
    /// An SVG of the network routed for the flows: µSwitches in their columns, every wire
    /// coloured by the flow it carries and labelled with the inputs it sums.
    Draw {
        #[command(flatten)]
        p: FredParams,
        /// JSON array of flows (or @FILE).
        #[arg(long)]
        flows: String,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// A package for `sw/run_fred.py` in a `plume fpga zcu104 fred` build of the same switch:
    /// the phases' entries, random elements for every run, the flits in and the flits the flow
    /// golden model expects out — checked through AXI on plume's simulator first.
    Export {
        #[command(flatten)]
        p: switch::SwitchParams,
        /// JSON array of runs, each a phase's flows and its number of releases, e.g.
        /// [{"flows":[{"ins":[0,1,2,3],"outs":[0,1,2,3]}],"flits":16}] (or @FILE).
        #[arg(long)]
        traffic: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// A collective on the wafer fabric (packet-level simulation): completion time, bytes per
    /// NPU and per link, and an SVG heat map of link load.
    Sim(SimArgs),
    /// Routing time and conflict rate for random flow sets on Fred_2 and Fred_3, P = 8 … 64:
    /// unicast permutations, multicasts, reductions, and 3D-parallel (MP, DP, PP) groups.
    Bench,
}

#[derive(Args, Clone, Debug)]
pub struct SimArgs {
    /// fred-d (fat tree, in-switch collectives), fred-c (fat tree, endpoint rings) or mesh
    /// (2D mesh, X-Y routing, endpoint rings).
    #[arg(long)]
    pub fabric: String,
    /// allreduce, reducescatter, allgather or alltoall.
    #[arg(long)]
    pub collective: String,
    /// Bytes per NPU (D), e.g. 1GiB, 64KiB, 4096.
    #[arg(long)]
    pub bytes: String,
    /// The groups that run it at once: all, or the mp, dp or pp groups of an MP × PP × DP
    /// placement (MP on consecutive NPUs, then PP, then DP).
    #[arg(long, default_value = "all")]
    pub group: String,
    #[arg(long, default_value_t = 2)]
    pub mp: u32,
    #[arg(long, default_value_t = 2)]
    pub pp: u32,
    /// NPUs on the wafer (the paper's 20; 80 and 320 to see how the model scales).
    #[arg(long, default_value_t = 20)]
    pub npus: u32,
    /// Packet size in bytes.
    #[arg(long, default_value_t = 4096)]
    pub packet: u64,
    /// Head latency per link in ns (ours: the paper gives none).
    #[arg(long, default_value_t = 20.0)]
    pub link_ns: f64,
    /// The mesh's All-Reduce algorithm over the whole wafer: ring (a bidirectional ring on a
    /// Hamiltonian cycle) or 2d (Reduce-Scatter along rows, All-Reduce along columns,
    /// All-Gather along rows, each half of D one way round).
    #[arg(long, default_value = "ring")]
    pub algo: String,
    /// Carry data and check every rank's buffer against the golden result (D ≤ 16 MiB).
    #[arg(long)]
    pub verify: bool,
    /// Write the link-load heat map here (SVG).
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Write the collective's schedule here as a Chakra execution trace (one
    /// `<prefix>.<rank>.et` per NPU), for other Chakra consumers or `plume chakra run`.
    #[arg(long)]
    pub et: Option<PathBuf>,
}

/// Bytes from `4096`, `64KiB`, `1MiB`, `1GiB` (also KB/MB/GB as powers of ten).
pub fn parse_bytes(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(bad(format!(
            "--bytes {s:?}: expected a whole number of bytes with an optional unit (4096, 64KiB, 1GiB)"
        )));
    }
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        u => {
            return Err(bad(format!(
                "--bytes {s:?}: unknown unit {u:?} (B, KiB, MiB, GiB, KB, MB, GB)"
            )))
        }
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0 && n <= MAX_SIM_BYTES)
        .ok_or_else(|| bad(format!("--bytes {s:?}: must be from 1 byte to 16 GiB")))
}

/// Largest collective the model takes per NPU.
pub const MAX_SIM_BYTES: u64 = 16 << 30;
/// Largest D with `--verify` (the data are carried).
pub const MAX_VERIFY_BYTES: u64 = 16 << 20;

/// One simulated collective and what it measured.
pub struct SimRun {
    pub fabric: fabric::Fabric,
    pub schedule: collective::Schedule,
    pub outcome: fabric::Outcome,
    pub seconds: f64,
    /// Ranks whose buffers were checked (with verify).
    pub verified: Option<usize>,
}

/// The starting contents of rank r's chunk c (verify mode).
pub fn init_chunk(r: u32, c: u32, words: usize) -> Vec<u32> {
    let mut rng = XorShift::new(0x9e37_79b9 ^ ((r as u64) << 20) ^ c as u64);
    (0..words).map(|_| rng.next() as u32).collect()
}

/// A program's run on a fabric: the fabric (with its link loads), what it measured, and
/// the wall time.
pub fn run_program(
    fc: &fabric::FabricConfig,
    prog: &fabric::Program,
    verify: bool,
    progress: &mut dyn FnMut(f64, u64),
) -> Result<(fabric::Fabric, fabric::Outcome, f64)> {
    fc.validate().map_err(bad)?;
    let mut fab = fabric::Fabric::new(fc);
    let words = (prog.chunk_bytes / 4).max(1) as usize;
    let init = move |r: u32, c: u32| init_chunk(r, c, words);
    let t0 = Instant::now();
    let sim = fabric::Sim::new(
        &mut fab,
        prog,
        verify.then_some(&init as &dyn Fn(u32, u32) -> Vec<u32>),
    )
    .map_err(|e| match e {
        fabric::FabricError::Route { .. } => Error::Unroutable(e.to_string()),
        _ => bad(e.to_string()),
    })?;
    let outcome = sim
        .run(progress)
        .map_err(|e| crate::error::failed(e.to_string()))?;
    Ok((fab, outcome, t0.elapsed().as_secs_f64()))
}

/// Checks every group member's buffer after `coll` against the golden result; the ranks
/// checked.
pub fn check_groups(
    data: &[Vec<Vec<u32>>],
    groups: &[Vec<u32>],
    shape: (u32, u32),
    coll: collective::Collective,
    chunk_bytes: u64,
) -> Result<usize> {
    let words = (chunk_bytes / 4).max(1) as usize;
    let init = move |r: u32, c: u32| init_chunk(r, c, words);
    let mut n = 0;
    for g in groups {
        for (i, &r) in g.iter().enumerate() {
            for (c, want) in collective::expected(shape, coll, g, i, &init) {
                if data[r as usize][c as usize] != want {
                    return Err(crate::error::failed(format!(
                        "rank {r}: chunk {c} differs from the golden {} result",
                        coll.name()
                    )));
                }
            }
            n += 1;
        }
    }
    Ok(n)
}

/// Runs `coll` on a fabric; checks the data when `verify`.
pub fn simulate(
    fc: &fabric::FabricConfig,
    coll: collective::Collective,
    groups: Vec<Vec<u32>>,
    bytes: u64,
    verify: bool,
    progress: &mut dyn FnMut(f64, u64),
) -> Result<SimRun> {
    fc.validate().map_err(bad)?;
    let sched =
        collective::schedule(fc.kind, fc.npus, fc.cols, groups, coll, bytes).map_err(bad)?;
    simulate_schedule(fc, sched, coll, verify, progress)
}

/// Runs a schedule of `coll` on a fabric; checks the data when `verify`.
pub fn simulate_schedule(
    fc: &fabric::FabricConfig,
    sched: collective::Schedule,
    coll: collective::Collective,
    verify: bool,
    progress: &mut dyn FnMut(f64, u64),
) -> Result<SimRun> {
    let (fab, outcome, seconds) = run_program(fc, &sched.program, verify, progress)?;
    let verified = match &outcome.data {
        Some(data) => Some(check_groups(
            data,
            &sched.groups,
            (sched.program.chunks, sched.dirs),
            coll,
            sched.program.chunk_bytes,
        )?),
        None => None,
    };
    Ok(SimRun {
        fabric: fab,
        schedule: sched,
        outcome,
        seconds,
        verified,
    })
}

/// Bytes as KiB/MiB/GiB.
pub fn human(b: f64) -> String {
    const U: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut x = b;
    let mut k = 0;
    while x >= 1024.0 && k < 3 {
        x /= 1024.0;
        k += 1;
    }
    if k == 0 {
        format!("{x:.0} B")
    } else {
        format!("{x:.2} {}", U[k])
    }
}

/// Time in ns as ns/µs/ms.
pub fn human_ns(t: f64) -> String {
    if t < 1e3 {
        format!("{t:.0} ns")
    } else if t < 1e6 {
        format!("{:.2} µs", t / 1e3)
    } else {
        format!("{:.3} ms", t / 1e6)
    }
}

fn sim_command(a: &SimArgs) -> Result<()> {
    let kind = fabric::Kind::parse(&a.fabric).ok_or_else(|| {
        bad(format!(
            "unknown fabric {:?} (fred-d, fred-c, mesh)",
            a.fabric
        ))
    })?;
    let coll = collective::Collective::parse(&a.collective).ok_or_else(|| {
        bad(format!(
            "unknown collective {:?} (allreduce, reducescatter, allgather, alltoall)",
            a.collective
        ))
    })?;
    let bytes = parse_bytes(&a.bytes)?;
    if a.verify && bytes > MAX_VERIFY_BYTES {
        return Err(bad(format!(
            "--verify carries the data: at most 16 MiB per NPU, got {}",
            human(bytes as f64)
        )));
    }
    let target = a.svg.as_ref().map(|p| file_target(p, "SVG")).transpose()?;
    if let Some(d) = &a.et {
        dir_target(d, |_| false)?;
    }
    let mut fc = fabric::FabricConfig::wafer(kind, a.npus);
    fc.packet = a.packet;
    fc.link_ns = a.link_ns;
    fc.validate().map_err(bad)?;
    let groups = collective::groups(a.npus, a.mp, a.pp, &a.group).map_err(bad)?;
    let ng = groups.len();
    let gsize = groups[0].len();
    let mut progress = progress_printer();
    let run = match a.algo.as_str() {
        "ring" => simulate(&fc, coll, groups, bytes, a.verify, &mut progress)?,
        "2d" => {
            if kind != fabric::Kind::Mesh
                || coll != collective::Collective::AllReduce
                || a.group != "all"
            {
                return Err(bad(
                    "--algo 2d is the mesh's whole-wafer All-Reduce: use it with --fabric mesh --collective allreduce --group all",
                ));
            }
            let sched =
                collective::mesh_2d_allreduce(fc.npus / fc.cols, fc.cols, bytes).map_err(bad)?;
            simulate_schedule(&fc, sched, coll, a.verify, &mut progress)?
        }
        other => return Err(bad(format!("unknown algorithm {other:?} (ring, 2d)"))),
    };
    let members: Vec<u32> = run.schedule.groups.iter().flatten().copied().collect();
    crate::outln!(
        "{} {} of {} per NPU, {} group{} of {} ({}): {}",
        kind.name(),
        coll.name(),
        human(bytes as f64),
        ng,
        if ng == 1 { "" } else { "s" },
        gsize,
        a.group,
        human_ns(run.outcome.time_ns)
    );
    report(
        &run.fabric,
        &run.outcome,
        run.seconds,
        &members,
        bytes,
        if run.schedule.in_switch {
            "reduced and distributed in the FRED switches"
        } else {
            "endpoint algorithm"
        },
    )?;
    if let Some(n) = run.verified {
        crate::outln!(
            "  every one of {n} ranks holds the golden {} result",
            coll.name()
        );
    }
    if let (Some(t), Some(p)) = (target, &a.svg) {
        let title = format!(
            "{} {} {} per NPU, {} group(s) of {}: {}",
            kind.name(),
            coll.name(),
            human(bytes as f64),
            ng,
            gsize,
            human_ns(run.outcome.time_ns)
        );
        write_file(&t, heat::svg(&run.fabric, &run.outcome, &title).as_bytes())?;
        if t != FileTarget::Stdout {
            crate::outln!("wrote {}", p.display());
        }
    }
    if let Some(d) = &a.et {
        let prefix = format!("plume_{}_{}", kind.name().replace('-', "_"), coll.name());
        let meta = crate::chakra::Meta {
            collective: Some(coll.name().to_string()),
            source: format!(
                "plume fred sim --fabric {} --group {}",
                kind.name(),
                a.group
            ),
            groups: Some((run.schedule.groups.clone(), run.schedule.dirs)),
            msccl: None,
        };
        chakra_cli::write_trace(d, &prefix, &run.schedule.program, &meta)?;
    }
    Ok(())
}

/// A progress callback for long runs: a line on stderr every two seconds.
pub fn progress_printer() -> impl FnMut(f64, u64) {
    let started = Instant::now();
    let mut last = Instant::now();
    move |t: f64, ev: u64| {
        if last.elapsed() >= Duration::from_secs(2) {
            last = Instant::now();
            eprintln!(
                "plume: simulated {} of the collective, {:.1} M packet hops, {:.0} s",
                human_ns(t),
                ev as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// The lines every fabric run prints: bytes per NPU (averaged over `members`) against D, the
/// busiest link, the model's speed.
pub fn report(
    fab: &fabric::Fabric,
    o: &fabric::Outcome,
    seconds: f64,
    members: &[u32],
    bytes: u64,
    how: &str,
) -> Result<()> {
    let avg = |v: &[u64]| {
        members.iter().map(|&r| v[r as usize] as f64).sum::<f64>() / members.len().max(1) as f64
    };
    let (bi, busiest) = o
        .link_bytes
        .iter()
        .enumerate()
        .max_by_key(|(_, b)| **b)
        .map(|(i, b)| (i, *b))
        .unwrap_or((0, 0));
    let bl = &fab.links[bi];
    crate::outln!(
        "  per NPU: sent {} ({:.3} D), received {} ({:.3} D); {how}",
        human(avg(&o.sent)),
        avg(&o.sent) / bytes as f64,
        human(avg(&o.received)),
        avg(&o.received) / bytes as f64,
    );
    crate::outln!(
        "  busiest link {:?} → {:?}: {} ({:.0} % busy); algorithm bandwidth {:.1} GB/s per NPU",
        bl.from,
        bl.to,
        human(busiest as f64),
        100.0 * busiest as f64 / (bl.bw * o.time_ns.max(1e-9)),
        bytes as f64 / o.time_ns.max(1e-9)
    );
    crate::outln!(
        "  model: {} packet hops in {:.2} s ({:.1} M events/s)",
        o.events,
        seconds,
        o.events as f64 / seconds.max(1e-9) / 1e6
    );
    Ok(())
}

pub fn command() -> Command {
    FredCmd::augment_subcommands(
        Command::new("fred")
            .about("FRED: route flows on Fred_m(P) and draw them, board packages for the switch, the wafer fabric model (fat tree of FRED switches vs 2D mesh), routing benchmark.")
            .subcommand_required(true),
    )
}

/// Flows from JSON text.
pub fn parse_flows(text: &str) -> Result<Vec<Flow>> {
    let text = read_arg(text, "flows")?;
    let v = input::json(&text, "flows")?;
    flows_of(&v)
}

/// Traffic from JSON text: runs `[{"flows": [...], "flits": N}, ...]`, each N releases of a
/// phase.
pub fn parse_traffic(text: &str) -> Result<Vec<(Vec<Flow>, u64)>> {
    let text = read_arg(text, "traffic")?;
    let v = input::json(&text, "traffic")?;
    let arr = v.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
        bad("traffic must be a non-empty JSON array of {\"flows\": [...], \"flits\": N}")
    })?;
    arr.iter()
        .enumerate()
        .map(|(k, r)| {
            let obj = r
                .as_object()
                .ok_or_else(|| bad(format!("run {k} is not an object with flows and flits")))?;
            if let Some(key) = obj.keys().find(|key| *key != "flows" && *key != "flits") {
                return Err(bad(format!(
                    "run {k}: unknown field {key:?} (expected flows and flits)"
                )));
            }
            let flows = flows_of(
                obj.get("flows")
                    .ok_or_else(|| bad(format!("run {k} has no flows")))?,
            )
            .map_err(|e| bad(format!("run {k}: {e}")))?;
            let n = obj
                .get("flits")
                .and_then(|x| x.as_u64())
                .ok_or_else(|| bad(format!("run {k}: flits must be a whole number")))?;
            Ok((flows, n))
        })
        .collect()
}

fn flows_of(v: &serde_json::Value) -> Result<Vec<Flow>> {
    let arr = v
        .as_array()
        .ok_or_else(|| bad("flows must be a JSON array of {\"ins\": [...], \"outs\": [...]}"))?;
    arr.iter()
        .enumerate()
        .map(|(k, f)| {
            let obj = f
                .as_object()
                .ok_or_else(|| bad(format!("flow {k} is not an object with ins and outs")))?;
            if let Some(key) = obj.keys().find(|key| *key != "ins" && *key != "outs") {
                return Err(bad(format!(
                    "flow {k}: unknown field {key:?} (expected ins and outs)"
                )));
            }
            let ports = |name: &str| -> Result<Vec<u32>> {
                obj.get(name)
                    .and_then(|x| x.as_array())
                    .ok_or_else(|| bad(format!("flow {k} has no {name} array")))?
                    .iter()
                    .map(|p| {
                        p.as_u64()
                            .filter(|&p| p <= u32::MAX as u64)
                            .map(|p| p as u32)
                            .ok_or_else(|| bad(format!("flow {k}: {p} is not a port number")))
                    })
                    .collect()
            };
            Ok(Flow {
                ins: ports("ins")?,
                outs: ports("outs")?,
            })
        })
        .collect()
}

fn routed(net: &Network, flows: &[Flow], budget: Duration) -> Result<Masks> {
    route(net, flows, Some(Instant::now() + budget)).map_err(|e| route_error(e, ""))
}

/// A routing failure as the command line reports it (exit 3 conflict, 4 time, 2 bad flows),
/// `context` before the reason.
pub fn route_error(e: RouteError, context: &str) -> Error {
    let text = format!("{context}{e}");
    match e {
        RouteError::Conflict { .. } => Error::Unroutable(text),
        RouteError::Timeout => Error::Timeout(text),
        RouteError::Flow(_) => bad(text),
        RouteError::Internal => crate::error::failed(text),
    }
}

fn run(m: &ArgMatches) -> Result<()> {
    match crate::cli::parsed::<FredCmd>(m)? {
        FredCmd::Route {
            p,
            flows,
            timeout_ms,
        } => {
            let net = p.network()?;
            let flows = parse_flows(&flows)?;
            let masks = routed(&net, &flows, Duration::from_millis(timeout_ms))?;
            crate::outln!("{}", serde_json::to_string(&masks)?);
            Ok(())
        }
        FredCmd::Draw { p, flows, out } => {
            let target = file_target(&out, "SVG")?;
            let net = p.network()?;
            let flows = parse_flows(&flows)?;
            let masks = routed(&net, &flows, Duration::from_secs(10))?;
            write_file(&target, draw::svg(&net, &masks, &flows).as_bytes())?;
            if target != FileTarget::Stdout {
                crate::outln!("wrote {}", out.display());
            }
            Ok(())
        }
        FredCmd::Export {
            p,
            traffic,
            seed,
            out,
        } => {
            let sc = p.config()?;
            let runs = parse_traffic(&traffic)?;
            for (k, (flows, _)) in runs.iter().enumerate() {
                plume_hw::fred::network::check_flows(sc.net.ports, flows)
                    .map_err(|e| bad(format!("run {k}: {e}")))?;
            }
            switch::export(&sc, &runs, seed, &out)
        }
        FredCmd::Sim(a) => sim_command(&a),
        FredCmd::Bench => bench(),
    }
}

/// 3D-parallel groups on P ports (MP innermost on consecutive ports, then PP, then DP, as the
/// paper places them): the MP all-reduces, the DP all-reduces, or the PP unicasts.
pub fn parallel_flows(p: u32, mp: u32, pp: u32, kind: &str) -> Vec<Flow> {
    let dp = p / (mp * pp);
    let rank = |m: u32, q: u32, d: u32| m + mp * (q + pp * d);
    let mut flows = Vec::new();
    match kind {
        "mp" => {
            for q in 0..pp {
                for d in 0..dp {
                    let g: Vec<u32> = (0..mp).map(|m| rank(m, q, d)).collect();
                    flows.push(Flow {
                        ins: g.clone(),
                        outs: g,
                    });
                }
            }
        }
        "dp" => {
            for m in 0..mp {
                for q in 0..pp {
                    let g: Vec<u32> = (0..dp).map(|d| rank(m, q, d)).collect();
                    flows.push(Flow {
                        ins: g.clone(),
                        outs: g,
                    });
                }
            }
        }
        _ => {
            for m in 0..mp {
                for d in 0..dp {
                    for q in 0..pp.saturating_sub(1) {
                        flows.push(Flow {
                            ins: vec![rank(m, q, d)],
                            outs: vec![rank(m, q + 1, d)],
                        });
                    }
                }
            }
        }
    }
    flows
}

/// Random disjoint flows: `kind` unicast (a random partial permutation), multicast (each
/// input to up to four outputs), reduce (up to four inputs to one output), or mixed (one to
/// three inputs to one to three outputs, one group in five left out).
pub fn random_flows(rng: &mut XorShift, p: u32, kind: &str) -> Vec<Flow> {
    let mut perm: Vec<u32> = (0..p).collect();
    let mut perm2: Vec<u32> = (0..p).collect();
    for v in [&mut perm, &mut perm2] {
        for i in (1..v.len()).rev() {
            v.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
    }
    let mut flows = Vec::new();
    let (mut a, mut b) = (0usize, 0usize);
    while a < perm.len() && b < perm2.len() {
        let k = 1 + (rng.next() % 4) as usize;
        let (ni, no) = match kind {
            "unicast" => (1, 1),
            "multicast" => (1, k),
            "reduce" => (k, 1),
            _ => (1 + (rng.next() % 3) as usize, 1 + (rng.next() % 3) as usize),
        };
        let ins: Vec<u32> = perm[a..(a + ni).min(perm.len())].to_vec();
        let outs: Vec<u32> = perm2[b..(b + no).min(perm2.len())].to_vec();
        a += ni;
        b += no;
        if kind != "mixed" || !rng.next().is_multiple_of(5) {
            flows.push(Flow { ins, outs });
        }
    }
    flows
}

fn bench() -> Result<()> {
    let budget = Duration::from_secs(2);
    crate::outln!("FRED routing, 2 s budget per case");
    crate::outln!(
        "{:>9} {:>6} {:>14} {:>6} {:>11} {:>10} {:>10} {:>9}",
        "network",
        "ports",
        "flows",
        "cases",
        "median ms",
        "worst ms",
        "conflicts",
        "timeouts"
    );
    let mut rng = XorShift::new(0xf2ed);
    for m in [2u32, 3] {
        for p in [8u32, 16, 32, 64] {
            let net = Network::new(&FredConfig {
                ports: p,
                m,
                width: 32,
            });
            let mut kinds: Vec<(String, Vec<Vec<Flow>>)> = ["unicast", "multicast", "reduce"]
                .iter()
                .map(|k| {
                    (
                        k.to_string(),
                        (0..40).map(|_| random_flows(&mut rng, p, k)).collect(),
                    )
                })
                .collect();
            // 3D parallelism: MP(2)·PP(2)·DP(P/4) and MP(4)·PP(2)·DP(P/8), each group type.
            let mut three_d = Vec::new();
            for (mp, pp) in [(2u32, 2u32), (4, 2)] {
                if p % (mp * pp) == 0 {
                    for kind in ["mp", "dp", "pp"] {
                        three_d.push(parallel_flows(p, mp, pp, kind));
                    }
                }
            }
            kinds.push(("3D-parallel".into(), three_d));
            for (kind, cases) in kinds {
                let mut times = Vec::new();
                let (mut conflicts, mut timeouts) = (0, 0);
                for flows in &cases {
                    let t0 = Instant::now();
                    match route(&net, flows, Some(Instant::now() + budget)) {
                        Ok(_) => {}
                        Err(RouteError::Conflict { .. }) => conflicts += 1,
                        Err(RouteError::Timeout) => timeouts += 1,
                        Err(e) => return Err(crate::error::failed(e.to_string())),
                    }
                    times.push(t0.elapsed().as_secs_f64() * 1e3);
                }
                times.sort_by(f64::total_cmp);
                crate::outln!(
                    "{:>9} {:>6} {:>14} {:>6} {:>11.3} {:>10.3} {:>10} {:>9}",
                    format!("Fred_{m}"),
                    p,
                    kind,
                    cases.len(),
                    times[times.len() / 2],
                    times[times.len() - 1],
                    conflicts,
                    timeouts
                );
            }
        }
    }
    Ok(())
}

pub struct FredFamily;

pub static FRED: FredFamily = FredFamily;

impl Family for FredFamily {
    fn name(&self) -> &'static str {
        "fred"
    }

    fn designs(&self) -> Vec<&'static dyn Entry> {
        vec![&switch::FRED_SWITCH, &design::FRED_NET]
    }

    fn commands(&self) -> Vec<Command> {
        vec![command(), chakra_cli::command()]
    }

    fn run(&self, name: &str, m: &ArgMatches) -> Result<()> {
        match name {
            "chakra" => chakra_cli::run(m),
            _ => run(m),
        }
    }

    fn demo(&self, out: &Path) -> Result<()> {
        demo::demo(out)
    }
}
