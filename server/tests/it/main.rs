//! The server's integration tests, one binary: each module boots the real
//! application (port 0, a fresh SQLite file) or runs the real `arbiter`
//! command. One binary instead of one per file links the application once,
//! which keeps a cold CI run's time and disk small.
//!
//! `cargo test -p server --test it` runs them all; `-- datasets::` one module.
mod common;

mod agreement;
mod authz;
mod cli;
mod copy;
mod dashboard;
mod datasets;
mod durability;
mod export_forms;
mod hardening;
mod http;
mod instances;
mod leaderboard;
mod ops;
mod security;
mod task_types;
mod undo;
