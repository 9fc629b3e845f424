//! plume-sim: running hardware described with plume-hw — the compiled cycle simulator, VCD
//! waveforms, co-simulation of the emitted Verilog in Verilator and Icarus Verilog, the
//! equivalence harness that checks any block against its golden model on all of them, and
//! bus-functional models for designs behind AXI.
//! The simulator knows the IR (and the generic bus blocks) only; it knows nothing of any
//! particular accelerator.

pub mod bfm;
pub mod compile;
pub mod cosim;
pub mod engine;
pub mod harness;
pub mod jit;
pub mod rng;
pub mod vcd;
pub mod wide;

pub use engine::{Recording, Sim, SimError};
