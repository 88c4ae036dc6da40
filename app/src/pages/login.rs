use crate::components::Flash;
use crate::i18n::t;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// A plain form: the server checks the password, sets the session cookie
/// and redirects, with or without JavaScript.
#[component]
pub fn LoginPage() -> impl IntoView {
    let q = use_query_map();
    let next = move || q.read().get("next").unwrap_or_else(|| "/".into());
    view! {
        <Title text=t("login.title") />
        <main class="page narrow">
            <h1>"Arbiter"</h1>
            <p class="muted">{t("login.tagline")}</p>
            <Flash />
            <form method="post" action="/login" class="panel stack">
                <input type="hidden" name="next" value=next />
                <label>{t("login.username")} " " <input name="username" autocomplete="username" required autofocus /></label>
                <label>{t("login.password")} " " <input name="password" type="password" autocomplete="current-password" required /></label>
                <button type="submit" class="primary">{t("login.submit")}</button>
            </form>
        </main>
    }
}
