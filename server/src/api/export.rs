use super::QueryParams;
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::startup::AppState;
use arbiter_core::services::export::{self, Options, OptionsInput};
use arbiter_core::services::projects;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

/// Streams the export: rows leave as SQLite produces them, so memory does
/// not grow with the dataset. The file's form (and why) is decided first
/// and sent as headers; the dataset card is stored once the last byte left.
pub async fn download(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
    QueryParams(q): QueryParams<OptionsInput>,
) -> ApiResult<Response> {
    let project = projects::administered(&state.db, &user, &slug).await?;
    let options = Options::parse(&q, None)?;
    let running = export::start(&state.db, &user.username, &project, options).await?;
    let plan = running.plan.clone();
    let headers = [
        (header::CONTENT_TYPE, plan.content_type().to_string()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", plan.file_name)),
        (header::HeaderName::from_static("x-arbiter-form"), plan.form.to_string()),
        (header::HeaderName::from_static("x-arbiter-form-reason"), plan.form_reason.clone()),
    ];
    let slug = project.slug.clone();
    tokio::spawn(async move {
        match running.done.await {
            Ok(Ok(card)) => tracing::info!(project = %slug, format = %card.format, counts = %card.counts, "export"),
            Ok(Err(e)) => tracing::warn!(project = %slug, error = ?e, "export ended early"),
            Err(e) => tracing::error!(project = %slug, error = ?e, "export task failed"),
        }
    });
    let body = Body::from_stream(ReceiverStream::new(running.chunks).map(|c| Ok::<_, std::io::Error>(c.bytes)));
    Ok((headers, body).into_response())
}

/// The dataset cards of the project's latest exports, newest first.
pub async fn cards(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<serde_json::Value>>> {
    let project = projects::administered(&state.db, &user, &slug).await?;
    Ok(Json(export::cards(&state.db, &user, &project).await?))
}
