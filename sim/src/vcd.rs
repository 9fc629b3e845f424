//! VCD waveforms written with the `vcd` crate: one scope per instance (the design hierarchy),
//! every port and named signal, and a `clk`. Time unit 1 ns, clock period 10 ns: the rising
//! edge that starts cycle c is at 10·c and the values dumped there are cycle c's settled
//! values, so registers change on the edge, as a viewer expects. Only changes are written.

use crate::compile::{Loc, Program};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use vcd::{IdCode, TimescaleUnit, Value, Writer};

pub const PERIOD_NS: u64 = 10;

pub struct VcdTrace {
    w: Writer<BufWriter<File>>,
    clk: IdCode,
    vars: Vec<(IdCode, Loc)>,
    last: Vec<u64>,
    first: bool,
    error: Option<io::Error>,
}

impl VcdTrace {
    pub fn create(path: &Path, prog: &Program) -> io::Result<VcdTrace> {
        let mut w = Writer::new(BufWriter::new(File::create(path)?));
        w.version(concat!("plume ", env!("CARGO_PKG_VERSION")))?;
        w.timescale(1, TimescaleUnit::NS)?;
        let mut stack: Vec<String> = Vec::new();
        let mut vars = Vec::new();
        let mut clk = None;
        for t in &prog.traces {
            let common = stack
                .iter()
                .zip(&t.scope)
                .take_while(|(a, b)| a == b)
                .count();
            while stack.len() > common {
                w.upscope()?;
                stack.pop();
            }
            for s in &t.scope[common..] {
                w.add_module(s)?;
                stack.push(s.clone());
            }
            if clk.is_none() {
                clk = Some(w.add_wire(1, "clk")?);
            }
            vars.push((w.add_wire(t.loc.width, &t.name)?, t.loc));
        }
        if clk.is_none() {
            w.add_module(&prog.top)?;
            stack.push(prog.top.clone());
            clk = Some(w.add_wire(1, "clk")?);
        }
        while stack.pop().is_some() {
            w.upscope()?;
        }
        w.enddefinitions()?;
        let words: usize = vars.iter().map(|(_, l)| l.words()).sum();
        Ok(VcdTrace {
            w,
            clk: clk.unwrap(),
            vars,
            last: vec![0; words],
            first: true,
            error: None,
        })
    }

    /// Dumps cycle `cycle`'s settled values (changes only).
    pub fn sample(&mut self, cycle: u64, v: &[u64]) {
        if self.error.is_none() {
            if let Err(e) = self.sample_inner(cycle, v) {
                self.error = Some(e);
            }
        }
    }

    fn sample_inner(&mut self, cycle: u64, v: &[u64]) -> io::Result<()> {
        self.w.timestamp(cycle * PERIOD_NS)?;
        self.w.change_scalar(self.clk, Value::V1)?;
        let mut k = 0;
        for (id, l) in &self.vars {
            let n = l.words();
            let cur = &v[l.slot as usize..l.slot as usize + n];
            if self.first || cur != &self.last[k..k + n] {
                self.last[k..k + n].copy_from_slice(cur);
                if l.width == 1 {
                    self.w.change_scalar(
                        *id,
                        if cur[0] & 1 == 1 {
                            Value::V1
                        } else {
                            Value::V0
                        },
                    )?;
                } else {
                    let bits = (0..l.width).rev().map(|i| {
                        if (cur[i as usize / 64] >> (i % 64)) & 1 == 1 {
                            Value::V1
                        } else {
                            Value::V0
                        }
                    });
                    self.w.change_vector(*id, bits)?;
                }
            }
            k += n;
        }
        self.first = false;
        self.w.timestamp(cycle * PERIOD_NS + PERIOD_NS / 2)?;
        self.w.change_scalar(self.clk, Value::V0)?;
        Ok(())
    }

    /// Ends the waveform after `cycles` cycles and flushes it; reports any write error.
    pub fn finish(&mut self, cycles: u64) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.w.timestamp(cycles * PERIOD_NS)?;
        self.w.flush()
    }
}

/// Reads a VCD back: (scope path + name → width) for every variable, and the number of value
/// changes. Used by tests and by `plume` to check what it wrote.
pub fn summarize(path: &Path) -> io::Result<(Vec<(String, u32)>, usize)> {
    let f = io::BufReader::new(File::open(path)?);
    let mut p = vcd::Parser::new(f);
    let header = p.parse_header()?;
    let mut vars = Vec::new();
    fn walk(items: &[vcd::ScopeItem], prefix: &str, out: &mut Vec<(String, u32)>) {
        for it in items {
            match it {
                vcd::ScopeItem::Scope(s) => {
                    walk(&s.items, &format!("{prefix}{}.", s.identifier), out)
                }
                vcd::ScopeItem::Var(v) => out.push((format!("{prefix}{}", v.reference), v.size)),
                _ => {}
            }
        }
    }
    walk(&header.items, "", &mut vars);
    let mut changes = 0;
    for cmd in p {
        if matches!(
            cmd?,
            vcd::Command::ChangeScalar(..) | vcd::Command::ChangeVector(..)
        ) {
            changes += 1;
        }
    }
    Ok((vars, changes))
}
