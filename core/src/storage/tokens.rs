use super::users::{user_from_row, User};
use super::{new_uuid, now_ms};
use sqlx::SqliteExecutor;

pub async fn insert(db: impl SqliteExecutor<'_>, user_id: i64, name: &str, token_hash: &str) -> sqlx::Result<String> {
    let uuid = new_uuid();
    sqlx::query("INSERT INTO api_tokens (uuid, user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&uuid)
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(now_ms())
        .execute(db)
        .await?;
    Ok(uuid)
}

/// The active user behind a live (unrevoked) token, and when it was last used.
pub async fn lookup(db: impl SqliteExecutor<'_>, token_hash: &str) -> sqlx::Result<Option<(User, Option<i64>)>> {
    let row: Option<(i64, String, String, String, bool, Option<i64>)> = sqlx::query_as(
        "SELECT u.id, u.uuid, u.username, u.role, u.active, t.last_used_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.active = 1",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, uuid, name, role, active, used)| (user_from_row((id, uuid, name, role, active)), used)))
}

pub async fn touch(db: impl SqliteExecutor<'_>, token_hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?").bind(now_ms()).bind(token_hash).execute(db).await?;
    Ok(())
}
