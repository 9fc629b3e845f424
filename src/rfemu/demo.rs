//! The RF emulator's part of `plume demo`: the 9-node ZCU104 scenario planned and emulated by
//! the fixed-point model against the f64 reference (a SigMF recording and a spectrum plot),
//! then the generated emulator on the two-reflector scenario checked sample by sample against
//! the fixed-point model, and replayed in Verilator when it is installed.

use super::{
    parse_scenario, run_fixed, run_reference, settled_from, snr_db, to_complex, tx_samples,
    waveforms, NINE_NODE,
};
use crate::error::{bad, Result};
use crate::output::{dir_target, file_target, write_file};
use plume_hw::rfemu::plan::Plan;
use plume_sim::cosim::{self, Tool};
use std::path::Path;

/// Samples of the 9-node run (465 µs at 215 MS/s: every path has arrived).
const SAMPLES: usize = 100_000;

pub fn demo(out_dir: &Path) -> Result<()> {
    dir_target(out_dir, |_| true)?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| bad(format!("cannot create {}: {e}", out_dir.display())))?;
    let names = ["rfemu9.sigmf-meta", "rfemu9.sigmf-data", "rfemu9.png"];
    let targets = names
        .iter()
        .map(|f| file_target(&out_dir.join(f), "demo output"))
        .collect::<Result<Vec<_>>>()?;
    let sc = parse_scenario(NINE_NODE, "the 9-node scenario")?;
    let plan = Plan::new(&sc, SAMPLES as f64 / sc.sample_rate_hz).map_err(bad)?;
    let (lo, hi) = (
        plan.paths.iter().map(|p| p.dist0).fold(f64::MAX, f64::min),
        plan.paths.iter().map(|p| p.dist0).fold(0.0, f64::max),
    );
    crate::outln!(
        "plume demo: RF emulator, {} — {} nodes, {} paths from {:.3} to {:.3} km at {:.0} MS/s",
        sc.name,
        sc.nodes.len(),
        plan.paths.len(),
        lo / 1e3,
        hi / 1e3,
        sc.sample_rate_hz / 1e6
    );
    let w = waveforms(&sc, false);
    let fixed = run_fixed(&plan, &tx_samples(&plan, &w, SAMPLES), SAMPLES, &mut |_| ());
    let reference = run_reference(&plan, &w, SAMPLES, 3, &mut |_| ());
    let rx = plan.cfg.rx()[0];
    let from = settled_from(&plan, rx);
    let got = to_complex(&fixed[0], plan.cfg.sample_bits);
    let snr = snr_db(&reference[0], &got, from);
    crate::outln!(
        "  {SAMPLES} samples, fixed-point model against the f64 reference with 3 reflections: SNR {snr:.1} dB"
    );
    let rec = super::sigmf::Recording {
        samples: got.clone(),
        sample_rate: sc.sample_rate_hz,
        frequency: Some(sc.carrier_hz),
        description: format!(
            "plume demo: RF emulator, scenario {}, receiver {}, fixed-point model",
            sc.name, plan.cfg.node_names[rx]
        ),
        extra: [("plume:level".to_string(), plan.levels[rx].into())]
            .into_iter()
            .collect(),
    };
    let (meta, data) = rec.encode(super::sigmf::Datatype::Ci16);
    write_file(&targets[0], &meta)?;
    write_file(&targets[1], &data)?;
    let emulated = super::cli::Emulated {
        recordings: Vec::new(),
        datatype: super::sigmf::Datatype::Ci16,
        report: serde_json::Value::Null,
        summary: Vec::new(),
        outputs: vec![got],
    };
    let png = out_dir.join(names[2]);
    write_file(&targets[2], &super::plot::render(&plan, &emulated, &png)?)?;
    crate::outln!(
        "  wrote {} (SigMF, ci16_le) and {} (spectrum with the Doppler lines, delay profile)",
        out_dir.join(names[0]).display(),
        png.display()
    );

    // The generated emulator, cycle by cycle, on the two-reflector scenario.
    let small = parse_scenario(super::design::TWO_REFLECTORS, "the two-reflector scenario")?;
    let n = 4000;
    let plan = Plan::new(&small, 0.0).map_err(bad)?;
    let tx = tx_samples(&plan, &waveforms(&small, true), n);
    let verilator = cosim::available(Tool::Verilator);
    let (_, line) = super::cli::run_core(&plan, &tx, n, verilator)?;
    crate::outln!("  {}: {line}", small.name);
    if !verilator {
        crate::outln!(
            "  (Verilator is not installed: `make deps` adds the replay on the emitted Verilog)"
        );
    }
    Ok(())
}
