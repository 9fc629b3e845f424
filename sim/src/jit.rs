//! Native code for the settle tape and the clock edge, through Cranelift: each tape instruction
//! becomes a few machine instructions on the value array (load the operand words, compute,
//! store only what is read outside the function), in the tape's order, split into functions of
//! `CHUNK` instructions so a large design compiles in pieces; the edge's memory ports, moves and
//! enabled registers follow the interpreter's edge step for step. The few wide operations
//! without a native form (multiplies, shifts, ordering comparisons and reductions over 64 bits)
//! call back into the interpreter for that one instruction, so every design runs natively and
//! the interpreter stays the reference (`PLUME_JIT=0` runs it alone).

use crate::compile::{Generic, Instr, Loc, Program, RegCommit};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlags, Signature, Value};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};
use plume_hw::rtl::bits::top_mask;
use plume_hw::rtl::bits::words_for;
use plume_hw::rtl::ir::{BinOp, CmpOp, Op};
use plume_hw::rtl::ReadDuringWrite;
use std::collections::HashMap;

/// Tape instructions per native function.
const CHUNK: usize = 2048;
/// Tape instructions over which a value that is also stored stays in a machine register (then
/// it is loaded again): FEATHER 16×16's native code has 21,241 instructions with 564 stack
/// accesses at 256, 21,653 with 873 when values are held for the whole function.
const FORWARD_WINDOW: usize = 256;
/// Memory ports or registers per native function of the clock edge.
const EDGE_CHUNK: usize = 512;

/// Every native function takes the value array and one more pointer (the program for the
/// tape's interpreter callback, the staging words for the clock edge).
type Chunk = unsafe extern "C" fn(*mut u64, *const u8);

/// The compiled tape and clock edge: call `run` where the interpreter would run the tape and
/// `edge` where it would commit the state.
pub struct Jit {
    module: Option<JITModule>,
    chunks: Vec<Chunk>,
    /// Edge, memories: every read port's next read data into the staging words (its old value
    /// when disabled), then the writes.
    mem_fns: Vec<Chunk>,
    /// Edge, the registers committed by moves (`Program::moves`), in order.
    move_fns: Vec<Chunk>,
    /// Edge, registers with an enable or wider than a word (the others are one block copy).
    reg_fns: Vec<Chunk>,
    /// Edge, last: staged read data into the read-data slots.
    rd_fns: Vec<Chunk>,
    /// Staging words the edge needs.
    pub staged_words: usize,
    /// Whether every value the tape computes is stored (see `compile`).
    pub store_all: bool,
    /// Machine code bytes of the tape and the clock edge.
    pub code_bytes: usize,
    /// Where the edge's native code sends memory writes that do not happen.
    _sink: Vec<u64>,
    /// Slot tables of wide selects, addressed by the native code.
    _tables: Vec<Box<[u32]>>,
}

impl Drop for Jit {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: the functions are only reachable through `self.chunks`, dropped with us.
            unsafe { m.free_memory() };
        }
    }
}

/// Executes tape instruction `idx` with the interpreter (the callback for instructions that
/// have no native form).
unsafe extern "C" fn exec_one(v: *mut u64, p: *const Program, idx: u64) {
    // SAFETY: called only from code compiled for this program, with its value array.
    let p = unsafe { &*p };
    let v = unsafe { std::slice::from_raw_parts_mut(v, p.slots) };
    crate::engine::exec(p, &p.tape[idx as usize], v);
}

#[derive(Debug, thiserror::Error)]
#[error("native code generation failed: {0}")]
pub struct JitError(String);

fn err(e: impl std::fmt::Display) -> JitError {
    JitError(e.to_string())
}

impl Jit {
    /// Whether native code is wanted (`PLUME_JIT=0` turns it off).
    pub fn enabled() -> bool {
        std::env::var("PLUME_JIT").map_or(true, |v| v != "0")
    }

    /// Compiles the tape of `p`, and its clock edge for memories whose contents start at
    /// `mem_base` (one pointer per memory of `p.mems`, to `depth` lines of
    /// `compile::line_bytes(width)` bytes each, valid and never moved for as long as the
    /// returned code runs).
    ///
    /// With `store_all` every value the tape computes is left in the value array (for
    /// waveforms); otherwise only those seen outside the tape or in another native function,
    /// the rest living in machine registers only.
    pub fn compile(p: &Program, mem_base: &[*mut u64], store_all: bool) -> Result<Jit, JitError> {
        assert_eq!(mem_base.len(), p.mems.len());
        let keep = if store_all {
            vec![true; p.slots]
        } else {
            stored_slots(p)
        };
        let clean = clean_slots(p, &keep);
        // Slots the tape may leave unmasked: its results outside `clean`.
        let mut clean_now = vec![true; p.slots];
        for ins in &p.tape {
            p.writes(ins, |s| clean_now[s as usize] = clean[s as usize]);
        }
        let mut flags = settings::builder();
        flags.set("opt_level", "speed").map_err(err)?;
        flags.set("is_pic", "false").map_err(err)?;
        // The generated code is checked against the interpreter by tests, not at every build.
        flags.set("enable_verifier", "false").map_err(err)?;
        let isa = cranelift_native::builder()
            .map_err(err)?
            .finish(settings::Flags::new(flags))
            .map_err(err)?;
        let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
        jb.symbol("plume_exec_one", exec_one as *const u8);
        let module = JITModule::new(jb);
        let ptr = module.target_config().pointer_type();
        let mut w = Writer {
            module,
            ctx: None,
            fctx: FunctionBuilderContext::new(),
            count: 0,
            code_bytes: 0,
        };
        w.ctx = Some(w.module.make_context());
        let mut helper_sig = w.module.make_signature();
        helper_sig.params.extend([
            AbiParam::new(ptr),
            AbiParam::new(ptr),
            AbiParam::new(types::I64),
        ]);
        let helper = w
            .module
            .declare_function("plume_exec_one", Linkage::Import, &helper_sig)
            .map_err(err)?;
        let mut tape = Vec::new();
        let mut tables = Vec::new();
        for (k, part) in p.tape.chunks(CHUNK).enumerate() {
            tape.push(w.define("plume_tape".into(), |b, module, vp, pp| {
                let href = module.declare_func_in_func(helper, b.func);
                let mut known = HashMap::new();
                for (i, ins) in part.iter().enumerate() {
                    if i % FORWARD_WINDOW == 0 {
                        // Stored values are reloaded rather than held in machine registers
                        // across long stretches (fewer spills to the stack).
                        known.retain(|s, _| !keep[*s as usize]);
                    }
                    if !emit(b, p, ins, vp, &mut known, &mut tables, (&keep, &clean_now)) {
                        let idx = b.ins().iconst(types::I64, (k * CHUNK + i) as i64);
                        b.ins().call(href, &[vp, pp, idx]);
                        // The interpreter may have written any slot.
                        known.clear();
                    }
                }
            })?);
        }
        let sink = vec![0u64; p.mems.iter().map(|m| words_for(m.width)).max().unwrap_or(1)];
        let edge = Edge::plan(p, mem_base, sink.as_ptr() as i64);
        let mut mem_fns = Vec::new();
        for part in edge.ports.chunks(EDGE_CHUNK) {
            mem_fns.push(w.define("plume_edge_memories".into(), |b, _, vp, sp| {
                // Slots loaded once per function: memory lines never alias the value array,
                // and the only stores into it (read data) update the map.
                let mut known = HashMap::new();
                for port in part {
                    port.emit_reads(b, vp, sp, &mut known);
                }
                // Writes after every read. A memory with one write port commits under a
                // branch on its enable, one branch for all such memories sharing it (a
                // NEST row's weight files); the others write without a branch, in port order.
                let mut groups: Vec<(u32, Vec<&MemEdge>)> = Vec::new();
                let mut group_of = HashMap::new();
                for port in part {
                    match port.writes[..] {
                        [(_, _, en)] => {
                            let g = *group_of.entry(en).or_insert_with(|| {
                                groups.push((en, Vec::new()));
                                groups.len() - 1
                            });
                            groups[g].1.push(port);
                        }
                        _ => port.emit_writes(b, vp, &mut known),
                    }
                }
                for (en, ports) in groups {
                    let e = load_slot(b, vp, en, &mut known);
                    let on = b.ins().band_imm(e, 1);
                    let (commit, after) = (b.create_block(), b.create_block());
                    b.ins().brif(on, commit, &[], after, &[]);
                    b.switch_to_block(commit);
                    // Values loaded under the branch are not available after it.
                    let mut inner = known.clone();
                    for port in ports {
                        port.emit_write(b, vp, &mut inner, port.writes[0], true);
                    }
                    b.ins().jump(after, &[]);
                    b.switch_to_block(after);
                }
            })?);
        }
        let mut move_fns = Vec::new();
        for part in p.moves.chunks(EDGE_CHUNK * 4) {
            move_fns.push(w.define("plume_edge_moves".into(), |b, _, vp, _| {
                let fl = MemFlags::trusted();
                for &(q, src) in part {
                    let x = b.ins().load(types::I64, fl, vp, (src * 8) as i32);
                    b.ins().store(fl, x, vp, (q * 8) as i32);
                }
            })?);
        }
        // Registers sharing an enable commit under one test of it (their order does not
        // matter: no register's d or enable is another's q).
        let mut regs: Vec<&RegCommit> = p.regs.iter().collect();
        regs.sort_by_key(|r| r.en);
        let mut reg_fns = Vec::new();
        for part in regs.chunks(EDGE_CHUNK) {
            reg_fns.push(w.define("plume_edge_registers".into(), |b, _, vp, _| {
                for group in part.chunk_by(|x, y| x.en == y.en) {
                    emit_regs(b, group, vp);
                }
            })?);
        }
        let mut rd_fns = Vec::new();
        for part in edge.read_data.chunks(EDGE_CHUNK * 4) {
            rd_fns.push(w.define("plume_edge_read_data".into(), |b, _, vp, sp| {
                let fl = MemFlags::trusted();
                for &(rd, k) in part {
                    let x = b.ins().load(types::I64, fl, sp, (k * 8) as i32);
                    b.ins().store(fl, x, vp, (rd * 8) as i32);
                }
            })?);
        }
        w.module.finalize_definitions().map_err(err)?;
        let get = |m: &JITModule, ids: &[FuncId]| -> Vec<Chunk> {
            ids.iter()
                .map(|&id| {
                    let f = m.get_finalized_function(id);
                    // SAFETY: defined by `Writer::define` with the `Chunk` signature.
                    unsafe { std::mem::transmute::<*const u8, Chunk>(f) }
                })
                .collect()
        };
        Ok(Jit {
            chunks: get(&w.module, &tape),
            mem_fns: get(&w.module, &mem_fns),
            move_fns: get(&w.module, &move_fns),
            reg_fns: get(&w.module, &reg_fns),
            rd_fns: get(&w.module, &rd_fns),
            staged_words: edge.staged_words,
            store_all,
            code_bytes: w.code_bytes,
            _sink: sink,
            _tables: tables,
            module: Some(w.module),
        })
    }

    /// Runs the tape on `v`, the value array of `p` (`p.slots` words).
    pub fn run(&self, p: &Program, v: &mut [u64]) {
        assert_eq!(v.len(), p.slots);
        for f in &self.chunks {
            // SAFETY: compiled for `p`, whose slots all lie inside `v` (compile() checks).
            unsafe { f(v.as_mut_ptr(), p as *const Program as *const u8) };
        }
    }

    /// The clock edge of `p` on `v` (after the tape has settled it): memory reads and writes,
    /// then the moved registers, the block of registers (`fast`, the caller's block copy),
    /// the other registers (none of them while `rst` is high: `fast` loads reset values
    /// then), then the read data. Same order and results as the interpreter's edge.
    pub fn edge(
        &self,
        p: &Program,
        v: &mut [u64],
        staged: &mut [u64],
        rst: bool,
        fast: impl FnOnce(&mut [u64]),
    ) {
        assert_eq!(v.len(), p.slots);
        assert!(staged.len() >= self.staged_words);
        let sp = staged.as_mut_ptr() as *const u8;
        // SAFETY: compiled for `p` (slots inside `v`, memories at the addresses given to
        // `compile`), staging words inside `staged` (checked above).
        unsafe {
            for f in &self.mem_fns {
                f(v.as_mut_ptr(), sp);
            }
        }
        if !rst {
            for f in &self.move_fns {
                // SAFETY: as above.
                unsafe { f(v.as_mut_ptr(), sp) };
            }
        }
        fast(v);
        if !rst {
            for f in &self.reg_fns {
                // SAFETY: as above.
                unsafe { f(v.as_mut_ptr(), sp) };
            }
        }
        for f in &self.rd_fns {
            // SAFETY: as above.
            unsafe { f(v.as_mut_ptr(), sp) };
        }
    }
}

/// Whether an instruction may call back into the interpreter (which reads and writes the
/// value array, not the native code's registers).
fn may_fall_back(ins: &Instr) -> bool {
    matches!(
        ins,
        Instr::Generic(_) | Instr::Slice2 { .. } | Instr::Cat { .. }
    )
}

/// The slots the tape's native code must store: those seen outside the tape
/// (`Program::observed`), those read by an instruction in another function, those read
/// through memory (select choices, wide operations' operands), and everything written in a
/// function that may call the interpreter.
fn stored_slots(p: &Program) -> Vec<bool> {
    let mut keep = p.observed();
    let mut writer = vec![usize::MAX; p.slots];
    for (i, ins) in p.tape.iter().enumerate() {
        p.writes(ins, |s| writer[s as usize] = i / CHUNK);
    }
    let calls: Vec<bool> = p
        .tape
        .chunks(CHUNK)
        .map(|c| c.iter().any(|i| may_fall_back(i) && !native_narrow(p, i)))
        .collect();
    for (i, ins) in p.tape.iter().enumerate() {
        let c = i / CHUNK;
        let through_memory = matches!(ins, Instr::Select { .. } | Instr::Generic(_));
        p.reads(ins, |s| {
            let w = writer[s as usize];
            if w != usize::MAX && (w != c || through_memory || calls[c]) {
                keep[s as usize] = true;
            }
        });
        if calls[c] {
            p.writes(ins, |s| keep[s as usize] = true);
        }
    }
    keep
}

/// The slots whose bits above their width must be zero when the native code computes them:
/// those stored (`keep`) and those some reader looks at above their width. The others are
/// left unmasked: read only by operations whose result's bits depend on the operands' bits
/// below the result's width (addition, subtraction, product, negation, left shift, slices
/// inside the operand), by sign extensions from the operand's width, by a mux as its select
/// bit, or by logic whose own result may carry such bits.
fn clean_slots(p: &Program, keep: &[bool]) -> Vec<bool> {
    let mut clean = keep.to_vec();
    let width = |s: u32| p.widths.get(s as usize).copied().unwrap_or(0);
    let bits = |m: u64| 64 - m.leading_zeros();
    for ins in p.tape.iter().rev() {
        let result = |d: u32| clean[d as usize];
        // Operand `s` may carry garbage above its width when the reader uses only its
        // `used` low bits and `s` is at least that wide.
        let loose = |s: u32, used: u32| used <= width(s);
        let mut whole = Vec::new();
        let mut need = |s: u32, w: bool| {
            if w {
                whole.push(s)
            }
        };
        match *ins {
            Instr::Not { a, m, .. } => need(a, !loose(a, bits(m))),
            Instr::Slice1 { a, sh, m, .. } => need(a, !loose(a, sh + bits(m))),
            Instr::Sext { a, sh, .. } => need(a, !loose(a, 64 - sh)),
            Instr::Add { a, b, m, .. }
            | Instr::Sub { a, b, m, .. }
            | Instr::MulU { a, b, m, .. } => {
                need(a, !loose(a, bits(m)));
                need(b, !loose(b, bits(m)))
            }
            Instr::MulS { a, b, sa, sb, .. } => {
                need(a, !loose(a, 64 - sa));
                need(b, !loose(b, 64 - sb))
            }
            Instr::Shl { a, b, m, .. } => {
                need(a, !loose(a, bits(m)));
                need(b, true)
            }
            Instr::And { d, a, b } | Instr::Or { d, a, b } | Instr::Xor { d, a, b } => {
                let w = width(d);
                need(a, result(d) || !loose(a, w) || w == 0);
                need(b, result(d) || !loose(b, w) || w == 0)
            }
            Instr::Mux { d, s, a, b } => {
                let w = width(d);
                need(s, !loose(s, 1));
                need(a, result(d) || !loose(a, w) || w == 0);
                need(b, result(d) || !loose(b, w) || w == 0)
            }
            _ => p.reads(ins, |s| need(s, true)),
        }
        for s in whole {
            clean[s as usize] = true;
        }
    }
    clean
}

/// Narrow instructions `emit` always compiles (the cheap exceptions of `may_fall_back`).
fn native_narrow(p: &Program, ins: &Instr) -> bool {
    match *ins {
        Instr::Slice2 { sh, .. } => sh != 0 && sh < 64,
        Instr::Cat { start, len, .. } => p.cat_table[start as usize..(start + len) as usize]
            .iter()
            .all(|&(_, sh)| sh < 64),
        Instr::Generic(ref g) => wide_native(g),
        _ => false,
    }
}

/// Whether `emit_wide` compiles a wide operation.
fn wide_native(g: &Generic) -> bool {
    match &g.op {
        Op::Not(_)
        | Op::Bin(..)
        | Op::Mux { .. }
        | Op::Slice { .. }
        | Op::Extend(_)
        | Op::Cat(_) => true,
        Op::Cmp(op, ..) => matches!(op, CmpOp::Eq | CmpOp::Ne),
        Op::Select { .. } => g.args[1..].iter().all(|a| a.words() == g.d.words()),
        _ => false,
    }
}

/// Builds native functions one at a time into one module.
struct Writer {
    module: JITModule,
    ctx: Option<cranelift_codegen::Context>,
    fctx: FunctionBuilderContext,
    count: usize,
    /// Machine code bytes defined so far.
    code_bytes: usize,
}

impl Writer {
    /// Defines a function `(v, extra)` whose body `body` writes given the builder, the module,
    /// and the two parameters.
    fn define(
        &mut self,
        name: String,
        body: impl FnOnce(&mut FunctionBuilder, &mut JITModule, Value, Value),
    ) -> Result<FuncId, JitError> {
        let ptr = self.module.target_config().pointer_type();
        let mut sig: Signature = self.module.make_signature();
        sig.params.extend([AbiParam::new(ptr), AbiParam::new(ptr)]);
        let mut ctx = self.ctx.take().expect("context");
        ctx.func.signature = sig.clone();
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            b.seal_block(entry);
            let (vp, xp) = (b.block_params(entry)[0], b.block_params(entry)[1]);
            body(&mut b, &mut self.module, vp, xp);
            b.ins().return_(&[]);
            b.seal_all_blocks();
            b.finalize();
        }
        let id = self
            .module
            .declare_function(&format!("{name}_{}", self.count), Linkage::Local, &sig)
            .map_err(err)?;
        self.count += 1;
        let r = self.module.define_function(id, &mut ctx).map_err(err);
        if let Some(c) = ctx.compiled_code() {
            self.code_bytes += c.code_info().total_size as usize;
        }
        self.module.clear_context(&mut ctx);
        self.ctx = Some(ctx);
        r?;
        Ok(id)
    }
}

/// One memory's share of the clock edge.
struct MemEdge {
    base: i64,
    /// No address can reach past the end (`MemState::always_inside`).
    always_inside: bool,
    /// Bytes per line (`compile::line_bytes`).
    line: u32,
    /// Where writes that do not happen go (shared by every memory).
    sink: i64,
    depth: u32,
    words: u32,
    write_first: bool,
    /// (address slot, enable slot, read-data slot, first staging word: `None` when the
    /// read data goes straight to its slot, as no memory port of this edge reads that slot)
    reads: Vec<(u32, Option<u32>, u32, Option<u32>)>,
    /// (address, data, enable) slots
    writes: Vec<(u32, u32, u32)>,
}

/// The clock edge's memory work, laid out for code generation.
struct Edge {
    ports: Vec<MemEdge>,
    /// (read-data slot word, staging word) pairs, one per word.
    read_data: Vec<(u32, u32)>,
    staged_words: usize,
}

impl Edge {
    fn plan(p: &Program, mem_base: &[*mut u64], sink: i64) -> Edge {
        // Slots the edge reads: a read-data slot among them (a memory port's operand, a move's
        // source) is staged, so every reader sees the value from before the edge.
        let mut operand = std::collections::HashSet::new();
        p.edge_reads(|s| {
            operand.insert(s);
        });
        let mut k = 0u32;
        let mut read_data = Vec::new();
        let ports = p
            .mems
            .iter()
            .zip(mem_base)
            .map(|(m, &base)| {
                let ww = words_for(m.width) as u32;
                let reads = m
                    .reads
                    .iter()
                    .map(|&(a, en, rd)| {
                        if (rd..rd + ww).all(|s| !operand.contains(&s)) {
                            return (a, en, rd, None);
                        }
                        let first = k;
                        for w in 0..ww {
                            read_data.push((rd + w, k + w));
                        }
                        k += ww;
                        (a, en, rd, Some(first))
                    })
                    .collect();
                MemEdge {
                    base: base as i64,
                    always_inside: m.always_inside,
                    line: crate::compile::line_bytes(m.width) as u32,
                    sink,
                    depth: m.depth,
                    words: ww,
                    write_first: m.read_during_write == ReadDuringWrite::WriteFirst,
                    reads,
                    writes: m.writes.clone(),
                }
            })
            .collect();
        Edge {
            ports,
            read_data,
            staged_words: k as usize,
        }
    }
}

impl MemEdge {
    /// Reads: each port's next read data, or its present one when disabled, into its
    /// read-data slot or the staging words at `sp`.
    fn emit_reads(
        &self,
        b: &mut FunctionBuilder,
        vp: Value,
        sp: Value,
        known: &mut HashMap<u32, Value>,
    ) {
        let fl = MemFlags::trusted();
        let ld = |b: &mut FunctionBuilder, known: &mut HashMap<u32, Value>, s: u32| {
            load_slot(b, vp, s, known)
        };
        for &(addr, en, rd, first) in &self.reads {
            let a = ld(b, known, addr);
            let zero = b.ins().iconst(types::I64, 0);
            let inside = (!self.always_inside).then(|| {
                b.ins()
                    .icmp_imm(IntCC::UnsignedLessThan, a, self.depth as i64)
            });
            let idx = match inside {
                Some(i) => b.ins().select(i, a, zero),
                None => a,
            };
            let off = b.ins().imul_imm(idx, self.line as i64);
            let base = b.ins().iconst(types::I64, self.base);
            let at = b.ins().iadd(base, off);
            let hit: Vec<Value> = self
                .writes
                .iter()
                .filter(|_| self.write_first)
                .map(|&(wa, _, we)| {
                    let (wav, wev) = (ld(b, known, wa), ld(b, known, we));
                    let same = b.ins().icmp(IntCC::Equal, wav, a);
                    let on = b.ins().band_imm(wev, 1);
                    let on = b.ins().icmp_imm(IntCC::NotEqual, on, 0);
                    b.ins().band(same, on)
                })
                .collect();
            let enabled = en.map(|e| {
                let x = ld(b, known, e);
                b.ins().band_imm(x, 1)
            });
            for w in 0..self.words {
                let x = match self.line {
                    1 => b.ins().uload8(types::I64, fl, at, 0),
                    2 => b.ins().uload16(types::I64, fl, at, 0),
                    4 => b.ins().uload32(fl, at, 0),
                    _ => b.ins().load(types::I64, fl, at, (w * 8) as i32),
                };
                let mut x = match inside {
                    Some(i) => b.ins().select(i, x, zero),
                    None => x,
                };
                for (h, &(_, wd, _)) in hit.iter().zip(&self.writes) {
                    let y = ld(b, known, wd + w);
                    x = b.ins().select(*h, y, x);
                }
                if let Some(e) = enabled {
                    let old = ld(b, known, rd + w);
                    x = b.ins().select(e, x, old);
                }
                match first {
                    Some(k) => b.ins().store(fl, x, sp, ((k + w) * 8) as i32),
                    None => {
                        known.insert(rd + w, x);
                        b.ins().store(fl, x, vp, ((rd + w) * 8) as i32)
                    }
                };
            }
        }
    }

    /// Writes, in port order (a later port wins on the same address), as the interpreter's
    /// edge.
    fn emit_writes(&self, b: &mut FunctionBuilder, vp: Value, known: &mut HashMap<u32, Value>) {
        for &port in &self.writes {
            self.emit_write(b, vp, known, port, false);
        }
    }

    /// One write. Without a branch: a write that does not happen (enable off, unless
    /// `enabled` says it is on; address past the end) goes to the shared sink, which nothing
    /// reads.
    fn emit_write(
        &self,
        b: &mut FunctionBuilder,
        vp: Value,
        known: &mut HashMap<u32, Value>,
        (wa, wd, we): (u32, u32, u32),
        enabled: bool,
    ) {
        let fl = MemFlags::trusted();
        let a = load_slot(b, vp, wa, known);
        let on = (!enabled).then(|| {
            let e = load_slot(b, vp, we, known);
            let e = b.ins().band_imm(e, 1);
            b.ins().icmp_imm(IntCC::NotEqual, e, 0)
        });
        let inside = (!self.always_inside).then(|| {
            b.ins()
                .icmp_imm(IntCC::UnsignedLessThan, a, self.depth as i64)
        });
        let go = match (on, inside) {
            (Some(e), Some(i)) => Some(b.ins().band(i, e)),
            (e, i) => e.or(i),
        };
        let off = b.ins().imul_imm(a, self.line as i64);
        let base = b.ins().iconst(types::I64, self.base);
        let mut at = b.ins().iadd(base, off);
        if let Some(go) = go {
            let sink = b.ins().iconst(types::I64, self.sink);
            at = b.ins().select(go, at, sink);
        }
        for w in 0..self.words {
            let x = load_slot(b, vp, wd + w, known);
            match self.line {
                1 => b.ins().istore8(fl, x, at, 0),
                2 => b.ins().istore16(fl, x, at, 0),
                4 => b.ins().istore32(fl, x, at, 0),
                _ => b.ins().store(fl, x, at, (w * 8) as i32),
            };
        }
    }
}

/// Slot `s` of the value array, loaded once per function (`known`: the values already loaded
/// or stored).
fn load_slot(b: &mut FunctionBuilder, vp: Value, s: u32, known: &mut HashMap<u32, Value>) -> Value {
    *known.entry(s).or_insert_with(|| {
        b.ins()
            .load(types::I64, MemFlags::trusted(), vp, (s as i32) * 8)
    })
}

/// The commit of registers that share an enable (or have none): `q = d` word by word, under
/// one branch on the enable.
fn emit_regs(b: &mut FunctionBuilder, group: &[&RegCommit], vp: Value) {
    let fl = MemFlags::trusted();
    let after = group[0].en.map(|e| {
        let x = b.ins().load(types::I64, fl, vp, (e as i32) * 8);
        let on = b.ins().band_imm(x, 1);
        let (commit, after) = (b.create_block(), b.create_block());
        b.ins().brif(on, commit, &[], after, &[]);
        b.switch_to_block(commit);
        after
    });
    for r in group {
        for w in 0..r.words {
            let x = b.ins().load(types::I64, fl, vp, ((r.d + w) * 8) as i32);
            b.ins().store(fl, x, vp, ((r.q + w) * 8) as i32);
        }
    }
    if let Some(after) = after {
        b.ins().jump(after, &[]);
        b.switch_to_block(after);
    }
}

/// Emits `ins` natively; false when it has no native form here. `known` holds the value of
/// every slot this function has loaded or stored since the last interpreter callback (only
/// this code writes the value array meanwhile), so a value computed earlier in the function is
/// not loaded again.
fn emit(
    b: &mut FunctionBuilder,
    p: &Program,
    ins: &Instr,
    vp: Value,
    known: &mut HashMap<u32, Value>,
    tables: &mut Vec<Box<[u32]>>,
    (keep, clean): (&[bool], &[bool]),
) -> bool {
    let fl = MemFlags::trusted();
    let known = std::cell::RefCell::new(known);
    let ld = |b: &mut FunctionBuilder, s: u32| {
        if let Some(&x) = known.borrow().get(&s) {
            return x;
        }
        let x = b.ins().load(types::I64, fl, vp, (s as i32) * 8);
        known.borrow_mut().insert(s, x);
        x
    };
    let st = |b: &mut FunctionBuilder, d: u32, x: Value| {
        if keep[d as usize] {
            b.ins().store(fl, x, vp, (d as i32) * 8);
        }
        known.borrow_mut().insert(d, x);
    };
    let mask = |b: &mut FunctionBuilder, x: Value, m: u64| match m {
        u64::MAX => x,
        // A 32-bit move clears the upper half without loading the mask from memory.
        0xffff_ffff => {
            let low = b.ins().ireduce(types::I32, x);
            b.ins().uextend(types::I64, low)
        }
        _ => b.ins().band_imm(x, m as i64),
    };
    // The mask ending an operation on result `d`, left out where no reader needs it
    // (`clean_slots`).
    let fin = |b: &mut FunctionBuilder, d: u32, x: Value, m: u64| {
        if clean[d as usize] {
            mask(b, x, m)
        } else {
            x
        }
    };
    let flag = |b: &mut FunctionBuilder, c: Value| b.ins().uextend(types::I64, c);
    let sext = |b: &mut FunctionBuilder, x: Value, sh: u32| {
        if sh == 0 {
            x
        } else {
            let l = b.ins().ishl_imm(x, sh as i64);
            b.ins().sshr_imm(l, sh as i64)
        }
    };
    match *ins {
        Instr::Not { d, a, m } => {
            let x = ld(b, a);
            let n = b.ins().bnot(x);
            let r = fin(b, d, n, m);
            st(b, d, r);
        }
        Instr::Add { d, a, b: c, m } | Instr::Sub { d, a, b: c, m } => {
            let (x, y) = (ld(b, a), ld(b, c));
            let r = if matches!(ins, Instr::Add { .. }) {
                b.ins().iadd(x, y)
            } else {
                b.ins().isub(x, y)
            };
            let r = fin(b, d, r, m);
            st(b, d, r);
        }
        Instr::And { d, a, b: c } => {
            let (x, y) = (ld(b, a), ld(b, c));
            let r = b.ins().band(x, y);
            st(b, d, r);
        }
        Instr::Or { d, a, b: c } => {
            let (x, y) = (ld(b, a), ld(b, c));
            let r = b.ins().bor(x, y);
            st(b, d, r);
        }
        Instr::Xor { d, a, b: c } => {
            let (x, y) = (ld(b, a), ld(b, c));
            let r = b.ins().bxor(x, y);
            st(b, d, r);
        }
        Instr::MulU { d, a, b: c, m } => {
            let (x, y) = (ld(b, a), ld(b, c));
            let r = b.ins().imul(x, y);
            let r = fin(b, d, r, m);
            st(b, d, r);
        }
        Instr::MulS {
            d,
            a,
            b: c,
            sa,
            sb,
            m,
        } => {
            let (x, y) = (ld(b, a), ld(b, c));
            let (x, y) = (sext(b, x, sa), sext(b, y, sb));
            let r = b.ins().imul(x, y);
            let r = fin(b, d, r, m);
            st(b, d, r);
        }
        Instr::Eq { d, a, b: c }
        | Instr::Ne { d, a, b: c }
        | Instr::LtU { d, a, b: c }
        | Instr::LeU { d, a, b: c } => {
            let (x, y) = (ld(b, a), ld(b, c));
            let cc = match ins {
                Instr::Eq { .. } => IntCC::Equal,
                Instr::Ne { .. } => IntCC::NotEqual,
                Instr::LtU { .. } => IntCC::UnsignedLessThan,
                _ => IntCC::UnsignedLessThanOrEqual,
            };
            let f = b.ins().icmp(cc, x, y);
            let r = flag(b, f);
            st(b, d, r);
        }
        Instr::LtS { d, a, b: c, sh } | Instr::LeS { d, a, b: c, sh } => {
            let (x, y) = (ld(b, a), ld(b, c));
            let (x, y) = (
                b.ins().ishl_imm(x, sh as i64),
                b.ins().ishl_imm(y, sh as i64),
            );
            let cc = if matches!(ins, Instr::LtS { .. }) {
                IntCC::SignedLessThan
            } else {
                IntCC::SignedLessThanOrEqual
            };
            let f = b.ins().icmp(cc, x, y);
            let r = flag(b, f);
            st(b, d, r);
        }
        Instr::Shl { d, a, b: c, w, m } => {
            let (x, n) = (ld(b, a), ld(b, c));
            let s = b.ins().ishl(x, n);
            let r = fin(b, d, s, m);
            let big = b
                .ins()
                .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, n, w as i64);
            let zero = b.ins().iconst(types::I64, 0);
            let r = b.ins().select(big, zero, r);
            st(b, d, r);
        }
        Instr::Shr { d, a, b: c, w } => {
            let (x, n) = (ld(b, a), ld(b, c));
            let r = b.ins().ushr(x, n);
            let big = b
                .ins()
                .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, n, w as i64);
            let zero = b.ins().iconst(types::I64, 0);
            let r = b.ins().select(big, zero, r);
            st(b, d, r);
        }
        Instr::Sra { d, a, b: c, sh, m } => {
            let (x, n) = (ld(b, a), ld(b, c));
            let big = b.ins().icmp_imm(IntCC::UnsignedGreaterThan, n, 63);
            let c63 = b.ins().iconst(types::I64, 63);
            let n = b.ins().select(big, c63, n);
            let x = sext(b, x, sh);
            let r = b.ins().sshr(x, n);
            let r = fin(b, d, r, m);
            st(b, d, r);
        }
        Instr::RedAnd { d, a, m } => {
            let x = ld(b, a);
            let f = b.ins().icmp_imm(IntCC::Equal, x, m as i64);
            let r = flag(b, f);
            st(b, d, r);
        }
        Instr::RedOr { d, a } => {
            let x = ld(b, a);
            let f = b.ins().icmp_imm(IntCC::NotEqual, x, 0);
            let r = flag(b, f);
            st(b, d, r);
        }
        Instr::RedXor { d, a } => {
            let x = ld(b, a);
            let c = b.ins().popcnt(x);
            let r = b.ins().band_imm(c, 1);
            st(b, d, r);
        }
        Instr::Mux { d, s, a, b: c } => {
            let (sv, x, y) = (ld(b, s), ld(b, a), ld(b, c));
            let bit = b.ins().band_imm(sv, 1);
            let r = b.ins().select(bit, x, y);
            st(b, d, r);
        }
        Instr::Slice1 { d, a, sh, m } => {
            let x = ld(b, a);
            let s = if sh == 0 {
                x
            } else {
                b.ins().ushr_imm(x, sh as i64)
            };
            // The operand's top bits need no mask when nothing lies above them.
            let w = p.widths[a as usize];
            let top = clean[a as usize] && w > 0 && sh + (64 - m.leading_zeros()) >= w;
            let r = if top { s } else { fin(b, d, s, m) };
            st(b, d, r);
        }
        Instr::Slice2 { d, a, sh, m } => {
            if sh == 0 || sh >= 64 {
                return false;
            }
            let (x, y) = (ld(b, a), ld(b, a + 1));
            let lo = b.ins().ushr_imm(x, sh as i64);
            let hi = b.ins().ishl_imm(y, (64 - sh) as i64);
            let r = b.ins().bor(lo, hi);
            let r = mask(b, r, m);
            st(b, d, r);
        }
        Instr::Sext { d, a, sh, m } => {
            let x = ld(b, a);
            let r = sext(b, x, sh);
            let r = fin(b, d, r, m);
            st(b, d, r);
        }
        Instr::Cat { d, start, len } => {
            let parts = &p.cat_table[start as usize..(start + len) as usize];
            if parts.iter().any(|&(_, sh)| sh >= 64) {
                return false;
            }
            let mut acc = b.ins().iconst(types::I64, 0);
            for &(slot, sh) in parts {
                let x = ld(b, slot);
                let x = if sh == 0 {
                    x
                } else {
                    b.ins().ishl_imm(x, sh as i64)
                };
                acc = b.ins().bor(acc, x);
            }
            st(b, d, acc);
        }
        Instr::Copy { d, a, n } => {
            // Word by word, low first, as the interpreter's copy (source and destination never
            // overlap: they are different nodes' slots).
            for k in 0..n {
                let x = ld(b, a + k);
                st(b, d + k, x);
            }
        }
        Instr::CatWide {
            d,
            words,
            start,
            len,
        } => {
            let parts = p.deposit_table[start as usize..(start + len) as usize]
                .iter()
                .map(|&(slot, lo, w)| (ld(b, slot), lo, w))
                .collect::<Vec<_>>();
            for (k, x) in deposit(b, words, parts).into_iter().enumerate() {
                st(b, d + k as u32, x);
            }
        }
        Instr::Select {
            d, s: sel, start, ..
        } => {
            // v[d] = v[sel_table[start + v[sel]]]: the table's address is fixed for the
            // program's life (it is never changed after compilation).
            let sv = ld(b, sel);
            let base = p.sel_table.as_ptr() as i64 + 4 * start as i64;
            let base = b.ins().iconst(types::I64, base);
            let off = b.ins().ishl_imm(sv, 2);
            let at = b.ins().iadd(base, off);
            let slot = b.ins().uload32(fl, at, 0);
            let off = b.ins().ishl_imm(slot, 3);
            let at = b.ins().iadd(vp, off);
            let x = b.ins().load(types::I64, fl, at, 0);
            st(b, d, x);
        }
        Instr::Generic(ref g) => return emit_wide(b, g, vp, &ld, &st, tables),
    }
    true
}

/// The `words` words of a concatenation: each part `(value, lowest bit, bits)` — one word,
/// zero above its bits — shifted to its place and ORed in, its top spilling into the next word
/// where it straddles a word boundary; words no part reaches are zero.
fn deposit(b: &mut FunctionBuilder, words: u32, parts: Vec<(Value, u32, u32)>) -> Vec<Value> {
    let mut acc: Vec<Option<Value>> = vec![None; words as usize];
    let mut or_in = |b: &mut FunctionBuilder, k: u32, x: Value| {
        if let Some(slot) = acc.get_mut(k as usize) {
            *slot = Some(match *slot {
                Some(y) => b.ins().bor(y, x),
                None => x,
            });
        }
    };
    for (x, lo, w) in parts {
        let (k, sh) = (lo / 64, lo % 64);
        let low = if sh == 0 {
            x
        } else {
            b.ins().ishl_imm(x, sh as i64)
        };
        or_in(b, k, low);
        if sh != 0 && sh + w > 64 {
            let high = b.ins().ushr_imm(x, (64 - sh) as i64);
            or_in(b, k + 1, high);
        }
    }
    acc.into_iter()
        .map(|a| a.unwrap_or_else(|| b.ins().iconst(types::I64, 0)))
        .collect()
}

type Load<'a> = dyn Fn(&mut FunctionBuilder, u32) -> Value + 'a;
type Store<'a> = dyn Fn(&mut FunctionBuilder, u32, Value) + 'a;

/// Native forms of the wide (`Generic`) operations that are plain word-by-word work: not,
/// and/or/xor, add/sub (carry chain), equality, mux, select, slice, extension,
/// concatenation. Multiplication, shifts, ordering comparisons and reductions of wide values
/// stay with the interpreter (false).
fn emit_wide(
    b: &mut FunctionBuilder,
    g: &Generic,
    vp: Value,
    ld: &Load,
    st: &Store,
    tables: &mut Vec<Box<[u32]>>,
) -> bool {
    if !wide_native(g) {
        return false;
    }
    let d = g.d;
    let wd = d.words() as u32;
    let top = top_mask(d.width);
    // Stores word k of the result, masking the top word to the width.
    let put = |b: &mut FunctionBuilder, k: u32, x: Value| {
        let x = if k + 1 == wd && top != u64::MAX {
            b.ins().band_imm(x, top as i64)
        } else {
            x
        };
        st(b, d.slot + k, x);
    };
    // Word k of argument `a`, zero past its words.
    let word = |b: &mut FunctionBuilder, a: &Loc, k: u32| {
        if (k as usize) < a.words() {
            ld(b, a.slot + k)
        } else {
            b.ins().iconst(types::I64, 0)
        }
    };
    match &g.op {
        Op::Not(_) => {
            for k in 0..wd {
                let x = word(b, &g.args[0], k);
                let x = b.ins().bnot(x);
                put(b, k, x);
            }
        }
        Op::Bin(op @ (BinOp::And | BinOp::Or | BinOp::Xor), ..) => {
            for k in 0..wd {
                let (x, y) = (word(b, &g.args[0], k), word(b, &g.args[1], k));
                let r = match op {
                    BinOp::And => b.ins().band(x, y),
                    BinOp::Or => b.ins().bor(x, y),
                    _ => b.ins().bxor(x, y),
                };
                put(b, k, r);
            }
        }
        Op::Bin(op @ (BinOp::Add | BinOp::Sub), ..) => {
            // Two's complement: x − y = x + !y + 1, the carry chain starting at one.
            let sub = matches!(op, BinOp::Sub);
            let mut carry = b.ins().iconst(types::I64, sub as i64);
            for k in 0..wd {
                let x = word(b, &g.args[0], k);
                let y = word(b, &g.args[1], k);
                let y = if sub { b.ins().bnot(y) } else { y };
                let t = b.ins().iadd(x, y);
                let c1 = b.ins().icmp(IntCC::UnsignedLessThan, t, x);
                let s = b.ins().iadd(t, carry);
                let c2 = b.ins().icmp(IntCC::UnsignedLessThan, s, t);
                let c = b.ins().bor(c1, c2);
                carry = b.ins().uextend(types::I64, c);
                put(b, k, s);
            }
        }
        Op::Cmp(op @ (CmpOp::Eq | CmpOp::Ne), ..) => {
            let n = g.args[0].words().max(g.args[1].words()) as u32;
            let mut diff = b.ins().iconst(types::I64, 0);
            for k in 0..n {
                let (x, y) = (word(b, &g.args[0], k), word(b, &g.args[1], k));
                let z = b.ins().bxor(x, y);
                diff = b.ins().bor(diff, z);
            }
            let cc = if matches!(op, CmpOp::Eq) {
                IntCC::Equal
            } else {
                IntCC::NotEqual
            };
            let f = b.ins().icmp_imm(cc, diff, 0);
            let r = b.ins().uextend(types::I64, f);
            st(b, d.slot, r);
        }
        Op::Mux { .. } => {
            let s = ld(b, g.args[0].slot);
            let bit = b.ins().band_imm(s, 1);
            for k in 0..wd {
                let (x, y) = (word(b, &g.args[1], k), word(b, &g.args[2], k));
                let r = b.ins().select(bit, x, y);
                put(b, k, r);
            }
        }
        Op::Select { .. } => {
            let table: Box<[u32]> = g.args[1..].iter().map(|a| a.slot).collect();
            let s = ld(b, g.args[0].slot);
            let base = b.ins().iconst(types::I64, table.as_ptr() as i64);
            tables.push(table);
            let off = b.ins().ishl_imm(s, 2);
            let at = b.ins().iadd(base, off);
            let slot = b.ins().uload32(MemFlags::trusted(), at, 0);
            let off = b.ins().ishl_imm(slot, 3);
            let at = b.ins().iadd(vp, off);
            for k in 0..wd {
                let x = b
                    .ins()
                    .load(types::I64, MemFlags::trusted(), at, (8 * k) as i32);
                put(b, k, x);
            }
        }
        Op::Slice { lo, .. } => {
            let a = &g.args[0];
            for k in 0..wd {
                let bit = lo + 64 * k;
                let (wi, sh) = (bit / 64, bit % 64);
                let x = word(b, a, wi);
                let x = if sh == 0 {
                    x
                } else {
                    let low = b.ins().ushr_imm(x, sh as i64);
                    let y = word(b, a, wi + 1);
                    let high = b.ins().ishl_imm(y, (64 - sh) as i64);
                    b.ins().bor(low, high)
                };
                put(b, k, x);
            }
        }
        Op::Extend(_) => {
            let a = &g.args[0];
            let wa = a.words() as u32;
            let fill = a.width % 64;
            let mut sign = None;
            for k in 0..wd {
                let x = if k < wa {
                    let x = ld(b, a.slot + k);
                    if a.signed && k + 1 == wa {
                        // Copies of the sign bit above the argument's width.
                        let x = if fill == 0 {
                            x
                        } else {
                            let l = b.ins().ishl_imm(x, (64 - fill) as i64);
                            b.ins().sshr_imm(l, (64 - fill) as i64)
                        };
                        sign = Some(b.ins().sshr_imm(x, 63));
                        x
                    } else {
                        x
                    }
                } else {
                    match sign {
                        Some(s) => s,
                        None => b.ins().iconst(types::I64, 0),
                    }
                };
                put(b, k, x);
            }
        }
        Op::Cat(_) => {
            let mut parts = Vec::new();
            let mut lo = d.width;
            for a in &g.args {
                lo -= a.width;
                for i in 0..a.words() as u32 {
                    let chunk = (a.width - 64 * i).min(64);
                    let x = ld(b, a.slot + i);
                    let x = if chunk < 64 {
                        b.ins().band_imm(x, ((1u64 << chunk) - 1) as i64)
                    } else {
                        x
                    };
                    parts.push((x, lo + 64 * i, chunk));
                }
            }
            for (k, x) in deposit(b, wd, parts).into_iter().enumerate() {
                st(b, d.slot + k as u32, x);
            }
        }
        _ => return false,
    }
    true
}
