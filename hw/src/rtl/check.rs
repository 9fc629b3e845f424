//! Design-rule checks, run by `ModuleBuilder::finish` on every module: widths and signedness,
//! drivers (undriven and multiply driven), combinational loops (through instances too), names.
//! `lint` adds the warnings that do not stop a build (unused inputs and named signals).
//! Every message names the module and the signals involved.

use super::ir::*;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrcError {
    pub module: String,
    pub message: String,
}

impl fmt::Display for DrcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "module {}: {}", self.module, self.message)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct DrcErrors(pub Vec<DrcError>);

impl fmt::Display for DrcErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|e| e.to_string()).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

/// How a node is called in messages: its name, or its number and operation.
pub fn describe(m: &Module, id: NodeId) -> String {
    let n = m.node(id);
    match &n.name {
        Some(name) => format!("`{name}`"),
        None => format!("#{id} ({})", op_name(&n.op)),
    }
}

/// A legal Verilog identifier that is not a keyword we would collide with.
pub fn valid_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !super::verilog::is_keyword(s)
}

struct Ctx<'a> {
    m: &'a Module,
    errors: Vec<DrcError>,
}

impl Ctx<'_> {
    fn err(&mut self, message: String) {
        self.errors.push(DrcError {
            module: self.m.name.clone(),
            message,
        });
    }
    fn d(&self, id: NodeId) -> String {
        describe(self.m, id)
    }
    fn w(&self, id: NodeId) -> u32 {
        self.m.node(id).width
    }
    fn s(&self, id: NodeId) -> bool {
        self.m.node(id).signed
    }
    fn same_shape(&mut self, what: &str, a: NodeId, b: NodeId) {
        if self.w(a) != self.w(b) {
            let msg = format!(
                "width mismatch: {what} of {} ({} bits) and {} ({} bits)",
                self.d(a),
                self.w(a),
                self.d(b),
                self.w(b)
            );
            self.err(msg);
        } else if self.s(a) != self.s(b) {
            let sg = |x: bool| if x { "signed" } else { "unsigned" };
            let msg = format!(
                "signedness mismatch: {what} of {} ({}) and {} ({})",
                self.d(a),
                sg(self.s(a)),
                self.d(b),
                sg(self.s(b))
            );
            self.err(msg);
        }
    }
    fn one_bit(&mut self, what: &str, a: NodeId) {
        if self.w(a) != 1 {
            let msg = format!(
                "width mismatch: {what} {} must be 1 bit, is {} bits",
                self.d(a),
                self.w(a)
            );
            self.err(msg);
        }
    }
}

pub fn check_module(m: &Module) -> Result<(), DrcErrors> {
    let mut c = Ctx {
        m,
        errors: Vec::new(),
    };
    if !valid_identifier(&m.name) {
        c.err(format!("`{}` is not a valid module name", m.name));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in m.inputs.iter().chain(&m.outputs) {
        if !valid_identifier(name) || name == "clk" || name == "rst" {
            c.err(format!(
                "`{name}` is not a valid port name (clk and rst are reserved)"
            ));
        }
        if !seen.insert(name.clone()) {
            c.err(format!("port `{name}` is declared twice"));
        }
    }
    for (id, n) in m.nodes.iter().enumerate() {
        let id = id as NodeId;
        if n.width == 0 {
            c.err(format!("{} has zero width", c.d(id)));
            continue;
        }
        if let Some(name) = &n.name {
            if !valid_identifier(name) {
                c.err(format!("`{name}` is not a valid signal name"));
            }
        }
        match &n.op {
            Op::Input | Op::Const(_) | Op::MemRead { .. } | Op::InstOut { .. } => {}
            Op::Not(_) | Op::Reduce(..) | Op::Cast(_) => {}
            Op::Bin(op, a, b) => c.same_shape(&format!("{:?}", op).to_lowercase(), *a, *b),
            Op::Cmp(op, a, b) => c.same_shape(&format!("compare {:?}", op).to_lowercase(), *a, *b),
            Op::Mul(a, b) => {
                if c.s(*a) != c.s(*b) {
                    let msg = format!("signedness mismatch: mul of {} and {}", c.d(*a), c.d(*b));
                    c.err(msg);
                }
            }
            Op::Shift(_, _, amount) => {
                if c.s(*amount) {
                    let msg = format!("shift amount {} must be unsigned", c.d(*amount));
                    c.err(msg);
                }
            }
            Op::Mux {
                sel,
                on_true,
                on_false,
            } => {
                c.one_bit("mux select", *sel);
                c.same_shape("mux", *on_true, *on_false);
            }
            Op::Select { sel, choices } => {
                let sw = c.w(*sel);
                if sw > 16 || choices.len() != 1usize << sw {
                    let msg = format!(
                        "select on {} ({} bits) needs {} choices, has {}",
                        c.d(*sel),
                        sw,
                        1u64 << sw.min(63),
                        choices.len()
                    );
                    c.err(msg);
                } else {
                    for ch in &choices[1..] {
                        c.same_shape("select", choices[0], *ch);
                    }
                }
            }
            Op::Cat(parts) => {
                if parts.is_empty() {
                    c.err(format!("{} concatenates nothing", c.d(id)));
                }
            }
            Op::Slice { arg, lo } => {
                if lo + n.width > c.w(*arg) {
                    let msg = format!(
                        "slice [{}:{}] out of range of {} ({} bits)",
                        lo + n.width - 1,
                        lo,
                        c.d(*arg),
                        c.w(*arg)
                    );
                    c.err(msg);
                }
            }
            Op::Extend(a) => {
                if n.width < c.w(*a) {
                    let msg = format!(
                        "extend of {} ({} bits) to {} bits would truncate",
                        c.d(*a),
                        c.w(*a),
                        n.width
                    );
                    c.err(msg);
                }
            }
            Op::Wire(drivers) => match drivers.len() {
                0 => c.err(format!("{} is undriven", c.d(id))),
                1 => {
                    if c.w(drivers[0]) != n.width {
                        let msg = format!(
                            "width mismatch: {} ({} bits) driven by {} ({} bits)",
                            c.d(id),
                            n.width,
                            c.d(drivers[0]),
                            c.w(drivers[0])
                        );
                        c.err(msg);
                    }
                }
                k => {
                    let ds: Vec<String> = drivers.iter().map(|d| c.d(*d)).collect();
                    c.err(format!(
                        "{} is driven {k} times (by {})",
                        c.d(id),
                        ds.join(", ")
                    ));
                }
            },
            Op::Reg { d, en, init } => {
                match d.len() {
                    0 => c.err(format!("register {} has no next value", c.d(id))),
                    1 => {
                        if c.w(d[0]) != n.width {
                            let msg = format!(
                                "width mismatch: register {} ({} bits) loaded from {} ({} bits)",
                                c.d(id),
                                n.width,
                                c.d(d[0]),
                                c.w(d[0])
                            );
                            c.err(msg);
                        }
                    }
                    k => c.err(format!("register {} is given {k} next values", c.d(id))),
                }
                if let Some(e) = en {
                    c.one_bit("register enable", *e);
                }
                if init.width() != n.width {
                    c.err(format!(
                        "register {} reset value is {} bits, register is {}",
                        c.d(id),
                        init.width(),
                        n.width
                    ));
                }
            }
        }
    }
    for mem in &m.memories {
        if !valid_identifier(&mem.name) {
            c.err(format!("`{}` is not a valid memory name", mem.name));
        }
        if mem.depth == 0 || mem.width == 0 {
            c.err(format!("memory `{}` has zero size", mem.name));
            continue;
        }
        if let Some(words) = &mem.init {
            if words.len() != mem.depth as usize {
                c.err(format!(
                    "memory `{}` has {} initial words for {} lines",
                    mem.name,
                    words.len(),
                    mem.depth
                ));
            }
        }
        let aw = mem.addr_width();
        let ports = mem
            .read_ports
            .iter()
            .map(|r| r.addr)
            .chain(mem.write_ports.iter().map(|w| w.addr));
        for a in ports.collect::<Vec<_>>() {
            if c.w(a) != aw {
                let msg = format!(
                    "width mismatch: memory `{}` ({} words) addressed by {} ({} bits, needs {aw})",
                    mem.name,
                    mem.depth,
                    c.d(a),
                    c.w(a)
                );
                c.err(msg);
            }
        }
        for r in &mem.read_ports {
            if let Some(e) = r.en {
                c.one_bit("memory read enable", e);
            }
        }
        for w in &mem.write_ports {
            c.one_bit("memory write enable", w.en);
            if c.w(w.data) != mem.width {
                let msg = format!(
                    "width mismatch: memory `{}` ({} bits) written with {} ({} bits)",
                    mem.name,
                    mem.width,
                    c.d(w.data),
                    c.w(w.data)
                );
                c.err(msg);
            }
        }
    }
    for inst in &m.instances {
        for ((port, pid), src) in inst.module.inputs.iter().zip(&inst.inputs) {
            let pw = inst.module.node(*pid).width;
            if pw != c.w(*src) {
                let msg = format!("width mismatch: instance `{}` input {port} ({pw} bits) connected to {} ({} bits)", inst.name, c.d(*src), c.w(*src));
                c.err(msg);
            }
        }
    }
    if c.errors.is_empty() {
        if let Some(cycle) = find_comb_loop(m) {
            let names: Vec<String> = cycle.iter().map(|id| describe(m, *id)).collect();
            c.err(format!("combinational loop: {}", names.join(" -> ")));
        }
    }
    if c.errors.is_empty() {
        Ok(())
    } else {
        Err(DrcErrors(c.errors))
    }
}

/// The nodes a node reads combinationally (within this settle): registers and memory read
/// data break paths; instance outputs depend on the instance inputs they reach combinationally.
fn comb_deps(m: &Module, id: NodeId) -> Vec<NodeId> {
    match &m.node(id).op {
        Op::Reg { .. } | Op::MemRead { .. } => vec![],
        Op::InstOut { inst, port } => {
            let i = &m.instances[*inst];
            i.module.comb_inputs[*port]
                .iter()
                .map(|k| i.inputs[*k])
                .collect()
        }
        op => operands(op),
    }
}

fn find_comb_loop(m: &Module) -> Option<Vec<NodeId>> {
    // Iterative DFS, colours: 0 new, 1 on stack, 2 done.
    let n = m.nodes.len();
    let mut colour = vec![0u8; n];
    for root in 0..n as NodeId {
        if colour[root as usize] != 0 {
            continue;
        }
        let mut stack: Vec<(NodeId, Vec<NodeId>, usize)> = vec![(root, comb_deps(m, root), 0)];
        colour[root as usize] = 1;
        while let Some((node, deps, i)) = stack.last_mut() {
            if *i < deps.len() {
                let next = deps[*i];
                *i += 1;
                match colour[next as usize] {
                    0 => {
                        colour[next as usize] = 1;
                        let d = comb_deps(m, next);
                        stack.push((next, d, 0));
                    }
                    1 => {
                        let start = stack.iter().position(|(x, _, _)| *x == next).unwrap();
                        let mut cycle: Vec<NodeId> =
                            stack[start..].iter().map(|(x, _, _)| *x).collect();
                        cycle.push(next);
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                colour[*node as usize] = 2;
                stack.pop();
            }
        }
    }
    None
}

/// For each output, the input ports it reaches without passing a register.
pub fn comb_inputs(m: &Module) -> Vec<Vec<usize>> {
    let mut memo: Vec<Option<Vec<usize>>> = vec![None; m.nodes.len()];
    fn visit(m: &Module, id: NodeId, memo: &mut Vec<Option<Vec<usize>>>) -> Vec<usize> {
        if let Some(v) = &memo[id as usize] {
            return v.clone();
        }
        let mut acc: Vec<usize> = match m.node(id).op {
            Op::Input => vec![m.inputs.iter().position(|(_, i)| *i == id).unwrap()],
            _ => vec![],
        };
        for d in comb_deps(m, id) {
            acc.extend(visit(m, d, memo));
        }
        acc.sort_unstable();
        acc.dedup();
        memo[id as usize] = Some(acc.clone());
        acc
    }
    m.outputs
        .iter()
        .map(|(_, id)| visit(m, *id, &mut memo))
        .collect()
}

/// Warnings that do not stop a build: inputs nobody reads, named signals nobody reads.
pub fn lint(m: &Module) -> Vec<DrcError> {
    let uses = m.fanout_counts();
    let mut out = Vec::new();
    for (id, n) in m.nodes.iter().enumerate() {
        if uses[id] == 0 && !matches!(n.op, Op::InstOut { .. }) {
            if let Some(name) = &n.name {
                let what = if matches!(n.op, Op::Input) {
                    "input"
                } else {
                    "signal"
                };
                out.push(DrcError {
                    module: m.name.clone(),
                    message: format!("{what} `{name}` is never used"),
                });
            }
        }
    }
    out
}

/// Checks a whole design: modules sharing a name must be identical (one emitted module per
/// distinct parameter set, so a name collision between different modules is a generator bug).
pub fn check_design(top: &std::rc::Rc<Module>) -> Result<(), DrcErrors> {
    let mut errors = Vec::new();
    let mut seen: Vec<std::rc::Rc<Module>> = Vec::new();
    fn walk(
        m: &std::rc::Rc<Module>,
        seen: &mut Vec<std::rc::Rc<Module>>,
        errors: &mut Vec<DrcError>,
    ) {
        match seen.iter().find(|o| o.name == m.name) {
            Some(o) if std::rc::Rc::ptr_eq(o, m) || **o == **m => {}
            Some(_) => errors.push(DrcError {
                module: m.name.clone(),
                message: "two different modules share this name".into(),
            }),
            None => seen.push(m.clone()),
        }
        for i in &m.instances {
            walk(&i.module, seen, errors);
        }
    }
    walk(top, &mut seen, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DrcErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use crate::rtl::{Bits, ModuleBuilder};

    fn errors(b: ModuleBuilder) -> String {
        b.finish()
            .err()
            .expect("expected design-rule errors")
            .to_string()
    }

    #[test]
    fn width_mismatch_names_both_operands() {
        let mut b = ModuleBuilder::new("t");
        let x = b.input("x", 8);
        let y = b.input("y", 7);
        let s = b.add(x, y);
        b.output("o", s);
        assert_eq!(
            errors(b),
            "module t: width mismatch: add of `x` (8 bits) and `y` (7 bits)"
        );
    }

    #[test]
    fn signedness_mismatch() {
        let mut b = ModuleBuilder::new("t");
        let x = b.input_signed("x", 8);
        let y = b.input("y", 8);
        let s = b.lt(x, y);
        b.output("o", s);
        assert_eq!(
            errors(b),
            "module t: signedness mismatch: compare lt of `x` (signed) and `y` (unsigned)"
        );
    }

    #[test]
    fn undriven_and_multiply_driven() {
        let mut b = ModuleBuilder::new("t");
        let x = b.input("x", 4);
        let w = b.wire("w", 4);
        let v = b.wire("v", 4);
        b.assign(v, x);
        b.assign(v, x);
        let s = b.xor(w, v);
        b.output("o", s);
        assert_eq!(
            errors(b),
            "module t: `w` is undriven\nmodule t: `v` is driven 2 times (by `x`, `x`)"
        );
    }

    #[test]
    fn combinational_loop_is_reported_with_its_path() {
        let mut b = ModuleBuilder::new("t");
        let x = b.input("x", 4);
        let w = b.wire("w", 4);
        let s = b.add(x, w);
        let s = b.named(s, "sum");
        b.assign(w, s);
        b.output("o", s);
        let msg = errors(b);
        assert!(msg.starts_with("module t: combinational loop: "), "{msg}");
        assert!(msg.contains("`w`") && msg.contains("`sum`"), "{msg}");
    }

    #[test]
    fn register_breaks_loop_and_loop_through_instance_is_found() {
        let mut b = ModuleBuilder::new("acc");
        let x = b.input("x", 4);
        let r = b.reg("r", Bits::zero(4));
        let s = b.add(x, r);
        b.next(r, s, None);
        b.output("o", r);
        let acc = b.finish().expect("a register breaks the loop");
        assert!(acc.clocked);
        assert_eq!(acc.comb_inputs, vec![Vec::<usize>::new()]);

        let mut b = ModuleBuilder::new("pass");
        let x = b.input("x", 4);
        let y = b.not(x);
        b.output("y", y);
        let pass = b.finish().unwrap();
        let mut b = ModuleBuilder::new("top");
        let w = b.wire("w", 4);
        let o = b.instance("u", &pass, &[("x", w)]).get("y");
        b.assign(w, o);
        b.output("o", o);
        assert!(errors(b).contains("combinational loop"));
    }

    #[test]
    fn slice_range_and_bad_names() {
        let mut b = ModuleBuilder::new("t");
        let x = b.input("x", 4);
        let s = b.slice(x, 5, 2);
        b.output("clk", s);
        let msg = errors(b);
        assert!(msg.contains("`clk` is not a valid port name"), "{msg}");
        assert!(
            msg.contains("slice [5:2] out of range of `x` (4 bits)"),
            "{msg}"
        );
    }

    #[test]
    fn lint_reports_unused_input() {
        let mut b = ModuleBuilder::new("t");
        let _x = b.input("x", 4);
        let y = b.input("y", 4);
        b.output("o", y);
        let m = b.finish().unwrap();
        let w: Vec<String> = super::lint(&m).iter().map(|e| e.to_string()).collect();
        assert_eq!(w, vec!["module t: input `x` is never used"]);
    }
}
