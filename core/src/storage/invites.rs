use super::{now_ms, Tx};
use super::{on, Ex};
use serde::{Deserialize, Serialize};

/// What a link is for (see the `invites` migration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Invite,
    Reset,
    FirstAdmin,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Invite => "invite",
            Kind::Reset => "reset",
            Kind::FirstAdmin => "first_admin",
        }
    }
}

pub struct NewInvite<'a> {
    pub kind: Kind,
    pub token_hash: &'a str,
    pub role: &'a str,
    pub projects: &'a [String],
    pub user_id: Option<i64>,
    pub created_by: Option<i64>,
    pub expires_at: i64,
}

pub async fn insert(db: impl Into<Ex<'_>>, n: &NewInvite<'_>) -> sqlx::Result<()> {
    on!(db, e => sqlx::query(
        "INSERT INTO invites (kind, token_hash, role, projects, user_id, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(n.kind.as_str())
    .bind(n.token_hash)
    .bind(n.role)
    .bind(serde_json::to_string(n.projects).unwrap_or_else(|_| "[]".into()))
    .bind(n.user_id)
    .bind(n.created_by)
    .bind(now_ms())
    .bind(n.expires_at)
    .execute(e)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: i64,
    pub role: String,
    pub projects: Vec<String>,
    /// For a password reset: the user and their name.
    pub user: Option<(i64, String)>,
    /// Who made the link (None: the system or the command line).
    pub created_by: Option<String>,
}

/// A live invite: unused, not voided, not expired; a first-admin link only
/// while no active admin exists.
pub async fn live(db: impl Into<Ex<'_>>, token_hash: &str) -> sqlx::Result<Option<Invite>> {
    let row: Option<(i64, String, String, Option<i64>, Option<String>, Option<String>)> = on!(db, e => sqlx::query_as(
        "SELECT i.id, i.role, i.projects, i.user_id, u.username, c.username
         FROM invites i LEFT JOIN users u ON u.id = i.user_id LEFT JOIN users c ON c.id = i.created_by
         WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2
           AND (i.kind <> 'first_admin'
                OR NOT EXISTS (SELECT 1 FROM users a WHERE a.role = 'admin' AND a.active = TRUE))",
    )
    .bind(token_hash)
    .bind(now_ms())
    .fetch_optional(e)
    .await)?;
    Ok(row.map(|(id, role, projects, user_id, username, created_by)| Invite {
        id,
        role,
        projects: serde_json::from_str(&projects).unwrap_or_default(),
        user: user_id.zip(username),
        created_by,
    }))
}

/// Marks the invite used; false when someone used it first.
pub async fn consume(tx: &mut Tx, id: i64) -> sqlx::Result<bool> {
    let r = on!(&mut *tx, e => sqlx::query("UPDATE invites SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(id)
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Voids the unused links an admin made (when they are demoted or deactivated).
pub async fn void_created_by(db: impl Into<Ex<'_>>, user_id: i64) -> sqlx::Result<u64> {
    let r = on!(db, e => sqlx::query(
        "UPDATE invites SET revoked_at = $1 WHERE created_by = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(user_id)
    .execute(e)
    .await.map(|r| r.rows_affected()))?;
    Ok(r)
}

/// Voids the unused links of one kind (and, for resets, of one user).
pub async fn void_kind(db: impl Into<Ex<'_>>, kind: Kind, user_id: Option<i64>) -> sqlx::Result<u64> {
    let r = on!(db, e => sqlx::query(
        "UPDATE invites SET revoked_at = $1
         WHERE kind = $2 AND ($3 IS NULL OR user_id = $3) AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(kind.as_str())
    .bind(user_id)
    .execute(e)
    .await.map(|r| r.rows_affected()))?;
    Ok(r)
}
