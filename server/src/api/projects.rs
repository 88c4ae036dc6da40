use super::JsonBody;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;
use arbiter_core::services::{auth, import, projects};
use arbiter_core::storage::projects::{counts, per_annotator, Settings};
use arbiter_core::Error;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

pub async fn list(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> ApiResult<Json<Value>> {
    let list = projects::list_for(&state.db, &user).await?;
    Ok(Json(json!({"projects": list})))
}

#[derive(Deserialize)]
pub struct NewProject {
    slug: String,
    title: String,
    #[serde(default)]
    guidelines: String,
    annotations_per_pair: Option<i64>,
    lease_seconds: Option<i64>,
    flags: Option<Vec<String>>,
}

pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(b): JsonBody<NewProject>,
) -> ApiResult<Response> {
    auth::require_admin(&user)?;
    let mut s = Settings::new(&b.title);
    s.guidelines = b.guidelines;
    s.annotations_per_pair = b.annotations_per_pair.unwrap_or(s.annotations_per_pair);
    s.lease_seconds = b.lease_seconds.unwrap_or(s.lease_seconds);
    if let Some(f) = b.flags {
        s.flags = f;
    }
    let project = projects::create(&state.db, &user.username, &b.slug, s).await?;
    Ok((StatusCode::CREATED, Json(project)).into_response())
}

/// Pairs total / complete, annotations, live leases; per-annotator counts.
pub async fn progress(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
) -> ApiResult<Json<Value>> {
    let project = projects::visible(&state.db, &user, &slug).await?;
    let c = counts(&state.db.read, &project).await?;
    let annotators = per_annotator(&state.db.read, project.id).await?;
    Ok(Json(json!({
        "project": project.slug,
        "annotations_per_pair": project.annotations_per_pair,
        "pairs_total": c.pairs,
        "pairs_complete": c.complete_pairs,
        "pairs_over_covered": c.over_covered_pairs,
        "prompts": c.prompts,
        "annotations": c.annotations,
        "live_leases": c.live_leases,
        "annotators": annotators,
    })))
}

#[derive(Deserialize)]
pub struct ImportQuery {
    filename: Option<String>,
}

/// The body is the JSONL file itself. 200 with the report, or 422 with the
/// bad lines (and nothing imported).
pub async fn import(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    let project = projects::administered(&state.db, &user, &slug).await?;
    let name = q.filename.unwrap_or_else(|| "api.jsonl".into());
    let report = import::import_jsonl(&state.db, &project, Some(&user), &name, body.to_vec()).await?;
    if report.ok {
        Ok(Json(report).into_response())
    } else {
        let mut resp = ApiError(Error::Import(report.errors.clone())).into_response();
        *resp.body_mut() = axum::body::Body::from(
            json!({"error": format!("{} bad line(s); nothing was imported", report.error_count), "import_id": report.import_id, "error_count": report.error_count, "lines": report.errors}).to_string(),
        );
        Ok(resp)
    }
}
