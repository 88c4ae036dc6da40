use super::{JsonBody, QueryParams};
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::startup::AppState;
use arbiter_core::domain::views::{AnnotationInput, AnnotationReceipt, TaskView};
use arbiter_core::domain::{ClientKey, TaskId};
use arbiter_core::services::{projects, tasks};
use arbiter_core::Error;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// 200 with the task, or 204 when nothing is left for this annotator.
pub async fn next(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    let project = projects::visible(&state.db, &user, &slug).await?;
    Ok(match tasks::next(&state.db, &project, &user).await? {
        Some(task) => Json(task).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// 200 with the task after the current one (leased ahead), or 204.
pub async fn prefetch(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    let project = projects::visible(&state.db, &user, &slug).await?;
    Ok(match tasks::prefetch(&state.db, &project, &user).await? {
        Some(task) => Json(task).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// A task id from the path: anything that is not one is a task you do not have.
fn task_id(raw: &str) -> Result<TaskId, Error> {
    TaskId::parse(raw).ok_or_else(|| Error::not_found("no such task"))
}

/// Other parameters are ignored, as they were before `next_in` existed.
#[derive(Deserialize)]
pub struct AnnotateQuery {
    /// A project's slug (the task's): lease the next task there in the same
    /// transaction and answer it as `next`.
    next_in: Option<String>,
}

/// The receipt, with the next task when `next_in` asked for it (null when
/// nothing is left).
#[derive(Serialize)]
struct Answered {
    #[serde(flatten)]
    receipt: AnnotationReceipt,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Option<TaskView>>,
}

/// 201 the first time; 200 with the same body for a retry with the same key
/// (the `Idempotency-Key` header, required). With `?next_in={project}`, also
/// what `POST /projects/{project}/tasks/next` would answer after it, from the
/// same transaction: one round trip per judgement.
pub async fn annotate(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw_id): Path<String>,
    QueryParams(query): QueryParams<AnnotateQuery>,
    headers: HeaderMap,
    JsonBody(input): JsonBody<AnnotationInput>,
) -> ApiResult<Response> {
    let id = task_id(&raw_id)?;
    let key = idempotency_key(&headers)?;
    let (receipt, created, next) = match query.next_in {
        None => {
            let (receipt, created) = tasks::submit(&state.db, &user, None, id, &key, &input).await?;
            (receipt, created, None)
        }
        Some(slug) => {
            let project = projects::visible(&state.db, &user, &slug).await?;
            let (receipt, created, next) = tasks::submit_and_next(&state.db, &user, &project, id, &key, &input).await?;
            (receipt, created, Some(next))
        }
    };
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Answered { receipt, next })).into_response())
}

fn idempotency_key(headers: &HeaderMap) -> Result<ClientKey, Error> {
    match headers.get("idempotency-key").map(|v| v.to_str()) {
        Some(Ok(k)) => ClientKey::parse(k)
            .map_err(|_| Error::bad("Idempotency-Key: must be 1-128 visible ASCII characters (a UUID is best)")),
        Some(Err(_)) => Err(Error::bad("Idempotency-Key: must be visible ASCII")),
        None => Err(Error::bad("Idempotency-Key: the header is required (a UUID per judgement)")),
    }
}

/// Changes one of your judgements inside the project's undo window: 200
/// with the new version (and for a retry with the same key); 409 outside it.
pub async fn edit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    JsonBody(input): JsonBody<AnnotationInput>,
) -> ApiResult<Json<arbiter_core::domain::views::AnnotationReceipt>> {
    let id: uuid::Uuid = raw_id.parse().map_err(|_| Error::not_found("no such annotation"))?;
    let key = idempotency_key(&headers)?;
    let (receipt, _) = tasks::edit(&state.db, &user, None, tasks::EditTarget::Annotation(id), &key, &input).await?;
    Ok(Json(receipt))
}

/// Your own judgements in a project, newest first.
pub async fn history(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let project = projects::visible(&state.db, &user, &slug).await?;
    let items = tasks::history(&state.db, &project, &user).await?;
    Ok(Json(serde_json::json!({"judgements": items})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SkipBody {
    reason: Option<String>,
}

pub async fn skip(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw_id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let id = task_id(&raw_id)?;
    // The body is optional: an empty one skips without a reason.
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<SkipBody>(&body).map_err(|e| Error::bad(format!("invalid JSON body: {e}")))?.reason
    };
    tasks::skip(&state.db, &user, None, id, reason.as_deref()).await?;
    Ok(Json(serde_json::json!({"task_id": id, "skipped": true})))
}
