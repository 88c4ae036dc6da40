#[cfg(feature = "ssr")]
use super::ctx;
use arbiter_core::domain::views::{AnnotationInput, MyProgress, TaskView};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotateData {
    pub slug: String,
    pub title: String,
    pub guidelines_html: String,
    pub flags: Vec<String>,
    pub task: Option<TaskView>,
    pub progress: MyProgress,
    /// Idempotency key for submitting this task; made on the server so the
    /// plain-form page and the hydrated page agree on it.
    pub client_key: String,
    /// The task shown is an earlier judgement opened to be changed (from the
    /// history): what was answered, and whether it can still be changed.
    pub editing: Option<(AnnotationInput, bool)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextData {
    pub task: Option<TaskView>,
    pub progress: MyProgress,
}

/// What a submit or an edit from the page names, checked: the project (one
/// the caller may work on), the task id and the idempotency key.
#[cfg(feature = "ssr")]
struct Judging {
    db: arbiter_core::storage::Db,
    user: arbiter_core::services::User,
    project: arbiter_core::storage::projects::Project,
    id: arbiter_core::domain::TaskId,
    key: arbiter_core::domain::ClientKey,
}

#[cfg(feature = "ssr")]
async fn judging(slug: &str, task_id: &str, client_key: &str) -> Result<Judging, ServerFnError> {
    use arbiter_core::domain::{ClientKey, TaskId};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = arbiter_core::services::projects::visible(&db, &user, slug).await.map_err(ctx::fail)?;
    let id = TaskId::parse(task_id).ok_or_else(|| ctx::fail(arbiter_core::Error::not_found("no such task")))?;
    let key = ClientKey::parse(client_key).map_err(ctx::bad)?;
    Ok(Judging { db, user, project, id, key })
}

/// The task to go on with after an action, and the caller's progress.
#[cfg(feature = "ssr")]
async fn next_data(
    db: &arbiter_core::storage::Db,
    project: &arbiter_core::storage::projects::Project,
    user: &arbiter_core::services::User,
) -> Result<NextData, ServerFnError> {
    use arbiter_core::services::tasks;
    let task = tasks::next(db, project, user).await.map_err(ctx::fail)?;
    let progress = tasks::progress(db, project, user).await.map_err(ctx::fail)?;
    Ok(NextData { task, progress })
}

#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn load_annotate(slug: String, edit: Option<String>) -> Result<AnnotateData, ServerFnError> {
    use arbiter_core::domain::TaskId;
    use arbiter_core::services::{projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = projects::visible(&db, &user, &slug).await.map_err(ctx::fail)?;
    // `?edit=<task>`: one of the caller's judgements, to change it.
    let judged = match edit.as_deref().map(TaskId::parse) {
        Some(Some(id)) => tasks::judged(&db, &project, &user, Some(id), None).await.map_err(ctx::fail)?,
        Some(None) => None,
        None => None,
    };
    let (task, editing) = match judged {
        Some(j) => (Some(j.task), Some((j.input, j.editable))),
        None => (tasks::next(&db, &project, &user).await.map_err(ctx::fail)?, None),
    };
    let progress = tasks::progress(&db, &project, &user).await.map_err(ctx::fail)?;
    Ok(AnnotateData {
        guidelines_html: arbiter_core::render::markdown(&project.guidelines),
        slug: project.slug,
        title: project.title,
        flags: project.flags,
        task,
        progress,
        client_key: uuid::Uuid::new_v4().to_string(),
        editing,
    })
}

/// Backspace on the page: the caller's latest judgement in the project
/// (before the one of task `before`, pressing again), to change it.
#[server(prefix = "/sfn", input = crate::api::codec::Json, output = crate::api::codec::Json)]
pub async fn undo_last(
    slug: String,
    before: Option<String>,
) -> Result<Option<arbiter_core::domain::views::JudgedTask>, ServerFnError> {
    use arbiter_core::domain::TaskId;
    use arbiter_core::services::{projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = projects::visible(&db, &user, &slug).await.map_err(ctx::fail)?;
    let before = before.as_deref().and_then(TaskId::parse);
    tasks::judged(&db, &project, &user, None, before).await.map_err(ctx::fail)
}

/// Changes an earlier judgement (inside the undo window) and returns the
/// task to go on with, as `submit_and_next` does.
#[server(prefix = "/sfn", input = crate::api::codec::Json, output = crate::api::codec::Json)]
pub async fn edit_and_next(
    slug: String,
    task_id: String,
    client_key: String,
    input: AnnotationInput,
) -> Result<NextData, ServerFnError> {
    use arbiter_core::services::tasks;
    let Judging { db, user, project, id, key } = judging(&slug, &task_id, &client_key).await?;
    tasks::edit(&db, &user, Some(&project), tasks::EditTarget::Task(id), &key, &input).await.map_err(ctx::fail)?;
    next_data(&db, &project, &user).await
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryData {
    pub slug: String,
    pub title: String,
    pub undo_judgements: i64,
    pub undo_minutes: i64,
    pub items: Vec<arbiter_core::domain::views::HistoryItem>,
}

/// The caller's own judgements in the project, newest first.
#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn load_history(slug: String) -> Result<HistoryData, ServerFnError> {
    use arbiter_core::services::{projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = projects::visible(&db, &user, &slug).await.map_err(ctx::fail)?;
    let items = tasks::history(&db, &project, &user).await.map_err(ctx::fail)?;
    Ok(HistoryData {
        slug: project.slug,
        title: project.title,
        undo_judgements: project.undo_judgements,
        undo_minutes: project.undo_minutes,
        items,
    })
}

/// Submits a judgement and returns the next task in the same round trip
/// (and the same transaction). The client key makes retries safe: the
/// browser resends the same key until it hears back.
#[server(prefix = "/sfn", input = crate::api::codec::Json, output = crate::api::codec::Json)]
pub async fn submit_and_next(
    slug: String,
    task_id: String,
    client_key: String,
    input: AnnotationInput,
) -> Result<NextData, ServerFnError> {
    use arbiter_core::services::tasks;
    let Judging { db, user, project, id, key } = judging(&slug, &task_id, &client_key).await?;
    let (_, _, task) = tasks::submit_and_next(&db, &user, &project, id, &key, &input).await.map_err(ctx::fail)?;
    let progress = tasks::progress(&db, &project, &user).await.map_err(ctx::fail)?;
    Ok(NextData { task, progress })
}

/// The task after the current one, leased ahead: the page shows it the
/// moment the current one is submitted, without waiting for the server.
#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn prefetch_task(slug: String) -> Result<Option<TaskView>, ServerFnError> {
    use arbiter_core::services::{projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = projects::visible(&db, &user, &slug).await.map_err(ctx::fail)?;
    tasks::prefetch(&db, &project, &user).await.map_err(ctx::fail)
}

#[server(prefix = "/sfn", input = crate::api::codec::Json, output = crate::api::codec::Json)]
pub async fn skip_and_next(slug: String, task_id: String, reason: Option<String>) -> Result<NextData, ServerFnError> {
    use arbiter_core::domain::TaskId;
    use arbiter_core::services::{projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = projects::visible(&db, &user, &slug).await.map_err(ctx::fail)?;
    let id = TaskId::parse(&task_id).ok_or_else(|| ctx::fail(arbiter_core::Error::not_found("no such task")))?;
    tasks::skip(&db, &user, Some(&project), id, reason.as_deref()).await.map_err(ctx::fail)?;
    next_data(&db, &project, &user).await
}
