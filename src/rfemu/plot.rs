//! The picture of a run (plotters): the first receiver's spectrum, with a marker where each
//! direct and single-reflection path's Doppler-shifted tone should land, and the delay
//! profile of those paths (delay against power). PNG, or SVG when the name ends in `.svg`.

use super::cli::Emulated;
use super::settled_from;
use crate::error::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plume_hw::rfemu::golden::tdl;
use plume_hw::rfemu::plan::{amplitude, distance, Plan};
use plume_hw::rfemu::scenario::{Role, C};
use rustfft::num_complex::Complex;
use std::path::Path;

/// One expected line: a route's name, its frequency (Hz), delay (µs) and power (dB).
struct Line {
    name: String,
    freq: f64,
    delay_us: f64,
    power_db: f64,
}

/// Direct and single-reflection routes into receiver `rx`, with their tone's Doppler-shifted
/// frequency (the sum of every hop's shift), delay and power at t = 0.
fn lines(plan: &Plan, rx: usize, tones: &[f64]) -> Vec<Line> {
    let sc = &plan.sc;
    let txs: Vec<usize> = (0..sc.nodes.len())
        .filter(|&k| sc.nodes[k].role == Role::Tx)
        .collect();
    let dt = 1e-6;
    tdl::routes(sc, rx, 1)
        .into_iter()
        .map(|r| {
            let mut doppler = 0.0;
            let mut delay = 0.0;
            let mut amp = 1.0;
            for w in r.windows(2) {
                let rate = (distance(sc, w[0], w[1], dt) - distance(sc, w[0], w[1], 0.0)) / dt;
                doppler += -rate / sc.lambda();
                delay += distance(sc, w[0], w[1], 0.0) / C;
                amp *= amplitude(sc, w[0], w[1], 0.0);
            }
            let t = txs.iter().position(|&k| k == r[0]).unwrap_or(0);
            let names: Vec<&str> = r.iter().map(|&k| sc.nodes[k].name.as_str()).collect();
            Line {
                name: names.join("→"),
                freq: tones.get(t).copied().unwrap_or(0.0) + doppler,
                delay_us: delay * 1e6,
                power_db: 20.0 * (amp / plan.levels[rx]).log10(),
            }
        })
        .collect()
}

/// The spectrum (dB of full scale) of `x`, Hann-windowed, as (frequency Hz, dB) in order.
fn spectrum(x: &[Complex<f64>], fs: f64) -> Vec<(f64, f64)> {
    // The largest power of two the samples fill.
    let n = (x.len().max(32).next_power_of_two() / 2).max(16);
    let start = x.len().saturating_sub(n);
    let mut buf: Vec<Complex<f64>> = (0..n)
        .map(|k| {
            let w = 0.5 - 0.5 * (std::f64::consts::TAU * k as f64 / n as f64).cos();
            x.get(start + k).copied().unwrap_or_default() * w
        })
        .collect();
    let mut planner = rustfft::FftPlanner::new();
    planner.plan_fft_forward(n).process(&mut buf);
    let norm = n as f64 * 0.5;
    // Negative frequencies first: output k is bin (k + n/2) mod n.
    (0..n)
        .map(|k| {
            let bin = (k + n / 2) % n;
            let freq = (k as f64 - (n / 2) as f64) * fs / n as f64;
            (freq, 20.0 * (buf[bin].norm() / norm).max(1e-12).log10())
        })
        .collect()
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    plan: &Plan,
    res: &Emulated,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let sc = &plan.sc;
    let fs = sc.sample_rate_hz;
    let rx = plan.cfg.rx()[0];
    let out = &res.outputs[0];
    let from = settled_from(plan, rx).min(out.len().saturating_sub(16));
    let spec = spectrum(&out[from..], fs);
    let tones: Vec<f64> = super::waveforms(sc, false)
        .iter()
        .map(|w| match w {
            plume_hw::rfemu::golden::signal::Waveform::Tone { freq_hz, .. } => *freq_hz,
            _ => 0.0,
        })
        .collect();
    let lines = lines(plan, rx, &tones);
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(380);
    // The band holding the transmitted tones and every expected line, with 30 bins (or a
    // tenth of the band) either side: Doppler shifts of kHz stay visible next to the tones.
    let bin = fs / (2 * spec.len()).max(2) as f64 * 2.0;
    let freqs = lines.iter().map(|l| l.freq).chain(tones.iter().copied());
    let (lo, hi) = freqs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), f| {
        (a.min(f), b.max(f))
    });
    let pad = (30.0 * bin).max(0.1 * (hi - lo));
    let (flo, fhi) = (lo - pad, hi + pad);
    let scale = if fhi - flo < 2e6 { 1e3 } else { 1e6 };
    let unit = if scale == 1e3 { "kHz" } else { "MHz" };
    let floor = spec
        .iter()
        .filter(|p| (flo..=fhi).contains(&p.0))
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .max(-160.0);
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!("{}: receiver {} spectrum", sc.name, sc.nodes[rx].name),
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(flo / scale..fhi / scale, floor..5.0)?;
    chart
        .configure_mesh()
        .x_desc(format!("frequency ({unit}, baseband)"))
        .y_desc("dB of full scale")
        .draw()?;
    for &t in &tones {
        chart.draw_series(LineSeries::new(
            vec![(t / scale, floor), (t / scale, 5.0)],
            BLACK.mix(0.3).stroke_width(1),
        ))?;
    }
    for l in &lines {
        let f = l.freq / scale;
        chart.draw_series(LineSeries::new(
            vec![(f, floor), (f, 5.0)],
            RED.mix(0.5).stroke_width(1),
        ))?;
    }
    chart.draw_series(LineSeries::new(
        spec.iter()
            .filter(|p| (flo..=fhi).contains(&p.0))
            .map(|&(f, db)| (f / scale, db)),
        &BLUE,
    ))?;
    chart.draw_series(std::iter::once(Text::new(
        "grey: transmitted tones; red: where each direct and single-reflection path's Doppler-shifted tone should land",
        (flo / scale + (fhi - flo) / scale * 0.02, -3.0),
        ("sans-serif", 12),
    )))?;
    let dmax = lines.iter().map(|l| l.delay_us).fold(1.0, f64::max) * 1.1;
    let pmin = lines.iter().map(|l| l.power_db).fold(0.0, f64::min) - 10.0;
    let mut prof = ChartBuilder::on(&bottom)
        .caption(
            "delay profile (direct and single-reflection paths)",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..dmax, pmin..5.0)?;
    prof.configure_mesh()
        .x_desc("delay (µs)")
        .y_desc("dB at the receiver's output")
        .draw()?;
    for l in &lines {
        prof.draw_series(LineSeries::new(
            vec![(l.delay_us, pmin), (l.delay_us, l.power_db)],
            BLACK.stroke_width(2),
        ))?;
        if l.name.matches('→').count() == 1 || l.power_db > pmin + 30.0 {
            prof.draw_series(std::iter::once(Text::new(
                l.name.clone(),
                (l.delay_us, l.power_db + 2.0),
                ("sans-serif", 11),
            )))?;
        }
    }
    root.present()?;
    Ok(())
}

/// The plot's bytes: SVG for a name ending in `.svg`, else PNG.
pub fn render(plan: &Plan, res: &Emulated, name: &Path) -> Result<Vec<u8>> {
    crate::plot::render(
        name,
        (1100, 760),
        |root| draw(root, plan, res),
        |root| draw(root, plan, res),
    )
}
