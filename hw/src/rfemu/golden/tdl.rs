//! The tapped-delay-line baseline: what emulators before the direct-path model do. Every
//! transmitter → receiver channel is a filter with one tap per propagation path, and paths
//! through reflectors are enumerated — transmitter, up to `bounces` reflectors (never the same
//! one twice in a row), receiver. On the same analytic signals it must equal the reference
//! model with its feedback followed to the same number of reflections.
//!
//! Operation counts (`ops`): a direct-path emulator does one delay-filter-gain step per
//! directed path and sample, whatever the number of reflections; a tapped-delay line one per
//! enumerated path — O(M²) against O(M³) for M objects that all transmit, receive and reflect
//! with one reflection (spec rfemu.md §3).

use super::signal::Waveform;
use crate::rfemu::plan::{distance, reradiation};
use crate::rfemu::scenario::{Role, Scenario, C};
use num_complex::Complex64;
use std::f64::consts::{PI, TAU};

/// One enumerated path: the nodes from transmitter to receiver.
pub type Route = Vec<usize>;

/// Every route from a transmitter to receiver `rx` with at most `bounces` reflections.
pub fn routes(sc: &Scenario, rx: usize, bounces: u32) -> Vec<Route> {
    let refl: Vec<usize> = (0..sc.nodes.len())
        .filter(|&k| sc.nodes[k].role == Role::Reflector)
        .collect();
    let mut out = Vec::new();
    for tx in (0..sc.nodes.len()).filter(|&k| sc.nodes[k].role == Role::Tx) {
        let mut stack: Vec<Route> = vec![vec![tx]];
        while let Some(r) = stack.pop() {
            let last = *r.last().unwrap_or(&tx);
            if last != rx {
                let mut done = r.clone();
                done.push(rx);
                out.push(done);
            }
            if (r.len() as u32) <= bounces {
                for &k in &refl {
                    if k != last && k != rx {
                        let mut next = r.clone();
                        next.push(k);
                        stack.push(next);
                    }
                }
            }
        }
    }
    out
}

/// The tapped-delay-line model of one receiver.
pub struct Tdl<'a> {
    sc: &'a Scenario,
    waves: Vec<Option<Waveform>>,
    routes: Vec<Route>,
}

impl<'a> Tdl<'a> {
    pub fn new(sc: &'a Scenario, waves: &[Waveform], rx: usize, bounces: u32) -> Tdl<'a> {
        let mut it = waves.iter();
        let waves = sc
            .nodes
            .iter()
            .map(|n| {
                if n.role == Role::Tx {
                    it.next().copied()
                } else {
                    None
                }
            })
            .collect();
        Tdl {
            sc,
            waves,
            routes: routes(sc, rx, bounces),
        }
    }

    /// Taps: one per enumerated path.
    pub fn taps(&self) -> usize {
        self.routes.len()
    }

    /// The receiver's output at time t: every path, hop by hop back from the receiver, each
    /// hop's geometry taken when the signal arrives there.
    pub fn rx(&self, t: f64) -> Complex64 {
        let sc = self.sc;
        let gain = |n: usize| 10f64.powf(sc.nodes[n].gain_dbi / 10.0);
        let mut y = Complex64::new(0.0, 0.0);
        for r in &self.routes {
            let mut when = t;
            let mut g = Complex64::new(1.0, 0.0);
            for w in r.windows(2).rev() {
                let (i, j) = (w[0], w[1]);
                if when < 0.0 {
                    break;
                }
                let d = distance(sc, i, j, when);
                let a = sc.lambda() / (4.0 * PI * d) * (gain(i) * gain(j)).sqrt();
                let tau = d / C;
                g *= Complex64::from_polar(a, -TAU * sc.carrier_hz * tau);
                if sc.nodes[i].role == Role::Reflector {
                    g *= reradiation(sc, i);
                }
                when -= tau;
            }
            if let Some(wave) = &self.waves[r[0]] {
                y += g * wave.at(when);
            }
        }
        y
    }
}

/// Real multiplications and additions one delay-filter-gain step costs: a `taps`-tap
/// fractional-delay filter on a complex sample (2·taps multiplies, 2·(taps − 1) adds), a
/// complex gain (4 multiplies, 2 adds) and the accumulation (2 adds).
pub fn step_ops(taps: u32) -> u64 {
    let t = taps as u64;
    2 * t + 2 * (t - 1) + 6 + 2
}

/// Operations per output sample for M objects that all transmit, receive and reflect:
/// (direct-path model, tapped-delay line with one reflection). The direct-path model runs one
/// step per directed pair; the tapped-delay line one per pair and path (direct, or via each of
/// the M − 2 other objects).
pub fn ops(m: u64, taps: u32) -> (u64, u64) {
    let pairs = m * (m - 1);
    let s = step_ops(taps);
    (pairs * s, pairs * (1 + (m - 2)) * s)
}
