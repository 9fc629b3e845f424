//! The near-memory RF emulator (Mukherjee et al., arXiv 2406.08714, direct-path model of
//! arXiv 2406.08710; spec rfemu.md): every directed path between nodes is a delayed,
//! attenuated, phase-rotated copy of its source, and each receiving node sums its paths.
//! Reflectors re-radiate what reaches them, so multi-bounce paths arise from feedback — O(M²)
//! work per sample instead of a tapped-delay line's O(M³).
//!
//! * `scenario`: nodes, motion, parameters (TOML at the command line's edge).
//! * `plan`: geometry → per-path delay, delay rate, phase, phase rate and gain for every epoch;
//!   causality and buffer limits; the emulatable range.
//! * `tables`: the fractional-delay filter and CORDIC constants both sides use.
//! * `golden`: the f64 reference with reflector feedback, the bit-accurate fixed-point model of
//!   the hardware pipeline, and the tapped-delay-line baseline.
//! * `cordic`, `lane`, `emu`, `axi`: the generators (the complex gain, one path, the
//!   emulator, the emulator behind AXI).
//!
//! # The datapath, per path i → j and per sample n (the fixed-point model and the RTL agree)
//!
//! ```text
//!  τ (delay, samples, F fractional bits)  ──► D = ⌊τ⌋, q = top P bits of the fraction
//!  x_i history (node i's row memory)       ──► taps x_i[n − D + k0 − k] ─► Σ h_q[k]·x ─► v (Q2.16)
//!  φ (phase, turns × 2^32), m (gain mantissa) ──► CORDIC: g = K·m·e^{−jφ} (Q2.16)
//!  v × g ──► ≫ (e + …) rounded ──► Σ over the paths into j ──► saturate ─► x_j[n]
//! ```
//! τ and φ load from the path's parameters at each epoch boundary (every `epoch` samples) and
//! move by Δτ and Δφ each sample in between. Rounding is half up everywhere; the node sum
//! saturates to the sample width. A reflector's output is written into its outgoing paths'
//! buffers `LATENCY` samples after the inputs it was computed from, so a path's delay must be
//! at least `min_delay` samples (the causality limit).

pub mod axi;
pub mod cordic;
pub mod emu;
pub mod golden;
pub mod lane;
pub mod plan;
pub mod scenario;
pub mod tables;

use crate::blocks::fields::{FieldError, Fields};
use crate::rtl::Bits;
use scenario::{Role, Scenario};
use serde::{Deserialize, Serialize};

/// Bits of the interpolated sample v and of the complex gain g (both Q2.16).
pub const V_BITS: u32 = 18;
pub const G_BITS: u32 = 18;
/// Fractional bits of v and g.
pub const VG_FRAC: u32 = 16;
/// Guard bits below the CORDIC's working values.
pub const CORDIC_GUARD: u32 = 3;
/// Bits of the gain shift exponent e (0 … 31).
pub const EXP_BITS: u32 = 5;
/// Integer headroom bits of a path's contribution above the sample's.
pub const CONTRIB_HEADROOM: u32 = 4;

/// One directed path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathSpec {
    pub src: usize,
    pub dst: usize,
    /// Samples of the source's history this path keeps (a power of two).
    pub depth: u32,
}

/// The emulator's hardware: which nodes there are, its paths and their buffers, its widths.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RfConfig {
    pub name: String,
    pub roles: Vec<Role>,
    pub node_names: Vec<String>,
    pub paths: Vec<PathSpec>,
    pub taps: u32,
    pub epoch: u32,
    pub sample_bits: u32,
    pub coef_bits: u32,
    pub fd_phase_bits: u32,
    pub gain_bits: u32,
    pub frac_bits: u32,
}

/// Every directed path from a node that emits to another that receives.
pub fn paths_of(roles: &[Role]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    for (i, a) in roles.iter().enumerate() {
        for (j, b) in roles.iter().enumerate() {
            if i != j && a.emits() && b.receives() {
                v.push((i, j));
            }
        }
    }
    v
}

impl RfConfig {
    /// The hardware for a scenario with every path's buffer at `depths[p]` samples (see
    /// `plan::Plan::depths`).
    pub fn new(sc: &Scenario, depths: &[u32]) -> RfConfig {
        let roles: Vec<Role> = sc.nodes.iter().map(|n| n.role).collect();
        let e = &sc.emulator;
        RfConfig {
            name: sc.name.clone(),
            node_names: sc.nodes.iter().map(|n| n.name.clone()).collect(),
            paths: paths_of(&roles)
                .into_iter()
                .zip(depths)
                .map(|((src, dst), &depth)| PathSpec { src, dst, depth })
                .collect(),
            roles,
            taps: e.taps,
            epoch: e.epoch,
            sample_bits: e.sample_bits,
            coef_bits: e.coef_bits,
            fd_phase_bits: e.fd_phase_bits,
            gain_bits: e.gain_bits,
            frac_bits: e.frac_bits,
        }
    }

    /// Transmitters in input order, receivers (RX nodes) in output order.
    pub fn tx(&self) -> Vec<usize> {
        self.nodes_with(Role::Tx)
    }

    pub fn rx(&self) -> Vec<usize> {
        self.nodes_with(Role::Rx)
    }

    fn nodes_with(&self, r: Role) -> Vec<usize> {
        (0..self.roles.len())
            .filter(|&i| self.roles[i] == r)
            .collect()
    }

    /// Bits of a path delay's integer part (enough for the deepest buffer).
    pub fn delay_bits(&self) -> u32 {
        let d = self.paths.iter().map(|p| p.depth).max().unwrap_or(2);
        d.max(2).trailing_zeros()
    }

    /// CORDIC iterations: four fewer than the gain mantissa's bits, twelve at least (or all of
    /// a shorter mantissa's). The last iterations' angles (atan 2^−14 ≈ 6·10^−5 rad) are below
    /// what 16-bit samples resolve: on the 9-node scenario 14 stages give 70.0 dB against the
    /// f64 reference, 16 give 72.4 dB and 18 give 71.1 dB, and 14 save a quarter of the
    /// CORDIC's logic in each of the 50 lanes.
    pub fn cordic_stages(&self) -> u32 {
        (self.gain_bits - 4).max(self.gain_bits.min(12))
    }

    /// Cycles from a sample entering the emulator to the node outputs computed from it: a
    /// lane (`lane::latency`) and the node sums (`emu::sum_latency`).
    pub fn latency(&self) -> u32 {
        lane::latency(self) + emu::sum_latency(self)
    }

    /// The shortest delay a path may have, in samples (the causality limit): a reflector's
    /// output must be in its row memory, and the row fetched (up to four rows ahead of the
    /// window, see `lane.rs`), before a path reads it.
    pub fn min_delay(&self) -> u32 {
        self.latency() + 4 * self.row_samples() + tables::k0(self.taps) + 2
    }

    /// Samples a path's buffer must hold beyond its longest delay: the filter's taps, the
    /// row being written and the row being read.
    pub fn buffer_margin(&self) -> u32 {
        self.taps + 2 * self.row_samples() + 2
    }

    /// Paths reading node `i`'s history (in path order).
    pub fn readers(&self, i: usize) -> Vec<usize> {
        (0..self.paths.len())
            .filter(|&p| self.paths[p].src == i)
            .collect()
    }

    /// Samples in a row of a node's history memory: a power of two, at least the taps and
    /// four, and more than the node's readers, so that every reader gets a row in time.
    pub fn row_samples(&self) -> u32 {
        let readers = (0..self.roles.len())
            .map(|i| self.readers(i).len() as u32)
            .max()
            .unwrap_or(0);
        (readers + 1).next_power_of_two().max(self.taps).max(4)
    }

    /// Samples of history node `i` keeps: the deepest buffer its paths need.
    pub fn source_depth(&self, i: usize) -> u32 {
        self.readers(i)
            .iter()
            .map(|&p| self.paths[p].depth)
            .max()
            .unwrap_or(0)
    }

    /// Bits of a sample index as the hardware counts it (modulo 2^pos_bits): two more than a
    /// delay, so differences between positions are never ambiguous.
    pub fn pos_bits(&self) -> u32 {
        self.delay_bits() + 2
    }

    /// The layout of one path's parameters (one epoch), LSB first.
    pub fn param_fields(&self) -> Fields {
        Fields(vec![
            ("tau0", self.delay_bits() + self.frac_bits),
            ("dtau", 32),
            ("phi0", 32),
            ("dphi", 32),
            ("gain", self.gain_bits),
            ("exp", EXP_BITS),
        ])
    }

    /// One path's parameters as the word `param_fields` lays out (what the lanes' shadow
    /// registers take); a value wider than its field is an error.
    pub fn encode_params(&self, p: &PathParams) -> Result<Bits, FieldError> {
        self.param_fields().encode(&[
            ("tau0", p.tau0),
            ("dtau", p.dtau as u64),
            ("phi0", p.phi0 as u64),
            ("dphi", p.dphi as u64),
            ("gain", p.gain as u64),
            ("exp", p.exp as u64),
        ])
    }

    /// Width of one complex sample on a port: I in the low half, Q in the high half.
    pub fn iq_bits(&self) -> u32 {
        2 * self.sample_bits
    }
}

/// One path's parameters for one epoch, as the host loads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathParams {
    /// Delay at the epoch's first sample, in samples × 2^frac_bits.
    pub tau0: u64,
    /// Delay change per sample, × 2^frac_bits, two's complement in 32 bits.
    pub dtau: u32,
    /// Phase at the first sample, turns × 2^32.
    pub phi0: u32,
    /// Phase change per sample, turns × 2^32.
    pub dphi: u32,
    /// Gain mantissa (the CORDIC's input magnitude), `gain_bits` bits, non-negative.
    pub gain: u32,
    /// Right shift applied to the path's product.
    pub exp: u32,
}

/// A complex sample as the hardware holds it: I and Q, `sample_bits` each, two's complement.
pub type Iq = (i32, i32);
