//! The emulator's datapath bit for bit, without cycles: what every node puts out at every
//! sample, in the hardware's integers (see the module documentation of `rfemu` for the
//! pipeline). Written from the arithmetic's definition, not from the generator.
//!
//! Per path and sample: the delay τ (F fractional bits) gives the integer delay D and filter
//! phase q; the window x_src[n − D + k0 − k] (k < taps) times the phase's coefficients, summed
//! and rounded to v (Q2.16); a CORDIC turns the gain mantissa and −φ into g = K·m·e^{−jφ}
//! (Q2.16); v·g shifted right by 32 − (S − 1) + e and rounded is the path's contribution in
//! sample units; a node sums its contributions and saturates to S bits. Rounding is half up
//! (add half, shift arithmetically). Samples before the first are zero.

use crate::rfemu::scenario::Role;
use crate::rfemu::{tables, Iq, PathParams, RfConfig, CONTRIB_HEADROOM, CORDIC_GUARD, VG_FRAC};
use crate::rfemu::{G_BITS, V_BITS};

/// `x / 2^s` rounded half up (s > 0), or `x · 2^−s`.
pub fn round_shift(x: i64, s: i32) -> i64 {
    if s > 0 {
        (x + (1i64 << (s - 1))) >> s
    } else {
        x << (-s)
    }
}

/// `x` clamped to a `bits`-bit two's-complement number.
pub fn saturate(x: i64, bits: u32) -> i64 {
    let hi = (1i64 << (bits - 1)) - 1;
    x.clamp(-hi - 1, hi)
}

/// The CORDIC: `g = K·m·e^{−jφ}` in Q2.16, for a `gain_bits`-bit mantissa m and a phase in
/// turns × 2^32, after `stages` iterations. The rotation by −φ is split into a multiple of
/// 90° (exact) and a rest in [−45°, 45°) that the iterations work off.
pub fn cordic(m: u32, phi: u32, gain_bits: u32, stages: u32, atans: &[u32]) -> (i64, i64) {
    let theta = phi.wrapping_neg();
    let quadrant = (theta.wrapping_add(1 << 29) >> 30) & 3;
    let mut z = theta.wrapping_sub(quadrant << 30) as i32 as i64;
    let mm = (m as i64) << CORDIC_GUARD;
    let (mut x, mut y) = match quadrant {
        0 => (mm, 0),
        1 => (0, mm),
        2 => (-mm, 0),
        _ => (0, -mm),
    };
    for (i, &a) in atans.iter().enumerate().take(stages as usize) {
        let (dx, dy) = (y >> i, x >> i);
        if z >= 0 {
            x -= dx;
            y += dy;
            z -= a as i64;
        } else {
            x += dx;
            y -= dy;
            z += a as i64;
        }
    }
    let s = (gain_bits - 1 + CORDIC_GUARD) as i32 - VG_FRAC as i32;
    (
        saturate(round_shift(x, s), G_BITS),
        saturate(round_shift(y, s), G_BITS),
    )
}

#[derive(Clone, Copy, Debug, Default)]
struct PathState {
    tau: u64,
    phi: u32,
    p: PathParams,
}

/// The emulator in integers.
pub struct Fixed {
    cfg: RfConfig,
    fd: Vec<Vec<i64>>,
    atans: Vec<u32>,
    /// Every sample each node has emitted (transmitters: their input; reflectors: their sum).
    history: Vec<Vec<Iq>>,
    state: Vec<PathState>,
    n: u64,
    /// Delay-filter-gain steps done so far (one per path and sample).
    pub steps: u64,
}

impl Fixed {
    pub fn new(cfg: &RfConfig) -> Fixed {
        Fixed {
            fd: tables::fd_table(cfg.taps, cfg.fd_phase_bits, cfg.coef_bits),
            atans: tables::cordic_atans(cfg.cordic_stages()),
            history: vec![Vec::new(); cfg.roles.len()],
            state: vec![PathState::default(); cfg.paths.len()],
            n: 0,
            steps: 0,
            cfg: cfg.clone(),
        }
    }

    /// The sample index the next `step` computes.
    pub fn sample(&self) -> u64 {
        self.n
    }

    fn at(&self, node: usize, s: i64) -> Iq {
        if s < 0 {
            (0, 0)
        } else {
            self.history[node]
                .get(s as usize)
                .copied()
                .unwrap_or((0, 0))
        }
    }

    /// Path p's contribution to sample n, in sample units (S + headroom bits).
    fn contribution(&self, p: usize) -> (i64, i64) {
        let cfg = &self.cfg;
        let st = &self.state[p];
        let fb = cfg.frac_bits;
        let (d, q) = if cfg.taps == 1 {
            ((st.tau + (1u64 << (fb - 1))) >> fb, 0)
        } else {
            let mu = st.tau & ((1u64 << fb) - 1);
            (st.tau >> fb, (mu >> (fb - cfg.fd_phase_bits)) as usize)
        };
        let k0 = tables::k0(cfg.taps) as i64;
        let src = cfg.paths[p].src;
        let (mut ar, mut ai) = (0i64, 0i64);
        for (k, &h) in self.fd[q].iter().enumerate() {
            let (xr, xi) = self.at(src, self.n as i64 - d as i64 + k0 - k as i64);
            ar += h * xr as i64;
            ai += h * xi as i64;
        }
        let vs = (cfg.sample_bits + cfg.coef_bits - 3) as i32 - VG_FRAC as i32;
        let (vr, vi) = (
            saturate(round_shift(ar, vs), V_BITS),
            saturate(round_shift(ai, vs), V_BITS),
        );
        let (gr, gi) = cordic(
            st.p.gain,
            st.phi,
            cfg.gain_bits,
            cfg.cordic_stages(),
            &self.atans,
        );
        let (rr, ri) = (vr * gr - vi * gi, vr * gi + vi * gr);
        let cs = (2 * VG_FRAC) as i32 - (cfg.sample_bits as i32 - 1) + st.p.exp as i32;
        let cw = cfg.sample_bits + CONTRIB_HEADROOM;
        (
            saturate(round_shift(rr, cs), cw),
            saturate(round_shift(ri, cs), cw),
        )
    }

    /// One sample: the transmitters' inputs (in `RfConfig::tx` order); `params(k)` gives the
    /// paths' parameters of epoch k when a new epoch starts. Returns the receivers' outputs
    /// (in `RfConfig::rx` order).
    pub fn step(&mut self, tx: &[Iq], params: &mut dyn FnMut(u64) -> Vec<PathParams>) -> Vec<Iq> {
        let cfg = self.cfg.clone();
        if self.n.is_multiple_of(cfg.epoch as u64) {
            let ps = params(self.n / cfg.epoch as u64);
            for (st, p) in self.state.iter_mut().zip(ps) {
                *st = PathState {
                    tau: p.tau0,
                    phi: p.phi0,
                    p,
                };
            }
        }
        let nodes = cfg.roles.len();
        let mut sums = vec![(0i64, 0i64); nodes];
        for p in 0..cfg.paths.len() {
            let (cr, ci) = self.contribution(p);
            let dst = cfg.paths[p].dst;
            sums[dst].0 += cr;
            sums[dst].1 += ci;
        }
        self.steps += cfg.paths.len() as u64;
        let out: Vec<Iq> = sums
            .iter()
            .map(|&(r, i)| {
                (
                    saturate(r, cfg.sample_bits) as i32,
                    saturate(i, cfg.sample_bits) as i32,
                )
            })
            .collect();
        let mut inputs = tx.iter();
        for (k, role) in cfg.roles.iter().enumerate() {
            match role {
                Role::Tx => {
                    let x = inputs.next().copied().unwrap_or((0, 0));
                    self.history[k].push(x);
                }
                Role::Reflector => self.history[k].push(out[k]),
                Role::Rx => {}
            }
        }
        let mask = (1u64 << (cfg.delay_bits() + cfg.frac_bits)) - 1;
        for st in &mut self.state {
            st.tau = st.tau.wrapping_add(st.p.dtau as i32 as i64 as u64) & mask;
            st.phi = st.phi.wrapping_add(st.p.dphi);
        }
        self.n += 1;
        cfg.rx().iter().map(|&r| out[r]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cordic_turns_the_gain_by_minus_phi() {
        let atans = tables::cordic_atans(18);
        let k = tables::cordic_gain(18);
        for &turns in &[0.0, 0.1, 0.25, 0.3, 0.5, 0.77, 0.999] {
            let phi = (turns * 4_294_967_296.0) as u64 as u32;
            let m = 40_000u32; // of 2^17
            let (gr, gi) = cordic(m, phi, 18, 18, &atans);
            let want = num_complex::Complex64::from_polar(
                k * m as f64 / 131_072.0,
                -std::f64::consts::TAU * turns,
            );
            let got = num_complex::Complex64::new(gr as f64, gi as f64) / 65_536.0;
            assert!((got - want).norm() < 4e-5, "{turns}: {got} vs {want}");
        }
    }

    #[test]
    fn rounding_is_half_up_and_saturation_clamps() {
        assert_eq!(round_shift(5, 1), 3);
        assert_eq!(round_shift(-5, 1), -2);
        assert_eq!(round_shift(3, -2), 12);
        assert_eq!(saturate(40_000, 16), 32_767);
        assert_eq!(saturate(-40_000, 16), -32_768);
    }
}
