//! Transmitter waveforms known in closed form, so the reference model evaluates them at any
//! instant: a tone, a linear chirp. Zero before t = 0 (the scenario starts silent).

use num_complex::Complex64;
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Waveform {
    /// `amp · e^{j2π f t}`.
    Tone { freq_hz: f64, amp: f64 },
    /// `amp · e^{j2π (f0 t + ½ k t²)}`, sweeping from f0 at k Hz/s, repeating every `period_s`.
    Chirp {
        f0_hz: f64,
        rate_hz_per_s: f64,
        period_s: f64,
        amp: f64,
    },
}

impl Waveform {
    pub fn at(&self, t: f64) -> Complex64 {
        if t < 0.0 {
            return Complex64::new(0.0, 0.0);
        }
        match *self {
            Waveform::Tone { freq_hz, amp } => Complex64::from_polar(amp, TAU * freq_hz * t),
            Waveform::Chirp {
                f0_hz,
                rate_hz_per_s,
                period_s,
                amp,
            } => {
                let u = t % period_s;
                Complex64::from_polar(amp, TAU * (f0_hz * u + 0.5 * rate_hz_per_s * u * u))
            }
        }
    }
}

/// A waveform sampled at `fs`, quantised to `bits`-bit I and Q (round to nearest, saturated).
pub fn quantise(w: &Waveform, fs: f64, n: usize, bits: u32) -> Vec<(i32, i32)> {
    let full = (1i64 << (bits - 1)) as f64;
    let max = (1i64 << (bits - 1)) - 1;
    let q = |v: f64| ((v * full).round() as i64).clamp(-max - 1, max) as i32;
    (0..n)
        .map(|k| {
            let z = w.at(k as f64 / fs);
            (q(z.re), q(z.im))
        })
        .collect()
}
