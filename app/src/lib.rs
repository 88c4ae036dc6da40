//! Arbiter's pages. Each page reads through server functions (`api`) and
//! changes state through plain HTML forms, so everything works without
//! JavaScript; hydration adds the keyboard-driven annotator on top.
pub mod api;
mod components;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
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

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/arbiter.css" />
        <Title text="Arbiter" />
        <Router>
            // Async: every page is sent whole, so it reads and works without
            // JavaScript, and a page can still set its status code.
            <Routes fallback=|| view! { <pages::NotFound /> }>
                <Route path=path!("/") view=pages::home::HomePage ssr=SsrMode::Async />
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async />
                <Route path=path!("/annotate/:slug") view=pages::annotate::AnnotatePage ssr=SsrMode::Async />
                <Route path=path!("/admin") view=pages::admin_projects::AdminProjectsPage ssr=SsrMode::Async />
                <Route path=path!("/admin/projects/:slug") view=pages::admin_project::AdminProjectPage ssr=SsrMode::Async />
                <Route path=path!("/admin/users") view=pages::admin_users::AdminUsersPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
