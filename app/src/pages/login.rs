use crate::components::Flash;
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
        <Title text="Log in · Arbiter" />
        <main class="page narrow">
            <h1>"Arbiter"</h1>
            <p class="muted">"Preference judgements for reward models and DPO."</p>
            <Flash />
            <form method="post" action="/login" class="panel stack">
                <input type="hidden" name="next" value=next />
                <label>"Username" <input name="username" autocomplete="username" required autofocus /></label>
                <label>"Password" <input name="password" type="password" autocomplete="current-password" required /></label>
                <button type="submit" class="primary">"Log in"</button>
            </form>
        </main>
    }
}
