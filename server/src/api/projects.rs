use super::{JsonBody, QueryParams};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;
use arbiter_core::domain::preference::ImportFormat;
use arbiter_core::domain::SettingsInput;
use arbiter_core::services::{agreement, import, projects};
use arbiter_core::Error;
use axum::extract::{Path, State};
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
#[serde(deny_unknown_fields)]
pub struct NewProject {
    slug: String,
    title: String,
    guidelines: Option<String>,
    #[serde(default, deserialize_with = "arbiter_core::domain::integral::option")]
    annotations_per_pair: Option<i64>,
    #[serde(default, deserialize_with = "arbiter_core::domain::integral::option")]
    lease_seconds: Option<i64>,
    flags: Option<Vec<String>>,
    pair_selection: Option<String>,
    selection: Option<String>,
    task_type: Option<String>,
    aspects: Option<Vec<String>>,
    scale: Option<String>,
    scale_labels: Option<Vec<String>>,
    #[serde(default, deserialize_with = "arbiter_core::domain::integral::option")]
    undo_judgements: Option<i64>,
    #[serde(default, deserialize_with = "arbiter_core::domain::integral::option")]
    undo_minutes: Option<i64>,
    #[serde(default, deserialize_with = "arbiter_core::domain::integral::option")]
    gold_percent: Option<i64>,
    #[serde(default, deserialize_with = "arbiter_core::domain::integral::option")]
    gold_accuracy_min: Option<i64>,
    #[serde(default, deserialize_with = "arbiter_core::domain::integral::option")]
    flag_agreement_min: Option<i64>,
    #[serde(default, deserialize_with = "arbiter_core::domain::integral::option")]
    flag_skip_max: Option<i64>,
    #[serde(default, deserialize_with = "arbiter_core::domain::integral::option")]
    flag_bias_permille: Option<i64>,
}

pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(b): JsonBody<NewProject>,
) -> ApiResult<Response> {
    arbiter_core::services::auth::require_admin(&user)?;
    let settings = SettingsInput {
        title: b.title,
        guidelines: b.guidelines,
        annotations_per_pair: b.annotations_per_pair,
        lease_seconds: b.lease_seconds,
        flags: b.flags,
        pair_selection: b.pair_selection,
        selection: b.selection,
        task_type: b.task_type,
        aspects: b.aspects,
        scale: b.scale,
        scale_labels: b.scale_labels,
        undo_judgements: b.undo_judgements,
        undo_minutes: b.undo_minutes,
        gold_percent: b.gold_percent,
        gold_accuracy_min: b.gold_accuracy_min,
        flag_agreement_min: b.flag_agreement_min,
        flag_skip_max: b.flag_skip_max,
        flag_bias_permille: b.flag_bias_permille,
    };
    let project = projects::create(&state.db, &user.username, &b.slug, settings).await?;
    Ok((StatusCode::CREATED, Json(project)).into_response())
}

/// Pairs total / complete, annotations, live leases; per-annotator counts
/// (all of them for admins, only one's own for annotators).
pub async fn progress(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
) -> ApiResult<Json<projects::Progress>> {
    let project = projects::visible(&state.db, &user, &slug).await?;
    Ok(Json(projects::progress(&state.db, &user, &project).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    filename: Option<String>,
    /// native, csv, trl, hh-rlhf or arena; guessed from the first record when absent.
    format: Option<String>,
    /// Import the good lines and report the bad ones.
    #[serde(default)]
    skip_bad: bool,
}

/// Writes the upload to a temporary file as it arrives, so a large import
/// holds no more than a chunk in memory; refuses it past `limit` bytes.
async fn spool(body: axum::body::Body, limit: usize) -> Result<tempfile::NamedTempFile, Error> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let file = tempfile::Builder::new().prefix("arbiter-upload-").tempfile().map_err(|e| Error::Internal(e.into()))?;
    let mut out = tokio::fs::File::from_std(file.reopen().map_err(|e| Error::Internal(e.into()))?);
    let mut stream = body.into_data_stream();
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::bad(format!("reading the upload: {e}")))?;
        size += chunk.len();
        if size > limit {
            return Err(Error::TooLarge(format!(
                "the file is too large: at most {} MiB (--max-import-mb)",
                limit / (1024 * 1024)
            )));
        }
        out.write_all(&chunk).await.map_err(|e| Error::Internal(e.into()))?;
    }
    out.flush().await.map_err(|e| Error::Internal(e.into()))?;
    Ok(file)
}

/// The body is the file itself. 200 with the report, or 422 with the
/// bad lines (and nothing imported).
pub async fn import(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
    QueryParams(q): QueryParams<ImportQuery>,
    body: axum::body::Body,
) -> ApiResult<Response> {
    let project = projects::administered(&state.db, &user, &slug).await?;
    let name = q.filename.unwrap_or_else(|| "api.jsonl".into());
    if name.chars().count() > 200 {
        return Err(Error::bad("filename: at most 200 characters").into());
    }
    let options = import::ImportOptions {
        format: q.format.as_deref().map(ImportFormat::parse).transpose().map_err(Error::from)?,
        skip_bad: q.skip_bad,
        yield_cpu: true,
    };
    let file = spool(body, state.config.max_import_bytes).await?;
    let source = import::Source::File(file.path().to_path_buf());
    let report = import::import(&state.db, &project, Some(&user), &name, source, options).await?;
    drop(file);
    if report.ok {
        return Ok(Json(report).into_response());
    }
    let mut resp = ApiError(Error::Import(report.errors.clone())).into_response();
    *resp.body_mut() = axum::body::Body::from(
        json!({"error": format!("{} bad line(s); nothing was imported", report.error_count), "import_id": report.import_id, "error_count": report.error_count, "lines": report.errors}).to_string(),
    );
    Ok(resp)
}

/// Krippendorff's α, Fleiss' κ and each annotator's agreement with the
/// others' majority (admins).
pub async fn agreement(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
) -> ApiResult<Json<agreement::Agreement>> {
    let project = projects::administered(&state.db, &user, &slug).await?;
    Ok(Json(agreement::project(&state.db, &user, &project).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldBody {
    /// `a`, `b`, `tie`, or null to unmark.
    gold: Option<String>,
}

/// `PUT /projects/{slug}/pairs/{pair}/gold`: marks a gold pair (or unmarks it).
pub async fn set_gold(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((slug, pair)): Path<(String, String)>,
    JsonBody(b): JsonBody<GoldBody>,
) -> ApiResult<Json<Value>> {
    use arbiter_core::services::dashboard::{self, Answer};
    let gold = b.gold.as_deref().map(|g| Answer::parse("gold", g)).transpose()?;
    let project = projects::administered(&state.db, &user, &slug).await?;
    dashboard::set_gold(&state.db, &user, &project, &pair, gold).await?;
    Ok(Json(json!({"pair": pair, "gold": gold.map(Answer::name)})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjudicationBody {
    /// `a`, `b`, `tie`, or null to clear.
    label: Option<String>,
}

/// `PUT /projects/{slug}/pairs/{pair}/adjudication`: an admin's final label.
pub async fn adjudicate(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((slug, pair)): Path<(String, String)>,
    JsonBody(b): JsonBody<AdjudicationBody>,
) -> ApiResult<Json<Value>> {
    use arbiter_core::services::dashboard::{self, Answer};
    let label = b.label.as_deref().map(|l| Answer::parse("label", l)).transpose()?;
    let project = projects::administered(&state.db, &user, &slug).await?;
    dashboard::adjudicate(&state.db, &user, &project, &pair, label).await?;
    Ok(Json(json!({"pair": pair, "label": label.map(Answer::name)})))
}
