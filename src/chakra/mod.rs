//! Chakra execution traces (MLCommons; schema `et_def.proto`, package `ChakraProtoMsg`): one
//! file per rank, `<prefix>.<rank>.et`, a stream of length-delimited protobuf messages — a
//! `GlobalMetadata`, then one `Node` per operation (varint length prefixes, as Chakra's own
//! tools write them). The messages are declared here with `prost` derives, field numbers as in
//! the schema; fields plume does not know are skipped on reading.
//!
//! plume writes the fabric model's programs (`fred::fabric::Program`) as traces and reads
//! traces back into programs:
//! * `COMM_SEND_NODE` / `COMM_RECV_NODE` with the attributes Chakra's feeder reads
//!   (`comm_size` bytes, `comm_src` / `comm_dst`, `comm_tag`), plus `plume_chunk`,
//!   `plume_count` and (receives) `plume_reduce`, which say which chunks of the rank's buffer
//!   move — what replaying with data needs;
//! * `COMM_COLL_NODE` for a rank's part in an in-switch flow: `comm_type` (ALL_REDUCE for a
//!   flow whose inputs are its outputs, REDUCE for many-to-one, BROADCAST for one-to-many),
//!   `comm_size`, `pg_name`, and `plume_flow` / `plume_flow_phase` / `plume_flow_ins` /
//!   `plume_flow_outs` / `plume_chunk`;
//! * `COMP_NODE` with `duration_micros` and the exact `plume_duration_ns`.
//!
//! Dependencies are `data_deps` (plume's programs do not distinguish) and, as read, both
//! `data_deps` and `ctrl_deps`. A trace without plume's attributes replays for timing with
//! each message as `comm_size` bytes.

pub mod msccl;

use crate::fred::fabric::{Node as PNode, Op, Program};
use plume_hw::fred::network::Flow;
use prost::Message;
use std::collections::HashMap;

/// `NodeType` values.
pub mod node_type {
    pub const INVALID: i32 = 0;
    pub const METADATA: i32 = 1;
    pub const MEM_LOAD: i32 = 2;
    pub const MEM_STORE: i32 = 3;
    pub const COMP: i32 = 4;
    pub const COMM_SEND: i32 = 5;
    pub const COMM_RECV: i32 = 6;
    pub const COMM_COLL: i32 = 7;
}

/// `CollectiveCommType` values.
pub mod comm_type {
    pub const ALL_REDUCE: i64 = 0;
    pub const REDUCE: i64 = 1;
    pub const ALL_GATHER: i64 = 2;
    pub const BROADCAST: i64 = 5;
    pub const ALL_TO_ALL: i64 = 6;
    pub const REDUCE_SCATTER: i64 = 7;
}

#[derive(Clone, PartialEq, Message)]
pub struct DoubleList {
    #[prost(double, repeated, tag = "1")]
    pub values: Vec<f64>,
}
#[derive(Clone, PartialEq, Message)]
pub struct FloatList {
    #[prost(float, repeated, tag = "1")]
    pub values: Vec<f32>,
}
#[derive(Clone, PartialEq, Message)]
pub struct Int32List {
    #[prost(int32, repeated, tag = "1")]
    pub values: Vec<i32>,
}
#[derive(Clone, PartialEq, Message)]
pub struct Int64List {
    #[prost(int64, repeated, tag = "1")]
    pub values: Vec<i64>,
}
#[derive(Clone, PartialEq, Message)]
pub struct Uint32List {
    #[prost(uint32, repeated, tag = "1")]
    pub values: Vec<u32>,
}
#[derive(Clone, PartialEq, Message)]
pub struct Uint64List {
    #[prost(uint64, repeated, tag = "1")]
    pub values: Vec<u64>,
}
#[derive(Clone, PartialEq, Message)]
pub struct BoolList {
    #[prost(bool, repeated, tag = "1")]
    pub values: Vec<bool>,
}
#[derive(Clone, PartialEq, Message)]
pub struct StringList {
    #[prost(string, repeated, tag = "1")]
    pub values: Vec<String>,
}
#[derive(Clone, PartialEq, Message)]
pub struct BytesList {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub values: Vec<Vec<u8>>,
}

/// `AttributeProto.value` (the oneof; the fixed-width and zigzag forms are read as their
/// plain counterparts would be and are not written by plume).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    #[prost(double, tag = "3")]
    DoubleVal(f64),
    #[prost(message, tag = "4")]
    DoubleList(DoubleList),
    #[prost(float, tag = "5")]
    FloatVal(f32),
    #[prost(message, tag = "6")]
    FloatList(FloatList),
    #[prost(int32, tag = "7")]
    Int32Val(i32),
    #[prost(message, tag = "8")]
    Int32List(Int32List),
    #[prost(int64, tag = "9")]
    Int64Val(i64),
    #[prost(message, tag = "10")]
    Int64List(Int64List),
    #[prost(uint32, tag = "11")]
    Uint32Val(u32),
    #[prost(message, tag = "12")]
    Uint32List(Uint32List),
    #[prost(uint64, tag = "13")]
    Uint64Val(u64),
    #[prost(message, tag = "14")]
    Uint64List(Uint64List),
    #[prost(sint32, tag = "15")]
    Sint32Val(i32),
    #[prost(sint64, tag = "17")]
    Sint64Val(i64),
    #[prost(fixed32, tag = "19")]
    Fixed32Val(u32),
    #[prost(fixed64, tag = "21")]
    Fixed64Val(u64),
    #[prost(sfixed32, tag = "23")]
    Sfixed32Val(i32),
    #[prost(sfixed64, tag = "25")]
    Sfixed64Val(i64),
    #[prost(bool, tag = "27")]
    BoolVal(bool),
    #[prost(message, tag = "28")]
    BoolList(BoolList),
    #[prost(string, tag = "29")]
    StringVal(String),
    #[prost(message, tag = "30")]
    StringList(StringList),
    #[prost(bytes = "vec", tag = "31")]
    BytesVal(Vec<u8>),
    #[prost(message, tag = "32")]
    BytesList(BytesList),
}

#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub doc_string: String,
    #[prost(
        oneof = "Value",
        tags = "3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 19, 21, 23, 25, 27, 28, 29, 30, 31, 32"
    )]
    pub value: Option<Value>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GlobalMetadata {
    #[prost(string, tag = "1")]
    pub version: String,
    #[prost(message, repeated, tag = "2")]
    pub attr: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct IoInfo {
    #[prost(string, tag = "1")]
    pub values: String,
    #[prost(string, tag = "2")]
    pub shapes: String,
    #[prost(string, tag = "3")]
    pub types: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Node {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(int32, tag = "3")]
    pub r#type: i32,
    #[prost(uint64, repeated, tag = "4")]
    pub ctrl_deps: Vec<u64>,
    #[prost(uint64, repeated, tag = "5")]
    pub data_deps: Vec<u64>,
    #[prost(uint64, tag = "6")]
    pub start_time_micros: u64,
    #[prost(uint64, tag = "7")]
    pub duration_micros: u64,
    #[prost(message, optional, tag = "8")]
    pub inputs: Option<IoInfo>,
    #[prost(message, optional, tag = "9")]
    pub outputs: Option<IoInfo>,
    #[prost(message, repeated, tag = "10")]
    pub attr: Vec<AttributeProto>,
}

/// The schema version plume writes into `GlobalMetadata.version`.
pub const VERSION: &str = "0.0.4";

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ChakraError {
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("{0}")]
    Trace(String),
}

fn attr(name: &str, v: Value) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        doc_string: String::new(),
        value: Some(v),
    }
}

fn int(a: &AttributeProto) -> Option<i64> {
    match a.value.as_ref()? {
        Value::Int64Val(x) | Value::Sint64Val(x) | Value::Sfixed64Val(x) => Some(*x),
        Value::Int32Val(x) | Value::Sint32Val(x) | Value::Sfixed32Val(x) => Some(*x as i64),
        Value::Uint32Val(x) | Value::Fixed32Val(x) => Some(*x as i64),
        Value::Uint64Val(x) | Value::Fixed64Val(x) => i64::try_from(*x).ok(),
        Value::BoolVal(b) => Some(*b as i64),
        _ => None,
    }
}

fn ints(a: &AttributeProto) -> Option<Vec<i64>> {
    match a.value.as_ref()? {
        Value::Int64List(l) => Some(l.values.clone()),
        Value::Int32List(l) => Some(l.values.iter().map(|&x| x as i64).collect()),
        Value::Uint64List(l) => l.values.iter().map(|&x| i64::try_from(x).ok()).collect(),
        Value::Uint32List(l) => Some(l.values.iter().map(|&x| x as i64).collect()),
        _ => None,
    }
}

fn text(a: &AttributeProto) -> Option<&str> {
    match a.value.as_ref()? {
        Value::StringVal(s) => Some(s),
        _ => None,
    }
}

/// A trace's global facts plume reads and writes.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    /// The collective the trace implements (allreduce, allgather, …), if known.
    pub collective: Option<String>,
    /// Where it came from (an MSCCL file's algorithm name, or plume's schedule).
    pub source: String,
    /// For a plume schedule: its groups and ring directions (to check replayed data).
    pub groups: Option<(Vec<Vec<u32>>, u32)>,
    /// For an imported MSCCL algorithm: its buffers (to check replayed data).
    pub msccl: Option<msccl::Layout>,
}

fn meta_attrs(meta: &Meta) -> Vec<AttributeProto> {
    let mut v = Vec::new();
    if let Some((gs, dirs)) = &meta.groups {
        v.push(attr(
            "plume_groups",
            Value::Int64List(Int64List {
                values: gs.iter().flatten().map(|&x| x as i64).collect(),
            }),
        ));
        v.push(attr(
            "plume_group_size",
            Value::Int64Val(gs.first().map_or(0, |g| g.len()) as i64),
        ));
        v.push(attr("plume_dirs", Value::Int64Val(*dirs as i64)));
    }
    if let Some(l) = &meta.msccl {
        v.push(attr("plume_msccl_name", Value::StringVal(l.name.clone())));
        v.push(attr("plume_msccl_coll", Value::StringVal(l.coll.clone())));
        v.push(attr("plume_msccl_ngpus", Value::Int64Val(l.ngpus as i64)));
        v.push(attr(
            "plume_msccl_i_chunks",
            Value::Int64Val(l.i_chunks as i64),
        ));
        v.push(attr(
            "plume_msccl_o_chunks",
            Value::Int64Val(l.o_chunks as i64),
        ));
        v.push(attr(
            "plume_msccl_s_chunks",
            Value::Int64Val(l.s_chunks as i64),
        ));
        v.push(attr("plume_msccl_inplace", Value::BoolVal(l.inplace)));
    }
    v
}

fn meta_of(g: &GlobalMetadata) -> Meta {
    let get = |name: &str| g.attr.iter().find(|a| a.name == name);
    let geti = |name: &str| get(name).and_then(int);
    let gets = |name: &str| get(name).and_then(text).map(str::to_string);
    let groups = (|| {
        let flat = get("plume_groups").and_then(ints)?;
        let size = geti("plume_group_size")?;
        if size < 1
            || flat.is_empty()
            || flat.len() as i64 % size != 0
            || flat.iter().any(|&x| x < 0)
        {
            return None;
        }
        let gs = flat
            .chunks(size as usize)
            .map(|c| c.iter().map(|&x| x as u32).collect())
            .collect();
        Some((gs, geti("plume_dirs").unwrap_or(1).clamp(1, 2) as u32))
    })();
    let msccl = (|| {
        let n = |name: &str| {
            geti(name)
                .filter(|&x| x >= 0 && x <= u32::MAX as i64)
                .map(|x| x as u32)
        };
        Some(msccl::Layout {
            name: gets("plume_msccl_name")?,
            coll: gets("plume_msccl_coll")?,
            ngpus: n("plume_msccl_ngpus")?,
            i_chunks: n("plume_msccl_i_chunks")?,
            o_chunks: n("plume_msccl_o_chunks")?,
            s_chunks: n("plume_msccl_s_chunks")?,
            inplace: geti("plume_msccl_inplace")? != 0,
        })
    })();
    Meta {
        collective: gets("collective"),
        source: gets("source").unwrap_or_default(),
        groups,
        msccl,
    }
}

/// The trace of `prog`: one file's bytes per rank.
pub fn encode(prog: &Program, meta: &Meta) -> Vec<Vec<u8>> {
    let mut files = Vec::with_capacity(prog.ranks.len());
    for (r, nodes) in prog.ranks.iter().enumerate() {
        let mut buf = Vec::new();
        let mut gattr = vec![
            attr("schema", Value::StringVal(format!("{VERSION}-plume"))),
            attr("source", Value::StringVal(meta.source.clone())),
            attr("plume_ranks", Value::Int64Val(prog.ranks.len() as i64)),
            attr("plume_chunks", Value::Int64Val(prog.chunks as i64)),
            attr(
                "plume_chunk_bytes",
                Value::Int64Val(prog.chunk_bytes as i64),
            ),
        ];
        if let Some(c) = &meta.collective {
            gattr.push(attr("collective", Value::StringVal(c.clone())));
        }
        gattr.extend(meta_attrs(meta));
        let g = GlobalMetadata {
            version: VERSION.into(),
            attr: gattr,
        };
        g.encode_length_delimited(&mut buf).expect("a Vec grows");
        for (i, n) in nodes.iter().enumerate() {
            node_of(prog, r as u32, i as u64, n)
                .encode_length_delimited(&mut buf)
                .expect("a Vec grows");
        }
        files.push(buf);
    }
    files
}

fn node_of(prog: &Program, rank: u32, id: u64, n: &PNode) -> Node {
    let mut node = Node {
        id,
        data_deps: n.deps.iter().map(|&d| d as u64).collect(),
        ..Default::default()
    };
    let size = |count: u32| Value::Int64Val(count as i64 * prog.chunk_bytes as i64);
    match &n.op {
        Op::Send {
            peer,
            chunk,
            count,
            tag,
        } => {
            node.name = format!("send_r{rank}_to{peer}_c{chunk}");
            node.r#type = node_type::COMM_SEND;
            node.attr = vec![
                attr("comm_size", size(*count)),
                attr("comm_dst", Value::Int32Val(*peer as i32)),
                attr("comm_tag", Value::Int32Val(*tag as i32)),
                attr("plume_chunk", Value::Int64Val(*chunk as i64)),
                attr("plume_count", Value::Int64Val(*count as i64)),
            ];
        }
        Op::Recv {
            peer,
            chunk,
            count,
            tag,
            reduce,
        } => {
            node.name = format!("recv_r{rank}_from{peer}_c{chunk}");
            node.r#type = node_type::COMM_RECV;
            node.attr = vec![
                attr("comm_size", size(*count)),
                attr("comm_src", Value::Int32Val(*peer as i32)),
                attr("comm_tag", Value::Int32Val(*tag as i32)),
                attr("plume_chunk", Value::Int64Val(*chunk as i64)),
                attr("plume_count", Value::Int64Val(*count as i64)),
                attr("plume_reduce", Value::BoolVal(*reduce)),
            ];
        }
        Op::Comp { ns } => {
            node.name = format!("comp_r{rank}");
            node.r#type = node_type::COMP;
            node.duration_micros = ns / 1000;
            node.attr = vec![attr("plume_duration_ns", Value::Int64Val(*ns as i64))];
        }
        Op::Flow { flow, chunk } => {
            let f = &prog.flows[*flow as usize];
            let kind = if f.ins == f.outs {
                comm_type::ALL_REDUCE
            } else if f.outs.len() == 1 {
                comm_type::REDUCE
            } else {
                comm_type::BROADCAST
            };
            let list = |v: &[u32]| {
                Value::Int64List(Int64List {
                    values: v.iter().map(|&x| x as i64).collect(),
                })
            };
            node.name = format!("flow{flow}_r{rank}");
            node.r#type = node_type::COMM_COLL;
            node.attr = vec![
                attr("comm_type", Value::Int64Val(kind)),
                attr("comm_size", size(1)),
                attr("pg_name", Value::StringVal(format!("flow{flow}"))),
                attr("plume_flow", Value::Int64Val(*flow as i64)),
                attr(
                    "plume_flow_phase",
                    Value::Int64Val(prog.flow_phase[*flow as usize] as i64),
                ),
                attr("plume_flow_ins", list(&f.ins)),
                attr("plume_flow_outs", list(&f.outs)),
                attr("plume_chunk", Value::Int64Val(*chunk as i64)),
            ];
        }
    }
    node
}

/// One rank's messages from a file's bytes.
pub fn decode_file(bytes: &[u8], file: &str) -> Result<(GlobalMetadata, Vec<Node>), ChakraError> {
    let err = |reason: String| ChakraError::File {
        file: file.to_string(),
        reason,
    };
    let mut buf = bytes;
    if buf.is_empty() {
        return Err(err("empty: a trace starts with its GlobalMetadata".into()));
    }
    let g = GlobalMetadata::decode_length_delimited(&mut buf)
        .map_err(|e| err(format!("the GlobalMetadata does not decode ({e})")))?;
    let mut nodes = Vec::new();
    while !buf.is_empty() {
        let at = bytes.len() - buf.len();
        let n = Node::decode_length_delimited(&mut buf).map_err(|e| {
            err(format!(
                "node {} at byte {at} does not decode ({e}); the file is truncated or not a Chakra trace",
                nodes.len()
            ))
        })?;
        nodes.push(n);
    }
    Ok((g, nodes))
}

fn find<'a>(n: &'a Node, name: &str) -> Option<&'a AttributeProto> {
    n.attr.iter().find(|a| a.name == name)
}

/// A program from every rank's decoded trace (rank r's at index r).
pub fn program(ranks: &[(GlobalMetadata, Vec<Node>)]) -> Result<(Program, Meta), ChakraError> {
    let bad =
        |r: usize, id: u64, why: &str| ChakraError::Trace(format!("rank {r} node {id}: {why}"));
    let g = &ranks
        .first()
        .ok_or_else(|| ChakraError::Trace("no ranks".into()))?
        .0;
    let gint = |name: &str| g.attr.iter().find(|a| a.name == name).and_then(int);
    let plume = gint("plume_chunk_bytes").is_some();
    let (chunks, chunk_bytes) = if plume {
        (
            gint("plume_chunks").unwrap_or(1).clamp(1, u32::MAX as i64) as u32,
            gint("plume_chunk_bytes").unwrap_or(1).max(1) as u64,
        )
    } else {
        (1, 1)
    };
    let meta = meta_of(g);
    let n = ranks.len() as i64;
    let mut prog = Program {
        ranks: Vec::new(),
        flows: Vec::new(),
        flow_phase: Vec::new(),
        chunks,
        chunk_bytes,
    };
    let mut flow_ids: HashMap<i64, u32> = HashMap::new();
    for (r, (_, nodes)) in ranks.iter().enumerate() {
        // Topological order of the nodes (ids may come in any order).
        let index: HashMap<u64, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        if index.len() != nodes.len() {
            return Err(ChakraError::Trace(format!("rank {r}: node ids repeat")));
        }
        let deps_of = |n: &Node| -> Result<Vec<usize>, ChakraError> {
            n.data_deps
                .iter()
                .chain(&n.ctrl_deps)
                .map(|d| {
                    index.get(d).copied().ok_or_else(|| {
                        bad(
                            r,
                            n.id,
                            &format!("depends on node {d}, which the file does not have"),
                        )
                    })
                })
                .collect()
        };
        let mut indeg = vec![0usize; nodes.len()];
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (i, nd) in nodes.iter().enumerate() {
            for d in deps_of(nd)? {
                indeg[i] += 1;
                users[d].push(i);
            }
        }
        // The earliest ready node first: a file already in dependency order keeps its order.
        let mut order = Vec::with_capacity(nodes.len());
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..nodes.len())
            .filter(|&i| indeg[i] == 0)
            .map(std::cmp::Reverse)
            .collect();
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            order.push(i);
            for &u in &users[i] {
                indeg[u] -= 1;
                if indeg[u] == 0 {
                    ready.push(std::cmp::Reverse(u));
                }
            }
        }
        if order.len() != nodes.len() {
            return Err(ChakraError::Trace(format!(
                "rank {r}: the dependencies form a cycle"
            )));
        }
        let pos: HashMap<usize, u32> = order
            .iter()
            .enumerate()
            .map(|(k, &i)| (i, k as u32))
            .collect();
        let mut out = Vec::with_capacity(nodes.len());
        for &i in &order {
            let nd = &nodes[i];
            let geti = |name: &str| find(nd, name).and_then(int);
            let deps: Vec<u32> = {
                let mut d: Vec<u32> = deps_of(nd)?.iter().map(|x| pos[x]).collect();
                d.sort_unstable();
                d.dedup();
                d
            };
            let size = geti("comm_size").unwrap_or(0);
            let chunk_count = |size: i64| -> Result<(u32, u32), ChakraError> {
                if plume {
                    let c = geti("plume_chunk").unwrap_or(0);
                    let k = geti("plume_count").unwrap_or(1);
                    if c < 0 || k < 1 || c + k > chunks as i64 {
                        return Err(bad(r, nd.id, "plume_chunk/plume_count outside the buffer"));
                    }
                    Ok((c as u32, k as u32))
                } else {
                    if size < 1 || size > u32::MAX as i64 {
                        return Err(bad(r, nd.id, "comm_size must be from 1 byte to 4 GiB"));
                    }
                    Ok((0, size as u32))
                }
            };
            let peer = |name: &str| -> Result<u32, ChakraError> {
                let p = geti(name).ok_or_else(|| bad(r, nd.id, &format!("has no {name}")))?;
                if p < 0 || p >= n || p == r as i64 {
                    return Err(bad(
                        r,
                        nd.id,
                        &format!("{name} {p} is not another rank of the {n}"),
                    ));
                }
                Ok(p as u32)
            };
            let tag = geti("comm_tag").unwrap_or(0).clamp(0, u32::MAX as i64) as u32;
            let op = match nd.r#type {
                node_type::COMM_SEND => {
                    let (chunk, count) = chunk_count(size)?;
                    Op::Send {
                        peer: peer("comm_dst")?,
                        chunk,
                        count,
                        tag,
                    }
                }
                node_type::COMM_RECV => {
                    let (chunk, count) = chunk_count(size)?;
                    Op::Recv {
                        peer: peer("comm_src")?,
                        chunk,
                        count,
                        tag,
                        reduce: geti("plume_reduce").unwrap_or(0) != 0,
                    }
                }
                node_type::COMP
                | node_type::MEM_LOAD
                | node_type::MEM_STORE
                | node_type::METADATA => {
                    let ns = geti("plume_duration_ns")
                        .map(|x| x.max(0) as u64)
                        .unwrap_or(nd.duration_micros.saturating_mul(1000));
                    Op::Comp { ns }
                }
                node_type::COMM_COLL => {
                    let id = geti("plume_flow").ok_or_else(|| {
                        bad(
                            r,
                            nd.id,
                            "a COMM_COLL_NODE without plume's flow attributes (replaying a collective named only by comm_type is not supported; expand it into sends and receives)",
                        )
                    })?;
                    let list = |name: &str| -> Result<Vec<u32>, ChakraError> {
                        find(nd, name)
                            .and_then(ints)
                            .filter(|v| v.iter().all(|&x| (0..n).contains(&x)))
                            .map(|v| v.into_iter().map(|x| x as u32).collect())
                            .ok_or_else(|| {
                                bad(
                                    r,
                                    nd.id,
                                    &format!("{name} is missing or names a rank outside 0..{n}"),
                                )
                            })
                    };
                    let f = Flow {
                        ins: list("plume_flow_ins")?,
                        outs: list("plume_flow_outs")?,
                    };
                    let phase = geti("plume_flow_phase").unwrap_or(0).max(0) as u32;
                    let fid = match flow_ids.get(&id) {
                        Some(&k) => {
                            if prog.flows[k as usize] != f {
                                return Err(bad(
                                    r,
                                    nd.id,
                                    &format!("flow {id} differs from another rank's"),
                                ));
                            }
                            k
                        }
                        None => {
                            prog.flows.push(f);
                            prog.flow_phase.push(phase);
                            flow_ids.insert(id, prog.flows.len() as u32 - 1);
                            prog.flows.len() as u32 - 1
                        }
                    };
                    let chunk = geti("plume_chunk").unwrap_or(0).clamp(0, chunks as i64 - 1) as u32;
                    Op::Flow { flow: fid, chunk }
                }
                t => {
                    return Err(bad(
                        r,
                        nd.id,
                        &format!("node type {t} is not one plume replays"),
                    ))
                }
            };
            out.push(PNode { op, deps });
        }
        prog.ranks.push(out);
    }
    Ok((prog, meta))
}

/// The file of rank `r` under `prefix`.
pub fn file_name(prefix: &str, r: usize) -> String {
    format!("{prefix}.{r}.et")
}

/// The ranks' files in `dir`: `<prefix>.0.et` … (one prefix, ranks from 0 without gaps).
pub fn find_files(dir: &std::path::Path) -> Result<(String, usize), ChakraError> {
    let rd = std::fs::read_dir(dir).map_err(|e| ChakraError::File {
        file: dir.display().to_string(),
        reason: format!("cannot read the directory ({e})"),
    })?;
    let mut found: HashMap<String, Vec<usize>> = HashMap::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".et") else {
            continue;
        };
        let Some((prefix, rank)) = stem.rsplit_once('.') else {
            continue;
        };
        if let Ok(r) = rank.parse::<usize>() {
            found.entry(prefix.to_string()).or_default().push(r);
        }
    }
    if found.len() != 1 {
        return Err(ChakraError::Trace(format!(
            "{}: expected the files of one trace, <prefix>.<rank>.et; found {}",
            dir.display(),
            if found.is_empty() {
                "none".to_string()
            } else {
                let mut v: Vec<&String> = found.keys().collect();
                v.sort();
                format!("prefixes {v:?}")
            }
        )));
    }
    let (prefix, mut ranks) = found.into_iter().next().expect("one");
    ranks.sort_unstable();
    if ranks.iter().enumerate().any(|(i, &r)| i != r) {
        return Err(ChakraError::Trace(format!(
            "{}: the ranks of {prefix} must run 0, 1, 2, … without gaps; found {ranks:?}",
            dir.display()
        )));
    }
    Ok((prefix, ranks.len()))
}
