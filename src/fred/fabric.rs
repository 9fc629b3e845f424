//! The wafer fabric model (spec fred.md §6–§9): NPUs joined by a 2-level fat tree of FRED
//! switches (Fred-D with in-switch collectives, Fred-C without) or by a 2D mesh with X-Y
//! routing, and a packet-level discrete-event simulation of collective schedules on it.
//!
//! # Topologies
//! * **Fat tree**: L1 switches of `per_l1` NPUs (Fred_3(2·per_l1): ports 0…per_l1−1 down,
//!   per_l1…2·per_l1−1 up); `per_l1` spine planes, plane u a Fred_3(L) joining up port u of
//!   every L1 switch (L = NPUs / per_l1). NPU–L1 links carry `npu_gbps` each way; every up link
//!   `uplink_gbps` (Fred-C/D: 3 TB/s per NPU, so L1–L2 bandwidth equals the NPUs').
//! * **Mesh**: NPU i at row i / cols, column i % cols; a link of `mesh_gbps` each way between
//!   neighbours; X then Y.
//!
//! # Timing
//! A message travels as packets of `packet` bytes. On each link a packet starts when its head
//! has arrived and the link is free, occupies the link for size / bandwidth (and at least until
//! its tail has arrived: virtual cut-through), and its head reaches the far end `link_ns`
//! later. Links are the only shared resource; buffers are assumed deep enough (credit stalls
//! are not modelled) and endpoint reductions take no time (as in the paper's evaluation).
//!
//! # Programs
//! Every rank runs a DAG of operations — the shape of a Chakra execution trace: `Send` and
//! `Recv` of a chunk of the rank's buffer (matched by source, destination and tag; a receive
//! may add into the chunk), and `Flow`, a rank's part in an in-switch flow. A flow is what a
//! FRED switch does (`network::apply`): every output rank receives the sum of the input ranks'
//! chunks. Its path through the tree is a set of *stages*, one per switch it crosses; each
//! stage waits for packet k of all its inputs (the flit alignment of the RTL's scheduler) and
//! sends the sum on. Every switch's flows are routed by the same router as the RTL
//! (`router::route`), and with `verify` the stage data are computed by the switch's golden
//! network (`Network::eval`) under that configuration.

use plume_hw::fred::network::{Flow, Masks, Network};
use plume_hw::fred::router::{route, RouteError};
use plume_hw::fred::FredConfig;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};

/// Which fabric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Fat tree of FRED switches, collectives reduced and distributed in the switches.
    FredD,
    /// The same tree, collectives run by the endpoints (rings).
    FredC,
    /// 2D mesh, X-Y routing, endpoint rings.
    Mesh,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "fred-d" => Some(Kind::FredD),
            "fred-c" => Some(Kind::FredC),
            "mesh" => Some(Kind::Mesh),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::FredD => "fred-d",
            Kind::FredC => "fred-c",
            Kind::Mesh => "mesh",
        }
    }
}

/// A fabric and its parameters (bandwidths in GB/s = bytes per ns).
#[derive(Clone, Debug, PartialEq)]
pub struct FabricConfig {
    pub kind: Kind,
    pub npus: u32,
    /// NPUs per L1 switch (fat tree), and spine planes.
    pub per_l1: u32,
    /// Mesh columns (rows = npus / cols).
    pub cols: u32,
    pub npu_gbps: f64,
    pub uplink_gbps: f64,
    pub mesh_gbps: f64,
    /// Head latency of one link, switch or router included.
    pub link_ns: f64,
    /// Packet size in bytes.
    pub packet: u64,
}

/// Largest fabric the model builds.
pub const MAX_NPUS: u32 = 1024;

impl FabricConfig {
    /// The paper's wafer (spec fred.md §7): 20 NPUs, 4 per L1 switch, a 5×4 mesh; 3 TB/s per
    /// NPU, 3 TB/s L1–L2 per NPU (Fred-C/D), 750 GB/s mesh links; 4 KiB packets. The link
    /// latency (20 ns) is ours: the paper does not give one.
    pub fn wafer(kind: Kind, npus: u32) -> FabricConfig {
        let cols = match npus {
            20 => 5,
            80 => 10,
            320 => 20,
            n => (1..=n)
                .filter(|c| n % c == 0 && c * c <= n)
                .max()
                .map_or(1, |r| n / r),
        };
        FabricConfig {
            kind,
            npus,
            per_l1: 4,
            cols,
            npu_gbps: 3000.0,
            uplink_gbps: 3000.0,
            mesh_gbps: 750.0,
            link_ns: 20.0,
            packet: 4096,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(2..=MAX_NPUS).contains(&self.npus) {
            return Err(format!(
                "npus must be from 2 to {MAX_NPUS}, got {}",
                self.npus
            ));
        }
        match self.kind {
            Kind::Mesh => {
                if self.cols == 0 || self.npus % self.cols != 0 {
                    return Err(format!(
                        "a mesh of {} NPUs needs a column count that divides it, got {}",
                        self.npus, self.cols
                    ));
                }
            }
            _ => {
                if self.per_l1 < 1 || self.npus % self.per_l1 != 0 || self.npus / self.per_l1 < 2 {
                    return Err(format!(
                        "a fat tree of {} NPUs needs a multiple of {} NPUs (at least two L1 switches)",
                        self.npus, self.per_l1
                    ));
                }
                if self.npus / self.per_l1 > plume_hw::fred::MAX_PORTS
                    || 2 * self.per_l1 > plume_hw::fred::MAX_PORTS
                {
                    return Err("a switch of the fat tree would exceed 256 ports".into());
                }
            }
        }
        if self.packet == 0 || self.link_ns < 0.0 || !self.link_ns.is_finite() {
            return Err("packet must be at least 1 byte and link latency finite".into());
        }
        for bw in [self.npu_gbps, self.uplink_gbps, self.mesh_gbps] {
            if !(bw > 0.0 && bw.is_finite()) {
                return Err(format!("bandwidths must be positive, got {bw}"));
            }
        }
        Ok(())
    }
}

/// A node of the fabric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    Npu(u32),
    L1(u32),
    Spine(u32),
}

/// A directed link.
#[derive(Clone, Debug)]
pub struct Link {
    pub from: Place,
    pub to: Place,
    /// Bytes per ns.
    pub bw: f64,
    /// Time the link is busy until.
    free: f64,
    /// Bytes carried.
    pub bytes: u64,
}

/// The fabric: its links and how NPUs reach each other.
pub struct Fabric {
    pub cfg: FabricConfig,
    pub links: Vec<Link>,
    index: HashMap<(Place, Place), usize>,
}

impl Fabric {
    pub fn new(cfg: &FabricConfig) -> Fabric {
        let mut f = Fabric {
            cfg: cfg.clone(),
            links: Vec::new(),
            index: HashMap::new(),
        };
        match cfg.kind {
            Kind::Mesh => {
                let rows = cfg.npus / cfg.cols;
                for r in 0..rows {
                    for c in 0..cfg.cols {
                        let a = r * cfg.cols + c;
                        if c + 1 < cfg.cols {
                            f.duplex(Place::Npu(a), Place::Npu(a + 1), cfg.mesh_gbps);
                        }
                        if r + 1 < rows {
                            f.duplex(Place::Npu(a), Place::Npu(a + cfg.cols), cfg.mesh_gbps);
                        }
                    }
                }
            }
            _ => {
                for n in 0..cfg.npus {
                    f.duplex(Place::Npu(n), Place::L1(n / cfg.per_l1), cfg.npu_gbps);
                }
                for l in 0..cfg.npus / cfg.per_l1 {
                    for u in 0..cfg.per_l1 {
                        f.duplex(Place::L1(l), Place::Spine(u), cfg.uplink_gbps);
                    }
                }
            }
        }
        f
    }

    fn duplex(&mut self, a: Place, b: Place, bw: f64) {
        for (x, y) in [(a, b), (b, a)] {
            self.index.insert((x, y), self.links.len());
            self.links.push(Link {
                from: x,
                to: y,
                bw,
                free: 0.0,
                bytes: 0,
            });
        }
    }

    pub fn link(&self, a: Place, b: Place) -> usize {
        self.index[&(a, b)]
    }

    /// L1 switch of an NPU, and its port there.
    pub fn l1_of(&self, n: u32) -> (u32, u32) {
        (n / self.cfg.per_l1, n % self.cfg.per_l1)
    }

    /// The links from NPU `a` to NPU `b`: X-Y on the mesh; up through the spine plane of the
    /// sender's L1 port on the tree (so each NPU has its own share of the uplinks).
    pub fn path(&self, a: u32, b: u32) -> Vec<usize> {
        let mut p = Vec::new();
        match self.cfg.kind {
            Kind::Mesh => {
                let c = self.cfg.cols;
                let (mut r, mut q) = (a / c, a % c);
                let (rb, qb) = (b / c, b % c);
                while q != qb {
                    let nq = if qb > q { q + 1 } else { q - 1 };
                    p.push(self.link(Place::Npu(r * c + q), Place::Npu(r * c + nq)));
                    q = nq;
                }
                while r != rb {
                    let nr = if rb > r { r + 1 } else { r - 1 };
                    p.push(self.link(Place::Npu(r * c + q), Place::Npu(nr * c + q)));
                    r = nr;
                }
            }
            _ => {
                let (la, ua) = self.l1_of(a);
                let (lb, _) = self.l1_of(b);
                p.push(self.link(Place::Npu(a), Place::L1(la)));
                if la != lb {
                    p.push(self.link(Place::L1(la), Place::Spine(ua)));
                    p.push(self.link(Place::Spine(ua), Place::L1(lb)));
                }
                p.push(self.link(Place::L1(lb), Place::Npu(b)));
            }
        }
        p
    }
}

/// One operation of a rank's program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Send chunks `chunk…chunk+count−1` to `peer`.
    Send {
        peer: u32,
        chunk: u32,
        count: u32,
        tag: u32,
    },
    /// Receive `count` chunks from `peer` into `chunk…` (adding when `reduce`).
    Recv {
        peer: u32,
        chunk: u32,
        count: u32,
        tag: u32,
        reduce: bool,
    },
    /// Local work taking `ns` nanoseconds.
    Comp { ns: u64 },
    /// Take part in in-switch flow `flow` with chunk `chunk` (sending it if an input,
    /// receiving into it if an output).
    Flow { flow: u32, chunk: u32 },
}

/// A node of a rank's DAG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub op: Op,
    /// Nodes of the same rank that must finish first.
    pub deps: Vec<u32>,
}

/// Every rank's DAG, the in-switch flows they take part in, and the buffer shape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    pub ranks: Vec<Vec<Node>>,
    pub flows: Vec<Flow>,
    /// Each flow's phase: flows of one phase run at once and are routed together on every
    /// switch they cross; phases follow one another (reconfiguration takes no time here).
    pub flow_phase: Vec<u32>,
    /// Chunks per rank, and bytes per chunk.
    pub chunks: u32,
    pub chunk_bytes: u64,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Completion time of the last operation, ns.
    pub time_ns: f64,
    /// Bytes each NPU injected and received.
    pub sent: Vec<u64>,
    pub received: Vec<u64>,
    /// Bytes per link (same order as `Fabric::links`).
    pub link_bytes: Vec<u64>,
    /// Packet-hop events simulated.
    pub events: u64,
    /// Every rank's buffer at the end, when verifying.
    pub data: Option<Vec<Vec<Vec<u32>>>>,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum FabricError {
    #[error("{0}")]
    Config(String),
    #[error("switch {switch}: {source}")]
    Route { switch: String, source: RouteError },
    #[error("the program is malformed: {0}")]
    Program(String),
    #[error("deadlock: {0}")]
    Deadlock(String),
}

/// Where a packet goes after its last link.
#[derive(Clone, Copy, Debug)]
enum Sink {
    /// Message `m` arriving at its receiver.
    Msg(usize),
    /// Input `i` of stage `s`.
    Stage(usize, usize),
    /// Output rank of a flow: stage output delivered to NPU.
    Deliver(usize, u32),
}

/// A packet's journey: links, packets in the stream, and what happens at the end.
struct Journey {
    links: Vec<usize>,
    bytes: u64,
    sink: Sink,
    /// Payload delivered with the last packet (verify mode).
    payload: Option<Vec<u32>>,
    /// Packets enter one after another from an NPU (a stage's outputs are released packet by
    /// packet instead).
    chained: bool,
    /// The node that finishes when the last packet has left the NPU (a flow's input-only
    /// part: the NPU streams its chunk, then the next).
    on_injected: Option<(u32, u32)>,
}

/// One switch's part in a flow: inputs (from NPUs or lower stages) and outputs.
struct Stage {
    switch: Place,
    /// Switch ports of the inputs, in input order, and where each output goes.
    in_ports: Vec<u32>,
    outs: Vec<(u32, StageOut)>,
    arrived: Vec<u32>,
    head: Vec<f64>,
    tail: Vec<f64>,
    data: Vec<Option<Vec<u32>>>,
    data_in: usize,
}

#[derive(Clone, Copy, Debug)]
enum StageOut {
    /// Input `i` of stage `s`.
    Stage(usize, usize),
    /// The flow's output rank.
    Npu(usize, u32),
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Ev {
    t: f64,
    seq: u64,
    kind: EvKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum EvKind {
    /// Packet `k` of journey `j` at hop `hop`, its tail `tail`.
    Hop {
        j: usize,
        k: u64,
        hop: usize,
        tail: f64,
    },
    /// Node `node` of `rank` may start.
    Start { rank: u32, node: u32 },
}

impl Eq for Ev {}
impl Ord for Ev {
    fn cmp(&self, o: &Self) -> Ordering {
        o.t.total_cmp(&self.t).then(o.seq.cmp(&self.seq))
    }
}
impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

struct Msg {
    src: u32,
    dst: u32,
    tag: u32,
    payload: Option<Vec<u32>>,
}

/// The simulation of one program on one fabric.
pub struct Sim<'a> {
    fab: &'a mut Fabric,
    prog: &'a Program,
    heap: BinaryHeap<Ev>,
    seq: u64,
    journeys: Vec<Journey>,
    stages: Vec<Stage>,
    /// Per rank: unfinished deps per node, dependents, finish times.
    pending: Vec<Vec<u32>>,
    dependents: Vec<Vec<Vec<u32>>>,
    ready_at: Vec<Vec<f64>>,
    done: Vec<Vec<bool>>,
    msgs: Vec<Msg>,
    /// Arrived messages not yet received, and receives waiting: by (src, dst, tag).
    mailbox: HashMap<(u32, u32, u32), VecDeque<(usize, f64)>>,
    waiting: HashMap<(u32, u32, u32), VecDeque<(u32, f64)>>,
    /// The flow node of each (flow, rank), and outputs still to arrive per (flow, rank).
    flow_node: HashMap<(usize, u32), u32>,
    flow_stage_of_input: HashMap<(usize, u32), (usize, usize)>,
    flow_started: HashMap<(usize, u32), f64>,
    sent: Vec<u64>,
    received: Vec<u64>,
    data: Option<Vec<Vec<Vec<u32>>>>,
    nets: HashMap<(Place, u32), (Network, Masks)>,
    stage_phase: Vec<u32>,
    stage_journeys: HashMap<(usize, usize), usize>,
    events: u64,
    end: f64,
}

fn packets(bytes: u64, packet: u64) -> u64 {
    bytes.div_ceil(packet).max(1)
}

impl<'a> Sim<'a> {
    /// Prepares `prog` on `fab` (routing every switch's flows); `verify` carries data: rank
    /// r's chunk c starts as `init(r, c)`.
    pub fn new(
        fab: &'a mut Fabric,
        prog: &'a Program,
        verify: Option<&dyn Fn(u32, u32) -> Vec<u32>>,
    ) -> Result<Sim<'a>, FabricError> {
        let n = fab.cfg.npus;
        if prog.ranks.len() != n as usize {
            return Err(FabricError::Program(format!(
                "{} ranks for {} NPUs",
                prog.ranks.len(),
                n
            )));
        }
        let mut s = Sim {
            fab,
            prog,
            heap: BinaryHeap::new(),
            seq: 0,
            journeys: Vec::new(),
            stages: Vec::new(),
            pending: Vec::new(),
            dependents: Vec::new(),
            ready_at: Vec::new(),
            done: Vec::new(),
            msgs: Vec::new(),
            mailbox: HashMap::new(),
            waiting: HashMap::new(),
            flow_node: HashMap::new(),
            flow_stage_of_input: HashMap::new(),
            flow_started: HashMap::new(),
            sent: vec![0; n as usize],
            received: vec![0; n as usize],
            data: verify.map(|f| {
                (0..n)
                    .map(|r| (0..prog.chunks).map(|c| f(r, c)).collect())
                    .collect()
            }),
            nets: HashMap::new(),
            stage_phase: Vec::new(),
            stage_journeys: HashMap::new(),
            events: 0,
            end: 0.0,
        };
        for (r, nodes) in prog.ranks.iter().enumerate() {
            let mut pend = Vec::with_capacity(nodes.len());
            let mut deps_of = vec![Vec::new(); nodes.len()];
            for (i, nd) in nodes.iter().enumerate() {
                for &d in &nd.deps {
                    if d as usize >= i {
                        return Err(FabricError::Program(format!(
                            "rank {r} node {i} depends on node {d}, which does not come before it"
                        )));
                    }
                    deps_of[d as usize].push(i as u32);
                }
                pend.push(nd.deps.len() as u32);
                match nd.op {
                    Op::Send {
                        peer, chunk, count, ..
                    }
                    | Op::Recv {
                        peer, chunk, count, ..
                    } => {
                        if peer >= n
                            || peer == r as u32
                            || count == 0
                            || chunk as u64 + count as u64 > prog.chunks as u64
                        {
                            return Err(FabricError::Program(format!(
                                "rank {r} node {i}: peer {peer} or chunks {chunk}+{count} out of range ({n} ranks, {} chunks)",
                                prog.chunks
                            )));
                        }
                    }
                    Op::Comp { .. } => {}
                    Op::Flow { flow, chunk } => {
                        let f = prog.flows.get(flow as usize).ok_or_else(|| {
                            FabricError::Program(format!("rank {r} node {i}: no flow {flow}"))
                        })?;
                        if chunk >= prog.chunks
                            || !(f.ins.contains(&(r as u32)) || f.outs.contains(&(r as u32)))
                        {
                            return Err(FabricError::Program(format!(
                                "rank {r} node {i}: not in flow {flow} or chunk out of range"
                            )));
                        }
                        s.flow_node.insert((flow as usize, r as u32), i as u32);
                    }
                }
            }
            s.pending.push(pend);
            s.dependents.push(deps_of);
            s.ready_at.push(vec![0.0; nodes.len()]);
            s.done.push(vec![false; nodes.len()]);
        }
        s.build_stages()?;
        Ok(s)
    }

    /// The stages of every flow, and each switch's configuration for all the flows crossing
    /// it (routed together: they run at once).
    fn build_stages(&mut self) -> Result<(), FabricError> {
        if self.prog.flows.is_empty() {
            return Ok(());
        }
        if self.fab.cfg.kind != Kind::FredD {
            return Err(FabricError::Program(format!(
                "in-switch flows need the fred-d fabric, not {}",
                self.fab.cfg.kind.name()
            )));
        }
        let per = self.fab.cfg.per_l1;
        let l1s = self.fab.cfg.npus / per;
        // Spine plane of each flow that leaves its L1: the lowest plane free at every L1 it
        // crosses (flows at one L1 need different up ports).
        if self.prog.flow_phase.len() != self.prog.flows.len() {
            return Err(FabricError::Program("every flow needs a phase".into()));
        }
        let mut used: HashMap<(u32, u32, u32), usize> = HashMap::new();
        let mut switch_flows: HashMap<(Place, u32), Vec<Flow>> = HashMap::new();
        let mut stage_phase: Vec<u32> = Vec::new();
        for (fi, f) in self.prog.flows.iter().enumerate() {
            let phase = self.prog.flow_phase[fi];
            let mut ls: Vec<u32> = f.ins.iter().chain(&f.outs).map(|&r| r / per).collect();
            ls.sort_unstable();
            ls.dedup();
            let in_l1s: Vec<u32> = {
                let mut v: Vec<u32> = f.ins.iter().map(|&r| r / per).collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            let local = ls.len() == 1;
            let plane = if local {
                None
            } else {
                let u = (0..per)
                    .find(|&u| ls.iter().all(|&l| !used.contains_key(&(l, u, phase))))
                    .ok_or_else(|| {
                        FabricError::Config(format!(
                            "flow {fi} finds no spine plane free at all its L1 switches; place the groups differently"
                        ))
                    })?;
                for &l in &ls {
                    used.insert((l, u, phase), fi);
                }
                Some(u)
            };
            let outs_at = |l: u32| -> Vec<u32> {
                f.outs
                    .iter()
                    .filter(|&&r| r / per == l)
                    .map(|&r| r % per)
                    .collect()
            };
            let ins_at = |l: u32| -> Vec<u32> {
                f.ins
                    .iter()
                    .filter(|&&r| r / per == l)
                    .map(|&r| r % per)
                    .collect()
            };
            let mk = |sw: Place, in_ports: Vec<u32>, outs: Vec<(u32, StageOut)>| Stage {
                switch: sw,
                arrived: Vec::new(),
                head: Vec::new(),
                tail: Vec::new(),
                data: vec![None; in_ports.len()],
                data_in: 0,
                in_ports,
                outs,
            };
            let mut add_flow = |sw: Place, ins: Vec<u32>, outs: Vec<u32>| {
                switch_flows
                    .entry((sw, phase))
                    .or_default()
                    .push(Flow { ins, outs });
            };
            match plane {
                None => {
                    let l = ls[0];
                    let ins = ins_at(l);
                    let outs = outs_at(l);
                    add_flow(Place::L1(l), ins.clone(), outs.clone());
                    let st = self.stages.len();
                    let so = outs
                        .iter()
                        .map(|&p| (p, StageOut::Npu(fi, l * per + p)))
                        .collect();
                    self.stages.push(mk(Place::L1(l), ins.clone(), so));
                    for (i, &p) in ins.iter().enumerate() {
                        self.flow_stage_of_input.insert((fi, l * per + p), (st, i));
                    }
                }
                Some(u) => {
                    let up = per + u;
                    // Where the full sum is made: the spine, unless every input sits under
                    // one L1 (then that L1 sums, serves its own outputs and sends up).
                    let single = (in_l1s.len() == 1).then(|| in_l1s[0]);
                    let spine = self.stages.len();
                    let spine_ins: Vec<u32> = match single {
                        Some(l) => vec![l],
                        None => in_l1s.clone(),
                    };
                    let down_l1s: Vec<u32> = ls
                        .iter()
                        .copied()
                        .filter(|&l| !outs_at(l).is_empty() && Some(l) != single)
                        .collect();
                    add_flow(Place::Spine(u), spine_ins.clone(), down_l1s.clone());
                    self.stages
                        .push(mk(Place::Spine(u), spine_ins.clone(), Vec::new()));
                    let mut spine_outs = Vec::new();
                    for &l in &down_l1s {
                        // The L1 distributing down.
                        let st = self.stages.len();
                        let outs = outs_at(l);
                        add_flow(Place::L1(l), vec![up], outs.clone());
                        let so = outs
                            .iter()
                            .map(|&p| (p, StageOut::Npu(fi, l * per + p)))
                            .collect();
                        self.stages.push(mk(Place::L1(l), vec![up], so));
                        spine_outs.push((l, StageOut::Stage(st, 0)));
                    }
                    self.stages[spine].outs = spine_outs;
                    for (si, &l) in spine_ins.iter().enumerate() {
                        let st = self.stages.len();
                        let ins = ins_at(l);
                        let mut outs_here: Vec<u32> = vec![up];
                        if single.is_some() {
                            outs_here.extend(outs_at(l));
                        }
                        add_flow(Place::L1(l), ins.clone(), outs_here.clone());
                        let so = outs_here
                            .iter()
                            .map(|&p| {
                                if p == up {
                                    (p, StageOut::Stage(spine, si))
                                } else {
                                    (p, StageOut::Npu(fi, l * per + p))
                                }
                            })
                            .collect();
                        self.stages.push(mk(Place::L1(l), ins.clone(), so));
                        for (i, &p) in ins.iter().enumerate() {
                            self.flow_stage_of_input.insert((fi, l * per + p), (st, i));
                        }
                    }
                }
            }
            stage_phase.resize(self.stages.len(), phase);
        }
        for ((sw, phase), flows) in switch_flows {
            let ports = match sw {
                Place::Spine(_) => l1s,
                _ => 2 * per,
            };
            let cfg = FredConfig {
                ports: ports.max(2),
                m: 3,
                width: 32,
            };
            let net = Network::new(&cfg);
            let masks = route(&net, &flows, None).map_err(|e| FabricError::Route {
                switch: format!("{sw:?} phase {phase}"),
                source: e,
            })?;
            self.nets.insert((sw, phase), (net, masks));
        }
        self.stage_phase = stage_phase;
        let pk = packets(self.prog.chunk_bytes, self.fab.cfg.packet) as usize;
        for s in &mut self.stages {
            s.arrived = vec![0; pk];
            s.head = vec![0.0; pk];
            s.tail = vec![0.0; pk];
        }
        Ok(())
    }

    fn push(&mut self, t: f64, kind: EvKind) {
        self.seq += 1;
        self.heap.push(Ev {
            t,
            seq: self.seq,
            kind,
        });
    }

    fn start_journey(&mut self, j: Journey, t: f64) {
        let id = self.journeys.len();
        self.journeys.push(j);
        self.push(
            t,
            EvKind::Hop {
                j: id,
                k: 0,
                hop: 0,
                tail: t,
            },
        );
    }

    fn finish_node(&mut self, rank: u32, node: u32, t: f64) {
        let r = rank as usize;
        self.done[r][node as usize] = true;
        self.end = self.end.max(t);
        for i in 0..self.dependents[r][node as usize].len() {
            let d = self.dependents[r][node as usize][i] as usize;
            self.ready_at[r][d] = self.ready_at[r][d].max(t);
            self.pending[r][d] -= 1;
            if self.pending[r][d] == 0 {
                let at = self.ready_at[r][d];
                self.push(
                    at,
                    EvKind::Start {
                        rank,
                        node: d as u32,
                    },
                );
            }
        }
    }

    fn chunk(&self, rank: u32, chunk: u32) -> Option<Vec<u32>> {
        self.chunks(rank, chunk, 1)
    }

    /// `count` chunks from `chunk` on, one after another.
    fn chunks(&self, rank: u32, chunk: u32, count: u32) -> Option<Vec<u32>> {
        self.data.as_ref().map(|d| {
            (chunk..chunk + count)
                .flat_map(|c| d[rank as usize][c as usize].iter().copied())
                .collect()
        })
    }

    fn start(&mut self, rank: u32, node: u32, t: f64) {
        let op = self.prog.ranks[rank as usize][node as usize].op.clone();
        let bytes = self.prog.chunk_bytes;
        match op {
            Op::Comp { ns } => self.finish_node(rank, node, t + ns as f64),
            Op::Send {
                peer,
                chunk,
                count,
                tag,
            } => {
                let bytes = bytes * count as u64;
                let m = self.msgs.len();
                self.msgs.push(Msg {
                    src: rank,
                    dst: peer,
                    tag,
                    payload: self.chunks(rank, chunk, count),
                });
                let links = self.fab.path(rank, peer);
                self.sent[rank as usize] += bytes;
                self.start_journey(
                    Journey {
                        links,
                        bytes,
                        sink: Sink::Msg(m),
                        payload: None,
                        chained: true,
                        on_injected: None,
                    },
                    t,
                );
                // The send is done once its data is handed to the network.
                self.finish_node(rank, node, t);
            }
            Op::Recv { peer, tag, .. } => {
                let key = (peer, rank, tag);
                if let Some((m, at)) = self.mailbox.get_mut(&key).and_then(|q| q.pop_front()) {
                    self.complete_recv(rank, node, m, t.max(at));
                } else {
                    self.waiting.entry(key).or_default().push_back((node, t));
                }
            }
            Op::Flow { flow, chunk } => {
                let f = &self.prog.flows[flow as usize];
                let is_out = f.outs.contains(&rank);
                self.flow_started.insert((flow as usize, rank), t);
                if let Some(&(st, i)) = self.flow_stage_of_input.get(&(flow as usize, rank)) {
                    let (l1, _) = self.fab.l1_of(rank);
                    let link = self.fab.link(Place::Npu(rank), Place::L1(l1));
                    self.sent[rank as usize] += bytes;
                    let payload = self.chunk(rank, chunk);
                    self.start_journey(
                        Journey {
                            links: vec![link],
                            bytes,
                            sink: Sink::Stage(st, i),
                            payload,
                            chained: true,
                            on_injected: (!is_out).then_some((rank, node)),
                        },
                        t,
                    );
                } else if !is_out {
                    self.finish_node(rank, node, t);
                }
            }
        }
    }

    fn complete_recv(&mut self, rank: u32, node: u32, m: usize, t: f64) {
        let mut got = 0;
        if let Op::Recv {
            chunk,
            count,
            reduce,
            ..
        } = self.prog.ranks[rank as usize][node as usize].op
        {
            got = count as u64 * self.prog.chunk_bytes;
            if let (Some(d), Some(p)) = (self.data.as_mut(), self.msgs[m].payload.take()) {
                let mut it = p.into_iter();
                for c in chunk..chunk + count {
                    for x in d[rank as usize][c as usize].iter_mut() {
                        let y = it.next().unwrap_or(0);
                        *x = if reduce { x.wrapping_add(y) } else { y };
                    }
                }
            }
        }
        self.received[rank as usize] += got;
        self.finish_node(rank, node, t);
    }

    /// Packet `k` of journey `j` reached the end of its last link: head at `head`, tail at
    /// `tail`.
    fn arrive(&mut self, j: usize, k: u64, head: f64, tail: f64) {
        let last = k + 1 == packets(self.journeys[j].bytes, self.fab.cfg.packet);
        match self.journeys[j].sink {
            Sink::Msg(m) => {
                if !last {
                    return;
                }
                let (src, dst, tag) = (self.msgs[m].src, self.msgs[m].dst, self.msgs[m].tag);
                let key = (src, dst, tag);
                if let Some((node, t0)) = self.waiting.get_mut(&key).and_then(|q| q.pop_front()) {
                    self.complete_recv(dst, node, m, tail.max(t0));
                } else {
                    self.mailbox.entry(key).or_default().push_back((m, tail));
                }
            }
            Sink::Stage(s, i) => {
                if last {
                    let p = self.journeys[j].payload.take();
                    let st = &mut self.stages[s];
                    st.data[i] = p;
                    st.data_in += 1;
                }
                let st = &mut self.stages[s];
                let kk = k as usize;
                st.arrived[kk] += 1;
                st.head[kk] = st.head[kk].max(head);
                st.tail[kk] = st.tail[kk].max(tail);
                if st.arrived[kk] as usize == st.in_ports.len() {
                    let (h, tl) = (st.head[kk], st.tail[kk]);
                    self.release(s, k, h, tl, last);
                }
            }
            Sink::Deliver(flow, rank) => {
                if last {
                    let payload = self.journeys[j].payload.take();
                    let node = self.flow_node[&(flow, rank)];
                    if let (Some(d), Some(p), Op::Flow { chunk, .. }) = (
                        self.data.as_mut(),
                        payload,
                        &self.prog.ranks[rank as usize][node as usize].op,
                    ) {
                        d[rank as usize][*chunk as usize] = p;
                    }
                    self.received[rank as usize] += self.prog.chunk_bytes;
                    let t0 = self.flow_started.get(&(flow, rank)).copied().unwrap_or(0.0);
                    self.finish_node(rank, node, tail.max(t0));
                }
            }
        }
    }

    /// Stage `s` has packet `k` of every input: send the sum on every output.
    fn release(&mut self, s: usize, k: u64, head: f64, tail: f64, last: bool) {
        let outs = self.stages[s].outs.clone();
        let sw = self.stages[s].switch;
        let payload_out: Option<Vec<(u32, Vec<u32>)>> = if last && self.data.is_some() {
            let st = &self.stages[s];
            let (net, masks) = &self.nets[&(sw, self.stage_phase[s])];
            let len = st.data.iter().flatten().map(|d| d.len()).max().unwrap_or(0);
            let ports = net.cfg.ports as usize;
            let mut outv: Vec<Vec<u32>> = vec![Vec::with_capacity(len); ports];
            let mut x = vec![0u64; ports];
            for e in 0..len {
                x.iter_mut().for_each(|v| *v = 0);
                for (i, &p) in st.in_ports.iter().enumerate() {
                    x[p as usize] = st.data[i].as_ref().map_or(0, |d| d[e] as u64);
                }
                let y = net.eval(masks, &x);
                for (p, v) in outv.iter_mut().enumerate() {
                    v.push(y[p] as u32);
                }
            }
            Some(
                outs.iter()
                    .map(|&(p, _)| (p, outv[p as usize].clone()))
                    .collect(),
            )
        } else {
            None
        };
        let bytes = self.prog.chunk_bytes;
        for (oi, &(_, to)) in outs.iter().enumerate() {
            let payload = payload_out.as_ref().map(|v| v[oi].1.clone());
            let (link, sink) = match to {
                StageOut::Npu(flow, rank) => {
                    let (l1, _) = self.fab.l1_of(rank);
                    (
                        self.fab.link(Place::L1(l1), Place::Npu(rank)),
                        Sink::Deliver(flow, rank),
                    )
                }
                StageOut::Stage(next, input) => {
                    let to_sw = self.stages[next].switch;
                    (self.fab.link(sw, to_sw), Sink::Stage(next, input))
                }
            };
            // One journey per (stage, output), created with packet 0 and reused after.
            let key = (s, oi);
            let j = self.stage_journey(key, link, sink, bytes);
            if last {
                self.journeys[j].payload = payload;
            }
            self.push(head, EvKind::Hop { j, k, hop: 0, tail });
        }
    }

    fn stage_journey(&mut self, key: (usize, usize), link: usize, sink: Sink, bytes: u64) -> usize {
        if let Some(&j) = self.stage_journeys.get(&key) {
            return j;
        }
        let id = self.journeys.len();
        self.journeys.push(Journey {
            links: vec![link],
            bytes,
            sink,
            payload: None,
            chained: false,
            on_injected: None,
        });
        self.stage_journeys.insert(key, id);
        id
    }

    /// Packet `k` of journey `j` takes link `hop` of its path: its head is there at `head`,
    /// its tail at `tail`.
    fn hop(&mut self, j: usize, k: u64, hop: usize, head: f64, tail: f64) {
        let pk = self.fab.cfg.packet;
        let jr = &self.journeys[j];
        let n = packets(jr.bytes, pk);
        let size = pk.min(jr.bytes.saturating_sub(k * pk)).max(1);
        let l = jr.links[hop];
        let hops = jr.links.len();
        let chained = jr.chained;
        let injected = jr.on_injected.filter(|_| hop == 0 && k + 1 == n);
        let lat = self.fab.cfg.link_ns;
        let link = &mut self.fab.links[l];
        let s = head.max(link.free);
        let end = (s + size as f64 / link.bw).max(tail);
        link.free = end;
        link.bytes += size;
        self.events += 1;
        if hop == 0 && chained && k + 1 < n {
            self.push(
                end,
                EvKind::Hop {
                    j,
                    k: k + 1,
                    hop: 0,
                    tail: end,
                },
            );
        }
        if let Some((rank, node)) = injected {
            self.finish_node(rank, node, end);
        }
        if hop + 1 < hops {
            self.push(
                s + lat,
                EvKind::Hop {
                    j,
                    k,
                    hop: hop + 1,
                    tail: end + lat,
                },
            );
        } else {
            self.arrive(j, k, s + lat, end + lat);
        }
    }

    /// Runs the program to the end; `progress` is called now and then with the simulated time.
    pub fn run(mut self, progress: &mut dyn FnMut(f64, u64)) -> Result<Outcome, FabricError> {
        for r in 0..self.prog.ranks.len() {
            for i in 0..self.prog.ranks[r].len() {
                if self.pending[r][i] == 0 {
                    self.push(
                        0.0,
                        EvKind::Start {
                            rank: r as u32,
                            node: i as u32,
                        },
                    );
                }
            }
        }
        let mut popped = 0u64;
        while let Some(ev) = self.heap.pop() {
            popped += 1;
            if popped % (1 << 20) == 0 {
                progress(ev.t, self.events);
            }
            match ev.kind {
                EvKind::Start { rank, node } => self.start(rank, node, ev.t),
                EvKind::Hop { j, k, hop, tail } => self.hop(j, k, hop, ev.t, tail),
            }
        }
        for (r, d) in self.done.iter().enumerate() {
            if let Some(i) = d.iter().position(|x| !x) {
                return Err(FabricError::Deadlock(format!(
                    "rank {r} node {i} ({:?}) never finished",
                    self.prog.ranks[r][i].op
                )));
            }
        }
        Ok(Outcome {
            time_ns: self.end,
            sent: self.sent,
            received: self.received,
            link_bytes: self.fab.links.iter().map(|l| l.bytes).collect(),
            events: self.events,
            data: self.data,
        })
    }
}
