use crate::api::load_account;
use crate::components::{loaded, Flash, Nav};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// API tokens (create, shown once; revoke) and "log out everywhere".
#[component]
pub fn AccountPage() -> impl IntoView {
    let q = use_query_map();
    let data = Resource::new(move || q.read().get("reveal"), load_account);
    view! {
        <Title text="Account · Arbiter" />
        <Nav />
        <main class="page">
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    loaded(data.await, |d| view! {
                        <h1>"Account: " {d.username}</h1>
                        {d.revealed.map(|t| view! {
                            <section class="panel import ok" data-testid="new-token">
                                <p>"Your new API token. Copy it now: it is not shown again."</p>
                                <code class="secret">{t}</code>
                            </section>
                        })}
                        <h2>"API tokens"</h2>
                        <p class="muted">"Send as " <code>"Authorization: Bearer …"</code> "; a token has your permissions."</p>
                        <table class="grid">
                            <thead><tr><th>"Name"</th><th>"Created"</th><th>"Last used"</th><th></th></tr></thead>
                            <tbody>
                                {d.tokens.into_iter().map(|t| view! {
                                    <tr>
                                        <td>{t.name}</td><td>{t.created}</td><td>{t.last_used}</td>
                                        <td>{if t.revoked {
                                            view! { <span class="muted">"revoked"</span> }.into_any()
                                        } else {
                                            view! {
                                                <form method="post" action=format!("/account/tokens/{}/revoke", t.uuid) class="inline">
                                                    <button type="submit">"Revoke"</button>
                                                </form>
                                            }.into_any()
                                        }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <form method="post" action="/account/tokens" class="panel inline-form">
                            <label>"New token name " <input name="name" required placeholder="e.g. import script" /></label>
                            <button type="submit" class="primary">"Create token"</button>
                        </form>
                        <h2>"Sessions"</h2>
                        <form method="post" action="/account/logout-everywhere" class="panel">
                            <p class="muted">"Ends every session of yours, on every device, this one included."</p>
                            <button type="submit">"Log out everywhere"</button>
                        </form>
                    })
                })}
            </Suspense>
        </main>
    }
}
