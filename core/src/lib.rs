//! Arbiter's core: `domain` is pure and compiles for the browser; `storage`
//! (all SQL) and `services` (the use cases that pages, REST API and CLI share)
//! come with the `server` feature.
// Rows are read as tuples (`sqlx::query_as`) and named at once in storage.
#![allow(clippy::type_complexity)]
pub mod domain;

#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod render;
#[cfg(feature = "server")]
pub mod services;
#[cfg(feature = "server")]
pub mod storage;

#[cfg(feature = "server")]
pub use error::{Error, Result};
