//! The BIRRD router: from "which inputs are summed on which output port" to a configuration
//! `[stage][switch]` of modes (spec feather.md §3.6–3.8).
//!
//! # Method: exact search with forward checking
//!
//! A *target* maps output ports to disjoint sets of input ports; other outputs are don't-care.
//! The search moves *partial sums* through the network stage by stage. A partial sum belongs
//! to one target; everything else on a wire is garbage. At a switch:
//!
//! * garbage and garbage: any mode (pass);
//! * one partial sum u: u leaves on the even or on the odd output (pass or swap). An add mode
//!   could only put u's sum with garbage on one side and u itself on the other, which is the
//!   same as pass or swap for u;
//! * partial sums of different targets: pass or swap (adding them would mix targets);
//! * partial sums of the same target: pass, swap, or merge into the even (`add_even`) or odd
//!   (`add_odd`) output; the other output then carries a garbage copy.
//!
//! A partial sum is never dropped, so each target's sources survive until they meet; the search
//! succeeds when every partial sum sits on its target's output after the last stage, which
//! forces exactly one per target holding exactly its sources. These rules lose no solution:
//! any configuration that produces the target induces such a flow of partial sums (the wires
//! holding parts of a target sum, read backwards from its output). So the search is *complete*:
//! it explores every choice except those cut by the sound prunings below, and "unroutable" is
//! a proof, not a heuristic giving up.
//!
//! Prunings, all necessary conditions:
//! 1. reachability — a partial sum must still be able to reach its output;
//! 2. forced positions — a partial sum at position p of stage s can only be at
//!    `fwd(s, p, s') ∩ bwd(s', out)` at a later stage s'. When that set is one position, the
//!    sum (or whatever carries it after merges) *will* be there; two targets forced onto one
//!    wire is a conflict, found stages before it happens (in the bit-reversal network the second
//!    half's paths are unique, so this sees most conflicts right after the first stages);
//! 3. switch capacity — partial sums of three different targets forced into one switch;
//! 4. Hall groups — partial sums whose possible positions at a later stage are exactly the same
//!    set S: more distinct targets among them than |S| positions cannot all fit. This is what
//!    makes 64-port routes feasible: in the bit-reversal network, values heading to nearby
//!    outputs must take distinct middle addresses, and the groups see that as soon as the first
//!    address bits are chosen;
//! 5. memoised failures — the future depends only on which target occupies which position at a
//!    stage boundary, so a failed boundary state is never explored twice.
//!
//! Each step decides the switch with the fewest surviving options (a switch with none fails
//! the branch at once). Randomised probes of growing length (a restart schedule) run first and
//! escape unlucky early choices; the complete search follows.
//!
//! Tests compare the router with exhaustive enumeration of every configuration at N = 4 and of
//! every pass/swap configuration at N = 8 (all 40,320 permutations). A search that exceeds its
//! time budget returns `Timeout`, never a false "unroutable".

use crate::feather::birrd::{dest, stages, BirrdConfig, Config, Mode, Topology};
use crate::feather::golden;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// Output port → the input ports summed there (one input = a move).
pub type Target = BTreeMap<usize, Vec<usize>>;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("ports must be a power of two from 4 to 256, got {0}")]
    Ports(u32),
    #[error("output port {port} is out of range (the network has {ports} ports)")]
    OutputRange { port: usize, ports: u32 },
    #[error(
        "input port {port} (for output {output}) is out of range (the network has {ports} ports)"
    )]
    InputRange {
        port: usize,
        output: usize,
        ports: u32,
    },
    #[error("input {input} is wanted by outputs {first} and {second}; each partial sum goes to one place")]
    Overlap {
        input: usize,
        first: usize,
        second: usize,
    },
    #[error("input {input} is listed twice for output {output}")]
    Repeated { input: usize, output: usize },
    #[error("unroutable: {0}")]
    Unroutable(String),
    #[error("routing gave up after {0} ms without an answer (not a proof that the target is unroutable)")]
    Timeout(u128),
}

/// Randomised probes tried before the complete search (four rounds of six growing lengths).
const PROBES: u64 = 24;

/// Fixed-size set of positions (N ≤ 256).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
struct PSet([u64; 4]);

impl PSet {
    fn single(p: usize) -> PSet {
        let mut s = PSet::default();
        s.insert(p);
        s
    }
    fn insert(&mut self, p: usize) {
        self.0[p / 64] |= 1 << (p % 64);
    }
    fn contains(&self, p: usize) -> bool {
        self.0[p / 64] >> (p % 64) & 1 == 1
    }
    fn and(&self, o: &PSet) -> PSet {
        PSet([
            self.0[0] & o.0[0],
            self.0[1] & o.0[1],
            self.0[2] & o.0[2],
            self.0[3] & o.0[3],
        ])
    }
    fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
    fn first(&self) -> usize {
        (0..4)
            .find(|&i| self.0[i] != 0)
            .map(|i| i * 64 + self.0[i].trailing_zeros() as usize)
            .unwrap_or(usize::MAX)
    }
    fn last(&self) -> usize {
        (0..4)
            .rev()
            .find(|&i| self.0[i] != 0)
            .map(|i| i * 64 + 63 - self.0[i].leading_zeros() as usize)
            .unwrap_or(usize::MAX)
    }
}

/// Precomputed structure of one network (ports, topology): reusable for many targets.
pub struct Router {
    n: usize,
    s: usize,
    topology: Topology,
    /// `next[s][p]`: positions at stage s+1 of the two outputs of p's switch (even, odd).
    next: Vec<Vec<(usize, usize)>>,
    /// `fwd[(s·n + p)·(S+1) + s']`: positions at stage s' reachable from p at stage s.
    fwd: Vec<PSet>,
    /// `bwd[s'·n + o]`: positions at stage s' from which output o is reachable.
    bwd: Vec<PSet>,
}

/// An undoable change to the forward-checking tables.
enum Undo {
    Occ(usize),
    Pair(usize, usize),
    Group(usize, PSet, u16),
}

struct Search<'a> {
    r: &'a Router,
    out: Vec<usize>,
    /// Occupancy of forced positions: (target + 1, count) per stage·n + position.
    occ: Vec<(u16, u32)>,
    /// Per stage·(n/2) + switch: up to two (target + 1, count) forced into the switch.
    pair: Vec<[(u16, u32); 2]>,
    undo: Vec<Undo>,
    /// Per (stage, set of positions): the targets whose partial sums are confined to exactly
    /// that set, with counts. More distinct targets than positions is a conflict (Hall).
    groups: HashMap<(usize, PSet), Vec<(u16, u32)>>,
    modes: Vec<Vec<Mode>>,
    failed: Vec<HashSet<Vec<u16>>>,
    deadline: Instant,
    nodes: u64,
    /// Give up (as a timeout) after this many nodes: used by the randomised probes.
    node_limit: u64,
    /// Randomised option order (xorshift state), or 0 for the fixed order.
    shuffle: u64,
    timed_out: bool,
}

impl Router {
    pub fn new(ports: u32, topology: Topology) -> Result<Router, RouteError> {
        let cfg = BirrdConfig {
            ports,
            width: 32,
            topology,
        };
        cfg.validate().map_err(|_| RouteError::Ports(ports))?;
        let n = ports as usize;
        let s_count = stages(topology, ports) as usize;
        let next: Vec<Vec<(usize, usize)>> = (0..s_count)
            .map(|s| {
                (0..n)
                    .map(|p| {
                        (
                            dest(topology, ports, s as u32, p & !1),
                            dest(topology, ports, s as u32, p | 1),
                        )
                    })
                    .collect()
            })
            .collect();
        let stride = s_count + 1;
        let mut fwd = vec![PSet::default(); s_count * n * stride + n * stride];
        for s in 0..=s_count {
            for p in 0..n {
                let base = (s * n + p) * stride;
                fwd[base + s] = PSet::single(p);
                for t in s..s_count {
                    let cur = fwd[base + t];
                    let mut nx = PSet::default();
                    for q in 0..n {
                        if cur.contains(q) {
                            let (e, o) = next[t][q];
                            nx.insert(e);
                            nx.insert(o);
                        }
                    }
                    fwd[base + t + 1] = nx;
                }
            }
        }
        let mut bwd = vec![PSet::default(); stride * n];
        for o in 0..n {
            bwd[s_count * n + o] = PSet::single(o);
            for s in (0..s_count).rev() {
                let mut set = PSet::default();
                let later = bwd[(s + 1) * n + o];
                for p in 0..n {
                    let (e, od) = next[s][p];
                    if later.contains(e) || later.contains(od) {
                        set.insert(p);
                    }
                }
                bwd[s * n + o] = set;
            }
        }
        Ok(Router {
            n,
            s: s_count,
            topology,
            next,
            fwd,
            bwd,
        })
    }

    pub fn ports(&self) -> u32 {
        self.n as u32
    }

    pub fn topology(&self) -> Topology {
        self.topology
    }

    fn poss(&self, s: usize, p: usize, o: usize, later: usize) -> PSet {
        self.fwd[(s * self.n + p) * (self.s + 1) + later].and(&self.bwd[later * self.n + o])
    }

    /// Checks a target's ports and disjointness.
    pub fn check_target(&self, target: &Target) -> Result<(), RouteError> {
        let mut owner: HashMap<usize, usize> = HashMap::new();
        for (&o, ins) in target {
            if o >= self.n {
                return Err(RouteError::OutputRange {
                    port: o,
                    ports: self.n as u32,
                });
            }
            let mut seen = HashSet::new();
            for &i in ins {
                if i >= self.n {
                    return Err(RouteError::InputRange {
                        port: i,
                        output: o,
                        ports: self.n as u32,
                    });
                }
                if !seen.insert(i) {
                    return Err(RouteError::Repeated {
                        input: i,
                        output: o,
                    });
                }
                if let Some(&first) = owner.get(&i) {
                    return Err(RouteError::Overlap {
                        input: i,
                        first,
                        second: o,
                    });
                }
                owner.insert(i, o);
            }
        }
        Ok(())
    }

    /// Routes a target within `budget`. Returns a configuration checked on the golden model.
    pub fn route(&self, target: &Target, budget: Duration) -> Result<Config, RouteError> {
        self.check_target(target)?;
        let deadline = Instant::now() + budget;
        // Solutions are usually plentiful but a bad early choice can trap a depth-first search
        // for a long time: randomised probes of growing length first (each result verified),
        // then the complete search with the rest of the budget, which alone may answer
        // "unroutable". Probe lengths cycle through 4, 8, … 128 nodes per switch of the network.
        for k in 1..=PROBES {
            let probe_nodes = (2u64 << (k % 6)) * self.n as u64 * self.s as u64;
            if let Some(Ok(config)) =
                self.search(target, deadline, probe_nodes, 0x9e37_79b9_7f4a_7c15 ^ k)
            {
                self.verify(target, &config);
                return Ok(config);
            }
        }
        match self.search(target, deadline, u64::MAX, 0) {
            Some(Ok(config)) => {
                self.verify(target, &config);
                Ok(config)
            }
            Some(Err(())) => Err(RouteError::Unroutable(self.explain(target, deadline))),
            None => Err(RouteError::Timeout(budget.as_millis())),
        }
    }

    /// Some(Ok) routed, Some(Err) proven unroutable, None out of time.
    fn search(
        &self,
        target: &Target,
        deadline: Instant,
        node_limit: u64,
        shuffle: u64,
    ) -> Option<Result<Config, ()>> {
        let live: Vec<(&usize, &Vec<usize>)> =
            target.iter().filter(|(_, ins)| !ins.is_empty()).collect();
        let out: Vec<usize> = live.iter().map(|(o, _)| **o).collect();
        let mut cur = vec![0u16; self.n];
        for (t, (_, ins)) in live.iter().enumerate() {
            for &i in ins.iter() {
                cur[i] = t as u16 + 1;
            }
        }
        let n2 = self.n / 2;
        let mut search = Search {
            r: self,
            out,
            occ: vec![(0, 0); (self.s + 1) * self.n],
            pair: vec![[(0, 0); 2]; (self.s + 1) * n2],
            undo: Vec::new(),
            groups: HashMap::new(),
            modes: vec![vec![Mode::Pass; n2]; self.s],
            failed: vec![HashSet::new(); self.s + 1],
            deadline,
            nodes: 0,
            node_limit,
            shuffle,
            timed_out: false,
        };
        for p in 0..self.n {
            if cur[p] != 0 && !search.place(0, p, cur[p]) {
                return Some(Err(()));
            }
        }
        let mut nxt = vec![0u16; self.n];
        let mut decided = vec![false; n2];
        let found = search.stage(0, &cur, &mut nxt, &mut decided);
        if search.timed_out {
            None
        } else if found {
            Some(Ok(search.modes))
        } else {
            Some(Err(()))
        }
    }

    /// Which outputs conflict: drops requirements one at a time while the rest stays
    /// unroutable, leaving a small set that cannot be satisfied together (when time allows).
    fn explain(&self, target: &Target, deadline: Instant) -> String {
        let mut core: Target = target.clone();
        for o in target.keys() {
            if Instant::now() >= deadline {
                break;
            }
            let mut trial = core.clone();
            trial.remove(o);
            if let Some(Err(())) = self.search(&trial, deadline, u64::MAX, 0) {
                core = trial;
            }
        }
        let parts: Vec<String> = core
            .iter()
            .filter(|(_, ins)| !ins.is_empty())
            .map(|(o, ins)| {
                format!(
                    "{o}←{{{}}}",
                    ins.iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            })
            .collect();
        format!(
            "no configuration of the {}-port {} network satisfies outputs {} together",
            self.n,
            self.topology,
            parts.join(" ")
        )
    }

    /// The routed configuration must produce the target on the golden model: random 64-bit
    /// inputs, each specified output equal to the sum of its inputs.
    fn verify(&self, target: &Target, config: &Config) {
        let cfg = BirrdConfig {
            ports: self.n as u32,
            width: 64,
            topology: self.topology,
        };
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2 {
            let inputs: Vec<u64> = (0..self.n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                })
                .collect();
            let out = golden::birrd(&cfg, config, &inputs)
                .expect("router produced a well-formed configuration");
            for (&o, ins) in target {
                if ins.is_empty() {
                    continue;
                }
                let want = ins.iter().fold(0u64, |a, &i| a.wrapping_add(inputs[i]));
                assert_eq!(
                    out[o], want,
                    "internal: routed configuration does not produce output {o}"
                );
            }
        }
    }
}

impl Search<'_> {
    /// Records that a partial sum of target `t1` (= target + 1) sits at `p` of stage `s`:
    /// adds its forced positions at later stages; false on a conflict (tables left for undo).
    fn place(&mut self, s: usize, p: usize, t1: u16) -> bool {
        let r = self.r;
        let o = self.out[t1 as usize - 1];
        let n2 = r.n / 2;
        for later in s..=r.s {
            let ps = r.poss(s, p, o, later);
            let c = ps.count();
            if c == 0 {
                return false;
            }
            if c == 1 {
                let idx = later * r.n + ps.first();
                let (t, k) = self.occ[idx];
                if t != 0 && t != t1 {
                    return false;
                }
                self.occ[idx] = (t1, k + 1);
                self.undo.push(Undo::Occ(idx));
            }
            if c >= 2 && (c as usize) < self.out.len() {
                let entry = self.groups.entry((later, ps)).or_default();
                match entry.iter_mut().find(|(t, _)| *t == t1) {
                    Some((_, k)) => *k += 1,
                    None => {
                        if entry.len() as u32 >= c {
                            return false;
                        }
                        entry.push((t1, 1));
                    }
                }
                self.undo.push(Undo::Group(later, ps, t1));
            }
            if later < r.s && ps.first() / 2 == ps.last() / 2 {
                let idx = later * n2 + ps.first() / 2;
                let slots = &mut self.pair[idx];
                let k = if slots[0].0 == t1 || slots[0].0 == 0 {
                    0
                } else if slots[1].0 == t1 || slots[1].0 == 0 {
                    1
                } else {
                    return false;
                };
                slots[k] = (t1, slots[k].1 + 1);
                self.undo.push(Undo::Pair(idx, k));
            }
        }
        true
    }

    fn rollback(&mut self, mark: usize) {
        while self.undo.len() > mark {
            match self.undo.pop().unwrap() {
                Undo::Occ(i) => {
                    let (t, k) = self.occ[i];
                    self.occ[i] = if k == 1 { (0, 0) } else { (t, k - 1) };
                }
                Undo::Group(stage, ps, t1) => {
                    let entry = self.groups.get_mut(&(stage, ps)).expect("group recorded");
                    let i = entry
                        .iter()
                        .position(|(t, _)| *t == t1)
                        .expect("target recorded");
                    entry[i].1 -= 1;
                    if entry[i].1 == 0 {
                        entry.swap_remove(i);
                    }
                }
                Undo::Pair(i, k) => {
                    let (t, c) = self.pair[i][k];
                    self.pair[i][k] = if c == 1 { (0, 0) } else { (t, c - 1) };
                }
            }
        }
    }

    /// The options of switch `j` of stage `s` (mode, even value, odd value) that survive the
    /// forward checks right now.
    fn viable(&mut self, s: usize, cur: &[u16], j: usize) -> ([(Mode, u16, u16); 4], usize) {
        let (a, b) = (cur[2 * j], cur[2 * j + 1]);
        let (pe, po) = self.r.next[s][2 * j];
        let all: &[(Mode, u16, u16)] = if a != 0 && a == b {
            &[
                (Mode::AddEven, a, 0),
                (Mode::AddOdd, 0, a),
                (Mode::Pass, a, b),
                (Mode::Swap, b, a),
            ]
        } else {
            &[(Mode::Pass, a, b), (Mode::Swap, b, a)]
        };
        let mut out = [(Mode::Pass, 0, 0); 4];
        let mut k = 0;
        for &(mode, ve, vo) in all {
            let mark = self.undo.len();
            if (ve == 0 || self.place(s + 1, pe, ve)) && (vo == 0 || self.place(s + 1, po, vo)) {
                out[k] = (mode, ve, vo);
                k += 1;
            }
            self.rollback(mark);
        }
        (out, k)
    }

    /// Decides the remaining switches of stage `s` (those not yet `decided`), then the later
    /// stages. At every step the switch with the fewest surviving options is decided next, and
    /// a switch with none fails the branch at once (look-ahead, as unit propagation in a SAT
    /// solver).
    fn stage(
        &mut self,
        s: usize,
        cur: &[u16],
        nxt: &mut Vec<u16>,
        decided: &mut Vec<bool>,
    ) -> bool {
        let r = self.r;
        self.nodes += 1;
        if self.nodes > self.node_limit || (self.nodes % 8 == 0 && Instant::now() >= self.deadline)
        {
            self.timed_out = true;
        }
        if self.timed_out {
            return false;
        }
        if s == r.s {
            return true;
        }
        let mut best: Option<(usize, [(Mode, u16, u16); 4], usize)> = None;
        for j in 0..r.n / 2 {
            if decided[j] || (cur[2 * j] == 0 && cur[2 * j + 1] == 0) {
                continue;
            }
            let (opts, k) = self.viable(s, cur, j);
            if k == 0 {
                return false;
            }
            if best.as_ref().is_none_or(|b| k < b.2) {
                best = Some((j, opts, k));
                if k == 1 {
                    break;
                }
            }
        }
        let Some((j, opts, k)) = best else {
            // Stage complete: the next stage starts from `nxt`, unless it failed before.
            if self.failed[s + 1].contains(nxt) {
                return false;
            }
            let next_cur = nxt.clone();
            for jj in 0..r.n / 2 {
                if cur[2 * jj] == 0 && cur[2 * jj + 1] == 0 {
                    self.modes[s][jj] = Mode::Pass;
                }
            }
            let mut next_nxt = vec![0u16; r.n];
            let mut next_decided = vec![false; r.n / 2];
            if self.stage(s + 1, &next_cur, &mut next_nxt, &mut next_decided) {
                return true;
            }
            if !self.timed_out {
                self.failed[s + 1].insert(next_cur);
            }
            return false;
        };
        let (pe, po) = r.next[s][2 * j];
        decided[j] = true;
        let mut opts = opts;
        if self.shuffle != 0 && k > 1 {
            self.shuffle ^= self.shuffle << 13;
            self.shuffle ^= self.shuffle >> 7;
            self.shuffle ^= self.shuffle << 17;
            opts[..k].rotate_left((self.shuffle % k as u64) as usize);
        }
        for &(mode, ve, vo) in &opts[..k] {
            let mark = self.undo.len();
            let ok =
                (ve == 0 || self.place(s + 1, pe, ve)) && (vo == 0 || self.place(s + 1, po, vo));
            debug_assert!(ok, "a viable option stays viable");
            if ok {
                self.modes[s][j] = mode;
                nxt[pe] = ve;
                nxt[po] = vo;
                if self.stage(s, cur, nxt, decided) {
                    return true;
                }
                nxt[pe] = 0;
                nxt[po] = 0;
            }
            self.rollback(mark);
            if self.timed_out {
                break;
            }
        }
        decided[j] = false;
        false
    }
}

/// Repeated targets are routed once: the same pattern recurs every NEST row.
#[derive(Default)]
pub struct RouteCache {
    routers: HashMap<(u32, Topology), Router>,
    results: HashMap<(u32, Topology, Vec<(usize, Vec<usize>)>), Result<Config, RouteError>>,
    pub hits: u64,
    pub misses: u64,
}

impl RouteCache {
    pub fn new() -> RouteCache {
        RouteCache::default()
    }

    /// Routes through the cache. Timeouts are not cached (a longer budget may succeed).
    pub fn route(
        &mut self,
        ports: u32,
        topology: Topology,
        target: &Target,
        budget: Duration,
    ) -> Result<Config, RouteError> {
        let key_target: Vec<(usize, Vec<usize>)> = target
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(o, v)| {
                let mut v = v.clone();
                v.sort_unstable();
                (*o, v)
            })
            .collect();
        let key = (ports, topology, key_target);
        if let Some(r) = self.results.get(&key) {
            self.hits += 1;
            return r.clone();
        }
        self.misses += 1;
        if !self.routers.contains_key(&(ports, topology)) {
            self.routers
                .insert((ports, topology), Router::new(ports, topology)?);
        }
        let result = self.routers[&(ports, topology)].route(target, budget);
        if !matches!(result, Err(RouteError::Timeout(_))) {
            self.results.insert(key, result.clone());
        }
        result
    }

    pub fn len(&self) -> usize {
        self.results.len()
    }

    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pairs: &[(usize, &[usize])]) -> Target {
        pairs.iter().map(|(o, v)| (*o, v.to_vec())).collect()
    }

    #[test]
    fn routes_a_full_reduction_and_a_reversal_at_16() {
        let r = Router::new(16, Topology::Bitrev).unwrap();
        r.route(
            &t(&[(5, &(0..16).collect::<Vec<_>>())]),
            Duration::from_secs(5),
        )
        .unwrap();
        let rev: Target = (0..16).map(|o| (o, vec![15 - o])).collect();
        r.route(&rev, Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn input_errors() {
        let r = Router::new(8, Topology::Benes).unwrap();
        let e = r
            .route(&t(&[(1, &[0, 2]), (3, &[2])]), Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "input 2 is wanted by outputs 1 and 3; each partial sum goes to one place"
        );
        let e = r
            .route(&t(&[(8, &[0])]), Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "output port 8 is out of range (the network has 8 ports)"
        );
        let e = r
            .route(&t(&[(1, &[9])]), Duration::from_secs(1))
            .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("input port 9 (for output 1) is out of range"));
        assert_eq!(
            Router::new(6, Topology::Benes).err(),
            Some(RouteError::Ports(6))
        );
    }

    #[test]
    fn cache_serves_repeats() {
        let mut c = RouteCache::new();
        let target = t(&[(6, &[0, 4]), (5, &[1, 5])]);
        let a = c
            .route(16, Topology::Bitrev, &target, Duration::from_secs(2))
            .unwrap();
        let b = c
            .route(16, Topology::Bitrev, &target, Duration::from_secs(2))
            .unwrap();
        assert_eq!(a, b);
        assert_eq!((c.hits, c.misses, c.len()), (1, 1, 1));
    }
}
