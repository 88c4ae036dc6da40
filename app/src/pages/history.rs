//! An annotator's own judgements in a project, newest first: each can be
//! opened on the annotator page and changed while inside the project's undo
//! window; read-only after it.
use crate::api::load_history;
use crate::components::{loaded, Flash, Nav};
use arbiter_core::domain::Choice;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn HistoryPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let data = Resource::new(slug, load_history);
    view! {
        <Title text="History · Arbiter" />
        <Nav />
        <main class="page">
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    loaded(data.await, |d| {
                        let back = format!("/annotate/{}", d.slug);
                        view! {
                            <h1>"Your judgements · " {d.title.clone()}</h1>
                            <p class="muted">
                                {format!(
                                    "Newest first. Your last {} judgements can be changed for {} minutes after you submit them.",
                                    d.undo_judgements, d.undo_minutes
                                )}
                                " " <a href=back.clone()>"Back to annotating"</a>
                            </p>
                            {if d.items.is_empty() {
                                view! { <p data-testid="history-empty">"Nothing judged yet."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="history" data-testid="history">
                                        <thead><tr><th>"When"</th><th>"Prompt"</th><th>"Judgement"</th><th>"Version"</th><th></th></tr></thead>
                                        <tbody>
                                            {d.items.into_iter().map(|j| {
                                                let judgement = match j.choice.and_then(|c| Choice::new(c).ok()) {
                                                    Some(c) => format!("{} {}", c.key(), c.label()),
                                                    None => "ranking / rating".to_owned(),
                                                };
                                                let extra = if j.both_bad { " · both bad" } else { "" };
                                                let open = format!("{back}?edit={}", j.task_id);
                                                view! {
                                                    <tr data-testid="history-item">
                                                        <td>{j.updated_at.clone().unwrap_or(j.created_at.clone())}</td>
                                                        <td>{j.prompt.clone()}</td>
                                                        <td>{judgement}{extra}</td>
                                                        <td>{j.version}</td>
                                                        <td>
                                                            {if j.editable {
                                                                view! { <a href=open>"Change"</a> }.into_any()
                                                            } else {
                                                                view! { <a href=open class="muted">"View"</a> }.into_any()
                                                            }}
                                                        </td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                        }
                    })
                })}
            </Suspense>
        </main>
    }
}
