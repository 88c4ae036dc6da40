use crate::domain::ProjectSlug;
use crate::services::accounts::record;
use crate::storage::projects::{self, Project, Settings};
use crate::storage::users::{Role, User};
use crate::storage::Db;
use crate::{Error, Result};
use serde_json::json;

pub const DEFAULT_FLAGS: [&str; 3] = ["unsafe", "factually wrong", "off-topic"];

impl Settings {
    pub fn new(title: &str) -> Settings {
        Settings {
            title: title.to_owned(),
            guidelines: String::new(),
            annotations_per_pair: 3,
            lease_seconds: 600,
            flags: DEFAULT_FLAGS.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Checks what a form or a flag gave, with a message naming the field.
    pub fn validate(mut self) -> Result<Settings> {
        self.title = self.title.trim().to_owned();
        if self.title.is_empty() || self.title.len() > 200 {
            return Err(Error::bad("title: must be 1-200 characters"));
        }
        if !(1..=100).contains(&self.annotations_per_pair) {
            return Err(Error::bad("annotations_per_pair: must be from 1 to 100"));
        }
        if !(10..=86_400).contains(&self.lease_seconds) {
            return Err(Error::bad("lease_seconds: must be from 10 to 86400"));
        }
        let mut flags: Vec<String> = Vec::new();
        for f in self.flags.iter().map(|f| f.trim()).filter(|f| !f.is_empty()) {
            if f.len() > 60 {
                return Err(Error::bad(format!("flags: {f:?} is longer than 60 characters")));
            }
            if !flags.iter().any(|g| g == f) {
                flags.push(f.to_owned());
            }
        }
        if flags.len() > 20 {
            return Err(Error::bad("flags: at most 20"));
        }
        self.flags = flags;
        Ok(self)
    }
}

pub async fn create(db: &Db, actor: &str, slug: &str, settings: Settings) -> Result<Project> {
    let slug = ProjectSlug::parse(slug).map_err(|e| Error::bad(format!("slug: {e}")))?;
    let settings = settings.validate()?;
    match projects::insert(&db.write, slug.as_str(), &settings).await {
        Ok(p) => {
            record(db, actor, "project.create", &p.slug, json!({"settings": settings})).await?;
            Ok(p)
        }
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(Error::Conflict(format!("a project {slug} exists already")))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn update(db: &Db, actor: &str, project: &Project, settings: Settings) -> Result<()> {
    let settings = settings.validate()?;
    projects::update(&db.write, project.id, &settings).await?;
    db.caches.clear_all();
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
    crate::services::auth::require_admin(user)?;
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
    let (user, _) = crate::storage::users::by_username(&db.read, username)
        .await?
        .ok_or_else(|| Error::not_found(format!("no user {username:?}")))?;
    projects::add_member(&db.write, project.id, user.id).await?;
    db.caches.clear_all();
    record(db, actor, "project.add_member", &project.slug, json!({"user": username})).await
}
