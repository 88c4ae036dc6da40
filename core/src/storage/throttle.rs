//! The login throttle's counts where several instances share them
//! (PostgreSQL): one row per counted attempt and key. SQLite runs one
//! instance, which keeps them in process (`services::throttle`).
use super::{on, Pool};

/// Counts an attempt for each `(key, limit)` within `window_ms`, or says how
/// many seconds to wait when one key is at its limit (nothing is counted
/// then). One transaction, with an advisory lock per key, so concurrent
/// attempts on two instances cannot both take the last slot.
pub async fn reserve(
    pool: &Pool,
    keys: &[(String, usize)],
    window_ms: i64,
    now: i64,
) -> sqlx::Result<Result<Vec<i64>, u64>> {
    let Pool::Postgres(pg) = pool else {
        return Err(sqlx::Error::Configuration("the shared login throttle needs PostgreSQL".into()));
    };
    let mut tx = pg.begin().await?;
    let mut wait: Option<u64> = None;
    for (key, limit) in keys {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(key).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM login_attempts WHERE key = $1 AND at <= $2")
            .bind(key)
            .bind(now - window_ms)
            .execute(&mut *tx)
            .await?;
        let times: Vec<i64> =
            sqlx::query_scalar("SELECT at FROM login_attempts WHERE key = $1 ORDER BY at DESC LIMIT $2")
                .bind(key)
                .bind(*limit as i64)
                .fetch_all(&mut *tx)
                .await?;
        if times.len() >= *limit {
            // The oldest of the last `limit` leaves the window first.
            let oldest = times[times.len() - 1];
            let secs = ((oldest + window_ms - now) / 1000).max(1) as u64;
            wait = Some(wait.map_or(secs, |w| w.max(secs)));
        }
    }
    if let Some(w) = wait {
        tx.commit().await?;
        return Ok(Err(w));
    }
    let mut ids = Vec::with_capacity(keys.len());
    for (key, _) in keys {
        ids.push(
            sqlx::query_scalar("INSERT INTO login_attempts (key, at) VALUES ($1, $2) RETURNING id")
                .bind(key)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?,
        );
    }
    tx.commit().await?;
    Ok(Ok(ids))
}

/// A success: the account's count starts over, and this attempt no longer
/// counts against the address.
pub async fn forgive(pool: &Pool, account: &str, address_attempt: i64) -> sqlx::Result<()> {
    on!(pool, e => sqlx::query("DELETE FROM login_attempts WHERE key = $1 OR id = $2").bind(account).bind(address_attempt).execute(e).await.map(|_| ()))
}
