//! plume-hw: the hardware description side of plume — the IR with its passes and Verilog
//! backend (`rtl`), reusable blocks (`blocks`), and one folder per accelerator family with its
//! generators, golden models and compiler (`feather`, and the example family `fir`).
//! Nothing here knows about simulation: the simulator (plume-sim) consumes the IR.

pub mod blocks;
pub mod feather;
pub mod fir;
pub mod fred;
pub mod rfemu;
pub mod rtl;
pub mod sdq;
