//! The audit log: who did what, when. Reading it is recorded too.
use crate::services::auth::require_admin;
use crate::storage::users::User;
use crate::storage::{audit, rfc3339, Db};
use crate::Result;
use serde::{Deserialize, Serialize};

/// Appends one entry. Account changes go through `accounts::record`, which
/// also clears the request caches.
pub async fn record(db: &Db, actor: &str, action: &str, target: &str, detail: serde_json::Value) -> Result<()> {
    audit::record(&db.write, actor, action, target, &detail).await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
}

fn entry(e: audit::Entry) -> Entry {
    Entry {
        at: rfc3339(e.at),
        actor: e.actor,
        action: e.action,
        target: e.target,
        detail: serde_json::from_str(&e.detail).unwrap_or_default(),
    }
}

/// The newest `limit` entries, newest first (admins; the read is recorded).
pub async fn recent(db: &Db, reader: &User, limit: i64) -> Result<Vec<Entry>> {
    require_admin(reader)?;
    record(db, &reader.username, "audit.read", "", serde_json::json!({"limit": limit})).await?;
    Ok(audit::recent(&db.read, limit).await?.into_iter().map(entry).collect())
}

/// The whole log, oldest first (admins; the read is recorded).
pub async fn all(db: &Db, reader: &User) -> Result<Vec<Entry>> {
    require_admin(reader)?;
    record(db, &reader.username, "audit.read", "", serde_json::json!({"export": true})).await?;
    let mut rows = audit::recent(&db.read, i64::MAX).await?;
    rows.reverse();
    Ok(rows.into_iter().map(entry).collect())
}
