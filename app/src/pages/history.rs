//! An annotator's own judgements in a project, newest first: each can be
//! opened on the annotator page and changed while inside the project's undo
//! window; read-only after it.
use crate::api::load_history;
use crate::components::{loaded, Flash, Nav};
use crate::i18n::{t, tf};
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
        <Title text=t("history.title") />
        <Nav />
        <main class="page">
            <Flash />
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move {
                    loaded(data.await, |d| {
                        let back = format!("/annotate/{}", d.slug);
                        view! {
                            <h1>{t("history.heading")} {d.title.clone()}</h1>
                            <p class="muted">
                                {tf("history.window", &[("n", &d.undo_judgements), ("m", &d.undo_minutes)])}
                                " " <a href=back.clone()>{t("history.back")}</a>
                            </p>
                            {if d.items.is_empty() {
                                view! { <p data-testid="history-empty">{t("history.empty")}</p> }.into_any()
                            } else {
                                view! {
                                    <table class="history" data-testid="history">
                                        <thead><tr><th>{t("history.when")}</th><th>{t("history.prompt")}</th><th>{t("history.judgement")}</th><th>{t("history.version")}</th><th></th></tr></thead>
                                        <tbody>
                                            {d.items.into_iter().map(|j| {
                                                let judgement = match j.choice.and_then(|c| Choice::new(c).ok()) {
                                                    Some(c) => format!("{} {}", c.key(), t(&format!("choice.{}", c.value()))),
                                                    None => t("history.ranking_rating").to_owned(),
                                                };
                                                let extra = if j.both_bad { t("history.both_bad") } else { "" };
                                                let open = format!("{back}?edit={}", j.task_id);
                                                view! {
                                                    <tr data-testid="history-item">
                                                        <td>{j.updated_at.clone().unwrap_or(j.created_at.clone())}</td>
                                                        <td>{j.prompt.clone()}</td>
                                                        <td>{judgement}{extra}</td>
                                                        <td>{j.version}</td>
                                                        <td>
                                                            {if j.editable {
                                                                view! { <a href=open>{t("history.change")}</a> }.into_any()
                                                            } else {
                                                                view! { <a href=open class="muted">{t("history.view")}</a> }.into_any()
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
