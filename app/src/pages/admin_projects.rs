use crate::api::admin_projects;
use crate::components::{loaded, Flash, Nav};
use crate::i18n::t;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminProjectsPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| admin_projects());
    view! {
        <Title text=t("admin.title") />
        <Nav />
        <main class="page">
            <Flash />
            <h1>{t("nav.projects")}</h1>
            <p><a href="/admin/leaderboard" data-testid="leaderboard-across">{t("leaderboard.across")}</a></p>
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move {
                    loaded(list.await, |rows| view! {
                        <table class="grid">
                            <thead><tr><th>{t("admin.project")}</th><th>{t("admin.pairs")}</th><th>{t("admin.complete")}</th><th>{t("admin.annotations")}</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|p| view! {
                                    <tr>
                                        <td><a href=format!("/admin/projects/{}", p.slug)>{p.title}</a> " " <code>{p.slug.clone()}</code></td>
                                        <td>{p.pairs}</td><td>{p.complete_pairs}</td><td>{p.annotations}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    })
                })}
            </Suspense>
            <h2>{t("admin.new_project")}</h2>
            <form method="post" action="/admin/projects" class="panel stack">
                <label>{t("admin.slug")} " " <input name="slug" required pattern="[a-z0-9][a-z0-9-]{0,63}" placeholder="rm-v2" /></label>
                <label>{t("admin.title_field")} " " <input name="title" required /></label>
                <label>{t("admin.per_pair")} " " <input name="annotations_per_pair" type="number" min="1" max="100" value="3" /></label>
                <label>{t("admin.task_type")} " "
                    <select name="task_type">
                        <option value="pairwise" selected>"pairwise"</option>
                        <option value="ranking">"ranking"</option>
                        <option value="rating">"rating"</option>
                    </select>
                </label>
                <button type="submit" class="primary">{t("admin.create_project")}</button>
            </form>
        </main>
    }
}
