//! The IR: a module is a graph of nodes, each node one primitive with a width and a signedness.
//!
//! The primitive set is closed and small (in the spirit of Hardcaml's `Signal.Type.t`): every
//! backend — Verilog emitter, cycle simulator, design-rule checks — handles exactly these
//! variants and nothing else. Operations are width-strict: operands of `Bin`, `Cmp` and `Mux`
//! have equal widths and equal signedness; growth is written out (`Extend`, widening `Mul`).
//!
//! Clocking: a module that holds state (registers, memories, or instances that do) has one
//! implicit rising-edge clock `clk` and one synchronous active-high reset `rst`. Both appear as
//! ports in the Verilog; in simulation `rst` is an ordinary input and the clock is the step.

use super::bits::Bits;
use std::rc::Rc;

pub type NodeId = u32;

/// A handle to a node of the module being built: identity, width and signedness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sig {
    pub id: NodeId,
    pub width: u32,
    pub signed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    And,
    Or,
    Xor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RedOp {
    And,
    Or,
    Xor,
}

/// `Shr` is arithmetic when its operand is signed, logical otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShiftOp {
    Shl,
    Shr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Input,
    Const(Bits),
    Not(NodeId),
    Bin(BinOp, NodeId, NodeId),
    /// Full product: the node is as wide as both operands together.
    Mul(NodeId, NodeId),
    /// One bit; signed comparison when the operands are signed.
    Cmp(CmpOp, NodeId, NodeId),
    /// Shift by an unsigned amount held in a signal; shifted-out bits are lost.
    Shift(ShiftOp, NodeId, NodeId),
    Reduce(RedOp, NodeId),
    Mux {
        sel: NodeId,
        on_true: NodeId,
        on_false: NodeId,
    },
    /// `choices[sel]`; exactly 2^width(sel) choices (the builder fills defaults).
    Select {
        sel: NodeId,
        choices: Vec<NodeId>,
    },
    /// Most significant part first, as Verilog `{a, b}`.
    Cat(Vec<NodeId>),
    Slice {
        arg: NodeId,
        lo: u32,
    },
    /// Zero- or sign-extension (by the argument's signedness) to the node's width.
    Extend(NodeId),
    /// The same bits, read with the node's signedness.
    Cast(NodeId),
    /// A named connection assigned after creation; exactly one driver when the module is done.
    Wire(Vec<NodeId>),
    /// State: `q <= rst ? init : (en ? d : q)` at each rising edge. Exactly one `d`.
    Reg {
        d: Vec<NodeId>,
        en: Option<NodeId>,
        init: Bits,
    },
    /// Registered read data of a synchronous-read memory port.
    MemRead {
        mem: usize,
        port: usize,
    },
    /// Output `port` of instance `inst`.
    InstOut {
        inst: usize,
        port: usize,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: Op,
    pub width: u32,
    pub signed: bool,
    pub name: Option<String>,
}

/// What a synchronous read returns when the same address is written in the same cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ReadDuringWrite {
    /// The old contents (Vivado's READ_FIRST; the natural non-blocking-assignment template).
    ReadFirst,
    /// The data being written (Vivado's WRITE_FIRST).
    WriteFirst,
}

/// Which FPGA resource Vivado should infer (emitted as a `ram_style` attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MemStyle {
    Auto,
    Block,
    Ultra,
    Distributed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReadPort {
    pub addr: NodeId,
    pub en: Option<NodeId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WritePort {
    pub addr: NodeId,
    pub data: NodeId,
    pub en: NodeId,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    pub name: String,
    pub width: u32,
    pub depth: u32,
    pub style: MemStyle,
    pub read_during_write: ReadDuringWrite,
    pub read_ports: Vec<ReadPort>,
    pub write_ports: Vec<WritePort>,
    /// Contents at time 0, one word per line (`None`: all zero). A memory without write ports
    /// and with contents is a ROM.
    pub init: Option<Vec<Bits>>,
}

impl Memory {
    pub fn addr_width(&self) -> u32 {
        addr_width(self.depth)
    }
}

/// Bits needed to address `depth` words (at least one).
pub fn addr_width(depth: u32) -> u32 {
    (32 - (depth.max(2) - 1).leading_zeros()).max(1)
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub name: String,
    pub module: Rc<Module>,
    /// One node per input port of `module`, in its port order.
    pub inputs: Vec<NodeId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    pub name: String,
    pub nodes: Vec<Node>,
    pub inputs: Vec<(String, NodeId)>,
    pub outputs: Vec<(String, NodeId)>,
    pub instances: Vec<Instance>,
    pub memories: Vec<Memory>,
    /// Filled by `finish`: whether the module (or anything inside it) holds state.
    pub clocked: bool,
    /// Filled by `finish`: for each output, the inputs it depends on without a register between.
    pub comb_inputs: Vec<Vec<usize>>,
}

impl Module {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    pub fn sig(&self, id: NodeId) -> Sig {
        let n = self.node(id);
        Sig {
            id,
            width: n.width,
            signed: n.signed,
        }
    }

    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|(n, _)| n == name)
    }

    pub fn output_index(&self, name: &str) -> Option<usize> {
        self.outputs.iter().position(|(n, _)| n == name)
    }

    /// Every distinct module of the design under (and including) this one, children first,
    /// deduplicated by name. Equal names must mean equal modules; `finish` enforces that per
    /// builder, and `check::check_design` across the tree.
    pub fn hierarchy(self: &Rc<Module>) -> Vec<Rc<Module>> {
        fn walk(m: &Rc<Module>, out: &mut Vec<Rc<Module>>) {
            for i in &m.instances {
                walk(&i.module, out);
            }
            if !out.iter().any(|o| o.name == m.name) {
                out.push(m.clone());
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// Nodes whose value is used by another node, a port, an instance or a memory.
    pub fn fanout_counts(&self) -> Vec<u32> {
        let mut uses = vec![0u32; self.nodes.len()];
        for n in &self.nodes {
            for a in operands(&n.op) {
                uses[a as usize] += 1;
            }
        }
        for (_, o) in &self.outputs {
            uses[*o as usize] += 1;
        }
        for i in &self.instances {
            for a in &i.inputs {
                uses[*a as usize] += 1;
            }
        }
        for m in &self.memories {
            for r in &m.read_ports {
                uses[r.addr as usize] += 1;
                if let Some(e) = r.en {
                    uses[e as usize] += 1;
                }
            }
            for w in &m.write_ports {
                for a in [w.addr, w.data, w.en] {
                    uses[a as usize] += 1;
                }
            }
        }
        uses
    }
}

/// The nodes an operation reads (for registers: the data and enable, which are read at the edge).
pub fn operands(op: &Op) -> Vec<NodeId> {
    match op {
        Op::Input | Op::Const(_) | Op::MemRead { .. } | Op::InstOut { .. } => vec![],
        Op::Not(a) | Op::Reduce(_, a) | Op::Slice { arg: a, .. } | Op::Extend(a) | Op::Cast(a) => {
            vec![*a]
        }
        Op::Bin(_, a, b) | Op::Mul(a, b) | Op::Cmp(_, a, b) | Op::Shift(_, a, b) => vec![*a, *b],
        Op::Mux {
            sel,
            on_true,
            on_false,
        } => vec![*sel, *on_true, *on_false],
        Op::Select { sel, choices } => std::iter::once(*sel)
            .chain(choices.iter().copied())
            .collect(),
        Op::Cat(parts) => parts.clone(),
        Op::Wire(d) => d.clone(),
        Op::Reg { d, en, .. } => d.iter().copied().chain(*en).collect(),
    }
}

/// Short operation name for messages.
pub fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Input => "input",
        Op::Const(_) => "const",
        Op::Not(_) => "not",
        Op::Bin(BinOp::Add, ..) => "add",
        Op::Bin(BinOp::Sub, ..) => "sub",
        Op::Bin(BinOp::And, ..) => "and",
        Op::Bin(BinOp::Or, ..) => "or",
        Op::Bin(BinOp::Xor, ..) => "xor",
        Op::Mul(..) => "mul",
        Op::Cmp(..) => "compare",
        Op::Shift(ShiftOp::Shl, ..) => "shl",
        Op::Shift(ShiftOp::Shr, ..) => "shr",
        Op::Reduce(..) => "reduce",
        Op::Mux { .. } => "mux",
        Op::Select { .. } => "select",
        Op::Cat(_) => "cat",
        Op::Slice { .. } => "slice",
        Op::Extend(_) => "extend",
        Op::Cast(_) => "cast",
        Op::Wire(_) => "wire",
        Op::Reg { .. } => "reg",
        Op::MemRead { .. } => "memory read",
        Op::InstOut { .. } => "instance output",
    }
}
