//! Who is calling: a Bearer token (scripts) or the session cookie (browser).
use crate::error::{ApiError, PageError};
use crate::startup::AppState;
use arbiter_core::services::{auth, Role, User};
use arbiter_core::Error;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

pub const SESSION_COOKIE: &str = "arbiter_session";

/// Finds the user and puts it in the request's extensions, where REST
/// handlers (`CurrentUser`), form handlers and server functions read it.
/// A Bearer token that does not check out is refused outright.
pub async fn resolve_user(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned);
    let user = match bearer {
        Some(token) => match auth::token_user(&state.db, &token).await {
            Ok(Some(u)) => Some(u),
            Ok(None) => return ApiError(Error::Unauthorized("invalid or revoked API token".into())).into_response(),
            Err(e) => return ApiError(e).into_response(),
        },
        None => match CookieJar::from_headers(req.headers()).get(SESSION_COOKIE) {
            Some(c) => match auth::session_user(&state.db, c.value()).await {
                Ok(u) => u,
                Err(e) => return ApiError(e).into_response(),
            },
            None => None,
        },
    };
    if let Some(u) = user {
        req.extensions_mut().insert(u);
    }
    next.run(req).await
}

/// Pages need a login; admin pages need an admin (others get a 404, so the
/// admin area does not announce itself).
pub async fn guard_pages(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let needs_login = path.starts_with("/annotate/")
        || path == "/"
        || path == "/account"
        || path == "/admin"
        || path.starts_with("/admin/");
    if needs_login && req.method() == axum::http::Method::GET {
        match req.extensions().get::<User>() {
            None => {
                let next_url = serde_urlencoded::to_string([("next", req.uri().to_string())]).unwrap_or_default();
                return Redirect::to(&format!("/login?{next_url}")).into_response();
            }
            Some(u) if path.starts_with("/admin") && u.role != Role::Admin => {
                return PageError(Error::Forbidden("admins only".into())).into_response();
            }
            _ => {}
        }
    }
    next.run(req).await
}

pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(time::Duration::milliseconds(auth::SESSION_ABSOLUTE_MS))
        .build()
}

/// The logged-in user of a REST request, or 401.
pub struct CurrentUser(pub User);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<User>().cloned().map(CurrentUser).ok_or_else(|| {
            ApiError(Error::Unauthorized("log in or send an API token (Authorization: Bearer …)".into()))
        })
    }
}
