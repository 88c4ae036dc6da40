use super::now_ms;
use super::{on, Ex};
use serde::{Deserialize, Serialize};

pub async fn record(
    db: impl Into<Ex<'_>>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
) -> sqlx::Result<()> {
    on!(db, e => sqlx::query("INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(now_ms())
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail.to_string())
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
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

pub async fn recent(db: impl Into<Ex<'_>>, limit: i64) -> sqlx::Result<Vec<Entry>> {
    let rows: Vec<(i64, String, String, String, String)> = on!(db, e => sqlx::query_as("SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(e)
            .await)?;
    Ok(rows
        .into_iter()
        .map(|(at, actor, action, target, detail)| Entry { at, actor, action, target, detail })
        .collect())
}
