//! REST API v1 (JSON; Bearer token or session cookie). The same services as
//! the pages, so both share one code path and one set of checks.
mod audit;
mod export;
mod json;
mod leaderboard;
mod projects;
mod tasks;

use crate::startup::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{get, post, MethodRouter};
use axum::Router;

pub use json::{JsonBody, QueryParams};

/// Every API route (method, path under `/api/v1`, handler): the one list
/// the router is built from and the authorization matrix test walks.
pub fn routes(max_import: usize) -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    let small = || DefaultBodyLimit::max(JSON_LIMIT);
    vec![
        (Method::GET, "/audit", get(audit::export)),
        (Method::GET, "/projects", get(projects::list)),
        // Guidelines may be 100,000 characters, each up to 12 bytes as JSON escapes.
        (Method::POST, "/projects", post(projects::create).layer(DefaultBodyLimit::max(PROJECT_LIMIT))),
        (Method::GET, "/projects/{slug}/progress", get(projects::progress)),
        (Method::GET, "/projects/{slug}/agreement", get(projects::agreement)),
        (Method::GET, "/projects/{slug}/leaderboard", get(leaderboard::project)),
        (Method::GET, "/leaderboard", get(leaderboard::across)),
        (Method::PUT, "/projects/{slug}/pairs/{pair}/gold", axum::routing::put(projects::set_gold).layer(small())),
        (
            Method::PUT,
            "/projects/{slug}/pairs/{pair}/adjudication",
            axum::routing::put(projects::adjudicate).layer(small()),
        ),
        (Method::POST, "/projects/{slug}/tasks/next", post(tasks::next).layer(small())),
        (Method::POST, "/projects/{slug}/tasks/prefetch", post(tasks::prefetch).layer(small())),
        (Method::GET, "/projects/{slug}/export", get(export::download)),
        (Method::GET, "/projects/{slug}/export/cards", get(export::cards)),
        (Method::POST, "/projects/{slug}/import", post(projects::import).layer(DefaultBodyLimit::max(max_import))),
        (Method::POST, "/tasks/{task_id}/annotation", post(tasks::annotate).layer(small())),
        (Method::POST, "/tasks/{task_id}/skip", post(tasks::skip).layer(small())),
        (Method::GET, "/projects/{slug}/history", get(tasks::history)),
        (Method::PUT, "/annotations/{annotation_id}", axum::routing::put(tasks::edit).layer(small())),
    ]
}

/// Mounted at `/api/v1`.
pub fn router(max_import: usize) -> Router<AppState> {
    routes(max_import)
        .into_iter()
        .fold(Router::new(), |r, (_, path, handler)| r.route(path, handler))
        .fallback(not_found)
}

pub const JSON_LIMIT: usize = 256 * 1024;
/// A new project's body: its guidelines (100,000 characters) may take up to
/// 12 bytes a character written as JSON escapes.
pub const PROJECT_LIMIT: usize = 2 * 1024 * 1024;

async fn not_found(uri: axum::http::Uri) -> crate::error::ApiError {
    crate::error::ApiError(arbiter_core::Error::not_found(format!("no API route {}", uri.path())))
}
