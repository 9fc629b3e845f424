//! MSCCL-IR XML (the msccl-tools format: `<algo>` → `<gpu>` → `<tb>` → `<step>`) into a
//! fabric program, so an algorithm written in MSCCLang replays on plume's fabric model and
//! leaves as a Chakra trace.
//!
//! Each rank's buffers (`i`, `o`, `s`: `i_chunks`, `o_chunks`, `s_chunks` chunks) are laid
//! out one after another as the program's chunks (an in-place algorithm's `i` is the slice of
//! `o` the rank contributes). A threadblock sends to its `send` peer and receives from its
//! `recv` peer, on tag `chan`; its steps run in order (a control dependency on the step
//! before) and a step with `depid`/`deps` waits for that step of another threadblock. Step
//! types:
//!
//! | type | becomes |
//! |---|---|
//! | `s` | send of `cnt` chunks at `srcbuf[srcoff]` |
//! | `r` | receive into `dstbuf[dstoff]` |
//! | `rrc` | receive adding into `dstbuf[dstoff]` (which must be `srcbuf[srcoff]`) |
//! | `rcs` | receive into `dstbuf[dstoff]`, then send it |
//! | `rrcs` | receive adding into `dstbuf[dstoff]`, then send it |
//! | `nop` | nothing; what depends on it depends on what it depended on |
//!
//! `cpy` and `re` (local copies and reductions between buffers) and `rrs` (reduce-and-send
//! without keeping the sum) are refused with their step named. Chunk size: `bytes` divided by
//! the number of chunks of a rank's collective buffer (`i_chunks`, or `o_chunks` when there
//! is no input buffer).

use crate::fred::fabric::{Node, Op, Program};
use std::collections::HashMap;

/// What the checker needs to know about an imported algorithm's buffers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub name: String,
    pub coll: String,
    pub ngpus: u32,
    pub i_chunks: u32,
    pub o_chunks: u32,
    pub s_chunks: u32,
    pub inplace: bool,
}

impl Layout {
    /// Program chunk of buffer `buf` offset `off` on rank `gpu`.
    pub fn chunk(&self, gpu: u32, buf: &str, off: u32) -> Option<u32> {
        let (base, len) = match buf {
            "i" if self.inplace => {
                let at = if self.coll == "allgather" {
                    gpu * self.i_chunks
                } else {
                    0
                };
                (self.i_chunks + at, self.o_chunks.saturating_sub(at))
            }
            "i" => (0, self.i_chunks),
            "o" => (self.i_chunks, self.o_chunks),
            "s" => (self.i_chunks + self.o_chunks, self.s_chunks),
            _ => return None,
        };
        (off < len).then_some(base + off)
    }

    pub fn chunks(&self) -> u32 {
        (self.i_chunks + self.o_chunks + self.s_chunks).max(1)
    }

    /// The golden contents of output chunk `c` (of `o`), from the ranks' starting buffers,
    /// for the collectives it can be said of; None for others.
    pub fn expected(&self, c: u32, init: &dyn Fn(u32, u32) -> Vec<u32>) -> Option<Vec<u32>> {
        let n = self.ngpus;
        match self.coll.as_str() {
            "allgather" => {
                let per = if self.i_chunks > 0 {
                    self.i_chunks
                } else {
                    self.o_chunks / n
                };
                let owner = c / per.max(1);
                let src = if self.i_chunks > 0 && !self.inplace {
                    c - owner * per
                } else {
                    self.i_chunks + c
                };
                Some(init(owner, src))
            }
            "allreduce" => {
                let src = if self.i_chunks > 0 && !self.inplace {
                    c
                } else {
                    self.i_chunks + c
                };
                let mut acc = init(0, src);
                for r in 1..n {
                    for (a, b) in acc.iter_mut().zip(init(r, src)) {
                        *a = a.wrapping_add(b);
                    }
                }
                Some(acc)
            }
            _ => None,
        }
    }
}

fn attr<T: std::str::FromStr>(n: roxmltree::Node, name: &str) -> Result<T, String> {
    let v = n.attribute(name).ok_or_else(|| {
        format!(
            "<{}> at line {} has no {name} attribute",
            n.tag_name().name(),
            line(n)
        )
    })?;
    v.parse::<T>().map_err(|_| {
        format!(
            "<{}> at line {}: {name}={v:?} is not a number",
            n.tag_name().name(),
            line(n)
        )
    })
}

fn line(n: roxmltree::Node) -> u32 {
    n.document().text_pos_at(n.range().start).row
}

/// Most ranks and chunks an imported algorithm may have.
pub const MAX_GPUS: u32 = 1024;
pub const MAX_CHUNKS: u32 = 1 << 16;

/// The program of an MSCCL-IR algorithm, D = `bytes` per rank.
pub fn import(xml: &str, bytes: u64) -> Result<(Program, Layout), String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not XML: {e}"))?;
    let algo = doc.root_element();
    if algo.tag_name().name() != "algo" {
        return Err(format!(
            "the root element is <{}>, not MSCCL-IR's <algo>",
            algo.tag_name().name()
        ));
    }
    let ngpus: u32 = attr(algo, "ngpus")?;
    if !(2..=MAX_GPUS).contains(&ngpus) {
        return Err(format!("ngpus must be from 2 to {MAX_GPUS}, got {ngpus}"));
    }
    let coll = algo.attribute("coll").unwrap_or("").to_string();
    let inplace = algo.attribute("inplace") == Some("1");
    let gpus: Vec<roxmltree::Node> = algo
        .children()
        .filter(|c| c.is_element() && c.has_tag_name("gpu"))
        .collect();
    if gpus.len() != ngpus as usize {
        return Err(format!(
            "ngpus is {ngpus} but there are {} <gpu> elements",
            gpus.len()
        ));
    }
    let mut layout = Layout {
        name: algo.attribute("name").unwrap_or("msccl").to_string(),
        coll,
        ngpus,
        i_chunks: 0,
        o_chunks: 0,
        s_chunks: 0,
        inplace,
    };
    for g in &gpus {
        layout.i_chunks = layout.i_chunks.max(attr(*g, "i_chunks")?);
        layout.o_chunks = layout.o_chunks.max(attr(*g, "o_chunks")?);
        layout.s_chunks = layout.s_chunks.max(attr(*g, "s_chunks")?);
    }
    if layout.chunks() > MAX_CHUNKS {
        return Err(format!("more than {MAX_CHUNKS} chunks per rank"));
    }
    let per_coll = if layout.i_chunks > 0 {
        layout.i_chunks
    } else {
        layout.o_chunks
    };
    if per_coll == 0 || bytes < per_coll as u64 {
        return Err(format!(
            "{bytes} bytes cannot be split into the {per_coll} chunks of a rank's buffer"
        ));
    }
    let mut prog = Program {
        ranks: vec![Vec::new(); ngpus as usize],
        flows: Vec::new(),
        flow_phase: Vec::new(),
        chunks: layout.chunks(),
        chunk_bytes: bytes / per_coll as u64,
    };
    let mut seen = vec![false; ngpus as usize];
    for g in &gpus {
        let id: u32 = attr(*g, "id")?;
        if id >= ngpus || seen[id as usize] {
            return Err(format!(
                "<gpu id={id}> at line {}: ids must be 0 to {} once each",
                line(*g),
                ngpus - 1
            ));
        }
        seen[id as usize] = true;
        prog.ranks[id as usize] = gpu_program(*g, id, &layout)?;
    }
    Ok((prog, layout))
}

/// One step as nodes: (first, last) node index, or None for a nop.
type Made = Option<(u32, u32)>;

fn gpu_program(g: roxmltree::Node, id: u32, lay: &Layout) -> Result<Vec<Node>, String> {
    struct Step<'a> {
        x: roxmltree::Node<'a, 'a>,
        tb: u32,
        s: u32,
        dep: Option<(u32, u32)>,
    }
    let mut tbs: Vec<(u32, i64, i64, u32, Vec<Step>)> = Vec::new();
    for tb in g
        .children()
        .filter(|c| c.is_element() && c.has_tag_name("tb"))
    {
        let tid: u32 = attr(tb, "id")?;
        let send: i64 = attr(tb, "send")?;
        let recv: i64 = attr(tb, "recv")?;
        let chan: u32 = attr(tb, "chan")?;
        let mut steps = Vec::new();
        for (k, st) in tb
            .children()
            .filter(|c| c.is_element() && c.has_tag_name("step"))
            .enumerate()
        {
            let s: u32 = attr(st, "s")?;
            if s as usize != k {
                return Err(format!(
                    "gpu {id} tb {tid}: step s={s} at line {} is not step {k} (steps are numbered in order)",
                    line(st)
                ));
            }
            let depid: i64 = attr(st, "depid")?;
            let deps: i64 = attr(st, "deps")?;
            let dep = (depid >= 0).then_some((depid as u32, deps.max(0) as u32));
            steps.push(Step {
                x: st,
                tb: tid,
                s,
                dep,
            });
        }
        tbs.push((tid, send, recv, chan, steps));
    }
    let mut nodes: Vec<Node> = Vec::new();
    let mut made: HashMap<(u32, u32), Made> = HashMap::new();
    // What a step's successors must wait for: its own last node, or for a nop, what the nop
    // waited for.
    let mut waits: HashMap<(u32, u32), Vec<(u32, u32)>> = HashMap::new();
    // Steps are created in an order where dependencies exist first: repeat passes until done.
    let total: usize = tbs.iter().map(|t| t.4.len()).sum();
    let mut done = 0;
    while done < total {
        let before = done;
        for (tid, send, recv, chan, steps) in &tbs {
            for st in steps {
                let key = (st.tb, st.s);
                if made.contains_key(&key) {
                    continue;
                }
                let prev = (st.s > 0).then(|| (*tid, st.s - 1));
                let ready = |k: &(u32, u32)| waits.contains_key(k);
                if prev.as_ref().is_some_and(|p| !ready(p))
                    || st.dep.as_ref().is_some_and(|d| !ready(d))
                {
                    continue;
                }
                let mut after: Vec<(u32, u32)> = Vec::new();
                for k in prev.iter().chain(st.dep.iter()) {
                    after.extend(waits[k].iter().copied());
                }
                let deps: Vec<u32> = {
                    let mut d: Vec<u32> = after
                        .iter()
                        .filter_map(|k| made.get(k).copied().flatten().map(|(_, last)| last))
                        .collect();
                    d.sort_unstable();
                    d.dedup();
                    d
                };
                let ty = st.x.attribute("type").unwrap_or("");
                let cnt: u32 = attr(st.x, "cnt")?;
                let chunk_at = |bufa: &str, offa: &str| -> Result<u32, String> {
                    let buf = st.x.attribute(bufa).unwrap_or("");
                    let off: u32 = attr(st.x, offa)?;
                    let c = lay.chunk(id, buf, off).ok_or_else(|| {
                        format!(
                            "gpu {id} tb {tid} step {}: {bufa}={buf:?} offset {off} is outside the rank's buffers",
                            st.s
                        )
                    })?;
                    if c + cnt > lay.chunks() || cnt == 0 {
                        return Err(format!(
                            "gpu {id} tb {tid} step {}: {cnt} chunks from {buf}[{off}] run past the buffers",
                            st.s
                        ));
                    }
                    Ok(c)
                };
                let peer = |p: i64, what: &str| -> Result<u32, String> {
                    if p < 0 || p >= lay.ngpus as i64 || p == id as i64 {
                        return Err(format!(
                            "gpu {id} tb {tid} step {}: a {what} step in a threadblock whose {what} peer is {p}",
                            st.s
                        ));
                    }
                    Ok(p as u32)
                };
                let mut push = |op: Op, deps: Vec<u32>| -> u32 {
                    nodes.push(Node { op, deps });
                    nodes.len() as u32 - 1
                };
                let result: Made = match ty {
                    "nop" => None,
                    "s" => {
                        let n = push(
                            Op::Send {
                                peer: peer(*send, "send")?,
                                chunk: chunk_at("srcbuf", "srcoff")?,
                                count: cnt,
                                tag: *chan,
                            },
                            deps,
                        );
                        Some((n, n))
                    }
                    "r" | "rrc" | "rcs" | "rrcs" => {
                        let reduce = ty == "rrc" || ty == "rrcs";
                        let dst = chunk_at("dstbuf", "dstoff")?;
                        if reduce && chunk_at("srcbuf", "srcoff")? != dst {
                            return Err(format!(
                                "gpu {id} tb {tid} step {}: {ty} reduces srcbuf into a different dstbuf, which plume's chunk model cannot express",
                                st.s
                            ));
                        }
                        let r = push(
                            Op::Recv {
                                peer: peer(*recv, "recv")?,
                                chunk: dst,
                                count: cnt,
                                tag: *chan,
                                reduce,
                            },
                            deps,
                        );
                        if ty == "rcs" || ty == "rrcs" {
                            let s = push(
                                Op::Send {
                                    peer: peer(*send, "send")?,
                                    chunk: dst,
                                    count: cnt,
                                    tag: *chan,
                                },
                                vec![r],
                            );
                            Some((r, s))
                        } else {
                            Some((r, r))
                        }
                    }
                    other => {
                        return Err(format!(
                            "gpu {id} tb {tid} step {}: step type {other:?} is not supported (s, r, rrc, rcs, rrcs, nop)",
                            st.s
                        ))
                    }
                };
                waits.insert(key, if result.is_some() { vec![key] } else { after });
                made.insert(key, result);
                done += 1;
            }
        }
        if done == before {
            return Err(format!(
                "gpu {id}: the steps' dependencies form a cycle or name a step that does not exist"
            ));
        }
    }
    Ok(nodes)
}
