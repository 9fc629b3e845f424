//! FRED (Rashidi et al., ISCA 2025; spec fred.md): a switch whose interconnect reduces and
//! distributes data while routing it. The interconnect Fred_m(P) is a recursive Clos network
//! of 2-port micro-switches: P inputs enter P/2 input µSwitches (each adds its two inputs or
//! not, and sends the result to one of m middle sub-networks), the middle stage is m copies of
//! Fred_m(⌈P/2⌉), and P/2 output µSwitches pick one middle each and broadcast to their two
//! outputs. An odd port reaches every middle through a demultiplexer and leaves through a
//! multiplexer. A *flow* is a set of inputs and a set of outputs: every output of the flow
//! receives the sum of the flow's inputs.
//!
//! * `network`: the structure of Fred_m(P) (one numbering of µSwitches and wires shared by the
//!   router, the golden network, the drawing and the generator), its evaluation under a
//!   configuration, and the flow-level golden model.
//! * `router`: flows → µSwitch configuration by recursive, exact m-colouring of the flows'
//!   conflict graph.
//! * `rtl`: the interconnect's generator (one µSwitch module for every stage).
//! * `switch`: the whole switch — input buffers, the phase memory, the scheduler that aligns
//!   a phase's flits, the interconnect, credit-managed output buffers — and its golden model.
//! * `axi`: the switch on a Zynq (port streams multiplexed onto one DMA, phases over AXI-Lite).

pub mod axi;
pub mod network;
pub mod router;
pub mod rtl;
pub mod switch;

use serde::{Deserialize, Serialize};

/// Port limits: the recursion reaches Fred_m(2) or a single wire; 256 ports is a whole L2
/// switch of a wafer.
pub const MIN_PORTS: u32 = 2;
pub const MAX_PORTS: u32 = 256;
/// Middle sub-networks: 2 (rearrangeable for unicast) or 3 (strict-sense), as in the paper.
pub const MIN_M: u32 = 2;
pub const MAX_M: u32 = 3;
/// Data width limit: the golden model computes in 64-bit words (sums wrap at the width).
pub const MAX_WIDTH: u32 = 64;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FredError {
    #[error("ports must be from {MIN_PORTS} to {MAX_PORTS}, got {0}")]
    Ports(u32),
    #[error("m (middle sub-networks) must be {MIN_M} or {MAX_M}, got {0}")]
    M(u32),
    #[error("width must be from 1 to {MAX_WIDTH} bits, got {0}")]
    Width(u32),
}

/// One Fred_m(P) interconnect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FredConfig {
    pub ports: u32,
    pub m: u32,
    /// Bits of one element; sums wrap around.
    pub width: u32,
}

impl Default for FredConfig {
    fn default() -> Self {
        FredConfig {
            ports: 8,
            m: 3,
            width: 32,
        }
    }
}

impl FredConfig {
    pub fn validate(&self) -> Result<(), FredError> {
        if !(MIN_PORTS..=MAX_PORTS).contains(&self.ports) {
            return Err(FredError::Ports(self.ports));
        }
        if !(MIN_M..=MAX_M).contains(&self.m) {
            return Err(FredError::M(self.m));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(FredError::Width(self.width));
        }
        Ok(())
    }

    pub fn module_name(&self) -> String {
        format!("fred{}_p{}_w{}", self.m, self.ports, self.width)
    }

    /// The mask that keeps a value in `width` bits.
    pub fn mask(&self) -> u64 {
        if self.width == 64 {
            u64::MAX
        } else {
            (1u64 << self.width) - 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_say_what_is_allowed() {
        let bad = |f: fn(&mut FredConfig)| {
            let mut c = FredConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert_eq!(bad(|c| c.ports = 1), "ports must be from 2 to 256, got 1");
        assert_eq!(
            bad(|c| c.ports = 257),
            "ports must be from 2 to 256, got 257"
        );
        assert_eq!(
            bad(|c| c.m = 1),
            "m (middle sub-networks) must be 2 or 3, got 1"
        );
        assert_eq!(
            bad(|c| c.width = 0),
            "width must be from 1 to 64 bits, got 0"
        );
        assert!(FredConfig::default().validate().is_ok());
    }
}
