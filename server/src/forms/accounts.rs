//! Form posts for accounts: invites, roles, deactivation, password resets,
//! API tokens, logging out everywhere, project membership.
use super::{answer, back_err, Form, FormAdmin, FormUser};
use crate::auth::{session_cookie, SESSION_COOKIE};
use crate::startup::AppState;
use arbiter_core::services::{accounts, projects, Role};
use arbiter_core::Error;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    username: String,
    password: String,
}

/// Accepting an invite (or a reset link) logs the person in.
pub async fn accept_invite(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(token): Path<String>,
    Form(f): Form<AcceptForm>,
) -> Response {
    match accounts::accept(&state.db, &token, &f.username, &f.password).await {
        Ok(session) => {
            let jar = jar.add(session_cookie(session.token, state.secure_cookies()));
            (jar, Redirect::to("/")).into_response()
        }
        Err(e) => back_err(&format!("/invite/{token}"), e),
    }
}

#[derive(Deserialize)]
pub struct InviteForm {
    role: String,
    #[serde(default)]
    projects: Vec<String>,
    hours: Option<String>,
}

pub async fn create_invite(
    State(state): State<AppState>,
    FormAdmin(admin): FormAdmin,
    Form(f): Form<InviteForm>,
) -> Response {
    let result = async {
        let role = Role::parse(&f.role).map_err(|e| Error::bad(e.to_string()))?;
        let hours = arbiter_core::domain::settings::parse_int_field("hours", f.hours.as_deref())?
            .unwrap_or(accounts::INVITE_HOURS_DEFAULT);
        accounts::invite(&state.db, Some(&admin), role, f.projects, hours).await
    }
    .await;
    match result {
        Ok(token) => {
            Redirect::to(&format!("/admin/users?reveal={}", state.reveal.park(admin.id, token))).into_response()
        }
        Err(e) => back_err("/admin/users", e),
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    FormAdmin(admin): FormAdmin,
    Path(username): Path<String>,
    Form(f): Form<RoleForm>,
) -> Response {
    let result = match Role::parse(&f.role) {
        Ok(role) => accounts::set_role(&state.db, &admin, &username, role).await,
        Err(e) => Err(Error::bad(e.to_string())),
    };
    answer("/admin/users", result, &[("ok", "role_set"), ("name", &username), ("role", &f.role)])
}

#[derive(Deserialize)]
pub struct ActiveForm {
    active: String,
}

pub async fn set_active(
    State(state): State<AppState>,
    FormAdmin(admin): FormAdmin,
    Path(username): Path<String>,
    Form(f): Form<ActiveForm>,
) -> Response {
    let active = f.active == "true";
    answer(
        "/admin/users",
        accounts::set_active(&state.db, &admin, &username, active).await,
        &[("ok", if active { "activated" } else { "deactivated" }), ("name", &username)],
    )
}

#[derive(Deserialize)]
pub struct ResetForm {
    /// Also revoke the user's API tokens now.
    #[serde(default)]
    revoke_tokens: Option<String>,
}

pub async fn reset_password(
    State(state): State<AppState>,
    FormAdmin(admin): FormAdmin,
    Path(username): Path<String>,
    Form(f): Form<ResetForm>,
) -> Response {
    match accounts::reset_link(&state.db, &admin, &username, f.revoke_tokens.is_some()).await {
        Ok(token) => {
            Redirect::to(&format!("/admin/users?reveal={}", state.reveal.park(admin.id, token))).into_response()
        }
        Err(e) => back_err("/admin/users", e),
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    name: String,
}

pub async fn create_token(State(state): State<AppState>, FormUser(me): FormUser, Form(f): Form<TokenForm>) -> Response {
    match accounts::create_token(&state.db, &me.username, &me.username, &f.name).await {
        Ok(token) => Redirect::to(&format!("/account?reveal={}", state.reveal.park(me.id, token))).into_response(),
        Err(e) => back_err("/account", e),
    }
}

pub async fn revoke_token(State(state): State<AppState>, FormUser(me): FormUser, Path(uuid): Path<String>) -> Response {
    answer("/account", accounts::revoke_token(&state.db, &me, &uuid).await, &[("ok", "token_revoked")])
}

pub async fn logout_everywhere(State(state): State<AppState>, jar: CookieJar, FormUser(me): FormUser) -> Response {
    if let Err(e) = accounts::logout_everywhere(&state.db, &me).await {
        return back_err("/account", e);
    }
    let jar = jar.remove(axum_extra::extract::cookie::Cookie::build(SESSION_COOKIE).path("/"));
    (jar, Redirect::to("/login?ok=logged_out_everywhere")).into_response()
}

#[derive(Deserialize)]
pub struct MemberForm {
    username: String,
}

pub async fn remove_member(
    State(state): State<AppState>,
    FormAdmin(admin): FormAdmin,
    Path(slug): Path<String>,
    Form(f): Form<MemberForm>,
) -> Response {
    let page = format!("/admin/projects/{slug}");
    let result = async {
        projects::administered(&state.db, &admin, &slug).await?;
        accounts::remove_member(&state.db, &admin.username, &slug, f.username.trim()).await
    }
    .await;
    answer(&page, result, &[("ok", "member_removed")])
}

#[derive(Deserialize)]
pub struct DisplayForm {
    theme: Option<String>,
    size: Option<String>,
    language: Option<String>,
    /// The page to go back to (a path on this site).
    #[serde(default)]
    next: String,
}

/// Theme and text size, kept per user; back to the page the form was on.
pub async fn display(State(state): State<AppState>, FormUser(user): FormUser, Form(f): Form<DisplayForm>) -> Response {
    let next = arbiter_core::domain::redirect::safe_next(&f.next);
    match accounts::set_display(&state.db, &user, f.theme.as_deref(), f.size.as_deref(), f.language.as_deref()).await {
        Ok(_) => Redirect::to(&next).into_response(),
        Err(e) => back_err(&next, e),
    }
}
