use super::QueryParams;
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::startup::AppState;
use arbiter_core::services::export::{self, Options};
use arbiter_core::services::projects;
use axum::body::Body;
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
    form: Option<String>,
    /// Real usernames instead of pseudonyms in the raw export.
    #[serde(default)]
    annotator_names: bool,
}

/// Streams the export: rows leave as SQLite produces them, so memory does
/// not grow with the dataset. The file's form (and why) is decided first
/// and sent as headers; what was left out is logged.
pub async fn download(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
    QueryParams(q): QueryParams<ExportQuery>,
) -> ApiResult<Response> {
    let project = projects::administered(&state.db, &user, &slug).await?;
    let mut options = Options::parse(q.format.as_deref(), q.form.as_deref())?;
    options.annotator_names = q.annotator_names;
    let plan = export::plan(&state.db, &project, options).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    let db = state.db.clone();
    let actor = user.username.clone();
    let headers = [
        (header::CONTENT_TYPE, "application/jsonl; charset=utf-8".to_string()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", plan.format.file_name(&project.slug))),
        (header::HeaderName::from_static("x-arbiter-form"), plan.form.to_string()),
        (header::HeaderName::from_static("x-arbiter-form-reason"), plan.form_reason.clone()),
    ];
    tokio::spawn(async move {
        let slug = plan.project.slug.clone();
        match export::run(&db, &actor, &plan, tx).await {
            Ok(summary) => tracing::info!(project = %slug, form = %plan.form, %summary, "export"),
            Err(e) => tracing::error!(project = %slug, error = ?e, "export failed midway"),
        }
    });
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, std::io::Error>));
    Ok((headers, body).into_response())
}
