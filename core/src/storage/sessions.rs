use super::now_ms;
use super::users::{user_from_row, User};
use sqlx::SqliteExecutor;

pub async fn insert(db: impl SqliteExecutor<'_>, id_hash: &str, user_id: i64, expires_at: i64) -> sqlx::Result<()> {
    let now = now_ms();
    sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)")
        .bind(id_hash)
        .bind(user_id)
        .bind(now)
        .bind(now)
        .bind(expires_at)
        .execute(db)
        .await?;
    Ok(())
}

/// The active user behind a live session, and when the session was last
/// seen (to refresh that at most once a minute).
pub async fn lookup(db: impl SqliteExecutor<'_>, id_hash: &str, idle_cutoff: i64) -> sqlx::Result<Option<(User, i64)>> {
    let row: Option<(i64, String, String, String, bool, String, i64, Option<String>, i64)> = sqlx::query_as(
        "SELECT u.id, u.uuid, u.username, u.role, u.active, u.theme, u.text_size, u.language, s.last_seen_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = ? AND s.expires_at > ? AND s.last_seen_at > ? AND u.active = 1",
    )
    .bind(id_hash)
    .bind(now_ms())
    .bind(idle_cutoff)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, uuid, name, role, active, theme, size, language, seen)| {
        (user_from_row((id, uuid, name, role, active, theme, size, language)), seen)
    }))
}

pub async fn touch(db: impl SqliteExecutor<'_>, id_hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?")
        .bind(now_ms())
        .bind(id_hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete(db: impl SqliteExecutor<'_>, id_hash: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = ?").bind(id_hash).execute(db).await?;
    Ok(())
}

/// Ends every session of a user (logout everywhere, deactivation, password reset).
pub async fn delete_all_of(db: impl SqliteExecutor<'_>, user_id: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE user_id = ?").bind(user_id).execute(db).await?.rows_affected())
}
