//! The emulator's golden models, each independent of the generators:
//!
//! * `reference`: the direct-path model in f64, continuous time, on analytic signals, with the
//!   reflectors' feedback followed bounce by bounce to a limit;
//! * `fixed`: the hardware pipeline bit for bit (integer delay and fractional-delay filter,
//!   CORDIC, complex gain, rounding, saturation, feedback through the sample buffers);
//! * `tdl`: the tapped-delay-line baseline that enumerates every multi-bounce path, and the
//!   operation counts of both models;
//! * `signal`: the analytic transmitter waveforms (tones, chirps).

pub mod fixed;
pub mod reference;
pub mod signal;
pub mod tdl;

pub use num_complex::Complex64;
