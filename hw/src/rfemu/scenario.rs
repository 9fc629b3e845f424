//! A scenario: the nodes of an RF emulation — transmitters, receivers, passive reflectors — how
//! they move, and the emulator's parameters. Read from TOML at the command line's edge; every
//! number is checked here (`validate`) before anything is planned.
//!
//! ```toml
//! name = "one reflector"
//! carrier_hz = 2.4e9
//! sample_rate_hz = 215e6
//! duration_s = 1e-3
//!
//! [emulator]          # all optional: see `Emulator`'s defaults
//! taps = 4
//!
//! [[nodes]]
//! name = "tx"
//! role = "tx"
//! position = [0.0, 0.0, 0.0]
//!
//! [[nodes]]
//! name = "plane"
//! role = "reflector"
//! position = [3000.0, 1000.0, 2000.0]
//! velocity = [-250.0, 0.0, 0.0]
//! rcs_m2 = 20.0
//! ```

use serde::{Deserialize, Serialize};

/// Speed of light (m/s).
pub const C: f64 = 299_792_458.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Emits a waveform given from outside (the host or a recording).
    Tx,
    /// Receives: its output is what the emulator delivers.
    Rx,
    /// Re-radiates what reaches it (an isotropic point scatterer of cross-section `rcs_m2`).
    Reflector,
}

impl Role {
    pub fn emits(self) -> bool {
        matches!(self, Role::Tx | Role::Reflector)
    }

    pub fn receives(self) -> bool {
        matches!(self, Role::Rx | Role::Reflector)
    }
}

/// The emulator's hardware parameters (the paper's values are unknown: spec rfemu.md §5, §7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Emulator {
    /// Longest delay a path may have, in samples (a power of two): the range limit.
    pub buffer_depth: u32,
    /// Fractional-delay filter taps (Lagrange): 1 (integer delay only), 2, 4 or 8.
    pub taps: u32,
    /// Samples between parameter updates (delays, phases and gains move linearly in between).
    pub epoch: u32,
    /// I and Q bits of every sample (signed).
    pub sample_bits: u32,
    /// Fractional-delay filter coefficient bits (signed, two integer bits).
    pub coef_bits: u32,
    /// The fractional delay's resolution: 2^fd_phase_bits filter phases.
    pub fd_phase_bits: u32,
    /// Path gain mantissa bits (signed, non-negative) before the shift exponent.
    pub gain_bits: u32,
    /// Fractional bits of the delay accumulator.
    pub frac_bits: u32,
}

impl Default for Emulator {
    fn default() -> Self {
        Emulator {
            buffer_depth: 32_768,
            taps: 4,
            epoch: 4096,
            sample_bits: 16,
            coef_bits: 18,
            fd_phase_bits: 8,
            gain_bits: 18,
            frac_bits: 32,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub name: String,
    pub role: Role,
    /// Position at t = 0 (m).
    pub position: [f64; 3],
    /// Constant velocity (m/s): nodes move on straight lines.
    #[serde(default)]
    pub velocity: [f64; 3],
    /// Antenna gain (dBi), the same in every direction.
    #[serde(default)]
    pub gain_dbi: f64,
    /// Radar cross-section (m²) of a reflector.
    #[serde(default)]
    pub rcs_m2: Option<f64>,
}

impl Node {
    /// Position at time `t` (s).
    pub fn at(&self, t: f64) -> [f64; 3] {
        [
            self.position[0] + self.velocity[0] * t,
            self.position[1] + self.velocity[1] * t,
            self.position[2] + self.velocity[2] * t,
        ]
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default = "default_name")]
    pub name: String,
    pub carrier_hz: f64,
    pub sample_rate_hz: f64,
    /// How long the scenario is planned for (s): buffers are sized for the longest delay in it.
    #[serde(default = "default_duration")]
    pub duration_s: f64,
    #[serde(default)]
    pub emulator: Emulator,
    pub nodes: Vec<Node>,
}

fn default_name() -> String {
    "scenario".into()
}

fn default_duration() -> f64 {
    1e-3
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    #[error("{0} must be a finite number above zero, got {1}")]
    Positive(&'static str, f64),
    #[error("node {node}: {what} is not a finite number")]
    NotFinite { node: String, what: &'static str },
    #[error("node {node} moves at {speed} m/s, not slower than light")]
    Speed { node: String, speed: f64 },
    #[error("the scenario has no {0} node")]
    Missing(&'static str),
    #[error("node name {0:?} is used twice")]
    Duplicate(String),
    #[error("node {0:?}: a name of letters, digits and _ is needed")]
    Name(String),
    #[error("reflector {0} needs rcs_m2, a cross-section above zero")]
    Rcs(String),
    #[error("emulator.{what} = {value}: {rule}")]
    Parameter {
        what: &'static str,
        value: u64,
        rule: &'static str,
    },
    #[error("nodes {0} and {1} are at the same place")]
    Coincident(String, String),
}

impl Scenario {
    pub fn validate(&self) -> Result<(), ScenarioError> {
        for (what, v) in [
            ("carrier_hz", self.carrier_hz),
            ("sample_rate_hz", self.sample_rate_hz),
            ("duration_s", self.duration_s),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(ScenarioError::Positive(what, v));
            }
        }
        let e = &self.emulator;
        let rule = |what, value: u32, ok: bool, rule| {
            if ok {
                Ok(())
            } else {
                Err(ScenarioError::Parameter {
                    what,
                    value: value as u64,
                    rule,
                })
            }
        };
        rule(
            "buffer_depth",
            e.buffer_depth,
            e.buffer_depth.is_power_of_two() && (64..=1 << 20).contains(&e.buffer_depth),
            "a power of two from 64 to 2^20",
        )?;
        rule(
            "taps",
            e.taps,
            [1, 2, 4, 8].contains(&e.taps),
            "1, 2, 4 or 8",
        )?;
        rule(
            "epoch",
            e.epoch,
            (1..=1 << 24).contains(&e.epoch),
            "1 to 2^24 samples",
        )?;
        rule(
            "sample_bits",
            e.sample_bits,
            (8..=16).contains(&e.sample_bits),
            "8 to 16",
        )?;
        rule(
            "coef_bits",
            e.coef_bits,
            (10..=18).contains(&e.coef_bits),
            "10 to 18",
        )?;
        rule(
            "fd_phase_bits",
            e.fd_phase_bits,
            (2..=10).contains(&e.fd_phase_bits),
            "2 to 10",
        )?;
        rule(
            "gain_bits",
            e.gain_bits,
            (10..=18).contains(&e.gain_bits),
            "10 to 18",
        )?;
        rule(
            "frac_bits",
            e.frac_bits,
            (16..=32).contains(&e.frac_bits),
            "16 to 32",
        )?;
        let mut seen = std::collections::HashSet::new();
        for n in &self.nodes {
            let ok = !n.name.is_empty()
                && n.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(ScenarioError::Name(n.name.clone()));
            }
            if !seen.insert(n.name.clone()) {
                return Err(ScenarioError::Duplicate(n.name.clone()));
            }
            for (what, v) in [("position", &n.position), ("velocity", &n.velocity)] {
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(ScenarioError::NotFinite {
                        node: n.name.clone(),
                        what,
                    });
                }
            }
            if !n.gain_dbi.is_finite() {
                return Err(ScenarioError::NotFinite {
                    node: n.name.clone(),
                    what: "gain_dbi",
                });
            }
            let speed = n.velocity.iter().map(|v| v * v).sum::<f64>().sqrt();
            if speed >= C {
                return Err(ScenarioError::Speed {
                    node: n.name.clone(),
                    speed,
                });
            }
            if n.role == Role::Reflector && !n.rcs_m2.is_some_and(|s| s.is_finite() && s > 0.0) {
                return Err(ScenarioError::Rcs(n.name.clone()));
            }
        }
        for (role, what) in [(Role::Tx, "tx"), (Role::Rx, "rx")] {
            if !self.nodes.iter().any(|n| n.role == role) {
                return Err(ScenarioError::Missing(what));
            }
        }
        for (i, a) in self.nodes.iter().enumerate() {
            for b in &self.nodes[i + 1..] {
                if a.position == b.position && a.velocity == b.velocity {
                    return Err(ScenarioError::Coincident(a.name.clone(), b.name.clone()));
                }
            }
        }
        Ok(())
    }

    /// The wavelength (m).
    pub fn lambda(&self) -> f64 {
        C / self.carrier_hz
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Scenario {
        Scenario {
            name: "t".into(),
            carrier_hz: 1e9,
            sample_rate_hz: 100e6,
            duration_s: 1e-3,
            emulator: Emulator::default(),
            nodes: vec![
                Node {
                    name: "a".into(),
                    role: Role::Tx,
                    position: [0.0; 3],
                    velocity: [0.0; 3],
                    gain_dbi: 0.0,
                    rcs_m2: None,
                },
                Node {
                    name: "b".into(),
                    role: Role::Rx,
                    position: [3000.0, 0.0, 0.0],
                    velocity: [0.0; 3],
                    gain_dbi: 0.0,
                    rcs_m2: None,
                },
            ],
        }
    }

    #[test]
    fn bad_scenarios_say_what_is_wrong() {
        assert_eq!(two().validate(), Ok(()));
        let mut s = two();
        s.sample_rate_hz = 0.0;
        assert_eq!(
            s.validate().unwrap_err().to_string(),
            "sample_rate_hz must be a finite number above zero, got 0"
        );
        let mut s = two();
        s.nodes[1].position[1] = f64::NAN;
        assert_eq!(
            s.validate().unwrap_err().to_string(),
            "node b: position is not a finite number"
        );
        let mut s = two();
        s.nodes[1].role = Role::Tx;
        assert_eq!(
            s.validate().unwrap_err().to_string(),
            "the scenario has no rx node"
        );
        let mut s = two();
        s.emulator.taps = 3;
        assert_eq!(
            s.validate().unwrap_err().to_string(),
            "emulator.taps = 3: 1, 2, 4 or 8"
        );
        let mut s = two();
        s.nodes[1].role = Role::Reflector;
        s.nodes.push(Node {
            name: "c".into(),
            role: Role::Rx,
            position: [1.0; 3],
            velocity: [0.0; 3],
            gain_dbi: 0.0,
            rcs_m2: None,
        });
        assert_eq!(
            s.validate().unwrap_err().to_string(),
            "reflector b needs rcs_m2, a cross-section above zero"
        );
    }
}
