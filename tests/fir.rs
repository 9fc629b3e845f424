//! The FIR example family: golden model ≡ simulator on random streams with idle cycles
//! (proptest), ≡ Verilator ≡ Icarus on a sample, the filter behind AXI under back-pressure —
//! and every lifecycle verb reached through the command line, with no FIR code outside
//! `hw/src/fir` and `src/fir` (the registry is the only way in).

mod common;

use common::{assert_bad_input, plume, stderr, stdout};
use plume::fir::{Samples, FIR_DESIGN};
use plume::registry::Design;
use plume_hw::fir::{golden, FirConfig};
use plume_sim::bfm::{Host, Stalls};
use plume_sim::cosim::{self, Tool};
use plume_sim::harness::{self, StreamBench};
use proptest::prelude::*;

fn run(cfg: &FirConfig, cycles: u64, seed: u64, record: bool) -> harness::Report {
    let top = plume_hw::fir::generate(cfg).unwrap();
    let mut tb = StreamBench {
        model: Samples::new(cfg, seed),
        cycles,
    };
    harness::simulate(&top, &mut tb, None, record).unwrap()
}

proptest! {
    #![proptest_config(common::proptest_config(24))]

    /// Every output cycle equals the golden filter's, `FIR_LATENCY` cycles after its sample.
    #[test]
    fn sim_matches_golden(taps in 1u32..=12, width in 2u32..=27, coef_width in 2u32..=18,
                          seed in any::<u64>()) {
        let cfg = FirConfig { taps, width, coef_width };
        let r = run(&cfg, 150, seed, false);
        prop_assert_eq!(r.cycles, 150);
        // Cycle 0 is reset; every later cycle is checked once its outputs are out.
        prop_assert_eq!(r.checked, 150 - 1 - plume_hw::fir::FIR_LATENCY);
    }
}

#[test]
fn emitted_verilog_matches_the_simulator_on_a_sample() {
    for (taps, width, coef_width) in [(1, 2, 2), (5, 12, 9), (16, 27, 18)] {
        let cfg = FirConfig {
            taps,
            width,
            coef_width,
        };
        let top = plume_hw::fir::generate(&cfg).unwrap();
        let rec = run(&cfg, 120, taps as u64, true).recording.unwrap();
        if cosim::require(Tool::Verilator).unwrap() {
            plume::tools::lint(&top).unwrap();
        }
        for tool in [Tool::Verilator, Tool::Icarus] {
            if !cosim::require(tool).unwrap() {
                continue;
            }
            let dir = common::TempDir::new("fir-cosim").unwrap();
            let n = harness::replay(tool, &top, &rec, dir.path())
                .unwrap_or_else(|e| panic!("{} {cfg:?}: {e}", tool.name()));
            assert_eq!(n, 119);
        }
    }
}

/// The filter behind the generic AXI pipeline wrapper: coefficients over AXI4-Lite, samples
/// in and results out over AXI4-Stream with random stalls on every bus; the results are the
/// golden filter's, the same with and without back-pressure; the stalled session replays in
/// Verilator and Icarus.
#[test]
fn wrapped_fir_filters_a_stream_under_back_pressure() {
    let cfg = FirConfig {
        taps: 6,
        width: 12,
        coef_width: 10,
    };
    let coefs: Vec<u64> = [3u64, 1021, 7, 512, 0, 1023].to_vec();
    let samples: Vec<u64> = (0..90u64).map(|i| (i * 2654435761) & 0xfff).collect();
    let want = golden::filter_words(&cfg, &coefs, &samples);
    let board = FIR_DESIGN.board(&cfg).unwrap();
    let mut results = Vec::new();
    for (stall, record) in [(0, false), (45, true)] {
        let stalls = Stalls {
            lite: stall,
            stream_in: stall,
            stream_out: stall,
            seed: 11,
        };
        let mut h = Host::new(board.top.clone(), board.map.clone(), stalls, record).unwrap();
        let mut word = 0u128;
        for (t, c) in coefs.iter().enumerate() {
            word |= (*c as u128) << (10 * t);
        }
        for (k, p) in board.map.params.iter().enumerate() {
            h.write(&p.name, (word >> (32 * k)) as u64 & 0xffff_ffff)
                .unwrap();
        }
        let bytes: Vec<u8> = samples
            .iter()
            .flat_map(|s| (*s as u16).to_le_bytes())
            .collect();
        let out = h.transfer(&bytes, samples.len()).unwrap();
        // 25-bit results in 4-byte beats.
        assert_eq!(cfg.out_width(), 25);
        let got: Vec<u64> = out
            .chunks(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as u64)
            .collect();
        assert_eq!(got, want, "stall {stall}");
        assert_eq!(h.read("beats").unwrap(), samples.len() as u64);
        results.push(got);
        if let Some(rec) = h.sim.take_recording() {
            for tool in [Tool::Verilator, Tool::Icarus] {
                if !cosim::require(tool).unwrap() {
                    continue;
                }
                let dir = common::TempDir::new("fir-axi").unwrap();
                harness::replay(tool, &board.top, &rec, dir.path())
                    .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
            }
        }
    }
    assert_eq!(results[0], results[1]);
}

/// The example family goes through every lifecycle verb by the command line.
#[test]
fn every_lifecycle_verb_works_through_the_registry() {
    let t = common::TempDir::new("fir-cli").unwrap();
    let gen = t.path().join("gen");
    let o = plume(&["gen", "fir", "--taps", "5", "-o", gen.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(gen.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["top"], "fir_t5_w16_c16");
    assert_eq!(m["parameters"]["taps"], 5);
    assert_eq!(m["latency_cycles"], 2);

    let o = plume(&["sim", "fir", "--cycles", "300", "--seed", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .contains("simulated 300 cycles (seed 4), 297 output cycles equal to the golden model"),
        "{}",
        stdout(&o)
    );

    if common::have("verilator") && common::have("iverilog") {
        let o = plume(&["check", "fir", "--taps", "3", "--cycles", "200"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("fir_t3_w16_c16: all engines agree"));
    }
    if common::have("yosys") {
        let o = plume(&["synth", "fir", "--taps", "4", "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["dsp"], 4, "one DSP48E2 per tap");
    }

    let build = t.path().join("build");
    let o = plume(&["fpga", "zcu104", "fir", "-o", build.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "rtl/plume_fir_t8_w16_c16.v",
        "rtl/axi_fir_t8_w16_c16.v",
        "sw/fir_t8_w16_c16_regs.h",
        "vivado/build.tcl",
        "plume.json",
    ] {
        assert!(build.join(f).is_file(), "{f}");
    }

    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_plume"))
        .args(["serve", "fir"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    serve
        .stdin
        .take()
        .unwrap()
        .write_all(b"INFO\nR 0\nQUIT\n")
        .unwrap();
    let out = serve.wait_with_output().unwrap();
    // 16-bit samples and 35-bit results in 32- and 64-bit DMA beats; CTRL idle.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "OK 4 8\nOK 4 0\nBYE\n"
    );

    assert_bad_input(
        &["sim", "fir", "--taps", "0"],
        "taps must be from 1 to 64, got 0",
    );
    assert_bad_input(
        &["gen", "fir", "--coef-width", "19", "-o", "/tmp/plume-never"],
        "coefficient width must be from 2 to 18 bits, got 19",
    );
}
