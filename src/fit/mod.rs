//! The fitting engine.
mod model;
pub use model::{Model, Space};
