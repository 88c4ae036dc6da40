#[cfg(feature = "ssr")]
use super::ctx;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn audit_log() -> Result<Vec<AuditRow>, ServerFnError> {
    use arbiter_core::services::audit;
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let rows = audit::recent(&db, &user, 500).await.map_err(ctx::fail)?;
    Ok(rows
        .into_iter()
        .map(|e| AuditRow {
            at: e.at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail.to_string(),
        })
        .collect())
}
