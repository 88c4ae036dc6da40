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
        <p data-testid="task-type">"Task: " <strong>{d.task_type.clone()}</strong>
            {(d.task_type == "rating").then(|| format!(" · {} on a {} scale", d.aspects.join(", "), d.scale))}</p>
        <section class="stats" data-testid="counts">
            <div><strong>{d.prompts}</strong>" prompts"</div>
            <div><strong>{d.pairs}</strong>{if d.unit == "prompts" { " tasks (prompts)" } else { " pairs" }}</div>
            <div><strong>{d.complete_pairs}</strong>" complete"</div>
            <div><strong>{d.annotations}</strong>" annotations"</div>
            <div><strong>{d.live_leases}</strong>" live leases"</div>
            <div><strong>{d.over_covered_pairs}</strong>" over-covered"</div>
        </section>
        <h2>"Export"</h2>
        <form method="get" action=export class="panel stack" data-testid="export">
            <div class="inline-form">
                <label>"Format "
                    <select name="format">
                        <option value="trl" selected>"TRL (explicit prompt)"</option>
                        <option value="trl-implicit">"TRL (implicit prompt)"</option>
                        <option value="openai-dpo">"OpenAI DPO"</option>
                        <option value="hh-rlhf">"HH-RLHF"</option>
                        <option value="arena">"Arena battles (one per annotation)"</option>
                        <option value="raw">"raw (one row per annotation)"</option>
                        <option value="pairs">"pairs (one row per pair, with votes)"</option>
                        <option value="rewards">"rewards (one row per completion)"</option>
                    </select>
                </label>
                <label>"File "
                    <select name="as">
                        <option value="jsonl" selected>"JSONL"</option>
                        <option value="parquet">"Parquet"</option>
                        <option value="csv">"CSV (raw, pairs)"</option>
                    </select>
                </label>
                <label>"Form "
                    <select name="form">
                        <option value="auto" selected>"auto (conversational if any prompt is a conversation)"</option>
                        <option value="standard">"standard (text)"</option>
                        <option value="conversational">"conversational (message lists)"</option>
                    </select>
                </label>
                <label>"Margin "
                    <select name="margin">
                        <option value="score" selected>"score"</option>
                        <option value="levels">"Llama-2 levels"</option>
                        <option value="none">"none"</option>
                    </select>
                </label>
            </div>
            <div class="inline-form">
                <label>"Min. annotations " <input name="min_annotations" type="number" min="1" value="1" /></label>
                <label>"Min. agreement " <input name="min_agreement" type="number" min="0" max="1" step="0.05" value="0" /></label>
                <label>"Ties "
                    <select name="ties"><option value="drop" selected>"drop"</option><option value="keep">"keep"</option></select>
                </label>
                <label>"Both bad "
                    <select name="both_bad"><option value="drop" selected>"drop"</option><option value="keep">"keep"</option></select>
                </label>
                <label>"Flagged "
                    <select name="flagged"><option value="keep" selected>"keep"</option><option value="drop">"drop"</option></select>
                </label>
            </div>
            <button type="submit" class="primary">"Download"</button>
        </form>
        {d.last_export.map(|e| view! {
            <section class="panel" data-testid="last-export">
                <h3>"Last export: " {e.format} " at " {e.when}</h3>
                <p>{e.summary}</p>
                <p class="muted">"sha256 " <code>{e.sha256}</code></p>
                <table class="grid">
                    <thead><tr><th>"Model"</th><th>"Wins"</th><th>"Ties"</th><th>"Losses"</th></tr></thead>
                    <tbody>{e.models.into_iter().map(|(m, w, t, l)| view! { <tr><td>{m}</td><td>{w}</td><td>{t}</td><td>{l}</td></tr> }).collect_view()}</tbody>
                </table>
            </section>
        })}

        {d.import.map(|imp| view! {
            <section class=if imp.ok { "panel import ok" } else { "panel import bad" } data-testid="import-report">
                <h2>"Import of " {imp.filename}</h2>
                <p>{imp.summary}</p>
                <ul>{imp.errors.into_iter().map(|e| view! { <li><code>{e}</code></li> }).collect_view()}</ul>
            </section>
        })}

        <h2>"Import"</h2>
        <ImportForm action=format!("{base}/import") />

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
        {d.agreement.imported_preference.map(|p| view! { <p data-testid="imported-preference">{p}</p> })}
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
            <label>"Undo: an annotator may change their last … judgements (0: no undo)" <input name="undo_judgements" type="number" min="0" max="1000" value=d.undo_judgements.to_string() /></label>
            <label>"… for … minutes after submitting (0: no undo)" <input name="undo_minutes" type="number" min="0" max="10080" value=d.undo_minutes.to_string() /></label>
            <label>"Flags (one a line)" <textarea name="flags" rows="4">{d.flags.join("\n")}</textarea></label>
            <label>"Pairs offered "
                <select name="pair_selection">
                    <option value="all" selected=d.pair_selection == "all">"all pairs, each N times"</option>
                    <option value="adaptive" selected=d.pair_selection == "adaptive">"adaptive: the least certain pair of a prompt, until its order is settled"</option>
                </select>
            </label>
            <label>"Task type (fixed once there are annotations) "
                <select name="task_type">
                    <option value="pairwise" selected=d.task_type == "pairwise">"pairwise: the better of two answers"</option>
                    <option value="ranking" selected=d.task_type == "ranking">"ranking: order all answers of a prompt"</option>
                    <option value="rating" selected=d.task_type == "rating">"rating: rate each answer on a scale"</option>
                </select>
            </label>
            <label>"Aspects rated (comma-separated)" <input name="aspects" value=d.aspects.join(", ") /></label>
            <label>"Rating scale (MIN-MAX)" <input name="scale" value=d.scale.clone() /></label>
            <label>"Scale labels (comma-separated, one per point, optional)" <input name="scale_labels" value=d.scale_labels.join(", ") /></label>
            <button type="submit" class="primary">"Save settings"</button>
        </form>
    }
}

/// The upload form. Without JavaScript a plain multipart post; once
/// hydrated the file goes up by XMLHttpRequest so the page can show how much
/// of a large file has been sent, then follows the server's answer as the
/// plain post would.
#[component]
fn ImportForm(action: String) -> impl IntoView {
    let progress = RwSignal::new(None::<f64>);
    let failed = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            if upload::start(&ev, progress, failed) {
                ev.prevent_default();
            }
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (ev, progress, failed);
        }
    };
    view! {
        <form method="post" action=action enctype="multipart/form-data" class="panel stack" data-testid="import-form" on:submit=on_submit>
            <p class="muted">"Arbiter's JSONL, one prompt a line: "
                <code>{r#"{"id": "p1", "prompt": "…", "completions": [{"model": "m1", "text": "…"}, {"model": "m2", "text": "…"}]}"#}</code>
                " — or " <code>"messages"</code> " instead of " <code>"prompt"</code>
                ". Existing preference sets too (TRL, HH-RLHF, Arena battles; JSONL or Parquet) and CSV with "
                <code>"prompt,model_a,completion_a,model_b,completion_b[,id]"</code>
                ". Their preference is kept (never shown to annotators). Nothing is imported if any line is bad, unless you skip bad lines."</p>
            <label>"Format "
                <select name="format">
                    <option value="auto" selected>"guess from the first line"</option>
                    <option value="native">"Arbiter JSONL"</option>
                    <option value="csv">"CSV"</option>
                    <option value="trl">"TRL"</option>
                    <option value="hh-rlhf">"HH-RLHF"</option>
                    <option value="arena">"Arena battles"</option>
                </select>
            </label>
            <label><input type="checkbox" name="skip_bad" value="1" /> " Skip bad lines (import the rest)"</label>
            <input type="file" name="file" aria-label="File to import" accept=".jsonl,.json,.csv,.parquet,application/jsonl,text/csv" required />
            <button type="submit" class="primary">"Import"</button>
            {move || progress.get().map(|p| view! {
                <p data-testid="upload-progress">
                    <progress max="100" value=p aria-label="Upload progress"></progress>
                    " " {format!("{p:.0}% uploaded")} {if p >= 100.0 { " — importing…" } else { "" }}
                </p>
            })}
            {move || failed.get().map(|e| view! { <p class="error" role="alert" data-testid="upload-error">{e}</p> })}
        </form>
    }
}

#[cfg(feature = "hydrate")]
mod upload {
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    /// Sends the form by XMLHttpRequest, reporting upload progress; false
    /// when that cannot be done here (the plain post goes ahead instead).
    pub fn start(ev: &leptos::ev::SubmitEvent, progress: RwSignal<Option<f64>>, failed: RwSignal<Option<String>>) -> bool {
        let Some(form) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok()) else { return false };
        let (Ok(data), Ok(xhr)) = (web_sys::FormData::new_with_form(&form), web_sys::XmlHttpRequest::new()) else {
            return false;
        };
        if xhr.open("POST", &form.action()).is_err() {
            return false;
        }
        if let Ok(up) = xhr.upload() {
            let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
                if e.length_computable() && e.total() > 0.0 {
                    progress.set(Some(100.0 * e.loaded() / e.total()));
                }
            });
            up.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
            on_progress.forget();
        }
        // Answered: go where the server sent the post (the report). Anything
        // else is said on the page; the file is not sent a second time (the
        // server may have imported it already).
        let (x, f) = (xhr.clone(), form.clone());
        let on_load = Closure::<dyn FnMut()>::new(move || {
            let url = x.response_url();
            let status = x.status().unwrap_or(0);
            match web_sys::window() {
                Some(w) if (200..300).contains(&status) && !url.is_empty() && url != f.action() => {
                    drop(w.location().assign(&url))
                }
                _ => {
                    progress.set(None);
                    failed.set(Some(format!(
                        "The upload was answered with HTTP {status}; see the project's import report before trying again."
                    )));
                }
            }
        });
        xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
        on_load.forget();
        let on_error = Closure::<dyn FnMut()>::new(move || {
            progress.set(None);
            failed.set(Some("The upload did not reach the server (network error).".into()));
        });
        xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        progress.set(Some(0.0));
        xhr.send_with_opt_form_data(Some(&data)).is_ok()
    }
}
