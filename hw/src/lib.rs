//! plume-hw: the hardware description side of plume — the IR and its Verilog backend, the
//! reusable blocks, and each accelerator's generators with their golden models.
//! Nothing here knows about simulation: the simulator (plume-sim) consumes the IR.

pub mod feather;
#[path = "lib/mod.rs"]
pub mod lib;
pub mod rtl;
