//! FEATHER's golden models: what each block computes, with no notion of cycles, in the exact
//! integer arithmetic of the hardware. One file per block; written without the generators'
//! wiring or the compiler's lowering, so agreeing with them is evidence.

pub mod layer;
pub mod network;
pub mod pe;
pub mod quant;

pub use layer::{conv, conv_acc, depthwise, depthwise_acc, gemm, gemm_acc, requant_all, ConvShape};
pub use network::birrd;
pub use pe::{diff, vn_dot};
pub use quant::{requant, Quant, SCALE_FRAC_BITS};
