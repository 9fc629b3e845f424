//! The SDQ GEMM engine: R dot-product units side by side, each with its own weight buffer (one
//! output channel's row, chunk after chunk), all fed the same activation chunk. A row of
//! activations streams through in K/C cycles and leaves R FP32 results; the next row reuses
//! the buffered weights (weight-stationary over a tile of R output channels).
//!
//! ```text
//!  i_data beat ─┬─ kind 0: weight chunk → buffer[unit][addr]
//!               └─ kind 1: activation chunk (last: the row ends)
//!                   pos ─► every buffer's read port ─► R × sdq dot unit ─► o_data: R × FP32, flags
//! ```
//!
//! A beat (`i_data`, least significant first): kind (1 bit), last (1), unit (⌈log2 R⌉), addr
//! (⌈log2 depth⌉), payload (a chunk word for weights, C INT8 activations for activations).
//! Activation chunks are addressed by a counter from 0 that restarts after `last`, so a row
//! holds at most `depth` chunks. `o_data`: unit u's FP32 at [32u +: 32], its flags
//! {special, overflow, inexact} at [32R + 3u +: 3]. Latency `ENGINE_LATENCY` from a row's
//! last chunk to its results; one chunk per cycle, no stalls.

use super::dot::{generate_dot, Chunk, DotConfig, DotError, ACT_BITS, DOT_LATENCY};
use crate::rtl::{Bits, DrcErrors, MemStyle, Module, ModuleBuilder, ReadDuringWrite};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// The weight buffers' read register, then the unit.
pub const ENGINE_LATENCY: u64 = 1 + DOT_LATENCY;
/// Units accepted.
pub const MAX_UNITS: u32 = 64;
/// Chunks per weight buffer accepted.
pub const MAX_DEPTH: u32 = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    pub dot: DotConfig,
    /// Dot-product units R (output channels per tile).
    pub units: u32,
    /// Chunks each weight buffer holds: rows up to depth · C long.
    pub depth: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            dot: DotConfig::default(),
            units: 8,
            depth: 128,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Dot(#[from] DotError),
    #[error("units must be from 1 to {MAX_UNITS}, got {0}")]
    Units(u32),
    #[error("weight buffer depth must be from 1 to {MAX_DEPTH} chunks, got {0}")]
    Depth(u32),
    #[error("internal: {0}")]
    Drc(#[from] DrcErrors),
}

fn bits_for(n: u32) -> u32 {
    32 - n.saturating_sub(1).leading_zeros()
}

/// Where the fields of a beat sit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BeatLayout {
    pub unit_bits: u32,
    pub addr_bits: u32,
    pub payload_bits: u32,
}

impl BeatLayout {
    pub const KIND: u32 = 0;
    pub const LAST: u32 = 1;
    pub const UNIT: u32 = 2;
    pub fn addr_at(&self) -> u32 {
        Self::UNIT + self.unit_bits
    }
    pub fn payload_at(&self) -> u32 {
        self.addr_at() + self.addr_bits
    }
    pub fn bits(&self) -> u32 {
        self.payload_at() + self.payload_bits
    }

    /// A weight beat: `word` into unit `unit`'s buffer at `addr`.
    pub fn weight(&self, unit: u32, addr: u32, word: &Bits) -> Bits {
        let mut b = Bits::zero(self.bits());
        if self.unit_bits > 0 {
            b.set_slice(Self::UNIT, &Bits::from_u64(self.unit_bits, unit as u64));
        }
        if self.addr_bits > 0 {
            b.set_slice(self.addr_at(), &Bits::from_u64(self.addr_bits, addr as u64));
        }
        b.set_slice(self.payload_at(), word);
        b
    }

    /// An activation beat.
    pub fn activations(&self, acts: &[i8], last: bool) -> Bits {
        let mut b = Bits::zero(self.bits());
        b.set_slice(Self::KIND, &Bits::from_u64(1, 1));
        b.set_slice(Self::LAST, &Bits::from_u64(1, last as u64));
        for (p, &a) in acts.iter().enumerate() {
            b.set_slice(
                self.payload_at() + p as u32 * ACT_BITS,
                &Bits::from_u64(ACT_BITS, a as u8 as u64),
            );
        }
        b
    }
}

impl EngineConfig {
    pub fn validate(&self) -> Result<(), EngineError> {
        self.dot.validate()?;
        if !(1..=MAX_UNITS).contains(&self.units) {
            return Err(EngineError::Units(self.units));
        }
        if !(1..=MAX_DEPTH).contains(&self.depth) {
            return Err(EngineError::Depth(self.depth));
        }
        Ok(())
    }

    pub fn beat(&self) -> BeatLayout {
        BeatLayout {
            unit_bits: bits_for(self.units),
            addr_bits: bits_for(self.depth),
            payload_bits: self.dot.layout().bits.max(self.dot.chunk() * ACT_BITS),
        }
    }

    /// Width of `o_data`.
    pub fn out_bits(&self) -> u32 {
        35 * self.units
    }

    /// Dense-equivalent multiply-accumulates per cycle: C positions × R units.
    pub fn macs_per_cycle(&self) -> u32 {
        self.dot.chunk() * self.units
    }

    pub fn module_name(&self) -> String {
        format!(
            "{}_r{}_d{}",
            self.dot.module_name().replacen("sdq_dot", "sdq_gemm", 1),
            self.units,
            self.depth
        )
    }

    /// The beats that load `rows` (one per unit, each a row's chunks) into the buffers.
    pub fn weight_beats(&self, rows: &[Vec<Chunk>]) -> Vec<Bits> {
        let layout = self.dot.layout();
        let beat = self.beat();
        let mut out = Vec::new();
        for (u, row) in rows.iter().enumerate() {
            for (a, c) in row.iter().enumerate() {
                out.push(beat.weight(u as u32, a as u32, &layout.encode(c)));
            }
        }
        out
    }
}

/// Generates the engine: `i_valid`, `i_data` in; `o_valid`, `o_data` out.
pub fn generate_engine(cfg: &EngineConfig) -> Result<Rc<Module>, EngineError> {
    cfg.validate()?;
    let beat = cfg.beat();
    let layout = cfg.dot.layout();
    let unit = generate_dot(&cfg.dot)?;
    let mut b = ModuleBuilder::new(cfg.module_name());
    let valid = b.input("i_valid", 1);
    let data = b.input("i_data", beat.bits());
    let kind = b.bit(data, BeatLayout::KIND);
    let last = b.bit(data, BeatLayout::LAST);
    let pa = beat.payload_at();
    let word = b.slice(data, pa + layout.bits - 1, pa);
    let acts = b.slice(data, pa + cfg.dot.chunk() * ACT_BITS - 1, pa);
    let is_act = b.and(valid, kind);
    let not_kind = b.not(kind);
    let is_w = b.and(valid, not_kind);
    let ab = beat.addr_bits.max(1);
    let addr = if beat.addr_bits > 0 {
        b.slice(data, beat.addr_at() + beat.addr_bits - 1, beat.addr_at())
    } else {
        b.zero(1)
    };
    let pos = b.reg("pos", Bits::zero(ab));
    let one = b.lit(ab, 1);
    let pos1 = b.add(pos, one);
    let z = b.zero(ab);
    let pos_next = b.mux(last, z, pos1);
    b.next(pos, pos_next, Some(is_act));
    let acts1 = b.delay("acts_q", acts);
    let valid1 = b.delay("valid_q", is_act);
    let last_act = b.and(is_act, last);
    let last1 = b.delay("last_q", last_act);
    let mut ys = Vec::new();
    let mut flags = Vec::new();
    let mut out_valid = None;
    for u in 0..cfg.units {
        let mem = b.memory(
            &format!("wbuf{u}"),
            layout.bits,
            cfg.depth,
            MemStyle::Block,
            ReadDuringWrite::ReadFirst,
        );
        let mine = if beat.unit_bits > 0 {
            let unit = b.slice(
                data,
                BeatLayout::UNIT + beat.unit_bits - 1,
                BeatLayout::UNIT,
            );
            b.eq_lit(unit, u as u64)
        } else {
            b.lit(1, 1)
        };
        let we = b.and(is_w, mine);
        b.mem_write(mem, addr, word, we);
        let w = b.mem_read(mem, pos, Some(is_act));
        let o = b.instance(
            &format!("unit{u}"),
            &unit,
            &[
                ("i_valid", valid1),
                ("i_last", last1),
                ("i_act", acts1),
                ("i_w", w),
            ],
        );
        out_valid.get_or_insert(o.get("o_valid"));
        ys.push(o.get("o_y"));
        flags.push(o.get("o_flags"));
    }
    // Most significant first: flags of unit R−1 … 0, then FP32 of unit R−1 … 0.
    let mut parts: Vec<_> = flags.into_iter().rev().collect();
    parts.extend(ys.into_iter().rev());
    let out = b.cat(&parts);
    b.output("o_valid", out_valid.unwrap_or(valid1));
    b.output("o_data", out);
    Ok(b.finish()?)
}

/// The chunks of a decomposed matrix, row by row (`cols` must be a whole number of chunks):
/// in each group the outliers, then the inliers, in position order, with their codes and
/// their blocks' scales.
pub fn chunks_of(
    dot: &DotConfig,
    d: &super::decompose::Decomposed,
) -> Result<Vec<Vec<Chunk>>, String> {
    let c = dot.chunk() as usize;
    let m = dot.sdq.m as usize;
    let block = dot.sdq.block as usize;
    if !d.cols.is_multiple_of(c) {
        return Err(format!(
            "rows of {} weights are not a whole number of {c}-position chunks",
            d.cols
        ));
    }
    let per_row = d.cols.div_ceil(block);
    let parts = [&d.outlier_blocks, &d.inlier_blocks];
    let mut rows = Vec::with_capacity(d.rows);
    for r in 0..d.rows {
        let mut chunks = Vec::with_capacity(d.cols / c);
        for k in 0..d.cols / c {
            let b = r * per_row + k * c / block;
            let mut ch = Chunk {
                groups: Vec::with_capacity(dot.groups as usize),
                scales: [0, 0],
            };
            for (lane, blocks) in parts.iter().enumerate() {
                if let Some(bl) = blocks.get(b) {
                    ch.scales[lane] = bl.scale_code();
                }
            }
            for g in 0..dot.groups as usize {
                let base = k * c + g * m;
                let mut lanes: [Vec<(u32, u32)>; 2] = [Vec::new(), Vec::new()];
                for p in 0..m {
                    let at = r * d.cols + base + p;
                    let lane = match d.role[at] {
                        2 => 0,
                        1 => 1,
                        _ => continue,
                    };
                    let code = parts[lane][b].codes[(base + p) % block];
                    lanes[lane].push((p as u32, code));
                }
                chunks_group_check(dot, &lanes)?;
                ch.groups.push(lanes);
            }
            chunks.push(ch);
        }
        rows.push(chunks);
    }
    Ok(rows)
}

fn chunks_group_check(dot: &DotConfig, lanes: &[Vec<(u32, u32)>; 2]) -> Result<(), String> {
    for (lane, &(_, n)) in dot.lanes().iter().enumerate() {
        if lanes[lane].len() != n as usize {
            return Err(format!(
                "a group holds {} {} weights, the engine {n}",
                lanes[lane].len(),
                ["outlier", "inlier"][lane]
            ));
        }
    }
    Ok(())
}
