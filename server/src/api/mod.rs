//! REST API v1 (JSON; Bearer token or session cookie). The same services as
//! the pages, so both share one code path and one set of checks.
mod export;
mod json;
mod projects;
mod tasks;

use crate::startup::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use json::JsonBody;

/// Mounted at `/api/v1`. JSON bodies are capped small; imports at `max_import` bytes.
pub fn router(max_import: usize) -> Router<AppState> {
    Router::new()
        .route("/projects", get(projects::list).post(projects::create))
        .route("/projects/{slug}/progress", get(projects::progress))
        .route("/projects/{slug}/tasks/next", post(tasks::next))
        .route("/projects/{slug}/export", get(export::download))
        .route("/tasks/{task_id}/annotation", post(tasks::annotate))
        .route("/tasks/{task_id}/skip", post(tasks::skip))
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        .route("/projects/{slug}/import", post(projects::import).layer(DefaultBodyLimit::max(max_import)))
        .fallback(not_found)
}

pub const JSON_LIMIT: usize = 256 * 1024;

async fn not_found(uri: axum::http::Uri) -> crate::error::ApiError {
    crate::error::ApiError(arbiter_core::Error::not_found(format!("no API route {}", uri.path())))
}
