use super::now_ms;
use serde::{Deserialize, Serialize};
use sqlx::SqliteExecutor;

pub async fn record(
    db: impl SqliteExecutor<'_>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)")
        .bind(now_ms())
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail.to_string())
        .execute(db)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

pub async fn recent(db: impl SqliteExecutor<'_>, limit: i64) -> sqlx::Result<Vec<Entry>> {
    let rows: Vec<(i64, String, String, String, String)> =
        sqlx::query_as("SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(at, actor, action, target, detail)| Entry { at, actor, action, target, detail })
        .collect())
}
