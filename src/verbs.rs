//! The lifecycle verbs every registered design has: `gen`, `sim`, `check`, `synth`, `bench`.
//! (`fpga`, `report` and `serve` are the board flow's, in `board::cli`.) They see a design
//! only through `registry::Instance`.

use crate::error::{bad, failed, Result};
use crate::registry::Instance;
use crate::tools::{self, TempDir};
use plume_sim::cosim::Tool;
use plume_sim::harness::{self, HarnessError, Report};
use std::path::Path;

/// The design's testbench on plume's simulator (recorded when asked); a disagreement with the
/// golden model is a failed check that names the seed.
fn run_testbench(
    inst: &dyn Instance,
    cycles: u64,
    seed: u64,
    vcd: Option<&Path>,
    record: bool,
) -> Result<(std::rc::Rc<plume_hw::rtl::Module>, Report)> {
    if cycles == 0 {
        return Err(bad("--cycles must be at least 1"));
    }
    let top = inst.top()?;
    let mut tb = inst.testbench(cycles, seed)?;
    let r = harness::simulate(&top, &mut *tb, vcd, record).map_err(|e| match e {
        HarnessError::Mismatch(m) => failed(format!("{m} (seed {seed})")),
        other => other.into(),
    })?;
    Ok((top, r))
}

pub fn gen(inst: &dyn Instance, out: &Path) -> Result<()> {
    let top = inst.top()?;
    let mut manifest = inst.manifest()?;
    manifest["design"] = serde_json::json!(inst.design());
    manifest["parameters"] = inst.params();
    let n = tools::write_design(out, &top, manifest).map_err(|e| bad(format!("{e:#}")))?;
    println!(
        "wrote {} ({n} Verilog files, top module {}, {}) and manifest.json",
        out.display(),
        top.name,
        inst.summary()
    );
    Ok(())
}

pub fn sim(inst: &dyn Instance, cycles: u64, seed: u64, vcd: Option<&Path>) -> Result<()> {
    if cycles == 0 {
        return Err(bad("--cycles must be at least 1"));
    }
    if let Some(dir) = vcd
        .and_then(|p| p.parent())
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
    }
    let tmp = vcd.map(|p| p.with_extension("vcd.plume-partial"));
    if let Some(t) = &tmp {
        std::fs::File::create(t).map_err(|e| bad(format!("cannot write {}: {e}", t.display())))?;
    }
    let r = run_testbench(inst, cycles, seed, tmp.as_deref(), false);
    let (top, r) = match r {
        Ok(r) => r,
        Err(e) => {
            if let Some(t) = &tmp {
                let _ = std::fs::remove_file(t);
            }
            return Err(e);
        }
    };
    if let (Some(t), Some(p)) = (&tmp, vcd) {
        std::fs::rename(t, p).map_err(|e| failed(format!("cannot write {}: {e}", p.display())))?;
    }
    println!(
        "{}: simulated {} cycles (seed {seed}), {} {} equal to the golden model; {:.0} cycles/s",
        top.name,
        r.cycles,
        r.checked,
        r.unit,
        r.cycles as f64 / r.seconds.max(1e-9)
    );
    if let Some(p) = vcd {
        println!("waveform: {}", p.display());
    }
    Ok(())
}

pub fn check(inst: &dyn Instance, cycles: u64, seed: u64) -> Result<()> {
    let (top, r) = run_testbench(inst, cycles, seed, None, true)?;
    println!(
        "golden ≡ sim:       {} {} over {} cycles",
        r.checked, r.unit, r.cycles
    );
    tools::lint(&top)?;
    println!("verilator lint:     clean (--lint-only -Wall)");
    let rec = r
        .recording
        .ok_or_else(|| failed("the run was not recorded"))?;
    for tool in [Tool::Verilator, Tool::Icarus] {
        let dir = TempDir::new("check")?;
        let n = harness::replay(tool, &top, &rec, dir.path())?;
        println!(
            "sim ≡ {:<12} {} cycles, every output compared",
            format!("{}:", tool.name()),
            n
        );
    }
    println!("{}: all engines agree", top.name);
    Ok(())
}

pub fn synth(inst: &dyn Instance, json: bool) -> Result<()> {
    let r = tools::synth(&inst.top()?)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", crate::board::resource_table(&r));
    }
    Ok(())
}

/// plume against Verilator -O3 on the same stimulus: the design's testbench runs once on
/// plume's simulator (checked against the golden model, recorded), then both simulators
/// replay the recording; their output checksums must agree.
pub fn bench(inst: &dyn Instance, cycles: u64, seed: u64) -> Result<()> {
    eprintln!(
        "plume: recording {cycles} cycles of the testbench (checked against the golden model)…"
    );
    let (top, r) = run_testbench(inst, cycles, seed, None, true)?;
    let rec = r
        .recording
        .ok_or_else(|| failed("the run was not recorded"))?;
    let n = rec.cycles.len() as f64;
    let pl = crate::bench::plume_replay(&top, &rec)?;
    println!(
        "{}: {} cycles of its testbench ({} {} checked), same stimulus in both simulators",
        top.name,
        rec.cycles.len(),
        r.checked,
        r.unit
    );
    println!(
        "{:>14} {:>16} {:>8} {:>13} {:>17} {:>15}",
        "plume cyc/s",
        "verilator cyc/s",
        "ratio",
        "vl build (s)",
        "plume model (KB)",
        "peak RSS (MB)"
    );
    let model_kb = pl.model_bytes as f64 / 1024.0;
    let rss = crate::bench::peak_rss().unwrap_or(0) as f64 / 1e6;
    match crate::bench::verilator_replay(&top, &rec) {
        Ok(v) => {
            if v.checksum != pl.checksum {
                return Err(failed(format!(
                    "{}: output checksums differ (plume {:016x}, verilator {:016x})",
                    top.name, pl.checksum, v.checksum
                )));
            }
            println!(
                "{:>14.0} {:>16.0} {:>8.2} {:>13.1} {:>17.0} {:>15.1}",
                n / pl.seconds,
                n / v.seconds,
                v.seconds / pl.seconds,
                v.build_seconds,
                model_kb,
                rss
            );
        }
        Err(e) => println!(
            "{:>14.0} {:>16} {:>8} {:>13} {:>17.0} {:>15.1}   (verilator: {e})",
            n / pl.seconds,
            "-",
            "-",
            "-",
            model_kb,
            rss
        ),
    }
    Ok(())
}
