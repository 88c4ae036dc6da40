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
