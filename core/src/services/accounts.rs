//! Invites, password resets, roles, deactivation, tokens and memberships:
//! the admin side of accounts. Every change lands in the audit log.
use crate::services::auth::{self, NewSession};
use crate::storage::users::{self, Role, User};
use crate::storage::{audit, invites, projects as project_store, sessions, tokens, Db};
use crate::{Error, Result};
use serde_json::json;

pub const INVITE_HOURS_DEFAULT: i64 = 72;

/// Records an admin action. Every account change goes through here, so it
/// is also where the request caches learn that something changed.
pub async fn record(db: &Db, actor: &str, action: &str, target: &str, detail: serde_json::Value) -> Result<()> {
    db.caches.clear_all();
    audit::record(&db.write, actor, action, target, &detail).await?;
    Ok(())
}

async fn find_user(db: &Db, username: &str) -> Result<User> {
    users::by_username(&db.read, username)
        .await?
        .map(|(u, _)| u)
        .ok_or_else(|| Error::not_found(format!("no user {username:?}")))
}

/// A single-use link secret for a new account with this role and projects.
/// `actor` None = the system (first-run setup).
pub async fn invite(db: &Db, actor: Option<&User>, role: Role, projects: Vec<String>, hours: i64) -> Result<String> {
    if !(1..=24 * 30).contains(&hours) {
        return Err(Error::bad("expires: must be 1 to 720 hours"));
    }
    for slug in &projects {
        project_store::by_slug(&db.read, slug)
            .await?
            .ok_or_else(|| Error::not_found(format!("no project {slug:?}")))?;
    }
    let token = auth::new_secret();
    invites::insert(
        &db.write,
        &invites::NewInvite {
            token_hash: &auth::secret_hash(&token),
            role: role.as_str(),
            projects: &projects,
            user_id: None,
            created_by: actor.map(|a| a.id),
            expires_at: crate::storage::now_ms() + hours * 3_600_000,
        },
    )
    .await?;
    let who = actor.map(|a| a.username.as_str()).unwrap_or("system");
    record(db, who, "invite.create", role.as_str(), json!({"projects": projects, "hours": hours})).await?;
    Ok(token)
}

/// A single-use link to set a new password; the old password keeps working
/// until the link is used, then every session of the user ends.
pub async fn reset_link(db: &Db, actor: &User, username: &str) -> Result<String> {
    let user = find_user(db, username).await?;
    let token = auth::new_secret();
    invites::insert(
        &db.write,
        &invites::NewInvite {
            token_hash: &auth::secret_hash(&token),
            role: user.role.as_str(),
            projects: &[],
            user_id: Some(user.id),
            created_by: Some(actor.id),
            expires_at: crate::storage::now_ms() + 24 * 3_600_000,
        },
    )
    .await?;
    record(db, &actor.username, "user.reset_password", username, json!({})).await?;
    Ok(token)
}

/// What an invite link offers, for its page: None when it is used, expired or unknown.
pub async fn invite_info(db: &Db, token: &str) -> Result<Option<invites::Invite>> {
    Ok(invites::live(&db.read, &auth::secret_hash(token)).await?)
}

/// Accepts an invite (creating the account) or a reset link (setting the
/// password), then logs the person in.
pub async fn accept(db: &Db, token: &str, username: &str, password: &str) -> Result<NewSession> {
    auth::check_password_rules(password)?;
    let invite = invites::live(&db.read, &auth::secret_hash(token))
        .await?
        .ok_or_else(|| Error::not_found("this link is used, expired or unknown; ask an admin for a new one"))?;
    if invite.user.is_none() {
        auth::check_username(username)?;
    }
    let hash = auth::hash_password(password.to_owned()).await?;
    let mut tx = db.begin_write().await?;
    if !invites::consume(&mut tx, invite.id).await? {
        return Err(Error::Conflict("this link was just used".into()));
    }
    let (user_name, action) = match &invite.user {
        Some((id, name)) => {
            users::set_password(&mut *tx, *id, &hash).await?;
            sessions::delete_all_of(&mut *tx, *id).await?;
            (name.clone(), "user.password_set")
        }
        None => {
            let role = Role::parse(&invite.role).unwrap_or(Role::Annotator);
            let user = match users::insert(&mut *tx, username, &hash, role).await {
                Ok(u) => u,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(Error::Conflict(format!("the name {username:?} is taken; choose another")))
                }
                Err(e) => return Err(e.into()),
            };
            for slug in &invite.projects {
                if let Some(p) = project_store::by_slug(&mut *tx, slug).await? {
                    project_store::add_member(&mut *tx, p.id, user.id).await?;
                }
            }
            (user.username, "user.create_from_invite")
        }
    };
    audit::record(&mut *tx, &user_name, action, &user_name, &json!({"projects": invite.projects})).await?;
    tx.commit().await?;
    db.caches.clear_all();
    auth::login(db, &user_name, password).await
}

/// Guards the last active admin: removing it would lock everyone out.
async fn keep_an_admin(db: &Db, target: &User) -> Result<()> {
    if target.role == Role::Admin && target.active && users::count_admins(&db.read).await? <= 1 {
        return Err(Error::Conflict("this is the last active admin; make another admin first".into()));
    }
    Ok(())
}

pub async fn set_role(db: &Db, actor: &User, username: &str, role: Role) -> Result<()> {
    let target = find_user(db, username).await?;
    if target.role != role {
        if role != Role::Admin {
            keep_an_admin(db, &target).await?;
        }
        users::set_role(&db.write, target.id, role).await?;
        record(db, &actor.username, "user.role", username, json!({"role": role.as_str()})).await?;
    }
    Ok(())
}

/// Deactivating ends the user's sessions and stops their tokens at once.
pub async fn set_active(db: &Db, actor: &User, username: &str, active: bool) -> Result<()> {
    let target = find_user(db, username).await?;
    if !active {
        keep_an_admin(db, &target).await?;
    }
    users::set_active(&db.write, target.id, active).await?;
    if !active {
        sessions::delete_all_of(&db.write, target.id).await?;
    }
    record(db, &actor.username, if active { "user.activate" } else { "user.deactivate" }, username, json!({})).await
}

pub async fn logout_everywhere(db: &Db, user: &User) -> Result<u64> {
    let n = sessions::delete_all_of(&db.write, user.id).await?;
    record(db, &user.username, "session.logout_everywhere", &user.username, json!({"sessions": n})).await?;
    Ok(n)
}

pub async fn create_token(db: &Db, actor: &str, username: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Error::bad("name: must be 1-100 characters"));
    }
    let token = auth::create_token(db, username, name).await?;
    record(db, actor, "token.create", username, json!({"name": name})).await?;
    Ok(token)
}

pub async fn revoke_token(db: &Db, user: &User, token_uuid: &str) -> Result<()> {
    if !tokens::revoke(&db.write, user.id, token_uuid).await? {
        return Err(Error::not_found("no such live token"));
    }
    record(db, &user.username, "token.revoke", &user.username, json!({"token": token_uuid})).await
}

pub async fn remove_member(db: &Db, actor: &str, slug: &str, username: &str) -> Result<()> {
    let p = project_store::by_slug(&db.read, slug)
        .await?
        .ok_or_else(|| Error::not_found(format!("no project {slug:?}")))?;
    let u = find_user(db, username).await?;
    if !project_store::remove_member(&db.write, p.id, u.id).await? {
        return Err(Error::not_found(format!("{username} is not a member of {slug}")));
    }
    record(db, actor, "project.remove_member", slug, json!({"user": username})).await
}
