use super::{new_uuid, now_ms};
use super::{on, Ex};
pub use crate::domain::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub uuid: String,
    pub username: String,
    pub role: Role,
    pub active: bool,
    pub prefs: crate::domain::prefs::Prefs,
}

/// The columns every user lookup reads, in `UserRow` order (`u.` prefixed).
pub const USER_COLUMNS: &str = "u.id, u.uuid, u.username, u.role, u.active, u.theme, u.text_size, u.language";

pub type UserRow = (i64, String, String, String, bool, String, i64, Option<String>);

fn from_row((id, uuid, username, role, active, theme, text_size, language): UserRow) -> User {
    let prefs = crate::domain::prefs::Prefs {
        theme: crate::domain::prefs::Theme::parse(&theme).unwrap_or_default(),
        text_size,
        language: language.as_deref().and_then(crate::domain::prefs::Lang::parse),
    };
    User { id, uuid, username, role: Role::parse(&role).unwrap_or(Role::Annotator), active, prefs }
}

pub async fn insert(db: impl Into<Ex<'_>>, username: &str, password_hash: &str, role: Role) -> sqlx::Result<User> {
    let uuid = new_uuid();
    let id: i64 = on!(db, e => sqlx::query_scalar(
        "INSERT INTO users (uuid, username, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&uuid)
    .bind(username)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now_ms())
    .fetch_one(e)
    .await)?;
    Ok(User { id, uuid, username: username.to_owned(), role, active: true, prefs: Default::default() })
}

/// The user and their password hash, for login.
pub async fn by_username(db: impl Into<Ex<'_>>, username: &str) -> sqlx::Result<Option<(User, Option<String>)>> {
    let ex: Ex<'_> = db.into();
    // SQLite's column is NOCASE; PostgreSQL's unique index is on lower(username).
    let by = match ex.dialect() {
        super::Dialect::Sqlite => "u.username = $1",
        super::Dialect::Postgres => "lower(u.username) = lower($1)",
    };
    let row: Option<(i64, String, String, String, bool, String, i64, Option<String>, Option<String>)> = on!(ex, e => sqlx::query_as(&format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE {by}"))
            .bind(username)
            .fetch_optional(e)
            .await)?;
    Ok(row.map(|(id, uuid, name, role, active, theme, size, language, hash)| {
        (from_row((id, uuid, name, role, active, theme, size, language)), hash)
    }))
}

pub async fn list(db: impl Into<Ex<'_>>) -> sqlx::Result<Vec<UserSummary>> {
    let rows: Vec<(String, String, String, bool, Option<i64>, i64)> = on!(db, e => sqlx::query_as(
        "SELECT u.uuid, u.username, u.role, u.active, u.last_seen_at,
                (SELECT COUNT(*) FROM annotations a WHERE a.annotator_id = u.id)
         FROM users u ORDER BY u.username",
    )
    .fetch_all(e)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(uuid, username, role, active, last_seen_at, annotations)| UserSummary {
            uuid,
            username,
            role,
            active,
            last_seen_at,
            annotations,
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub uuid: String,
    pub username: String,
    pub role: String,
    pub active: bool,
    pub last_seen_at: Option<i64>,
    pub annotations: i64,
}

pub async fn count_admins(db: impl Into<Ex<'_>>) -> sqlx::Result<i64> {
    on!(db, e => sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = TRUE").fetch_one(e).await)
}

pub async fn touch(db: impl Into<Ex<'_>>, user_id: i64) -> sqlx::Result<()> {
    on!(db, e => sqlx::query("UPDATE users SET last_seen_at = $1 WHERE id = $2").bind(now_ms()).bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub(crate) fn user_from_row(row: UserRow) -> User {
    from_row(row)
}

pub async fn set_role(db: impl Into<Ex<'_>>, user_id: i64, role: Role) -> sqlx::Result<()> {
    on!(db, e => sqlx::query("UPDATE users SET role = $1 WHERE id = $2").bind(role.as_str()).bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_active(db: impl Into<Ex<'_>>, user_id: i64, active: bool) -> sqlx::Result<()> {
    on!(db, e => sqlx::query("UPDATE users SET active = $1 WHERE id = $2").bind(active).bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_password(db: impl Into<Ex<'_>>, user_id: i64, hash: &str) -> sqlx::Result<()> {
    on!(db, e => sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Projects (slugs) each user belongs to.
pub async fn memberships(db: impl Into<Ex<'_>>) -> sqlx::Result<Vec<(String, String)>> {
    on!(db, e => sqlx::query_as(
        "SELECT u.username, p.slug FROM project_members m JOIN users u ON u.id = m.user_id
         JOIN projects p ON p.id = m.project_id ORDER BY p.slug",
    )
    .fetch_all(e)
    .await)
}

/// Stores a user's display preferences.
pub async fn set_prefs(db: impl Into<Ex<'_>>, user_id: i64, prefs: crate::domain::prefs::Prefs) -> sqlx::Result<()> {
    on!(db, e => sqlx::query("UPDATE users SET theme = $1, text_size = $2, language = $3 WHERE id = $4")
        .bind(prefs.theme.name())
        .bind(prefs.text_size)
        .bind(prefs.language.map(|l| l.code()))
        .bind(user_id)
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}
