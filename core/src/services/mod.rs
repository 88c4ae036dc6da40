//! The use cases. Pages (server functions and form handlers), the REST API
//! and the CLI all call these, so they share one set of checks.
pub mod accounts;
pub mod auth;
pub mod demo;
pub mod export;
pub mod import;
pub mod projects;
pub mod reveal;
pub mod tasks;

pub use crate::storage::users::{Role, User};
