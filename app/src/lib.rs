//! Arbiter's pages. Each page reads through server functions (`api`) and
//! changes state through plain HTML forms, so everything works without
//! JavaScript; hydration adds the keyboard-driven annotator on top.
#[cfg(all(feature = "ssr", feature = "annotator-only"))]
compile_error!("`annotator-only` is for the annotator's browser bundle; the server renders every page");

pub mod api;
mod components;
pub mod i18n;
// The annotator's bundle leaves the admin pages' routes out, so their code
// is compiled and then dropped.
#[cfg_attr(feature = "annotator-only", allow(dead_code))]
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The site's public base URL (e.g. `https://arbiter.example.org`), for
/// links shown to admins; provided as context by the server.
#[derive(Debug, Clone)]
pub struct PublicUrl(pub String);

/// Whether the site has the annotator's bundle (`pkg/arbiter-annotator.js`
/// and `.wasm`: every page but the admins', built by `scripts/build.sh` with
/// the `annotator-only` feature); provided as context by the server. Pages
/// other than the admins' load it; admin pages load the full bundle
/// (`pkg/arbiter.*`), as every page does when it is missing (`cargo leptos`).
#[derive(Debug, Clone, Copy)]
pub struct AnnotatorBundle(pub bool);

/// The annotator's bundle's file name (without extension) under `pkg/`.
pub const ANNOTATOR_BUNDLE: &str = "arbiter-annotator";

/// The pages only admins open: their code is in the full bundle alone.
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_csp();
    #[cfg(feature = "ssr")]
    let options = {
        let mut options = options;
        let small = use_context::<AnnotatorBundle>().is_some_and(|b| b.0);
        let admin = use_context::<http::request::Parts>().is_some_and(|p| is_admin_path(p.uri.path()));
        if small && !admin {
            options.output_name = ANNOTATOR_BUNDLE.into();
        }
        options
    };
    // The user's theme and text size, on the root element (no inline style:
    // the CSP allows none).
    #[cfg(feature = "ssr")]
    let prefs = api::ctx::user().map(|u| u.prefs).unwrap_or_default();
    #[cfg(not(feature = "ssr"))]
    let prefs = arbiter_core::domain::prefs::Prefs::default();
    let lang = i18n::current();
    view! {
        <!DOCTYPE html>
        <html lang=lang.code() data-theme=prefs.theme.name() class=prefs.size_class()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.ico" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The page's Content-Security-Policy: scripts only from this site or with
/// this response's nonce (the hydration loader), wasm allowed, no framing.
#[cfg(feature = "ssr")]
fn set_page_csp() {
    let nonce = leptos::nonce::use_nonce().map(|n| n.to_string()).unwrap_or_default();
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    if let (Some(res), Ok(value)) = (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(&csp)) {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(i18n::current());
    view! {
        <Stylesheet id="leptos" href="/pkg/arbiter.css" />
        <Title text="Arbiter" />
        <Router>
            <Pages />
        </Router>
    }
}

/// Every page: the server's, and the full bundle's. Async: every page is
/// sent whole, so it reads and works without JavaScript, and a page can
/// still set its status code.
#[cfg(not(feature = "annotator-only"))]
#[component]
fn Pages() -> impl IntoView {
    view! {
        <Routes fallback=|| view! { <pages::NotFound /> }>
            <Route path=path!("/") view=pages::home::HomePage ssr=SsrMode::Async />
            <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async />
            <Route path=path!("/annotate/:slug") view=pages::annotate::AnnotatePage ssr=SsrMode::Async />
            <Route path=path!("/annotate/:slug/history") view=pages::history::HistoryPage ssr=SsrMode::Async />
            <Route path=path!("/account") view=pages::account::AccountPage ssr=SsrMode::Async />
            <Route path=path!("/invite/:token") view=pages::invite::InvitePage ssr=SsrMode::Async />
            <Route path=path!("/admin") view=pages::admin_projects::AdminProjectsPage ssr=SsrMode::Async />
            <Route path=path!("/admin/projects/:slug") view=pages::admin_project::AdminProjectPage ssr=SsrMode::Async />
            <Route path=path!("/admin/projects/:slug/dashboard") view=pages::dashboard::DashboardPage ssr=SsrMode::Async />
            <Route path=path!("/admin/projects/:slug/adjudicate") view=pages::dashboard::AdjudicatePage ssr=SsrMode::Async />
            <Route path=path!("/admin/projects/:slug/pairs/:pair") view=pages::dashboard::PairPage ssr=SsrMode::Async />
            <Route path=path!("/admin/projects/:slug/leaderboard") view=pages::leaderboard::LeaderboardPage ssr=SsrMode::Async />
            <Route path=path!("/admin/leaderboard") view=pages::leaderboard::LeaderboardPage ssr=SsrMode::Async />
            <Route path=path!("/admin/users") view=pages::admin_users::AdminUsersPage ssr=SsrMode::Async />
            <Route path=path!("/admin/audit") view=pages::admin_audit::AdminAuditPage ssr=SsrMode::Async />
        </Routes>
    }
}

/// The annotator's bundle: the same pages but the admins' (the first six
/// above), whose code it leaves out. A link to an admin page is left to the
/// browser, which loads the page from the server, with the full bundle; a
/// navigation made by code reaches the fallback (`pages::Elsewhere`).
#[cfg(feature = "annotator-only")]
#[component]
fn Pages() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    leave_admin_links_to_the_browser();
    view! {
        <Routes fallback=|| view! { <pages::Elsewhere /> }>
            <Route path=path!("/") view=pages::home::HomePage ssr=SsrMode::Async />
            <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async />
            <Route path=path!("/annotate/:slug") view=pages::annotate::AnnotatePage ssr=SsrMode::Async />
            <Route path=path!("/annotate/:slug/history") view=pages::history::HistoryPage ssr=SsrMode::Async />
            <Route path=path!("/account") view=pages::account::AccountPage ssr=SsrMode::Async />
            <Route path=path!("/invite/:token") view=pages::invite::InvitePage ssr=SsrMode::Async />
        </Routes>
    }
}

/// Clicks on links to admin pages stop before the router's handler (which
/// listens on the window as they bubble up): the browser follows them as
/// plain links. Left to the router, the page would be loaded only after the
/// router had drawn its fallback and added a history entry of its own.
#[cfg(all(feature = "annotator-only", feature = "hydrate"))]
fn leave_admin_links_to_the_browser() {
    use wasm_bindgen::{closure::Closure, JsCast};
    let Some(window) = web_sys::window() else { return };
    let on_click = Closure::<dyn Fn(web_sys::Event)>::new(|ev: web_sys::Event| {
        let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else { return };
        let Some(href) = el.closest("a[href]").ok().flatten().and_then(|a| a.get_attribute("href")) else { return };
        let path = href.split(['?', '#']).next().unwrap_or_default();
        if is_admin_path(path) {
            ev.stop_propagation();
        }
    });
    let _ = window.add_event_listener_with_callback_and_bool("click", on_click.as_ref().unchecked_ref(), true);
    // For the page's lifetime, as the router's own listener.
    on_click.forget();
}
