use super::users::{user_from_row, User};
use super::{new_uuid, now_ms};
use super::{on, Ex};

pub async fn insert(db: impl Into<Ex<'_>>, user_id: i64, name: &str, token_hash: &str) -> sqlx::Result<String> {
    let uuid = new_uuid();
    on!(db, e => sqlx::query("INSERT INTO api_tokens (uuid, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&uuid)
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(now_ms())
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(uuid)
}

/// The active user behind a live (unrevoked) token, and when it was last used.
pub async fn lookup(db: impl Into<Ex<'_>>, token_hash: &str) -> sqlx::Result<Option<(User, Option<i64>)>> {
    let row: Option<(i64, String, String, String, bool, String, i64, Option<String>, Option<i64>)> = on!(db, e => sqlx::query_as(
        "SELECT u.id, u.uuid, u.username, u.role, u.active, u.theme, u.text_size, u.language, t.last_used_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active = TRUE",
    )
    .bind(token_hash)
    .fetch_optional(e)
    .await)?;
    Ok(row.map(|(id, uuid, name, role, active, theme, size, language, used)| {
        (user_from_row((id, uuid, name, role, active, theme, size, language)), used)
    }))
}

pub async fn touch(db: impl Into<Ex<'_>>, token_hash: &str) -> sqlx::Result<()> {
    on!(db, e => sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2")
        .bind(now_ms())
        .bind(token_hash)
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenInfo {
    pub uuid: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn list_for(db: impl Into<Ex<'_>>, user_id: i64) -> sqlx::Result<Vec<TokenInfo>> {
    let rows: Vec<(String, String, i64, Option<i64>, Option<i64>)> = on!(db, e => sqlx::query_as(
        "SELECT uuid, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY id DESC",
    )
    .bind(user_id)
    .fetch_all(e)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(uuid, name, created_at, last_used_at, revoked_at)| TokenInfo {
            uuid,
            name,
            created_at,
            last_used_at,
            revoked_at,
        })
        .collect())
}

/// Revokes one of the user's tokens; false when there is no such live token.
pub async fn revoke(db: impl Into<Ex<'_>>, user_id: i64, uuid: &str) -> sqlx::Result<bool> {
    let r = on!(db, e => sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND uuid = $3 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(user_id)
        .bind(uuid)
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Revokes every live token of a user, for good (deactivation, or a
/// password reset that asks for it). Returns how many.
pub async fn revoke_all_of(db: impl Into<Ex<'_>>, user_id: i64) -> sqlx::Result<u64> {
    let r = on!(db, e => sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(user_id)
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(r)
}
