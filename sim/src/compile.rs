//! IR → a flat, topologically ordered instruction tape over machine words.
//!
//! Flattening costs nothing at run time: wires, casts, zero-extensions that stay in one word,
//! instance inputs and instance outputs are *aliases* — they resolve to the slot of the node
//! that drives them, so hierarchy adds no copies. Every other combinational node becomes one
//! instruction. Values up to 64 bits live in one `u64` slot and use specialised instructions
//! (no allocation, no loops); wider values span consecutive words, and the few operations on
//! them (other than slicing and concatenation, which have fast forms) go through `Generic`.
//!
//! Equal logic is merged first (`merge_equivalents`), so the tape computes each value once.
//! State is kept apart from the tape: registers, memories and their read ports are committed
//! at the clock edge by the engine. One-word registers without enable are committed as one
//! block copy or, when their next value is state, an input or a shared node, by moves in
//! dependence order (`Program::moves`). Any other register whose data or enable comes straight
//! from another register or memory read gets a copy at the end of the tape, so the edge can
//! commit it in any order and still read only pre-edge values.

use crate::wide;
use plume_hw::rtl::bits::{top_mask, words_for};
use plume_hw::rtl::check::describe;
use plume_hw::rtl::ir::*;
use plume_hw::rtl::{Bits, Module};
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("combinational loop through {0}")]
    CombLoop(String),
    #[error("{0}")]
    Design(#[from] plume_hw::rtl::DrcErrors),
}

/// One step of the settle phase. Slots are word offsets into the value array.
#[derive(Clone, Debug)]
pub enum Instr {
    Not {
        d: u32,
        a: u32,
        m: u64,
    },
    Add {
        d: u32,
        a: u32,
        b: u32,
        m: u64,
    },
    Sub {
        d: u32,
        a: u32,
        b: u32,
        m: u64,
    },
    And {
        d: u32,
        a: u32,
        b: u32,
    },
    Or {
        d: u32,
        a: u32,
        b: u32,
    },
    Xor {
        d: u32,
        a: u32,
        b: u32,
    },
    MulU {
        d: u32,
        a: u32,
        b: u32,
        m: u64,
    },
    /// Signed: operands sign-extended from their widths (shift amounts `sa`, `sb` = 64 − width).
    MulS {
        d: u32,
        a: u32,
        b: u32,
        sa: u32,
        sb: u32,
        m: u64,
    },
    Eq {
        d: u32,
        a: u32,
        b: u32,
    },
    Ne {
        d: u32,
        a: u32,
        b: u32,
    },
    LtU {
        d: u32,
        a: u32,
        b: u32,
    },
    LeU {
        d: u32,
        a: u32,
        b: u32,
    },
    LtS {
        d: u32,
        a: u32,
        b: u32,
        sh: u32,
    },
    LeS {
        d: u32,
        a: u32,
        b: u32,
        sh: u32,
    },
    Shl {
        d: u32,
        a: u32,
        b: u32,
        w: u32,
        m: u64,
    },
    Shr {
        d: u32,
        a: u32,
        b: u32,
        w: u32,
    },
    Sra {
        d: u32,
        a: u32,
        b: u32,
        sh: u32,
        m: u64,
    },
    RedAnd {
        d: u32,
        a: u32,
        m: u64,
    },
    RedOr {
        d: u32,
        a: u32,
    },
    RedXor {
        d: u32,
        a: u32,
    },
    Mux {
        d: u32,
        s: u32,
        a: u32,
        b: u32,
    },
    /// `d = v[sel_table[start + v[s]]]`, the choices `sel_table[start..start+len]`.
    Select {
        d: u32,
        s: u32,
        start: u32,
        len: u32,
    },
    /// Bits `[sh +: width]` of one word.
    Slice1 {
        d: u32,
        a: u32,
        sh: u32,
        m: u64,
    },
    /// Bits `[sh +: width]` straddling words `a` and `a+1`.
    Slice2 {
        d: u32,
        a: u32,
        sh: u32,
        m: u64,
    },
    Sext {
        d: u32,
        a: u32,
        sh: u32,
        m: u64,
    },
    /// Narrow concatenation: OR of `v[slot] << shift` over `cat_table[start..start+len]`.
    Cat {
        d: u32,
        start: u32,
        len: u32,
    },
    /// Wide destination, narrow parts: deposit each `(slot, lo, width)` of `deposit_table`.
    CatWide {
        d: u32,
        words: u32,
        start: u32,
        len: u32,
    },
    Copy {
        d: u32,
        a: u32,
        n: u32,
    },
    Generic(Box<Generic>),
}

/// A wide operation, evaluated word by word.
#[derive(Clone, Debug)]
pub struct Generic {
    pub op: Op,
    pub d: Loc,
    pub args: Vec<Loc>,
}

/// Where a value lives: first word and width, plus its signedness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub slot: u32,
    pub width: u32,
    pub signed: bool,
}

impl Loc {
    pub fn words(&self) -> usize {
        words_for(self.width)
    }
}

#[derive(Clone, Debug)]
pub struct RegCommit {
    pub q: u32,
    pub d: u32,
    pub words: u32,
    pub en: Option<u32>,
    pub init: Vec<u64>,
}

#[derive(Clone, Debug)]
pub struct MemState {
    pub name: String,
    pub width: u32,
    pub depth: u32,
    pub read_during_write: ReadDuringWrite,
    /// (addr slot, enable slot, read-data slot)
    pub reads: Vec<(u32, Option<u32>, u32)>,
    /// (addr slot, data slot, enable slot)
    pub writes: Vec<(u32, u32, u32)>,
    /// Contents at time 0, `depth` words of `words_for(width)` each (`None`: zero).
    pub init: Option<Vec<u64>>,
    /// Whether every port's address is narrower than the depth allows to exceed (addresses
    /// of `log2 depth` bits): no bounds check needed.
    pub always_inside: bool,
}

/// A signal visible in waveforms: where in the hierarchy, its name, and its value's location.
#[derive(Clone, Debug)]
pub struct Trace {
    pub scope: Vec<String>,
    pub name: String,
    pub loc: Loc,
}

/// The compiled design.
#[derive(Clone, Debug)]
pub struct Program {
    pub top: String,
    pub slots: usize,
    pub tape: Vec<Instr>,
    pub sel_table: Vec<u32>,
    pub cat_table: Vec<(u32, u32)>,
    pub deposit_table: Vec<(u32, u32, u32)>,
    /// One-word registers without enable, the common case: their values sit in the block
    /// `fast_q .. fast_q + fast_init.len()` and their next values in the block at `fast_d`, in
    /// the same order, so the clock edge is one block copy. `fast_init` holds reset values.
    pub fast_q: u32,
    pub fast_d: u32,
    pub fast_init: Vec<u64>,
    /// The other one-word registers without enable, committed at the edge by moves
    /// `v[q] = v[src]` in this order (before the block copy and the other registers, after the
    /// memories), which reads every source before it changes; `move_init` holds their reset
    /// values.
    pub moves: Vec<(u32, u32)>,
    pub move_init: Vec<u64>,
    pub regs: Vec<RegCommit>,
    pub mems: Vec<MemState>,
    /// Constant slots and their values, written once.
    pub consts: Vec<(u32, Vec<u64>)>,
    pub inputs: BTreeMap<String, Loc>,
    pub outputs: BTreeMap<String, Loc>,
    /// Input and output names in declaration order (`rst` first when clocked).
    pub input_order: Vec<String>,
    pub output_order: Vec<String>,
    pub rst: Option<u32>,
    pub traces: Vec<Trace>,
    /// The width of the value in each one-word slot (0 where unknown or wide).
    pub widths: Vec<u32>,
}

struct FlatInst {
    module: Rc<Module>,
    path: Vec<String>,
    parent: Option<(usize, usize)>,
    base: usize,
    children: Vec<usize>,
}

struct Compiler {
    insts: Vec<FlatInst>,
    /// Global node → owning flat instance and local id.
    owner: Vec<(usize, NodeId)>,
    slot: Vec<u32>,
    next_slot: u32,
    prog: Program,
    /// Node → the equal node that stands for it (`NONE`: itself); see `merge_equivalents`.
    merged: Vec<u32>,
    /// Slots already copied to a fresh slot at the end of the tape (`copy_to_fresh`).
    fresh: std::collections::HashMap<u32, u32>,
}

const NONE: u32 = u32::MAX;

impl Compiler {
    fn node(&self, g: usize) -> &Node {
        let (i, id) = self.owner[g];
        self.insts[i].module.node(id)
    }

    fn global(&self, inst: usize, id: NodeId) -> usize {
        self.insts[inst].base + id as usize
    }

    fn describe(&self, g: usize) -> String {
        let (i, id) = self.owner[g];
        let mut path = self.insts[i].path.join(".");
        path.push_str(": ");
        path.push_str(&describe(&self.insts[i].module, id));
        path
    }

    /// The node that really holds the value: aliases followed, then merges (see
    /// `merge_equivalents`).
    fn resolve(&self, mut g: usize) -> usize {
        loop {
            g = self.resolve_alias(g);
            match self.merged.get(g) {
                Some(&m) if m != NONE => g = m as usize,
                _ => return g,
            }
        }
    }

    /// Follows aliases to the node that really holds the value.
    fn resolve_alias(&self, mut g: usize) -> usize {
        loop {
            let (i, id) = self.owner[g];
            let inst = &self.insts[i];
            let n = inst.module.node(id);
            g = match &n.op {
                Op::Wire(d) => self.global(i, d[0]),
                Op::Cast(a) => self.global(i, *a),
                Op::Extend(a) => {
                    let an = inst.module.node(*a);
                    if words_for(an.width) == words_for(n.width)
                        && (!an.signed || an.width == n.width)
                    {
                        self.global(i, *a)
                    } else {
                        return g;
                    }
                }
                Op::Input => match inst.parent {
                    Some((p, k)) => {
                        let port = inst
                            .module
                            .inputs
                            .iter()
                            .position(|(_, x)| *x == id)
                            .unwrap();
                        self.global(p, self.insts[p].module.instances[k].inputs[port])
                    }
                    None => return g,
                },
                Op::InstOut { inst: k, port } => {
                    let c = inst.children[*k];
                    self.global(c, self.insts[c].module.outputs[*port].1)
                }
                _ => return g,
            };
        }
    }

    fn loc(&mut self, g: usize) -> Loc {
        let r = self.resolve(g);
        let (w, signed) = {
            let n = self.node(g);
            (n.width, n.signed)
        };
        if self.slot[r] == NONE {
            self.slot[r] = self.next_slot;
            self.next_slot += words_for(self.node(r).width) as u32;
        }
        Loc {
            slot: self.slot[r],
            width: w,
            signed,
        }
    }

    fn flatten(
        &mut self,
        module: &Rc<Module>,
        path: Vec<String>,
        parent: Option<(usize, usize)>,
    ) -> usize {
        let idx = self.insts.len();
        let base = self.owner.len();
        for id in 0..module.nodes.len() {
            self.owner.push((idx, id as NodeId));
        }
        self.insts.push(FlatInst {
            module: module.clone(),
            path: path.clone(),
            parent,
            base,
            children: Vec::new(),
        });
        for (k, inst) in module.instances.iter().enumerate() {
            let mut p = path.clone();
            p.push(inst.name.clone());
            let c = self.flatten(&inst.module, p, Some((idx, k)));
            self.insts[idx].children.push(c);
        }
        idx
    }

    /// Canonical nodes whose value the tape computes (everything but leaves and state).
    fn is_computed(&self, g: usize) -> bool {
        !matches!(
            self.node(g).op,
            Op::Input | Op::Const(_) | Op::Reg { .. } | Op::MemRead { .. }
        )
    }

    fn operands(&self, g: usize) -> Vec<usize> {
        let (i, id) = self.owner[g];
        operands(&self.insts[i].module.node(id).op)
            .into_iter()
            .map(|a| self.resolve(self.global(i, a)))
            .collect()
    }

    fn order(&self) -> Result<Vec<usize>, CompileError> {
        let n = self.owner.len();
        let mut state = vec![0u8; n];
        let mut order = Vec::new();
        for root in 0..n {
            let r = self.resolve(root);
            if state[r] != 0 || !self.is_computed(r) {
                continue;
            }
            let mut stack = vec![(r, self.operands(r), 0usize)];
            state[r] = 1;
            while let Some((g, ops, k)) = stack.last_mut() {
                if *k < ops.len() {
                    let a = ops[*k];
                    *k += 1;
                    if !self.is_computed(a) {
                        continue;
                    }
                    match state[a] {
                        0 => {
                            state[a] = 1;
                            let o = self.operands(a);
                            stack.push((a, o, 0));
                        }
                        1 => return Err(CompileError::CombLoop(self.describe(a))),
                        _ => {}
                    }
                } else {
                    state[*g] = 2;
                    order.push(*g);
                    stack.pop();
                }
            }
        }
        Ok(order)
    }

    fn emit(&mut self, g: usize) {
        let (i, id) = self.owner[g];
        let module = self.insts[i].module.clone();
        let n = module.node(id);
        let d = self.loc(g);
        let args: Vec<Loc> = operands(&n.op)
            .into_iter()
            .map(|a| self.loc(self.global(i, a)))
            .collect();
        let narrow = d.width <= 64 && args.iter().all(|a| a.width <= 64);
        let m = top_mask(d.width);
        let (ds, a0, a1) = (
            d.slot,
            args.first().map(|a| a.slot).unwrap_or(0),
            args.get(1).map(|a| a.slot).unwrap_or(0),
        );
        let instr = match (&n.op, narrow) {
            (Op::Not(_), true) => Instr::Not { d: ds, a: a0, m },
            (Op::Bin(op, ..), true) => match op {
                BinOp::Add => Instr::Add {
                    d: ds,
                    a: a0,
                    b: a1,
                    m,
                },
                BinOp::Sub => Instr::Sub {
                    d: ds,
                    a: a0,
                    b: a1,
                    m,
                },
                BinOp::And => Instr::And {
                    d: ds,
                    a: a0,
                    b: a1,
                },
                BinOp::Or => Instr::Or {
                    d: ds,
                    a: a0,
                    b: a1,
                },
                BinOp::Xor => Instr::Xor {
                    d: ds,
                    a: a0,
                    b: a1,
                },
            },
            (Op::Mul(..), true) if args[0].signed => Instr::MulS {
                d: ds,
                a: a0,
                b: a1,
                sa: 64 - args[0].width,
                sb: 64 - args[1].width,
                m,
            },
            (Op::Mul(..), true) => Instr::MulU {
                d: ds,
                a: a0,
                b: a1,
                m,
            },
            (Op::Cmp(op, ..), true) => {
                let sh = 64 - args[0].width;
                match (op, args[0].signed) {
                    (CmpOp::Eq, _) => Instr::Eq {
                        d: ds,
                        a: a0,
                        b: a1,
                    },
                    (CmpOp::Ne, _) => Instr::Ne {
                        d: ds,
                        a: a0,
                        b: a1,
                    },
                    (CmpOp::Lt, false) => Instr::LtU {
                        d: ds,
                        a: a0,
                        b: a1,
                    },
                    (CmpOp::Le, false) => Instr::LeU {
                        d: ds,
                        a: a0,
                        b: a1,
                    },
                    (CmpOp::Gt, false) => Instr::LtU {
                        d: ds,
                        a: a1,
                        b: a0,
                    },
                    (CmpOp::Ge, false) => Instr::LeU {
                        d: ds,
                        a: a1,
                        b: a0,
                    },
                    (CmpOp::Lt, true) => Instr::LtS {
                        d: ds,
                        a: a0,
                        b: a1,
                        sh,
                    },
                    (CmpOp::Le, true) => Instr::LeS {
                        d: ds,
                        a: a0,
                        b: a1,
                        sh,
                    },
                    (CmpOp::Gt, true) => Instr::LtS {
                        d: ds,
                        a: a1,
                        b: a0,
                        sh,
                    },
                    (CmpOp::Ge, true) => Instr::LeS {
                        d: ds,
                        a: a1,
                        b: a0,
                        sh,
                    },
                }
            }
            (Op::Shift(ShiftOp::Shl, ..), true) => Instr::Shl {
                d: ds,
                a: a0,
                b: a1,
                w: d.width,
                m,
            },
            (Op::Shift(ShiftOp::Shr, ..), true) if d.signed => Instr::Sra {
                d: ds,
                a: a0,
                b: a1,
                sh: 64 - d.width,
                m,
            },
            (Op::Shift(ShiftOp::Shr, ..), true) => Instr::Shr {
                d: ds,
                a: a0,
                b: a1,
                w: d.width,
            },
            (Op::Reduce(RedOp::And, _), true) => Instr::RedAnd {
                d: ds,
                a: a0,
                m: top_mask(args[0].width),
            },
            (Op::Reduce(RedOp::Or, _), true) => Instr::RedOr { d: ds, a: a0 },
            (Op::Reduce(RedOp::Xor, _), true) => Instr::RedXor { d: ds, a: a0 },
            (Op::Mux { .. }, true) => Instr::Mux {
                d: ds,
                s: a0,
                a: a1,
                b: args[2].slot,
            },
            (Op::Select { .. }, true) => {
                let start = self.prog.sel_table.len() as u32;
                self.prog.sel_table.extend(args[1..].iter().map(|a| a.slot));
                Instr::Select {
                    d: ds,
                    s: a0,
                    start,
                    len: args.len() as u32 - 1,
                }
            }
            (Op::Slice { lo, .. }, _) if d.width <= 64 => {
                let a = args[0].slot + lo / 64;
                let sh = lo % 64;
                if sh + d.width <= 64 {
                    Instr::Slice1 { d: ds, a, sh, m }
                } else {
                    Instr::Slice2 { d: ds, a, sh, m }
                }
            }
            (Op::Extend(_), true) => Instr::Sext {
                d: ds,
                a: a0,
                sh: 64 - args[0].width,
                m,
            },
            (Op::Cat(_), true) => {
                let start = self.prog.cat_table.len() as u32;
                let mut shift = d.width;
                for a in &args {
                    shift -= a.width;
                    self.prog.cat_table.push((a.slot, shift));
                }
                Instr::Cat {
                    d: ds,
                    start,
                    len: args.len() as u32,
                }
            }
            (Op::Cat(_), false) if args.iter().all(|a| a.width <= 64) => {
                let start = self.prog.deposit_table.len() as u32;
                let mut lo = d.width;
                for a in &args {
                    lo -= a.width;
                    self.prog.deposit_table.push((a.slot, lo, a.width));
                }
                Instr::CatWide {
                    d: ds,
                    words: d.words() as u32,
                    start,
                    len: args.len() as u32,
                }
            }
            (Op::Wire(_) | Op::Cast(_), _) => Instr::Copy {
                d: ds,
                a: a0,
                n: d.words() as u32,
            },
            (op, _) => Instr::Generic(Box::new(Generic {
                op: op.clone(),
                d,
                args,
            })),
        };
        self.prog.tape.push(instr);
    }
}

/// Compiles a design for simulation.
pub fn compile(top: &Rc<Module>) -> Result<Program, CompileError> {
    plume_hw::rtl::check::check_design(top)?;
    let mut c = Compiler {
        insts: Vec::new(),
        owner: Vec::new(),
        slot: Vec::new(),
        next_slot: 0,
        merged: Vec::new(),
        fresh: Default::default(),
        prog: Program {
            top: top.name.clone(),
            slots: 0,
            tape: Vec::new(),
            sel_table: Vec::new(),
            cat_table: Vec::new(),
            deposit_table: Vec::new(),
            fast_q: 0,
            fast_d: 0,
            fast_init: Vec::new(),
            moves: Vec::new(),
            move_init: Vec::new(),
            regs: Vec::new(),
            mems: Vec::new(),
            consts: Vec::new(),
            inputs: BTreeMap::new(),
            outputs: BTreeMap::new(),
            input_order: Vec::new(),
            output_order: Vec::new(),
            rst: None,
            traces: Vec::new(),
            widths: Vec::new(),
        },
    };
    c.flatten(top, vec![top.name.clone()], None);
    c.slot = vec![NONE; c.owner.len()];
    c.merged = vec![NONE; c.owner.len()];
    c.merge_equivalents()?;

    if top.clocked {
        let s = c.next_slot;
        c.next_slot += 1;
        c.prog.rst = Some(s);
        c.prog.inputs.insert(
            "rst".into(),
            Loc {
                slot: s,
                width: 1,
                signed: false,
            },
        );
        c.prog.input_order.push("rst".into());
    }
    for (name, id) in &top.inputs {
        let l = c.loc(*id as usize);
        c.prog.inputs.insert(name.clone(), l);
        c.prog.input_order.push(name.clone());
    }

    // One-word registers without enable. Where the node computing a register's next value is
    // computed by the tape and not placed yet, it is placed in the d block (see
    // `Program::fast_q`) and the edge commits the register with the block copy. The others
    // (next value an input, a constant, state — shift chains — or a node another register
    // placed already) are moves at the edge (see `Program::moves`).
    let n = c.owner.len();
    let fast: Vec<(usize, usize, u64)> = (0..n)
        .filter(|&g| c.resolve(g) == g)
        .filter_map(|g| {
            let (i, id) = c.owner[g];
            match &c.insts[i].module.node(id).op {
                Op::Reg { d, en: None, init } if init.width() <= 64 => {
                    Some((g, c.resolve(c.global(i, d[0])), init.words()[0]))
                }
                _ => None,
            }
        })
        .collect();
    let mut claimed = std::collections::HashSet::new();
    let (block, moved): (Vec<_>, Vec<_>) = fast
        .into_iter()
        .partition(|&(_, dg, _)| c.is_computed(dg) && c.node(dg).width <= 64 && claimed.insert(dg));
    c.prog.fast_q = c.next_slot;
    c.prog.fast_d = c.next_slot + block.len() as u32;
    c.next_slot += 2 * block.len() as u32;
    for (k, &(g, dg, init)) in block.iter().enumerate() {
        c.slot[g] = c.prog.fast_q + k as u32;
        c.prog.fast_init.push(init);
        c.slot[dg] = c.prog.fast_d + k as u32;
    }

    let order = c.order()?;
    for g in order {
        c.emit(g);
    }
    c.order_moves(&moved);
    // State, constants, and the copies that keep the edge order-independent.
    for g in 0..n {
        let r = c.resolve(g);
        if r != g {
            continue;
        }
        let (i, id) = c.owner[g];
        let module = c.insts[i].module.clone();
        match &module.node(id).op {
            Op::Const(v) => {
                let l = c.loc(g);
                c.prog.consts.push((l.slot, v.words().to_vec()));
            }
            Op::Reg { d, en, init } if !(en.is_none() && init.width() <= 64) => {
                let q = c.loc(g);
                let mut dl = c.loc(c.global(i, d[0]));
                let mut enl = en.map(|e| c.loc(c.global(i, e)));
                let is_state = |c: &Compiler, gg: usize| {
                    matches!(
                        c.node(c.resolve(gg)).op,
                        Op::Reg { .. } | Op::MemRead { .. }
                    )
                };
                if is_state(&c, c.global(i, d[0])) {
                    dl = c.copy_to_fresh(dl);
                }
                if let Some(e) = en {
                    if is_state(&c, c.global(i, *e)) {
                        enl = Some(c.copy_to_fresh(enl.unwrap()));
                    }
                }
                c.prog.regs.push(RegCommit {
                    q: q.slot,
                    d: dl.slot,
                    words: q.words() as u32,
                    en: enl.map(|l| l.slot),
                    init: init.words().to_vec(),
                });
            }
            _ => {}
        }
    }
    for fi in 0..c.insts.len() {
        let module = c.insts[fi].module.clone();
        for (k, mem) in module.memories.iter().enumerate() {
            let path = c.insts[fi].path.join(".");
            let mut st = MemState {
                name: format!("{path}.{}", mem.name),
                width: mem.width,
                depth: mem.depth,
                read_during_write: mem.read_during_write,
                reads: Vec::new(),
                writes: Vec::new(),
                init: mem
                    .init
                    .as_ref()
                    .map(|words| words.iter().flat_map(|w| w.words().to_vec()).collect()),
                always_inside: true,
            };
            for (p, rp) in mem.read_ports.iter().enumerate() {
                let rd = module
                    .nodes
                    .iter()
                    .position(
                        |nd| matches!(nd.op, Op::MemRead { mem: mm, port } if mm == k && port == p),
                    )
                    .unwrap();
                let rdl = c.loc(c.global(fi, rd as NodeId));
                let addr = c.loc(c.global(fi, rp.addr));
                st.always_inside &= addr.width < 64 && (1u64 << addr.width) <= mem.depth as u64;
                let addr = addr.slot;
                let en = rp.en.map(|e| c.loc(c.global(fi, e)).slot);
                st.reads.push((addr, en, rdl.slot));
            }
            for wp in &mem.write_ports {
                let a = c.loc(c.global(fi, wp.addr));
                st.always_inside &= a.width < 64 && (1u64 << a.width) <= mem.depth as u64;
                let a = a.slot;
                let dd = c.loc(c.global(fi, wp.data)).slot;
                let e = c.loc(c.global(fi, wp.en)).slot;
                st.writes.push((a, dd, e));
            }
            c.prog.mems.push(st);
        }
    }

    for (name, id) in &top.outputs {
        let l = c.loc(*id as usize);
        c.prog.outputs.insert(name.clone(), l);
        c.prog.output_order.push(name.clone());
    }

    // Waveform view: every port of every instance, and every named node.
    if let Some(rst) = c.prog.rst {
        c.prog.traces.push(Trace {
            scope: vec![top.name.clone()],
            name: "rst".into(),
            loc: Loc {
                slot: rst,
                width: 1,
                signed: false,
            },
        });
    }
    for fi in 0..c.insts.len() {
        let module = c.insts[fi].module.clone();
        let scope = c.insts[fi].path.clone();
        let mut seen = std::collections::BTreeSet::new();
        let mut add = |c: &mut Compiler, name: String, id: NodeId| {
            if seen.insert(name.clone()) {
                let loc = c.loc(c.global(fi, id));
                c.prog.traces.push(Trace {
                    scope: scope.clone(),
                    name,
                    loc,
                });
            }
        };
        for (name, id) in module.inputs.iter().chain(&module.outputs) {
            add(&mut c, name.clone(), *id);
        }
        for (id, nd) in module.nodes.iter().enumerate() {
            if let (Some(name), false) = (&nd.name, matches!(nd.op, Op::InstOut { .. } | Op::Input))
            {
                add(&mut c, name.clone(), id as NodeId);
            }
        }
    }
    c.prog.slots = c.next_slot as usize;
    let mut widths = vec![0u32; c.prog.slots];
    for g in 0..c.owner.len() {
        let r = c.resolve(g);
        if c.slot[r] != NONE && c.node(r).width <= 64 {
            widths[c.slot[r] as usize] = c.node(r).width;
        }
    }
    for (&src, &copy) in &c.fresh {
        widths[copy as usize] = widths[src as usize];
    }
    c.prog.widths = widths;
    c.prog.assert_in_bounds();
    Ok(c.prog)
}

impl Program {
    /// Calls `f` with every slot `ins` reads (table-driven operands included; a select reads
    /// all its choices, since which one is known only at run time).
    pub fn reads(&self, ins: &Instr, mut f: impl FnMut(u32)) {
        match *ins {
            Instr::Not { a, .. }
            | Instr::RedAnd { a, .. }
            | Instr::RedOr { a, .. }
            | Instr::RedXor { a, .. }
            | Instr::Slice1 { a, .. }
            | Instr::Sext { a, .. } => f(a),
            Instr::Slice2 { a, .. } => {
                f(a);
                f(a + 1)
            }
            Instr::Add { a, b, .. }
            | Instr::Sub { a, b, .. }
            | Instr::And { a, b, .. }
            | Instr::Or { a, b, .. }
            | Instr::Xor { a, b, .. }
            | Instr::MulU { a, b, .. }
            | Instr::MulS { a, b, .. }
            | Instr::Eq { a, b, .. }
            | Instr::Ne { a, b, .. }
            | Instr::LtU { a, b, .. }
            | Instr::LeU { a, b, .. }
            | Instr::LtS { a, b, .. }
            | Instr::LeS { a, b, .. }
            | Instr::Shl { a, b, .. }
            | Instr::Shr { a, b, .. }
            | Instr::Sra { a, b, .. } => {
                f(a);
                f(b)
            }
            Instr::Mux { s, a, b, .. } => {
                f(s);
                f(a);
                f(b)
            }
            Instr::Select { s, start, len, .. } => {
                f(s);
                self.sel_table[start as usize..(start + len) as usize]
                    .iter()
                    .for_each(|&x| f(x));
            }
            Instr::Cat { start, len, .. } => self.cat_table[start as usize..(start + len) as usize]
                .iter()
                .for_each(|&(x, _)| f(x)),
            Instr::CatWide { start, len, .. } => self.deposit_table
                [start as usize..(start + len) as usize]
                .iter()
                .for_each(|&(x, _, _)| f(x)),
            Instr::Copy { a, n, .. } => (a..a + n).for_each(f),
            Instr::Generic(ref g) => g
                .args
                .iter()
                .for_each(|l| (l.slot..l.slot + l.words() as u32).for_each(&mut f)),
        }
    }

    /// Calls `f` with every slot `ins` writes.
    pub fn writes(&self, ins: &Instr, mut f: impl FnMut(u32)) {
        match *ins {
            Instr::Not { d, .. }
            | Instr::RedAnd { d, .. }
            | Instr::RedOr { d, .. }
            | Instr::RedXor { d, .. }
            | Instr::Slice1 { d, .. }
            | Instr::Slice2 { d, .. }
            | Instr::Sext { d, .. }
            | Instr::Add { d, .. }
            | Instr::Sub { d, .. }
            | Instr::And { d, .. }
            | Instr::Or { d, .. }
            | Instr::Xor { d, .. }
            | Instr::MulU { d, .. }
            | Instr::MulS { d, .. }
            | Instr::Eq { d, .. }
            | Instr::Ne { d, .. }
            | Instr::LtU { d, .. }
            | Instr::LeU { d, .. }
            | Instr::LtS { d, .. }
            | Instr::LeS { d, .. }
            | Instr::Shl { d, .. }
            | Instr::Shr { d, .. }
            | Instr::Sra { d, .. }
            | Instr::Mux { d, .. }
            | Instr::Select { d, .. }
            | Instr::Cat { d, .. } => f(d),
            Instr::CatWide { d, words, .. } => (d..d + words).for_each(f),
            Instr::Copy { d, n, .. } => (d..d + n).for_each(f),
            Instr::Generic(ref g) => (g.d.slot..g.d.slot + g.d.words() as u32).for_each(f),
        }
    }

    /// Calls `f` with every slot the clock edge reads from the value array (all before it
    /// changes any): the register block's next values, the moves' sources, the other
    /// registers' next values and enables, the memory ports' addresses, enables and data.
    pub fn edge_reads(&self, mut f: impl FnMut(u32)) {
        (self.fast_d..self.fast_d + self.fast_init.len() as u32).for_each(&mut f);
        self.moves.iter().for_each(|&(_, src)| f(src));
        for r in &self.regs {
            (r.d..r.d + r.words).for_each(&mut f);
            r.en.into_iter().for_each(&mut f);
        }
        for m in &self.mems {
            let ww = words_for(m.width) as u32;
            for &(a, en, _) in &m.reads {
                f(a);
                en.into_iter().for_each(&mut f);
            }
            for &(a, d, e) in &m.writes {
                f(a);
                (d..d + ww).for_each(&mut f);
                f(e);
            }
        }
    }

    /// Slots whose values are seen outside the tape, so the tape must leave them in the value
    /// array: outputs and what the clock edge reads. (Waveforms and `peek_path` see every
    /// signal; see `Jit`'s store-everything mode.)
    pub fn observed(&self) -> Vec<bool> {
        let mut o = vec![false; self.slots];
        for l in self.outputs.values() {
            o[l.slot as usize..l.slot as usize + l.words()].fill(true);
        }
        self.edge_reads(|s| o[s as usize] = true);
        o
    }

    /// One line on the tape's size, for benches: instructions (and how many are wide
    /// `Generic` ones), registers, memories, value words.
    pub fn summary(&self) -> String {
        let mut wide: BTreeMap<&str, usize> = BTreeMap::new();
        for i in &self.tape {
            if let Instr::Generic(g) = i {
                *wide.entry(op_name(&g.op)).or_default() += 1;
            }
        }
        let generic = wide.values().sum::<usize>();
        let wide: Vec<String> = wide.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let copies = self
            .tape
            .iter()
            .filter(|i| matches!(i, Instr::Copy { .. }))
            .count();
        format!(
            "{} tape instructions ({} wide{}{}, {} copies), {} registers ({} with enable or wide), {} memories, {} value words",
            self.tape.len(),
            generic,
            if wide.is_empty() { "" } else { ": " },
            wide.join(", "),
            copies,
            self.fast_init.len() + self.moves.len() + self.regs.len(),
            self.regs.len(),
            self.mems.len(),
            self.slots
        )
    }

    /// Every slot the tape and the edge touch lies inside the value array; the engine relies
    /// on this to read and write slots without bounds checks.
    fn assert_in_bounds(&self) {
        let n = self.slots as u64;
        let ok = |slot: u32, words: u64| slot as u64 + words <= n;
        let one = |slot: u32| ok(slot, 1);
        for ins in &self.tape {
            let fine = match *ins {
                Instr::Not { d, a, .. }
                | Instr::RedAnd { d, a, .. }
                | Instr::RedOr { d, a }
                | Instr::RedXor { d, a }
                | Instr::Slice1 { d, a, .. }
                | Instr::Sext { d, a, .. } => one(d) && one(a),
                Instr::Slice2 { d, a, .. } => one(d) && ok(a, 2),
                Instr::Add { d, a, b, .. }
                | Instr::Sub { d, a, b, .. }
                | Instr::And { d, a, b }
                | Instr::Or { d, a, b }
                | Instr::Xor { d, a, b }
                | Instr::MulU { d, a, b, .. }
                | Instr::MulS { d, a, b, .. }
                | Instr::Eq { d, a, b }
                | Instr::Ne { d, a, b }
                | Instr::LtU { d, a, b }
                | Instr::LeU { d, a, b }
                | Instr::LtS { d, a, b, .. }
                | Instr::LeS { d, a, b, .. }
                | Instr::Shl { d, a, b, .. }
                | Instr::Shr { d, a, b, .. }
                | Instr::Sra { d, a, b, .. } => one(d) && one(a) && one(b),
                Instr::Mux { d, s, a, b } => one(d) && one(s) && one(a) && one(b),
                // The selector's value indexes the table: all 2^w entries exist (checked by
                // the IR's design-rule check) and are slots.
                Instr::Select { d, s, start, len } => {
                    one(d) && one(s) && (start + len) as usize <= self.sel_table.len()
                }
                Instr::Cat { d, start, len } => {
                    one(d) && (start + len) as usize <= self.cat_table.len()
                }
                Instr::CatWide {
                    d,
                    words,
                    start,
                    len,
                } => ok(d, words as u64) && (start + len) as usize <= self.deposit_table.len(),
                Instr::Copy { d, a, n: w } => ok(d, w as u64) && ok(a, w as u64),
                Instr::Generic(_) => true,
            };
            assert!(fine, "internal: instruction {ins:?} reaches past {n} slots");
        }
        assert!(self.sel_table.iter().all(|s| one(*s)));
        assert!(self.cat_table.iter().all(|(s, _)| one(*s)));
        assert!(self.deposit_table.iter().all(|(s, _, _)| one(*s)));
        let r = self.fast_init.len() as u64;
        assert!(ok(self.fast_q, r) && ok(self.fast_d, r));
        assert!(self.moves.iter().all(|&(q, s)| one(q) && one(s)));
        assert_eq!(self.moves.len(), self.move_init.len());
    }
}

impl Compiler {
    /// The moves `q = v[src]` of the registers in `moved` (register, next-value node, reset
    /// value), ordered so each reads the value from before the edge: a register is moved
    /// before the registers whose values it reads (a shift chain moves from its end). Rings of
    /// registers reading each other read copies made at the end of the tape instead.
    fn order_moves(&mut self, moved: &[(usize, usize, u64)]) {
        let index: std::collections::HashMap<usize, usize> =
            moved.iter().enumerate().map(|(k, m)| (m.0, k)).collect();
        // next[k]: the moved register that register k reads (it must move after k).
        let next: Vec<Option<usize>> = moved.iter().map(|m| index.get(&m.1).copied()).collect();
        let mut readers = vec![0usize; moved.len()];
        for &j in next.iter().flatten() {
            readers[j] += 1;
        }
        let mut ready: Vec<usize> = (0..moved.len()).filter(|&k| readers[k] == 0).collect();
        let mut order = Vec::with_capacity(moved.len());
        let mut done = vec![false; moved.len()];
        while let Some(k) = ready.pop() {
            order.push(k);
            done[k] = true;
            if let Some(j) = next[k] {
                readers[j] -= 1;
                if readers[j] == 0 {
                    ready.push(j);
                }
            }
        }
        let rings: Vec<usize> = (0..moved.len()).filter(|&k| !done[k]).collect();
        for k in order {
            let (g, dg, init) = moved[k];
            let (q, src) = (self.loc(g).slot, self.loc(dg).slot);
            self.prog.moves.push((q, src));
            self.prog.move_init.push(init);
        }
        for k in rings {
            let (g, dg, init) = moved[k];
            let q = self.loc(g).slot;
            let src = self.loc(dg);
            let src = self.copy_to_fresh(src).slot;
            self.prog.moves.push((q, src));
            self.prog.move_init.push(init);
        }
    }

    /// A copy of `src` made at the end of the tape (one per source slot).
    fn copy_to_fresh(&mut self, src: Loc) -> Loc {
        if let Some(&slot) = self.fresh.get(&src.slot) {
            return Loc { slot, ..src };
        }
        let slot = self.next_slot;
        self.fresh.insert(src.slot, slot);
        self.next_slot += src.words() as u32;
        self.prog.tape.push(Instr::Copy {
            d: slot,
            a: src.slot,
            n: src.words() as u32,
        });
        Loc { slot, ..src }
    }
}

/// Bytes per line of a memory `width` bits wide in the simulator: the narrowest of 1, 2, 4
/// or 8 bytes for one-word lines, whole words above.
pub fn line_bytes(width: u32) -> usize {
    match width {
        0..=8 => 1,
        9..=16 => 2,
        17..=32 => 4,
        _ => 8 * words_for(width),
    }
}

/// Evaluates a wide operation.
pub fn eval_generic(g: &Generic, v: &mut [u64]) {
    let read = |l: &Loc| v[l.slot as usize..l.slot as usize + l.words()].to_vec();
    let w = g.d.width;
    let a = g.args.first().map(read);
    let out: Vec<u64> = match &g.op {
        Op::Not(_) => {
            let mut r: Vec<u64> = a.unwrap().iter().map(|x| !x).collect();
            wide::mask_top(&mut r, w);
            r
        }
        Op::Bin(op, ..) => {
            let (x, y) = (a.unwrap(), read(&g.args[1]));
            match op {
                BinOp::Add => wide::add(&x, &y, w),
                BinOp::Sub => wide::sub(&x, &y, w),
                BinOp::And => x.iter().zip(&y).map(|(p, q)| p & q).collect(),
                BinOp::Or => x.iter().zip(&y).map(|(p, q)| p | q).collect(),
                BinOp::Xor => x.iter().zip(&y).map(|(p, q)| p ^ q).collect(),
            }
        }
        Op::Mul(..) => {
            let (x, y) = (g.args[0], g.args[1]);
            let xe = wide::extend(&a.unwrap(), x.width, w, x.signed);
            let ye = wide::extend(&read(&y), y.width, w, y.signed);
            wide::mul(&xe, &ye, w)
        }
        Op::Cmp(op, ..) => {
            let (x, y) = (a.unwrap(), read(&g.args[1]));
            let ord = if g.args[0].signed {
                wide::cmp_signed(&x, &y, g.args[0].width)
            } else {
                wide::cmp_unsigned(&x, &y)
            };
            use std::cmp::Ordering::*;
            let r = match op {
                CmpOp::Eq => ord == Equal,
                CmpOp::Ne => ord != Equal,
                CmpOp::Lt => ord == Less,
                CmpOp::Le => ord != Greater,
                CmpOp::Gt => ord == Greater,
                CmpOp::Ge => ord != Less,
            };
            vec![r as u64]
        }
        Op::Shift(op, ..) => {
            let amount = read(&g.args[1]);
            let n = if amount[1..].iter().any(|x| *x != 0) {
                u64::MAX
            } else {
                amount[0]
            };
            match op {
                ShiftOp::Shl => wide::shl(&a.unwrap(), n, w),
                ShiftOp::Shr => wide::shr(&a.unwrap(), n, w, g.d.signed),
            }
        }
        Op::Reduce(op, _) => {
            let x = a.unwrap();
            let aw = g.args[0].width;
            let r = match op {
                RedOp::Or => x.iter().any(|p| *p != 0),
                RedOp::Xor => x.iter().map(|p| p.count_ones()).sum::<u32>() % 2 == 1,
                RedOp::And => {
                    let mut full = vec![u64::MAX; x.len()];
                    wide::mask_top(&mut full, aw);
                    x == full
                }
            };
            vec![r as u64]
        }
        Op::Mux { .. } => {
            if a.unwrap()[0] & 1 == 1 {
                read(&g.args[1])
            } else {
                read(&g.args[2])
            }
        }
        Op::Select { .. } => {
            let s = a.unwrap()[0] as usize;
            read(&g.args[1 + s])
        }
        Op::Cat(_) => {
            let mut r = vec![0u64; words_for(w)];
            let mut lo = w;
            for l in &g.args {
                lo -= l.width;
                wide::deposit(&mut r, lo, &read(l), l.width);
            }
            r
        }
        Op::Slice { lo, .. } => wide::slice(&a.unwrap(), *lo, w),
        Op::Extend(_) => wide::extend(&a.unwrap(), g.args[0].width, w, g.args[0].signed),
        other => unreachable!("{} is not evaluated by the tape", op_name(other)),
    };
    let base = g.d.slot as usize;
    v[base..base + out.len()].copy_from_slice(&out);
}

/// Value at a location, as `Bits`.
pub fn read_loc(v: &[u64], l: Loc) -> Bits {
    Bits::from_words(l.width, &v[l.slot as usize..l.slot as usize + l.words()])
}

/// What makes two nodes equal for `merge_equivalents`: the operation and its parameters, the
/// node's width and signedness, and each operand as the node that holds it with the width and
/// signedness this node reads it at. `None`: never merged (inputs, memory reads, aliases).
fn merge_key(c: &Compiler, g: usize) -> Option<Vec<u64>> {
    let (i, id) = c.owner[g];
    let n = c.insts[i].module.node(id);
    let tag: u64 = match &n.op {
        Op::Const(_) => 1,
        Op::Not(_) => 2,
        Op::Bin(op, ..) => 10 + *op as u64,
        Op::Mul(..) => 20,
        Op::Cmp(op, ..) => 30 + *op as u64,
        Op::Shift(op, ..) => 40 + *op as u64,
        Op::Reduce(op, _) => 50 + *op as u64,
        Op::Mux { .. } => 60,
        Op::Select { .. } => 61,
        Op::Cat(_) => 62,
        Op::Slice { .. } => 63,
        Op::Extend(_) => 64,
        Op::Reg { .. } => 65,
        _ => return None,
    };
    let mut key = vec![tag, n.width as u64, n.signed as u64];
    match &n.op {
        Op::Const(v) => key.extend_from_slice(v.words()),
        Op::Slice { lo, .. } => key.push(*lo as u64),
        Op::Reg { init, en, .. } => {
            key.extend_from_slice(init.words());
            let en = en.map_or(u64::MAX, |e| c.resolve(c.global(i, e)) as u64);
            key.push(en);
        }
        _ => {}
    }
    let mut args: Vec<[u64; 3]> = match &n.op {
        Op::Reg { d, .. } => vec![d[0]],
        op => operands(op),
    }
    .into_iter()
    .map(|a| {
        let an = c.insts[i].module.node(a);
        [
            c.resolve(c.global(i, a)) as u64,
            an.width as u64,
            an.signed as u64,
        ]
    })
    .collect();
    let commutes = matches!(
        n.op,
        Op::Bin(BinOp::Add | BinOp::And | BinOp::Or | BinOp::Xor, ..)
            | Op::Cmp(CmpOp::Eq | CmpOp::Ne, ..)
    );
    if commutes {
        args.sort_unstable();
    }
    key.extend(args.iter().flatten());
    Some(key)
}

impl Compiler {
    /// Merges nodes that always hold the same value, so the tape computes each value once:
    /// equal constants; combinational nodes with the same operation on the same operands
    /// (common subexpressions — across instances too, e.g. a zero point's extension that every
    /// PE of an array computes); registers with the same next value, enable and reset value
    /// (equal from reset on, by induction over cycles: e.g. the per-PE copies of a row's
    /// pipelined control). Repeated until nothing more merges, since merged registers make
    /// more logic equal and equal logic makes more registers equal.
    fn merge_equivalents(&mut self) -> Result<(), CompileError> {
        let n = self.owner.len();
        loop {
            let mut seen: std::collections::HashMap<Vec<u64>, usize> = Default::default();
            let mut merged = 0usize;
            let mut visit = |c: &mut Compiler, g: usize| {
                if let Some(key) = merge_key(c, g) {
                    match seen.entry(key) {
                        std::collections::hash_map::Entry::Occupied(e) => {
                            c.merged[g] = *e.get() as u32;
                            merged += 1;
                        }
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(g);
                        }
                    }
                }
            };
            // Leaves first (constants, registers: their keys name the previous round's
            // representatives), then the logic in dependence order.
            for g in 0..n {
                if self.resolve(g) == g && matches!(self.node(g).op, Op::Const(_) | Op::Reg { .. })
                {
                    visit(self, g);
                }
            }
            for g in self.order()? {
                if self.resolve(g) == g {
                    visit(self, g);
                }
            }
            if merged == 0 {
                return Ok(());
            }
        }
    }
}
