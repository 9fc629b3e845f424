//! The loop-compressed FEATHER program: what the host loads instead of one micro-instruction
//! per cycle, and what the hardware sequencer (`sequencer.rs`) expands back into exactly the
//! compiler's micro-instruction stream.
//!
//! A layer's schedule is three overlaid loops per tile, so the program has three descriptor
//! queues — one per engine — plus two tables:
//!
//! * **load** descriptors: at cycle `start`, read `rows · v` weight lines from `w_base` up,
//!   writing PE row r, file index k (k fastest) of weight bank `wbank`;
//! * **stream** descriptors: at `start`, stream `vns` virtual neurons of `v` elements from
//!   streaming-buffer line `s_base` up (`last` on every v-th), reading weight bank `rbank`;
//! * **out** descriptors: from `start` (the cycle the first row vector enters BIRRD), for each
//!   of `vns` VNs, PE rows 0 … rows−1 on consecutive cycles then v − rows idle cycles; row
//!   vector (j, r) takes pattern entry `pat_base + (j mod period)·rows + r` — a BIRRD
//!   configuration index, the output-buffer banks and their lines — with `line_base +
//!   ⌊j / period⌋ · delta` added to the lines. The output-buffer fields follow S cycles later;
//! * the **pattern table** and the **configuration table** (BIRRD command words).
//!
//! `build` finds, per tile, the shortest period that reproduces the row vectors (splitting a
//! tile where padding breaks the pattern) and shares identical patterns between tiles;
//! `expand` is the sequencer's behaviour in software, and the tests require it to equal the
//! compiler's stream micro-instruction for micro-instruction.

use super::mapper::{RowVector, Schedule};
use super::window::{Geometry, Tap};
use crate::feather::controller::Uop;
use crate::rtl::Bits;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadDesc {
    pub start: u64,
    pub w_base: u32,
    pub rows: u32,
    pub v: u32,
    pub wbank: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamDesc {
    pub start: u64,
    /// First line, or in window mode the line of the first pixel's window origin.
    pub s_base: u32,
    pub vns: u32,
    pub v: u32,
    pub rbank: u8,
    pub s_buf: u8,
    /// Window mode: VN j is output pixel j of the layer, element k its window-table entry
    /// `t0 + k` (`window.rs`).
    pub win: bool,
    pub t0: u32,
}

/// What a window-mode program needs beyond its descriptors: the window table and the
/// walker's registers (for a streaming buffer of `2^s_bits` lines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowProgram {
    pub table: Vec<Option<Tap>>,
    pub geometry: Geometry,
    pub s_bits: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutDesc {
    pub start: u64,
    pub vns: u32,
    pub v: u32,
    pub rows: u32,
    pub period: u32,
    pub pat_base: u32,
    pub line_base: u32,
    pub delta: u32,
    pub acc: bool,
    pub quant: bool,
    pub q_buf: u8,
}

/// One pattern-table entry: a row vector with its lines relative to the descriptor's base.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PatEntry {
    /// BIRRD configuration index, or None for a row vector of padding (all-pass, no writes).
    pub config: Option<u32>,
    pub mask: u128,
    pub lines: Vec<u32>,
}

#[derive(Clone, Debug, Default)]
pub struct Program {
    pub loads: Vec<LoadDesc>,
    pub streams: Vec<StreamDesc>,
    pub outs: Vec<OutDesc>,
    pub patterns: Vec<PatEntry>,
    pub configs: Vec<Bits>,
    pub window: Option<WindowProgram>,
}

impl Program {
    /// Entries in all queues and tables (what the host loads).
    pub fn size(&self) -> usize {
        self.loads.len()
            + self.streams.len()
            + self.outs.len()
            + self.patterns.len()
            + self.configs.len()
            + self.window.as_ref().map_or(0, |w| w.table.len())
    }
}

/// `b` equals `a` with `delta` added to every written line (same configuration and banks).
fn shifted(a: &Option<RowVector>, b: &Option<RowVector>, delta: u32) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.config == b.config
                && a.mask == b.mask
                && (0..a.lines.len())
                    .filter(|&k| a.mask >> k & 1 == 1)
                    .all(|k| a.lines[k].wrapping_add(delta) == b.lines[k])
        }
        _ => false,
    }
}

/// The line difference between two row vectors, from their first written bank.
fn delta_of(a: &Option<RowVector>, b: &Option<RowVector>) -> u32 {
    match (a, b) {
        (Some(a), Some(b)) => (0..a.lines.len())
            .find(|&k| a.mask >> k & 1 == 1)
            .map(|k| b.lines[k].wrapping_sub(a.lines[k]))
            .unwrap_or(0),
        _ => 0,
    }
}

/// Splits VNs [j0, j1) of one tile into periodic segments: (j0, j1, period, delta).
fn segments(
    rv: &[Option<RowVector>],
    rows: usize,
    j0: usize,
    j1: usize,
) -> Vec<(usize, usize, usize, u32)> {
    let vn = |j: usize| &rv[j * rows..(j + 1) * rows];
    let mut out = Vec::new();
    let mut j = j0;
    while j < j1 {
        let n = j1 - j;
        let mut best = (j + 1, 1usize, 0u32);
        for p in 1..=n {
            let delta = if j + p < j1 {
                // The shift from the first VN to the one a period later, taken from any row.
                (0..rows)
                    .map(|r| delta_of(&vn(j)[r], &vn(j + p)[r]))
                    .find(|&d| d != 0)
                    .unwrap_or(0)
            } else {
                0
            };
            let mut end = j + p;
            while end < j1 && (0..rows).all(|r| shifted(&vn(end - p)[r], &vn(end)[r], delta)) {
                end += 1;
            }
            if end > best.0 {
                best = (end, p, delta);
            }
            if end == j1 {
                break;
            }
        }
        out.push((j, best.0, best.1, best.2));
        j = best.0;
    }
    out
}

/// Compresses a compiled schedule.
pub fn build(sched: &Schedule) -> Program {
    let map = &sched.map;
    let mut prog = Program {
        configs: sched.config_words.clone(),
        ..Program::default()
    };
    let s_bits = sched.cfg.s_bits();
    prog.window = sched.window.as_ref().map(|w| WindowProgram {
        table: w.table(),
        geometry: w.geometry(s_bits),
        s_bits,
    });
    let mut shared: HashMap<Vec<PatEntry>, u32> = HashMap::new();
    for (i, &(l, s)) in sched.starts.iter().enumerate() {
        let ksi = i % map.ks;
        let bank = (i % 2) as u8;
        prog.loads.push(LoadDesc {
            start: l,
            w_base: (i * map.rows * map.v) as u32,
            rows: map.rows as u32,
            v: map.v as u32,
            wbank: bank,
        });
        prog.streams.push(StreamDesc {
            start: s,
            s_base: match &sched.window {
                None => (ksi * map.mb * map.v) as u32,
                Some(w) => w.origin(s_bits),
            },
            vns: map.mb as u32,
            v: map.v as u32,
            rbank: bank,
            s_buf: sched.in_buf,
            win: sched.window.is_some(),
            // Only the window walk reads t0 (its table is as deep as one column's taps).
            t0: if sched.window.is_some() {
                (ksi * map.v) as u32
            } else {
                0
            },
        });
        let rv = &sched.row_vectors[i];
        for (j0, j1, p, delta) in segments(rv, map.rows, 0, map.mb) {
            let raw = &rv[j0 * map.rows..(j0 + p) * map.rows];
            let base = raw
                .iter()
                .flatten()
                .flat_map(|e| {
                    (0..e.lines.len())
                        .filter(|&k| e.mask >> k & 1 == 1)
                        .map(|k| e.lines[k])
                })
                .min()
                .unwrap_or(0);
            let entries: Vec<PatEntry> = raw
                .iter()
                .map(|e| match e {
                    None => PatEntry {
                        config: None,
                        mask: 0,
                        lines: vec![0; sched.cfg.aw as usize],
                    },
                    Some(e) => PatEntry {
                        config: Some(e.config),
                        mask: e.mask,
                        lines: (0..e.lines.len())
                            .map(|k| {
                                if e.mask >> k & 1 == 1 {
                                    e.lines[k] - base
                                } else {
                                    0
                                }
                            })
                            .collect(),
                    },
                })
                .collect();
            let next = prog.patterns.len() as u32;
            let pat_base = *shared.entry(entries.clone()).or_insert_with(|| {
                prog.patterns.extend(entries);
                next
            });
            prog.outs.push(OutDesc {
                start: s + (j0 * map.v + map.v + 4) as u64,
                vns: (j1 - j0) as u32,
                v: map.v as u32,
                rows: map.rows as u32,
                period: p as u32,
                pat_base,
                line_base: base,
                delta,
                acc: ksi > 0 || sched.acc_in,
                quant: ksi + 1 == map.ks && sched.quantize,
                q_buf: sched.out_buf,
            });
        }
    }
    prog
}

impl WindowProgram {
    /// The first output row's window origin row (the 16-bit register, sign-extended).
    fn hb0(&self) -> i64 {
        self.geometry.hb0 as u16 as i16 as i64
    }
}

/// The sequencer's window walker in software: the current output pixel's window origin
/// (hb, wb) and line, stepped pixel by pixel with the geometry registers only.
struct Walk<'a> {
    w: &'a WindowProgram,
    q: u32,
    p: u32,
    hb: i64,
    wb: i64,
    prow: u32,
    pline: u32,
}

impl<'a> Walk<'a> {
    fn new(w: &'a WindowProgram, origin: u32) -> Walk<'a> {
        let pad = -(w.geometry.pad as i64);
        Walk {
            w,
            q: 0,
            p: 0,
            hb: w.hb0(),
            wb: pad,
            prow: origin,
            pline: origin,
        }
    }

    fn wrap(&self, x: u32) -> u32 {
        x & ((1u64 << self.w.s_bits) - 1) as u32
    }

    /// The line of window-table entry t for the current pixel, or None for padding.
    fn line(&self, t: usize) -> Option<u32> {
        let g = &self.w.geometry;
        let tap = self.w.table[t]?;
        let (h, w) = (self.hb + tap.dh as i64, self.wb + tap.dw as i64);
        let inside = (0..g.h as i64).contains(&h) && (0..g.w as i64).contains(&w);
        inside.then(|| self.wrap(self.pline.wrapping_add(tap.off)))
    }

    fn next_pixel(&mut self) {
        let g = self.w.geometry;
        if self.q + 1 < g.q {
            self.q += 1;
            self.wb += g.stride as i64;
            self.pline = self.wrap(self.pline.wrapping_add(g.dq));
            return;
        }
        self.q = 0;
        self.wb = -(g.pad as i64);
        if self.p + 1 < g.p {
            self.p += 1;
            self.hb += g.stride as i64;
            self.prow = self.wrap(self.prow.wrapping_add(g.drow));
        } else {
            self.p = 0;
            self.hb = self.w.hb0();
            self.prow = self.wrap(self.prow.wrapping_add(g.dimg));
        }
        self.pline = self.prow;
    }
}

/// The sequencer's output in software: `len` micro-instructions, `s_lat` = BIRRD latency.
pub fn expand(prog: &Program, len: usize, aw: usize, s_lat: usize) -> Vec<Uop> {
    let mut u = vec![Uop::default(); len];
    for d in &prog.loads {
        for r in 0..d.rows {
            for k in 0..d.v {
                let t = d.start as usize + (r * d.v + k) as usize;
                let x = &mut u[t];
                x.w_read = true;
                x.w_addr = d.w_base + r * d.v + k;
                x.wrow = r;
                x.waddr = k;
                x.wbank = d.wbank;
            }
        }
    }
    for d in &prog.streams {
        let mut walk = d.win.then(|| {
            let w = prog
                .window
                .as_ref()
                .expect("window descriptors need a window table");
            Walk::new(w, d.s_base)
        });
        for j in 0..d.vns {
            for k in 0..d.v {
                let t = d.start as usize + (j * d.v + k) as usize;
                let x = &mut u[t];
                x.s_read = true;
                x.s_buf = d.s_buf;
                match &walk {
                    None => x.s_addr = d.s_base + j * d.v + k,
                    Some(w) => match w.line((d.t0 + k) as usize) {
                        Some(line) => x.s_addr = line,
                        None => x.s_pad = true,
                    },
                }
                x.widx = k;
                x.rbank = d.rbank;
                x.last = k + 1 == d.v;
            }
            if let Some(w) = &mut walk {
                w.next_pixel();
            }
        }
    }
    for d in &prog.outs {
        for j in 0..d.vns {
            let off = d
                .line_base
                .wrapping_add((j / d.period).wrapping_mul(d.delta));
            for r in 0..d.rows {
                let e = &prog.patterns[(d.pat_base + (j % d.period) * d.rows + r) as usize];
                let Some(c) = e.config else { continue };
                let t = d.start as usize + (j * d.v + r) as usize;
                u[t].birrd = Some(prog.configs[c as usize].clone());
                let x = &mut u[t + s_lat];
                x.ob_mask = e.mask;
                x.ob_addr = (0..aw)
                    .map(|k| {
                        if e.mask >> k & 1 == 1 {
                            e.lines[k].wrapping_add(off)
                        } else {
                            0
                        }
                    })
                    .collect();
                x.ob_acc = d.acc;
                x.quant = d.quant;
                x.q_buf = d.q_buf;
            }
        }
    }
    u
}
