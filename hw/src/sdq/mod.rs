//! SDQ — sparse-decomposed quantization (Jeong, Tsai, Keckler, Krishna; spec sdq.md): each
//! weight matrix split into an N:M structured-sparse outlier part kept at higher precision and
//! an inlier part quantized to 4 bits, so that sparse tensor hardware runs both at low
//! precision.
//!
//! * `formats`: the element and scale formats, bit-exact (FP8 E4M3/E5M2, FP4 E2M1, E8M0,
//!   INT8/INT4).
//! * `mx`: MX block scaling (a shared E8M0 power of two per block).
//! * `decompose`: N:M pruning by magnitude or Wanda score, outlier/inlier split, both parts
//!   MX-quantized, exact bits per weight, SQNR.
//! * `pack`: the packed bit streams (positions, codes, scales) and reading them back.
//! * `dot`: the dot-product unit (metadata muxes, two precision lanes, block-scale shifts, exact
//!   accumulation, one FP32 rounding); `golden`: its golden model.

pub mod decompose;
pub mod dot;
pub mod engine;
pub mod formats;
pub mod golden;
pub mod mx;
pub mod pack;
