use crate::api::{admin_users, AdminUsersData};
use crate::components::{loaded, Flash, Nav};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let q = use_query_map();
    let data = Resource::new(move || q.read().get("reveal"), admin_users);
    view! {
        <Title text="Users · Arbiter" />
        <Nav />
        <main class="page">
            <Flash />
            <h1>"Users"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
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
                <p>"Send this single-use link to the person. It is shown only now."</p>
                <code class="secret">{link}</code>
            </section>
        })}
        <table class="grid">
            <thead><tr><th>"User"</th><th>"Role"</th><th>"Projects"</th><th>"Active"</th><th>"Last seen"</th><th>"Annotations"</th><th></th></tr></thead>
            <tbody>
                {d.users.into_iter().map(|u| {
                    let base = format!("/admin/users/{}", u.username);
                    let other_role = if u.role == "admin" { "annotator" } else { "admin" };
                    view! {
                        <tr>
                            <td>{u.username.clone()}</td>
                            <td>{u.role.clone()}</td>
                            <td>{u.projects.join(", ")}</td>
                            <td>{if u.active { "yes" } else { "no" }}</td>
                            <td>{u.last_seen}</td>
                            <td>{u.annotations}</td>
                            <td class="row-actions">
                                <form method="post" action=format!("{base}/role") class="inline">
                                    <input type="hidden" name="role" value=other_role />
                                    <button type="submit">{format!("Make {other_role}")}</button>
                                </form>
                                <form method="post" action=format!("{base}/active") class="inline">
                                    <input type="hidden" name="active" value=if u.active { "false" } else { "true" } />
                                    <button type="submit">{if u.active { "Deactivate" } else { "Activate" }}</button>
                                </form>
                                <form method="post" action=format!("{base}/reset") class="inline">
                                    <label class="check"><input type="checkbox" name="revoke_tokens" /> " and revoke API tokens"</label>
                                    <button type="submit">"Reset password"</button>
                                </form>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Invite someone"</h2>
        <form method="post" action="/admin/invites" class="panel stack">
            <RoleSelect />
            <fieldset class="flags-box">
                <legend>"Projects"</legend>
                {d.projects.into_iter().map(|p| view! {
                    <label class="check"><input type="checkbox" name="projects" value=p.clone() /> " " {p.clone()}</label>
                }).collect_view()}
            </fieldset>
            <label>"Link expires after (hours)" <input name="hours" type="number" min="1" max="720" value="72" /></label>
            <button type="submit" class="primary">"Create invite link"</button>
        </form>
        <h2>"Add a user directly"</h2>
        <form method="post" action="/admin/users" class="panel stack">
            <label>"Username" <input name="username" required /></label>
            <label>"Password (12+ characters)" <input name="password" type="password" minlength="12" required autocomplete="new-password" /></label>
            <RoleSelect />
            <label>"Project to join (optional slug)" <input name="project" /></label>
            <button type="submit" class="primary">"Add user"</button>
        </form>
    }
}

#[component]
fn RoleSelect() -> impl IntoView {
    view! {
        <label>"Role"
            <select name="role">
                <option value="annotator" selected>"annotator"</option>
                <option value="admin">"admin"</option>
            </select>
        </label>
    }
}
