use crate::api::load_account;
use crate::components::{loaded, Flash, Nav};
use crate::i18n::t;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// API tokens (create, shown once; revoke) and "log out everywhere".
#[component]
pub fn AccountPage() -> impl IntoView {
    let q = use_query_map();
    let data = Resource::new(move || q.read().get("reveal"), load_account);
    view! {
        <Title text=t("account.title") />
        <Nav />
        <main class="page">
            <Flash />
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move {
                    loaded(data.await, |d| view! {
                        <h1>{t("account.heading")} {d.username}</h1>
                        {d.revealed.map(|secret| view! {
                            <section class="panel import ok" data-testid="new-token">
                                <p>{t("account.new_token")}</p>
                                <code class="secret">{secret}</code>
                            </section>
                        })}
                        <h2>{t("account.tokens")}</h2>
                        <p class="muted">{t("account.send_as")} " " <code>"Authorization: Bearer …"</code> {t("account.permissions")}</p>
                        <table class="grid">
                            <thead><tr><th>{t("account.name")}</th><th>{t("account.created")}</th><th>{t("account.last_used")}</th><th></th></tr></thead>
                            <tbody>
                                {d.tokens.into_iter().map(|tok| view! {
                                    <tr>
                                        <td>{tok.name}</td><td>{tok.created}</td><td>{tok.last_used}</td>
                                        <td>{if tok.revoked {
                                            view! { <span class="muted">{t("account.revoked")}</span> }.into_any()
                                        } else {
                                            view! {
                                                <form method="post" action=format!("/account/tokens/{}/revoke", tok.uuid) class="inline">
                                                    <button type="submit">{t("account.revoke")}</button>
                                                </form>
                                            }.into_any()
                                        }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <form method="post" action="/account/tokens" class="panel inline-form">
                            <label>{t("account.token_name")} " " <input name="name" required placeholder="e.g. import script" /></label>
                            <button type="submit" class="primary">{t("account.create_token")}</button>
                        </form>
                        <h2>{t("account.sessions")}</h2>
                        <form method="post" action="/account/logout-everywhere" class="panel">
                            <p class="muted">{t("account.sessions_help")}</p>
                            <button type="submit">{t("account.logout_all")}</button>
                        </form>
                    })
                })}
            </Suspense>
        </main>
    }
}
