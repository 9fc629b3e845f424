//! Native code for the settle tape, through Cranelift: each tape instruction becomes a few
//! machine instructions on the value array (load the operand words, compute, store), in the
//! tape's order, split into functions of `CHUNK` instructions so a large design compiles in
//! pieces. Instructions without a native form here (wide `Generic` operations, wide
//! concatenations and copies, table selects) call back into the interpreter for that one
//! instruction, so every design runs natively from the start and the interpreter stays the
//! reference (`PLUME_JIT=0` runs it alone).

use crate::compile::{Instr, Program};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlags, Signature, Value};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};
use std::collections::HashMap;

/// Tape instructions per native function.
const CHUNK: usize = 2048;

type Chunk = unsafe extern "C" fn(*mut u64, *const Program);

/// The compiled tape: call `run` where the interpreter would run the tape.
pub struct Jit {
    module: Option<JITModule>,
    chunks: Vec<Chunk>,
    /// Instructions executed natively, and through the interpreter callback.
    pub native: usize,
    pub fallback: usize,
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

    pub fn compile(p: &Program) -> Result<Jit, JitError> {
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
        let mut module = JITModule::new(jb);
        let ptr = module.target_config().pointer_type();
        let mut helper_sig = module.make_signature();
        helper_sig.params.extend([
            AbiParam::new(ptr),
            AbiParam::new(ptr),
            AbiParam::new(types::I64),
        ]);
        let helper = module
            .declare_function("plume_exec_one", Linkage::Import, &helper_sig)
            .map_err(err)?;
        let mut sig: Signature = module.make_signature();
        sig.params.extend([AbiParam::new(ptr), AbiParam::new(ptr)]);
        let mut ids: Vec<FuncId> = Vec::new();
        let mut ctx = module.make_context();
        let mut fctx = FunctionBuilderContext::new();
        let (mut native, mut fallback) = (0, 0);
        for (k, part) in p.tape.chunks(CHUNK).enumerate() {
            ctx.func.signature = sig.clone();
            {
                let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
                let entry = b.create_block();
                b.append_block_params_for_function_params(entry);
                b.switch_to_block(entry);
                b.seal_block(entry);
                let vp = b.block_params(entry)[0];
                let pp = b.block_params(entry)[1];
                let href = module.declare_func_in_func(helper, b.func);
                let mut known = HashMap::new();
                for (i, ins) in part.iter().enumerate() {
                    if emit(&mut b, p, ins, vp, &mut known) {
                        native += 1;
                    } else {
                        fallback += 1;
                        let idx = b.ins().iconst(types::I64, (k * CHUNK + i) as i64);
                        b.ins().call(href, &[vp, pp, idx]);
                        // The interpreter may have written any slot.
                        known.clear();
                    }
                }
                b.ins().return_(&[]);
                b.finalize();
            }
            let id = module
                .declare_function(&format!("tape{k}"), Linkage::Local, &sig)
                .map_err(err)?;
            module.define_function(id, &mut ctx).map_err(err)?;
            module.clear_context(&mut ctx);
            ids.push(id);
        }
        module.finalize_definitions().map_err(err)?;
        let chunks = ids
            .iter()
            .map(|&id| {
                let f = module.get_finalized_function(id);
                // SAFETY: defined above with the `Chunk` signature.
                unsafe { std::mem::transmute::<*const u8, Chunk>(f) }
            })
            .collect();
        Ok(Jit {
            module: Some(module),
            chunks,
            native,
            fallback,
        })
    }

    /// Runs the tape on `v`, the value array of `p` (`p.slots` words).
    pub fn run(&self, p: &Program, v: &mut [u64]) {
        assert_eq!(v.len(), p.slots);
        for f in &self.chunks {
            // SAFETY: compiled for `p`, whose slots all lie inside `v` (compile() checks).
            unsafe { f(v.as_mut_ptr(), p) };
        }
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
        b.ins().store(fl, x, vp, (d as i32) * 8);
        known.borrow_mut().insert(d, x);
    };
    let mask = |b: &mut FunctionBuilder, x: Value, m: u64| {
        if m == u64::MAX {
            x
        } else {
            b.ins().band_imm(x, m as i64)
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
            let r = mask(b, n, m);
            st(b, d, r);
        }
        Instr::Add { d, a, b: c, m } | Instr::Sub { d, a, b: c, m } => {
            let (x, y) = (ld(b, a), ld(b, c));
            let r = if matches!(ins, Instr::Add { .. }) {
                b.ins().iadd(x, y)
            } else {
                b.ins().isub(x, y)
            };
            let r = mask(b, r, m);
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
            let r = mask(b, r, m);
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
            let r = mask(b, r, m);
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
            let r = mask(b, s, m);
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
            let r = mask(b, r, m);
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
            let r = mask(b, s, m);
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
            let r = mask(b, r, m);
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
            let mut acc: Vec<Option<Value>> = vec![None; words as usize];
            let mut or_in = |b: &mut FunctionBuilder, k: usize, x: Value| {
                acc[k] = Some(match acc[k] {
                    Some(y) => b.ins().bor(y, x),
                    None => x,
                });
            };
            for &(slot, lo, w) in &p.deposit_table[start as usize..(start + len) as usize] {
                let x = ld(b, slot);
                let (k, sh) = ((lo / 64) as usize, lo % 64);
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
            for (k, a) in acc.into_iter().enumerate() {
                let x = match a {
                    Some(x) => x,
                    None => b.ins().iconst(types::I64, 0),
                };
                st(b, d + k as u32, x);
            }
        }
        Instr::Select { d, s: sel, start } => {
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
        Instr::Gather { start, len } => {
            for &(d, a) in &p.gather_table[start as usize..(start + len) as usize] {
                let x = ld(b, a);
                st(b, d, x);
            }
        }
        _ => return false,
    }
    true
}
