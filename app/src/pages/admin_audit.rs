use crate::api::audit_log;
use crate::components::{loaded, Nav};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let rows = Resource::new(|| (), |_| audit_log());
    view! {
        <Title text="Audit log · Arbiter" />
        <Nav />
        <main class="page">
            <h1>"Audit log"</h1>
            <p class="muted">"The last 500 admin actions: users, roles, tokens, imports, exports, project settings."</p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    loaded(rows.await, |rows| view! {
                        <table class="grid" data-testid="audit">
                            <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Detail"</th></tr></thead>
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
