//! FEATHER (Tong et al., ISCA 2024): an accelerator family of NEST (PE array) and BIRRD (the
//! reduce-and-reorder network of EGG switches).
//!
//! * Generators, one file per block, mirroring the hardware: `egg` → `birrd`; `pe` → `nest`;
//!   `buffers`, `controller` (the micro-instruction), `top` (the core), `sequencer` (the
//!   programmable top), `axi` (both designs behind AXI).
//! * `golden`: what each block computes, written independently of the generators.
//! * `compiler`: the BIRRD router, the layer mapper and timing model, the program encoder.

pub mod axi;
pub mod birrd;
pub mod buffers;
pub mod compiler;
pub mod controller;
pub mod egg;
pub mod golden;
pub mod nest;
pub mod pe;
pub mod sequencer;
pub mod top;
