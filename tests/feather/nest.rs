//! NEST ≡ golden: random weights in both ping/pong banks, random iAct streams with bubbles,
//! random VN lengths V ≤ AH and active rows ≤ V, signed and unsigned operands, zero points that
//! make differences negative. Every partial sum must leave the column mux with the golden value
//! at the cycle the documented timing gives (last element at row 0 + r + 3 + 1), and nothing
//! else may leave. The emitted Verilog of one configuration replays the stimulus in Verilator
//! and Icarus.

use crate::common;

use plume_hw::feather::golden::vn_dot;
use plume_hw::feather::nest::{nest, NestConfig, PE_LATENCY};
use plume_hw::rtl::Bits;
use plume_sim::cosim::{self, Tool};
use plume_sim::engine::Sim;
use plume_sim::rng::XorShift;
use proptest::prelude::*;

/// One cycle of NEST input.
#[derive(Clone, Default)]
struct In {
    iact: Vec<u8>,
    wdata: Vec<u8>,
    valid: bool,
    widx: u32,
    rbank: u32,
    last: bool,
    wen: bool,
    wrow: u32,
    waddr: u32,
    wbank: u32,
}

struct Case {
    cfg: NestConfig,
    signed: (bool, bool),
    rows: u32,
    zp: (u8, u8),
    stim: Vec<In>,
    /// Per column: (cycle, value) of every expected output.
    want: Vec<Vec<(u64, u32)>>,
}

/// Builds a stimulus: load bank 0; stream `groups` VNs from bank 0 while loading bank 1
/// (wait for the load if it is longer); stream `groups` VNs from bank 1; drain.
fn build(
    cfg: NestConfig,
    signed: (bool, bool),
    v: u32,
    rows: u32,
    groups: u32,
    bubbles: bool,
    seed: u64,
) -> Case {
    let mut rng = XorShift::new(seed);
    let (ah, aw) = (cfg.ah as usize, cfg.aw as usize);
    let zp = ((rng.next() & 0xff) as u8, (rng.next() & 0xff) as u8);
    // w[bank][row][col][k]
    let w: Vec<Vec<Vec<Vec<u8>>>> = (0..2)
        .map(|_| {
            (0..ah)
                .map(|_| {
                    (0..aw)
                        .map(|_| (0..v).map(|_| rng.next() as u8).collect())
                        .collect()
                })
                .collect()
        })
        .collect();
    let idle = || In {
        iact: vec![0; aw],
        wdata: vec![0; aw],
        ..In::default()
    };
    let mut loads: Vec<Vec<In>> = vec![Vec::new(), Vec::new()];
    for (bank, load) in loads.iter_mut().enumerate() {
        for r in 0..ah {
            for k in 0..v as usize {
                let mut c = idle();
                c.wen = true;
                c.wrow = r as u32;
                c.waddr = k as u32;
                c.wbank = bank as u32;
                c.wdata = (0..aw).map(|col| w[bank][r][col][k]).collect();
                load.push(c);
            }
        }
    }
    let mut stim: Vec<In> = loads[0].clone();
    // Let the last write reach the bottom row before reading.
    stim.extend((0..ah).map(|_| idle()));
    let mut want: Vec<Vec<(u64, u32)>> = vec![Vec::new(); aw];
    let mut pending_load = loads[1].clone().into_iter();
    for bank in 0..2u32 {
        for _ in 0..groups {
            let xs: Vec<Vec<u8>> = (0..v)
                .map(|_| (0..aw).map(|_| rng.next() as u8).collect())
                .collect();
            for k in 0..v {
                while bubbles && rng.next() % 4 == 0 {
                    let mut c = idle();
                    if bank == 0 {
                        if let Some(l) = pending_load.next() {
                            c = l;
                        }
                    }
                    stim.push(c);
                }
                let mut c = if bank == 0 {
                    pending_load.next().unwrap_or_else(idle)
                } else {
                    idle()
                };
                c.valid = true;
                c.widx = k;
                c.rbank = bank;
                c.last = k + 1 == v;
                c.iact = xs[k as usize].clone();
                // Garbage on the weight bus when not writing: must be ignored.
                if !c.wen {
                    c.wdata = (0..aw).map(|_| rng.next() as u8).collect();
                }
                stim.push(c);
            }
            let t_last = stim.len() as u64 - 1;
            for r in 0..rows as usize {
                for (col, out) in want.iter_mut().enumerate() {
                    let xcol: Vec<u8> = xs.iter().map(|x| x[col]).collect();
                    let value = vn_dot(&xcol, &w[bank as usize][r][col], zp, signed);
                    out.push((t_last + r as u64 + PE_LATENCY + 1, value));
                }
            }
        }
        if bank == 0 {
            stim.extend(pending_load.by_ref());
            stim.extend((0..ah).map(|_| idle()));
        }
    }
    stim.extend((0..ah + v as usize + 6).map(|_| idle()));
    // The stimulus starts after one reset cycle.
    for out in want.iter_mut() {
        for e in out.iter_mut() {
            e.0 += 1;
        }
        out.sort();
    }
    Case {
        cfg,
        signed,
        rows,
        zp,
        stim,
        want,
    }
}

/// Runs the case on the cycle simulator (recording if asked); returns per-column outputs.
fn run(case: &Case, record: bool) -> (Vec<Vec<(u64, u32)>>, Option<plume_sim::engine::Recording>) {
    let top = nest(&case.cfg).unwrap();
    let mut sim = Sim::new(&top).unwrap();
    if record {
        sim.record();
    }
    let aw = case.cfg.aw as usize;
    let set = |sim: &mut Sim, name: &str, v: u64| sim.poke_u64(name, v).unwrap();
    sim.poke_u64("rst", 1).unwrap();
    set(&mut sim, "i_rows", case.rows as u64);
    set(&mut sim, "i_zp_i", case.zp.0 as u64);
    set(&mut sim, "i_zp_w", case.zp.1 as u64);
    set(&mut sim, "i_iact_signed", case.signed.0 as u64);
    set(&mut sim, "i_weight_signed", case.signed.1 as u64);
    let mut got = vec![Vec::new(); aw];
    let pack = |bytes: &[u8]| {
        let mut b = Bits::zero(8 * bytes.len() as u32);
        for (i, &x) in bytes.iter().enumerate() {
            b.set_slice(8 * i as u32, &Bits::from_u64(8, x as u64));
        }
        b
    };
    let total = case.stim.len() + 1;
    for cyc in 0..total {
        if cyc == 1 {
            sim.poke_u64("rst", 0).unwrap();
        }
        let c = if cyc == 0 {
            None
        } else {
            Some(&case.stim[cyc - 1])
        };
        let d = In {
            iact: vec![0; aw],
            wdata: vec![0; aw],
            ..In::default()
        };
        let c = c.unwrap_or(&d);
        sim.poke("i_iact", &pack(&c.iact)).unwrap();
        sim.poke("i_wdata", &pack(&c.wdata)).unwrap();
        set(&mut sim, "i_valid", c.valid as u64);
        set(&mut sim, "i_widx", c.widx as u64);
        set(&mut sim, "i_rbank", c.rbank as u64);
        set(&mut sim, "i_last", c.last as u64);
        set(&mut sim, "i_wen", c.wen as u64);
        set(&mut sim, "i_wrow", c.wrow as u64);
        set(&mut sim, "i_waddr", c.waddr as u64);
        set(&mut sim, "i_wbank", c.wbank as u64);
        let valid = sim.peek_u64("o_valid").unwrap();
        let data = sim.peek("o_data").unwrap();
        for (col, out) in got.iter_mut().enumerate() {
            if valid >> col & 1 == 1 {
                out.push((cyc as u64, data.slice(32 * col as u32, 32).to_u64() as u32));
            }
        }
        sim.step();
    }
    (got, sim.take_recording())
}

fn shape() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        Just((2u32, 2u32)),
        Just((4, 4)),
        Just((8, 4)),
        Just((4, 8)),
        Just((16, 2))
    ]
}

proptest! {
    #![proptest_config(common::proptest_config(24))]

    #[test]
    fn nest_matches_golden((ah, aw) in shape(), vsel in any::<u32>(), rsel in any::<u32>(),
                           groups in 1u32..5, bubbles in any::<bool>(),
                           iact_signed in any::<bool>(), weight_signed in any::<bool>(),
                           seed in any::<u64>()) {
        let v = 1 + vsel % ah;
        let rows = 1 + rsel % v;
        let cfg = NestConfig { ah, aw };
        let case = build(cfg, (iact_signed, weight_signed), v, rows, groups, bubbles, seed);
        let (got, _) = run(&case, false);
        prop_assert_eq!(got, case.want);
    }
}

#[test]
fn a_full_array_delivers_one_partial_sum_per_cycle() {
    // V = rows = AH: after the pipeline fills, every column is valid every cycle.
    let cfg = NestConfig { ah: 8, aw: 4 };
    let case = build(cfg, (false, true), 8, 8, 4, false, 7);
    let (got, _) = run(&case, false);
    assert_eq!(got, case.want);
    let bank0: Vec<u64> = got[0].iter().take(32).map(|e| e.0).collect();
    assert!(bank0.windows(2).all(|w| w[1] == w[0] + 1), "{bank0:?}");
}

#[test]
fn emitted_verilog_matches_the_simulator() {
    let cfg = NestConfig { ah: 4, aw: 4 };
    let case = build(cfg, (true, false), 3, 3, 3, true, 11);
    let (got, rec) = run(&case, true);
    assert_eq!(got, case.want);
    let rec = rec.unwrap();
    let top = nest(&cfg).unwrap();
    for tool in [Tool::Verilator, Tool::Icarus] {
        if !cosim::require(tool).unwrap() {
            continue;
        }
        let dir = common::TempDir::new("nest-cosim").unwrap();
        let n = cosim::check(tool, &top, &rec, dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
        assert_eq!(n, case.stim.len());
    }
}

/// The PE at AH = 16 is lint-clean and, under the same Yosys command, clearly smaller than the
/// public FEATHER PE (298 LUT + 416 FF + 1 DSP48E2 at AH = 16, spec feather.md; its weight
/// files are flip-flops, plume's are LUT RAM).
#[test]
fn pe_synthesises_small() {
    use plume_hw::feather::pe::{pe, PeConfig};
    let top = pe(&PeConfig { ah: 16 }).unwrap();
    plume::tools::lint(&top).unwrap();
    if !common::have("yosys") {
        return;
    }
    let r = plume::tools::synth(&top).unwrap();
    eprintln!("{}", plume::board::resource_table(&r));
    assert_eq!(r.dsp, 1, "one DSP48E2 for the 9×9 product");
    assert!(r.ff < 416 / 2, "{} FF", r.ff);
    // A LUT-RAM cell (RAM32M16) occupies up to 8 LUT sites.
    assert!(
        r.lut + 8 * r.lutram < 298 / 2,
        "{} LUT + {} LUT RAM",
        r.lut,
        r.lutram
    );
}
