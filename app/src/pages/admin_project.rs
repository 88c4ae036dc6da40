use crate::api::{admin_project, AdminProjectData};
use crate::components::{loaded, Flash, Nav};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn AdminProjectPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || (params.read().get("slug").unwrap_or_default(), query.read().get("import"));
    let data = Resource::new(key, |(slug, import)| admin_project(slug, import));
    view! {
        <Title text="Project · Arbiter" />
        <Nav />
        <main class="page">
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move { loaded(data.await, |d| view! { <Project d /> }) })}
            </Suspense>
        </main>
    }
}

#[component]
fn Project(d: AdminProjectData) -> impl IntoView {
    let base = format!("/admin/projects/{}", d.slug);
    let export = format!("/api/v1/projects/{}/export", d.slug);
    view! {
        <h1>{d.title.clone()} " " <code>{d.slug.clone()}</code></h1>
        <section class="stats" data-testid="counts">
            <div><strong>{d.prompts}</strong>" prompts"</div>
            <div><strong>{d.pairs}</strong>" pairs"</div>
            <div><strong>{d.complete_pairs}</strong>" complete"</div>
            <div><strong>{d.annotations}</strong>" annotations"</div>
            <div><strong>{d.live_leases}</strong>" live leases"</div>
            <div><strong>{d.over_covered_pairs}</strong>" over-covered"</div>
        </section>
        <form method="get" action=export class="panel inline-form" data-testid="export">
            <input type="hidden" name="format" value="trl" />
            <label>"Form "
                <select name="form">
                    <option value="auto" selected>"auto (conversational if any prompt is a conversation)"</option>
                    <option value="standard">"standard (text)"</option>
                    <option value="conversational">"conversational (message lists)"</option>
                </select>
            </label>
            <button type="submit" class="primary">"Download TRL export (JSONL)"</button>
        </form>

        {d.import.map(|imp| view! {
            <section class=if imp.ok { "panel import ok" } else { "panel import bad" } data-testid="import-report">
                <h2>"Import of " {imp.filename}</h2>
                <p>{imp.summary}</p>
                <ul>{imp.errors.into_iter().map(|e| view! { <li><code>{e}</code></li> }).collect_view()}</ul>
            </section>
        })}

        <h2>"Import"</h2>
        <form method="post" action=format!("{base}/import") enctype="multipart/form-data" class="panel stack">
            <p class="muted">"JSONL, one prompt a line: "
                <code>{r#"{"id": "p1", "prompt": "…", "completions": [{"model": "m1", "text": "…"}, {"model": "m2", "text": "…"}]}"#}</code>
                " — or " <code>"messages"</code> " instead of " <code>"prompt"</code> ". Nothing is imported if any line is bad."</p>
            <input type="file" name="file" accept=".jsonl,.json,application/jsonl" required />
            <button type="submit" class="primary">"Import"</button>
        </form>

        <h2>"Annotators"</h2>
        <table class="grid">
            <thead><tr><th>"User"</th><th>"Annotations"</th><th>"Skipped"</th></tr></thead>
            <tbody>{d.annotators.into_iter().map(|(u, n, s)| view! { <tr><td>{u}</td><td>{n}</td><td>{s}</td></tr> }).collect_view()}</tbody>
        </table>
        <h2>"Agreement"</h2>
        <section class="stats" data-testid="agreement">
            <div><strong>{d.agreement.alpha_ordinal.clone()}</strong>" Krippendorff's α (ordinal)"</div>
            <div><strong>{d.agreement.alpha_interval.clone()}</strong>" α (interval)"</div>
            <div><strong>{d.agreement.fleiss_kappa.clone()}</strong>" Fleiss' κ (A / tie / B)"</div>
            <div><strong>{d.agreement.units}</strong>" pairs with 2+ votes"</div>
        </section>
        <table class="grid">
            <thead><tr><th>"Annotator"</th><th>"Votes compared"</th><th>"Agreement with the others' majority"</th></tr></thead>
            <tbody>{d.agreement.annotators.into_iter().map(|(u, n, a)| view! { <tr><td>{u}</td><td>{n}</td><td>{a}</td></tr> }).collect_view()}</tbody>
        </table>
        <h2>"Members"</h2>
        <p class="muted">"Annotators see and work only on projects they are members of."</p>
        <ul class="members" data-testid="members">
            {d.members.into_iter().map(|m| {
                let remove = format!("{base}/members/remove");
                view! {
                    <li>
                        {m.clone()} " "
                        <form method="post" action=remove class="inline">
                            <input type="hidden" name="username" value=m />
                            <button type="submit">"Remove"</button>
                        </form>
                    </li>
                }
            }).collect_view()}
        </ul>
        <form method="post" action=format!("{base}/members") class="panel inline-form">
            <label>"Add a member " <input name="username" required placeholder="username" /></label>
            <button type="submit">"Add"</button>
        </form>

        <h2>"Settings"</h2>
        <form method="post" action=format!("{base}/settings") class="panel stack">
            <label>"Title" <input name="title" value=d.title required /></label>
            <label>"Guidelines (markdown)" <textarea name="guidelines" rows="8">{d.guidelines}</textarea></label>
            <label>"Annotations per pair" <input name="annotations_per_pair" type="number" min="1" max="100" value=d.annotations_per_pair.to_string() /></label>
            <label>"Lease (seconds)" <input name="lease_seconds" type="number" min="10" max="86400" value=d.lease_seconds.to_string() /></label>
            <label>"Flags (one a line)" <textarea name="flags" rows="4">{d.flags.join("\n")}</textarea></label>
            <button type="submit" class="primary">"Save settings"</button>
        </form>
    }
}
