use crate::domain::settings::MAX_RANKED;
use crate::domain::{ProjectSlug, Role, Settings, SettingsInput, TaskType};
use crate::services::accounts::record;
use crate::services::auth::require_admin;
use crate::storage::assignments::{self, AnnotatorCount};
use crate::storage::projects::{self, Counts, Project};
use crate::storage::users::User;
use crate::storage::{imports, Db};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub async fn create(db: &Db, actor: &str, slug: &str, input: SettingsInput) -> Result<Project> {
    let slug = ProjectSlug::parse(slug).map_err(|e| Error::bad(format!("slug: {e}")))?;
    let settings = Settings::parse(input)?;
    match projects::insert(&db.write, slug.as_str(), &settings).await {
        Ok(p) => {
            record(db, actor, "project.create", &p.slug, json!({"settings": settings})).await?;
            Ok(p)
        }
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(Error::Conflict(format!("slug: a project {slug} exists already")))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn update(db: &Db, actor: &str, project: &Project, input: SettingsInput) -> Result<()> {
    let settings = Settings::parse(input)?;
    if settings.task_type == TaskType::Ranking {
        if let Some((prompt, n)) = projects::most_completions(&db.read, project.id).await? {
            if n as usize > MAX_RANKED {
                return Err(Error::bad(format!(
                    "task_type: ranking shows at most {MAX_RANKED} completions, and prompt {prompt:?} has {n}"
                )));
            }
        }
    }
    if !projects::update(&db.write, project.id, &settings).await? {
        return Err(Error::Conflict(
            "task_type: the project has annotations (or tasks out with annotators); its task type, aspects and scale can no longer change".into(),
        ));
    }
    if settings.selection != project.selection {
        let on = settings.selection == crate::domain::ModelSelection::Active;
        crate::storage::prompts::set_model_pairs(&db.write, project.id, on).await?;
    }
    record(db, actor, "project.settings", &project.slug, json!({"settings": settings})).await
}

/// The project if this user may work on it. Not being a member looks exactly
/// like the project not existing, so ids of other projects leak nothing.
pub async fn visible(db: &Db, user: &User, slug: &str) -> Result<Project> {
    let missing = || Error::not_found(format!("no project {slug:?}"));
    let project = match db.caches.projects.get(&slug.to_owned()) {
        Some(p) => p,
        None => {
            let p = projects::by_slug(&db.read, slug).await?.ok_or_else(missing)?;
            db.caches.projects.put(slug.to_owned(), p.clone());
            p
        }
    };
    if user.role == Role::Admin || is_member(db, project.id, user.id).await? {
        Ok(project)
    } else {
        Err(missing())
    }
}

/// For admin-only actions: the project, or not found.
pub async fn administered(db: &Db, user: &User, slug: &str) -> Result<Project> {
    require_admin(user)?;
    visible(db, user, slug).await
}

async fn is_member(db: &Db, project_id: i64, user_id: i64) -> Result<bool> {
    if let Some(m) = db.caches.members.get(&(project_id, user_id)) {
        return Ok(m);
    }
    let m = projects::is_member(&db.read, project_id, user_id).await?;
    db.caches.members.put((project_id, user_id), m);
    Ok(m)
}

pub async fn list_for(db: &Db, user: &User) -> Result<Vec<Project>> {
    let filter = (user.role != Role::Admin).then_some(user.id);
    Ok(projects::visible_to(&db.read, filter).await?)
}

pub async fn add_member(db: &Db, actor: &str, project: &Project, username: &str) -> Result<()> {
    let (user, _) = crate::storage::users::by_username(&db.read, username.trim())
        .await?
        .ok_or_else(|| Error::not_found(format!("username: no user {:?}", username.trim())))?;
    projects::add_member(&db.write, project.id, user.id).await?;
    record(db, actor, "project.add_member", &project.slug, json!({"user": user.username})).await
}

/// A project's progress as a member may see it: the totals, and the
/// per-annotator counts — every annotator's for admins, only one's own for
/// everyone else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub project: String,
    pub task_type: crate::domain::TaskType,
    /// What the `pairs_*` figures count: `pairs`, or `prompts` (the tasks of
    /// ranking and rating projects).
    pub unit: String,
    pub annotations_per_pair: i64,
    pub pairs_total: i64,
    pub pairs_complete: i64,
    pub pairs_over_covered: i64,
    pub prompts: i64,
    pub annotations: i64,
    pub live_leases: i64,
    pub annotators: Vec<AnnotatorCount>,
}

pub async fn progress(db: &Db, user: &User, project: &Project) -> Result<Progress> {
    counted(db, project, (user.role != Role::Admin).then_some(user.id)).await
}

/// The progress with every annotator's counts, or `only` one's.
pub(crate) async fn counted(db: &Db, project: &Project, only: Option<i64>) -> Result<Progress> {
    let c = projects::counts(&db.read, project).await?;
    let annotators = assignments::per_annotator(&db.read, project.id, only).await?;
    Ok(Progress {
        project: project.slug.clone(),
        task_type: project.task_type,
        unit: c.unit.clone(),
        annotations_per_pair: project.annotations_per_pair,
        pairs_total: c.pairs,
        pairs_complete: c.complete_pairs,
        pairs_over_covered: c.over_covered_pairs,
        prompts: c.prompts,
        annotations: c.annotations,
        live_leases: c.live_leases,
        annotators,
    })
}

/// Every project with its counts, for the admin's list.
pub async fn overview(db: &Db, admin: &User) -> Result<Vec<(Project, Counts)>> {
    require_admin(admin)?;
    let mut out = Vec::new();
    for p in projects::visible_to(&db.read, None).await? {
        let c = projects::counts(&db.read, &p).await?;
        out.push((p, c));
    }
    Ok(out)
}

/// What the admin's project page shows.
pub struct Detail {
    pub project: Project,
    pub counts: Counts,
    pub annotators: Vec<AnnotatorCount>,
    pub members: Vec<String>,
    /// (filename, ok, report) of the import named in the page's URL.
    pub import: Option<(String, bool, serde_json::Value)>,
}

pub async fn detail(db: &Db, admin: &User, slug: &str, import_id: Option<&str>) -> Result<Detail> {
    let project = administered(db, admin, slug).await?;
    let counts = projects::counts(&db.read, &project).await?;
    let annotators = assignments::per_annotator(&db.read, project.id, None).await?;
    let members = projects::members(&db.read, project.id).await?;
    let import = match import_id {
        Some(id) => imports::get(&db.read, project.id, id).await?,
        None => None,
    };
    Ok(Detail { project, counts, annotators, members, import })
}

/// How many projects exist (the demo loads only into an empty database).
pub async fn count(db: &Db) -> Result<i64> {
    Ok(projects::count(&db.read).await?)
}
