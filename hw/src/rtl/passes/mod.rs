//! Passes over finished modules: dead-logic removal (run by `ModuleBuilder::finish`, so every
//! backend sees its result) and the resource estimate.

pub mod dead;
pub mod estimate;

pub use estimate::{estimate, Resources};
