use super::{now_ms, Tx};
use sqlx::SqliteExecutor;

pub struct NewInvite<'a> {
    pub token_hash: &'a str,
    pub role: &'a str,
    pub projects: &'a [String],
    pub user_id: Option<i64>,
    pub created_by: Option<i64>,
    pub expires_at: i64,
}

pub async fn insert(db: impl SqliteExecutor<'_>, n: &NewInvite<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO invites (token_hash, role, projects, user_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(n.token_hash)
    .bind(n.role)
    .bind(serde_json::to_string(n.projects).unwrap_or_else(|_| "[]".into()))
    .bind(n.user_id)
    .bind(n.created_by)
    .bind(now_ms())
    .bind(n.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: i64,
    pub role: String,
    pub projects: Vec<String>,
    /// For a password reset: the user and their name.
    pub user: Option<(i64, String)>,
}

/// A live invite: unused and not expired.
pub async fn live(db: impl SqliteExecutor<'_>, token_hash: &str) -> sqlx::Result<Option<Invite>> {
    let row: Option<(i64, String, String, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT i.id, i.role, i.projects, i.user_id, u.username FROM invites i LEFT JOIN users u ON u.id = i.user_id
         WHERE i.token_hash = ? AND i.used_at IS NULL AND i.expires_at > ?",
    )
    .bind(token_hash)
    .bind(now_ms())
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, role, projects, user_id, username)| Invite {
        id,
        role,
        projects: serde_json::from_str(&projects).unwrap_or_default(),
        user: user_id.zip(username),
    }))
}

/// Marks the invite used; false when someone used it first.
pub async fn consume(tx: &mut Tx, id: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE invites SET used_at = ? WHERE id = ? AND used_at IS NULL")
        .bind(now_ms())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}
