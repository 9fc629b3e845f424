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

/// The eight binary digits of every byte value, most significant first.
static BYTE_TEXT: [[u8; 8]; 256] = {
    let mut t = [[b'0'; 8]; 256];
    let mut x = 0;
    while x < 256 {
        let mut i = 0;
        while i < 8 {
            if (x >> (7 - i)) & 1 == 1 {
                t[x][i] = b'1';
            }
            i += 1;
        }
        x += 1;
    }
    t
};

pub struct VcdTrace {
    w: Writer<BufWriter<File>>,
    clk: IdCode,
    /// Each variable's identifier code (as written) and where its value lives.
    vars: Vec<(Vec<u8>, Loc)>,
    /// One cycle's value changes, formatted before one write.
    buf: Vec<u8>,
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
            let id = w.add_wire(t.loc.width, &t.name)?;
            vars.push((id.to_string().into_bytes(), t.loc));
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
            buf: Vec::new(),
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
        // Changes are formatted here (`0!`, `b0101 "`), not by the vcd crate's per-bit
        // formatting: a waveform of every signal is bound by this loop.
        let buf = &mut self.buf;
        buf.clear();
        let mut k = 0;
        for (id, l) in &self.vars {
            let n = l.words();
            let cur = &v[l.slot as usize..l.slot as usize + n];
            if self.first || cur != &self.last[k..k + n] {
                self.last[k..k + n].copy_from_slice(cur);
                if l.width == 1 {
                    buf.push(b'0' + (cur[0] & 1) as u8);
                } else {
                    buf.push(b'b');
                    let bit = |i: u32| b'0' + ((cur[i as usize / 64] >> (i % 64)) & 1) as u8;
                    // The bits above the last whole byte one by one, then a byte at a time.
                    let whole = l.width / 8 * 8;
                    buf.extend((whole..l.width).rev().map(bit));
                    for byte in (0..whole / 8).rev() {
                        let x = (cur[byte as usize / 8] >> (byte % 8 * 8)) as u8;
                        buf.extend_from_slice(&BYTE_TEXT[x as usize]);
                    }
                    buf.push(b' ');
                }
                buf.extend_from_slice(id);
                buf.push(b'\n');
            }
            k += n;
        }
        std::io::Write::write_all(self.w.writer(), buf)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sim;
    use plume_hw::rtl::bits::words_for;
    use plume_hw::rtl::{Bits, ModuleBuilder};
    use std::collections::HashMap;

    const WIDTHS: [u32; 5] = [1, 7, 16, 64, 100];

    /// The written values are the simulated ones: every output of every cycle, read back with
    /// the vcd crate's parser (widths with a partial byte, whole bytes, a whole word, two
    /// words), so plume's own formatting of value changes is held against an independent
    /// reader.
    #[test]
    fn written_values_read_back_as_simulated() {
        let mut b = ModuleBuilder::new("vals");
        for w in WIDTHS {
            let x = b.input(&format!("i{w}"), w);
            let q = b.delay(&format!("q{w}"), x);
            b.output(&format!("o{w}"), q);
        }
        let top = b.finish().unwrap();
        let path = std::env::temp_dir().join(format!("plume-vcd-test-{}.vcd", std::process::id()));
        let mut sim = Sim::new(&top).unwrap();
        sim.trace_vcd(&path).unwrap();
        let mut rng = crate::rng::XorShift::new(9);
        let mut expect: Vec<Vec<String>> = Vec::new();
        for _ in 0..60 {
            for w in WIDTHS {
                let words: Vec<u64> = (0..words_for(w)).map(|_| rng.next()).collect();
                sim.poke(&format!("i{w}"), &Bits::from_words(w, &words))
                    .unwrap();
            }
            let row = WIDTHS
                .iter()
                .map(|w| {
                    let v = sim.peek(&format!("o{w}")).unwrap();
                    let words = v.words().to_vec();
                    (0..*w)
                        .rev()
                        .map(|i| {
                            if (words[i as usize / 64] >> (i % 64)) & 1 == 1 {
                                '1'
                            } else {
                                '0'
                            }
                        })
                        .collect()
                })
                .collect();
            expect.push(row);
            sim.step();
        }
        sim.finish_vcd().unwrap();

        let mut p = vcd::Parser::new(io::BufReader::new(File::open(&path).unwrap()));
        let h = p.parse_header().unwrap();
        let ids: Vec<IdCode> = WIDTHS
            .iter()
            .map(|w| h.find_var(&["vals", &format!("o{w}")]).unwrap().code)
            .collect();
        let mut now: HashMap<IdCode, String> = HashMap::new();
        let mut seen = 0;
        for cmd in p {
            match cmd.unwrap() {
                // Half a period in, the values dumped at the start of cycle c are complete.
                vcd::Command::Timestamp(t) if t % PERIOD_NS == PERIOD_NS / 2 => {
                    let c = (t / PERIOD_NS) as usize;
                    for (k, id) in ids.iter().enumerate() {
                        assert_eq!(now[id], expect[c][k], "cycle {c}, o{}", WIDTHS[k]);
                    }
                    seen += 1;
                }
                vcd::Command::ChangeScalar(id, v) => {
                    now.insert(id, v.to_string());
                }
                vcd::Command::ChangeVector(id, v) => {
                    now.insert(id, v.to_string());
                }
                _ => {}
            }
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!(seen, 60);
    }
}
