use crate::api::audit_log;
use crate::components::{loaded, Nav};
use crate::i18n::t;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let rows = Resource::new(|| (), |_| audit_log());
    view! {
        <Title text=t("audit.title") />
        <Nav />
        <main class="page">
            <h1>{t("audit.heading")}</h1>
            <p class="muted">{t("audit.intro")}</p>
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move {
                    loaded(rows.await, |rows| view! {
                        <table class="grid" data-testid="audit">
                            <thead><tr><th>{t("history.when")}</th><th>{t("audit.who")}</th><th>{t("audit.action")}</th><th>{t("audit.target")}</th><th>{t("audit.detail")}</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr><td>{r.at}</td><td>{r.actor}</td><td><code>{r.action}</code></td><td>{r.target}</td><td><code>{r.detail}</code></td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    })
                })}
            </Suspense>
        </main>
    }
}
