//! Running compiled FEATHER layers: load the buffers through the host port, play the
//! micro-instructions one per cycle, read the output buffer back, and check the tensor against
//! the golden model. Optionally the same run is replayed on the emitted Verilog (Verilator or
//! Icarus), which must agree with plume's simulator on every output in every cycle.

use anyhow::{bail, Context, Result};
use plume_hw::feather::compiler::depthwise::{self as dw, DwBlock};
use plume_hw::feather::compiler::mapper::{
    conv_gemm, filters_matrix, gather, im2col, place, Dataflow, Gemm, Schedule,
};
use plume_hw::feather::compiler::program::Program;
use plume_hw::feather::compiler::window::Geometry;
use plume_hw::feather::controller::{Uop, UopLayout};
use plume_hw::feather::golden::{self, ConvShape, Quant};
use plume_hw::feather::sequencer::{programmable_top, SeqConfig, SeqLayout, SEQ_LATENCY};
use plume_hw::feather::top::{generate, FeatherConfig};
use plume_hw::rtl::Bits;
use plume_hw::rtl::Module;
use plume_sim::cosim::{self, Tool};
use plume_sim::rng::XorShift;
use plume_sim::Sim;
use std::borrow::BorrowMut;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

/// Random operands for a GEMM and quantisation constants that keep outputs in range.
pub struct LayerData {
    pub a: Vec<u8>,
    pub b: Vec<u8>,
    pub q: Quant,
    /// A convolution's compact NHWC input, which a schedule that streams windows reads instead
    /// of the lowered `a`.
    pub conv_input: Option<Vec<u8>>,
}

impl LayerData {
    /// The streamed operand: the convolution's compact input when the schedule or tiling
    /// streams windows (`compact`: `Schedule::window` / `Tiling::window` is set), else the
    /// lowered A (what `place` and `host::run_tiled` take).
    pub fn streamed(&self, compact: bool) -> &[u8] {
        match (compact, &self.conv_input) {
            (true, Some(x)) => x,
            (true, None) => panic!("streaming windows needs the convolution's input"),
            (false, _) => &self.a,
        }
    }

    pub fn random(m: usize, k: usize, n: usize, seed: u64) -> LayerData {
        let mut rng = XorShift::new(seed);
        let a = (0..m * k).map(|_| rng.next() as u8).collect();
        let b = (0..k * n).map(|_| rng.next() as u8).collect();
        // Accumulators grow like √K · 128 · 128; scale them to roughly ±64.
        let spread = ((k as f64).sqrt() * 128.0 * 74.0).max(1.0);
        let scale = ((64.0 / spread) * (1u64 << golden::SCALE_FRAC_BITS) as f64) as u32;
        LayerData {
            a,
            b,
            conv_input: None,
            q: Quant {
                zp_i: (rng.next() % 256) as u8,
                zp_w: (rng.next() % 16) as u8,
                scale: scale.max(1),
                zp_o: 128,
                iact_signed: false,
                weight_signed: true,
                out_signed: false,
            },
        }
    }
}

/// A layer the CLI and tests run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Gemm(Gemm),
    Conv(ConvShape),
    /// A depthwise convolution (`shape.k` = `shape.c`), run as `shape.c` patch GEMMs of
    /// `block` output pixels side by side (`compiler::depthwise`).
    Depthwise {
        shape: ConvShape,
        block: DwBlock,
    },
}

impl Layer {
    pub fn gemm(&self) -> Option<Gemm> {
        match self {
            Layer::Gemm(g) => Some(*g),
            Layer::Conv(c) => conv_gemm(c),
            Layer::Depthwise { shape, block } => dw::dw_gemm(shape, *block),
        }
    }

    /// GEMMs the layer runs side by side (`Schedule::groups`): a depthwise layer's channels.
    pub fn groups(&self) -> usize {
        match self {
            Layer::Depthwise { shape, .. } => shape.c,
            _ => 1,
        }
    }

    /// The MACs the layer defines: a depthwise layer's R·S per output, not its patch GEMM's
    /// (which multiplies zero weights and re-streams halos).
    pub fn macs(&self) -> Option<u64> {
        match self {
            Layer::Depthwise { shape: sh, .. } => {
                let (p, q) = sh.out_hw()?;
                Some((sh.n * p * q * sh.c * sh.r * sh.s) as u64)
            }
            _ => self.gemm().map(|g| g.macs()),
        }
    }

    /// A convolution's shape (dense: its windows may be streamed).
    pub fn conv_shape(&self) -> Option<&ConvShape> {
        match self {
            Layer::Conv(sh) => Some(sh),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Layer::Gemm(g) => format!("GEMM M={} K={} N={}", g.m, g.k, g.n),
            Layer::Conv(c) => format!(
                "conv N={} C={} H={} W={} K={} R={} S={} stride={} pad={}{}",
                c.n,
                c.c,
                c.h,
                c.w,
                c.k,
                c.r,
                c.s,
                c.stride,
                c.pad,
                dilation_text(c)
            ),
            Layer::Depthwise { shape: c, block } => format!(
                "depthwise conv N={} C={} H={} W={} R={} S={} stride={} pad={}{} in blocks of {} output pixels",
                c.n,
                c.c,
                c.h,
                c.w,
                c.r,
                c.s,
                c.stride,
                c.pad,
                dilation_text(c),
                block.name()
            ),
        }
    }
}

/// ` dilation=D` for a dilated filter, else nothing.
fn dilation_text(c: &ConvShape) -> String {
    if c.dilation == 1 {
        String::new()
    } else {
        format!(" dilation={}", c.dilation)
    }
}

/// The golden output of a depthwise layer in its patch GEMM's M × N order, every element
/// included — also the pixels of blocks past the output's edge, which are the direct
/// convolution of an input extended by zero points to the right and below. Computed by
/// `golden::depthwise` and the GEMM's index order alone, not by the lowering.
pub fn depthwise_golden(x: &[u8], wt: &[u8], sh: &ConvShape, blk: DwBlock, q: &Quant) -> Vec<u8> {
    let (gh, gw) = blk.grid(sh);
    let (pe, qe) = (gh * blk.bh, gw * blk.bw);
    let (re, se) = sh.extent();
    let need = |out: usize, ext: usize| ((out - 1) * sh.stride + ext).saturating_sub(2 * sh.pad);
    let ext = ConvShape {
        h: sh.h.max(need(pe, re)),
        w: sh.w.max(need(qe, se)),
        ..*sh
    };
    let c = sh.c;
    let mut xe = vec![q.zp_i; ext.n * ext.h * ext.w * c];
    for n in 0..sh.n {
        for y in 0..sh.h {
            let from = ((n * sh.h + y) * sh.w) * c;
            let to = ((n * ext.h + y) * ext.w) * c;
            xe[to..to + sh.w * c].copy_from_slice(&x[from..from + sh.w * c]);
        }
    }
    let y = golden::depthwise(&xe, wt, &ext, q);
    let (_, q_ext) = ext.out_hw().expect("the extended input holds every block");
    let p_ext = y.len() / (sh.n * q_ext * c);
    assert!(p_ext >= pe && q_ext >= qe);
    let nn = blk.pixels();
    let mut out = vec![0u8; sh.n * gh * gw * c * nn];
    for n in 0..sh.n {
        for p in 0..pe {
            for qq in 0..qe {
                for ch in 0..c {
                    let m = ((n * gh + p / blk.bh) * gw + qq / blk.bw) * c + ch;
                    let j = (p % blk.bh) * blk.bw + qq % blk.bw;
                    out[m * nn + j] = y[((n * p_ext + p) * q_ext + qq) * c + ch];
                }
            }
        }
    }
    out
}

/// Random data for a layer, its GEMM operands and the golden output (computed directly from
/// the layer, not from the lowered GEMM, so the lowering is checked too).
pub struct Prepared {
    pub gemm: Gemm,
    pub data: LayerData,
    pub golden: Vec<u8>,
    /// The operands as the layer defines them: A and B of a GEMM, or the NHWC input and the
    /// KRSC filters of a convolution (before lowering to a GEMM).
    pub operands: [Vec<u8>; 2],
}

impl Prepared {
    /// A layer's operands as the layer defines them (`x`, `wt`: A and B of a GEMM, or the NHWC
    /// input and KRSC filters of a convolution) with their quantisation: lowered to the GEMM,
    /// and the golden output computed from the layer directly.
    pub fn from_operands(layer: &Layer, x: Vec<u8>, wt: Vec<u8>, q: Quant) -> Result<Prepared> {
        let Some(gemm) = layer.gemm() else {
            bail!(
                "{}: the filter does not fit the padded input",
                layer.describe()
            );
        };
        let (golden, data) = match layer {
            Layer::Gemm(g) => (
                golden::gemm(&x, &wt, g.m, g.k, g.n, &q),
                LayerData {
                    a: x.clone(),
                    b: wt.clone(),
                    q,
                    conv_input: None,
                },
            ),
            Layer::Conv(sh) => (
                golden::conv(&x, &wt, sh, &q),
                LayerData {
                    a: im2col(&x, sh, q.zp_i),
                    b: filters_matrix(&wt, sh),
                    q,
                    conv_input: Some(x.clone()),
                },
            ),
            Layer::Depthwise { shape, block } => (
                depthwise_golden(&x, &wt, shape, *block, &q),
                LayerData {
                    a: dw::patches(&x, shape, *block, q.zp_i),
                    b: dw::shifted_filters(&wt, shape, *block, q.zp_w),
                    q,
                    conv_input: None,
                },
            ),
        };
        Ok(Prepared {
            gemm,
            data,
            golden,
            operands: [x, wt],
        })
    }
}

pub fn prepare(layer: &Layer, seed: u64) -> Result<Prepared> {
    let Some(gemm) = layer.gemm() else {
        bail!(
            "{}: the filter does not fit the padded input",
            layer.describe()
        );
    };
    let raw = match layer {
        Layer::Gemm(g) => LayerData::random(g.m, g.k, g.n, seed),
        Layer::Conv(sh) => {
            let mut raw = LayerData::random(sh.n * sh.h * sh.w, sh.c, sh.k * sh.r * sh.s, seed);
            // The spread of the accumulators follows the reduction length C·R·S.
            raw.q.scale = LayerData::random(1, gemm.k, 1, seed).q.scale;
            raw
        }
        Layer::Depthwise { shape: sh, .. } => {
            let mut raw = LayerData::random(sh.n * sh.h * sh.w, sh.c, sh.r * sh.s, seed);
            // Each output reduces R·S products.
            raw.q.scale = LayerData::random(1, sh.r * sh.s, 1, seed).q.scale;
            raw
        }
    };
    Prepared::from_operands(layer, raw.a, raw.b, raw.q)
}

pub struct RunResult {
    /// The output tensor read back from the accelerator (M×N row-major).
    pub out: Vec<u8>,
    /// Cycles from the first micro-instruction to the last quantized write, as simulated.
    pub cycles: u64,
    pub sim_seconds: f64,
    /// Cycles compared against the emitted Verilog, when a tool was asked for.
    pub cosim_cycles: Option<usize>,
    /// Every input and output of every cycle (host load, layer, read-back), when asked for.
    pub recording: Option<plume_sim::Recording>,
    /// The generated core.
    pub top: std::rc::Rc<plume_hw::rtl::Module>,
}

fn pack(bytes: &[u8]) -> Bits {
    let mut b = Bits::zero(8 * bytes.len() as u32);
    for (i, &x) in bytes.iter().enumerate() {
        b.set_slice(8 * i as u32, &Bits::from_u64(8, x as u64));
    }
    b
}

/// The core's per-layer constants, by name (`i_<name>` on the core, a register behind AXI).
/// For the inputs-stationary dataflow the streamed operand is B, so the iAct path takes B's
/// zero point and format.
pub fn layer_constants(sched: &Schedule, q: &Quant) -> [(&'static str, u64); 8] {
    let (zx, zy, sx, sy) = match sched.dataflow {
        Dataflow::Ws => (q.zp_i, q.zp_w, q.iact_signed, q.weight_signed),
        Dataflow::Is => (q.zp_w, q.zp_i, q.weight_signed, q.iact_signed),
    };
    [
        ("rows", sched.map.rows as u64),
        ("zp_i", zx as u64),
        ("zp_w", zy as u64),
        ("iact_signed", sx as u64),
        ("weight_signed", sy as u64),
        ("scale", q.scale as u64),
        ("zp_o", q.zp_o as u64),
        ("out_signed", q.out_signed as u64),
    ]
}

/// The sequencer's window-walker registers for a schedule (all zero unless it streams
/// windows), by name (`i_<name>` on the programmable top, a register behind AXI).
pub fn window_constants(sched: &Schedule) -> Vec<(&'static str, u64)> {
    let s_bits = sched.cfg.s_bits();
    let values = sched
        .window
        .map(|w| w.geometry(s_bits).values())
        .unwrap_or([0; 10]);
    Geometry::fields(s_bits)
        .iter()
        .zip(values)
        .map(|((name, _), v)| (*name, v))
        .collect()
}

/// A simulated FEATHER core driven the way a host drives it: buffer loads through the host
/// port, layer constants, micro-instruction streams, read-back. Several layers can run on one
/// session, so a layer can consume the previous layer's output where it left it. A session
/// owns its simulator (`new`, `programmable`) or drives one it is lent (`attach`, for the
/// equivalence harness).
pub struct Session<S: BorrowMut<Sim> = Sim> {
    sim: S,
    pub top: Rc<Module>,
    pub cfg: FeatherConfig,
    layout: UopLayout,
    idle: Bits,
    /// Present when the core sits behind the sequencer (`programmable_top`).
    seq: Option<SeqLayout>,
}

impl Session<Sim> {
    /// Generates the core, opens the waveform and recording if asked, and resets it.
    pub fn new(cfg: &FeatherConfig, vcd: Option<&Path>, record: bool) -> Result<Session> {
        Session::open(cfg, vcd, record, None)
    }

    /// The programmable top (sequencer + core), driven by loop-compressed programs.
    pub fn programmable(
        cfg: &FeatherConfig,
        seq: &SeqConfig,
        vcd: Option<&Path>,
        record: bool,
    ) -> Result<Session> {
        Session::open(cfg, vcd, record, Some(*seq))
    }

    fn open(
        cfg: &FeatherConfig,
        vcd: Option<&Path>,
        record: bool,
        seq: Option<SeqConfig>,
    ) -> Result<Session> {
        let top = match &seq {
            None => generate(cfg)?,
            Some(s) => programmable_top(cfg, s)?,
        };
        let mut sim = Sim::new(&top)?;
        if let Some(p) = vcd {
            sim.trace_vcd(p)
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
        if record {
            sim.record();
        }
        sim.poke_u64("rst", 1)?;
        let mut ses = Session::attach(sim, top, cfg, seq)?;
        ses.sim.step();
        ses.sim.poke_u64("rst", 0)?;
        Ok(ses)
    }
}

impl<S: BorrowMut<Sim>> Session<S> {
    /// Drives `sim`, which simulates `top` (the core, or with `seq` the programmable top):
    /// every input idle. Resetting is the caller's.
    pub fn attach(
        mut sim: S,
        top: Rc<Module>,
        cfg: &FeatherConfig,
        seq: Option<SeqConfig>,
    ) -> Result<Session<S>> {
        let layout = cfg.uop_layout();
        let idle = layout.encode(&Default::default());
        let seq = seq.map(|s| SeqLayout::new(cfg, &s));
        let s = sim.borrow_mut();
        match &seq {
            None => s.poke("i_uop", &idle)?,
            Some(l) => {
                for name in ["i_start", "i_twe", "i_tsel", "i_taddr"] {
                    s.poke_u64(name, 0)?;
                }
                s.poke("i_tdata", &Bits::zero(l.data_width()))?;
            }
        }
        for name in [
            "i_rows",
            "i_zp_i",
            "i_zp_w",
            "i_iact_signed",
            "i_weight_signed",
            "i_scale",
            "i_zp_o",
            "i_out_signed",
            "i_host_we",
            "i_host_sel",
            "i_host_addr",
            "i_host_raddr",
            "i_host_rsel",
        ] {
            s.poke_u64(name, 0)?;
        }
        s.poke("i_host_data", &Bits::zero(8 * cfg.aw))?;
        if seq.is_some() {
            for (name, _) in Geometry::fields(cfg.s_bits()) {
                s.poke_u64(&format!("i_{name}"), 0)?;
            }
        }
        Ok(Session {
            sim,
            top,
            cfg: *cfg,
            layout,
            idle,
            seq,
        })
    }

    /// The simulator's cycle count.
    pub fn cycle(&mut self) -> u64 {
        self.sim.borrow_mut().cycle()
    }

    /// Layer constants (`layer_constants`) on the core's inputs, and with a sequencer its
    /// window-walker registers (`window_constants`).
    pub fn set_layer(&mut self, sched: &Schedule, q: &Quant) -> Result<()> {
        let with_seq = self.seq.is_some();
        let sim = self.sim.borrow_mut();
        for (name, v) in layer_constants(sched, q) {
            sim.poke_u64(&format!("i_{name}"), v)?;
        }
        if with_seq {
            for (name, v) in window_constants(sched) {
                sim.poke_u64(&format!("i_{name}"), v)?;
            }
        }
        Ok(())
    }

    /// A layer's constants, then its operands placed (`place`) and loaded: the streamed one
    /// into its streaming buffer, the stationary one into the weight buffer.
    pub fn load_layer(&mut self, sched: &Schedule, data: &LayerData) -> Result<()> {
        self.set_layer(sched, &data.q)?;
        let q = &data.q;
        let (s_lines, w_lines) = place(
            sched,
            data.streamed(sched.window.is_some()),
            &data.b,
            q.zp_i,
            q.zp_w,
        );
        self.load(sched.in_buf as u64, &s_lines)?;
        self.load(2, &w_lines)
    }

    /// Host writes lines into buffer `sel` (0 = S0, 1 = S1, 2 = W) from line 0, one per cycle.
    pub fn load(&mut self, sel: u64, lines: &[Vec<u8>]) -> Result<()> {
        let sim = self.sim.borrow_mut();
        sim.poke_u64("i_host_we", 1)?;
        sim.poke_u64("i_host_sel", sel)?;
        for (addr, line) in lines.iter().enumerate() {
            sim.poke_u64("i_host_addr", addr as u64)?;
            sim.poke("i_host_data", &pack(line))?;
            sim.step();
        }
        sim.poke_u64("i_host_we", 0)?;
        Ok(())
    }

    /// Plays micro-instructions one per cycle, then idles until the pipeline drains. Returns
    /// the cycles from the first micro-instruction to the last quantized write (inclusive)
    /// and the wall-clock seconds.
    pub fn play(&mut self, uops: &[Uop]) -> Result<(u64, f64)> {
        let sim = self.sim.borrow_mut();
        let qwe = sim.output("o_qwe")?;
        let uop = sim.input("i_uop")?;
        let t0 = Instant::now();
        let start = sim.cycle();
        let mut last_write = None;
        let drain = 8;
        for i in 0..uops.len() + drain {
            let word = match uops.get(i) {
                Some(u) => self.layout.encode(u),
                None => self.idle.clone(),
            };
            sim.poke_loc(uop, word.words());
            if sim.peek_loc(qwe)[0] & 1 == 1 {
                last_write = Some(sim.cycle());
            }
            sim.step();
        }
        let seconds = t0.elapsed().as_secs_f64();
        let Some(last_write) = last_write else {
            bail!("the layer never wrote a quantized output");
        };
        Ok((last_write - start + 1, seconds))
    }

    /// Loads a loop-compressed program into the sequencer's queues and tables, pulses start,
    /// and runs until `uop_len` micro-instructions have passed and the pipeline drained.
    /// Returns the cycles from micro-instruction 0 reaching the core to the last quantized
    /// write (inclusive) — the same count `play` gives for the expanded stream.
    pub fn play_program(&mut self, prog: &Program, uop_len: usize) -> Result<(u64, f64)> {
        let lay = self.seq.clone().context("this session has no sequencer")?;
        let tables = lay.encode(prog).map_err(|e| anyhow::anyhow!(e))?;
        let sim = self.sim.borrow_mut();
        sim.poke_u64("i_twe", 1)?;
        for (sel, entries) in &tables {
            sim.poke_u64("i_tsel", *sel)?;
            for (addr, e) in entries.iter().enumerate() {
                sim.poke_u64("i_taddr", addr as u64)?;
                let mut w = Bits::zero(lay.data_width());
                w.set_slice(0, e);
                sim.poke("i_tdata", &w)?;
                sim.step();
            }
        }
        sim.poke_u64("i_twe", 0)?;
        let qwe = sim.output("o_qwe")?;
        let t0 = Instant::now();
        sim.poke_u64("i_start", 1)?;
        let start = sim.cycle();
        sim.step();
        sim.poke_u64("i_start", 0)?;
        let mut last_write = None;
        for _ in 0..uop_len as u64 + SEQ_LATENCY + 8 {
            if sim.peek_loc(qwe)[0] & 1 == 1 {
                last_write = Some(sim.cycle());
            }
            sim.step();
        }
        let seconds = t0.elapsed().as_secs_f64();
        let Some(last_write) = last_write else {
            bail!("the program never wrote a quantized output");
        };
        Ok((last_write - start - SEQ_LATENCY + 1, seconds))
    }

    /// Reads `count` lines of streaming buffer `sel` back (one per cycle, data a cycle later).
    pub fn read(&mut self, sel: u8, count: usize) -> Result<Vec<Vec<u8>>> {
        let aw = self.cfg.aw;
        let sim = self.sim.borrow_mut();
        sim.poke_u64("i_host_rsel", sel as u64)?;
        let mut out = Vec::with_capacity(count);
        for addr in 0..=count {
            sim.poke_u64("i_host_raddr", addr.min(count.max(1) - 1) as u64)?;
            if addr > 0 {
                let d = sim.peek("o_host_rdata")?;
                out.push(
                    (0..aw)
                        .map(|b| d.slice(8 * b, 8).to_u64() as u8)
                        .collect::<Vec<u8>>(),
                );
            }
            sim.step();
        }
        Ok(out)
    }
}

impl Session<Sim> {
    /// Closes the waveform; replays the whole session on `tool` if asked (every output of
    /// every cycle must agree) and returns the cycles compared and the recording.
    pub fn finish(
        mut self,
        tool: Option<Tool>,
        work: &Path,
    ) -> Result<(Option<usize>, Option<plume_sim::Recording>)> {
        self.sim.finish_vcd()?;
        let rec = self.sim.take_recording();
        let n = match (tool, &rec) {
            (Some(tool), Some(r)) => Some(
                cosim::check(tool, &self.top, r, work)
                    .context("replaying the run on the emitted Verilog")?,
            ),
            _ => None,
        };
        Ok((n, rec))
    }
}

/// Runs a compiled layer on plume's simulator (and, with `cosim_tool`, replays it on a Verilog
/// simulator). The result is not yet checked against the golden model: see `compare`.
pub fn run(
    sched: &Schedule,
    data: &LayerData,
    vcd: Option<&Path>,
    cosim_tool: Option<Tool>,
    work: &Path,
    keep_recording: bool,
) -> Result<RunResult> {
    let mut ses = Session::new(&sched.cfg, vcd, cosim_tool.is_some() || keep_recording)?;
    ses.load_layer(sched, data)?;
    let (cycles, sim_seconds) = ses.play(&sched.uops)?;
    let lines = sched.out.lines(sched.gemm.m, sched.gemm.n);
    let out_lines = ses.read(sched.out_buf, lines)?;
    let top = ses.top.clone();
    let (cosim_cycles, recording) = ses.finish(cosim_tool, work)?;
    Ok(RunResult {
        out: gather(sched, &out_lines),
        cycles,
        sim_seconds,
        cosim_cycles,
        recording: if keep_recording { recording } else { None },
        top,
    })
}

/// Runs a compiled layer on the programmable top: the loop-compressed program goes into the
/// sequencer's queues and tables, which expand it into the micro-instruction stream in
/// hardware. `cycles` counts from micro-instruction 0 reaching the core, as `run` does.
pub fn run_programmed(
    sched: &Schedule,
    data: &LayerData,
    vcd: Option<&Path>,
    cosim_tool: Option<Tool>,
    work: &Path,
) -> Result<RunResult> {
    let prog = plume_hw::feather::compiler::program::build(sched);
    let seq = SeqConfig::default();
    let mut ses = Session::programmable(&sched.cfg, &seq, vcd, cosim_tool.is_some())?;
    ses.load_layer(sched, data)?;
    let (cycles, sim_seconds) = ses.play_program(&prog, sched.uops.len())?;
    let lines = sched.out.lines(sched.gemm.m, sched.gemm.n);
    let out_lines = ses.read(sched.out_buf, lines)?;
    let top = ses.top.clone();
    let (cosim_cycles, _) = ses.finish(cosim_tool, work)?;
    Ok(RunResult {
        out: gather(sched, &out_lines),
        cycles,
        sim_seconds,
        cosim_cycles,
        recording: None,
        top,
    })
}

/// First differing element, as a message.
pub fn compare(sched: &Schedule, got: &[u8], want: &[u8]) -> Result<()> {
    compare_tensor(got, want, sched.gemm.n)
}

/// The first element where `got` and `want` (row-major, `n` columns) differ, as an error.
pub fn compare_tensor(got: &[u8], want: &[u8], n: usize) -> Result<()> {
    if let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) {
        bail!(
            "output C[{}][{}] = {} but the golden model gives {} ({} of {} elements differ)",
            i / n,
            i % n,
            got[i],
            want[i],
            (0..want.len()).filter(|&i| got[i] != want[i]).count(),
            want.len()
        );
    }
    Ok(())
}

/// Two chained GEMMs, reorder-in-reduction against reorder-after-reduction.
pub struct SwitchReport {
    /// Layer 1 writing layer 2's input placement directly (RIR): cycles of layer 1, layer 2.
    pub rir: (u64, u64),
    /// Layer 1 writing the fixed channel-last layout, a reorder pass, layer 2.
    pub rar: (u64, u64, u64),
    pub layer1: Schedule,
    pub layer2: Schedule,
    pub baseline1: Schedule,
}

/// Layer 1: C1 = A1·B1 (M×K×N1); layer 2: C2 = C1·B2 (M×N1×N2), consuming C1 where layer 1
/// left it. Both variants are cycle-simulated end to end and checked against the golden chain;
/// the reorder pass of the baseline is counted, not simulated: a unit that reads one line
/// and writes one byte per bank per cycle needs at least max(lines read, most bytes bound
/// for one bank) cycles — the baseline gets that lower bound.
pub fn layout_switch(
    cfg: &FeatherConfig,
    g1: Gemm,
    n2: usize,
    seed: u64,
    cache: &mut plume_hw::feather::compiler::route::RouteCache,
) -> Result<SwitchReport> {
    use plume_hw::feather::compiler::mapper::{compile_with, Layout, Options, Out, Stream};
    let g2 = Gemm {
        m: g1.m,
        k: g1.n,
        n: n2,
    };
    let d1 = LayerData::random(g1.m, g1.k, g1.n, seed);
    let mut d2 = LayerData::random(g2.m, g2.k, g2.n, seed ^ 0x5a5a);
    // Layer 2 reads layer 1's quantized output: its iAct zero point and format are layer 1's.
    d2.q.zp_i = d1.q.zp_o;
    d2.q.iact_signed = d1.q.out_signed;
    let c1 = golden::gemm(&d1.a, &d1.b, g1.m, g1.k, g1.n, &d1.q);
    let want = golden::gemm(&c1, &d2.b, g2.m, g2.k, g2.n, &d2.q);
    let aw = cfg.aw as usize;
    let channel_last = Layout { cb: aw, wb: 1 };
    let layer2 = compile_with(
        cfg,
        g2,
        &Options {
            dataflow: Dataflow::Ws,
            out: Out::Layout(channel_last),
            in_buf: 1,
            out_buf: 0,
            single_pn: true,
            stream: Stream::Placed,
            groups: 1,
        },
        cache,
    )?;
    // Layer 1: the faster dataflow for writing layer 2's placement directly.
    let mut best: Option<Schedule> = None;
    for df in [Dataflow::Ws, Dataflow::Is] {
        let opt = Options {
            dataflow: df,
            out: Out::Feed(layer2.map),
            in_buf: 0,
            out_buf: 1,
            single_pn: false,
            stream: Stream::Placed,
            groups: 1,
        };
        if let Ok(s) = compile_with(cfg, g1, &opt, cache) {
            if best.as_ref().is_none_or(|b| s.cycles < b.cycles) {
                best = Some(s);
            }
        }
    }
    let Some(layer1) = best else {
        bail!("no mapping of layer 1 writes layer 2's input placement without bank conflicts");
    };
    let baseline1 = compile_with(
        cfg,
        g1,
        &Options {
            dataflow: layer1.dataflow,
            out: Out::Layout(channel_last),
            in_buf: 0,
            out_buf: 1,
            single_pn: false,
            stream: Stream::Placed,
            groups: 1,
        },
        cache,
    )?;
    let in2_lines = layer2.map.ks * layer2.map.mb * layer2.map.v;
    let pad = vec![vec![d1.q.zp_o; aw]; in2_lines];
    let (s2, w2) = place(&layer2, &c1, &d2.b, d2.q.zp_i, d2.q.zp_w);
    let _ = s2;
    let mut results = Vec::new();
    for (l1, reorder) in [(&layer1, false), (&baseline1, true)] {
        let mut ses = Session::new(cfg, None, false)?;
        ses.set_layer(l1, &d1.q)?;
        let (s1, w1) = place(l1, &d1.a, &d1.b, d1.q.zp_i, d1.q.zp_w);
        // Layer 2's padding holds its zero point; layer 1 writes every real element.
        ses.load(1, &pad)?;
        ses.load(0, &s1)?;
        ses.load(2, &w1)?;
        let (cy1, _) = ses.play(&l1.uops)?;
        let mut cyr = 0;
        if reorder {
            // Reorder after reduction: read layer 1's channel-last output, move every byte to
            // layer 2's placement, write it back (done by the host here; its cost is counted).
            let src_lines = l1.out.lines(g1.m, g1.n);
            let got = ses.read(1, src_lines)?;
            let c1_hw = gather(l1, &got);
            let mut dst = pad.clone();
            let mut per_bank = vec![0u64; aw];
            for m in 0..g1.m {
                for n in 0..g1.n {
                    let (b, line) = layer2_place(&layer2, m, n);
                    dst[line][b] = c1_hw[m * g1.n + n];
                    per_bank[b] += 1;
                }
            }
            cyr = (src_lines as u64).max(per_bank.into_iter().max().unwrap_or(0));
            ses.load(1, &dst)?;
        }
        ses.load(2, &w2)?;
        ses.set_layer(&layer2, &d2.q)?;
        let (cy2, _) = ses.play(&layer2.uops)?;
        let out = ses.read(0, layer2.out.lines(g2.m, g2.n))?;
        compare(&layer2, &gather(&layer2, &out), &want).with_context(|| {
            format!(
                "{} chain",
                if reorder {
                    "reorder-after-reduction"
                } else {
                    "reorder-in-reduction"
                }
            )
        })?;
        results.push((cy1, cyr, cy2));
    }
    Ok(SwitchReport {
        rir: (results[0].0, results[0].2),
        rar: results[1],
        layer1,
        layer2,
        baseline1,
    })
}

/// Where layer 2 streams X[m][k] from (bank, line).
fn layer2_place(layer2: &Schedule, m: usize, k: usize) -> (usize, usize) {
    plume_hw::feather::compiler::mapper::Out::Feed(layer2.map).place(m, k, layer2.gemm.k)
}
