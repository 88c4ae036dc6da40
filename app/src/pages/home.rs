use crate::api::my_projects;
use crate::components::{loaded, Flash, Nav};
use crate::i18n::{t, tf};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let projects = Resource::new(|| (), |_| my_projects());
    view! {
        <Title text=t("home.title") />
        <Nav />
        <main class="page">
            <Flash />
            <h1>{t("home.heading")}</h1>
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move {
                    loaded(projects.await, |list| {
                        if list.is_empty() {
                            return view! { <p class="muted">{t("home.none")}</p> }.into_any();
                        }
                        view! {
                            <ul class="cards">
                                {list.into_iter().map(|p| view! {
                                    <li class="card">
                                        <a href=format!("/annotate/{}", p.slug)><strong>{p.title}</strong></a>
                                        <span class="muted">{tf("progress.line", &[("done", &p.progress.done), ("left", &p.progress.remaining)])}</span>
                                        <span class="muted" data-testid="my-stats">{tf("home.today", &[("n", &p.today)])}
                                            {(!p.agreement.is_empty()).then(|| format!(" · {}", tf("home.agreement", &[("share", &p.agreement), ("n", &p.compared)])))}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    })
                })}
            </Suspense>
        </main>
    }
}
