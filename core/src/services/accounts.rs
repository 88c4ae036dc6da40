//! Invites, password resets, roles, deactivation, tokens and memberships:
//! the admin side of accounts. Every change lands in the audit log.
use crate::domain::prefs::Prefs;
use crate::domain::Role;
use crate::services::auth::{self, NewSession};
use crate::storage::invites::{self, Kind};
use crate::storage::users::{self, User};
use crate::storage::{assignments, audit, projects as project_store, sessions, tokens, Db};
use crate::{Error, Result};
use serde_json::json;

pub const INVITE_HOURS_DEFAULT: i64 = 72;
pub const RESET_HOURS: i64 = 24;
pub const FIRST_ADMIN_HOURS: i64 = 24;

/// Records an account change. Every one goes through here, so it is also
/// where the request caches learn that something changed.
pub async fn record(db: &Db, actor: &str, action: &str, target: &str, detail: serde_json::Value) -> Result<()> {
    db.changed().await;
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
/// `actor` None = the command line.
pub async fn invite(db: &Db, actor: Option<&User>, role: Role, projects: Vec<String>, hours: i64) -> Result<String> {
    if !(1..=24 * 30).contains(&hours) {
        return Err(Error::bad("hours: must be 1 to 720"));
    }
    for slug in &projects {
        project_store::by_slug(&db.read, slug)
            .await?
            .ok_or_else(|| Error::not_found(format!("projects: no project {slug:?}")))?;
    }
    let token = auth::new_secret();
    invites::insert(
        &db.write,
        &invites::NewInvite {
            kind: Kind::Invite,
            token_hash: &auth::secret_hash(&token),
            role: role.as_str(),
            projects: &projects,
            user_id: None,
            created_by: actor.map(|a| a.id),
            expires_at: crate::storage::now_ms() + hours * 3_600_000,
        },
    )
    .await?;
    let who = actor.map(|a| a.username.as_str()).unwrap_or("cli");
    record(db, who, "invite.create", role.as_str(), json!({"projects": projects, "hours": hours})).await?;
    Ok(token)
}

/// The link `serve` prints while no admin exists. Only the newest one works,
/// and none does once an active admin exists.
pub async fn first_admin_invite(db: &Db) -> Result<String> {
    let token = auth::new_secret();
    let mut tx = db.begin_write().await?;
    invites::void_kind(&mut tx, Kind::FirstAdmin, None).await?;
    invites::insert(
        &mut tx,
        &invites::NewInvite {
            kind: Kind::FirstAdmin,
            token_hash: &auth::secret_hash(&token),
            role: Role::Admin.as_str(),
            projects: &[],
            user_id: None,
            created_by: None,
            expires_at: crate::storage::now_ms() + FIRST_ADMIN_HOURS * 3_600_000,
        },
    )
    .await?;
    audit::record(&mut tx, "system", "invite.first_admin", "admin", &json!({"hours": FIRST_ADMIN_HOURS})).await?;
    tx.commit().await?;
    Ok(token)
}

/// A single-use link to set a new password; the old password keeps working
/// until the link is used, then every session of the user ends. A newer
/// link voids the older ones; `revoke_tokens` also ends the user's API
/// tokens now (for a credential that may have leaked).
pub async fn reset_link(db: &Db, actor: &User, username: &str, revoke_tokens: bool) -> Result<String> {
    let user = find_user(db, username).await?;
    let token = auth::new_secret();
    let mut tx = db.begin_write().await?;
    invites::void_kind(&mut tx, Kind::Reset, Some(user.id)).await?;
    invites::insert(
        &mut tx,
        &invites::NewInvite {
            kind: Kind::Reset,
            token_hash: &auth::secret_hash(&token),
            role: user.role.as_str(),
            projects: &[],
            user_id: Some(user.id),
            created_by: Some(actor.id),
            expires_at: crate::storage::now_ms() + RESET_HOURS * 3_600_000,
        },
    )
    .await?;
    let revoked = if revoke_tokens { tokens::revoke_all_of(&mut tx, user.id).await? } else { 0 };
    audit::record(&mut tx, &actor.username, "user.reset_password", username, &json!({"tokens_revoked": revoked}))
        .await?;
    tx.commit().await?;
    db.changed().await;
    Ok(token)
}

/// What an invite link offers, for its page: None when it is used, voided,
/// expired or unknown.
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
        auth::parse_username(username)?;
    }
    let hash = auth::hash_password(password.to_owned()).await?;
    let mut tx = db.begin_write().await?;
    // Checked again inside the write lock: the link may have been voided or
    // used meanwhile, or (first admin) an admin may exist now.
    let still = invites::live(&mut tx, &auth::secret_hash(token)).await?;
    if still.is_none() || !invites::consume(&mut tx, invite.id).await? {
        return Err(Error::Conflict("this link was just used or voided".into()));
    }
    let invited_by = invite.created_by.clone().unwrap_or_else(|| "cli".into());
    let user = match &invite.user {
        Some((id, name)) => {
            users::set_password(&mut tx, *id, &hash).await?;
            sessions::delete_all_of(&mut tx, *id).await?;
            audit::record(&mut tx, name, "user.password_set", name, &json!({"link_by": invited_by})).await?;
            users::by_username(&mut tx, name).await?.map(|(u, _)| u)
        }
        None => {
            let role = Role::parse(&invite.role).unwrap_or(Role::Annotator);
            let user = match users::insert(&mut tx, username.trim(), &hash, role).await {
                Ok(u) => u,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(Error::Conflict(format!("username: {username:?} is taken; choose another")))
                }
                Err(e) => return Err(e.into()),
            };
            for slug in &invite.projects {
                if let Some(p) = project_store::by_slug(&mut tx, slug).await? {
                    project_store::add_member(&mut tx, p.id, user.id).await?;
                }
            }
            let detail = json!({"role": role.as_str(), "invited_by": invited_by, "projects": invite.projects});
            audit::record(&mut tx, &user.username, "user.create_from_invite", &user.username, &detail).await?;
            Some(user)
        }
    };
    tx.commit().await?;
    db.changed().await;
    let user = user.ok_or_else(|| Error::not_found("the user of this link is gone"))?;
    auth::start_session(db, user).await
}

/// Changes a role. Demoting an admin voids the links they made; the last
/// active admin cannot be demoted (checked and written in one transaction,
/// so two admins demoting each other at once still leave one).
pub async fn set_role(db: &Db, actor: &User, username: &str, role: Role) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let (target, _) = users::by_username(&mut tx, username)
        .await?
        .ok_or_else(|| Error::not_found(format!("no user {username:?}")))?;
    if target.role == role {
        return Ok(());
    }
    if role != Role::Admin {
        keep_an_admin(&mut tx, &target).await?;
        invites::void_created_by(&mut tx, target.id).await?;
    }
    users::set_role(&mut tx, target.id, role).await?;
    audit::record(&mut tx, &actor.username, "user.role", username, &json!({"role": role.as_str()})).await?;
    tx.commit().await?;
    db.changed().await;
    Ok(())
}

async fn keep_an_admin(tx: &mut crate::storage::Tx, target: &User) -> Result<()> {
    if target.role == Role::Admin && target.active && users::count_admins(&mut *tx).await? <= 1 {
        return Err(Error::Conflict("this is the last active admin; make another admin first".into()));
    }
    Ok(())
}

/// Deactivating ends the user's sessions, revokes their API tokens for good
/// (reactivation does not bring them back), voids the links they made and
/// gives their leased tasks back to the pool, all at once.
pub async fn set_active(db: &Db, actor: &User, username: &str, active: bool) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let (target, _) = users::by_username(&mut tx, username)
        .await?
        .ok_or_else(|| Error::not_found(format!("no user {username:?}")))?;
    let mut detail = json!({});
    if !active {
        keep_an_admin(&mut tx, &target).await?;
        let sessions_ended = sessions::delete_all_of(&mut tx, target.id).await?;
        let tokens_revoked = tokens::revoke_all_of(&mut tx, target.id).await?;
        let links_voided = invites::void_created_by(&mut tx, target.id).await?;
        detail = json!({"sessions": sessions_ended, "tokens_revoked": tokens_revoked, "links_voided": links_voided});
    }
    users::set_active(&mut tx, target.id, active).await?;
    let action = if active { "user.activate" } else { "user.deactivate" };
    audit::record(&mut tx, &actor.username, action, username, &detail).await?;
    tx.commit().await?;
    db.changed().await;
    if !active {
        let id = target.id;
        db.hot_as(id, move |c| assignments::release_leases(c, id, None)).await?;
    }
    Ok(())
}

pub async fn logout_everywhere(db: &Db, user: &User) -> Result<u64> {
    let n = sessions::delete_all_of(&db.write, user.id).await?;
    record(db, &user.username, "session.logout_everywhere", &user.username, json!({"sessions": n})).await?;
    Ok(n)
}

pub const MAX_TOKEN_NAME: usize = 100;

pub async fn create_token(db: &Db, actor: &str, username: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME {
        return Err(Error::bad(format!("name: must be 1-{MAX_TOKEN_NAME} characters")));
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

pub async fn tokens_of(db: &Db, user: &User) -> Result<Vec<tokens::TokenInfo>> {
    Ok(tokens::list_for(&db.read, user.id).await?)
}

/// Takes a user off a project; their leased tasks there go back to the pool
/// at once (a submit on one of them is refused from now on).
pub async fn remove_member(db: &Db, actor: &str, slug: &str, username: &str) -> Result<()> {
    let p = project_store::by_slug(&db.read, slug)
        .await?
        .ok_or_else(|| Error::not_found(format!("no project {slug:?}")))?;
    let u = find_user(db, username).await?;
    if !project_store::remove_member(&db.write, p.id, u.id).await? {
        return Err(Error::not_found(format!("username: {username} is not a member of {slug}")));
    }
    record(db, actor, "project.remove_member", slug, json!({"user": username})).await?;
    let (user_id, project_id) = (u.id, p.id);
    db.hot_as(user_id, move |c| assignments::release_leases(c, user_id, Some(project_id))).await?;
    Ok(())
}

/// Every user with their projects, for the admin's users page.
pub async fn list_users(db: &Db, reader: &User) -> Result<Vec<(users::UserSummary, Vec<String>)>> {
    auth::require_admin(reader)?;
    let list = users::list(&db.read).await?;
    let members = users::memberships(&db.read).await?;
    Ok(list
        .into_iter()
        .map(|u| {
            let projects = members.iter().filter(|(name, _)| name == &u.username).map(|(_, p)| p.clone()).collect();
            (u, projects)
        })
        .collect())
}

/// Whether an active admin exists (the first-run link is offered otherwise).
pub async fn has_admin(db: &Db) -> Result<bool> {
    Ok(users::count_admins(&db.read).await? > 0)
}

/// Changes the caller's display preferences: `theme` (`auto`, `light`,
/// `dark`, or `toggle` between light and dark), `size` (`larger`,
/// `smaller`, `reset`) and `language` (`en`, `de`, or `auto`: the browser's). Unknown values are a 400 naming the field.
pub async fn set_display(
    db: &Db,
    user: &User,
    theme: Option<&str>,
    size: Option<&str>,
    language: Option<&str>,
) -> Result<Prefs> {
    use crate::domain::prefs::Theme;
    let mut prefs = user.prefs;
    match theme.map(str::trim).filter(|t| !t.is_empty()) {
        None => {}
        Some("toggle") => prefs.theme = if prefs.theme == Theme::Dark { Theme::Light } else { Theme::Dark },
        Some(t) => {
            prefs.theme =
                Theme::parse(t).ok_or_else(|| Error::bad(format!("theme: {t:?} is not auto, light, dark or toggle")))?
        }
    }
    match size.map(str::trim).filter(|s| !s.is_empty()) {
        None => {}
        Some("larger") => prefs = prefs.step(1),
        Some("smaller") => prefs = prefs.step(-1),
        Some("reset") => prefs.text_size = Prefs::default().text_size,
        Some(s) => return Err(Error::bad(format!("size: {s:?} is not larger, smaller or reset"))),
    }
    match language.map(str::trim).filter(|l| !l.is_empty()) {
        None => {}
        Some("auto") => prefs.language = None,
        Some(l) => {
            prefs.language = Some(
                crate::domain::prefs::Lang::parse(l)
                    .ok_or_else(|| Error::bad(format!("language: {l:?} is not en, de or auto")))?,
            )
        }
    }
    crate::storage::users::set_prefs(&db.write, user.id, prefs).await?;
    // Sessions and tokens carry the user (and so the preferences) for a few seconds.
    db.changed().await;
    Ok(prefs)
}
