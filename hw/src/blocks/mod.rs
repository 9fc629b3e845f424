//! Reusable blocks shared by the accelerator families: bus interfaces (an AXI4-Lite register
//! file, AXI4-Stream skid buffer and FIFO, a fixed-latency pipeline behind AXI), credit-based
//! admission, fixed-priority arbitration, delay lines, bit-field tables and fixed-point
//! arithmetic.

pub mod arbiter;
pub mod axi_lite;
pub mod axi_pipe;
pub mod axis;
pub mod credit;
pub mod delay;
pub mod fields;
pub mod fixed;
