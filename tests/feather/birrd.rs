//! BIRRD: golden model ≡ cycle simulator on random streams (proptest), and on a sample of
//! configurations the emitted Verilog in Verilator and Icarus ≡ the simulator, cycle by cycle.

use crate::common;

use plume::feather::birrd::simulate;
use plume_hw::feather::birrd::{generate, BirrdConfig, Topology};
use plume_sim::cosim::{self, Tool};
use proptest::prelude::*;

fn topology() -> impl Strategy<Value = Topology> {
    prop_oneof![Just(Topology::Bitrev), Just(Topology::Benes)]
}

proptest! {
    #![proptest_config(common::proptest_config(24))]

    /// Random configuration and data every cycle; each output vector must equal the golden
    /// model of the vector that entered `stages` cycles earlier (latency), with one vector
    /// leaving per cycle (throughput).
    #[test]
    fn sim_matches_golden(ports in prop_oneof![Just(4u32), Just(8), Just(16), Just(32)],
                          width in prop_oneof![Just(8u32), Just(32), Just(64)],
                          topology in topology(),
                          seed in any::<u64>()) {
        let cfg = BirrdConfig { ports, width, topology };
        let cycles = 120;
        let r = simulate(&cfg, cycles, seed, None, false).unwrap();
        prop_assert_eq!(r.cycles, cycles);
        // Cycle 0 is reset; every later input vector leaves exactly `stages` cycles after it
        // entered, so all but the last `stages` are checked.
        prop_assert_eq!(r.checked, cycles - 1 - cfg.stages() as u64);
    }
}

/// The same recorded stimulus on the emitted Verilog, in both simulators.
fn cosim_case(ports: u32, width: u32, topology: Topology, tools: &[Tool]) {
    let cfg = BirrdConfig {
        ports,
        width,
        topology,
    };
    let top = generate(&cfg).unwrap();
    let rec = simulate(&cfg, 60, ports as u64 * 31 + width as u64, None, true)
        .unwrap()
        .recording
        .unwrap();
    for &tool in tools {
        if !cosim::require(tool).unwrap() {
            continue;
        }
        let dir = common::TempDir::new("birrd-cosim").unwrap();
        let n = cosim::check(tool, &top, &rec, dir.path())
            .unwrap_or_else(|e| panic!("{} n={ports} w={width} {topology}: {e}", tool.name()));
        assert_eq!(n, 59);
    }
}

#[test]
fn icarus_matches_sim_on_every_configuration_of_the_sweep() {
    for ports in [4, 8, 16, 32] {
        for width in [8, 32, 64] {
            for topology in [Topology::Bitrev, Topology::Benes] {
                cosim_case(ports, width, topology, &[Tool::Icarus]);
            }
        }
    }
}

#[test]
fn verilator_matches_sim_on_a_sample() {
    for (ports, width, topology) in [
        (4, 8, Topology::Bitrev),
        (8, 64, Topology::Benes),
        (16, 32, Topology::Bitrev),
        (32, 8, Topology::Benes),
    ] {
        cosim_case(ports, width, topology, &[Tool::Verilator]);
    }
}

#[test]
fn emitted_verilog_is_lint_clean_and_compiles_in_icarus() {
    for topology in [Topology::Bitrev, Topology::Benes] {
        for ports in [4, 8, 16, 32, 64] {
            let top = generate(&BirrdConfig {
                ports,
                width: 32,
                topology,
            })
            .unwrap();
            if cosim::require(Tool::Verilator).unwrap() {
                plume::tools::lint(&top).unwrap();
            }
            if cosim::require(Tool::Icarus).unwrap() {
                plume::tools::icarus_compiles(&top).unwrap();
            }
        }
    }
}

#[test]
fn yosys_synthesises_for_xcup() {
    if !plume_sim::cosim::which("yosys") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "yosys is not installed under CI"
        );
        eprintln!("SKIPPED: yosys is not installed");
        return;
    }
    // Width 8 above 16 ports keeps Yosys under a minute; synthesisability does not depend on W.
    for (ports, width) in [(4, 32), (8, 32), (16, 32), (32, 8), (64, 8)] {
        let cfg = BirrdConfig {
            ports,
            width,
            topology: Topology::Bitrev,
        };
        let r = plume::tools::synth(&generate(&cfg).unwrap()).unwrap();
        // Every switch output and every forwarded command bit is a flip-flop.
        let cmd_ffs: u32 = (0..cfg.stages())
            .map(|s| 2 * (cfg.stages() - s) - 2)
            .sum::<u32>()
            * cfg.switches();
        let data_ffs = cfg.stages() * cfg.ports * cfg.width;
        assert_eq!(r.ff, (data_ffs + cmd_ffs) as u64, "n={ports}");
        assert!(r.lut > 0 && r.carry > 0, "n={ports}: {r:?}");
    }
}
