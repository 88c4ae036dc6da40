use super::now_ms;
use super::users::{user_from_row, User};
use super::{on, Ex};

pub async fn insert(db: impl Into<Ex<'_>>, id_hash: &str, user_id: i64, expires_at: i64) -> sqlx::Result<()> {
    let now = now_ms();
    on!(db, e => sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id_hash)
        .bind(user_id)
        .bind(now)
        .bind(now)
        .bind(expires_at)
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The active user behind a live session, and when the session was last
/// seen (to refresh that at most once a minute).
pub async fn lookup(db: impl Into<Ex<'_>>, id_hash: &str, idle_cutoff: i64) -> sqlx::Result<Option<(User, i64)>> {
    let row: Option<(i64, String, String, String, bool, String, i64, Option<String>, i64)> = on!(db, e => sqlx::query_as(
        "SELECT u.id, u.uuid, u.username, u.role, u.active, u.theme, u.text_size, u.language, s.last_seen_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.active = TRUE",
    )
    .bind(id_hash)
    .bind(now_ms())
    .bind(idle_cutoff)
    .fetch_optional(e)
    .await)?;
    Ok(row.map(|(id, uuid, name, role, active, theme, size, language, seen)| {
        (user_from_row((id, uuid, name, role, active, theme, size, language)), seen)
    }))
}

pub async fn touch(db: impl Into<Ex<'_>>, id_hash: &str) -> sqlx::Result<()> {
    on!(db, e => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(now_ms())
        .bind(id_hash)
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(db: impl Into<Ex<'_>>, id_hash: &str) -> sqlx::Result<()> {
    on!(db, e => sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends every session of a user (logout everywhere, deactivation, password reset).
pub async fn delete_all_of(db: impl Into<Ex<'_>>, user_id: i64) -> sqlx::Result<u64> {
    Ok(
        on!(db, e => sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(e).await.map(|r| r.rows_affected()))?,
    )
}
