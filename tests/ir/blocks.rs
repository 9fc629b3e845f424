//! The AXI4-Lite register file: map generation (unique, aligned, documented words), protocol
//! (no combinational path from an input to a handshake output; valid held with a stable
//! payload until taken — checked by the bus-functional model on every cycle), behaviour against
//! a reference model of the map under random operations and random stalls, identical results
//! with and without back-pressure, and the same run replayed in Verilator and Icarus.

use crate::common;

use plume_hw::blocks::axi_lite::{regfile, Access, Param, RegMap, RegMapError, Status};
use plume_hw::rtl::Bits;
use plume_sim::bfm::{LiteMaster, OKAY, SLVERR};
use plume_sim::cosim::{self, Tool};
use plume_sim::rng::XorShift;
use plume_sim::Sim;

fn param(name: &str, width: u32, reset: u64) -> Param {
    Param {
        name: name.into(),
        width,
        reset,
        doc: format!("parameter {name}"),
    }
}

fn status(name: &str, width: u32) -> Status {
    Status {
        name: name.into(),
        width,
        doc: format!("status {name}"),
    }
}

fn test_map() -> RegMap {
    RegMap::new(
        "test",
        vec![
            param("a", 7, 5),
            param("b", 32, 0),
            param("c", 40, 0x12_3456_789a),
        ],
        vec![status("s", 16), status("t", 33)],
    )
    .unwrap()
}

#[test]
fn map_words_are_unique_aligned_and_documented() {
    let m = test_map();
    let offsets: Vec<u32> = m.words.iter().map(|w| w.offset).collect();
    assert_eq!(offsets, vec![0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
    assert!(m
        .words
        .iter()
        .all(|w| w.offset % 4 == 0 && !w.doc.is_empty()));
    assert_eq!(m.word(0x1c).unwrap().name, "C_1");
    assert_eq!(m.word(0x1c).unwrap().width, 8);
    assert_eq!(m.word(0x28).unwrap().access, Access::ReadOnly);
    assert_eq!(m.addr_bits, 6);
    assert_eq!(
        RegMap::new("x", vec![param("a", 8, 0), param("a", 8, 0)], vec![]).unwrap_err(),
        RegMapError::Duplicate("a".into())
    );
    assert_eq!(
        RegMap::new("x", vec![param("a", 65, 0)], vec![]).unwrap_err(),
        RegMapError::Width("a".into(), 65)
    );
    assert_eq!(
        RegMap::new("x", vec![param("a", 4, 16)], vec![]).unwrap_err(),
        RegMapError::Reset("a".into(), 16, 4)
    );
    assert_eq!(
        RegMap::new("x", vec![param("Bad", 4, 0)], vec![]).unwrap_err(),
        RegMapError::Name("Bad".into())
    );
    assert_eq!(
        RegMap::new("x", vec![param("start", 4, 0)], vec![]).unwrap_err(),
        RegMapError::Duplicate("start".into())
    );
}

#[test]
fn no_combinational_path_from_inputs_to_outputs() {
    let top = regfile(&test_map()).unwrap();
    for (k, (name, _)) in top.outputs.iter().enumerate() {
        assert!(
            top.comb_inputs[k].is_empty(),
            "output {name} depends combinationally on an input"
        );
    }
}

/// What the map should do, in plain Rust.
struct Model {
    words: Vec<(u32, Access, u32, u32)>, // offset, access, width, value
    done: bool,
    idle: bool,
    gier: bool,
    ier: bool,
    isr: bool,
}

impl Model {
    fn new(m: &RegMap, s: u64, t: u64) -> Model {
        let mut words = Vec::new();
        let mut status_vals = vec![s, t].into_iter();
        let mut params = m.params.iter();
        let mut cur: Option<(u64, u32)> = None; // value, words left
        for w in &m.words {
            let v = match w.access {
                Access::ReadWrite if w.offset >= 0x10 => {
                    if cur.is_none() {
                        let p = params.next().unwrap();
                        cur = Some((p.reset, p.width.div_ceil(32)));
                    }
                    let (val, left) = cur.unwrap();
                    let total = val;
                    cur = if left > 1 {
                        Some((val >> 32, left - 1))
                    } else {
                        None
                    };
                    (total & 0xffff_ffff) as u32
                }
                Access::ReadOnly => {
                    if cur.is_none() {
                        let v = status_vals.next().unwrap();
                        let width = m.status[m.status.len() - status_vals.len() - 1].width;
                        cur = Some((v, width.div_ceil(32)));
                    }
                    let (val, left) = cur.unwrap();
                    cur = if left > 1 {
                        Some((val >> 32, left - 1))
                    } else {
                        None
                    };
                    (val & 0xffff_ffff) as u32
                }
                _ => 0,
            };
            let mask = if w.width == 32 {
                u32::MAX
            } else {
                (1 << w.width) - 1
            };
            words.push((w.offset, w.access, w.width, v & mask));
        }
        Model {
            words,
            done: false,
            idle: true,
            gier: false,
            ier: false,
            isr: false,
        }
    }

    fn write(&mut self, addr: u32, data: u32, strb: u8) -> u8 {
        let b0 = strb & 1 == 1;
        match addr {
            0x00 => {
                if b0 && data & 1 == 1 {
                    self.idle = false;
                }
                OKAY
            }
            0x04 | 0x08 | 0x0C => {
                if b0 {
                    match addr {
                        0x04 => self.gier = data & 1 == 1,
                        0x08 => self.ier = data & 1 == 1,
                        _ => {
                            if data & 1 == 1 {
                                self.isr = false
                            }
                        }
                    }
                }
                OKAY
            }
            _ => match self.words.iter_mut().find(|w| w.0 == addr) {
                Some(w) if w.1 == Access::ReadWrite => {
                    let mut mask = 0u32;
                    for k in 0..4 {
                        if strb >> k & 1 == 1 {
                            mask |= 0xff << (8 * k);
                        }
                    }
                    let wmask = if w.2 == 32 { u32::MAX } else { (1 << w.2) - 1 };
                    w.3 = ((w.3 & !mask) | (data & mask)) & wmask;
                    OKAY
                }
                _ => SLVERR,
            },
        }
    }

    fn read(&mut self, addr: u32) -> (u32, u8) {
        match addr {
            0x00 => {
                let v = ((self.idle as u32) << 2) | ((self.done as u32) << 1);
                self.done = false;
                (v, OKAY)
            }
            0x04 => (self.gier as u32, OKAY),
            0x08 => (self.ier as u32, OKAY),
            0x0C => (self.isr as u32, OKAY),
            _ => match self.words.iter().find(|w| w.0 == addr) {
                Some(w) => (w.3, OKAY),
                None => (0, SLVERR),
            },
        }
    }

    fn done_pulse(&mut self) {
        self.done = true;
        self.isr = true;
        self.idle = true;
    }
}

/// Random operations; returns every read's (data, resp) and every write's resp, in order.
fn random_session(
    seed: u64,
    stall: u64,
    record: bool,
) -> (Vec<(u32, u8)>, Option<plume_sim::Recording>) {
    let map = test_map();
    let top = regfile(&map).unwrap();
    let mut sim = Sim::new(&top).unwrap();
    if record {
        sim.record();
    }
    let (s, t) = (0xbeef, 0x1_2345_6789);
    sim.poke_u64("rst", 1).unwrap();
    LiteMaster::idle(&mut sim).unwrap();
    sim.poke_u64("i_done", 0).unwrap();
    sim.poke_u64("i_s", s).unwrap();
    sim.poke_u64("i_t", t).unwrap();
    sim.step();
    sim.poke_u64("rst", 0).unwrap();
    let mut model = Model::new(&map, s, t);
    let mut bfm = LiteMaster::new(seed ^ 0xa5a5, stall);
    let mut ops = XorShift::new(seed);
    let mut log = Vec::new();
    for _ in 0..300 {
        let addr = (ops.next() % 16) as u32 * 4;
        match ops.next() % 7 {
            0..=2 => {
                let data = ops.next() as u32;
                let strb = (ops.next() % 16) as u8;
                let resp = bfm.write(&mut sim, addr as u64, data, strb).unwrap();
                assert_eq!(resp, model.write(addr, data, strb), "write {addr:#x}");
                log.push((0, resp));
            }
            3..=5 => {
                let got = bfm.read(&mut sim, addr as u64).unwrap();
                assert_eq!(got, model.read(addr), "read {addr:#x}");
                log.push(got);
            }
            _ => {
                sim.poke_u64("i_done", 1).unwrap();
                sim.step();
                sim.poke_u64("i_done", 0).unwrap();
                model.done_pulse();
            }
        }
        let irq = sim.peek_u64("o_irq").unwrap() == 1;
        assert_eq!(irq, model.gier && model.ier && model.isr, "interrupt line");
    }
    // The parameter outputs hold what the host wrote.
    let word = |off: u32| model.words.iter().find(|w| w.0 == off).unwrap().3 as u64;
    assert_eq!(sim.peek_u64("o_a").unwrap(), word(0x10));
    assert_eq!(sim.peek_u64("o_b").unwrap(), word(0x14));
    assert_eq!(sim.peek_u64("o_c").unwrap(), word(0x18) | word(0x1c) << 32);
    (log, sim.take_recording())
}

#[test]
fn random_operations_match_the_model_with_and_without_back_pressure() {
    for seed in 1..=4 {
        let (fast, _) = random_session(seed, 0, false);
        let (slow, _) = random_session(seed, 60, false);
        assert_eq!(
            fast, slow,
            "back-pressure changed the results (seed {seed})"
        );
    }
}

#[test]
fn start_pulses_once_and_idle_follows() {
    let map = test_map();
    let top = regfile(&map).unwrap();
    let mut sim = Sim::new(&top).unwrap();
    sim.poke_u64("rst", 1).unwrap();
    LiteMaster::idle(&mut sim).unwrap();
    sim.poke_u64("i_done", 0).unwrap();
    sim.poke_u64("i_s", 0).unwrap();
    sim.poke_u64("i_t", 0).unwrap();
    sim.step();
    sim.poke_u64("rst", 0).unwrap();
    // Watch o_start on every cycle the master spends.
    let mut bfm = LiteMaster::new(3, 30);
    bfm.watch = Some("o_start");
    assert_eq!(bfm.read(&mut sim, 0).unwrap(), (0b100, OKAY));
    bfm.write(&mut sim, 0, 1, 0xf).unwrap();
    // A write without the start bit, and one with only byte 1 enabled, start nothing.
    bfm.write(&mut sim, 0, 0, 0xf).unwrap();
    bfm.write(&mut sim, 0, 1, 0x2).unwrap();
    assert_eq!(
        bfm.samples.iter().filter(|&&s| s == 1).count(),
        1,
        "one start pulse"
    );
    assert_eq!(
        bfm.read(&mut sim, 0).unwrap(),
        (0b000, OKAY),
        "busy after start"
    );
    sim.poke_u64("i_done", 1).unwrap();
    sim.step();
    sim.poke_u64("i_done", 0).unwrap();
    assert_eq!(
        bfm.read(&mut sim, 0).unwrap(),
        (0b110, OKAY),
        "done and idle"
    );
    assert_eq!(
        bfm.read(&mut sim, 0).unwrap(),
        (0b100, OKAY),
        "done clears on read"
    );
}

#[test]
fn verilog_matches_the_simulator_under_random_stalls() {
    let (_, rec) = random_session(9, 50, true);
    let rec = rec.unwrap();
    let top = regfile(&test_map()).unwrap();
    plume::tools::lint(&top).unwrap();
    for tool in [Tool::Verilator, Tool::Icarus] {
        if !cosim::require(tool).unwrap() {
            continue;
        }
        let dir = common::TempDir::new("axil").unwrap();
        let n = cosim::check(tool, &top, &rec, dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
        assert!(n > 1000);
    }
}

fn skid_sim(width: u32, record: bool) -> (std::rc::Rc<plume_hw::rtl::Module>, Sim) {
    let top = plume_hw::blocks::axis::skid(width).unwrap();
    let mut sim = Sim::new(&top).unwrap();
    if record {
        sim.record();
    }
    sim.poke_u64("rst", 1).unwrap();
    for n in [
        "s_axis_tdata",
        "s_axis_tlast",
        "s_axis_tvalid",
        "m_axis_tready",
    ] {
        sim.poke_u64(n, 0).unwrap();
    }
    sim.step();
    sim.poke_u64("rst", 0).unwrap();
    (top, sim)
}

#[test]
fn skid_buffer_loses_and_duplicates_nothing_under_random_stalls() {
    let top = plume_hw::blocks::axis::skid(32).unwrap();
    for (k, (name, _)) in top.outputs.iter().enumerate() {
        assert!(top.comb_inputs[k].is_empty(), "{name} is combinational");
    }
    let mut rng = XorShift::new(5);
    let beats: Vec<(Bits, bool)> = (0..500)
        .map(|i| (Bits::from_u64(32, rng.next() & 0xffff_ffff), i % 7 == 6))
        .collect();
    for (src, sink) in [(0, 0), (50, 0), (0, 50), (40, 60), (70, 30)] {
        let (_, mut sim) = skid_sim(32, false);
        let (got, cycles) =
            plume_sim::bfm::stream_through(&mut sim, &beats, src, sink, 11).unwrap();
        assert_eq!(got, beats, "stalls {src}%/{sink}%");
        if (src, sink) == (0, 0) {
            // Full throughput: one beat per cycle after the two-cycle pipeline.
            assert_eq!(cycles, beats.len() as u64 + 1);
        }
    }
}

#[test]
fn skid_buffer_verilog_matches_the_simulator() {
    let (top, mut sim) = skid_sim(24, true);
    plume::tools::lint(&top).unwrap();
    let beats: Vec<(Bits, bool)> = (0..200u64)
        .map(|i| (Bits::from_u64(24, i * 7919 % (1 << 24)), i % 5 == 0))
        .collect();
    plume_sim::bfm::stream_through(&mut sim, &beats, 40, 40, 3).unwrap();
    let rec = sim.take_recording().unwrap();
    for tool in [Tool::Verilator, Tool::Icarus] {
        if !cosim::require(tool).unwrap() {
            continue;
        }
        let dir = common::TempDir::new("axis").unwrap();
        cosim::check(tool, &top, &rec, dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
    }
}

fn reset_stream_block(top: &std::rc::Rc<plume_hw::rtl::Module>, record: bool) -> Sim {
    let mut sim = Sim::new(top).unwrap();
    if record {
        sim.record();
    }
    sim.poke_u64("rst", 1).unwrap();
    for n in ["s_axis_tlast", "s_axis_tvalid", "m_axis_tready"] {
        sim.poke_u64(n, 0).unwrap();
    }
    let w = sim.input("s_axis_tdata").unwrap().width;
    sim.poke("s_axis_tdata", &Bits::zero(w)).unwrap();
    sim.step();
    sim.poke_u64("rst", 0).unwrap();
    sim
}

/// The LUT-RAM FIFO: every beat once and in order under random stalls, full rate when
/// nothing stalls, `o_count` never above the depth (and equal to what went in minus what came
/// out, seen from outside), no combinational path from an input to an output; the same
/// stalled run in Verilator and Icarus.
#[test]
fn fifo_loses_and_duplicates_nothing_under_random_stalls() {
    for (width, depth) in [(33, 4), (70, 16), (8, 2)] {
        let top = plume_hw::blocks::axis::fifo(width, depth).unwrap();
        for (k, (name, _)) in top.outputs.iter().enumerate() {
            assert!(top.comb_inputs[k].is_empty(), "{name} is combinational");
        }
        let mut rng = XorShift::new(width as u64);
        let mask = if width >= 64 {
            u64::MAX
        } else {
            (1 << width) - 1
        };
        let beats: Vec<(Bits, bool)> = (0..400)
            .map(|i| {
                let mut b = Bits::zero(width);
                b.set_slice(0, &Bits::from_u64(width.min(64), rng.next() & mask));
                (b, i % 9 == 8)
            })
            .collect();
        for (src, sink) in [(0, 0), (50, 0), (0, 50), (40, 60), (80, 20)] {
            let mut sim = reset_stream_block(&top, false);
            let (got, cycles) =
                plume_sim::bfm::stream_through(&mut sim, &beats, src, sink, 17).unwrap();
            assert_eq!(got, beats, "w{width} d{depth}: stalls {src}%/{sink}%");
            if (src, sink) == (0, 0) && depth > 2 {
                // One beat per cycle after the two-cycle fill.
                assert_eq!(cycles, beats.len() as u64 + 2, "w{width} d{depth}");
            }
        }
        // Occupancy: push without popping until tready falls; o_count climbs to the depth.
        let mut sim = reset_stream_block(&top, false);
        sim.poke_u64("s_axis_tvalid", 1).unwrap();
        let mut pushed = 0;
        for _ in 0..3 * depth {
            assert_eq!(
                sim.peek_u64("o_count").unwrap(),
                pushed,
                "w{width} d{depth}"
            );
            if sim.peek_u64("s_axis_tready").unwrap() == 1 {
                pushed += 1;
            }
            sim.step();
        }
        assert_eq!(pushed, depth as u64, "holds exactly its depth");
    }
    let top = plume_hw::blocks::axis::fifo(33, 4).unwrap();
    let mut sim = reset_stream_block(&top, true);
    let beats: Vec<(Bits, bool)> = (0..150u64)
        .map(|i| (Bits::from_u64(33, i * 104_729 % (1 << 33)), i % 4 == 0))
        .collect();
    plume_sim::bfm::stream_through(&mut sim, &beats, 45, 45, 9).unwrap();
    let rec = sim.take_recording().unwrap();
    plume::tools::lint(&top).unwrap();
    for tool in [Tool::Verilator, Tool::Icarus] {
        if !cosim::require(tool).unwrap() {
            continue;
        }
        let dir = common::TempDir::new("fifo").unwrap();
        cosim::check(tool, &top, &rec, dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
    }
}

/// The generated C header compiles and names the map's offsets; the generated Python driver,
/// run against a recording MMIO, produces writes that — replayed through the bus-functional
/// model on the simulated register file — set exactly the parameter values it was given.
#[test]
fn generated_header_and_driver_agree_with_the_hardware() {
    let map = test_map();
    let dir = common::TempDir::new("drivers").unwrap();
    if common::have("cc") {
        let h = dir.path().join("test_regs.h");
        std::fs::write(&h, map.c_header()).unwrap();
        let c = dir.path().join("main.c");
        std::fs::write(
            &c,
            "#include <stdio.h>\n#include \"test_regs.h\"\nint main(void) { printf(\"%u %u %u %u\\n\", TEST_CTRL, TEST_C_1, TEST_T_1, TEST_CTRL_DONE); return 0; }\n",
        )
        .unwrap();
        let exe = dir.path().join("main");
        let o = std::process::Command::new("cc")
            .arg("-Wall")
            .arg("-Werror")
            .arg("-o")
            .arg(&exe)
            .arg(&c)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = std::process::Command::new(&exe).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0 28 40 2");
    }
    if !common::have("python3") {
        return;
    }
    let py = dir.path().join("test_driver.py");
    std::fs::write(&py, map.python_driver()).unwrap();
    let script = dir.path().join("use.py");
    std::fs::write(
        &script,
        "import json, sys\nsys.path.insert(0, sys.argv[1])\nfrom test_driver import Test\n\nclass Rec:\n    def __init__(self):\n        self.w = []\n    def write(self, off, v):\n        self.w.append([off, v])\n    def read(self, off):\n        return 0\n\nm = Rec()\nd = Test(m)\nd.a = 99\nd.b = 0xDEADBEEF\nd.c = 0x9876543210\ntry:\n    d.a = 200\nexcept ValueError:\n    pass\nelse:\n    raise SystemExit('range not checked')\nd.start()\nprint(json.dumps(m.w))\n",
    )
    .unwrap();
    let o = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let writes: Vec<(u64, u64)> = serde_json::from_slice(&o.stdout).unwrap();
    let top = regfile(&map).unwrap();
    let mut sim = Sim::new(&top).unwrap();
    sim.poke_u64("rst", 1).unwrap();
    LiteMaster::idle(&mut sim).unwrap();
    for n in ["i_done", "i_s", "i_t"] {
        sim.poke_u64(n, 0).unwrap();
    }
    sim.step();
    sim.poke_u64("rst", 0).unwrap();
    let mut bfm = LiteMaster::new(2, 20);
    bfm.watch = Some("o_start");
    for (off, v) in writes {
        assert_eq!(bfm.write(&mut sim, off, v as u32, 0xf).unwrap(), OKAY);
    }
    assert_eq!(sim.peek_u64("o_a").unwrap(), 99);
    assert_eq!(sim.peek_u64("o_b").unwrap(), 0xDEAD_BEEF);
    assert_eq!(sim.peek_u64("o_c").unwrap(), 0x98_7654_3210);
    assert_eq!(
        bfm.samples.iter().filter(|&&s| s == 1).count(),
        1,
        "start() pulsed once"
    );
}

/// A one-input combinational module on every value of its `width`-bit input `x`.
fn exhaustive(m: &std::rc::Rc<plume_hw::rtl::Module>, width: u32, f: impl Fn(i64) -> i64) {
    let mut sim = Sim::new(m).unwrap();
    for x in -(1i64 << (width - 1))..(1i64 << (width - 1)) {
        sim.poke("x", &Bits::from_i64(width, x)).unwrap();
        sim.settle();
        assert_eq!(sim.peek("y").unwrap().to_i64(), f(x), "x = {x}");
    }
}

/// The integer definitions the golden models use: ⌊(x + 2^(s−1)) / 2^s⌋, x·2^−s, a clamp.
fn round_half_up(x: i64, s: i32) -> i64 {
    if s > 0 {
        (x + (1 << (s - 1))) >> s
    } else {
        x << -s
    }
}

#[test]
fn fixed_point_shifts_and_saturation_match_their_integer_definitions() {
    use plume_hw::blocks::fixed::{round_shift, round_shift_var, saturate, sum};
    use plume_hw::rtl::ModuleBuilder;
    for s in [-2, 1, 3, 7] {
        let mut b = ModuleBuilder::new("r");
        let x = b.input_signed("x", 8);
        let y = round_shift(&mut b, x, s);
        b.output("y", y);
        exhaustive(&b.finish().unwrap(), 8, |x| round_half_up(x, s));
    }
    for amount in [0u64, 2, 5, 7] {
        let mut b = ModuleBuilder::new("v");
        let x = b.input_signed("x", 9);
        let a = b.lit(3, amount);
        let y = round_shift_var(&mut b, x, 2, a);
        b.output("y", y);
        exhaustive(&b.finish().unwrap(), 9, |x| {
            round_half_up(x, 2 + amount as i32)
        });
    }
    let mut b = ModuleBuilder::new("s");
    let x = b.input_signed("x", 9);
    let y = saturate(&mut b, x, 6);
    b.output("y", y);
    exhaustive(&b.finish().unwrap(), 9, |x| x.clamp(-32, 31));
    // Three copies of x summed without overflow.
    let mut b = ModuleBuilder::new("t");
    let x = b.input_signed("x", 8);
    let y = sum(&mut b, &[x, x, x], 10);
    b.output("y", y);
    exhaustive(&b.finish().unwrap(), 8, |x| 3 * x);
}

/// A map whose words fill its address space exactly (16 words in 64 bytes) still answers
/// every word: the last status word reads back with OKAY, one past the map is never decoded.
#[test]
fn a_map_that_fills_its_address_space_reads_every_word() {
    let params: Vec<Param> = (0..11).map(|k| param(&format!("p{k}"), 32, k)).collect();
    let status = vec![Status {
        name: "s".into(),
        width: 32,
        doc: String::new(),
    }];
    let map = RegMap::new("full", params, status).unwrap();
    assert_eq!((map.words.len(), map.addr_bits), (16, 6));
    let top = regfile(&map).unwrap();
    let mut sim = Sim::new(&top).unwrap();
    sim.poke_u64("rst", 1).unwrap();
    LiteMaster::idle(&mut sim).unwrap();
    sim.poke_u64("i_done", 0).unwrap();
    sim.poke_u64("i_s", 0x5eed).unwrap();
    sim.step();
    sim.poke_u64("rst", 0).unwrap();
    let mut bfm = LiteMaster::new(1, 0);
    assert_eq!(bfm.read(&mut sim, 0x3c).unwrap(), (0x5eed, OKAY));
    assert_eq!(bfm.read(&mut sim, 0x38).unwrap(), (10, OKAY));
    assert_eq!(bfm.write(&mut sim, 0x38, 7, 0xf).unwrap(), OKAY);
    assert_eq!(bfm.read(&mut sim, 0x38).unwrap(), (7, OKAY));
}
