//! The RF emulator family: scenarios (TOML), the planner's report, runs of the golden models
//! with SigMF recordings in and out, plots, and the operation-count comparison with a
//! tapped-delay-line emulator.

pub mod board;
pub mod cli;
pub mod demo;
pub mod design;
pub mod plot;
pub mod sigmf;

use crate::error::{bad, Result};
use crate::registry::{Entry, Family};
use clap::{ArgMatches, Command};
use num_complex::Complex64;
use plume_hw::rfemu::golden::fixed::Fixed;
use plume_hw::rfemu::golden::reference::Reference;
use plume_hw::rfemu::golden::signal::{quantise, Waveform};
use plume_hw::rfemu::golden::tdl;
use plume_hw::rfemu::plan::{delay_samples, Plan};
use plume_hw::rfemu::scenario::Scenario;
use plume_hw::rfemu::Iq;
use std::path::Path;

/// The built-in scenario (the board's 9-node case).
pub const NINE_NODE: &str = include_str!("../../fpga/scenarios/zcu104_9node.toml");

/// A scenario from TOML text; `what` names it in messages.
pub fn parse_scenario(text: &str, what: &str) -> Result<Scenario> {
    let sc: Scenario = toml::from_str(text).map_err(|e| {
        let msg = e.message().to_string();
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].lines().count().max(1);
                bad(format!("{what}, line {line}: {msg}"))
            }
            None => bad(format!("{what}: {msg}")),
        }
    })?;
    sc.validate().map_err(|e| bad(format!("{what}: {e}")))?;
    Ok(sc)
}

/// A scenario file.
pub fn load_scenario(path: &Path) -> Result<Scenario> {
    let text = crate::input::read_text(path, "scenario")?;
    parse_scenario(&text, &path.display().to_string())
}

/// The transmitters' waveforms: tones at distinct frequencies (fs/40, 2·fs/40, …), or chirps
/// sweeping fs/16 around the carrier over the scenario's duration; half full scale in all
/// (so their sum cannot clip).
pub fn waveforms(sc: &Scenario, chirp: bool) -> Vec<Waveform> {
    let fs = sc.sample_rate_hz;
    let n = sc
        .nodes
        .iter()
        .filter(|n| n.role == plume_hw::rfemu::scenario::Role::Tx)
        .count();
    let amp = 0.5 / n as f64;
    (0..n)
        .map(|k| {
            if chirp {
                Waveform::Chirp {
                    f0_hz: -fs / 32.0,
                    rate_hz_per_s: fs / 16.0 / sc.duration_s,
                    period_s: sc.duration_s,
                    amp,
                }
            } else {
                Waveform::Tone {
                    freq_hz: fs * (k + 1) as f64 / 40.0,
                    amp,
                }
            }
        })
        .collect()
}

/// Each receiver's output, normalised by its level, from the f64 reference (`bounces`
/// reflections), at samples 0 … n−1. `progress` is called now and then with samples done.
pub fn run_reference(
    plan: &Plan,
    waves: &[Waveform],
    n: usize,
    bounces: u32,
    progress: &mut dyn FnMut(usize),
) -> Vec<Vec<Complex64>> {
    let r = Reference::new(&plan.sc, waves, bounces);
    let fs = plan.sc.sample_rate_hz;
    plan.cfg
        .rx()
        .iter()
        .map(|&j| {
            (0..n)
                .map(|k| {
                    if k % 4096 == 0 {
                        progress(k);
                    }
                    r.rx(j, k as f64 / fs) / plan.levels[j]
                })
                .collect()
        })
        .collect()
}

/// Each receiver's output from the bit-accurate model, on transmitter samples `tx[t][k]`
/// (transmitter t, sample k).
pub fn run_fixed(
    plan: &Plan,
    tx: &[Vec<Iq>],
    n: usize,
    progress: &mut dyn FnMut(usize),
) -> Vec<Vec<Iq>> {
    let mut f = Fixed::new(&plan.cfg);
    let rx = plan.cfg.rx();
    let mut out = vec![Vec::with_capacity(n); rx.len()];
    let mut params = |e: u64| plan.params(e);
    for k in 0..n {
        if k % 4096 == 0 {
            progress(k);
        }
        let inputs: Vec<Iq> = tx
            .iter()
            .map(|s| s.get(k).copied().unwrap_or((0, 0)))
            .collect();
        for (o, y) in out.iter_mut().zip(f.step(&inputs, &mut params)) {
            o.push(y);
        }
    }
    out
}

/// The transmitters' quantised samples for `waves`.
pub fn tx_samples(plan: &Plan, waves: &[Waveform], n: usize) -> Vec<Vec<Iq>> {
    waves
        .iter()
        .map(|w| quantise(w, plan.sc.sample_rate_hz, n, plan.cfg.sample_bits))
        .collect()
}

/// Samples as full-scale complex numbers.
pub fn to_complex(v: &[Iq], bits: u32) -> Vec<Complex64> {
    let s = (1i64 << (bits - 1)) as f64;
    v.iter()
        .map(|&(i, q)| Complex64::new(i as f64 / s, q as f64 / s))
        .collect()
}

/// Signal-to-noise ratio (dB) of `got` against `want`, over samples `from..`.
pub fn snr_db(want: &[Complex64], got: &[Complex64], from: usize) -> f64 {
    let (mut s, mut e) = (0.0, 0.0);
    for (w, g) in want.iter().zip(got).skip(from) {
        s += w.norm_sqr();
        e += (w - g).norm_sqr();
    }
    10.0 * (s / e.max(1e-300)).log10()
}

/// The sample from which every direct and single-reflection path into receiver `rx` carries
/// signal (onsets interpolated across the silence before t = 0 are not the emulator's error).
pub fn settled_from(plan: &Plan, rx: usize) -> usize {
    let sc = &plan.sc;
    let mut worst: f64 = 0.0;
    for route in tdl::routes(sc, rx, 1) {
        let d: f64 = route
            .windows(2)
            .map(|w| delay_samples(sc, w[0], w[1], 0.0))
            .sum();
        worst = worst.max(d);
    }
    worst.ceil() as usize + plan.cfg.taps as usize + 2
}

pub struct RfFamily;

pub static RFEMU: RfFamily = RfFamily;

impl Family for RfFamily {
    fn name(&self) -> &'static str {
        "rfemu"
    }

    fn designs(&self) -> Vec<&'static dyn Entry> {
        vec![&design::RFEMU_DESIGN]
    }

    fn commands(&self) -> Vec<Command> {
        vec![cli::command()]
    }

    fn run(&self, _name: &str, m: &ArgMatches) -> Result<()> {
        cli::run(m)
    }

    fn demo(&self, out: &Path) -> Result<()> {
        demo::demo(out)
    }
}
