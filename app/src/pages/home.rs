use crate::api::my_projects;
use crate::components::{loaded, Flash, Nav};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let projects = Resource::new(|| (), |_| my_projects());
    view! {
        <Title text="Projects · Arbiter" />
        <Nav />
        <main class="page">
            <Flash />
            <h1>"Your projects"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    loaded(projects.await, |list| {
                        if list.is_empty() {
                            return view! { <p class="muted">"No projects yet. An admin has to add you to one."</p> }.into_any();
                        }
                        view! {
                            <ul class="cards">
                                {list.into_iter().map(|p| view! {
                                    <li class="card">
                                        <a href=format!("/annotate/{}", p.slug)><strong>{p.title}</strong></a>
                                        <span class="muted">{format!("{} done · {} to go", p.progress.done, p.progress.remaining)}</span>
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
