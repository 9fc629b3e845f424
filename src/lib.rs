//! plume: one Rust description of each accelerator block gives Verilog for Vivado (ZCU104), a
//! bit-accurate cycle simulation with VCD waveforms, and a golden model — and checks that the
//! three agree. This crate is the command line and the glue: running blocks, external tools
//! (Verilator, Icarus, Yosys) and benchmarks. The hardware lives in `plume_hw`, the simulator
//! in `plume_sim`.

pub use plume_hw as hw;
pub use plume_sim as sim;

pub mod axi;
pub mod bench;
pub mod birrd;
pub mod draw;
pub mod feather;
pub mod feather_axi;
pub mod fpga;
pub mod rng;
pub mod tools;

/// An error in what the user gave (a parameter, a file, a directory): the command line reports
/// it in one line and exits with code 2.
#[derive(Debug)]
pub struct BadInputError(pub String);

impl std::fmt::Display for BadInputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInputError {}
