//! plume: one Rust description of each accelerator block gives Verilog for Vivado (ZCU104), a
//! bit-accurate cycle simulation with VCD waveforms, and a golden model — and checks that the
//! three agree. This crate is the command line and the glue: the design registry and the
//! lifecycle verbs every design gets, the ZCU104 board flow, external tools (Verilator,
//! Icarus, Yosys), benchmarks, and one folder per accelerator family with its own commands.
//! The hardware lives in `plume_hw`, the simulator in `plume_sim`.

pub use plume_hw as hw;
pub use plume_sim as sim;

pub mod bench;
pub mod board;
pub mod chakra;
pub mod cli;
pub mod error;
pub mod feather;
pub mod fir;
pub mod fred;
pub mod input;
pub mod output;
pub mod plot;
pub mod registry;
pub mod rfemu;
pub mod sdq;
pub mod tools;
pub mod verbs;

pub use error::{Error, Result};
