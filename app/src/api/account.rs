#[cfg(feature = "ssr")]
use super::ctx;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteView {
    pub role: String,
    pub projects: Vec<String>,
    /// Set when the link resets this user's password.
    pub reset_for: Option<String>,
}

/// What an invite link offers; public, as the invitee has no account yet.
#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn invite_info(token: String) -> Result<Option<InviteView>, ServerFnError> {
    use arbiter_core::services::accounts;
    let db = ctx::db()?;
    let info = accounts::invite_info(&db, &token).await.map_err(ctx::fail)?;
    Ok(info.map(|i| InviteView { role: i.role, projects: i.projects, reset_for: i.user.map(|(_, name)| name) }))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRow {
    pub uuid: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountData {
    pub username: String,
    pub tokens: Vec<TokenRow>,
    /// A token created just now, shown this once.
    pub revealed: Option<String>,
}

#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn load_account(reveal: Option<String>) -> Result<AccountData, ServerFnError> {
    use arbiter_core::services::accounts;
    use arbiter_core::storage::rfc3339;
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let list = accounts::tokens_of(&db, &user).await.map_err(ctx::fail)?;
    Ok(AccountData {
        revealed: reveal.and_then(|id| ctx::reveal().take(user.id, &id)),
        username: user.username,
        tokens: list
            .into_iter()
            .map(|t| TokenRow {
                uuid: t.uuid,
                name: t.name,
                created: rfc3339(t.created_at),
                last_used: t.last_used_at.map(rfc3339).unwrap_or_else(|| "never".into()),
                revoked: t.revoked_at.is_some(),
            })
            .collect(),
    })
}
