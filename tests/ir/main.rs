//! The IR and the reusable blocks: random IR modules against Verilog (simulator ≡ Verilator ≡
//! Icarus), memories, DSP-sized multiplies, wide values; the AXI4-Lite register file and the
//! AXI4-Stream skid buffer and FIFO against reference models under random stalls.

#[path = "../common/mod.rs"]
mod common;

mod blocks;
mod cosim;
