#[cfg(feature = "ssr")]
use super::ctx;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub username: String,
    pub projects: Vec<String>,
    pub role: String,
    pub active: bool,
    pub last_seen: String,
    pub annotations: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminUsersData {
    pub users: Vec<UserRow>,
    /// An invite or reset link created just now, shown this once.
    pub revealed: Option<String>,
    pub projects: Vec<String>,
}

#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn admin_users(reveal: Option<String>) -> Result<AdminUsersData, ServerFnError> {
    use arbiter_core::services::{accounts, projects};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let list = accounts::list_users(&db, &user).await.map_err(ctx::fail)?;
    let all_projects = projects::list_for(&db, &user).await.map_err(ctx::fail)?.into_iter().map(|p| p.slug).collect();
    let revealed = reveal
        .and_then(|id| ctx::reveal().take(user.id, &id))
        .map(|token| format!("{}/invite/{token}", ctx::public_url()));
    Ok(AdminUsersData {
        users: list
            .into_iter()
            .map(|(u, projects)| UserRow {
                projects,
                username: u.username,
                role: u.role,
                active: u.active,
                last_seen: u.last_seen_at.map(arbiter_core::storage::rfc3339).unwrap_or_else(|| "never".into()),
                annotations: u.annotations,
            })
            .collect(),
        revealed,
        projects: all_projects,
    })
}
