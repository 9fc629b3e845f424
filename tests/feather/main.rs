//! The FEATHER family: BIRRD (golden ≡ simulator ≡ Verilog, the exact router against
//! exhaustive search), NEST, whole layers on five array shapes, and both designs behind AXI.

#[path = "../common/mod.rs"]
mod common;

mod axi;
mod birrd;
mod layers;
mod nest;
mod route;
