//! Server functions: the pages' read path (and the hydrated annotator's
//! submit), one file per page. Each checks who is calling, parses its
//! input, then calls a core service; errors go through `ctx::fail`, the
//! core's one mapping to a status.
mod account;
mod admin;
mod annotate;
mod audit;
pub mod codec;
mod dashboard;
mod home;
mod leaderboard;
mod users;

pub use account::*;
pub use admin::*;
pub use annotate::*;
pub use audit::*;
pub use dashboard::*;
pub use home::*;
pub use leaderboard::*;
pub use users::*;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub username: String,
    pub is_admin: bool,
    pub prefs: arbiter_core::domain::prefs::Prefs,
}

#[cfg(feature = "ssr")]
pub(crate) mod ctx {
    use arbiter_core::services::User;
    use arbiter_core::storage::Db;
    use arbiter_core::Error;
    use leptos::prelude::*;

    pub fn db() -> Result<Db, ServerFnError> {
        use_context::<Db>().ok_or_else(|| ServerFnError::new("server misconfigured: no database"))
    }

    /// The user the auth middleware found for this request, if any.
    pub fn user() -> Option<User> {
        use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<User>().cloned())
    }

    /// Where one-time secrets wait for their page (see `services::reveal`).
    pub fn reveal() -> std::sync::Arc<arbiter_core::services::reveal::Reveal> {
        use_context::<std::sync::Arc<arbiter_core::services::reveal::Reveal>>().unwrap_or_default()
    }

    /// The site's public base URL, for links shown to admins.
    pub fn public_url() -> String {
        use_context::<crate::PublicUrl>().map(|u| u.0).unwrap_or_default()
    }

    pub fn require_user() -> Result<User, ServerFnError> {
        user().ok_or_else(|| fail(Error::Unauthorized("please log in".into())))
    }

    /// The core's error as the server function's error, with the status and
    /// public message every other path gives it. A 503 (the database away
    /// for a moment) goes out as the framework's `Response` error: the page
    /// treats it as an answer that did not come and sends again with the
    /// same key, as it does when the network drops one; every other error
    /// is the server saying no (`ServerError`).
    pub fn fail(e: Error) -> ServerFnError {
        e.log_if_internal("server function");
        if let (Some(res), Ok(status)) =
            (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(e.status()))
        {
            res.set_status(status);
        }
        if e.status() == 503 {
            ServerFnError::Response(e.public_message())
        } else {
            ServerFnError::new(e.public_message())
        }
    }

    /// For errors of parsing the input at this edge.
    pub fn bad(msg: impl std::fmt::Display) -> ServerFnError {
        fail(Error::bad(msg.to_string()))
    }
}

#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    use arbiter_core::services::Role;
    Ok(ctx::user().map(|u| Me { username: u.username, is_admin: u.role == Role::Admin, prefs: u.prefs }))
}
