use crate::api::{admin_users, AdminUsersData};
use crate::components::{loaded, Flash, Nav};
use crate::i18n::{t, tf};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let q = use_query_map();
    let data = Resource::new(move || q.read().get("reveal"), admin_users);
    view! {
        <Title text=t("users.title") />
        <Nav />
        <main class="page">
            <Flash />
            <h1>{t("nav.users")}</h1>
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move { loaded(data.await, |d| view! { <Users d /> }) })}
            </Suspense>
        </main>
    }
}

#[component]
fn Users(d: AdminUsersData) -> impl IntoView {
    view! {
        {d.revealed.map(|link| view! {
            <section class="panel import ok" data-testid="new-link">
                <p>{t("users.link_once")}</p>
                <code class="secret">{link}</code>
            </section>
        })}
        <table class="grid">
            <thead><tr><th>{t("users.user")}</th><th>{t("users.role")}</th><th>{t("nav.projects")}</th><th>{t("users.active")}</th><th>{t("users.last_seen")}</th><th>{t("admin.annotations")}</th><th></th></tr></thead>
            <tbody>
                {d.users.into_iter().map(|u| {
                    let base = format!("/admin/users/{}", u.username);
                    let other_role = if u.role == "admin" { "annotator" } else { "admin" };
                    view! {
                        <tr>
                            <td>{u.username.clone()}</td>
                            <td>{u.role.clone()}</td>
                            <td>{u.projects.join(", ")}</td>
                            <td>{if u.active { t("common.yes") } else { t("common.no") }}</td>
                            <td>{u.last_seen}</td>
                            <td>{u.annotations}</td>
                            <td class="row-actions">
                                <form method="post" action=format!("{base}/role") class="inline">
                                    <input type="hidden" name="role" value=other_role />
                                    <button type="submit">{tf("users.make", &[("role", &other_role)])}</button>
                                </form>
                                <form method="post" action=format!("{base}/active") class="inline">
                                    <input type="hidden" name="active" value=if u.active { "false" } else { "true" } />
                                    <button type="submit">{if u.active { t("users.deactivate") } else { t("users.activate") }}</button>
                                </form>
                                <form method="post" action=format!("{base}/reset") class="inline">
                                    <label class="check"><input type="checkbox" name="revoke_tokens" /> " " {t("users.revoke_tokens")}</label>
                                    <button type="submit">{t("users.reset")}</button>
                                </form>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <h2>{t("users.invite")}</h2>
        <form method="post" action="/admin/invites" class="panel stack">
            <RoleSelect />
            <fieldset class="flags-box">
                <legend>{t("nav.projects")}</legend>
                {d.projects.into_iter().map(|p| view! {
                    <label class="check"><input type="checkbox" name="projects" value=p.clone() /> " " {p.clone()}</label>
                }).collect_view()}
            </fieldset>
            <label>{t("users.expires")} " " <input name="hours" type="number" min="1" max="720" value="72" /></label>
            <button type="submit" class="primary">{t("users.create_invite")}</button>
        </form>
        <h2>{t("users.add_direct")}</h2>
        <form method="post" action="/admin/users" class="panel stack">
            <label>{t("login.username")} " " <input name="username" required /></label>
            <label>{t("invite.password")} " " <input name="password" type="password" minlength="12" required autocomplete="new-password" /></label>
            <RoleSelect />
            <label>{t("users.project")} " " <input name="project" /></label>
            <button type="submit" class="primary">{t("users.add")}</button>
        </form>
    }
}

#[component]
fn RoleSelect() -> impl IntoView {
    view! {
        <label>{t("users.role")}
            <select name="role">
                <option value="annotator" selected>"annotator"</option>
                <option value="admin">"admin"</option>
            </select>
        </label>
    }
}
