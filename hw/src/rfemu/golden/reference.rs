//! The direct-path model in f64 and continuous time (spec rfemu.md §4), on analytic
//! transmitter waveforms, so nothing is sampled or interpolated:
//!
//! ```text
//!  field_j(t)  = Σ_i a_ij(t) · e^{−j2π f_c τ_ij(t)} · source_i(t − τ_ij(t))    (i emits, i ≠ j)
//!  source_i(t) = x_i(t)                      for a transmitter (0 before t = 0)
//!              = s_i · field_i(t)            for a reflector, s_i = √(4πσ_i)/λ
//! ```
//! with τ_ij(t) = ‖p_j(t) − p_i(t)‖/c and a_ij = λ/(4π d)·√(G_i G_j). A receiver's output is
//! its field. Reflectors feed each other, so the recursion is followed to `bounces`
//! reflections (each reflection costs some 60 dB in the scenarios plume ships; the default
//! depth leaves far less than the fixed-point model's noise).

use super::signal::Waveform;
use crate::rfemu::plan::{distance, reradiation};
use crate::rfemu::scenario::{Role, Scenario, C};
use num_complex::Complex64;
use std::cell::Cell;
use std::f64::consts::{PI, TAU};

pub struct Reference<'a> {
    sc: &'a Scenario,
    /// The waveform of each transmitter node (`None` for other nodes).
    waves: Vec<Option<Waveform>>,
    bounces: u32,
    /// Path evaluations done so far (an operation count for `tdl::ops`).
    pub evaluations: Cell<u64>,
}

impl<'a> Reference<'a> {
    /// `waves[k]` is the k-th transmitter's waveform (transmitters in scenario order).
    pub fn new(sc: &'a Scenario, waves: &[Waveform], bounces: u32) -> Reference<'a> {
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
        Reference {
            sc,
            waves,
            bounces,
            evaluations: Cell::new(0),
        }
    }

    /// The complex gain and the delay (s) of the hop i → j at receive time t (without j's
    /// re-radiation).
    pub fn hop(&self, i: usize, j: usize, t: f64) -> (Complex64, f64) {
        let sc = self.sc;
        let d = distance(sc, i, j, t);
        let g = |n: usize| 10f64.powf(sc.nodes[n].gain_dbi / 10.0);
        let a = sc.lambda() / (4.0 * PI * d) * (g(i) * g(j)).sqrt();
        let tau = d / C;
        (Complex64::from_polar(a, -TAU * sc.carrier_hz * tau), tau)
    }

    /// What reaches node j at time t, following at most `budget` reflections.
    pub fn field(&self, j: usize, t: f64, budget: u32) -> Complex64 {
        let mut sum = Complex64::new(0.0, 0.0);
        if t < 0.0 {
            return sum;
        }
        for (i, n) in self.sc.nodes.iter().enumerate() {
            if i == j || !n.role.emits() {
                continue;
            }
            let (g, tau) = self.hop(i, j, t);
            self.evaluations.set(self.evaluations.get() + 1);
            sum += g * self.source(i, t - tau, budget);
        }
        sum
    }

    /// What node i emits at time t.
    pub fn source(&self, i: usize, t: f64, budget: u32) -> Complex64 {
        match (self.sc.nodes[i].role, &self.waves[i]) {
            (Role::Tx, Some(w)) => w.at(t),
            (Role::Reflector, _) if budget > 0 => {
                reradiation(self.sc, i) * self.field(i, t, budget - 1)
            }
            _ => Complex64::new(0.0, 0.0),
        }
    }

    /// Receiver j's output at time t.
    pub fn rx(&self, j: usize, t: f64) -> Complex64 {
        self.field(j, t, self.bounces)
    }
}
