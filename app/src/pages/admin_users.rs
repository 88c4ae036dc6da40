use crate::api::admin_users;
use crate::components::{loaded, Flash, Nav};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let users = Resource::new(|| (), |_| admin_users());
    view! {
        <Title text="Users · Arbiter" />
        <Nav />
        <main class="page">
            <Flash />
            <h1>"Users"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    loaded(users.await, |rows| view! {
                        <table class="grid">
                            <thead><tr><th>"User"</th><th>"Role"</th><th>"Active"</th><th>"Last seen"</th><th>"Annotations"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|u| view! {
                                    <tr>
                                        <td>{u.username}</td><td>{u.role}</td>
                                        <td>{if u.active { "yes" } else { "no" }}</td>
                                        <td>{u.last_seen}</td><td>{u.annotations}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    })
                })}
            </Suspense>
            <h2>"Add a user"</h2>
            <form method="post" action="/admin/users" class="panel stack">
                <label>"Username" <input name="username" required /></label>
                <label>"Password (12+ characters)" <input name="password" type="password" minlength="12" required autocomplete="new-password" /></label>
                <label>"Role"
                    <select name="role">
                        <option value="annotator" selected>"annotator"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </label>
                <label>"Project to join (optional slug)" <input name="project" /></label>
                <button type="submit" class="primary">"Add user"</button>
            </form>
        </main>
    }
}
