use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::startup::AppState;
use arbiter_core::services::export::{self, Format};
use arbiter_core::services::projects;
use axum::body::Body;
use super::QueryParams;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use tokio_stream::wrappers::ReceiverStream;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    format: Option<String>,
}

/// Streams the export: rows leave as SQLite produces them, so memory does
/// not grow with the dataset. What was left out is logged.
pub async fn download(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
    QueryParams(q): QueryParams<ExportQuery>,
) -> ApiResult<Response> {
    let project = projects::administered(&state.db, &user, &slug).await?;
    let format = Format::parse(q.format.as_deref().unwrap_or("trl"))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    let db = state.db.clone();
    let slug = project.slug.clone();
    let (actor, p) = (user.username.clone(), project.clone());
    tokio::spawn(async move {
        match export::run(&db, &actor, &p, format, tx).await {
            Ok(summary) => tracing::info!(project = %slug, %summary, "export"),
            Err(e) => tracing::error!(project = %slug, error = ?e, "export failed midway"),
        }
    });
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, std::io::Error>));
    let disposition = format!("attachment; filename=\"{}\"", format.file_name(&project.slug));
    Ok((
        [
            (header::CONTENT_TYPE, "application/jsonl; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
