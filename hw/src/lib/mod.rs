//! Reusable blocks shared by the accelerators: bus interfaces and the like.

pub mod axi_lite;
pub mod axis;
