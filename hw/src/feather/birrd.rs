//! BIRRD: FEATHER's multistage reduce-and-reorder network (FEATHER ISCA'24 §3; spec feather.md §3).
//!
//! ```text
//!  i_data[N·W] ─► stage 0 ─► wiring ─► stage 1 ─► … ─► stage S-1 ─► o_data[N·W]
//!  i_cmd[N/2·2S] (row j = switch j of every stage; stage 0 in the row's MSBs)
//! ```
//! Port p of a vector is bits `[p·W +: W]`. Each stage is N/2 EGG switches (`egg.rs`); switch j
//! reads stage positions 2j (even) and 2j+1 (odd). Every switch output is registered:
//! latency = S cycles, throughput one N-wide vector per cycle, and the configuration applied to
//! a vector is the one given with it (commands travel with the data).
//!
//! Topologies (a parameter, because the public artefacts disagree — spec §3.2):
//! * `bitrev`: the June-2024 public RTL: S = 2·log2 N stages (3 at N = 4), stage s → s+1 wiring
//!   reverses the low k = min(2+s, L, 2L−s) bits of the position.
//! * `benes`: S = 2·log2 N − 1 stages; stage s exchanges address bit b_s = 0,1,…,L−1,…,1,0
//!   (a Beneš network, rearrangeable: every permutation routes).

use super::egg::egg;
use crate::rtl::{Bits, DrcErrors, Module, ModuleBuilder, Sig};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::rc::Rc;
use std::str::FromStr;

/// Port-count limits (the issue's range; FEATHER's synthesised sizes use AW = 4 … 128).
pub const MIN_PORTS: u32 = 4;
pub const MAX_PORTS: u32 = 256;
/// Data width limit: the golden model computes in 64-bit words.
pub const MAX_WIDTH: u32 = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Topology {
    #[default]
    Bitrev,
    Benes,
}

impl FromStr for Topology {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bitrev" => Ok(Topology::Bitrev),
            "benes" => Ok(Topology::Benes),
            _ => Err(format!("unknown topology '{s}' (expected bitrev or benes)")),
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Topology::Bitrev => "bitrev",
            Topology::Benes => "benes",
        })
    }
}

/// What a switch does, by effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// even ← even, odd ← odd
    Pass,
    /// even ← even + odd, odd ← odd
    AddEven,
    /// even ← even, odd ← even + odd
    AddOdd,
    /// even ← odd, odd ← even
    Swap,
}

pub const MODES: [Mode; 4] = [Mode::Pass, Mode::AddEven, Mode::AddOdd, Mode::Swap];

/// How modes are written as numbers or words in configuration files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// The public RTL's 2-bit codes: 0 pass, 1 add_even, 2 add_odd, 3 swap.
    Rtl,
    /// The Allo re-implementation: 0 pass, 1 add_odd, 2 add_even, 3 swap.
    Allo,
    /// Mode names: "pass", "add_even", "add_odd", "swap".
    Names,
}

impl FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rtl" => Ok(Encoding::Rtl),
            "allo" => Ok(Encoding::Allo),
            "names" => Ok(Encoding::Names),
            _ => Err(format!(
                "unknown encoding '{s}' (expected rtl, allo or names)"
            )),
        }
    }
}

impl Mode {
    /// The 2-bit code in the hardware's command word (public RTL encoding).
    pub fn rtl_code(self) -> u8 {
        match self {
            Mode::Pass => 0,
            Mode::AddEven => 1,
            Mode::AddOdd => 2,
            Mode::Swap => 3,
        }
    }

    pub fn from_rtl_code(c: u64) -> Option<Mode> {
        MODES.iter().copied().find(|m| m.rtl_code() as u64 == c)
    }

    pub fn allo_code(self) -> u8 {
        match self {
            Mode::Pass => 0,
            Mode::AddOdd => 1,
            Mode::AddEven => 2,
            Mode::Swap => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Pass => "pass",
            Mode::AddEven => "add_even",
            Mode::AddOdd => "add_odd",
            Mode::Swap => "swap",
        }
    }

    /// Decodes one configuration entry (a number, or a name with `Encoding::Names`).
    pub fn decode(enc: Encoding, v: &serde_json::Value) -> Result<Mode, String> {
        match (enc, v) {
            (Encoding::Names, serde_json::Value::String(s)) => {
                MODES.iter().copied().find(|m| m.name() == s).ok_or_else(|| format!("unknown mode '{s}' (expected pass, add_even, add_odd or swap)"))
            }
            (Encoding::Rtl | Encoding::Allo, serde_json::Value::Number(n)) => {
                let code = n.as_u64().filter(|c| *c < 4).ok_or_else(|| format!("unknown mode code {n} (expected 0, 1, 2 or 3)"))?;
                Ok(match enc {
                    Encoding::Rtl => Mode::from_rtl_code(code).unwrap(),
                    _ => MODES.iter().copied().find(|m| m.allo_code() as u64 == code).unwrap(),
                })
            }
            (Encoding::Names, other) => Err(format!("mode {other} is not a name (encoding names expects \"pass\", \"add_even\", \"add_odd\" or \"swap\")")),
            (_, other) => Err(format!("mode {other} is not a code 0-3")),
        }
    }

    pub fn encode(self, enc: Encoding) -> serde_json::Value {
        match enc {
            Encoding::Rtl => self.rtl_code().into(),
            Encoding::Allo => self.allo_code().into(),
            Encoding::Names => self.name().into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BirrdError {
    #[error("ports must be a power of two from {MIN_PORTS} to {MAX_PORTS}, got {0}")]
    Ports(u32),
    #[error("width must be from 1 to {MAX_WIDTH} bits, got {0}")]
    Width(u32),
    #[error("configuration has {got} stages, the {ports}-port {topology} network has {want}")]
    Stages {
        got: usize,
        want: usize,
        ports: u32,
        topology: Topology,
    },
    #[error("configuration stage {stage} has {got} switches, the network has {want} per stage")]
    Switches {
        stage: usize,
        got: usize,
        want: usize,
    },
    #[error("expected {want} inputs, got {got}")]
    Inputs { got: usize, want: usize },
    #[error("input {index} = {value} does not fit in {width} bits")]
    InputTooWide {
        index: usize,
        value: u64,
        width: u32,
    },
    #[error("internal: {0}")]
    Drc(#[from] DrcErrors),
}

/// Parameters of a BIRRD network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BirrdConfig {
    pub ports: u32,
    pub width: u32,
    pub topology: Topology,
}

impl Default for BirrdConfig {
    fn default() -> Self {
        BirrdConfig {
            ports: 16,
            width: 32,
            topology: Topology::Bitrev,
        }
    }
}

/// A configuration: `modes[stage][switch]`.
pub type Config = Vec<Vec<Mode>>;

impl BirrdConfig {
    pub fn validate(&self) -> Result<(), BirrdError> {
        if !self.ports.is_power_of_two() || !(MIN_PORTS..=MAX_PORTS).contains(&self.ports) {
            return Err(BirrdError::Ports(self.ports));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(BirrdError::Width(self.width));
        }
        Ok(())
    }

    pub fn log2(&self) -> u32 {
        self.ports.trailing_zeros()
    }

    /// Number of stages = latency in cycles.
    pub fn stages(&self) -> u32 {
        stages(self.topology, self.ports)
    }

    pub fn switches(&self) -> u32 {
        self.ports / 2
    }

    /// Width of the command word: 2 bits per switch.
    pub fn cmd_width(&self) -> u32 {
        self.switches() * 2 * self.stages()
    }

    pub fn module_name(&self) -> String {
        format!("birrd_n{}_w{}_{}", self.ports, self.width, self.topology)
    }

    /// Checks a configuration's shape.
    pub fn check_config(&self, config: &Config) -> Result<(), BirrdError> {
        let want = self.stages() as usize;
        if config.len() != want {
            return Err(BirrdError::Stages {
                got: config.len(),
                want,
                ports: self.ports,
                topology: self.topology,
            });
        }
        for (stage, row) in config.iter().enumerate() {
            if row.len() != self.switches() as usize {
                return Err(BirrdError::Switches {
                    stage,
                    got: row.len(),
                    want: self.switches() as usize,
                });
            }
        }
        Ok(())
    }

    /// Checks an input vector's length and value range.
    pub fn check_inputs(&self, inputs: &[u64]) -> Result<(), BirrdError> {
        if inputs.len() != self.ports as usize {
            return Err(BirrdError::Inputs {
                got: inputs.len(),
                want: self.ports as usize,
            });
        }
        if let Some((index, &value)) = inputs
            .iter()
            .enumerate()
            .find(|(_, v)| self.width < 64 && **v >> self.width != 0)
        {
            return Err(BirrdError::InputTooWide {
                index,
                value,
                width: self.width,
            });
        }
        Ok(())
    }

    /// The `i_cmd` word for a configuration: row j (switch j of every stage) at
    /// `[j·2S +: 2S]`, stage 0 in the row's most significant bits (public RTL layout).
    pub fn command_word(&self, config: &Config) -> Bits {
        let s_count = self.stages();
        let mut word = Bits::zero(self.cmd_width());
        for (s, row) in config.iter().enumerate() {
            for (j, mode) in row.iter().enumerate() {
                let lo = j as u32 * 2 * s_count + 2 * (s_count - 1 - s as u32);
                word.set_slice(lo, &Bits::from_u64(2, mode.rtl_code() as u64));
            }
        }
        word
    }

    /// Packs N port values into the `i_data`/`o_data` vector.
    pub fn pack(&self, values: &[u64]) -> Bits {
        let mut v = Bits::zero(self.ports * self.width);
        for (p, x) in values.iter().enumerate() {
            v.set_slice(p as u32 * self.width, &Bits::from_u64(self.width, *x));
        }
        v
    }

    pub fn unpack(&self, v: &Bits) -> Vec<u64> {
        (0..self.ports)
            .map(|p| v.slice(p * self.width, self.width).to_u64())
            .collect()
    }
}

pub fn stages(topology: Topology, ports: u32) -> u32 {
    let l = ports.trailing_zeros();
    match topology {
        Topology::Bitrev if ports == 4 => 3,
        Topology::Bitrev => 2 * l,
        Topology::Benes => 2 * l - 1,
    }
}

fn rev_low(x: usize, k: u32) -> usize {
    let mask = (1usize << k) - 1;
    let lo = x & mask;
    let r = (0..k).fold(0, |acc, b| acc | (((lo >> b) & 1) << (k - 1 - b)));
    (x & !mask) | r
}

/// Address bit exchanged by stage `s` of the Beneš network.
fn benes_bit(l: u32, s: u32) -> u32 {
    if s < l {
        s
    } else {
        2 * l - 2 - s
    }
}

/// Where stage `s`'s output position `p` goes: the input position of stage s+1, or the output
/// port after the last stage. Inputs enter stage 0 at their own position in both topologies.
pub fn dest(topology: Topology, ports: u32, s: u32, p: usize) -> usize {
    let l = ports.trailing_zeros();
    let last = stages(topology, ports) - 1;
    match topology {
        Topology::Bitrev if s == last => p,
        Topology::Bitrev => rev_low(p, (2 + s).min(l).min(2 * l - s)),
        Topology::Benes => {
            // Position p of stage s holds address a; stage s+1 reads a at its own position.
            let b = benes_bit(l, s);
            let (j, bit) = (p >> 1, p & 1);
            let a = ((j >> b) << (b + 1)) | (j & ((1 << b) - 1)) | (bit << b);
            if s == last {
                return a;
            }
            let b2 = benes_bit(l, s + 1);
            let j2 = ((a >> (b2 + 1)) << b2) | (a & ((1 << b2) - 1));
            2 * j2 + ((a >> b2) & 1)
        }
    }
}

/// Generates the network.
pub fn generate(cfg: &BirrdConfig) -> Result<Rc<Module>, BirrdError> {
    cfg.validate()?;
    let (n, w, s_count) = (cfg.ports as usize, cfg.width, cfg.stages());
    let mut b = ModuleBuilder::new(cfg.module_name());
    let data = b.input("i_data", cfg.ports * w);
    let cmd = b.input("i_cmd", cfg.cmd_width());
    let row_w = 2 * s_count;
    let mut cur: Vec<Sig> = (0..n as u32)
        .map(|p| b.slice(data, p * w + w - 1, p * w))
        .collect();
    let mut row_cmd: Vec<Sig> = (0..cfg.switches())
        .map(|j| b.slice(cmd, j * row_w + row_w - 1, j * row_w))
        .collect();
    for s in 0..s_count {
        let cw = 2 * (s_count - s);
        let sw = egg(w, cw)?;
        let mut next = cur.clone();
        for j in 0..n / 2 {
            let outs = b.instance(
                &format!("stage{s}_sw{j}"),
                &sw,
                &[
                    ("i_lo", cur[2 * j]),
                    ("i_hi", cur[2 * j + 1]),
                    ("i_cmd", row_cmd[j]),
                ],
            );
            next[dest(cfg.topology, cfg.ports, s, 2 * j)] = outs.get("o_lo");
            next[dest(cfg.topology, cfg.ports, s, 2 * j + 1)] = outs.get("o_hi");
            if cw > 2 {
                row_cmd[j] = outs.get("o_cmd");
            }
        }
        cur = next;
    }
    let msb_first: Vec<Sig> = cur.iter().rev().copied().collect();
    let out = b.cat(&msb_first);
    b.output("o_data", out);
    Ok(b.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stage-to-stage maps for the bit-reversal topology, as listed in spec feather.md §3.1
    /// (read off the public RTL by simulation).
    #[test]
    fn bitrev_wiring_matches_the_public_rtl_tables() {
        let map = |n: u32, s: u32| {
            (0..n as usize)
                .map(|p| dest(Topology::Bitrev, n, s, p))
                .collect::<Vec<_>>()
        };
        assert_eq!(map(4, 0), vec![0, 2, 1, 3]);
        assert_eq!(map(4, 1), vec![0, 2, 1, 3]);
        assert_eq!(map(8, 0), vec![0, 2, 1, 3, 4, 6, 5, 7]);
        for s in 1..=3 {
            assert_eq!(map(8, s), vec![0, 4, 2, 6, 1, 5, 3, 7]);
        }
        assert_eq!(map(8, 4), vec![0, 2, 1, 3, 4, 6, 5, 7]);
        assert_eq!(
            map(16, 1),
            vec![0, 4, 2, 6, 1, 5, 3, 7, 8, 12, 10, 14, 9, 13, 11, 15]
        );
        for s in 2..=4 {
            assert_eq!(
                map(16, s),
                vec![0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]
            );
        }
        assert_eq!(
            map(16, 6),
            vec![0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15]
        );
        assert_eq!(map(16, 7), (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn every_stage_wiring_is_a_permutation() {
        for topo in [Topology::Bitrev, Topology::Benes] {
            for n in [4u32, 8, 16, 32, 64, 128, 256] {
                for s in 0..stages(topo, n) {
                    let mut seen = vec![false; n as usize];
                    for p in 0..n as usize {
                        seen[dest(topo, n, s, p)] = true;
                    }
                    assert!(seen.iter().all(|x| *x), "{topo} n={n} s={s}");
                }
            }
        }
    }

    #[test]
    fn config_validation_messages() {
        let bad = BirrdConfig {
            ports: 12,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "ports must be a power of two from 4 to 256, got 12"
        );
        let bad = BirrdConfig {
            width: 65,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "width must be from 1 to 64 bits, got 65"
        );
        let cfg = BirrdConfig {
            ports: 8,
            ..Default::default()
        };
        let e = cfg.check_config(&vec![vec![Mode::Pass; 4]; 5]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration has 5 stages, the 8-port bitrev network has 6"
        );
        let cfg = BirrdConfig {
            ports: 4,
            width: 8,
            ..Default::default()
        };
        assert_eq!(
            cfg.check_inputs(&[1, 2, 3, 256]).unwrap_err().to_string(),
            "input 3 = 256 does not fit in 8 bits"
        );
    }

    #[test]
    fn command_word_layout() {
        // N=4 bitrev: 3 stages, rows of 6 bits, stage 0 in the MSBs.
        let cfg = BirrdConfig {
            ports: 4,
            width: 8,
            ..Default::default()
        };
        let config = vec![
            vec![Mode::Swap, Mode::Pass],
            vec![Mode::AddEven, Mode::Pass],
            vec![Mode::Pass, Mode::AddOdd],
        ];
        let w = cfg.command_word(&config);
        assert_eq!(w.slice(0, 6).to_u64(), 0b11_01_00);
        assert_eq!(w.slice(6, 6).to_u64(), 0b00_00_10);
    }

    #[test]
    fn codes_in_every_encoding() {
        use serde_json::json;
        assert_eq!(
            Mode::decode(Encoding::Rtl, &json!(1)).unwrap(),
            Mode::AddEven
        );
        assert_eq!(
            Mode::decode(Encoding::Allo, &json!(1)).unwrap(),
            Mode::AddOdd
        );
        assert_eq!(
            Mode::decode(Encoding::Names, &json!("swap")).unwrap(),
            Mode::Swap
        );
        assert_eq!(
            Mode::decode(Encoding::Rtl, &json!(4)).unwrap_err(),
            "unknown mode code 4 (expected 0, 1, 2 or 3)"
        );
        for m in MODES {
            for e in [Encoding::Rtl, Encoding::Allo, Encoding::Names] {
                assert_eq!(Mode::decode(e, &m.encode(e)).unwrap(), m);
            }
        }
    }
}
