//! The use cases. Pages (server functions and form handlers), the REST API
//! and the CLI all call these, so they share one set of checks; none of
//! them reads storage directly.
pub mod accounts;
pub mod agreement;
pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod demo;
pub mod export;
pub mod import;
pub mod leaderboard;
pub mod maintenance;
pub mod projects;
pub mod reveal;
pub mod tasks;
pub mod throttle;

pub use crate::domain::Role;
pub use crate::storage::users::User;
