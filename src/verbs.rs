//! The lifecycle verbs every registered design has: `gen`, `sim`, `check`, `synth`, `bench`.
//! (`fpga`, `report` and `serve` are the board flow's, in `board::cli`.) They see a design
//! only through `registry::Instance`.

use crate::error::{bad, failed, Result};
use crate::output::{dir_target, file_target, StagedFile, TempDir};
use crate::registry::Instance;
use crate::tools;
use plume_sim::cosim::Tool;
use plume_sim::harness::{self, HarnessError, Report};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    if record {
        let per_cycle = recorded_bytes_per_cycle(&top);
        let most = RECORDING_BYTES / per_cycle;
        if cycles > most {
            return Err(bad(format!(
                "--cycles {cycles}: the run is recorded for the replay on the emitted Verilog \
                 ({per_cycle} bytes a cycle for {}); at most {most} cycles fit in {} GiB",
                top.name,
                RECORDING_BYTES >> 30
            )));
        }
    }
    let mut tb = inst.testbench(cycles, seed)?;
    let progress = Progress::start(cycles);
    let r = harness::simulate_watched(&top, &mut *tb, vcd, record, Some(progress.counter()))
        .map_err(|e| match e {
            HarnessError::Mismatch(m) => failed(format!("{m} (seed {seed})")),
            other => other.into(),
        });
    progress.stop();
    Ok((top, r?))
}

/// A line on stderr every `PROGRESS_EVERY` while a simulation runs: cycles done, the rate,
/// and the time left.
pub(crate) struct Progress {
    counter: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const PROGRESS_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    pub(crate) fn start(total: u64) -> Progress {
        let counter = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (c, d) = (counter.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut next = PROGRESS_EVERY;
            while !d.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if t0.elapsed() < next {
                    continue;
                }
                next += PROGRESS_EVERY;
                let n = c.load(Ordering::Relaxed);
                let rate = n as f64 / t0.elapsed().as_secs_f64();
                let left = total.saturating_sub(n) as f64 / rate.max(1.0);
                eprintln!(
                    "plume: {n} of {total} cycles ({:.1} %), {rate:.0} cycles/s, about {:.0} s left",
                    100.0 * n as f64 / total.max(1) as f64,
                    left
                );
            }
        });
        Progress {
            counter,
            done,
            thread: Some(thread),
        }
    }

    pub(crate) fn counter(&self) -> Arc<AtomicU64> {
        self.counter.clone()
    }

    pub(crate) fn stop(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Memory a recorded run may take (every input and output of every cycle).
pub(crate) const RECORDING_BYTES: u64 = 2 << 30;

/// What recording one cycle of `top` costs: each port's words and the value's own size.
pub(crate) fn recorded_bytes_per_cycle(top: &plume_hw::rtl::Module) -> u64 {
    let value = std::mem::size_of::<plume_hw::rtl::Bits>() as u64 + 16;
    let ports = top.inputs.iter().chain(&top.outputs);
    let words: u64 = ports
        .map(|(_, id)| top.node(*id).width.div_ceil(64) as u64 * 8 + value)
        .sum();
    words + 64
}

pub fn gen(inst: &dyn Instance, out: &Path) -> Result<()> {
    dir_target(out, |_| false)?;
    let top = inst.top()?;
    let mut manifest = inst.manifest()?;
    manifest["design"] = serde_json::json!(inst.design());
    manifest["parameters"] = inst.params();
    let n = tools::write_design(out, &top, manifest)?;
    crate::outln!(
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
    let target = vcd.map(|p| file_target(p, "waveform")).transpose()?;
    let staged = target.as_ref().map(StagedFile::create).transpose()?;
    let (top, r) = run_testbench(inst, cycles, seed, staged.as_ref().map(|s| s.path()), false)?;
    if let Some(s) = staged {
        s.commit()?;
    }
    crate::outln!(
        "{}: simulated {} cycles (seed {seed}), {} {} equal to the golden model; {:.0} cycles/s",
        top.name,
        r.cycles,
        r.checked,
        r.unit,
        r.cycles as f64 / r.seconds.max(1e-9)
    );
    if let Some(p) = vcd {
        crate::outln!("waveform: {}", p.display());
    }
    Ok(())
}

pub fn check(inst: &dyn Instance, cycles: u64, seed: u64) -> Result<()> {
    let (top, r) = run_testbench(inst, cycles, seed, None, true)?;
    crate::outln!(
        "golden ≡ sim:       {} {} over {} cycles",
        r.checked,
        r.unit,
        r.cycles
    );
    tools::lint(&top)?;
    crate::outln!("verilator lint:     clean (--lint-only -Wall)");
    let rec = r
        .recording
        .ok_or_else(|| failed("the run was not recorded"))?;
    for tool in [Tool::Verilator, Tool::Icarus] {
        let dir = TempDir::new("check")?;
        let n = harness::replay(tool, &top, &rec, dir.path())?;
        crate::outln!(
            "sim ≡ {:<12} {} cycles, every output compared",
            format!("{}:", tool.name()),
            n
        );
    }
    crate::outln!("{}: all engines agree", top.name);
    Ok(())
}

pub fn synth(inst: &dyn Instance, json: bool) -> Result<()> {
    let r = tools::synth(&inst.top()?)?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        crate::out!("{}", crate::board::resource_table(&r));
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
    crate::outln!(
        "{}: {} cycles of its testbench ({} {} checked), same stimulus in both simulators",
        top.name,
        rec.cycles.len(),
        r.checked,
        r.unit
    );
    crate::outln!(
        "{:>14} {:>16} {:>8} {:>11} {:>11} {:>12} {:>14} {:>11}",
        "plume cyc/s",
        "verilator cyc/s",
        "ratio",
        "build (s)",
        "vl build",
        "1M cold ×",
        "model (KB)",
        "RSS (MB)"
    );
    let model_kb = pl.model_bytes as f64 / 1024.0;
    let rss = crate::bench::peak_rss().unwrap_or(0) as f64 / 1e6;
    // From a cold start: build the model, then run a million cycles at the measured rate.
    let cold = |build: f64, seconds: f64| build + 1e6 * seconds / n;
    match crate::bench::verilator_replay(&top, &rec) {
        Ok(v) => {
            if v.checksum != pl.checksum {
                return Err(failed(format!(
                    "{}: output checksums differ (plume {:016x}, verilator {:016x})",
                    top.name, pl.checksum, v.checksum
                )));
            }
            crate::outln!(
                "{:>14.0} {:>16.0} {:>8.2} {:>11.3} {:>11.1} {:>12.1} {:>14.0} {:>11.1}",
                n / pl.seconds,
                n / v.seconds,
                v.seconds / pl.seconds,
                pl.build_seconds,
                v.build_seconds,
                cold(v.build_seconds, v.seconds) / cold(pl.build_seconds, pl.seconds),
                model_kb,
                rss
            );
        }
        Err(e) => crate::outln!(
            "{:>14.0} {:>16} {:>8} {:>11.3} {:>11} {:>12} {:>14.0} {:>11.1}   (verilator: {e})",
            n / pl.seconds,
            "-",
            "-",
            pl.build_seconds,
            "-",
            "-",
            model_kb,
            rss
        ),
    }
    Ok(())
}
