//! The planner: scenario geometry → what the host loads into the emulator.
//!
//! Per directed path i → j (spec rfemu.md §4, free space): distance d(t) = ‖p_j(t) − p_i(t)‖,
//! delay τ = d/c, carrier phase φ = f_c·τ (turns), amplitude a = λ/(4πd)·√(G_i G_j), and when j
//! is a reflector its re-radiation s_j = √(4πσ_j)/λ folded into the path. Each epoch (`epoch`
//! samples) the path gets τ and φ at its first sample and their per-sample rates (a first-order
//! hold), and its gain at the epoch's middle.
//!
//! Levels: free-space losses span well over 100 dB, so every node's signal is carried
//! normalised. A transmitter's level is 1 (full scale); a receiving node's level L_j is the
//! largest sum of its incoming amplitudes over the scenario (a fixed point through the
//! reflectors' feedback), and path i → j carries a·L_i/L_j ≤ 1, so no node sum can overflow.
//! A receiver's output is its true signal divided by L_j (reported with the plan).
//!
//! Limits: a path shorter than the pipeline allows (`RfConfig::min_delay`) cannot be emulated —
//! causality; one longer than `buffer_depth` samples does not fit its buffer. Both are refused
//! naming the path, the distance and the range limit.

use super::scenario::{Role, Scenario, ScenarioError, C};
use super::{paths_of, tables, PathParams, RfConfig};
use std::f64::consts::PI;

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(
        "path {src} → {dst} comes within {dist:.1} m ({delay:.1} samples); the pipeline needs \
         {min} samples, so {min_range:.1} m is the shortest range it can emulate"
    )]
    Causality {
        src: String,
        dst: String,
        dist: f64,
        delay: f64,
        min: u32,
        min_range: f64,
    },
    #[error(
        "path {src} → {dst} reaches {dist:.1} m ({delay:.1} samples); buffers of {depth} samples \
         hold {max_range:.1} m at most (raise emulator.buffer_depth)"
    )]
    Buffer {
        src: String,
        dst: String,
        dist: f64,
        delay: f64,
        depth: u32,
        max_range: f64,
    },
    #[error(
        "the reflectors' loop gain is not below 1 (reflectors too close for their cross-sections)"
    )]
    Unstable,
}

/// What the plan knows of one path over the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct PathInfo {
    pub src: usize,
    pub dst: usize,
    pub min_dist: f64,
    pub max_dist: f64,
    /// Distance, amplitude (with the reflector's re-radiation) and Doppler shift at t = 0.
    pub dist0: f64,
    pub amp0: f64,
    pub doppler0: f64,
    /// Samples of history the path keeps.
    pub depth: u32,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub sc: Scenario,
    pub cfg: RfConfig,
    pub paths: Vec<PathInfo>,
    /// Each node's level (transmitters 1): a receiver's output is its signal divided by it.
    pub levels: Vec<f64>,
}

/// Distance (m) between nodes i and j at time t.
pub fn distance(sc: &Scenario, i: usize, j: usize, t: f64) -> f64 {
    let (a, b) = (sc.nodes[i].at(t), sc.nodes[j].at(t));
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Linear antenna gain of node n.
fn antenna(sc: &Scenario, n: usize) -> f64 {
    10f64.powf(sc.nodes[n].gain_dbi / 10.0)
}

/// What a reflector multiplies its incident field by: √(4πσ)/λ (1 for other nodes).
pub fn reradiation(sc: &Scenario, n: usize) -> f64 {
    match (sc.nodes[n].role, sc.nodes[n].rcs_m2) {
        (Role::Reflector, Some(s)) => (4.0 * PI * s).sqrt() / sc.lambda(),
        _ => 1.0,
    }
}

/// Free-space amplitude of path i → j at time t, with j's re-radiation folded in.
pub fn amplitude(sc: &Scenario, i: usize, j: usize, t: f64) -> f64 {
    let d = distance(sc, i, j, t);
    sc.lambda() / (4.0 * PI * d) * (antenna(sc, i) * antenna(sc, j)).sqrt() * reradiation(sc, j)
}

/// Delay of path i → j at time t, in samples.
pub fn delay_samples(sc: &Scenario, i: usize, j: usize, t: f64) -> f64 {
    distance(sc, i, j, t) / C * sc.sample_rate_hz
}

/// Closest and farthest distance of i and j over [0, T] (straight lines: the distance is
/// convex in time, farthest at an end, closest where the relative motion passes nearest).
fn extremes(sc: &Scenario, i: usize, j: usize, horizon: f64) -> (f64, f64) {
    let (a, b) = (&sc.nodes[i], &sc.nodes[j]);
    let r: Vec<f64> = (0..3).map(|k| b.position[k] - a.position[k]).collect();
    let v: Vec<f64> = (0..3).map(|k| b.velocity[k] - a.velocity[k]).collect();
    let vv: f64 = v.iter().map(|x| x * x).sum();
    let t_star = if vv > 0.0 {
        (-(r[0] * v[0] + r[1] * v[1] + r[2] * v[2]) / vv).clamp(0.0, horizon)
    } else {
        0.0
    };
    let d = |t| distance(sc, i, j, t);
    let lo = d(t_star).min(d(0.0)).min(d(horizon));
    let hi = d(0.0).max(d(horizon));
    (lo, hi)
}

impl Plan {
    /// Plans `sc` over `horizon_s` seconds (at least its `duration_s`).
    pub fn new(sc: &Scenario, horizon_s: f64) -> Result<Plan, PlanError> {
        sc.validate()?;
        let horizon = horizon_s.max(sc.duration_s);
        let roles: Vec<Role> = sc.nodes.iter().map(|n| n.role).collect();
        let pairs = paths_of(&roles);
        let e = &sc.emulator;
        let fs = sc.sample_rate_hz;
        // The hardware's latency does not depend on the buffer sizes: plan them with it.
        let probe = RfConfig::new(sc, &vec![e.buffer_depth; pairs.len()]);
        let min = probe.min_delay();
        let margin = probe.buffer_margin();
        let name = |n: usize| sc.nodes[n].name.clone();
        let mut paths = Vec::new();
        for &(i, j) in &pairs {
            let (lo, hi) = extremes(sc, i, j, horizon);
            let (dlo, dhi) = (lo / C * fs, hi / C * fs);
            if dlo < min as f64 + 1.0 {
                return Err(PlanError::Causality {
                    src: name(i),
                    dst: name(j),
                    dist: lo,
                    delay: dlo,
                    min: min + 1,
                    min_range: (min + 1) as f64 * C / fs,
                });
            }
            let need = dhi.ceil() as u64 + margin as u64;
            if need > e.buffer_depth as u64 {
                return Err(PlanError::Buffer {
                    src: name(i),
                    dst: name(j),
                    dist: hi,
                    delay: dhi,
                    depth: e.buffer_depth,
                    max_range: (e.buffer_depth - margin) as f64 * C / fs,
                });
            }
            // Closing speed: −d/dt of the distance.
            let dt = 1e-6;
            let rate = (distance(sc, i, j, dt) - distance(sc, i, j, 0.0)) / dt;
            paths.push(PathInfo {
                src: i,
                dst: j,
                min_dist: lo,
                max_dist: hi,
                dist0: distance(sc, i, j, 0.0),
                amp0: amplitude(sc, i, j, 0.0),
                doppler0: -rate / sc.lambda(),
                depth: (need as u32)
                    .next_power_of_two()
                    .max(64)
                    .max(4 * probe.row_samples()),
            });
        }
        let cfg = RfConfig::new(sc, &paths.iter().map(|p| p.depth).collect::<Vec<_>>());
        let levels = levels(sc, &paths)?;
        Ok(Plan {
            sc: sc.clone(),
            cfg,
            paths,
            levels,
        })
    }

    /// Shortest and longest range (m) one hop can emulate with these parameters.
    pub fn range(&self) -> (f64, f64) {
        range(
            &self.cfg,
            self.sc.emulator.buffer_depth,
            self.sc.sample_rate_hz,
        )
    }

    /// The normalised gain of path p at time t: its amplitude × L_src / L_dst.
    pub fn gain(&self, p: usize, t: f64) -> f64 {
        let pi = &self.paths[p];
        amplitude(&self.sc, pi.src, pi.dst, t) * self.levels[pi.src] / self.levels[pi.dst]
    }

    /// Every path's parameters for epoch `k` (samples k·epoch … (k+1)·epoch − 1).
    pub fn params(&self, k: u64) -> Vec<PathParams> {
        let sc = &self.sc;
        let cfg = &self.cfg;
        let fs = sc.sample_rate_hz;
        let e = cfg.epoch as f64;
        let (t0, t1) = (k as f64 * e / fs, (k as f64 + 1.0) * e / fs);
        let fscale = 2f64.powi(cfg.frac_bits as i32);
        let turn = 4_294_967_296.0;
        let k_gain = tables::cordic_gain(cfg.cordic_stages());
        let m_max = (1u64 << (cfg.gain_bits - 1)) - 1;
        (0..self.paths.len())
            .map(|p| {
                let pi = &self.paths[p];
                let (i, j) = (pi.src, pi.dst);
                let (d0, d1) = (delay_samples(sc, i, j, t0), delay_samples(sc, i, j, t1));
                let tau0 = (d0 * fscale).round() as u64;
                let dtau = (((d1 - d0) / e) * fscale).round() as i64 as u32;
                let ph = |t: f64| distance(sc, i, j, t) / C * sc.carrier_hz;
                let (p0, p1) = (ph(t0), ph(t1));
                let phi0 = ((p0 - p0.floor()) * turn).round() as u64 as u32;
                let dphi = (((p1 - p0) / e) * turn).round() as i64 as u32;
                let h = self.gain(p, (t0 + t1) / 2.0);
                let (gain, exp) = gain_code(h, k_gain, cfg.gain_bits, m_max);
                PathParams {
                    tau0,
                    dtau,
                    phi0,
                    dphi,
                    gain,
                    exp,
                }
            })
            .collect()
    }
}

/// Shortest and longest range (m) for a configuration, a buffer depth and a sample rate.
pub fn range(cfg: &RfConfig, buffer_depth: u32, fs: f64) -> (f64, f64) {
    (
        (cfg.min_delay() + 1) as f64 * C / fs,
        (buffer_depth.saturating_sub(cfg.buffer_margin())) as f64 * C / fs,
    )
}

/// Mantissa and shift for a normalised gain h: h ≈ K·(gain / 2^(gain_bits−1))·2^−exp with the
/// largest exponent (most significant bits) that keeps the mantissa in range.
pub fn gain_code(h: f64, k_gain: f64, gain_bits: u32, m_max: u64) -> (u32, u32) {
    let unit = 2f64.powi(gain_bits as i32 - 1);
    let mut best = (0u32, 0u32);
    for exp in 0..=31u32 {
        let m = (h * 2f64.powi(exp as i32) / k_gain * unit).round();
        if m > m_max as f64 {
            break;
        }
        best = (m as u32, exp);
    }
    best
}

/// The nodes' levels: transmitters 1; a receiving node the most its incoming paths can bring
/// (largest amplitude over the scenario × the source's level), through the reflectors'
/// feedback to a fixed point.
fn levels(sc: &Scenario, paths: &[PathInfo]) -> Result<Vec<f64>, PlanError> {
    let n = sc.nodes.len();
    let peak: Vec<f64> = paths
        .iter()
        .map(|p| {
            sc.lambda() / (4.0 * PI * p.min_dist)
                * (antenna(sc, p.src) * antenna(sc, p.dst)).sqrt()
                * reradiation(sc, p.dst)
        })
        .collect();
    let mut l: Vec<f64> = (0..n)
        .map(|k| {
            if sc.nodes[k].role == Role::Tx {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    for _ in 0..1000 {
        let mut next: Vec<f64> = (0..n)
            .map(|k| {
                if sc.nodes[k].role == Role::Tx {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        for (p, a) in paths.iter().zip(&peak) {
            next[p.dst] += a * l[p.src];
        }
        let change = next
            .iter()
            .zip(&l)
            .map(|(a, b)| ((a - b) / a.max(1e-300)).abs())
            .fold(0.0, f64::max);
        if next.iter().any(|x| !x.is_finite() || *x > 1e300) {
            return Err(PlanError::Unstable);
        }
        l = next;
        if change < 1e-12 {
            return Ok(l
                .into_iter()
                .map(|x| if x > 0.0 { x } else { 1.0 })
                .collect());
        }
    }
    Err(PlanError::Unstable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfemu::scenario::{Emulator, Node};

    fn node(name: &str, role: Role, x: f64, vx: f64) -> Node {
        Node {
            name: name.into(),
            role,
            position: [x, 0.0, 0.0],
            velocity: [vx, 0.0, 0.0],
            gain_dbi: 0.0,
            rcs_m2: (role == Role::Reflector).then_some(10.0),
        }
    }

    fn sc(nodes: Vec<Node>) -> Scenario {
        Scenario {
            name: "t".into(),
            carrier_hz: 1e9,
            sample_rate_hz: 100e6,
            duration_s: 1e-4,
            emulator: Emulator::default(),
            nodes,
        }
    }

    #[test]
    fn a_static_path_has_its_delay_and_no_rates() {
        let s = sc(vec![
            node("tx", Role::Tx, 0.0, 0.0),
            node("rx", Role::Rx, 3000.0, 0.0),
        ]);
        let p = Plan::new(&s, 0.0).unwrap();
        let params = p.params(0);
        let want = 3000.0 / C * 100e6;
        let got = params[0].tau0 as f64 / 2f64.powi(32);
        assert!((got - want).abs() < 1e-6, "{got} {want}");
        assert_eq!((params[0].dtau, params[0].dphi), (0, 0));
        assert_eq!(p.levels, vec![1.0, p.paths[0].amp0]);
        // Normalised gain 1: the largest mantissa that fits, shift 0.
        let h = tables::cordic_gain(18) * params[0].gain as f64
            / 2f64.powi(17)
            / 2f64.powi(params[0].exp as i32);
        assert!((h - 1.0).abs() < 1e-4, "{h}");
    }

    #[test]
    fn causality_and_buffer_limits_name_the_path_and_the_range() {
        let s = sc(vec![
            node("a", Role::Tx, 0.0, 0.0),
            node("b", Role::Rx, 50.0, 0.0),
        ]);
        let e = Plan::new(&s, 0.0).unwrap_err().to_string();
        assert!(e.starts_with("path a → b comes within 50.0 m"), "{e}");
        assert!(e.contains("shortest range it can emulate"), "{e}");
        let s = sc(vec![
            node("a", Role::Tx, 0.0, 0.0),
            node("b", Role::Rx, 1e6, 0.0),
        ]);
        let e = Plan::new(&s, 0.0).unwrap_err().to_string();
        assert!(e.starts_with("path a → b reaches 1000000.0 m"), "{e}");
        assert!(e.contains("raise emulator.buffer_depth"), "{e}");
    }

    #[test]
    fn doppler_follows_the_closing_speed() {
        // Receiver closing at 300 m/s: f_D = f_c · v / c.
        let s = sc(vec![
            node("tx", Role::Tx, 0.0, 0.0),
            node("rx", Role::Rx, 5000.0, -300.0),
        ]);
        let p = Plan::new(&s, 0.0).unwrap();
        let want = 1e9 * 300.0 / C;
        assert!(
            (p.paths[0].doppler0 - want).abs() < 1e-3,
            "{}",
            p.paths[0].doppler0
        );
    }
}
