//! The cycle loop. One cycle: inputs are applied (`poke`); combinational logic settles (the
//! tape runs once, in topological order); outputs are sampled (`peek`, and the waveform and
//! recording see the settled values); then the clock edge commits every register and memory
//! write at once (`step`). Reset is synchronous: poke `rst` = 1 across an edge.

use crate::compile::{compile, eval_generic, read_loc, CompileError, Instr, Loc, Program};
use crate::vcd::VcdTrace;
use plume_hw::rtl::bits::words_for;
use plume_hw::rtl::{Bits, Module, ReadDuringWrite};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    Compile(#[from] CompileError),
    #[error("design {design} has no input named '{name}'")]
    NoInput { design: String, name: String },
    #[error("design {design} has no output named '{name}'")]
    NoOutput { design: String, name: String },
    #[error("input '{name}' is {want} bits, value is {got} bits")]
    Width { name: String, want: u32, got: u32 },
    #[error("waveform: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Jit(#[from] crate::jit::JitError),
}

/// Inputs and outputs seen at every cycle, for replay on other simulators.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    pub inputs: Vec<(String, u32)>,
    pub outputs: Vec<(String, u32)>,
    /// Per cycle: input values (in `inputs` order), then the sampled outputs.
    pub cycles: Vec<(Vec<Bits>, Vec<Bits>)>,
}

pub struct Sim {
    prog: Program,
    v: Vec<u64>,
    mems: Vec<MemBuf>,
    staged: Vec<u64>,
    staged_en: Vec<bool>,
    cycle: u64,
    settled: bool,
    vcd: Option<VcdTrace>,
    recording: Option<Recording>,
    /// Where `step` publishes the cycle count for another thread (progress reports).
    watcher: Option<Arc<AtomicU64>>,
    /// The tape in native code (`None`: the interpreter runs it).
    jit: Option<crate::jit::Jit>,
}

impl Sim {
    /// The simulator of `top`, its tape in native code unless `PLUME_JIT=0`.
    pub fn new(top: &Rc<Module>) -> Result<Sim, SimError> {
        Sim::build(top, crate::jit::Jit::enabled())
    }

    /// The simulator of `top` on the tape interpreter alone (the reference native code is
    /// checked against).
    pub fn new_interpreted(top: &Rc<Module>) -> Result<Sim, SimError> {
        Sim::build(top, false)
    }

    fn build(top: &Rc<Module>, native: bool) -> Result<Sim, SimError> {
        let prog = compile(top)?;
        let mut v = vec![0u64; prog.slots];
        for (slot, words) in &prog.consts {
            v[*slot as usize..*slot as usize + words.len()].copy_from_slice(words);
        }
        // Registers start at their reset values, memories at zero.
        let q = prog.fast_q as usize;
        v[q..q + prog.fast_init.len()].copy_from_slice(&prog.fast_init);
        for (&(q, _), &init) in prog.moves.iter().zip(&prog.move_init) {
            v[q as usize] = init;
        }
        for r in &prog.regs {
            v[r.q as usize..r.q as usize + r.init.len()].copy_from_slice(&r.init);
        }
        let mut mems: Vec<MemBuf> = prog.mems.iter().map(MemBuf::new).collect();
        let staged_len: usize = prog
            .mems
            .iter()
            .map(|m| m.reads.len() * words_for(m.width))
            .sum();
        let ports = prog.mems.iter().map(|m| m.reads.len()).sum();
        let summary = std::env::var_os("PLUME_SIM_SUMMARY").is_some();
        if summary {
            eprintln!("plume: {}: {}", prog.top, prog.summary());
        }
        let jit = if native {
            Some(native_code(&prog, &mut mems, false)?)
        } else {
            None
        };
        if let (Some(j), true) = (&jit, summary) {
            eprintln!(
                "plume: {}: {} bytes of native code (tape and clock edge)",
                prog.top, j.code_bytes
            );
        }
        let staged_len = staged_len.max(jit.as_ref().map_or(0, |j| j.staged_words));
        Ok(Sim {
            prog,
            v,
            mems,
            staged: vec![0; staged_len],
            staged_en: vec![false; ports],
            cycle: 0,
            settled: false,
            vcd: None,
            recording: None,
            watcher: None,
            jit,
        })
    }

    pub fn program(&self) -> &Program {
        &self.prog
    }

    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Writes a VCD waveform of every port and named signal, one time step per cycle.
    ///
    /// Native code keeps values nobody outside the tape reads in machine registers only; while
    /// a waveform is written it stores every signal, so opening one recompiles the tape.
    pub fn trace_vcd(&mut self, path: &std::path::Path) -> Result<(), SimError> {
        self.vcd = Some(VcdTrace::create(path, &self.prog)?);
        if self.jit.as_ref().is_some_and(|j| !j.store_all) {
            self.jit = Some(native_code(&self.prog, &mut self.mems, true)?);
            self.settled = false;
        }
        Ok(())
    }

    /// Flushes and closes the waveform (also done on drop).
    pub fn finish_vcd(&mut self) -> Result<(), SimError> {
        if let Some(mut t) = self.vcd.take() {
            t.finish(self.cycle)?;
        }
        Ok(())
    }

    /// Publishes the cycle count in `counter` after every step, for a progress report from
    /// another thread.
    pub fn watch(&mut self, counter: Arc<AtomicU64>) {
        counter.store(self.cycle, Ordering::Relaxed);
        self.watcher = Some(counter);
    }

    /// Starts recording inputs and outputs of every cycle (for co-simulation).
    pub fn record(&mut self) {
        let ports = |order: &[String], map: &std::collections::BTreeMap<String, Loc>| {
            order.iter().map(|n| (n.clone(), map[n].width)).collect()
        };
        self.recording = Some(Recording {
            inputs: ports(&self.prog.input_order, &self.prog.inputs),
            outputs: ports(&self.prog.output_order, &self.prog.outputs),
            cycles: Vec::new(),
        });
    }

    pub fn take_recording(&mut self) -> Option<Recording> {
        self.recording.take()
    }

    pub fn input(&self, name: &str) -> Result<Loc, SimError> {
        self.prog
            .inputs
            .get(name)
            .copied()
            .ok_or_else(|| SimError::NoInput {
                design: self.prog.top.clone(),
                name: name.into(),
            })
    }

    pub fn output(&self, name: &str) -> Result<Loc, SimError> {
        self.prog
            .outputs
            .get(name)
            .copied()
            .ok_or_else(|| SimError::NoOutput {
                design: self.prog.top.clone(),
                name: name.into(),
            })
    }

    pub fn poke(&mut self, name: &str, value: &Bits) -> Result<(), SimError> {
        let l = self.input(name)?;
        if l.width != value.width() {
            return Err(SimError::Width {
                name: name.into(),
                want: l.width,
                got: value.width(),
            });
        }
        self.poke_loc(l, value.words());
        Ok(())
    }

    pub fn poke_u64(&mut self, name: &str, value: u64) -> Result<(), SimError> {
        let l = self.input(name)?;
        let b = Bits::from_u64(l.width, value);
        self.poke_loc(l, b.words());
        Ok(())
    }

    /// Writes an input by location (no lookup; the words must fit the width).
    pub fn poke_loc(&mut self, l: Loc, words: &[u64]) {
        let s = l.slot as usize;
        if l.width <= 64 {
            // One word: a plain store (a slice copy calls memmove).
            self.v[s] = words[0];
        } else {
            self.v[s..s + l.words()].copy_from_slice(&words[..l.words()]);
        }
        self.settled = false;
    }

    pub fn peek(&mut self, name: &str) -> Result<Bits, SimError> {
        let l = self.output(name)?;
        self.settle();
        Ok(read_loc(&self.v, l))
    }

    pub fn peek_u64(&mut self, name: &str) -> Result<u64, SimError> {
        Ok(self.peek(name)?.to_u64())
    }

    /// Reads an output by location after settling.
    pub fn peek_loc(&mut self, l: Loc) -> &[u64] {
        self.settle();
        &self.v[l.slot as usize..l.slot as usize + l.words()]
    }

    /// Any traced signal by hierarchical name (`top.inst.sig`), after settling.
    pub fn peek_path(&mut self, path: &str) -> Option<Bits> {
        self.settle();
        if self.jit.as_ref().is_some_and(|j| !j.store_all) {
            // Native code may not have stored this signal: the interpreter computes every
            // signal (the same values) from the same inputs and state.
            run_tape(&self.prog, &mut self.v);
        }
        let t = self
            .prog
            .traces
            .iter()
            .find(|t| format!("{}.{}", t.scope.join("."), t.name) == path)?;
        Some(read_loc(&self.v, t.loc))
    }

    /// Holds reset for one cycle, then releases it.
    pub fn reset(&mut self) {
        if let Some(r) = self.prog.rst {
            self.v[r as usize] = 1;
            self.settled = false;
            self.step();
            self.v[r as usize] = 0;
            self.settled = false;
        }
    }

    pub fn settle(&mut self) {
        if self.settled {
            return;
        }
        match &self.jit {
            Some(j) => j.run(&self.prog, &mut self.v),
            None => run_tape(&self.prog, &mut self.v),
        }
        self.settled = true;
    }

    /// Completes the cycle: settle, sample (waveform, recording), clock edge.
    pub fn step(&mut self) {
        self.settle();
        if let Some(t) = &mut self.vcd {
            // A failing waveform write must not change the simulation; it is reported at finish.
            t.sample(self.cycle, &self.v);
        }
        if let Some(rec) = &mut self.recording {
            let ins = self
                .prog
                .input_order
                .iter()
                .map(|n| read_loc(&self.v, self.prog.inputs[n]))
                .collect();
            let outs = self
                .prog
                .output_order
                .iter()
                .map(|n| read_loc(&self.v, self.prog.outputs[n]))
                .collect();
            rec.cycles.push((ins, outs));
        }
        self.edge();
        self.cycle += 1;
        self.settled = false;
        if let Some(w) = &self.watcher {
            w.store(self.cycle, Ordering::Relaxed);
        }
    }

    fn edge(&mut self) {
        if let Some(j) = &self.jit {
            let p = &self.prog;
            let rst = p.rst.is_some_and(|r| self.v[r as usize] & 1 == 1);
            j.edge(p, &mut self.v, &mut self.staged, rst, |v| {
                if rst {
                    commit_moves(p, v, rst);
                }
                commit_fast(p, v, rst);
                if rst {
                    for r in &p.regs {
                        v[r.q as usize..r.q as usize + r.init.len()].copy_from_slice(&r.init);
                    }
                }
            });
            return;
        }
        let v = &mut self.v;
        // 1. Memory reads see the contents before this edge's writes; enables are sampled now,
        //    before any register changes.
        let (mut k, mut port) = (0, 0);
        for (m, st) in self.prog.mems.iter().enumerate() {
            let ww = words_for(st.width);
            for &(addr, en, _) in &st.reads {
                let enabled = en.map_or(true, |e| v[e as usize] & 1 == 1);
                self.staged_en[port] = enabled;
                if enabled {
                    let a = v[addr as usize] as usize;
                    if ww == 1 {
                        // One word: a plain move (a slice copy calls memmove).
                        self.staged[k] = if a < st.depth as usize {
                            self.mems[m].get(a)
                        } else {
                            0
                        };
                    } else {
                        let out = &mut self.staged[k..k + ww];
                        if a < st.depth as usize {
                            out.copy_from_slice(&self.mems[m].words[a * ww..(a + 1) * ww]);
                        } else {
                            out.fill(0);
                        }
                    }
                    let out = &mut self.staged[k..k + ww];
                    if st.read_during_write == ReadDuringWrite::WriteFirst {
                        for &(wa, wd, we) in &st.writes {
                            if v[we as usize] & 1 == 1 && v[wa as usize] as usize == a {
                                out.copy_from_slice(&v[wd as usize..wd as usize + ww]);
                            }
                        }
                    }
                }
                k += ww;
                port += 1;
            }
        }
        // 2. Memory writes, in port order (a later port wins on the same address; writes past
        //    the depth are dropped).
        for (m, st) in self.prog.mems.iter().enumerate() {
            let ww = words_for(st.width);
            for &(wa, wd, we) in &st.writes {
                let a = v[wa as usize] as usize;
                if v[we as usize] & 1 == 1 && a < st.depth as usize {
                    if ww == 1 {
                        self.mems[m].set(a, v[wd as usize]);
                    } else {
                        self.mems[m].words[a * ww..(a + 1) * ww]
                            .copy_from_slice(&v[wd as usize..wd as usize + ww]);
                    }
                }
            }
        }
        // 3. Registers (their d and enable never alias state: see compile.rs).
        let rst = self.prog.rst.is_some_and(|r| v[r as usize] & 1 == 1);
        commit_moves(&self.prog, v, rst);
        commit_fast(&self.prog, v, rst);
        for r in &self.prog.regs {
            let q = r.q as usize;
            if rst {
                v[q..q + r.init.len()].copy_from_slice(&r.init);
            } else if r.en.map_or(true, |e| v[e as usize] & 1 == 1) {
                if r.words == 1 {
                    v[q] = v[r.d as usize];
                } else {
                    v.copy_within(r.d as usize..r.d as usize + r.words as usize, q);
                }
            }
        }
        // 4. Read-data registers take the staged words; disabled ports hold their value.
        let (mut k, mut port) = (0, 0);
        for st in &self.prog.mems {
            let ww = words_for(st.width);
            for &(_, _, rd) in &st.reads {
                if self.staged_en[port] {
                    if ww == 1 {
                        v[rd as usize] = self.staged[k];
                    } else {
                        v[rd as usize..rd as usize + ww].copy_from_slice(&self.staged[k..k + ww]);
                    }
                }
                k += ww;
                port += 1;
            }
        }
    }
}

/// A memory's contents. Lines of one word are packed at the narrowest of 1, 2, 4 or 8 bytes
/// that holds their width (an array of small memories — a weight file per PE — then stays in
/// the data cache); wider lines take whole words.
struct MemBuf {
    words: Vec<u64>,
    /// Bytes per line.
    line: usize,
}

impl MemBuf {
    fn new(m: &crate::compile::MemState) -> MemBuf {
        let line = crate::compile::line_bytes(m.width);
        let mut b = MemBuf {
            words: vec![0u64; (m.depth as usize * line).div_ceil(8)],
            line,
        };
        if let Some(init) = &m.init {
            if line >= 8 {
                let n = init.len().min(b.words.len());
                b.words[..n].copy_from_slice(&init[..n]);
            } else {
                for (a, &x) in init.iter().enumerate().take(m.depth as usize) {
                    b.set(a, x);
                }
            }
        }
        b
    }

    /// Line `a` of a memory of one-word lines (`a` below the depth).
    fn get(&self, a: usize) -> u64 {
        let at = a * self.line;
        let bytes = self.bytes();
        match self.line {
            1 => bytes[at] as u64,
            2 => u16::from_le_bytes([bytes[at], bytes[at + 1]]) as u64,
            4 => u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as u64,
            _ => self.words[a],
        }
    }

    fn set(&mut self, a: usize, x: u64) {
        let at = a * self.line;
        let line = self.line;
        if line >= 8 {
            self.words[a] = x;
            return;
        }
        // SAFETY: the byte view covers exactly the words' storage.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(self.words.as_mut_ptr() as *mut u8, self.words.len() * 8)
        };
        bytes[at..at + line].copy_from_slice(&x.to_le_bytes()[..line]);
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: as in `set`.
        unsafe {
            std::slice::from_raw_parts(self.words.as_ptr() as *const u8, self.words.len() * 8)
        }
    }
}

/// `prog` in native code, addressing the memories `mems` where they are: their buffers are
/// never resized, so they never move while the `Sim` owning both lives.
fn native_code(
    prog: &Program,
    mems: &mut [MemBuf],
    store_all: bool,
) -> Result<crate::jit::Jit, crate::jit::JitError> {
    let bases: Vec<*mut u64> = mems.iter_mut().map(|m| m.words.as_mut_ptr()).collect();
    crate::jit::Jit::compile(prog, &bases, store_all)
}

/// The registers committed by moves, in their order (or their reset values).
fn commit_moves(p: &Program, v: &mut [u64], rst: bool) {
    for (&(q, src), &init) in p.moves.iter().zip(&p.move_init) {
        v[q as usize] = if rst { init } else { v[src as usize] };
    }
}

/// The one-word registers without enable: one block copy (or their reset values).
fn commit_fast(p: &Program, v: &mut [u64], rst: bool) {
    let (q, d, count) = (p.fast_q as usize, p.fast_d as usize, p.fast_init.len());
    if rst {
        v[q..q + count].copy_from_slice(&p.fast_init);
    } else {
        v.copy_within(d..d + count, q);
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.finish_vcd();
    }
}

/// One settle: every instruction once, in order.
pub fn run_tape(p: &Program, v: &mut [u64]) {
    for ins in &p.tape {
        exec(p, ins, v);
    }
}

/// One tape instruction (the interpreter's step; native code calls it for instructions it
/// does not compile).
#[inline(always)]
pub(crate) fn exec(p: &Program, ins: &Instr, v: &mut [u64]) {
    // SAFETY: compile() asserts that every slot an instruction names, and every table entry,
    // lies inside the value array, and Sim allocates exactly `p.slots` words.
    macro_rules! r {
        ($i:expr) => {
            unsafe { *v.get_unchecked($i as usize) }
        };
    }
    macro_rules! w {
        ($i:expr, $x:expr) => {{
            let x = $x;
            unsafe { *v.get_unchecked_mut($i as usize) = x }
        }};
    }
    match *ins {
        Instr::Not { d, a, m } => w!(d, !r!(a) & m),
        Instr::Add { d, a, b, m } => w!(d, r!(a).wrapping_add(r!(b)) & m),
        Instr::Sub { d, a, b, m } => w!(d, r!(a).wrapping_sub(r!(b)) & m),
        Instr::And { d, a, b } => w!(d, r!(a) & r!(b)),
        Instr::Or { d, a, b } => w!(d, r!(a) | r!(b)),
        Instr::Xor { d, a, b } => w!(d, r!(a) ^ r!(b)),
        Instr::MulU { d, a, b, m } => w!(d, r!(a).wrapping_mul(r!(b)) & m),
        Instr::MulS { d, a, b, sa, sb, m } => {
            let x = ((r!(a) << sa) as i64) >> sa;
            let y = ((r!(b) << sb) as i64) >> sb;
            w!(d, (x.wrapping_mul(y) as u64) & m);
        }
        Instr::Eq { d, a, b } => w!(d, (r!(a) == r!(b)) as u64),
        Instr::Ne { d, a, b } => w!(d, (r!(a) != r!(b)) as u64),
        Instr::LtU { d, a, b } => w!(d, (r!(a) < r!(b)) as u64),
        Instr::LeU { d, a, b } => w!(d, (r!(a) <= r!(b)) as u64),
        Instr::LtS { d, a, b, sh } => {
            w!(d, (((r!(a) << sh) as i64) < ((r!(b) << sh) as i64)) as u64)
        }
        Instr::LeS { d, a, b, sh } => {
            w!(d, (((r!(a) << sh) as i64) <= ((r!(b) << sh) as i64)) as u64)
        }
        Instr::Shl { d, a, b, w, m } => {
            let n = r!(b);
            w!(d, if n >= w as u64 { 0 } else { (r!(a) << n) & m });
        }
        Instr::Shr { d, a, b, w } => {
            let n = r!(b);
            w!(d, if n >= w as u64 { 0 } else { r!(a) >> n });
        }
        Instr::Sra { d, a, b, sh, m } => {
            let n = r!(b).min(63);
            let x = ((r!(a) << sh) as i64) >> sh;
            w!(d, ((x >> n) as u64) & m);
        }
        Instr::RedAnd { d, a, m } => w!(d, (r!(a) == m) as u64),
        Instr::RedOr { d, a } => w!(d, (r!(a) != 0) as u64),
        Instr::RedXor { d, a } => w!(d, (r!(a).count_ones() & 1) as u64),
        Instr::Mux { d, s, a, b } => w!(d, if r!(s) & 1 == 1 { r!(a) } else { r!(b) }),
        Instr::Select { d, s, start, .. } => {
            // The selector is below 2^width and the table has 2^width entries (IR check).
            let src = p.sel_table[start as usize + r!(s) as usize];
            w!(d, r!(src));
        }
        Instr::Slice1 { d, a, sh, m } => w!(d, (r!(a) >> sh) & m),
        Instr::Slice2 { d, a, sh, m } => w!(d, ((r!(a) >> sh) | (r!(a + 1) << (64 - sh))) & m),
        Instr::Sext { d, a, sh, m } => w!(d, ((((r!(a) << sh) as i64) >> sh) as u64) & m),
        Instr::Cat { d, start, len } => {
            let mut acc = 0u64;
            for &(slot, shift) in &p.cat_table[start as usize..(start + len) as usize] {
                acc |= r!(slot) << shift;
            }
            w!(d, acc);
        }
        Instr::CatWide {
            d,
            words,
            start,
            len,
        } => {
            v[d as usize..(d + words) as usize].fill(0);
            for &(slot, lo, w) in &p.deposit_table[start as usize..(start + len) as usize] {
                let x = r!(slot);
                let (wi, b) = ((d + lo / 64) as usize, lo % 64);
                v[wi] |= x << b;
                if b != 0 && b + w > 64 {
                    v[wi + 1] |= x >> (64 - b);
                }
            }
        }
        Instr::Copy { d, a, n } => {
            if n == 1 {
                w!(d, r!(a));
            } else {
                v.copy_within(a as usize..(a + n) as usize, d as usize);
            }
        }
        Instr::Generic(ref g) => eval_generic(g, v),
    }
}
