pub mod account;
pub mod admin_audit;
pub mod admin_project;
pub mod admin_projects;
pub mod admin_users;
pub mod annotate;
pub mod dashboard;
pub mod history;
pub mod home;
pub mod invite;
pub mod leaderboard;
pub mod login;

use crate::components::Nav;
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Nav />
        <main class="page"><h1>{crate::i18n::t("notfound.heading")}</h1><p><a href="/">{crate::i18n::t("annotate.back_to_projects")}</a></p></main>
    }
}

/// The annotator's bundle's fallback: an admin page (whose code only the
/// full bundle has) is loaded from the server, which sends it with the full
/// bundle; any other path is not found, as on the server.
#[cfg(feature = "annotator-only")]
#[component]
pub fn Elsewhere() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let path = location.pathname.get_untracked();
    if crate::is_admin_path(&path) {
        // The router changes the address bar only once the new page is
        // drawn: load that address, not the one still shown, in place of
        // the history entry the router is about to add (Back then leaves
        // the admin page at once).
        #[cfg(feature = "hydrate")]
        if let Some(w) = web_sys::window() {
            // The router keeps the query without its `?`, the hash with its `#`.
            let (search, hash) = (location.search.get_untracked(), location.hash.get_untracked());
            let query = if search.is_empty() { String::new() } else { format!("?{search}") };
            let href = format!("{path}{query}{hash}");
            let _ = w.location().replace(&href);
        }
        return ().into_any();
    }
    view! { <NotFound /> }.into_any()
}
