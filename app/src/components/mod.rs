use crate::api::whoami;
use crate::i18n::t;
use leptos::prelude::*;
use leptos::server_fn::error::ServerFnError;
use leptos_router::hooks::use_query_map;

/// The message of a server-function error, without the framework's prefix.
pub fn message(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) | ServerFnError::Response(m) => m.clone(),
        other => other.to_string(),
    }
}

#[component]
pub fn Nav() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <header class="nav">
            <a class="brand" href="/">"Arbiter"</a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(me)) => view! {
                            <nav>
                                <a href="/">{t("nav.projects")}</a>
                                {me.is_admin.then(|| view! {
                                    <a href="/admin">{t("nav.admin")}</a>
                                    <a href="/admin/users">{t("nav.users")}</a>
                                    <a href="/admin/audit">{t("nav.audit")}</a>
                                })}
                                <a class="who" href="/account">{me.username}</a>
                                <DisplaySwitch dark=me.prefs.theme == arbiter_core::domain::prefs::Theme::Dark />
                                <form method="post" action="/logout" class="inline">
                                    <button type="submit" class="link">{t("nav.logout")}</button>
                                </form>
                            </nav>
                        }.into_any(),
                        _ => view! { <nav><a href="/login">{t("nav.login")}</a></nav> }.into_any(),
                    }
                })}
            </Suspense>
        </header>
    }
}

/// Text size (A−, A+) and the dark / light switch, kept per user; plain
/// form posts that come back to this page.
#[component]
fn DisplaySwitch(dark: bool) -> impl IntoView {
    let other =
        if crate::i18n::lang() == crate::i18n::Lang::De { crate::i18n::Lang::En } else { crate::i18n::Lang::De };
    let location = leptos_router::hooks::use_location();
    let here = move || location.pathname.get();
    view! {
        <form method="post" action="/account/display" class="inline display-switch">
            <input type="hidden" name="next" value=here />
            <button type="submit" name="size" value="smaller" class="link" aria-label=t("nav.smaller") title=t("nav.smaller_title")>"A−"</button>
            <button type="submit" name="size" value="larger" class="link" aria-label=t("nav.larger") title=t("nav.larger_title")>"A+"</button>
            <button type="submit" name="theme" value="toggle" class="link" data-testid="theme-toggle"
                aria-label=if dark { t("nav.light") } else { t("nav.dark") }
                title=if dark { t("nav.light") } else { t("nav.dark") }>
                {if dark { "☀" } else { "☾" }}
            </button>
            // The other language (kept per user).
            <button type="submit" name="language" value=other.code() class="link" data-testid="language-toggle"
                lang=other.code() aria-label=t("nav.language_label")>{t("nav.language")}</button>
        </form>
    }
}

/// Shows `?error=` and `?ok=` messages that form handlers redirect back with:
/// a catalog key (`flash.<key>`, filled with the query's `name`, `role`
/// values) in the page's language, or else the text as it came (a
/// validation message from the core, which names its field).
#[component]
pub fn Flash() -> impl IntoView {
    let q = use_query_map();
    let lang = crate::i18n::lang();
    let text = move |kind: &str| {
        let q = q.read();
        let v = q.get(kind)?;
        let key = format!("flash.{v}");
        Some(match crate::i18n::tr_opt(lang, &key) {
            Some(t) => crate::i18n::fill(
                t,
                &[("name", &q.get("name").unwrap_or_default()), ("role", &q.get("role").unwrap_or_default())],
            ),
            None => v,
        })
    };
    view! {
        {move || text("error").map(|e| view! { <p class="flash error" role="alert">{e}</p> })}
        {move || text("ok").map(|m| view! { <p class="flash ok" role="status">{m}</p> })}
    }
}

/// Wraps a page's async data: the fallback while loading, the error as a
/// message, else the page.
pub fn loaded<T, V>(result: Result<T, ServerFnError>, page: impl FnOnce(T) -> V) -> AnyView
where
    V: IntoView + 'static,
{
    match result {
        Ok(data) => page(data).into_any(),
        Err(e) => {
            let msg = message(&e);
            let login = msg.contains("log in");
            view! {
                <div class="panel">
                    <p class="flash error" role="alert">{msg}</p>
                    {login.then(|| view! { <a href="/login">{t("nav.login")}</a> })}
                </div>
            }
            .into_any()
        }
    }
}
