//! The backend's contract: for any IR, plume's simulator and the emitted Verilog (in Verilator
//! and in Icarus) compute the same bits. Random expression trees over every primitive, widths
//! 1–200, signed and unsigned, catch precedence, sign-extension and width bugs; a second design
//! covers state: wide registers with enables, block RAM read-first and write-first, a signed
//! 27×18 DSP multiply.

use crate::common;

use plume_hw::rtl::{
    BinOp, Bits, CmpOp, MemStyle, Module, ModuleBuilder, ReadDuringWrite, RedOp, Sig,
};
use plume_sim::cosim::{self, Tool};
use plume_sim::rng::XorShift;
use plume_sim::Sim;
use proptest::prelude::*;
use std::rc::Rc;

struct Gen {
    rng: XorShift,
    inputs: Vec<Sig>,
}

impl Gen {
    fn below(&mut self, n: u64) -> u64 {
        self.rng.next() % n
    }

    fn width(&mut self) -> u32 {
        // Mostly narrow, often around word boundaries, sometimes very wide.
        match self.below(4) {
            0 => 1 + self.below(8) as u32,
            1 => 60 + self.below(10) as u32,
            2 => 1 + self.below(200) as u32,
            _ => 1 + self.below(40) as u32,
        }
    }

    fn cast(&mut self, b: &mut ModuleBuilder, s: Sig, signed: bool) -> Sig {
        match (s.signed, signed) {
            (false, true) => b.as_signed(s),
            (true, false) => b.as_unsigned(s),
            _ => s,
        }
    }

    /// A leaf of exactly `width` bits: a slice or extension of an input, or a constant.
    fn leaf(&mut self, b: &mut ModuleBuilder, width: u32, signed: bool) -> Sig {
        if self.below(5) == 0 {
            let words: Vec<u64> = (0..4).map(|_| self.rng.next()).collect();
            let c = b.constant(Bits::from_words(width, &words));
            return self.cast(b, c, signed);
        }
        let i = self.below(self.inputs.len() as u64) as usize;
        let x = self.inputs[i];
        let x = if x.width > width {
            let lo = self.below((x.width - width + 1) as u64) as u32;
            b.slice(x, lo + width - 1, lo)
        } else if x.width < width {
            let sx = self.below(2) == 0;
            let xs = self.cast(b, x, sx);
            b.extend(xs, width)
        } else {
            x
        };
        self.cast(b, x, signed)
    }

    fn expr(&mut self, b: &mut ModuleBuilder, width: u32, signed: bool, depth: u32) -> Sig {
        if depth == 0 {
            return self.leaf(b, width, signed);
        }
        let d = depth - 1;
        let r = match self.below(13) {
            0 => {
                let ops = [BinOp::Add, BinOp::Sub, BinOp::And, BinOp::Or, BinOp::Xor];
                let op = ops[self.below(5) as usize];
                let x = self.expr(b, width, signed, d);
                let y = self.expr(b, width, signed, d);
                b.bin(op, x, y)
            }
            1 => {
                let x = self.expr(b, width, signed, d);
                b.not(x)
            }
            2 if width >= 2 => {
                let wa = 1 + self.below((width - 1) as u64) as u32;
                let x = self.expr(b, wa, signed, d);
                let y = self.expr(b, width - wa, signed, d);
                b.mul(x, y)
            }
            3 if width == 1 => {
                let ops = [
                    CmpOp::Eq,
                    CmpOp::Ne,
                    CmpOp::Lt,
                    CmpOp::Le,
                    CmpOp::Gt,
                    CmpOp::Ge,
                ];
                let op = ops[self.below(6) as usize];
                let (w, s) = (self.width(), self.below(2) == 0);
                let x = self.expr(b, w, s, d);
                let y = self.expr(b, w, s, d);
                b.cmp(op, x, y)
            }
            4 if width == 1 => {
                let ops = [RedOp::And, RedOp::Or, RedOp::Xor];
                let op = ops[self.below(3) as usize];
                let w = self.width();
                let x = self.expr(b, w, false, d);
                b.reduce(op, x)
            }
            5 => {
                let s = self.expr(b, 1, false, d);
                let x = self.expr(b, width, signed, d);
                let y = self.expr(b, width, signed, d);
                b.mux(s, x, y)
            }
            6 => {
                let k = 1 + self.below(2) as u32;
                let s = self.expr(b, k, false, d);
                let choices: Vec<Sig> = (0..1 << k)
                    .map(|_| self.expr(b, width, signed, d.saturating_sub(1)))
                    .collect();
                b.select(s, &choices)
            }
            7 if width >= 2 => {
                let k = 2 + self.below(2) as u32;
                let mut parts = Vec::new();
                let mut left = width;
                for i in 0..k {
                    let w = if i + 1 == k || left == 1 {
                        left
                    } else {
                        1 + self.below((left - 1) as u64) as u32
                    };
                    let s = self.below(2) == 0;
                    parts.push(self.expr(b, w, s, d));
                    left -= w;
                    if left == 0 {
                        break;
                    }
                }
                b.cat(&parts)
            }
            8 => {
                let extra = self.below(70) as u32;
                let s = self.below(2) == 0;
                let x = self.expr(b, width + extra, s, d);
                let lo = self.below(extra as u64 + 1) as u32;
                b.slice(x, lo + width - 1, lo)
            }
            9 if width >= 2 => {
                let w = 1 + self.below((width - 1) as u64) as u32;
                let s = self.below(2) == 0;
                let x = self.expr(b, w, s, d);
                b.extend(x, width)
            }
            10 => {
                let x = self.expr(b, width, signed, d);
                let aw = 1 + self.below(8) as u32;
                let n = self.expr(b, aw, false, d);
                if self.below(2) == 0 {
                    b.shl(x, n)
                } else {
                    b.shr(x, n)
                }
            }
            11 => {
                let x = self.expr(b, width, !signed, d);
                self.cast(b, x, signed)
            }
            _ => self.leaf(b, width, signed),
        };
        self.cast(b, r, signed)
    }
}

/// A combinational module of `outputs` random trees over six random-width inputs.
fn random_design(seed: u64, outputs: usize) -> Rc<Module> {
    let mut b = ModuleBuilder::new(format!("expr_{seed:x}"));
    let mut g = Gen {
        rng: XorShift::new(seed),
        inputs: Vec::new(),
    };
    for i in 0..6 {
        let w = g.width();
        let x = if i % 2 == 0 {
            b.input(&format!("x{i}"), w)
        } else {
            b.input_signed(&format!("x{i}"), w)
        };
        g.inputs.push(x);
    }
    for k in 0..outputs {
        let w = g.width();
        let s = g.below(2) == 0;
        let depth = 2 + g.below(3) as u32;
        let e = g.expr(&mut b, w, s, depth);
        b.output(&format!("y{k}"), e);
    }
    b.finish().unwrap()
}

/// Random inputs for `cycles` cycles through the simulator (recorded), then both tools.
fn cross_check(
    top: &Rc<Module>,
    cycles: u64,
    seed: u64,
    drive: impl Fn(&mut Sim, u64, &mut XorShift),
) {
    let mut sim = Sim::new(top).unwrap();
    sim.record();
    let mut rng = XorShift::new(seed);
    for c in 0..cycles {
        drive(&mut sim, c, &mut rng);
        sim.step();
    }
    let rec = sim.take_recording().unwrap();
    for tool in [Tool::Verilator, Tool::Icarus] {
        if !cosim::require(tool).unwrap() {
            continue;
        }
        let dir = common::TempDir::new("ir-cosim").unwrap();
        if let Err(e) = cosim::check(tool, top, &rec, dir.path()) {
            let v = plume_hw::rtl::verilog::emit_bundle(top);
            panic!("{e}\n--- design ---\n{v}");
        }
    }
}

fn random_inputs(sim: &mut Sim, rng: &mut XorShift) {
    let names: Vec<String> = sim.program().input_order.clone();
    for n in names {
        let l = sim.input(&n).unwrap();
        let words: Vec<u64> = (0..l.words())
            .map(|_| match rng.next() % 4 {
                // Edge values find sign and carry bugs faster than uniform noise.
                0 => 0,
                1 => u64::MAX,
                _ => rng.next(),
            })
            .collect();
        sim.poke(&n, &Bits::from_words(l.width, &words)).unwrap();
    }
}

proptest! {
    #![proptest_config(common::proptest_config(3))]

    #[test]
    fn random_expression_trees_agree_with_verilog(seed in any::<u64>()) {
        let top = random_design(seed, 24);
        plume::tools::lint(&top).or_else(|e| if cosim::available(Tool::Verilator) { Err(e) } else { Ok(()) }).unwrap();
        cross_check(&top, 64, seed ^ 0xabc, |sim, _, rng| random_inputs(sim, rng));
    }
}

/// Native code (the JIT) against the tape interpreter, the reference: random expression trees
/// over every primitive and width mix, and a design with registers, memories (both
/// read-during-write rules) and a DSP multiply, every output of every cycle equal.
#[test]
fn native_code_agrees_with_the_interpreter() {
    let compare = |top: &Rc<Module>, cycles: u64, seed: u64| {
        let mut native = Sim::new(top).unwrap();
        let mut interp = Sim::new_interpreted(top).unwrap();
        let outs: Vec<String> = native.program().output_order.clone();
        let (mut r1, mut r2) = (XorShift::new(seed), XorShift::new(seed));
        for c in 0..cycles {
            random_inputs(&mut native, &mut r1);
            random_inputs(&mut interp, &mut r2);
            for o in &outs {
                assert_eq!(
                    native.peek(o).unwrap(),
                    interp.peek(o).unwrap(),
                    "{} output {o}, cycle {c}",
                    top.name
                );
            }
            native.step();
            interp.step();
        }
    };
    for seed in 0..300u64 {
        compare(&random_design(seed * 7919 + 1, 16), 24, seed);
    }
    compare(&stateful_design(), 400, 5);
    compare(&edge_design(), 600, 6);
}

/// Native code keeps unobserved values in machine registers; waveforms and `peek_path` must
/// still see every signal: the VCD of a native run equals the interpreter's byte for byte, and
/// internal combinational signals read by name agree.
#[test]
fn waveforms_and_internal_signals_are_complete_on_native_code() {
    let dir = common::TempDir::new("native-vcd").unwrap();
    for (k, top) in [edge_design(), random_design(11, 16)].iter().enumerate() {
        let paths: Vec<String> = Sim::new(top)
            .unwrap()
            .program()
            .traces
            .iter()
            .map(|t| format!("{}.{}", t.scope.join("."), t.name))
            .collect();
        let run = |native: bool, vcd: bool| {
            let mut sim = if native {
                Sim::new(top).unwrap()
            } else {
                Sim::new_interpreted(top).unwrap()
            };
            let file = dir.path().join(format!("{k}_{native}.vcd"));
            if vcd {
                sim.trace_vcd(&file).unwrap();
            }
            let mut rng = XorShift::new(3);
            let mut seen = Vec::new();
            for c in 0..60 {
                random_inputs(&mut sim, &mut rng);
                if !vcd && c % 7 == 0 {
                    seen.extend(paths.iter().map(|p| sim.peek_path(p)));
                }
                sim.step();
            }
            sim.finish_vcd().unwrap();
            (std::fs::read(&file).unwrap_or_default(), seen)
        };
        let (native, interp) = (run(true, true), run(false, true));
        assert!(!native.0.is_empty());
        assert!(native.0 == interp.0, "{}: waveforms differ", top.name);
        let (n, i) = (run(true, false).1, run(false, false).1);
        assert_eq!(n.len(), i.len());
        if let Some(k) = (0..n.len()).find(|&k| n[k] != i[k]) {
            panic!(
                "{}: {} reads {:?} natively, {:?} interpreted",
                top.name,
                paths[k % paths.len()],
                n[k],
                i[k]
            );
        }
    }
}

/// The clock edge's corner cases, and logic the compiler merges: a cell instantiated twice on
/// the same inputs (its logic and registers computed once, including a register enabled by a
/// register); two registers with the same next value but different reset values (never
/// merged); a 100-bit write-first memory of depth 12 (writes past its end, two write ports,
/// enabled and always-on read ports, an address held in a register) written with another
/// memory's read data and with a wide register; registers the edge moves in order (a shift
/// chain, a ring, one loading read data).
fn edge_design() -> Rc<Module> {
    let cell = {
        let mut b = ModuleBuilder::new("pair_cell");
        let x = b.input("x", 20);
        let k = b.input("k", 20);
        // A named signal only logic reads (in waveforms, not needed by anything outside).
        let mix = b.xor(x, k);
        let mix = b.named(mix, "mix");
        let s = b.add(mix, k);
        let q = b.delay("q", s);
        let e = b.bit(q, 0);
        let acc = b.reg("acc", Bits::zero(20));
        let nx = b.xor(acc, q);
        b.next(acc, nx, Some(e));
        b.output("acc", acc);
        b.output("q", q);
        b.finish().unwrap()
    };
    let mut b = ModuleBuilder::new("edges");
    let x = b.input("x", 20);
    let k = b.input("k", 20);
    let c0 = b.instance("c0", &cell, &[("x", x), ("k", k)]);
    let c1 = b.instance("c1", &cell, &[("x", x), ("k", k)]);
    b.output("acc0", c0.get("acc"));
    b.output("acc1", c1.get("acc"));
    let r0 = b.reg("r0", Bits::zero(20));
    b.next(r0, x, None);
    let r1 = b.reg("r1", Bits::from_u64(20, 5));
    b.next(r1, x, None);
    b.output("r0", r0);
    b.output("r1", r1);
    let w = b.input("w", 100);
    let wq = b.reg("wq", Bits::from_u64(100, 3));
    b.next(wq, w, None);
    b.output("wq", wq);
    let src = b.memory(
        "src",
        100,
        16,
        MemStyle::Distributed,
        ReadDuringWrite::ReadFirst,
    );
    let (sa, swe) = (b.input("sa", 4), b.input("swe", 1));
    b.mem_write(src, sa, w, swe);
    let srd = b.mem_read(src, sa, None);
    let m = b.memory(
        "m",
        100,
        12,
        MemStyle::Distributed,
        ReadDuringWrite::WriteFirst,
    );
    let (wa0, we0, wa1, we1) = (
        b.input("wa0", 4),
        b.input("we0", 1),
        b.input("wa1", 4),
        b.input("we1", 1),
    );
    b.mem_write(m, wa0, srd, we0);
    b.mem_write(m, wa1, wq, we1);
    let (ra0, re0) = (b.input("ra0", 4), b.input("re0", 1));
    let rd0 = b.mem_read(m, ra0, Some(re0));
    let ra1 = b.input("ra1", 4);
    let rd1 = b.mem_read(m, ra1, None);
    // An address held in a register (Verilog's registers are unknown before the first reset:
    // the port is enabled only after it). Reads stay inside the memory (a read past the end is
    // undefined in Verilog).
    let q = c1.get("q");
    let ra2 = b.slice(q, 2, 0);
    let ra2 = b.named(ra2, "q_low");
    let zero = b.lit(1, 0);
    let ra2 = b.cat(&[zero, ra2]);
    let re2 = b.input("re2", 1);
    let rd2 = b.mem_read(m, ra2, Some(re2));
    b.output("rd2", rd2);
    // Registers committed by moves at the edge: a shift chain from an input, a ring of two
    // registers swapping their values, a register loading a memory's read data.
    let mut chain = x;
    for k in 0..3 {
        chain = b.delay(&format!("chain{k}"), chain);
    }
    b.output("chain", chain);
    let ra = b.reg("ring_a", Bits::from_u64(20, 1));
    let rb = b.reg("ring_b", Bits::from_u64(20, 2));
    b.next(ra, rb, None);
    b.next(rb, ra, None);
    b.output("ring", ra);
    let tiny = b.memory(
        "tiny",
        8,
        4,
        MemStyle::Distributed,
        ReadDuringWrite::ReadFirst,
    );
    let (ta, twe) = (b.input("ta", 2), b.input("twe", 1));
    let xb = b.slice(x, 7, 0);
    b.mem_write(tiny, ta, xb, twe);
    let trd = b.mem_read(tiny, ta, None);
    let held = b.delay("held", trd);
    b.output("held", held);
    b.output("rd0", rd0);
    b.output("rd1", rd1);
    b.finish().unwrap()
}

#[test]
fn merged_logic_and_clock_edge_corners_agree_with_verilog() {
    let top = edge_design();
    if cosim::require(Tool::Verilator).unwrap() {
        plume::tools::lint(&top).unwrap();
    }
    cross_check(&top, 500, 17, |sim, c, rng| {
        random_inputs(sim, rng);
        sim.poke_u64("rst", (c == 0 || rng.next() % 32 == 0) as u64)
            .unwrap();
        if c == 0 {
            sim.poke_u64("re2", 0).unwrap();
        }
        // Write and read addresses collide often; some lie past the memory's 12 lines.
        let a = rng.next() % 12;
        for port in ["wa0", "wa1", "ra0", "ra1"] {
            let v = match rng.next() % 4 {
                0 | 1 => a,
                2 if port.starts_with('w') => 12 + rng.next() % 4,
                _ => rng.next() % 12,
            };
            sim.poke_u64(port, v).unwrap();
        }
    });
}

#[test]
fn equal_logic_and_registers_are_computed_once() {
    use plume_sim::compile::{compile, Instr};
    let p = compile(&edge_design()).unwrap();
    // The cell's adder appears once for both instances, and its pipeline register `q` (one
    // slot, seen in the waveform under both instances)...
    let adds = p
        .tape
        .iter()
        .filter(|i| matches!(i, Instr::Add { .. }))
        .count();
    assert_eq!(adds, 1, "{:?}", p.tape);
    let q: Vec<_> = p.traces.iter().filter(|t| t.name == "q").collect();
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].loc.slot, q[1].loc.slot);
    // ...but registers with different reset values are not merged, nor registers that feed
    // themselves (`acc`: proving those equal needs an assumption the merge does not make).
    assert_ne!(p.outputs["r0"].slot, p.outputs["r1"].slot);
    assert_ne!(p.outputs["acc0"].slot, p.outputs["acc1"].slot);
}

/// Many more random designs than the Verilog test can afford, through the simulator only: the
/// wide-value paths must not panic (index or overflow) on any width mix. Agreement of values is
/// the Verilog test's job.
#[test]
fn wide_designs_simulate_without_panics() {
    for seed in 0..40 {
        let top = random_design(seed, 12);
        let mut sim = Sim::new(&top).unwrap();
        let mut rng = XorShift::new(seed);
        for _ in 0..5 {
            random_inputs(&mut sim, &mut rng);
            sim.step();
        }
    }
}

/// State: a 768-bit register with enable, block RAM (read-first) and distributed RAM
/// (write-first) with synchronous reads, and a signed 27×18 multiply (one DSP48E2).
fn stateful_design() -> Rc<Module> {
    let mut b = ModuleBuilder::new("stateful");
    let x = b.input("x", 768);
    let en = b.input("en", 1);
    let acc = b.reg("acc", Bits::from_hex(768, "5").unwrap());
    let rot = {
        let lo = b.slice(acc, 766, 0);
        let hi = b.bit(acc, 767);
        b.cat(&[lo, hi])
    };
    let next = b.xor(rot, x);
    b.next(acc, next, Some(en));
    b.output("acc", acc);

    let a = b.input_signed("a", 27);
    let c = b.input_signed("c", 18);
    let p = b.mul(a, c);
    let p = b.delay("p_q", p);
    b.output("p", p);

    for (k, (style, rdw)) in [
        (MemStyle::Block, ReadDuringWrite::ReadFirst),
        (MemStyle::Distributed, ReadDuringWrite::WriteFirst),
    ]
    .into_iter()
    .enumerate()
    {
        let mem = b.memory(&format!("mem{k}"), 36, 40, style, rdw);
        let wa = b.input(&format!("wa{k}"), 6);
        let wd = b.input(&format!("wd{k}"), 36);
        let we = b.input(&format!("we{k}"), 1);
        let ra = b.input(&format!("ra{k}"), 6);
        let re = b.input(&format!("re{k}"), 1);
        b.mem_write(mem, wa, wd, we);
        let rd = b.mem_read(mem, ra, Some(re));
        b.output(&format!("rd{k}"), rd);
    }
    b.finish().unwrap()
}

#[test]
fn registers_memories_and_dsp_multiply_agree_with_verilog() {
    let top = stateful_design();
    if cosim::require(Tool::Verilator).unwrap() {
        plume::tools::lint(&top).unwrap();
    }
    cross_check(&top, 300, 99, |sim, c, rng| {
        random_inputs(sim, rng);
        sim.poke_u64("rst", (c == 0) as u64).unwrap();
        // Addresses mostly in range (depth 40), reads often hitting the address being written.
        for k in 0..2 {
            let wa = rng.next() % 44;
            sim.poke_u64(&format!("wa{k}"), wa).unwrap();
            let ra = if rng.next() % 3 == 0 {
                wa
            } else {
                rng.next() % 40
            };
            sim.poke_u64(&format!("ra{k}"), ra).unwrap();
        }
    });
}

#[test]
fn read_during_write_semantics() {
    let top = stateful_design();
    let mut sim = Sim::new(&top).unwrap();
    sim.reset();
    for k in 0..2 {
        sim.poke_u64(&format!("wa{k}"), 3).unwrap();
        sim.poke_u64(&format!("wd{k}"), 0xaa).unwrap();
        sim.poke_u64(&format!("we{k}"), 1).unwrap();
        sim.poke_u64(&format!("ra{k}"), 3).unwrap();
        sim.poke_u64(&format!("re{k}"), 1).unwrap();
    }
    sim.step();
    // Read-first returns the old contents (zero); write-first the data being written.
    assert_eq!(sim.peek_u64("rd0").unwrap(), 0);
    assert_eq!(sim.peek_u64("rd1").unwrap(), 0xaa);
    for k in 0..2 {
        sim.poke_u64(&format!("we{k}"), 0).unwrap();
    }
    sim.step();
    assert_eq!(sim.peek_u64("rd0").unwrap(), 0xaa);
    // Signed multiply: -3 × 5.
    sim.poke("a", &Bits::from_i64(27, -3)).unwrap();
    sim.poke("c", &Bits::from_i64(18, 5)).unwrap();
    sim.step();
    assert_eq!(sim.peek("p").unwrap(), Bits::from_i64(45, -15));
    // Internal signals by hierarchical name, as in the waveform.
    assert_eq!(sim.peek_path("stateful.p_q"), Some(Bits::from_i64(45, -15)));
    assert_eq!(sim.peek_path("stateful.nothing"), None);
}

#[test]
fn dsp_multiply_maps_to_one_dsp48e2() {
    if !plume_sim::cosim::which("yosys") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "yosys is not installed under CI"
        );
        return;
    }
    let mut b = ModuleBuilder::new("mul27x18");
    let a = b.input_signed("a", 27);
    let c = b.input_signed("c", 18);
    let p = b.mul(a, c);
    b.output("p", p);
    let r = plume::tools::synth(&b.finish().unwrap()).unwrap();
    assert_eq!((r.dsp, r.lut), (1, 0), "{r:?}");
}

/// The builder's growth and shift helpers, with values worked by hand, on all three engines.
#[test]
fn builder_helpers_compute_what_they_say() {
    let mut b = ModuleBuilder::new("helpers");
    let x = b.input("x", 8);
    let y = b.input("y", 8);
    let s = b.input_signed("s", 8);
    let wide = b.add_wide(x, y);
    b.output("sum9", wide);
    let sh = b.shl_const(x, 3);
    b.output("shl3", sh);
    let is5 = b.eq_lit(x, 5);
    b.output("is5", is5);
    let t = b.trunc(s, 4);
    let t = b.extend(t, 8);
    b.output("trunc_sext", t);
    let top = b.finish().unwrap();
    let mut sim = Sim::new(&top).unwrap();
    sim.poke_u64("x", 0xf5).unwrap();
    sim.poke_u64("y", 0x10).unwrap();
    sim.poke("s", &Bits::from_i64(8, -3)).unwrap();
    assert_eq!(sim.peek_u64("sum9").unwrap(), 0x105);
    assert_eq!(sim.peek_u64("shl3").unwrap(), 0xa8);
    assert_eq!(sim.peek_u64("is5").unwrap(), 0);
    // -3 = 0xfd; low 4 bits 0xd = -3 as a signed nibble; sign-extended back to 0xfd.
    assert_eq!(sim.peek_u64("trunc_sext").unwrap(), 0xfd);
    sim.poke_u64("x", 5).unwrap();
    assert_eq!(sim.peek_u64("is5").unwrap(), 1);
    cross_check(&top, 40, 3, |sim, _, rng| random_inputs(sim, rng));
}

/// Registers loaded straight from other registers: a shift chain, and two registers that swap
/// every cycle. The edge must read only pre-edge values, whatever order it commits in.
#[test]
fn register_chains_and_swaps_commit_simultaneously() {
    let mut b = ModuleBuilder::new("chains");
    let x = b.input("x", 8);
    let r1 = b.delay("r1", x);
    let r2 = b.delay("r2", r1);
    let r3 = b.delay("r3", r2);
    b.output("r3", r3);
    let a = b.reg("a", Bits::from_u64(8, 1));
    let c = b.reg("c", Bits::from_u64(8, 2));
    b.next(a, c, None);
    b.next(c, a, None);
    b.output("a", a);
    b.output("c", c);
    let top = b.finish().unwrap();
    let mut sim = Sim::new(&top).unwrap();
    sim.reset();
    for v in 10..20u64 {
        sim.poke_u64("x", v).unwrap();
        sim.step();
    }
    // x = 19 was poked last; r3 shows the value from three edges earlier.
    assert_eq!(sim.peek_u64("r3").unwrap(), 17);
    // Ten edges after reset: an even number of swaps.
    assert_eq!(
        (sim.peek_u64("a").unwrap(), sim.peek_u64("c").unwrap()),
        (1, 2)
    );
    sim.step();
    assert_eq!(
        (sim.peek_u64("a").unwrap(), sim.peek_u64("c").unwrap()),
        (2, 1)
    );
    cross_check(&top, 40, 4, |sim, c, rng| {
        random_inputs(sim, rng);
        sim.poke_u64("rst", (c == 0) as u64).unwrap();
    });
}

/// A ROM (memory with initial contents and no write port): the simulator reads its contents,
/// and Verilator and Icarus read the same from the emitted `initial` block.
#[test]
fn rom_contents_read_the_same_everywhere() {
    let mut rng = XorShift::new(31);
    let words: Vec<Bits> = (0..24)
        .map(|_| Bits::from_u64(40, rng.next() & ((1 << 40) - 1)))
        .collect();
    let mut b = ModuleBuilder::new("rom_t");
    let a = b.input("a", 5);
    let en = b.input("en", 1);
    let rom = b.rom("lut", 40, words.clone(), MemStyle::Auto);
    let d = b.mem_read(rom, a, Some(en));
    b.output("d", d);
    let top = b.finish().unwrap();
    let mut sim = Sim::new(&top).unwrap();
    sim.reset();
    for (i, w) in words.iter().enumerate() {
        sim.poke_u64("a", i as u64).unwrap();
        sim.poke_u64("en", 1).unwrap();
        sim.step();
        assert_eq!(&sim.peek("d").unwrap(), w, "line {i}");
    }
    if cosim::require(Tool::Verilator).unwrap() {
        plume::tools::lint(&top).unwrap();
    }
    cross_check(&top, 80, 5, |sim, c, rng| {
        random_inputs(sim, rng);
        sim.poke_u64("rst", (c == 0) as u64).unwrap();
    });
}
