use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::startup::AppState;
use arbiter_core::services::auth;
use arbiter_core::storage::{audit, rfc3339};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The raw audit log, oldest first, one JSON object a line (admins).
pub async fn export(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> ApiResult<Response> {
    auth::require_admin(&user)?;
    let mut rows = audit::recent(&state.db.read, i64::MAX).await?;
    rows.reverse();
    let mut out = String::new();
    for e in rows {
        let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
        let line = serde_json::json!({"at": rfc3339(e.at), "actor": e.actor, "action": e.action, "target": e.target, "detail": detail});
        out.push_str(&line.to_string());
        out.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/jsonl; charset=utf-8")], out).into_response())
}
