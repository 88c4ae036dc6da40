//! The `arbiter` binary as a library, so tests boot the real application.
pub mod api;
pub mod auth;
pub mod cli;
pub mod error;
pub mod forms;
pub mod isolation;
pub mod ops;
pub mod security;
pub mod startup;
pub mod telemetry;

pub use startup::{Application, Config};
