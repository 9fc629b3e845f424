//! `plume rfemu plan | run | plot | ops`.

use super::sigmf::{self, Datatype, Recording};
use super::{
    load_scenario, run_fixed, run_reference, settled_from, snr_db, to_complex, tx_samples,
    waveforms,
};
use crate::error::{bad, Result};
use crate::output::{dir_target, file_target, write_dir, write_file};
use clap::{Args, Command, Subcommand};
use num_complex::Complex64;
use plume_hw::rfemu::golden::tdl;
use plume_hw::rfemu::plan::{range, Plan};
use plume_hw::rfemu::scenario::C;
use plume_hw::rfemu::RfConfig;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Most samples one run may compute (about 2 GiB of history and output at 9 nodes).
const MAX_SAMPLES: usize = 1 << 26;

#[derive(Args, Clone, Debug)]
pub struct ScenarioArg {
    /// The scenario (TOML; see fpga/scenarios/).
    #[arg(long)]
    pub scenario: PathBuf,
}

#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub s: ScenarioArg,
    /// Samples to emulate.
    #[arg(long, default_value_t = 65_536)]
    pub samples: usize,
    /// golden (the f64 reference), fixed (the bit-accurate model of the hardware), sim (the
    /// generated emulator on plume's simulator, checked against fixed sample by sample) or
    /// verilator (sim, then the recorded run replayed on the emitted Verilog in Verilator).
    #[arg(long, default_value = "fixed")]
    pub engine: String,
    /// The transmitters' input: tone, chirp, or a SigMF recording (its .sigmf-meta).
    #[arg(long, default_value = "tone")]
    pub input: String,
    /// Reflections the f64 reference follows.
    #[arg(long, default_value_t = 3)]
    pub bounces: u32,
}

#[derive(Subcommand)]
pub enum RfCmd {
    /// The planner's view of a scenario: every path's delay, gain and Doppler shift, the
    /// emulatable range, and how the paper's ranges map to buffer depth, sample rate and latency.
    Plan {
        #[command(flatten)]
        s: ScenarioArg,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Emulate a scenario: each receiver's output as a SigMF recording in DIR, and the
    /// fixed-point model's SNR against the f64 reference.
    Run {
        #[command(flatten)]
        r: RunArgs,
        /// Output directory (must not exist or be empty).
        #[arg(short, long)]
        out: PathBuf,
    },
    /// A picture of a run: the first receiver's spectrum with the Doppler-shifted lines where
    /// physics puts them, and the delay profile of its paths (PNG or SVG by the name).
    Plot {
        #[command(flatten)]
        r: RunArgs,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// A run for the board: the input stream (every epoch's parameters and every sample) and
    /// the receivers' expected output as DMA images, played through the AXI-wrapped emulator
    /// on plume's simulator first; `sw/run_rfemu.py` in a `plume fpga zcu104 rfemu` build
    /// runs it.
    Export {
        #[command(flatten)]
        s: ScenarioArg,
        /// Samples to emulate.
        #[arg(long, default_value_t = 16_384)]
        samples: usize,
        /// The transmitters' input: tone, chirp, or a SigMF recording (its .sigmf-meta).
        #[arg(long, default_value = "tone")]
        input: String,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Operations per sample, direct-path model against a tapped-delay line, for M objects.
    Ops {
        /// Fractional-delay filter taps.
        #[arg(long, default_value_t = 4)]
        taps: u32,
    },
}

pub fn command() -> Command {
    RfCmd::augment_subcommands(
        Command::new("rfemu")
            .about(
                "RF emulator: plan a scenario, emulate it (SigMF out), plot it, count operations.",
            )
            .subcommand_required(true),
    )
}

pub fn run(m: &clap::ArgMatches) -> Result<()> {
    match crate::cli::parsed::<RfCmd>(m)? {
        RfCmd::Plan { s, json } => plan_cmd(&s.scenario, json),
        RfCmd::Run { r, out } => {
            dir_target(&out, |_| false)?;
            let res = emulate(&r)?;
            let mut files = Vec::new();
            for rec in &res.recordings {
                let (meta, data) = rec.1.encode(res.datatype);
                files.push((format!("{}.sigmf-meta", rec.0), meta));
                files.push((format!("{}.sigmf-data", rec.0), data));
            }
            files.push((
                "report.json".into(),
                serde_json::to_vec_pretty(&res.report)?,
            ));
            write_dir(&out, &files)?;
            for (name, rec) in &res.recordings {
                crate::outln!(
                    "{name}: {} samples ({}) in {}/{name}.sigmf-data",
                    rec.samples.len(),
                    res.datatype.name(),
                    out.display()
                );
            }
            for line in res.summary {
                crate::outln!("{line}");
            }
            Ok(())
        }
        RfCmd::Plot { r, out } => {
            let target = file_target(&out, "plot")?;
            if !out.extension().is_some_and(|e| e == "png" || e == "svg") {
                return Err(bad(format!(
                    "{}: a plot is written as .png or .svg",
                    out.display()
                )));
            }
            let res = emulate(&r)?;
            let plan = Plan::new(&load_scenario(&r.s.scenario)?, 0.0).map_err(bad)?;
            let bytes = super::plot::render(&plan, &res, &out)?;
            write_file(&target, &bytes)?;
            crate::outln!("wrote {}", out.display());
            Ok(())
        }
        RfCmd::Ops { taps } => ops_cmd(taps),
        RfCmd::Export {
            s,
            samples,
            input,
            out,
        } => {
            dir_target(&out, |_| false)?;
            let sc = load_scenario(&s.scenario)?;
            let n = samples;
            if n == 0 || n > super::board::MAX_SAMPLES {
                return Err(bad(format!(
                    "--samples must be from 1 to {} for a board package, got {n}",
                    super::board::MAX_SAMPLES
                )));
            }
            let plan = Plan::new(&sc, n as f64 / sc.sample_rate_hz).map_err(bad)?;
            let (tx, _) = transmitted(&plan, &input, n)?;
            super::board::export(&plan, &tx, n, &out)
        }
    }
}

fn plan_cmd(path: &Path, json: bool) -> Result<()> {
    let sc = load_scenario(path)?;
    let plan = Plan::new(&sc, 0.0).map_err(bad)?;
    let (rmin, rmax) = plan.range();
    let fs = sc.sample_rate_hz;
    let name = |i: usize| sc.nodes[i].name.clone();
    if json {
        let paths: Vec<serde_json::Value> = plan
            .paths
            .iter()
            .map(|p| {
                serde_json::json!({
                    "src": name(p.src), "dst": name(p.dst),
                    "distance_m": p.dist0, "delay_samples": p.dist0 / C * fs,
                    "gain_db": 20.0 * p.amp0.log10(), "doppler_hz": p.doppler0,
                    "buffer_samples": p.depth,
                })
            })
            .collect();
        let v = serde_json::json!({
            "scenario": sc.name, "paths": paths,
            "range_m": [rmin, rmax],
            "latency_samples": plan.cfg.latency(),
            "levels_db": plan.levels.iter().map(|l| 20.0 * l.log10()).collect::<Vec<_>>(),
            "epoch0": plan.params(0),
        });
        crate::outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    crate::outln!(
        "{}: {} nodes, {} paths, {:.1} MS/s, carrier {:.3} GHz, {} fractional-delay taps, epochs of {} samples",
        sc.name,
        sc.nodes.len(),
        plan.paths.len(),
        fs / 1e6,
        sc.carrier_hz / 1e9,
        sc.emulator.taps,
        sc.emulator.epoch
    );
    crate::outln!(
        "{:<20} {:>12} {:>14} {:>10} {:>12} {:>10}",
        "path",
        "distance m",
        "delay samples",
        "gain dB",
        "Doppler Hz",
        "buffer"
    );
    for p in &plan.paths {
        crate::outln!(
            "{:<20} {:>12.1} {:>14.2} {:>10.1} {:>12.1} {:>10}",
            format!("{} → {}", name(p.src), name(p.dst)),
            p.dist0,
            p.dist0 / C * fs,
            20.0 * p.amp0.log10(),
            p.doppler0,
            p.depth
        );
    }
    let total: u64 = plan.paths.iter().map(|p| p.depth as u64).sum();
    crate::outln!(
        "buffers: {total} samples in all ({:.1} Mb at {} bits a sample)",
        total as f64 * plan.cfg.iq_bits() as f64 / 1e6,
        plan.cfg.iq_bits()
    );
    for &r in &plan.cfg.rx() {
        crate::outln!(
            "receiver {}: output = signal / {:.3e} ({:.1} dB below full scale at the transmitters)",
            name(r),
            plan.levels[r],
            -20.0 * plan.levels[r].log10()
        );
    }
    crate::outln!(
        "emulatable range: {:.1} m (a path's shortest delay, {} samples: the pipeline's latency and the row readers) to {:.1} km (buffers of {} samples) at {:.1} MS/s",
        rmin,
        plan.cfg.min_delay(),
        rmax / 1e3,
        sc.emulator.buffer_depth,
        fs / 1e6
    );
    paper_ranges(&plan.cfg)?;
    resources(&plan.cfg)
}

/// The generated emulator's resources by the IR estimate (instant; `plume synth rfemu`
/// runs Yosys), against the XCZU7EV.
fn resources(cfg: &RfConfig) -> Result<()> {
    use crate::board::{XCZU7EV_BRAM36, XCZU7EV_DSP, XCZU7EV_FF, XCZU7EV_LUT, XCZU7EV_URAM};
    let top = plume_hw::rfemu::emu::generate(cfg)?;
    let r = plume_hw::rtl::passes::estimate::estimate(&top);
    let pct = |x: f64, cap: u64| 100.0 * x / cap as f64;
    crate::outln!(
        "hardware (IR estimate, `plume synth rfemu` for Yosys): {} lanes, rows of {} samples, latency {} cycles; \
         DSP48E2 {} ({:.1} %), BRAM36 {} ({:.1} %), URAM {} ({:.1} %), LUT {} ({:.1} %), FF {} ({:.1} %) of the XCZU7EV",
        cfg.paths.len(),
        cfg.row_samples(),
        cfg.latency(),
        r.dsp,
        pct(r.dsp as f64, XCZU7EV_DSP),
        r.bram36,
        pct(r.bram36, XCZU7EV_BRAM36),
        r.uram,
        pct(r.uram as f64, XCZU7EV_URAM),
        r.lut,
        pct(r.lut as f64, XCZU7EV_LUT),
        r.ff,
        pct(r.ff as f64, XCZU7EV_FF)
    );
    Ok(())
}

/// What reproduces the published ranges, with this hardware's latency.
fn paper_ranges(cfg: &RfConfig) -> Result<()> {
    let samples = |m: f64, fs: f64| m / C * fs;
    crate::outln!(
        "the paper's FPGA range 1.13–27.3 km at 215 MS/s needs a latency of {:.0} samples and a {:.0}-sample buffer (plume's shortest delay is {} samples: {:.1} m)",
        samples(1130.0, 215e6),
        samples(27_300.0, 215e6),
        cfg.min_delay(),
        range(cfg, 32_768, 215e6).0
    );
    crate::outln!(
        "the ASIC's 9.5 km at 518 MS/s is a {:.0}-sample buffer: 16,384 samples give {:.2} km",
        samples(9500.0, 518e6),
        16_384.0 * C / 518e6 / 1e3
    );
    Ok(())
}

/// The result of a run, ready to write.
pub struct Emulated {
    pub recordings: Vec<(String, Recording)>,
    pub datatype: Datatype,
    pub report: serde_json::Value,
    pub summary: Vec<String>,
    /// Each receiver's output and (when computed) the reference, normalised.
    pub outputs: Vec<Vec<Complex64>>,
}

fn emulate(r: &RunArgs) -> Result<Emulated> {
    let sc = load_scenario(&r.s.scenario)?;
    if r.samples == 0 || r.samples > MAX_SAMPLES {
        return Err(bad(format!(
            "--samples must be from 1 to {MAX_SAMPLES}, got {}",
            r.samples
        )));
    }
    let horizon = r.samples as f64 / sc.sample_rate_hz;
    if horizon > sc.duration_s * (1.0 + 1e-9) {
        return Err(bad(format!(
            "--samples {} is {:.3} ms; the scenario is planned for duration_s = {} s",
            r.samples,
            horizon * 1e3,
            sc.duration_s
        )));
    }
    if r.bounces > 6 {
        return Err(bad("--bounces must be from 0 to 6"));
    }
    let engine = match r.engine.as_str() {
        e @ ("fixed" | "golden" | "sim" | "verilator") => e,
        e => {
            return Err(bad(format!(
                "unknown engine {e:?} (expected golden, fixed, sim or verilator)"
            )))
        }
    };
    let fixed = engine != "golden";
    let plan = Plan::new(&sc, horizon).map_err(bad)?;
    let n = r.samples;
    let analytic = match r.input.as_str() {
        "tone" => Some(waveforms(&sc, false)),
        "chirp" => Some(waveforms(&sc, true)),
        _ => None,
    };
    let t0 = Instant::now();
    let progress = |k: usize, what: &str| {
        if k > 0 && t0.elapsed().as_secs() >= 10 && k % (1 << 16) == 0 {
            eprintln!("plume: {what} {k} of {n} samples…");
        }
    };
    let rx = plan.cfg.rx();
    let names: Vec<String> = rx.iter().map(|&j| sc.nodes[j].name.clone()).collect();
    let mut summary = Vec::new();
    let mut report = serde_json::json!({
        "scenario": sc.name, "samples": n, "engine": r.engine, "input": r.input,
    });
    let outputs: Vec<Vec<Complex64>>;
    let datatype;
    if fixed {
        let (tx, recorded) = transmitted(&plan, &r.input, n)?;
        if recorded < n {
            summary.push(format!(
                "the recording holds {recorded} samples; samples {recorded}..{n} of the input are zero"
            ));
        }
        let out = match engine {
            "fixed" => run_fixed(&plan, &tx, n, &mut |k| progress(k, "fixed-point model:")),
            _ => {
                let (out, line) = run_core(&plan, &tx, n, engine == "verilator")?;
                summary.push(line);
                out
            }
        };
        outputs = out
            .iter()
            .map(|o| to_complex(o, plan.cfg.sample_bits))
            .collect();
        datatype = Datatype::Ci16;
        if let Some(w) = &analytic {
            let reference = run_reference(&plan, w, n, r.bounces, &mut |k| {
                progress(k, "f64 reference:")
            });
            let mut snrs = Vec::new();
            for (k, (&j, name)) in rx.iter().zip(&names).enumerate() {
                let from = settled_from(&plan, j).min(n);
                let s = snr_db(&reference[k], &outputs[k], from);
                summary.push(format!(
                    "{name}: fixed point vs f64 reference ({} reflections): SNR {s:.1} dB over samples {from}..{n}",
                    r.bounces
                ));
                snrs.push(serde_json::json!({"rx": name, "snr_db": s, "from_sample": from}));
            }
            report["snr"] = serde_json::json!(snrs);
        } else {
            summary.push("no SNR: a recorded input has no analytic reference".into());
        }
    } else {
        let Some(w) = &analytic else {
            return Err(bad(
                "the f64 reference needs an analytic input (--input tone or chirp)",
            ));
        };
        outputs = run_reference(&plan, w, n, r.bounces, &mut |k| {
            progress(k, "f64 reference:")
        });
        datatype = Datatype::Cf32;
    }
    let recordings = names
        .iter()
        .zip(&outputs)
        .zip(&rx)
        .map(|((name, out), &j)| {
            let mut extra = serde_json::Map::new();
            extra.insert("plume:level".into(), plan.levels[j].into());
            extra.insert("plume:scenario".into(), sc.name.clone().into());
            (
                name.clone(),
                Recording {
                    samples: out.clone(),
                    sample_rate: sc.sample_rate_hz,
                    frequency: Some(sc.carrier_hz),
                    description: format!(
                        "plume RF emulator, scenario {}, receiver {name}, {} engine, input {}; the true signal is these samples × plume:level",
                        sc.name, r.engine, r.input
                    ),
                    extra,
                },
            )
        })
        .collect();
    Ok(Emulated {
        recordings,
        datatype,
        report,
        summary,
        outputs,
    })
}

/// The transmitters' samples for `input` (tone, chirp or a SigMF recording) and how many of
/// them a recording held (`n` for the analytic inputs).
fn transmitted(
    plan: &Plan,
    input: &str,
    n: usize,
) -> Result<(Vec<Vec<plume_hw::rfemu::Iq>>, usize)> {
    match input {
        "tone" => Ok((tx_samples(plan, &waveforms(&plan.sc, false), n), n)),
        "chirp" => Ok((tx_samples(plan, &waveforms(&plan.sc, true), n), n)),
        file => recorded_input(plan, Path::new(file), n),
    }
}

/// Samples `--engine sim|verilator` may run (the recording for Verilator stays in memory).
const MAX_CORE_SAMPLES: usize = 1 << 21;

/// The generated emulator on plume's simulator (and, for `verilator`, the recorded run
/// replayed on the emitted Verilog): each receiver's output as the simulator computed it,
/// checked sample by sample against the fixed-point model; and a line for the summary.
pub(crate) fn run_core(
    plan: &Plan,
    tx: &[Vec<plume_hw::rfemu::Iq>],
    n: usize,
    verilator: bool,
) -> Result<(Vec<Vec<plume_hw::rfemu::Iq>>, String)> {
    use plume_sim::cosim::{self, Tool};
    use plume_sim::harness::{self, HarnessError};
    if n > MAX_CORE_SAMPLES {
        return Err(bad(format!(
            "--samples {n}: the generated emulator runs at most {MAX_CORE_SAMPLES} samples (use --engine fixed for longer runs; it is bit-identical)"
        )));
    }
    if verilator && !cosim::available(Tool::Verilator) {
        return Err(crate::error::failed(
            "verilator is not installed (run `make deps`)",
        ));
    }
    let top = plume_hw::rfemu::emu::generate(&plan.cfg)?;
    let stim = super::design::Stimulus::with_input(plan.clone(), Some(tx.to_vec()), 1);
    let mut cap = super::design::Capture {
        stim,
        samples: n,
        outputs: Vec::new(),
    };
    let t0 = Instant::now();
    // Three samples in four cycles (the testbench pauses the stream at random).
    let progress = crate::verbs::Progress::start(n as u64 * 4 / 3);
    let r = harness::simulate_watched(&top, &mut cap, None, verilator, Some(progress.counter()));
    progress.stop();
    let report = r.map_err(|e| match e {
        HarnessError::Mismatch(m) => crate::error::failed(m),
        other => other.into(),
    })?;
    let secs = t0.elapsed().as_secs_f64();
    let mut line = format!(
        "generated emulator on plume's simulator: {n} samples in {} cycles, every receiver sample equal to the fixed-point model ({:.0} cycles/s)",
        report.cycles,
        report.cycles as f64 / secs
    );
    if let Some(rec) = &report.recording {
        let dir = crate::output::TempDir::new("rfemu-verilator")?;
        let cycles = harness::replay(Tool::Verilator, &top, rec, dir.path())
            .map_err(|e| crate::error::failed(e.to_string()))?;
        line.push_str(&format!(
            "; the emitted Verilog in Verilator agrees on every output of all {cycles} cycles"
        ));
    }
    Ok((cap.outputs, line))
}

/// A SigMF recording as every transmitter's input (never resampled: the rates must agree),
/// quantised to the sample width; values beyond full scale saturate. Returns the samples and
/// how many of them the recording held (the rest are zero).
fn recorded_input(
    plan: &Plan,
    meta: &Path,
    n: usize,
) -> Result<(Vec<Vec<plume_hw::rfemu::Iq>>, usize)> {
    let rec = sigmf::Recording::read(meta)?;
    if let Some(k) = rec
        .samples
        .iter()
        .take(n)
        .position(|z| !z.re.is_finite() || !z.im.is_finite())
    {
        return Err(bad(format!(
            "{}: sample {k} is not a finite number",
            meta.display()
        )));
    }
    let fs = plan.sc.sample_rate_hz;
    if (rec.sample_rate - fs).abs() > 1e-6 * fs {
        return Err(bad(format!(
            "{}: recorded at {} S/s; the scenario runs at {fs} S/s",
            meta.display(),
            rec.sample_rate
        )));
    }
    let bits = plan.cfg.sample_bits;
    let full = (1i64 << (bits - 1)) as f64;
    let max = (1i64 << (bits - 1)) - 1;
    let q = |v: f64| ((v * full).round() as i64).clamp(-max - 1, max) as i32;
    let samples: Vec<plume_hw::rfemu::Iq> = (0..n)
        .map(|k| rec.samples.get(k).map_or((0, 0), |z| (q(z.re), q(z.im))))
        .collect();
    Ok((vec![samples; plan.cfg.tx().len()], rec.samples.len().min(n)))
}

fn ops_cmd(taps: u32) -> Result<()> {
    if ![1, 2, 4, 8].contains(&taps) {
        return Err(bad("--taps must be 1, 2, 4 or 8"));
    }
    crate::outln!(
        "operations (real multiplies and adds) per sample, M objects that all transmit, receive and reflect; {taps}-tap fractional delay"
    );
    crate::outln!(
        "{:>5} {:>16} {:>22} {:>8}",
        "M",
        "direct path",
        "tapped delay line (1)",
        "ratio"
    );
    for m in [4u64, 8, 16, 32, 50, 100, 200] {
        let (d, t) = tdl::ops(m, taps);
        crate::outln!("{m:>5} {d:>16} {t:>22} {:>8.1}", t as f64 / d as f64);
    }
    crate::outln!(
        "(1) one reflection enumerated; the direct-path model's feedback carries every reflection at no extra cost"
    );
    Ok(())
}
