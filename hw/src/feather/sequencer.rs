//! The FEATHER sequencer: expands a loop-compressed program (`program.rs`) into one
//! micro-instruction per cycle, and the top that puts it in front of the core.
//!
//! ```text
//!  host ──► load / stream / out descriptor queues, pattern table, configuration table
//!  i_start ─► cycle counter ─► load engine ─────┐
//!                            ─► stream engine ───┼──► micro-instruction ──► core (top.rs)
//!                            ─► out engine: pattern read ─► config read ─► BIRRD command
//!                                               └──► S-cycle delay ─► output-buffer fields
//! ```
//!
//! Each engine holds its current descriptor and the next one (the queue memory's registered
//! output), waits until the cycle counter reaches the descriptor's start, runs two nested
//! counters, and swaps in the next descriptor on its last cycle, so back-to-back descriptors
//! run without a gap. The out engine runs two cycles ahead of the micro-instruction it feeds
//! (pattern read, configuration read). A program's micro-instruction u reaches the core
//! `SEQ_LATENCY` cycles after the start pulse plus u: the core then behaves exactly as when
//! the compiler's micro-instruction stream is fed directly (tests compare the two).
//!
//! Start cycles are 32 bits and counts 16 bits; the encoder refuses a program that does not
//! fit the queues, the tables or those fields.

use super::compiler::program::Program;
use super::compiler::window::Geometry;
use super::controller::UopLayout;
use super::pe::index_bits;
use super::top::{generate as core, FeatherConfig, FeatherError};
use crate::blocks::delay::delay_line;
use crate::blocks::fields::Fields;
use crate::rtl::{Bits, MemStyle, Module, ModuleBuilder, ReadDuringWrite, Sig};
use std::rc::Rc;

/// Cycles from the start pulse to micro-instruction 0 reaching the core.
pub const SEQ_LATENCY: u64 = 4;
/// Descriptor start times are stored as start + LEAD (the engines' time base).
const LEAD: u64 = 3;
/// The stream engine runs this many cycles ahead of its micro-instruction fields: the window
/// table is read the cycle before the element it describes.
const STREAM_AHEAD: u64 = 1;

/// Queue and table depths of the sequencer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqConfig {
    pub desc_depth: u32,
    pub pattern_depth: u32,
    pub config_depth: u32,
    /// Window-table entries (taps per column of a window-streamed convolution, `window.rs`).
    #[serde(default = "default_window_depth")]
    pub window_depth: u32,
}

fn default_window_depth() -> u32 {
    512
}

impl Default for SeqConfig {
    fn default() -> Self {
        SeqConfig {
            desc_depth: 1024,
            pattern_depth: 1024,
            config_depth: 256,
            window_depth: default_window_depth(),
        }
    }
}

/// The binary layout of every queue and table for one machine.
#[derive(Clone, Debug)]
pub struct SeqLayout {
    pub load: Fields,
    pub stream: Fields,
    pub out: Fields,
    pub pattern: Fields,
    pub config: Fields,
    pub window: Fields,
    pub aw: u32,
    pub ob: u32,
    pub seq: SeqConfig,
}

impl SeqLayout {
    pub fn new(cfg: &FeatherConfig, seq: &SeqConfig) -> SeqLayout {
        let ib = index_bits(cfg.ah) + 1;
        let ob = cfg.o_bits();
        let pb = seq.pattern_depth.trailing_zeros();
        let cb = seq.config_depth.trailing_zeros();
        SeqLayout {
            load: Fields(vec![
                ("valid", 1),
                ("start", 32),
                ("w_base", cfg.w_bits()),
                ("rows", ib),
                ("v", ib),
                ("wbank", 1),
            ]),
            stream: Fields(vec![
                ("valid", 1),
                ("start", 32),
                ("s_base", cfg.s_bits()),
                ("vns", 16),
                ("v", ib),
                ("rbank", 1),
                ("s_buf", 1),
                ("win", 1),
                ("t0", seq.window_depth.trailing_zeros()),
            ]),
            out: Fields(vec![
                ("valid", 1),
                ("start", 32),
                ("vns", 16),
                ("v", ib),
                ("rows", ib),
                ("period", 16),
                ("pat_base", pb),
                ("line_base", ob),
                ("delta", ob),
                ("acc", 1),
                ("quant", 1),
                ("q_buf", 1),
            ]),
            pattern: Fields(vec![
                ("has", 1),
                ("cfg", cb),
                ("mask", cfg.aw),
                ("lines", cfg.aw * ob),
            ]),
            config: Fields(vec![("cmd", cfg.birrd().cmd_width())]),
            window: Fields(vec![
                ("valid", 1),
                ("dh", 16),
                ("dw", 16),
                ("off", cfg.s_bits()),
            ]),
            aw: cfg.aw,
            ob,
            seq: *seq,
        }
    }

    /// Width of the host's table-write data port.
    pub fn data_width(&self) -> u32 {
        [
            &self.load,
            &self.stream,
            &self.out,
            &self.pattern,
            &self.config,
            &self.window,
        ]
        .iter()
        .map(|f| f.width())
        .max()
        .unwrap()
    }

    pub fn addr_width(&self) -> u32 {
        [
            self.seq.desc_depth,
            self.seq.pattern_depth,
            self.seq.config_depth,
            self.seq.window_depth,
        ]
        .iter()
        .map(|d| d.trailing_zeros())
        .max()
        .unwrap()
    }

    /// The table images to load: (table select, entries). Queues end with an invalid entry.
    pub fn encode(&self, p: &Program) -> Result<Vec<(u64, Vec<Bits>)>, String> {
        let dd = self.seq.desc_depth as usize;
        for (name, n) in [
            ("load", p.loads.len()),
            ("stream", p.streams.len()),
            ("out", p.outs.len()),
        ] {
            if n + 1 > dd {
                return Err(format!(
                    "the program has {n} {name} descriptors; the sequencer's queue holds {}",
                    dd - 1
                ));
            }
        }
        if p.patterns.len() > self.seq.pattern_depth as usize {
            return Err(format!(
                "the program has {} pattern entries; the table holds {}",
                p.patterns.len(),
                self.seq.pattern_depth
            ));
        }
        if p.configs.len() > self.seq.config_depth as usize {
            return Err(format!(
                "the program has {} BIRRD configurations; the table holds {}",
                p.configs.len(),
                self.seq.config_depth
            ));
        }
        // A queue: its descriptors, then an invalid entry that stops the engine.
        fn queue<T>(
            f: &Fields,
            items: &[T],
            values: impl Fn(&T) -> Vec<(&'static str, u64)>,
        ) -> Result<Vec<Bits>, String> {
            let mut q = items
                .iter()
                .map(|d| {
                    let mut v = values(d);
                    v.push(("valid", 1));
                    f.encode(&v).map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            q.push(Bits::zero(f.width()));
            Ok(q)
        }
        let loads = queue(&self.load, &p.loads, |d| {
            vec![
                ("start", d.start + LEAD),
                ("w_base", d.w_base as u64),
                ("rows", d.rows as u64),
                ("v", d.v as u64),
                ("wbank", d.wbank as u64),
            ]
        })?;
        let streams = queue(&self.stream, &p.streams, |d| {
            vec![
                ("start", d.start + LEAD - STREAM_AHEAD),
                ("s_base", d.s_base as u64),
                ("vns", d.vns as u64),
                ("v", d.v as u64),
                ("rbank", d.rbank as u64),
                ("s_buf", d.s_buf as u64),
                ("win", d.win as u64),
                ("t0", d.t0 as u64),
            ]
        })?;
        let outs = queue(&self.out, &p.outs, |d| {
            vec![
                ("start", d.start + LEAD - 2),
                ("vns", d.vns as u64),
                ("v", d.v as u64),
                ("rows", d.rows as u64),
                ("period", d.period as u64),
                ("pat_base", d.pat_base as u64),
                ("line_base", d.line_base as u64),
                ("delta", d.delta as u64),
                ("acc", d.acc as u64),
                ("quant", d.quant as u64),
                ("q_buf", d.q_buf as u64),
            ]
        })?;
        let patterns = p
            .patterns
            .iter()
            .map(|e| {
                let field = |name| self.pattern.get(name).map_err(|e| e.to_string());
                let mut w = self
                    .pattern
                    .encode(&[
                        ("has", e.config.is_some() as u64),
                        ("cfg", e.config.unwrap_or(0) as u64),
                    ])
                    .map_err(|e| e.to_string())?;
                let (lo, _) = field("mask")?;
                for k in 0..self.aw {
                    if e.mask >> k & 1 == 1 {
                        w.set_slice(lo + k, &Bits::from_u64(1, 1));
                    }
                }
                let (lo, _) = field("lines")?;
                for (k, &l) in e.lines.iter().enumerate() {
                    if self.ob < 32 && l >> self.ob != 0 {
                        return Err(format!("pattern line {l} does not fit {} bits", self.ob));
                    }
                    w.set_slice(lo + k as u32 * self.ob, &Bits::from_u64(self.ob, l as u64));
                }
                Ok(w)
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut windows = Vec::new();
        if let Some(w) = &p.window {
            if w.table.len() > self.seq.window_depth as usize {
                return Err(format!(
                    "the convolution walks {} window taps per column; the window table holds {}",
                    w.table.len(),
                    self.seq.window_depth
                ));
            }
            for e in &w.table {
                let v = match e {
                    None => vec![],
                    Some(t) => vec![
                        ("valid", 1),
                        ("dh", t.dh as u64),
                        ("dw", t.dw as u64),
                        ("off", t.off as u64),
                    ],
                };
                windows.push(self.window.encode(&v).map_err(|e| e.to_string())?);
            }
        }
        Ok(vec![
            (0, loads),
            (1, streams),
            (2, outs),
            (3, patterns),
            (4, p.configs.clone()),
            (5, windows),
        ])
    }
}

/// The state every engine shares: current descriptor, queue pointer, two nested counters.
struct Engine {
    /// The descriptor word in use.
    cur: Sig,
    busy: Sig,
    /// Busy on the descriptor's first cycle.
    starting: Sig,
    outer: Sig,
    inner: Sig,
    /// outer · inner_count + inner (a running count of busy cycles).
    lin: Sig,
    last_inner: Sig,
}

#[allow(clippy::too_many_arguments)]
fn engine(
    b: &mut ModuleBuilder,
    name: &str,
    f: &Fields,
    mem: usize,
    abits: u32,
    start: Sig,
    init: Sig,
    now: Sig,
    outer_field: &str,
    inner_field: &str,
) -> Engine {
    let w = f.width();
    let ptr = b.reg(&format!("{name}_ptr"), Bits::zero(abits));
    let cur = b.reg(&format!("{name}_cur"), Bits::zero(w));
    let running = b.reg(&format!("{name}_running"), Bits::zero(1));
    let outer_q = b.reg(&format!("{name}_outer"), Bits::zero(16));
    let inner_q = b.reg(&format!("{name}_inner"), Bits::zero(16));
    let lin_q = b.reg(&format!("{name}_lin"), Bits::zero(32));
    let valid = f.slice(b, cur, "valid");
    let dstart = f.slice(b, cur, "start");
    let at = b.eq(now, dstart);
    let not_running = b.not(running);
    let s1 = b.and(valid, not_running);
    let starting = b.and(s1, at);
    let busy = b.or(running, starting);
    let z16 = b.zero(16);
    let z32 = b.zero(32);
    let outer = b.mux(running, outer_q, z16);
    let inner = b.mux(running, inner_q, z16);
    let lin = b.mux(running, lin_q, z32);
    let oc = f.slice(b, cur, outer_field);
    let ic = f.slice(b, cur, inner_field);
    let oc = b.extend(oc, 16);
    let ic = b.extend(ic, 16);
    let one16 = b.lit(16, 1);
    let oc1 = b.sub(oc, one16);
    let ic1 = b.sub(ic, one16);
    let last_inner = b.eq(inner, ic1);
    let last_outer = b.eq(outer, oc1);
    let lo = b.and(last_inner, last_outer);
    let done = b.and(busy, lo);
    // Queue: read entry 0 on the start pulse; on `init` (the cycle after) and on every swap,
    // take the registered entry as current and read the following one.
    let swap = b.or(init, done);
    let zero_a = b.zero(abits);
    let ra = b.mux(start, zero_a, ptr);
    let ren = b.or(start, swap);
    let next = b.mem_read(mem, ra, Some(ren));
    let one_a = b.lit(abits, 1);
    let ptr_inc = b.add(ptr, one_a);
    let ptr_swap = b.mux(swap, ptr_inc, ptr);
    let ptr_d = b.mux(start, one_a, ptr_swap);
    b.next(ptr, ptr_d, None);
    let zero_w = b.zero(w);
    let cur_swap = b.mux(swap, next, cur);
    let cur_d = b.mux(start, zero_w, cur_swap);
    b.next(cur, cur_d, None);
    let not_done = b.not(done);
    let run_d = b.and(busy, not_done);
    let zero1 = b.zero(1);
    let run_d = b.mux(start, zero1, run_d);
    b.next(running, run_d, None);
    let inner1 = b.add(inner, one16);
    let inner_d = b.mux(last_inner, z16, inner1);
    b.next(inner_q, inner_d, Some(busy));
    let outer1 = b.add(outer, one16);
    let outer_d = b.mux(last_inner, outer1, outer);
    b.next(outer_q, outer_d, Some(busy));
    let one32 = b.lit(32, 1);
    let lin1 = b.add(lin, one32);
    b.next(lin_q, lin1, Some(busy));
    Engine {
        cur,
        busy,
        starting,
        outer,
        inner,
        lin,
        last_inner,
    }
}

/// Generates the sequencer: `i_start`, table writes `i_twe i_tsel i_taddr i_tdata`, → `o_uop`.
pub fn sequencer(cfg: &FeatherConfig, seq: &SeqConfig) -> Result<Rc<Module>, FeatherError> {
    cfg.validate()?;
    let lay = SeqLayout::new(cfg, seq);
    let ul: UopLayout = cfg.uop_layout();
    let (aw, ob, sb) = (cfg.aw, cfg.o_bits(), cfg.s_bits());
    let mut b = ModuleBuilder::new(format!(
        "feather_seq_{}x{}_{}",
        cfg.ah, cfg.aw, cfg.topology
    ));
    let start = b.input("i_start", 1);
    let twe = b.input("i_twe", 1);
    let tsel = b.input("i_tsel", 3);
    let taddr = b.input("i_taddr", lay.addr_width());
    let tdata = b.input("i_tdata", lay.data_width());

    let now = b.reg("now", Bits::zero(32));
    let one32 = b.lit(32, 1);
    let now1 = b.add(now, one32);
    let z32 = b.zero(32);
    let now_d = b.mux(start, z32, now1);
    b.next(now, now_d, None);
    let init = b.delay("init", start);

    // Tables, written by the host.
    let table = |b: &mut ModuleBuilder, sel: u64, name: &str, f: &Fields, depth: u32| {
        let m = b.memory(
            name,
            f.width(),
            depth,
            MemStyle::Block,
            ReadDuringWrite::ReadFirst,
        );
        let hit = b.eq_lit(tsel, sel);
        let we = b.and(twe, hit);
        let a = b.resize(taddr, depth.trailing_zeros());
        let d = b.slice(tdata, f.width() - 1, 0);
        b.mem_write(m, a, d, we);
        m
    };
    let m_load = table(&mut b, 0, "load_q", &lay.load, seq.desc_depth);
    let m_stream = table(&mut b, 1, "stream_q", &lay.stream, seq.desc_depth);
    let m_out = table(&mut b, 2, "out_q", &lay.out, seq.desc_depth);
    let m_pat = table(&mut b, 3, "patterns", &lay.pattern, seq.pattern_depth);
    let m_cfg = table(&mut b, 4, "configs", &lay.config, seq.config_depth);
    let db = seq.desc_depth.trailing_zeros();

    // ---- load engine: rows × v weight lines.
    let le = engine(
        &mut b, "ld", &lay.load, m_load, db, start, init, now, "rows", "v",
    );
    let w_base = lay.load.slice(&mut b, le.cur, "w_base");
    let lin = b.resize(le.lin, cfg.w_bits());
    let w_addr = b.add(w_base, lin);
    let wrow = b.resize(le.outer, index_bits(cfg.ah));
    let waddr = b.resize(le.inner, index_bits(cfg.ah));
    let wbank = lay.load.slice(&mut b, le.cur, "wbank");

    // ---- stream engine: vns × v elements, one cycle ahead (`STREAM_AHEAD`); its fields are
    // registered once, which lines them up with the window table's read.
    let se = engine(
        &mut b,
        "st",
        &lay.stream,
        m_stream,
        db,
        start,
        init,
        now,
        "vns",
        "v",
    );
    let sf = |b: &mut ModuleBuilder, name: &str| lay.stream.slice(b, se.cur, name);
    let s_base = sf(&mut b, "s_base");
    let win = sf(&mut b, "win");
    let t0 = sf(&mut b, "t0");
    let lin = b.resize(se.lin, sb);
    let lin_addr = b.add(s_base, lin);
    let widx = b.resize(se.inner, index_bits(cfg.ah));
    let rbank = sf(&mut b, "rbank");
    let s_buf = sf(&mut b, "s_buf");
    // The window walker: the current output pixel's window origin (hb, wb), its row's and its
    // own first line; start values on a descriptor's first cycle, stepped at each VN's end.
    let geo = |b: &mut ModuleBuilder, name: &str, w: u32| b.input(&format!("i_{name}"), w);
    let [g_hb0, g_q, g_p, g_st, g_pad, g_h, g_w, g_dq, g_drow, g_dimg] =
        Geometry::fields(sb).map(|(name, w)| geo(&mut b, name, w));
    let z16 = b.zero(16);
    let pad16 = b.extend(g_pad, 16);
    let neg_pad = b.sub(z16, pad16);
    let st16 = b.extend(g_st, 16);
    let walker = |b: &mut ModuleBuilder, name: &str, w: u32, first: Sig| {
        let q = b.reg(&format!("win_{name}"), Bits::zero(w));
        (q, b.mux(se.starting, first, q))
    };
    let (wq_q, wq) = walker(&mut b, "q", 16, z16);
    let (wp_q, wp) = walker(&mut b, "p", 16, z16);
    let (hb_q, hb) = walker(&mut b, "hb", 16, g_hb0);
    let (wb_q, wb) = walker(&mut b, "wb", 16, neg_pad);
    let (prow_q, prow) = walker(&mut b, "prow", sb, s_base);
    let (pline_q, pline) = walker(&mut b, "pline", sb, s_base);
    let one16 = b.lit(16, 1);
    let q_last = {
        let q1 = b.sub(g_q, one16);
        b.eq(wq, q1)
    };
    let p_last = {
        let p1 = b.sub(g_p, one16);
        b.eq(wp, p1)
    };
    let wq1 = b.add(wq, one16);
    let wq_n = b.mux(q_last, z16, wq1);
    let wp1 = b.add(wp, one16);
    let wp_row = b.mux(p_last, z16, wp1);
    let wp_n = b.mux(q_last, wp_row, wp);
    let wb1 = b.add(wb, st16);
    let wb_n = b.mux(q_last, neg_pad, wb1);
    let hb1 = b.add(hb, st16);
    let hb_row = b.mux(p_last, g_hb0, hb1);
    let hb_n = b.mux(q_last, hb_row, hb);
    let prow_img = b.add(prow, g_dimg);
    let prow_next = b.add(prow, g_drow);
    let prow_row = b.mux(p_last, prow_img, prow_next);
    let prow_n = b.mux(q_last, prow_row, prow);
    let pline1 = b.add(pline, g_dq);
    let pline_n = b.mux(q_last, prow_n, pline1);
    let vn_end = b.and(se.busy, se.last_inner);
    let step_en = b.or(vn_end, se.starting);
    for (q, cur, next) in [
        (wq_q, wq, wq_n),
        (wp_q, wp, wp_n),
        (hb_q, hb, hb_n),
        (wb_q, wb, wb_n),
        (prow_q, prow, prow_n),
        (pline_q, pline, pline_n),
    ] {
        let d = b.mux(vn_end, next, cur);
        b.next(q, d, Some(step_en));
    }
    let wbits = seq.window_depth.trailing_zeros();
    let m_win = {
        let m = b.memory(
            "windows",
            lay.window.width(),
            seq.window_depth,
            MemStyle::Block,
            ReadDuringWrite::ReadFirst,
        );
        let hit = b.eq_lit(tsel, 5);
        let we = b.and(twe, hit);
        let a = b.resize(taddr, wbits);
        let d = b.slice(tdata, lay.window.width() - 1, 0);
        b.mem_write(m, a, d, we);
        m
    };
    let inner_w = b.resize(se.inner, wbits);
    let t_addr = b.add(t0, inner_w);
    let t_en = b.and(se.busy, win);
    let tap = b.mem_read(m_win, t_addr, Some(t_en));
    // ---- one cycle later: the micro-instruction's stream fields.
    let st_busy = b.delay("st_busy_q", se.busy);
    let win_q = b.delay("st_win_q", win);
    let lin_addr = b.delay("st_lin_q", lin_addr);
    let hb_d = b.delay("st_hb_q", hb);
    let wb_d = b.delay("st_wb_q", wb);
    let pline_d = b.delay("st_pline_q", pline);
    let widx = b.delay("st_widx_q", widx);
    let rbank = b.delay("st_rbank_q", rbank);
    let s_buf = b.delay("st_buf_q", s_buf);
    let last = b.delay("st_last_q", se.last_inner);
    let wf = &lay.window;
    let tap_valid = wf.slice(&mut b, tap, "valid");
    let dh = wf.slice(&mut b, tap, "dh");
    let dw = wf.slice(&mut b, tap, "dw");
    let off = wf.slice(&mut b, tap, "off");
    let h = b.add(hb_d, dh);
    let w = b.add(wb_d, dw);
    // A negative coordinate is a large unsigned one: one comparison finds both edges.
    let in_h = b.lt(h, g_h);
    let in_w = b.lt(w, g_w);
    let inside = b.and(in_h, in_w);
    let real = b.and(tap_valid, inside);
    let not_real = b.not(real);
    let pad = b.and(win_q, not_real);
    let win_addr = b.add(pline_d, off);
    let zs = b.zero(sb);
    let win_addr = b.mux(pad, zs, win_addr);
    let s_addr = b.mux(win_q, win_addr, lin_addr);

    // ---- out engine, stage A: which pattern entry, and the line offset.
    let oe = engine(
        &mut b, "out", &lay.out, m_out, db, start, init, now, "vns", "v",
    );
    let o = &lay.out;
    let rows = o.slice(&mut b, oe.cur, "rows");
    let rows16 = b.extend(rows, 16);
    let period = o.slice(&mut b, oe.cur, "period");
    let pat_base = o.slice(&mut b, oe.cur, "pat_base");
    let line_base = o.slice(&mut b, oe.cur, "line_base");
    let delta = o.slice(&mut b, oe.cur, "delta");
    let starting = oe.starting;
    let pj_q = b.reg("out_pj", Bits::zero(16));
    let prow_q = b.reg("out_prow", Bits::zero(16));
    let off_q = b.reg("out_off", Bits::zero(ob));
    let z16 = b.zero(16);
    let pj = b.mux(starting, z16, pj_q);
    let prow = b.mux(starting, z16, prow_q);
    let off = b.mux(starting, line_base, off_q);
    let in_rows = b.lt(oe.inner, rows16);
    let valid_a = b.and(oe.busy, in_rows);
    let pb = seq.pattern_depth.trailing_zeros();
    let prow_p = b.resize(prow, pb);
    let inner_p = b.resize(oe.inner, pb);
    let idx = b.add(pat_base, prow_p);
    let idx = b.add(idx, inner_p);
    let one16 = b.lit(16, 1);
    let period1 = b.sub(period, one16);
    let wrap = b.eq(pj, period1);
    let vn_end = b.and(oe.busy, oe.last_inner);
    let pj1 = b.add(pj, one16);
    let pj_next = b.mux(wrap, z16, pj1);
    let prow_rows = b.add(prow, rows16);
    let prow_next = b.mux(wrap, z16, prow_rows);
    let off_delta = b.add(off, delta);
    let off_next = b.mux(wrap, off_delta, off);
    let pj_d = b.mux(vn_end, pj_next, pj);
    let prow_d = b.mux(vn_end, prow_next, prow);
    let off_d = b.mux(vn_end, off_next, off);
    b.next(pj_q, pj_d, Some(oe.busy));
    b.next(prow_q, prow_d, Some(oe.busy));
    b.next(off_q, off_d, Some(oe.busy));
    let flags_a = {
        let acc = o.slice(&mut b, oe.cur, "acc");
        let quant = o.slice(&mut b, oe.cur, "quant");
        let qb = o.slice(&mut b, oe.cur, "q_buf");
        b.cat(&[qb, quant, acc])
    };
    let entry = b.mem_read(m_pat, idx, Some(valid_a));
    // ---- stage B: the entry; read the configuration; add the line offset.
    let valid_b = b.delay("out_valid_b", valid_a);
    let off_b = b.delay("out_off_b", off);
    let flags_b = b.delay("out_flags_b", flags_a);
    let p = &lay.pattern;
    let has = p.slice(&mut b, entry, "has");
    let cfg_idx = p.slice(&mut b, entry, "cfg");
    let mask = p.slice(&mut b, entry, "mask");
    let lines = p.slice(&mut b, entry, "lines");
    let real = b.and(valid_b, has);
    let cmd = b.mem_read(m_cfg, cfg_idx, Some(real));
    let mut shifted = Vec::new();
    for k in (0..aw).rev() {
        let l = b.slice(lines, ob * k + ob - 1, ob * k);
        let s = b.add(l, off_b);
        let mk = b.bit(mask, k);
        let z = b.zero(ob);
        shifted.push(b.mux(mk, s, z));
    }
    let lines_b = b.cat(&shifted);
    let zaw = b.zero(aw);
    let mask_b = b.mux(real, mask, zaw);
    let z3 = b.zero(3);
    let flags_b = b.mux(real, flags_b, z3);
    let zl = b.zero(aw * ob);
    let lines_b = b.mux(real, lines_b, zl);
    // ---- stage C: BIRRD command now, output-buffer fields S cycles later.
    let real_c = b.delay("out_real_c", real);
    let zc = b.zero(cmd.width);
    let birrd_cmd = b.mux(real_c, cmd, zc);
    let ob_fields = b.cat(&[flags_b, lines_b, mask_b]);
    let ob_fields = b.delay("out_ob_c", ob_fields);
    let ob_fields = delay_line(&mut b, "out_ob_d", ob_fields, cfg.birrd_latency());
    let w_ob = aw + aw * ob;
    let ob_mask = b.slice(ob_fields, aw - 1, 0);
    let ob_addr = b.slice(ob_fields, w_ob - 1, aw);
    let ob_acc = b.bit(ob_fields, w_ob);
    let quant = b.bit(ob_fields, w_ob + 1);
    let q_buf = b.bit(ob_fields, w_ob + 2);

    // ---- the micro-instruction, in UopLayout order (LSB first).
    let zero = |b: &mut ModuleBuilder, w: u32| b.zero(w);
    let gate = |b: &mut ModuleBuilder, en: Sig, s: Sig| {
        let z = zero(b, s.width);
        b.mux(en, s, z)
    };
    let parts: Vec<(&str, Sig)> = vec![
        ("s_read", st_busy),
        ("s_buf", gate(&mut b, st_busy, s_buf)),
        ("s_addr", gate(&mut b, st_busy, s_addr)),
        ("s_pad", gate(&mut b, st_busy, pad)),
        ("widx", gate(&mut b, st_busy, widx)),
        ("rbank", gate(&mut b, st_busy, rbank)),
        ("last", gate(&mut b, st_busy, last)),
        ("w_read", le.busy),
        ("w_addr", gate(&mut b, le.busy, w_addr)),
        ("wrow", gate(&mut b, le.busy, wrow)),
        ("waddr", gate(&mut b, le.busy, waddr)),
        ("wbank", gate(&mut b, le.busy, wbank)),
        ("birrd", birrd_cmd),
        ("ob_mask", ob_mask),
        ("ob_addr", ob_addr),
        ("ob_acc", ob_acc),
        ("quant", quant),
        ("q_buf", q_buf),
    ];
    let word = ul.fields.pack(&mut b, &parts);
    b.output("o_uop", word);
    Ok(b.finish()?)
}

/// The programmable top: sequencer + core. Ports: the core's host and layer ports, the
/// sequencer's table port, its window-walker registers (`i_win_*`) and `i_start`.
pub fn programmable_top(cfg: &FeatherConfig, seq: &SeqConfig) -> Result<Rc<Module>, FeatherError> {
    let core_mod = core(cfg)?;
    let seq_mod = sequencer(cfg, seq)?;
    let lay = SeqLayout::new(cfg, seq);
    let mut b = ModuleBuilder::new(format!(
        "feather_top_{}x{}_{}",
        cfg.ah, cfg.aw, cfg.topology
    ));
    let start = b.input("i_start", 1);
    let twe = b.input("i_twe", 1);
    let tsel = b.input("i_tsel", 3);
    let taddr = b.input("i_taddr", lay.addr_width());
    let tdata = b.input("i_tdata", lay.data_width());
    let mut seq_conns: Vec<(String, Sig)> = vec![
        ("i_start".into(), start),
        ("i_twe".into(), twe),
        ("i_tsel".into(), tsel),
        ("i_taddr".into(), taddr),
        ("i_tdata".into(), tdata),
    ];
    for (name, w) in Geometry::fields(cfg.s_bits()) {
        let port = format!("i_{name}");
        let sig = b.input(&port, w);
        seq_conns.push((port, sig));
    }
    let seq_refs: Vec<(&str, Sig)> = seq_conns.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let s = b.instance("seq", &seq_mod, &seq_refs);
    let mut conns: Vec<(String, Sig)> = vec![("i_uop".to_string(), s.get("o_uop"))];
    for (name, id) in &core_mod.inputs {
        if name == "i_uop" || name == "rst" || name == "clk" {
            continue;
        }
        let w = core_mod.node(*id).width;
        let sig = b.input(name, w);
        conns.push((name.clone(), sig));
    }
    let conn_refs: Vec<(&str, Sig)> = conns.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let c = b.instance("core", &core_mod, &conn_refs);
    b.output("o_host_rdata", c.get("o_host_rdata"));
    b.output("o_qwe", c.get("o_qwe"));
    Ok(b.finish()?)
}
