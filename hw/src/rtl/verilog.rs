//! Verilog-2001 backend: IR module → a small Verilog AST → text.
//!
//! Rules that keep the output lint-clean (`verilator --lint-only -Wall`) and unambiguous:
//! every node that needs a name gets one `wire`/`reg`; every binary and ternary expression is
//! parenthesised; constants carry their width; signed operations say `$signed(...)` at the
//! point of use (nets are declared unsigned, so no Verilog signedness rule can leak in); bits
//! that nothing reads are gathered into Verilator's documented `_unused_ok` reduction.
//! Registers use one synchronous-reset `always @(posedge clk)` block per module; memories follow
//! Vivado's inference templates with a `ram_style` attribute. Modules arrive without dead logic
//! (`passes::dead`, run by the builder), so everything in a module is emitted.

use super::bits::Bits;
use super::ir::*;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::rc::Rc;

// ---- the Verilog AST ------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
pub enum VExpr {
    Ident(String),
    Const(Bits),
    Bit(String, u32),
    Range(String, u32, u32),
    Unary(&'static str, Box<VExpr>),
    Binary(Box<VExpr>, &'static str, Box<VExpr>),
    Ternary(Box<VExpr>, Box<VExpr>, Box<VExpr>),
    Concat(Vec<VExpr>),
    Repeat(u32, Box<VExpr>),
    Signed(Box<VExpr>),
    Index(String, Box<VExpr>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum VStmt {
    NonBlocking(VExpr, VExpr),
    If(VExpr, Vec<VStmt>, Vec<VStmt>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum VItem {
    Wire(String, u32),
    Reg(String, u32),
    Memory {
        name: String,
        width: u32,
        depth: u32,
        style: Option<&'static str>,
    },
    Assign(VExpr, VExpr),
    AlwaysPosedge(Vec<VStmt>),
    /// Zero-fills memories (and read registers) at time 0 and loads ROM contents, in the style
    /// Vivado and Yosys honour.
    InitialZero {
        memories: Vec<(String, u32, u32)>,
        regs: Vec<(String, u32)>,
        contents: Vec<(String, Vec<Bits>)>,
    },
    Instance {
        module: String,
        name: String,
        connections: Vec<(String, VExpr)>,
    },
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct VPort {
    pub output: bool,
    pub name: String,
    pub width: u32,
    /// Attributes written before the port, `(* KEY = "value" *)` (Vivado's interface hints).
    pub attrs: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct VModule {
    pub name: String,
    pub ports: Vec<VPort>,
    pub items: Vec<VItem>,
    /// Comment lines (without `//`) written before the module.
    pub comments: Vec<String>,
    /// Declares one-bit ports without a range (`input wire clk`), as IP integrator prefers
    /// for clocks, resets and interrupts; plume's own modules use `[0:0]` throughout.
    pub scalar_bits: bool,
    /// Wraps the module in `` `default_nettype none `` … `` `default_nettype wire ``.
    pub no_implicit_nets: bool,
}

fn b(e: VExpr) -> Box<VExpr> {
    Box::new(e)
}

fn binary(a: VExpr, op: &'static str, c: VExpr) -> VExpr {
    VExpr::Binary(b(a), op, b(c))
}

fn range(w: u32) -> String {
    format!("[{}:0]", w - 1)
}

impl VExpr {
    fn write(&self, out: &mut String) {
        match self {
            VExpr::Ident(n) => out.push_str(n),
            VExpr::Const(v) => {
                let _ = write!(out, "{}'h{}", v.width(), v.to_hex());
            }
            VExpr::Bit(n, i) => {
                let _ = write!(out, "{n}[{i}]");
            }
            VExpr::Range(n, hi, lo) => {
                let _ = write!(out, "{n}[{hi}:{lo}]");
            }
            VExpr::Unary(op, a) => {
                out.push('(');
                out.push_str(op);
                a.write(out);
                out.push(')');
            }
            VExpr::Binary(a, op, c) => {
                out.push('(');
                a.write(out);
                let _ = write!(out, " {op} ");
                c.write(out);
                out.push(')');
            }
            VExpr::Ternary(s, t, f) => {
                out.push('(');
                s.write(out);
                out.push_str(" ? ");
                t.write(out);
                out.push_str(" : ");
                f.write(out);
                out.push(')');
            }
            VExpr::Concat(parts) => {
                out.push('{');
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    p.write(out);
                }
                out.push('}');
            }
            VExpr::Repeat(n, a) => {
                let _ = write!(out, "{{{n}{{");
                a.write(out);
                out.push_str("}}");
            }
            VExpr::Signed(a) => {
                out.push_str("$signed(");
                a.write(out);
                out.push(')');
            }
            VExpr::Index(n, a) => {
                out.push_str(n);
                out.push('[');
                a.write(out);
                out.push(']');
            }
        }
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

fn write_stmts(stmts: &[VStmt], indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    for s in stmts {
        match s {
            VStmt::NonBlocking(l, r) => {
                let _ = writeln!(out, "{pad}{} <= {};", l.to_text(), r.to_text());
            }
            VStmt::If(c, t, e) => {
                let _ = writeln!(out, "{pad}if ({}) begin", c.to_text());
                write_stmts(t, indent + 1, out);
                if e.is_empty() {
                    let _ = writeln!(out, "{pad}end");
                } else {
                    let _ = writeln!(out, "{pad}end else begin");
                    write_stmts(e, indent + 1, out);
                    let _ = writeln!(out, "{pad}end");
                }
            }
        }
    }
}

impl VModule {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.comments {
            let _ = writeln!(out, "// {c}");
        }
        if self.no_implicit_nets {
            let _ = writeln!(out, "`default_nettype none");
        }
        let _ = writeln!(out, "module {} (", self.name);
        for (i, p) in self.ports.iter().enumerate() {
            let dir = if p.output { "output" } else { "input " };
            let sep = if i + 1 == self.ports.len() { "" } else { "," };
            for (k, v) in &p.attrs {
                let _ = writeln!(out, "  (* {k} = \"{v}\" *)");
            }
            let r = if self.scalar_bits && p.width == 1 {
                String::new()
            } else {
                format!("{} ", range(p.width))
            };
            let _ = writeln!(out, "  {dir} wire {r}{}{sep}", p.name);
        }
        let _ = writeln!(out, ");");
        for item in &self.items {
            match item {
                VItem::Wire(n, w) => {
                    let _ = writeln!(out, "  wire {} {n};", range(*w));
                }
                VItem::Reg(n, w) => {
                    let _ = writeln!(out, "  reg {} {n};", range(*w));
                }
                VItem::Memory {
                    name,
                    width,
                    depth,
                    style,
                } => {
                    if let Some(s) = style {
                        let _ = writeln!(out, "  (* ram_style = \"{s}\" *)");
                    }
                    let _ = writeln!(out, "  reg {} {name} [0:{}];", range(*width), depth - 1);
                }
                VItem::Assign(l, r) => {
                    let _ = writeln!(out, "  assign {} = {};", l.to_text(), r.to_text());
                }
                VItem::AlwaysPosedge(stmts) => {
                    let _ = writeln!(out, "  always @(posedge clk) begin");
                    write_stmts(stmts, 2, &mut out);
                    let _ = writeln!(out, "  end");
                }
                VItem::InitialZero {
                    memories,
                    regs,
                    contents,
                } => {
                    if !memories.is_empty() {
                        let _ = writeln!(out, "  integer _init_i;");
                    }
                    let _ = writeln!(out, "  initial begin");
                    for (m, w, d) in memories {
                        let _ = writeln!(out, "    for (_init_i = 0; _init_i < {d}; _init_i = _init_i + 1) {m}[_init_i] = {w}'h0;");
                    }
                    for (m, words) in contents {
                        for (i, v) in words.iter().enumerate() {
                            let _ = writeln!(out, "    {m}[{i}] = {}'h{};", v.width(), v.to_hex());
                        }
                    }
                    for (r, w) in regs {
                        let _ = writeln!(out, "    {r} = {w}'h0;");
                    }
                    let _ = writeln!(out, "  end");
                }
                VItem::Instance {
                    module,
                    name,
                    connections,
                } => {
                    let _ = writeln!(out, "  {module} {name} (");
                    for (i, (p, e)) in connections.iter().enumerate() {
                        let sep = if i + 1 == connections.len() { "" } else { "," };
                        let _ = writeln!(out, "    .{p}({}){sep}", e.to_text());
                    }
                    let _ = writeln!(out, "  );");
                }
            }
        }
        let _ = writeln!(out, "endmodule");
        if self.no_implicit_nets {
            let _ = writeln!(out, "`default_nettype wire");
        }
        out
    }
}

// ---- lowering ---------------------------------------------------------------------------------

const KEYWORDS: &[&str] = &[
    "always",
    "and",
    "assign",
    "automatic",
    "begin",
    "buf",
    "case",
    "casex",
    "casez",
    "cell",
    "config",
    "default",
    "defparam",
    "design",
    "disable",
    "edge",
    "else",
    "end",
    "endcase",
    "endconfig",
    "endfunction",
    "endgenerate",
    "endmodule",
    "endprimitive",
    "endspecify",
    "endtable",
    "endtask",
    "event",
    "for",
    "force",
    "forever",
    "fork",
    "function",
    "generate",
    "genvar",
    "if",
    "initial",
    "inout",
    "input",
    "instance",
    "integer",
    "join",
    "library",
    "localparam",
    "macromodule",
    "module",
    "nand",
    "negedge",
    "nor",
    "not",
    "or",
    "output",
    "parameter",
    "posedge",
    "real",
    "reg",
    "release",
    "repeat",
    "signed",
    "specify",
    "supply0",
    "supply1",
    "table",
    "task",
    "time",
    "tri",
    "unsigned",
    "wait",
    "while",
    "wire",
    "xnor",
    "xor",
    "bit",
    "byte",
    "logic",
    "int",
    "string",
    "type",
    "do",
    "final",
    "break",
    "continue",
    "return",
    "void",
    "class",
    "static",
    "const",
    "enum",
    "struct",
    "union",
];

pub fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

struct Lower<'a> {
    m: &'a Module,
    names: Vec<String>,
    /// For each node: which bits are read by emitted logic.
    used: Vec<Vec<bool>>,
}

impl<'a> Lower<'a> {
    fn new(m: &'a Module) -> Self {
        let mut taken: BTreeSet<String> = m
            .inputs
            .iter()
            .chain(&m.outputs)
            .map(|(n, _)| n.clone())
            .collect();
        taken.insert("clk".into());
        taken.insert("rst".into());
        taken.insert("_unused_ok".into());
        taken.insert("_init_i".into());
        for mem in &m.memories {
            taken.insert(mem.name.clone());
        }
        for i in &m.instances {
            taken.insert(i.name.clone());
        }
        let mut names = Vec::with_capacity(m.nodes.len());
        for (id, n) in m.nodes.iter().enumerate() {
            if let Op::Input = n.op {
                names.push(n.name.clone().unwrap());
                continue;
            }
            let base = n.name.clone().unwrap_or_else(|| format!("_n{id}"));
            let mut name = base.clone();
            let mut k = 1;
            while !taken.insert(name.clone()) {
                name = format!("{base}_{k}");
                k += 1;
            }
            names.push(name);
        }
        let used = m
            .nodes
            .iter()
            .map(|n| vec![false; n.width as usize])
            .collect();
        Lower { m, names, used }
    }

    fn use_all(&mut self, id: NodeId) {
        self.used[id as usize].iter_mut().for_each(|u| *u = true);
    }

    /// The expression that reads node `id` whole: its name, or a literal for constants.
    fn operand(&mut self, id: NodeId) -> VExpr {
        self.use_all(id);
        match &self.m.node(id).op {
            Op::Const(v) => VExpr::Const(v.clone()),
            _ => VExpr::Ident(self.names[id as usize].clone()),
        }
    }

    fn signed_operand(&mut self, id: NodeId) -> VExpr {
        let e = self.operand(id);
        if self.m.node(id).signed {
            VExpr::Signed(b(e))
        } else {
            e
        }
    }

    fn slice_expr(&mut self, arg: NodeId, lo: u32, width: u32) -> VExpr {
        let n = self.m.node(arg);
        if let Op::Const(v) = &n.op {
            return VExpr::Const(v.slice(lo, width));
        }
        for u in &mut self.used[arg as usize][lo as usize..(lo + width) as usize] {
            *u = true;
        }
        let name = self.names[arg as usize].clone();
        if width == 1 {
            VExpr::Bit(name, lo)
        } else {
            VExpr::Range(name, lo + width - 1, lo)
        }
    }

    fn expr(&mut self, id: NodeId) -> Option<VExpr> {
        let m = self.m;
        let n = m.node(id);
        let (w, signed) = (n.width, n.signed);
        Some(match &n.op {
            Op::Input | Op::Reg { .. } | Op::MemRead { .. } | Op::InstOut { .. } | Op::Const(_) => {
                return None
            }
            Op::Not(a) => VExpr::Unary("~", b(self.operand(*a))),
            Op::Bin(op, a, c) => {
                let sym = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::And => "&",
                    BinOp::Or => "|",
                    BinOp::Xor => "^",
                };
                binary(self.operand(*a), sym, self.operand(*c))
            }
            Op::Mul(a, c) => binary(self.signed_operand(*a), "*", self.signed_operand(*c)),
            Op::Cmp(op, a, c) => {
                let sym = match op {
                    CmpOp::Eq => "==",
                    CmpOp::Ne => "!=",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                if matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    binary(self.operand(*a), sym, self.operand(*c))
                } else {
                    binary(self.signed_operand(*a), sym, self.signed_operand(*c))
                }
            }
            Op::Shift(op, a, amount) => match op {
                ShiftOp::Shl => binary(self.operand(*a), "<<", self.operand(*amount)),
                ShiftOp::Shr if signed => {
                    binary(self.signed_operand(*a), ">>>", self.operand(*amount))
                }
                ShiftOp::Shr => binary(self.operand(*a), ">>", self.operand(*amount)),
            },
            Op::Reduce(op, a) => {
                let sym = match op {
                    RedOp::And => "&",
                    RedOp::Or => "|",
                    RedOp::Xor => "^",
                };
                VExpr::Unary(sym, b(self.operand(*a)))
            }
            Op::Mux {
                sel,
                on_true,
                on_false,
            } => VExpr::Ternary(
                b(self.operand(*sel)),
                b(self.operand(*on_true)),
                b(self.operand(*on_false)),
            ),
            Op::Select { sel, choices } => {
                let sw = m.node(*sel).width;
                let mut e = self.operand(choices[choices.len() - 1]);
                for k in (0..choices.len() - 1).rev() {
                    let cond = binary(
                        self.operand(*sel),
                        "==",
                        VExpr::Const(Bits::from_u64(sw, k as u64)),
                    );
                    e = VExpr::Ternary(b(cond), b(self.operand(choices[k])), b(e));
                }
                e
            }
            Op::Cat(parts) => VExpr::Concat(parts.iter().map(|p| self.operand(*p)).collect()),
            Op::Slice { arg, lo } => self.slice_expr(*arg, *lo, w),
            Op::Extend(a) => {
                let an = m.node(*a);
                let (aw, asigned) = (an.width, an.signed);
                if aw == w {
                    self.operand(*a)
                } else if asigned {
                    let msb = self.slice_expr(*a, aw - 1, 1);
                    VExpr::Concat(vec![VExpr::Repeat(w - aw, b(msb)), self.operand(*a)])
                } else {
                    VExpr::Concat(vec![VExpr::Const(Bits::zero(w - aw)), self.operand(*a)])
                }
            }
            Op::Cast(a) => self.operand(*a),
            Op::Wire(d) => self.operand(d[0]),
        })
    }

    fn lower(mut self) -> VModule {
        let m = self.m;
        let mut ports = Vec::new();
        if m.clocked {
            ports.push(VPort {
                output: false,
                name: "clk".into(),
                width: 1,
                ..Default::default()
            });
            ports.push(VPort {
                output: false,
                name: "rst".into(),
                width: 1,
                ..Default::default()
            });
        }
        for (name, id) in &m.inputs {
            ports.push(VPort {
                output: false,
                name: name.clone(),
                width: m.node(*id).width,
                ..Default::default()
            });
        }
        for (name, id) in &m.outputs {
            ports.push(VPort {
                output: true,
                name: name.clone(),
                width: m.node(*id).width,
                ..Default::default()
            });
        }

        let mut decls = Vec::new();
        let mut body = Vec::new();
        let mut reg_stmts = Vec::new();
        let mut uses_rst = false;

        for id in 0..m.nodes.len() as NodeId {
            let n = m.node(id);
            let name = self.names[id as usize].clone();
            match &n.op {
                Op::Input | Op::Const(_) => {}
                Op::Reg { d, en, init } => {
                    decls.push(VItem::Reg(name.clone(), n.width));
                    uses_rst = true;
                    let load = vec![VStmt::NonBlocking(
                        VExpr::Ident(name.clone()),
                        self.operand(d[0]),
                    )];
                    let otherwise = match en {
                        Some(e) => vec![VStmt::If(self.operand(*e), load, vec![])],
                        None => load,
                    };
                    reg_stmts.push(VStmt::If(
                        VExpr::Ident("rst".into()),
                        vec![VStmt::NonBlocking(
                            VExpr::Ident(name),
                            VExpr::Const(init.clone()),
                        )],
                        otherwise,
                    ));
                }
                Op::MemRead { .. } => decls.push(VItem::Reg(name, n.width)),
                Op::InstOut { .. } => decls.push(VItem::Wire(name, n.width)),
                _ => {
                    let e = self.expr(id).expect("combinational node");
                    decls.push(VItem::Wire(name.clone(), n.width));
                    body.push(VItem::Assign(VExpr::Ident(name), e));
                }
            }
        }
        for (name, id) in &m.outputs {
            let e = self.operand(*id);
            body.push(VItem::Assign(VExpr::Ident(name.clone()), e));
        }
        if !reg_stmts.is_empty() {
            body.push(VItem::AlwaysPosedge(reg_stmts));
        }

        let mut init_mems = Vec::new();
        let mut init_contents = Vec::new();
        let mut init_regs = Vec::new();
        for (k, mem) in m.memories.iter().enumerate() {
            let style = match mem.style {
                MemStyle::Auto => None,
                MemStyle::Block => Some("block"),
                MemStyle::Ultra => Some("ultra"),
                MemStyle::Distributed => Some("distributed"),
            };
            decls.push(VItem::Memory {
                name: mem.name.clone(),
                width: mem.width,
                depth: mem.depth,
                style,
            });
            // UltraRAM cannot be initialised on UltraScale+; its contents are undefined until written.
            match &mem.init {
                Some(words) => init_contents.push((mem.name.clone(), words.clone())),
                None if mem.style != MemStyle::Ultra => {
                    init_mems.push((mem.name.clone(), mem.width, mem.depth))
                }
                None => {}
            }
            // Depths that are not a power of two: addresses past the end read as zero and drop
            // writes, as in the simulator, instead of Verilog's undefined out-of-range access.
            let aw = mem.addr_width();
            let partial = (mem.depth as u64) < (1u64 << aw);
            let depth_lit = VExpr::Const(Bits::from_u64(aw, mem.depth as u64));
            let mut writes = Vec::new();
            for wp in &mem.write_ports {
                let target = VExpr::Index(mem.name.clone(), b(self.operand(wp.addr)));
                let mut cond = self.operand(wp.en);
                if partial {
                    cond = binary(
                        cond,
                        "&&",
                        binary(self.operand(wp.addr), "<", depth_lit.clone()),
                    );
                }
                writes.push(VStmt::If(
                    cond,
                    vec![VStmt::NonBlocking(target, self.operand(wp.data))],
                    vec![],
                ));
            }
            if !writes.is_empty() {
                body.push(VItem::AlwaysPosedge(writes));
            }
            let mut reads = Vec::new();
            for (p, rp) in mem.read_ports.iter().enumerate() {
                let Some(rd) = (0..m.nodes.len()).find(|i| matches!(m.nodes[*i].op, Op::MemRead { mem: mm, port } if mm == k && port == p)) else {
                    continue;
                };
                let rd_name = self.names[rd].clone();
                init_regs.push((rd_name.clone(), mem.width));
                let mut value = VExpr::Index(mem.name.clone(), b(self.operand(rp.addr)));
                if partial {
                    let ok = binary(self.operand(rp.addr), "<", depth_lit.clone());
                    value = VExpr::Ternary(b(ok), b(value), b(VExpr::Const(Bits::zero(mem.width))));
                }
                if mem.read_during_write == ReadDuringWrite::WriteFirst {
                    for wp in &mem.write_ports {
                        let hit = binary(
                            self.operand(wp.en),
                            "&&",
                            binary(self.operand(wp.addr), "==", self.operand(rp.addr)),
                        );
                        value = VExpr::Ternary(b(hit), b(self.operand(wp.data)), b(value));
                    }
                }
                let load = vec![VStmt::NonBlocking(VExpr::Ident(rd_name), value)];
                reads.push(match rp.en {
                    Some(e) => VStmt::If(self.operand(e), load, vec![]),
                    None => load.into_iter().next().unwrap(),
                });
            }
            body.push(VItem::AlwaysPosedge(reads));
        }
        if !init_mems.is_empty() || !init_regs.is_empty() || !init_contents.is_empty() {
            body.push(VItem::InitialZero {
                memories: init_mems,
                contents: init_contents,
                regs: init_regs,
            });
        }

        for (k, inst) in m.instances.iter().enumerate() {
            let mut conns = Vec::new();
            if inst.module.clocked {
                conns.push(("clk".to_string(), VExpr::Ident("clk".into())));
                conns.push(("rst".to_string(), VExpr::Ident("rst".into())));
                uses_rst = true;
            }
            for ((port, _), src) in inst.module.inputs.iter().zip(&inst.inputs) {
                conns.push((port.clone(), self.operand(*src)));
            }
            for (p, (port, _)) in inst.module.outputs.iter().enumerate() {
                let id = (0..m.nodes.len()).find(|i| matches!(m.nodes[*i].op, Op::InstOut { inst: ii, port: pp } if ii == k && pp == p)).unwrap();
                conns.push((port.clone(), VExpr::Ident(self.names[id].clone())));
            }
            body.push(VItem::Instance {
                module: inst.module.name.clone(),
                name: inst.name.clone(),
                connections: conns,
            });
        }

        // Bits that nothing reads: one reduction wire, Verilator's documented idiom.
        let mut unused = Vec::new();
        if m.clocked && !uses_rst {
            unused.push(VExpr::Ident("rst".into()));
        }
        for id in 0..m.nodes.len() {
            let n = &m.nodes[id];
            if matches!(n.op, Op::Const(_)) {
                continue;
            }
            let used = &self.used[id];
            let mut lo = 0;
            while lo < used.len() {
                if used[lo] {
                    lo += 1;
                    continue;
                }
                let mut hi = lo;
                while hi + 1 < used.len() && !used[hi + 1] {
                    hi += 1;
                }
                let name = self.names[id].clone();
                unused.push(if lo == 0 && hi + 1 == used.len() {
                    VExpr::Ident(name)
                } else if lo == hi {
                    VExpr::Bit(name, lo as u32)
                } else {
                    VExpr::Range(name, hi as u32, lo as u32)
                });
                lo = hi + 1;
            }
        }
        if !unused.is_empty() {
            let mut parts = vec![VExpr::Const(Bits::zero(1))];
            parts.extend(unused);
            parts.push(VExpr::Const(Bits::zero(1)));
            decls.push(VItem::Wire("_unused_ok".into(), 1));
            body.push(VItem::Assign(
                VExpr::Ident("_unused_ok".into()),
                VExpr::Unary("&", b(VExpr::Concat(parts))),
            ));
        }

        decls.extend(body);
        VModule {
            name: m.name.clone(),
            ports,
            items: decls,
            ..Default::default()
        }
    }
}

/// The Verilog of one module (not its children).
pub fn lower_module(m: &Module) -> VModule {
    Lower::new(m).lower()
}

/// Every module of the design, children first: (module name, Verilog text).
pub fn emit_modules(top: &Rc<Module>) -> Vec<(String, String)> {
    top.hierarchy()
        .iter()
        .map(|m| {
            let text = format!(
                "// Generated by plume {}. Do not edit: change the generator and regenerate.\n{}",
                env!("CARGO_PKG_VERSION"),
                lower_module(m).to_text()
            );
            (m.name.clone(), text)
        })
        .collect()
}

/// The whole design in one file. Verilator's DECLFILENAME rule wants one module per file of the
/// same name; `emit_modules` gives that form, this one is for convenience and says so.
pub fn emit_bundle(top: &Rc<Module>) -> String {
    let mut s = String::from("/* verilator lint_off DECLFILENAME */\n");
    for (_, text) in emit_modules(top) {
        s.push_str(&text);
        s.push('\n');
    }
    s
}

/// Port list of a module as the Verilog sees it (clk/rst first when clocked).
pub fn port_list(m: &Module) -> Vec<VPort> {
    lower_module(m).ports
}

#[cfg(test)]
mod tests {
    use crate::rtl::{Bits, ModuleBuilder};

    #[test]
    fn expressions_are_parenthesised_and_signed_where_needed() {
        let mut b = ModuleBuilder::new("t");
        let x = b.input_signed("x", 8);
        let y = b.input_signed("y", 8);
        let p = b.mul(x, y);
        let l = b.lt(x, y);
        let e = b.eq(x, y);
        let a = b.and(l, e);
        b.output("p", p);
        b.output("a", a);
        let m = b.finish().unwrap();
        let v = super::lower_module(&m).to_text();
        assert!(v.contains("assign _n2 = ($signed(x) * $signed(y));"), "{v}");
        assert!(v.contains("assign _n3 = ($signed(x) < $signed(y));"), "{v}");
        assert!(v.contains("assign _n4 = (x == y);"), "{v}");
        assert!(v.contains("assign _n5 = (_n3 & _n4);"), "{v}");
    }

    #[test]
    fn unused_bits_are_collected_and_registers_reset_synchronously() {
        let mut b = ModuleBuilder::new("t");
        let x = b.input("x", 8);
        let hi = b.slice(x, 7, 4);
        let r = b.reg("r", Bits::from_u64(4, 5));
        b.next(r, hi, None);
        b.output("o", r);
        let m = b.finish().unwrap();
        let v = super::lower_module(&m).to_text();
        assert!(
            v.contains("assign _unused_ok = (&{1'h0, x[3:0], 1'h0});"),
            "{v}"
        );
        assert!(
            v.contains("if (rst) begin\n      r <= 4'h5;\n    end else begin\n      r <= _n1;"),
            "{v}"
        );
        assert!(
            v.starts_with("module t (\n  input  wire [0:0] clk,\n  input  wire [0:0] rst,"),
            "{v}"
        );
    }
}
