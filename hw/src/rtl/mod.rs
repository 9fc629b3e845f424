//! Describing hardware: values, the IR, the builder, design-rule checks, passes (dead logic,
//! resource estimate) and the Verilog backend.

pub mod bits;
pub mod builder;
pub mod check;
pub mod ir;
pub mod passes;
pub mod verilog;

pub use bits::Bits;
pub use builder::{InstanceOutputs, ModuleBuilder};
pub use check::{DrcError, DrcErrors};
pub use ir::{BinOp, CmpOp, MemStyle, Module, Op, ReadDuringWrite, RedOp, ShiftOp, Sig};
