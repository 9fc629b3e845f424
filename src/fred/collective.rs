//! Collective schedules as per-rank programs for the fabric model (`fabric.rs`): the
//! endpoint algorithms (bidirectional rings for All-Reduce, Reduce-Scatter and All-Gather;
//! direct sends for All-to-All) and FRED's in-switch algorithms (spec fred.md §4: All-Reduce
//! one flow; Reduce-Scatter i serial reduce flows; All-Gather i serial multicasts).
//!
//! Sizes: `bytes` (D) is each rank's buffer — the All-Reduce and Reduce-Scatter input, the
//! All-Gather output, the All-to-All input (D/N to every member).

use super::fabric::{Kind, Node, Op, Program};
use plume_hw::fred::network::Flow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collective {
    AllReduce,
    ReduceScatter,
    AllGather,
    AllToAll,
}

impl Collective {
    pub fn parse(s: &str) -> Option<Collective> {
        match s {
            "allreduce" => Some(Collective::AllReduce),
            "reducescatter" => Some(Collective::ReduceScatter),
            "allgather" => Some(Collective::AllGather),
            "alltoall" => Some(Collective::AllToAll),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Collective::AllReduce => "allreduce",
            Collective::ReduceScatter => "reducescatter",
            Collective::AllGather => "allgather",
            Collective::AllToAll => "alltoall",
        }
    }

    pub const ALL: [Collective; 4] = [
        Collective::AllReduce,
        Collective::ReduceScatter,
        Collective::AllGather,
        Collective::AllToAll,
    ];
}

/// Groups of a 3D-parallel placement on `n` NPUs (MP innermost on consecutive NPUs, then PP,
/// then DP — the paper's placement): `kind` all, mp, dp or pp.
pub fn groups(n: u32, mp: u32, pp: u32, kind: &str) -> Result<Vec<Vec<u32>>, String> {
    if kind == "all" {
        return Ok(vec![(0..n).collect()]);
    }
    if mp == 0 || pp == 0 || n % (mp * pp) != 0 {
        return Err(format!("MP({mp}) × PP({pp}) must divide the {n} NPUs"));
    }
    let dp = n / (mp * pp);
    let rank = |m: u32, q: u32, d: u32| m + mp * (q + pp * d);
    let mut gs: Vec<Vec<u32>> = Vec::new();
    match kind {
        "mp" => {
            for d in 0..dp {
                for q in 0..pp {
                    gs.push((0..mp).map(|m| rank(m, q, d)).collect());
                }
            }
        }
        "dp" => {
            for q in 0..pp {
                for m in 0..mp {
                    gs.push((0..dp).map(|d| rank(m, q, d)).collect());
                }
            }
        }
        "pp" => {
            for d in 0..dp {
                for m in 0..mp {
                    gs.push((0..pp).map(|q| rank(m, q, d)).collect());
                }
            }
        }
        _ => return Err(format!("unknown group {kind:?} (all, mp, dp, pp)")),
    }
    if gs[0].len() < 2 {
        return Err(format!("{kind} groups of one NPU have nothing to exchange"));
    }
    Ok(gs)
}

/// A schedule: the program, and for checking it, what each rank owns at the end.
pub struct Schedule {
    pub program: Program,
    /// The groups it runs (each in ring order).
    pub groups: Vec<Vec<u32>>,
    /// Chunks per direction of a ring (or per group member).
    pub per: u32,
    /// Ring directions (2 for the endpoint rings, 1 otherwise).
    pub dirs: u32,
    pub in_switch: bool,
}

/// A Hamiltonian cycle of a rows × cols mesh (rows or cols even), so a whole-wafer ring
/// steps between neighbours; row-major order otherwise.
pub fn mesh_ring(rows: u32, cols: u32) -> Vec<u32> {
    let at = |r: u32, c: u32| r * cols + c;
    if rows < 2 || cols < 2 {
        return (0..rows * cols).collect();
    }
    if rows % 2 == 0 {
        let mut v: Vec<u32> = (0..cols).map(|c| at(0, c)).collect();
        for r in 1..rows {
            if r % 2 == 1 {
                v.extend((1..cols).rev().map(|c| at(r, c)));
            } else {
                v.extend((1..cols).map(|c| at(r, c)));
            }
        }
        v.extend((1..rows).rev().map(|r| at(r, 0)));
        v
    } else if cols % 2 == 0 {
        let t: Vec<u32> = mesh_ring(cols, rows);
        t.into_iter().map(|x| at(x % rows, x / rows)).collect()
    } else {
        (0..rows * cols).collect()
    }
}

/// The schedule of `coll` over `groups` (all of one size) on a fabric of `kind`, D = `bytes`.
pub fn schedule(
    kind: Kind,
    npus: u32,
    mesh_cols: u32,
    mut groups: Vec<Vec<u32>>,
    coll: Collective,
    bytes: u64,
) -> Result<Schedule, String> {
    let n = groups[0].len() as u32;
    if groups.iter().any(|g| g.len() as u32 != n) {
        return Err("groups must have one size".into());
    }
    if kind == Kind::Mesh && groups.len() == 1 && n == npus {
        groups[0] = mesh_ring(npus / mesh_cols, mesh_cols);
    }
    let in_switch = kind == Kind::FredD && coll != Collective::AllToAll;
    let (per, dirs) = match (coll, in_switch) {
        (Collective::AllReduce, true) => (1, 1),
        (Collective::AllToAll, _) => (n, 1),
        (_, true) => (n, 1),
        _ => (n, 2),
    };
    // Chunk size: D split over the member chunks (and directions).
    let split = match (coll, in_switch) {
        (Collective::AllReduce, true) => 1,
        _ => (per * dirs) as u64,
    };
    if bytes < split {
        return Err(format!(
            "{bytes} bytes cannot be split into {split} chunks of at least one byte"
        ));
    }
    let chunk_bytes = bytes / split;
    let chunks = match coll {
        Collective::AllToAll => 2 * n,
        _ => per * dirs,
    };
    let mut prog = Program {
        ranks: vec![Vec::new(); npus as usize],
        flows: Vec::new(),
        flow_phase: Vec::new(),
        chunks,
        chunk_bytes,
    };
    for g in &groups {
        if in_switch {
            in_switch_program(&mut prog, g, coll);
        } else if coll == Collective::AllToAll {
            for (i, &r) in g.iter().enumerate() {
                for (j, &peer) in g.iter().enumerate() {
                    if i != j {
                        push(
                            &mut prog,
                            r,
                            Op::Send {
                                peer,
                                chunk: j as u32,
                                count: 1,
                                tag: 0,
                            },
                            vec![],
                        );
                        push(
                            &mut prog,
                            r,
                            Op::Recv {
                                peer,
                                chunk: n + j as u32,
                                count: 1,
                                tag: 0,
                                reduce: false,
                            },
                            vec![],
                        );
                    }
                }
            }
        } else {
            ring_program(&mut prog, g, coll);
        }
    }
    Ok(Schedule {
        program: prog,
        groups,
        per,
        dirs,
        in_switch,
    })
}

fn push(prog: &mut Program, rank: u32, op: Op, deps: Vec<u32>) -> u32 {
    let nodes = &mut prog.ranks[rank as usize];
    nodes.push(Node { op, deps });
    nodes.len() as u32 - 1
}

/// Bidirectional ring: direction 0 uses chunks 0…N−1 around the group's order, direction 1
/// chunks N…2N−1 the other way. Position p owns chunk p after Reduce-Scatter and before
/// All-Gather.
fn ring_program(prog: &mut Program, g: &[u32], coll: Collective) {
    let n = g.len() as u32;
    let phases = (
        coll != Collective::AllGather,
        coll != Collective::ReduceScatter,
    );
    for dir in 0..2u32 {
        let part = move |p: u32| dir * n + p;
        let mut last = std::collections::HashMap::new();
        ring_phase(prog, g, dir, &part, 1, phases, dir << 16, &mut last);
    }
}

/// FRED's in-switch algorithms: All-Reduce one flow over the group; Reduce-Scatter a reduce
/// flow per member (all inputs to member j, chunk j), All-Gather a multicast per member
/// (member j's chunk j to all), each its own phase, in series.
fn in_switch_program(prog: &mut Program, g: &[u32], coll: Collective) {
    let phases: Vec<(Flow, u32)> = match coll {
        Collective::AllReduce => vec![(
            Flow {
                ins: g.to_vec(),
                outs: g.to_vec(),
            },
            0,
        )],
        Collective::ReduceScatter => g
            .iter()
            .enumerate()
            .map(|(j, &m)| {
                (
                    Flow {
                        ins: g.to_vec(),
                        outs: vec![m],
                    },
                    j as u32,
                )
            })
            .collect(),
        _ => g
            .iter()
            .enumerate()
            .map(|(j, &m)| {
                (
                    Flow {
                        ins: vec![m],
                        outs: g.to_vec(),
                    },
                    j as u32,
                )
            })
            .collect(),
    };
    let mut last: Vec<Option<u32>> = vec![None; g.len()];
    for (phase, (flow, chunk)) in phases.into_iter().enumerate() {
        let id = prog.flows.len() as u32;
        for (i, &r) in g.iter().enumerate() {
            if flow.ins.contains(&r) || flow.outs.contains(&r) {
                let deps: Vec<u32> = last[i].into_iter().collect();
                last[i] = Some(push(prog, r, Op::Flow { flow: id, chunk }, deps));
            }
        }
        prog.flows.push(flow);
        prog.flow_phase.push(phase as u32);
    }
}

/// The golden result for rank `r` (member `i` of group `g`): every chunk it must hold at the
/// end, computed from the initial buffers `init` directly (sums in wrapping 32-bit words).
pub fn expected(
    (chunks, dirs): (u32, u32),
    coll: Collective,
    g: &[u32],
    i: usize,
    init: &dyn Fn(u32, u32) -> Vec<u32>,
) -> Vec<(u32, Vec<u32>)> {
    let n = g.len() as u32;
    let sum = |c: u32| -> Vec<u32> {
        let mut acc = init(g[0], c);
        for &m in &g[1..] {
            for (a, b) in acc.iter_mut().zip(init(m, c)) {
                *a = a.wrapping_add(b);
            }
        }
        acc
    };
    // Chunk c of direction d belongs to the member at ring position c.
    let owner_chunks = |i: usize| -> Vec<u32> {
        let i = i as u32;
        if dirs == 2 {
            vec![i, n + (n - i) % n]
        } else {
            vec![i]
        }
    };
    let owner_of = |chunk: u32| -> usize {
        if dirs == 2 && chunk >= n {
            ((n - (chunk - n)) % n) as usize
        } else {
            chunk as usize
        }
    };
    match coll {
        Collective::AllReduce => (0..chunks).map(|c| (c, sum(c))).collect(),
        Collective::ReduceScatter => owner_chunks(i).into_iter().map(|c| (c, sum(c))).collect(),
        Collective::AllGather => (0..chunks).map(|c| (c, init(g[owner_of(c)], c))).collect(),
        Collective::AllToAll => (0..n)
            .filter(|&j| j as usize != i)
            .map(|j| (n + j, init(g[j as usize], i as u32)))
            .collect(),
    }
}

/// One ring phase over `g` in direction `dir` (0: the group's order, 1: reversed): position p
/// owns part p (chunks `part(p)…part(p)+count−1`); Reduce-Scatter leaves position p with
/// part p summed over the ring, All-Gather spreads every position's part to all. Each rank's
/// nodes wait for `last[rank]`, which is updated.
fn ring_phase(
    prog: &mut Program,
    g: &[u32],
    dir: u32,
    part: &dyn Fn(u32) -> u32,
    count: u32,
    (rs, ag): (bool, bool),
    tag_base: u32,
    last: &mut std::collections::HashMap<u32, u32>,
) {
    let n = g.len() as i64;
    let md = |x: i64| x.rem_euclid(n) as u32;
    let member = |p: i64| {
        let p = p.rem_euclid(n);
        g[if dir == 0 { p } else { (n - p) % n } as usize]
    };
    for (i, &r) in g.iter().enumerate() {
        let p = if dir == 0 {
            i as i64
        } else {
            (n - i as i64) % n
        };
        let (next, prev) = (member(p + 1), member(p - 1));
        let mut step = 0;
        let mut go = |prog: &mut Program, send: u32, recv: u32, reduce: bool, step: u32| {
            let deps: Vec<u32> = last.get(&r).copied().into_iter().collect();
            let tag = tag_base + step;
            push(
                prog,
                r,
                Op::Send {
                    peer: next,
                    chunk: part(send),
                    count,
                    tag,
                },
                deps.clone(),
            );
            let rv = push(
                prog,
                r,
                Op::Recv {
                    peer: prev,
                    chunk: part(recv),
                    count,
                    tag,
                    reduce,
                },
                deps,
            );
            last.insert(r, rv);
        };
        if rs {
            for s in 0..n - 1 {
                go(prog, md(p - s - 1), md(p - s - 2), true, step);
                step += 1;
            }
        }
        if ag {
            for s in 0..n - 1 {
                go(prog, md(p - s), md(p - s - 1), false, step);
                step += 1;
            }
        }
    }
}

/// The hierarchical 2D All-Reduce of a rows × cols mesh (spec fred.md §7's baseline for
/// wafer-wide operations): each half of D goes one way round its row — Reduce-Scatter along
/// the rows, All-Reduce of each row-part along the columns, All-Gather along the rows. Chunks:
/// half d, row part p, column part q at d·cols·rows + p·rows + q.
pub fn mesh_2d_allreduce(rows: u32, cols: u32, bytes: u64) -> Result<Schedule, String> {
    if rows < 2 || cols < 2 {
        return Err(format!(
            "a 2D all-reduce needs at least 2 rows and 2 columns, not {rows} × {cols}"
        ));
    }
    let per = rows * cols;
    let chunks = 2 * per;
    if bytes < chunks as u64 {
        return Err(format!(
            "{bytes} bytes cannot be split into {chunks} chunks of at least one byte"
        ));
    }
    let npus = rows * cols;
    let mut prog = Program {
        ranks: vec![Vec::new(); npus as usize],
        flows: Vec::new(),
        flow_phase: Vec::new(),
        chunks,
        chunk_bytes: bytes / chunks as u64,
    };
    let row = |r: u32| -> Vec<u32> { (0..cols).map(|c| r * cols + c).collect() };
    let col = |c: u32| -> Vec<u32> { (0..rows).map(|r| r * cols + c).collect() };
    for d in 0..2u32 {
        let mut last = std::collections::HashMap::new();
        let tag = |phase: u32| (d << 20) | (phase << 16);
        let row_part = move |p: u32| d * per + p * rows;
        for r in 0..rows {
            ring_phase(
                &mut prog,
                &row(r),
                d,
                &row_part,
                rows,
                (true, false),
                tag(0),
                &mut last,
            );
        }
        for c in 0..cols {
            // The row part this column owns after the row Reduce-Scatter in direction d.
            let own = if d == 0 { c } else { (cols - c) % cols };
            let sub = move |q: u32| d * per + own * rows + q;
            ring_phase(
                &mut prog,
                &col(c),
                d,
                &sub,
                1,
                (true, true),
                tag(1),
                &mut last,
            );
        }
        for r in 0..rows {
            ring_phase(
                &mut prog,
                &row(r),
                d,
                &row_part,
                rows,
                (false, true),
                tag(2),
                &mut last,
            );
        }
    }
    Ok(Schedule {
        program: prog,
        groups: vec![(0..npus).collect()],
        per,
        dirs: 2,
        in_switch: false,
    })
}
