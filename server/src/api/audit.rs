use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::startup::AppState;
use arbiter_core::services::audit;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The raw audit log, oldest first, one JSON object a line (admins). The
/// read itself is recorded.
pub async fn export(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> ApiResult<Response> {
    let rows = audit::all(&state.db, &user).await?;
    let mut out = String::new();
    for e in rows {
        out.push_str(&serde_json::to_string(&e).unwrap_or_default());
        out.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/jsonl; charset=utf-8")], out).into_response())
}
