//! The SDQ GEMM engine: cycle simulation ≡ golden model on random tiles (realistic and
//! extreme operands) across formats and shapes, ≡ Verilator ≡ Icarus, behind AXI under
//! back-pressure, and a decomposed matrix through it rounding exactly like X·Ŵᵀ.

use super::common;
use plume::registry::Design;
use plume::sdq::design::{dense_int8, GemmStream, DENSE_ENGINE, SDQ_ENGINE};
use plume_hw::sdq::decompose::{decompose, SdqConfig};
use plume_hw::sdq::dot::{Chunk, DotConfig};
use plume_hw::sdq::engine::{chunks_of, generate_engine, EngineConfig, ENGINE_LATENCY};
use plume_hw::sdq::formats::Format;
use plume_hw::sdq::golden::dot;
use plume_sim::bfm::{Host, Stalls};
use plume_sim::cosim::{self, Tool};
use plume_sim::harness::{self, StreamBench};

fn engine(sdq: SdqConfig, groups: u32, units: u32, acc: (u32, i32)) -> EngineConfig {
    EngineConfig {
        dot: DotConfig {
            sdq,
            groups,
            acc_bits: acc.0,
            acc_lsb: acc.1,
            dsp: true,
        },
        units,
        depth: 16,
    }
}

fn sdq(m: u32, n: u32, k: u32, o: Format, i: Format) -> SdqConfig {
    SdqConfig {
        m,
        n,
        outliers: k,
        outlier_format: o,
        inlier_format: i,
        block: 32,
    }
}

fn configs() -> Vec<EngineConfig> {
    use Format::*;
    vec![
        engine(SdqConfig::default(), 1, 3, (48, -24)),
        engine(sdq(8, 7, 1, Int8, Int4), 2, 2, (48, -24)),
        engine(sdq(8, 6, 2, E5M2, E2M1), 1, 2, (64, -40)),
        engine(sdq(4, 2, 0, E4M3, Int4), 2, 2, (32, -8)),
        engine(sdq(16, 12, 2, E4M3, E2M1), 2, 1, (40, 0)),
        engine(dense_int8(32), 4, 2, (48, -24)),
        EngineConfig {
            dot: DotConfig {
                dsp: false,
                ..engine(dense_int8(32), 1, 1, (48, -24)).dot
            },
            ..engine(dense_int8(32), 1, 1, (48, -24))
        },
    ]
}

fn simulate(cfg: &EngineConfig, cycles: u64, seed: u64, record: bool) -> harness::Report {
    let top = generate_engine(cfg).unwrap();
    let mut tb = StreamBench {
        model: GemmStream::new(cfg, seed),
        cycles,
    };
    harness::simulate(&top, &mut tb, None, record)
        .unwrap_or_else(|e| panic!("{}: {e}", cfg.module_name()))
}

/// Every cycle of every configuration — dense and sparse, FP and integer lanes, narrow and
/// wide accumulators, tiles of extremes (NaN codes and scales, terms that overflow the
/// accumulator or fall below its LSB) — equals the golden model.
#[test]
fn the_engine_matches_the_golden_model_on_every_cycle() {
    for cfg in configs() {
        for seed in [1, 2] {
            let r = simulate(&cfg, 1500, seed, false);
            assert_eq!(
                r.checked,
                1500 - 1 - ENGINE_LATENCY,
                "{}",
                cfg.module_name()
            );
        }
    }
}

/// The random tiles reach the flags: some rows are special, some overflow, some inexact, and
/// most are clean.
#[test]
fn the_random_tiles_reach_every_flag() {
    let cfg = engine(SdqConfig::default(), 1, 4, (48, -24));
    let mut rng = plume_sim::rng::XorShift::new(5);
    let mut seen = [0usize; 4];
    for _ in 0..400 {
        let extreme = rng.next().is_multiple_of(2);
        let row: Vec<Chunk> = (0..3)
            .map(|_| plume::sdq::design::random_chunk(&cfg.dot, &mut rng, extreme))
            .collect();
        let acts: Vec<Vec<i8>> = (0..3)
            .map(|_| plume::sdq::design::random_acts(8, &mut rng, extreme))
            .collect();
        let f = dot(&cfg.dot, &row, &acts).flags();
        for (bit, s) in seen.iter_mut().take(3).enumerate() {
            *s += (f >> (2 - bit) & 1) as usize;
        }
        seen[3] += (f == 0) as usize;
    }
    assert!(
        seen.iter().all(|&n| n >= 10),
        "special/overflow/inexact/clean: {seen:?}"
    );
}

/// The emitted Verilog agrees with the simulator in Verilator and Icarus, every output of
/// every cycle.
#[test]
fn the_engine_verilog_matches_the_simulator() {
    for cfg in [configs()[0], configs()[1], configs()[5]] {
        let top = generate_engine(&cfg).unwrap();
        let rec = simulate(&cfg, 400, 3, true).recording.unwrap();
        if cosim::require(Tool::Verilator).unwrap() {
            plume::tools::lint(&top).unwrap();
        }
        for tool in [Tool::Verilator, Tool::Icarus] {
            if !cosim::require(tool).unwrap() {
                continue;
            }
            let dir = common::TempDir::new("sdq-cosim").unwrap();
            let n = harness::replay(tool, &top, &rec, dir.path())
                .unwrap_or_else(|e| panic!("{} {}: {e}", tool.name(), cfg.module_name()));
            assert_eq!(n, 399);
        }
    }
}

/// A heavy-tailed matrix decomposed by SDQ (and, for the baseline, quantized to MX INT8) runs
/// through the engine; with no flag raised, each FP32 result is X·Ŵᵀ — computed in f64 from
/// the decomposition's dequantized weights, not by the golden model — rounded once.
#[test]
fn a_decomposed_matrix_comes_out_as_its_exact_product_rounded_once() {
    for s in [SdqConfig::default(), dense_int8(32)] {
        let cfg = engine(s, 2, 4, (48, -24));
        let (n, k) = (4, 64);
        let w = plume::sdq::heavy_tailed(n * k, 9, 0.02);
        let d = decompose(&s, &w, n, k, None).unwrap();
        let rows = chunks_of(&cfg.dot, &d).unwrap();
        let wq = d.reconstructed();
        let mut rng = plume_sim::rng::XorShift::new(4);
        for _ in 0..6 {
            let x: Vec<i8> = (0..k).map(|_| rng.next() as u8 as i8).collect();
            let acts: Vec<Vec<i8>> = x.chunks(16).map(|c| c.to_vec()).collect();
            for (j, row) in rows.iter().enumerate() {
                let r = dot(&cfg.dot, row, &acts);
                assert_eq!(r.flags(), 0);
                let exact: f64 = wq[j * k..(j + 1) * k]
                    .iter()
                    .zip(&x)
                    .map(|(a, b)| a * *b as f64)
                    .sum();
                assert_eq!(f32::from_bits(r.y), exact as f32, "row {j}");
            }
        }
    }
}

/// Behind the AXI pipeline wrapper, weights and activation rows go in as stream beats under
/// random stalls on every bus; each row answers with one beat holding the golden results, the
/// same with and without back-pressure; the stalled session replays in Verilator and Icarus.
#[test]
fn the_engine_behind_axi_answers_every_row_under_back_pressure() {
    let cfg = engine(SdqConfig::default(), 1, 2, (48, -24));
    let board = SDQ_ENGINE.board(&cfg).unwrap();
    let mut rng = plume_sim::rng::XorShift::new(21);
    let rows: Vec<Vec<Chunk>> = (0..2)
        .map(|_| {
            (0..4)
                .map(|_| plume::sdq::design::random_chunk(&cfg.dot, &mut rng, false))
                .collect()
        })
        .collect();
    let beat = cfg.beat();
    let mut beats = cfg.weight_beats(&rows);
    let mut want = Vec::new();
    for _ in 0..5 {
        let acts: Vec<Vec<i8>> = (0..4)
            .map(|_| plume::sdq::design::random_acts(8, &mut rng, false))
            .collect();
        let res: Vec<_> = rows.iter().map(|r| dot(&cfg.dot, r, &acts)).collect();
        want.push(plume::sdq::design::out_word(&cfg, &res));
        for (j, a) in acts.iter().enumerate() {
            beats.push(beat.activations(a, j == 3));
        }
    }
    let nb = beat.bits().div_ceil(8) as usize;
    let bytes: Vec<u8> = beats
        .iter()
        .flat_map(|b| {
            (0..nb).map(move |i| {
                b.slice(8 * i as u32, (beat.bits() - 8 * i as u32).min(8))
                    .to_u64() as u8
            })
        })
        .collect();
    let ob = cfg.out_bits().div_ceil(8) as usize;
    let mut seen = Vec::new();
    for (stall, record) in [(0, false), (40, true)] {
        let stalls = Stalls {
            lite: stall,
            stream_in: stall,
            stream_out: stall,
            seed: 5,
        };
        let mut h = Host::new(board.top.clone(), board.map.clone(), stalls, record).unwrap();
        let out = h.transfer(&bytes, want.len()).unwrap();
        assert_eq!(out.len(), ob * want.len());
        for (r, w) in out.chunks(ob).zip(&want) {
            let got: Vec<u8> = r.to_vec();
            let expect: Vec<u8> = (0..ob)
                .map(|i| {
                    w.slice(8 * i as u32, (cfg.out_bits() - 8 * i as u32).min(8))
                        .to_u64() as u8
                })
                .collect();
            assert_eq!(got, expect, "stall {stall}");
        }
        assert_eq!(h.read("beats").unwrap(), want.len() as u64);
        seen.push(out);
        if let Some(rec) = h.sim.take_recording() {
            for tool in [Tool::Verilator, Tool::Icarus] {
                if !cosim::require(tool).unwrap() {
                    continue;
                }
                let dir = common::TempDir::new("sdq-axi").unwrap();
                harness::replay(tool, &board.top, &rec, dir.path())
                    .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
            }
        }
    }
    assert_eq!(seen[0], seen[1]);
    // The baseline wraps the same way.
    assert!(DENSE_ENGINE.board(&DENSE_ENGINE.board_config()).is_ok());
}

/// `plume sdq run` through the command line: bit-exact, and the dense baseline too.
#[test]
fn sdq_run_checks_a_gemm_through_the_engine() {
    for extra in [&[][..], &["--dense"][..]] {
        let mut args = vec!["sdq", "run", "--gemm", "4,64,12", "--units", "4"];
        args.extend_from_slice(extra);
        let o = common::plume(&args);
        assert!(o.status.success(), "{}", common::stderr(&o));
        let out = common::stdout(&o);
        assert!(
            out.contains("engine ≡ golden: 4 rows × 12 channels bit-exact"),
            "{out}"
        );
        assert!(
            out.contains("48 of 48 results are X·Ŵᵀ rounded to FP32 exactly, 0 flagged"),
            "{out}"
        );
    }
}
