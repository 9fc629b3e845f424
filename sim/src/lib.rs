//! plume-sim: running hardware described with plume-hw — the compiled cycle simulator, VCD
//! waveforms, and co-simulation of the emitted Verilog in Verilator and Icarus Verilog.
//! The simulator knows the IR only; it knows nothing of any particular accelerator.

pub mod compile;
pub mod cosim;
pub mod engine;
pub mod vcd;
pub mod wide;

pub use engine::{Recording, Sim, SimError};
