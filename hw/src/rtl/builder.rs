//! Building modules with plain Rust: every method adds one node and returns its `Sig`.
//!
//! The builder records what it is asked to build without judging it; `finish` runs the
//! design-rule checks (`check.rs`) and returns either a module or every error found, with the
//! names of the signals involved. Generators are ordinary functions over a validated config.
//!
//! Misuse — a port name that does not exist, an unconnected instance input, `assign` to
//! something that is not a wire — does not panic: the builder notes it, carries on with a
//! placeholder, and `finish` reports every such mistake (and nothing else, since later checks
//! would only repeat them). Finished modules have no dead logic (`passes::dead`), so the
//! simulator and the Verilog emitter see exactly the same design.

use super::bits::Bits;
use super::check::{self, DrcError, DrcErrors};
use super::ir::*;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

pub struct ModuleBuilder {
    m: Module,
    misuse: Rc<RefCell<Vec<String>>>,
}

/// Outputs of an instance, by port name.
pub struct InstanceOutputs {
    inst: String,
    module: String,
    outs: BTreeMap<String, Sig>,
    /// What `get` returns for a port that does not exist (the mistake is reported by `finish`).
    placeholder: Sig,
    misuse: Rc<RefCell<Vec<String>>>,
}

impl InstanceOutputs {
    /// Output `port` of the instance. A name the module does not have is reported by the
    /// builder's `finish`.
    pub fn get(&self, port: &str) -> Sig {
        match self.outs.get(port) {
            Some(s) => *s,
            None => {
                let known: Vec<&str> = self.outs.keys().map(String::as_str).collect();
                self.misuse.borrow_mut().push(format!(
                    "instance {} of {} has no output {port:?} (outputs: {})",
                    self.inst,
                    self.module,
                    known.join(", ")
                ));
                self.placeholder
            }
        }
    }
}

impl ModuleBuilder {
    pub fn new(name: impl Into<String>) -> Self {
        ModuleBuilder {
            m: Module {
                name: name.into(),
                nodes: Vec::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                instances: Vec::new(),
                memories: Vec::new(),
                clocked: false,
                comb_inputs: Vec::new(),
            },
            misuse: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// Notes a mistake in how the generator uses the builder (reported by `finish`) and
    /// returns a placeholder of `width` bits so building can go on.
    pub fn misuse(&mut self, width: u32, message: impl Into<String>) -> Sig {
        self.misuse.borrow_mut().push(message.into());
        self.zero(width.max(1))
    }

    pub fn name(&self) -> &str {
        &self.m.name
    }

    fn push(&mut self, op: Op, width: u32, signed: bool) -> Sig {
        let id = self.m.nodes.len() as NodeId;
        self.m.nodes.push(Node {
            op,
            width,
            signed,
            name: None,
        });
        Sig { id, width, signed }
    }

    // ---- ports -------------------------------------------------------------------------

    pub fn input(&mut self, name: &str, width: u32) -> Sig {
        let s = self.push(Op::Input, width, false);
        self.m.nodes[s.id as usize].name = Some(name.to_string());
        self.m.inputs.push((name.to_string(), s.id));
        s
    }

    pub fn input_signed(&mut self, name: &str, width: u32) -> Sig {
        let s = self.input(name, width);
        self.m.nodes[s.id as usize].signed = true;
        Sig { signed: true, ..s }
    }

    pub fn output(&mut self, name: &str, value: Sig) {
        self.m.outputs.push((name.to_string(), value.id));
    }

    // ---- constants ---------------------------------------------------------------------

    pub fn constant(&mut self, value: Bits) -> Sig {
        let w = value.width();
        self.push(Op::Const(value), w, false)
    }

    pub fn lit(&mut self, width: u32, value: u64) -> Sig {
        self.constant(Bits::from_u64(width, value))
    }

    pub fn lit_signed(&mut self, width: u32, value: i64) -> Sig {
        let c = self.constant(Bits::from_i64(width, value));
        self.as_signed(c)
    }

    pub fn zero(&mut self, width: u32) -> Sig {
        self.lit(width, 0)
    }

    // ---- operators ---------------------------------------------------------------------

    pub fn not(&mut self, a: Sig) -> Sig {
        self.push(Op::Not(a.id), a.width, a.signed)
    }

    pub fn bin(&mut self, op: BinOp, a: Sig, b: Sig) -> Sig {
        self.push(Op::Bin(op, a.id, b.id), a.width, a.signed)
    }

    /// Wrap-around addition (operands of equal width; see `add_wide` for a carry).
    pub fn add(&mut self, a: Sig, b: Sig) -> Sig {
        self.bin(BinOp::Add, a, b)
    }

    pub fn sub(&mut self, a: Sig, b: Sig) -> Sig {
        self.bin(BinOp::Sub, a, b)
    }

    pub fn and(&mut self, a: Sig, b: Sig) -> Sig {
        self.bin(BinOp::And, a, b)
    }

    pub fn or(&mut self, a: Sig, b: Sig) -> Sig {
        self.bin(BinOp::Or, a, b)
    }

    pub fn xor(&mut self, a: Sig, b: Sig) -> Sig {
        self.bin(BinOp::Xor, a, b)
    }

    /// Addition one bit wider than its operands (no overflow).
    pub fn add_wide(&mut self, a: Sig, b: Sig) -> Sig {
        let (a1, b1) = (self.extend(a, a.width + 1), self.extend(b, b.width + 1));
        self.add(a1, b1)
    }

    /// Full product, `a.width + b.width` bits, signed when both operands are (a DSP48E2
    /// multiplies signed 27×18).
    pub fn mul(&mut self, a: Sig, b: Sig) -> Sig {
        self.push(Op::Mul(a.id, b.id), a.width + b.width, a.signed)
    }

    pub fn cmp(&mut self, op: CmpOp, a: Sig, b: Sig) -> Sig {
        self.push(Op::Cmp(op, a.id, b.id), 1, false)
    }

    pub fn eq(&mut self, a: Sig, b: Sig) -> Sig {
        self.cmp(CmpOp::Eq, a, b)
    }

    pub fn ne(&mut self, a: Sig, b: Sig) -> Sig {
        self.cmp(CmpOp::Ne, a, b)
    }

    pub fn lt(&mut self, a: Sig, b: Sig) -> Sig {
        self.cmp(CmpOp::Lt, a, b)
    }

    /// `a == value` for a constant.
    pub fn eq_lit(&mut self, a: Sig, value: u64) -> Sig {
        let c = self.lit(a.width, value);
        let c = if a.signed { self.as_signed(c) } else { c };
        self.eq(a, c)
    }

    pub fn shl(&mut self, a: Sig, amount: Sig) -> Sig {
        self.push(Op::Shift(ShiftOp::Shl, a.id, amount.id), a.width, a.signed)
    }

    /// Logical for unsigned `a`, arithmetic for signed `a`.
    pub fn shr(&mut self, a: Sig, amount: Sig) -> Sig {
        self.push(Op::Shift(ShiftOp::Shr, a.id, amount.id), a.width, a.signed)
    }

    pub fn reduce(&mut self, op: RedOp, a: Sig) -> Sig {
        self.push(Op::Reduce(op, a.id), 1, false)
    }

    /// `sel ? on_true : on_false`.
    pub fn mux(&mut self, sel: Sig, on_true: Sig, on_false: Sig) -> Sig {
        self.push(
            Op::Mux {
                sel: sel.id,
                on_true: on_true.id,
                on_false: on_false.id,
            },
            on_true.width,
            on_true.signed,
        )
    }

    /// `choices[sel]`, with exactly 2^width(sel) choices.
    pub fn select(&mut self, sel: Sig, choices: &[Sig]) -> Sig {
        let first = choices.first().copied().unwrap_or(sel);
        self.push(
            Op::Select {
                sel: sel.id,
                choices: choices.iter().map(|c| c.id).collect(),
            },
            first.width,
            first.signed,
        )
    }

    /// A case statement with a default: arms are (value of `sel`, result).
    pub fn case(&mut self, sel: Sig, arms: &[(u64, Sig)], default: Sig) -> Sig {
        let n = 1usize << sel.width.min(16);
        let mut choices = vec![default; n];
        for (v, s) in arms {
            if let Some(c) = choices.get_mut(*v as usize) {
                *c = *s;
            }
        }
        self.select(sel, &choices)
    }

    /// `{parts[0], parts[1], …}`: the first part is the most significant.
    pub fn cat(&mut self, parts: &[Sig]) -> Sig {
        let w = parts.iter().map(|p| p.width).sum();
        self.push(Op::Cat(parts.iter().map(|p| p.id).collect()), w, false)
    }

    /// Bits `[hi:lo]`, unsigned.
    pub fn slice(&mut self, a: Sig, hi: u32, lo: u32) -> Sig {
        self.push(
            Op::Slice { arg: a.id, lo },
            (hi + 1).saturating_sub(lo),
            false,
        )
    }

    pub fn bit(&mut self, a: Sig, i: u32) -> Sig {
        self.slice(a, i, i)
    }

    /// The low `width` bits, keeping signedness.
    pub fn trunc(&mut self, a: Sig, width: u32) -> Sig {
        let s = self.slice(a, width - 1, 0);
        if a.signed {
            self.as_signed(s)
        } else {
            s
        }
    }

    /// Extension to `width` by the signedness of `a`.
    pub fn extend(&mut self, a: Sig, width: u32) -> Sig {
        self.push(Op::Extend(a.id), width, a.signed)
    }

    pub fn as_signed(&mut self, a: Sig) -> Sig {
        self.push(Op::Cast(a.id), a.width, true)
    }

    pub fn as_unsigned(&mut self, a: Sig) -> Sig {
        self.push(Op::Cast(a.id), a.width, false)
    }

    /// Truncates or zero-extends `a` to `width` bits.
    pub fn resize(&mut self, a: Sig, width: u32) -> Sig {
        if a.width >= width {
            self.slice(a, width - 1, 0)
        } else {
            self.extend(a, width)
        }
    }

    /// Shift left by a constant, same width (zeros enter).
    pub fn shl_const(&mut self, a: Sig, n: u32) -> Sig {
        if n == 0 {
            return a;
        }
        if n >= a.width {
            return self.zero(a.width);
        }
        let low = self.slice(a, a.width - 1 - n, 0);
        let z = self.zero(n);
        self.cat(&[low, z])
    }

    // ---- wires, registers, names -------------------------------------------------------

    /// A connection to be driven later with `assign` (for feedback and forward references).
    pub fn wire(&mut self, name: &str, width: u32) -> Sig {
        let s = self.push(Op::Wire(Vec::new()), width, false);
        self.m.nodes[s.id as usize].name = Some(name.to_string());
        s
    }

    pub fn assign(&mut self, wire: Sig, value: Sig) {
        match &mut self.m.nodes[wire.id as usize].op {
            Op::Wire(d) => d.push(value.id),
            _ => {
                let msg = format!(
                    "assign to {}; only wires are assigned",
                    check::describe(&self.m, wire.id)
                );
                self.misuse.borrow_mut().push(msg);
            }
        }
    }

    /// A register with reset value `init` (its width is the register's). Drive it with `next`.
    pub fn reg(&mut self, name: &str, init: Bits) -> Sig {
        let w = init.width();
        let s = self.push(
            Op::Reg {
                d: Vec::new(),
                en: None,
                init,
            },
            w,
            false,
        );
        self.m.nodes[s.id as usize].name = Some(name.to_string());
        s
    }

    /// Sets the data input (and optionally the enable) of register `r`.
    pub fn next(&mut self, r: Sig, d: Sig, en: Option<Sig>) {
        match &mut self.m.nodes[r.id as usize].op {
            Op::Reg { d: dd, en: e, .. } => {
                dd.push(d.id);
                *e = en.map(|s| s.id);
            }
            _ => {
                let msg = format!(
                    "next() on {}; only registers have a next value",
                    check::describe(&self.m, r.id)
                );
                self.misuse.borrow_mut().push(msg);
            }
        }
    }

    /// A register loaded with `d` every cycle (reset to zero), with `d`'s signedness.
    pub fn delay(&mut self, name: &str, d: Sig) -> Sig {
        let r = self.reg(name, Bits::zero(d.width));
        self.next(r, d, None);
        if d.signed {
            self.m.nodes[r.id as usize].signed = true;
            Sig { signed: true, ..r }
        } else {
            r
        }
    }

    /// Gives `s` a name (in Verilog and waveforms). An already named node gets a named copy.
    pub fn named(&mut self, s: Sig, name: &str) -> Sig {
        let node = &mut self.m.nodes[s.id as usize];
        if node.name.is_none() {
            node.name = Some(name.to_string());
            return s;
        }
        let w = self.push(Op::Wire(vec![s.id]), s.width, s.signed);
        self.m.nodes[w.id as usize].name = Some(name.to_string());
        w
    }

    // ---- memories and instances --------------------------------------------------------

    /// Declares a memory; add ports with `mem_read` and `mem_write`.
    pub fn memory(
        &mut self,
        name: &str,
        width: u32,
        depth: u32,
        style: MemStyle,
        rdw: ReadDuringWrite,
    ) -> usize {
        self.m.memories.push(Memory {
            name: name.to_string(),
            width,
            depth,
            style,
            read_during_write: rdw,
            read_ports: Vec::new(),
            write_ports: Vec::new(),
            init: None,
        });
        self.m.memories.len() - 1
    }

    /// Declares a ROM holding `contents` (one word per line, all `width` bits wide); read it
    /// with `mem_read`.
    pub fn rom(&mut self, name: &str, width: u32, contents: Vec<Bits>, style: MemStyle) -> usize {
        let depth = contents.len() as u32;
        if style == MemStyle::Ultra {
            self.misuse(
                1,
                format!("ROM {name}: UltraRAM cannot hold initial contents"),
            );
        }
        if let Some(w) = contents.iter().find(|w| w.width() != width) {
            self.misuse(
                1,
                format!("ROM {name}: a {}-bit word in a {width}-bit ROM", w.width()),
            );
        }
        let mem = self.memory(name, width, depth.max(1), style, ReadDuringWrite::ReadFirst);
        self.m.memories[mem].init = Some(contents);
        mem
    }

    /// A synchronous read port: the returned data is registered (valid the cycle after `addr`).
    pub fn mem_read(&mut self, mem: usize, addr: Sig, en: Option<Sig>) -> Sig {
        let m = &mut self.m.memories[mem];
        m.read_ports.push(ReadPort {
            addr: addr.id,
            en: en.map(|e| e.id),
        });
        let (port, width) = (m.read_ports.len() - 1, m.width);
        let name = format!("{}_rd{}", m.name, port);
        let s = self.push(Op::MemRead { mem, port }, width, false);
        self.m.nodes[s.id as usize].name = Some(name);
        s
    }

    pub fn mem_write(&mut self, mem: usize, addr: Sig, data: Sig, en: Sig) {
        self.m.memories[mem].write_ports.push(WritePort {
            addr: addr.id,
            data: data.id,
            en: en.id,
        });
    }

    /// Instantiates `module`, connecting its inputs by name. Every input must be connected,
    /// and only to inputs the module has (`finish` reports what is not).
    pub fn instance(
        &mut self,
        name: &str,
        module: &Rc<Module>,
        connections: &[(&str, Sig)],
    ) -> InstanceOutputs {
        let mut inputs = Vec::with_capacity(module.inputs.len());
        for (port, id) in &module.inputs {
            match connections.iter().find(|(p, _)| p == port) {
                Some((_, s)) => inputs.push(s.id),
                None => {
                    let w = module.node(*id).width;
                    let msg = format!(
                        "instance {name} of {}: input {port} is not connected",
                        module.name
                    );
                    inputs.push(self.misuse(w, msg).id);
                }
            }
        }
        for (p, _) in connections {
            if module.input_index(p).is_none() {
                let known: Vec<&str> = module.inputs.iter().map(|(n, _)| n.as_str()).collect();
                let msg = format!(
                    "instance {name} of {} has no input {p:?} (inputs: {})",
                    module.name,
                    known.join(", ")
                );
                self.misuse(1, msg);
            }
        }
        let inst = self.m.instances.len();
        self.m.instances.push(Instance {
            name: name.to_string(),
            module: module.clone(),
            inputs,
        });
        let mut outs = BTreeMap::new();
        for (port, (pname, id)) in module.outputs.iter().enumerate() {
            let n = module.node(*id);
            let s = self.push(Op::InstOut { inst, port }, n.width, n.signed);
            self.m.nodes[s.id as usize].name = Some(format!("{name}_{pname}"));
            outs.insert(pname.clone(), s);
        }
        let placeholder = match outs.values().next() {
            Some(s) => Sig { width: 1, ..*s },
            None => self.zero(1),
        };
        InstanceOutputs {
            inst: name.to_string(),
            module: module.name.clone(),
            outs,
            placeholder,
            misuse: self.misuse.clone(),
        }
    }

    /// Runs the design-rule checks and removes dead logic; returns the module or every error
    /// found. Mistakes in the builder's use come first and alone.
    pub fn finish(self) -> Result<Rc<Module>, DrcErrors> {
        let misuse = std::mem::take(&mut *self.misuse.borrow_mut());
        if !misuse.is_empty() {
            return Err(DrcErrors(
                misuse
                    .into_iter()
                    .map(|message| DrcError {
                        module: self.m.name.clone(),
                        message,
                    })
                    .collect(),
            ));
        }
        check::check_module(&self.m)?;
        let mut m = super::passes::dead::prune(&self.m);
        m.clocked = m.nodes.iter().any(|n| matches!(n.op, Op::Reg { .. }))
            || !m.memories.is_empty()
            || m.instances.iter().any(|i| i.module.clocked);
        m.comb_inputs = check::comb_inputs(&m);
        Ok(Rc::new(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child() -> Rc<Module> {
        let mut b = ModuleBuilder::new("child");
        let a = b.input("a", 4);
        let n = b.not(a);
        b.output("y", n);
        b.finish().unwrap()
    }

    #[test]
    fn misnamed_ports_and_misused_nodes_are_reported_by_finish_not_panics() {
        let c = child();
        let mut b = ModuleBuilder::new("top");
        let x = b.input("x", 4);
        let i = b.instance("u0", &c, &[("b", x)]);
        let y = i.get("z");
        b.output("o", y);
        let k = b.lit(4, 1);
        b.assign(k, x);
        b.next(x, k, None);
        let e = b.finish().unwrap_err().to_string();
        for needle in [
            "module top: instance u0 of child: input a is not connected",
            "module top: instance u0 of child has no input \"b\" (inputs: a)",
            "module top: instance u0 of child has no output \"z\" (outputs: y)",
            "module top: assign to #",
            "module top: next() on `x`; only registers have a next value",
        ] {
            assert!(e.contains(needle), "{needle:?} not in:\n{e}");
        }
    }
}
