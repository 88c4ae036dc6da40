//! Server functions: the pages' read path (and the hydrated annotator's
//! submit). Each checks who is calling, then calls a core service.
use arbiter_core::domain::views::{AnnotationInput, MyProgress, TaskView};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub username: String,
    pub is_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectCard {
    pub slug: String,
    pub title: String,
    pub progress: MyProgress,
}

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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextData {
    pub task: Option<TaskView>,
    pub progress: MyProgress,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectRow {
    pub slug: String,
    pub title: String,
    pub pairs: i64,
    pub complete_pairs: i64,
    pub annotations: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminProjectData {
    pub slug: String,
    pub title: String,
    pub guidelines: String,
    pub annotations_per_pair: i64,
    pub lease_seconds: i64,
    pub flags: Vec<String>,
    pub prompts: i64,
    pub pairs: i64,
    pub complete_pairs: i64,
    pub annotations: i64,
    pub live_leases: i64,
    pub over_covered_pairs: i64,
    pub annotators: Vec<(String, i64, i64)>,
    pub members: Vec<String>,
    pub import: Option<ImportView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportView {
    pub filename: String,
    pub ok: bool,
    pub summary: String,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub username: String,
    pub projects: Vec<String>,
    pub role: String,
    pub active: bool,
    pub last_seen: String,
    pub annotations: i64,
}

#[cfg(feature = "ssr")]
mod ctx {
    use arbiter_core::services::User;
    use arbiter_core::storage::Db;
    use arbiter_core::Error;
    use leptos::prelude::*;

    pub fn db() -> Result<Db, ServerFnError> {
        use_context::<Db>().ok_or_else(|| ServerFnError::new("server misconfigured: no database"))
    }

    /// The user the auth middleware found for this request, if any.
    pub fn user() -> Option<User> {
        use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<User>().cloned())
    }

    /// Where one-time secrets wait for their page (see `services::reveal`).
    pub fn reveal() -> std::sync::Arc<arbiter_core::services::reveal::Reveal> {
        use_context::<std::sync::Arc<arbiter_core::services::reveal::Reveal>>().unwrap_or_default()
    }

    /// The site's public base URL, for links shown to admins.
    pub fn public_url() -> String {
        use_context::<crate::PublicUrl>().map(|u| u.0).unwrap_or_default()
    }

    pub fn require_user() -> Result<User, ServerFnError> {
        user().ok_or_else(|| fail(Error::Unauthorized("please log in".into())))
    }

    /// Maps a core error to the server-function error and the response status.
    pub fn fail(e: Error) -> ServerFnError {
        let status = match &e {
            Error::BadRequest(_) | Error::Import(_) => http::StatusCode::BAD_REQUEST,
            Error::NotFound(_) => http::StatusCode::NOT_FOUND,
            Error::Conflict(_) => http::StatusCode::CONFLICT,
            Error::Unauthorized(_) => http::StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => http::StatusCode::NOT_FOUND,
            Error::Internal(cause) => {
                tracing::error!(error = ?cause, "server function failed");
                http::StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(status);
        }
        // Forbidden reads as not found so other projects' existence does not leak.
        match e {
            Error::Forbidden(_) => ServerFnError::new("not found"),
            other => ServerFnError::new(other.to_string()),
        }
    }
}

#[server(prefix = "/sfn")]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    use arbiter_core::services::Role;
    Ok(ctx::user().map(|u| Me { username: u.username, is_admin: u.role == Role::Admin }))
}

#[server(prefix = "/sfn")]
pub async fn my_projects() -> Result<Vec<ProjectCard>, ServerFnError> {
    use arbiter_core::services::{projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let mut out = Vec::new();
    for p in projects::list_for(&db, &user).await.map_err(ctx::fail)? {
        let progress = tasks::progress(&db, &p, &user).await.map_err(ctx::fail)?;
        out.push(ProjectCard { slug: p.slug, title: p.title, progress });
    }
    Ok(out)
}

#[server(prefix = "/sfn")]
pub async fn load_annotate(slug: String) -> Result<AnnotateData, ServerFnError> {
    use arbiter_core::services::{projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = projects::visible(&db, &user, &slug).await.map_err(ctx::fail)?;
    let task = tasks::next(&db, &project, &user).await.map_err(ctx::fail)?;
    let progress = tasks::progress(&db, &project, &user).await.map_err(ctx::fail)?;
    Ok(AnnotateData {
        guidelines_html: arbiter_core::render::markdown(&project.guidelines),
        slug: project.slug,
        title: project.title,
        flags: project.flags,
        task,
        progress,
        client_key: uuid::Uuid::new_v4().to_string(),
    })
}

/// Submits a judgement and returns the next task in the same round trip.
/// The client key makes retries safe: the browser resends the same key
/// until it hears back.
#[server(prefix = "/sfn", input = Json)]
pub async fn submit_and_next(
    slug: String,
    task_id: String,
    client_key: String,
    input: AnnotationInput,
) -> Result<NextData, ServerFnError> {
    use arbiter_core::services::{projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = projects::visible(&db, &user, &slug).await.map_err(ctx::fail)?;
    tasks::submit(&db, &user, &task_id, &client_key, &input).await.map_err(ctx::fail)?;
    let task = tasks::next(&db, &project, &user).await.map_err(ctx::fail)?;
    let progress = tasks::progress(&db, &project, &user).await.map_err(ctx::fail)?;
    Ok(NextData { task, progress })
}

/// The task after the current one, leased ahead: the page shows it the
/// moment the current one is submitted, without waiting for the server.
#[server(prefix = "/sfn")]
pub async fn prefetch_task(slug: String) -> Result<Option<TaskView>, ServerFnError> {
    use arbiter_core::services::{projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = projects::visible(&db, &user, &slug).await.map_err(ctx::fail)?;
    tasks::prefetch(&db, &project, &user).await.map_err(ctx::fail)
}

#[server(prefix = "/sfn", input = Json)]
pub async fn skip_and_next(slug: String, task_id: String, reason: Option<String>) -> Result<NextData, ServerFnError> {
    use arbiter_core::services::{projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = projects::visible(&db, &user, &slug).await.map_err(ctx::fail)?;
    tasks::skip(&db, &user, &task_id, reason.as_deref()).await.map_err(ctx::fail)?;
    let task = tasks::next(&db, &project, &user).await.map_err(ctx::fail)?;
    let progress = tasks::progress(&db, &project, &user).await.map_err(ctx::fail)?;
    Ok(NextData { task, progress })
}

#[server(prefix = "/sfn")]
pub async fn admin_projects() -> Result<Vec<ProjectRow>, ServerFnError> {
    use arbiter_core::services::{auth, projects};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    auth::require_admin(&user).map_err(ctx::fail)?;
    let mut out = Vec::new();
    for p in projects::list_for(&db, &user).await.map_err(ctx::fail)? {
        let c = arbiter_core::storage::projects::counts(&db.read, &p).await.map_err(|e| ctx::fail(e.into()))?;
        out.push(ProjectRow {
            slug: p.slug,
            title: p.title,
            pairs: c.pairs,
            complete_pairs: c.complete_pairs,
            annotations: c.annotations,
        });
    }
    Ok(out)
}

#[server(prefix = "/sfn")]
pub async fn admin_project(slug: String, import_id: Option<String>) -> Result<AdminProjectData, ServerFnError> {
    use arbiter_core::services::projects;
    use arbiter_core::storage::{imports, projects as store};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let p = projects::administered(&db, &user, &slug).await.map_err(ctx::fail)?;
    let c = store::counts(&db.read, &p).await.map_err(|e| ctx::fail(e.into()))?;
    let annotators = store::per_annotator(&db.read, p.id)
        .await
        .map_err(|e| ctx::fail(e.into()))?
        .into_iter()
        .map(|a| (a.username, a.annotations, a.skipped))
        .collect();
    let members = store::members(&db.read, p.id).await.map_err(|e| ctx::fail(e.into()))?;
    let import = match import_id {
        Some(id) => imports::get(&db.read, p.id, &id).await.map_err(|e| ctx::fail(e.into()))?.map(import_view),
        None => None,
    };
    Ok(AdminProjectData {
        slug: p.slug,
        title: p.title,
        guidelines: p.guidelines,
        annotations_per_pair: p.annotations_per_pair,
        lease_seconds: p.lease_seconds,
        flags: p.flags,
        prompts: c.prompts,
        pairs: c.pairs,
        complete_pairs: c.complete_pairs,
        annotations: c.annotations,
        live_leases: c.live_leases,
        over_covered_pairs: c.over_covered_pairs,
        annotators,
        members,
        import,
    })
}

#[cfg(feature = "ssr")]
fn import_view((filename, ok, report): (String, bool, serde_json::Value)) -> ImportView {
    use arbiter_core::services::import::ImportReport;
    match serde_json::from_value::<ImportReport>(report) {
        Ok(r) => ImportView {
            filename,
            ok,
            summary: if ok {
                format!(
                    "Imported {} lines: {} new prompts ({} already there), {} completions, {} pairs.",
                    r.lines, r.added.prompts, r.added.prompts_existing, r.added.completions, r.added.pairs
                )
            } else {
                format!("{} bad line(s) in {} lines; nothing was imported.", r.error_count, r.lines)
            },
            errors: r.errors.iter().map(|e| e.to_string()).collect(),
        },
        Err(_) => ImportView { filename, ok, summary: "report unreadable".into(), errors: vec![] },
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminUsersData {
    pub users: Vec<UserRow>,
    /// An invite or reset link created just now, shown this once.
    pub revealed: Option<String>,
    pub projects: Vec<String>,
}

#[server(prefix = "/sfn")]
pub async fn admin_users(reveal: Option<String>) -> Result<AdminUsersData, ServerFnError> {
    use arbiter_core::services::{auth, projects};
    use arbiter_core::storage::users;
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    auth::require_admin(&user).map_err(ctx::fail)?;
    let list = users::list(&db.read).await.map_err(|e| ctx::fail(e.into()))?;
    let members = users::memberships(&db.read).await.map_err(|e| ctx::fail(e.into()))?;
    let all_projects = projects::list_for(&db, &user).await.map_err(ctx::fail)?.into_iter().map(|p| p.slug).collect();
    let revealed = reveal
        .and_then(|id| ctx::reveal().take(user.id, &id))
        .map(|token| format!("{}/invite/{token}", ctx::public_url()));
    Ok(AdminUsersData {
        users: list
            .into_iter()
            .map(|u| UserRow {
                projects: members.iter().filter(|(name, _)| name == &u.username).map(|(_, p)| p.clone()).collect(),
                username: u.username,
                role: u.role,
                active: u.active,
                last_seen: u.last_seen_at.map(arbiter_core::storage::rfc3339).unwrap_or_else(|| "never".into()),
                annotations: u.annotations,
            })
            .collect(),
        revealed,
        projects: all_projects,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteView {
    pub role: String,
    pub projects: Vec<String>,
    /// Set when the link resets this user's password.
    pub reset_for: Option<String>,
}

/// What an invite link offers; public, as the invitee has no account yet.
#[server(prefix = "/sfn")]
pub async fn invite_info(token: String) -> Result<Option<InviteView>, ServerFnError> {
    use arbiter_core::services::accounts;
    let db = ctx::db()?;
    let info = accounts::invite_info(&db, &token).await.map_err(ctx::fail)?;
    Ok(info.map(|i| InviteView { role: i.role, projects: i.projects, reset_for: i.user.map(|(_, name)| name) }))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRow {
    pub uuid: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountData {
    pub username: String,
    pub tokens: Vec<TokenRow>,
    /// A token created just now, shown this once.
    pub revealed: Option<String>,
}

#[server(prefix = "/sfn")]
pub async fn load_account(reveal: Option<String>) -> Result<AccountData, ServerFnError> {
    use arbiter_core::storage::{rfc3339, tokens};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let list = tokens::list_for(&db.read, user.id).await.map_err(|e| ctx::fail(e.into()))?;
    Ok(AccountData {
        revealed: reveal.and_then(|id| ctx::reveal().take(user.id, &id)),
        username: user.username,
        tokens: list
            .into_iter()
            .map(|t| TokenRow {
                uuid: t.uuid,
                name: t.name,
                created: rfc3339(t.created_at),
                last_used: t.last_used_at.map(rfc3339).unwrap_or_else(|| "never".into()),
                revoked: t.revoked_at.is_some(),
            })
            .collect(),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[server(prefix = "/sfn")]
pub async fn audit_log() -> Result<Vec<AuditRow>, ServerFnError> {
    use arbiter_core::services::auth;
    use arbiter_core::storage::{audit, rfc3339};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    auth::require_admin(&user).map_err(ctx::fail)?;
    let rows = audit::recent(&db.read, 500).await.map_err(|e| ctx::fail(e.into()))?;
    Ok(rows
        .into_iter()
        .map(|e| AuditRow { at: rfc3339(e.at), actor: e.actor, action: e.action, target: e.target, detail: e.detail })
        .collect())
}
