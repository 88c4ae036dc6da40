//! Model leaderboards as JSON or CSV (issue 10).
use super::QueryParams;
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::startup::AppState;
use arbiter_core::services::leaderboard::{self, Current, Options};
use arbiter_core::services::projects;
use arbiter_core::Error;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Query {
    format: Option<String>,
    rounds: Option<String>,
    seed: Option<String>,
    /// Across projects only: slugs, comma-separated (all when absent).
    projects: Option<String>,
}

/// `GET /projects/{slug}/leaderboard`: always current (refits if needed).
pub async fn project(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
    QueryParams(q): QueryParams<Query>,
) -> ApiResult<Response> {
    if q.projects.is_some() {
        return Err(Error::bad("projects: only for /api/v1/leaderboard (across projects)").into());
    }
    let format = Format::parse(q.format.as_deref())?;
    let options = Options::parse(q.rounds.as_deref(), q.seed.as_deref())?;
    let project = projects::administered(&state.db, &user, &slug).await?;
    let current = leaderboard::project(&state.db, &user, &project, options, true).await?;
    Ok(answer(format, &current, &[project.slug]))
}

/// `GET /leaderboard?projects=a,b`: models with one name are one model.
pub async fn across(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    QueryParams(q): QueryParams<Query>,
) -> ApiResult<Response> {
    let format = Format::parse(q.format.as_deref())?;
    let options = Options::parse(q.rounds.as_deref(), q.seed.as_deref())?;
    let slugs: Vec<String> = q
        .projects
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let (projects, current) = leaderboard::across(&state.db, &user, &slugs, options, true).await?;
    let slugs: Vec<String> = projects.into_iter().map(|p| p.slug).collect();
    Ok(answer(format, &current, &slugs))
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    Csv,
}

impl Format {
    fn parse(s: Option<&str>) -> Result<Format, Error> {
        match s {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(other) => Err(Error::bad(format!("format: {other:?} is not json or csv"))),
        }
    }
}

fn answer(format: Format, current: &Current, projects: &[String]) -> Response {
    match format {
        Format::Csv => {
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], leaderboard::csv(&current.board)).into_response()
        }
        Format::Json => {
            let mut v = serde_json::to_value(&*current.board).unwrap_or_default();
            v["projects"] = serde_json::json!(projects);
            axum::Json(v).into_response()
        }
    }
}
