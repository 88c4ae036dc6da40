use crate::api::{admin_project, AdminProjectData};
use crate::components::{loaded, Flash, Nav};
use crate::i18n::{t, tf};
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
        <Title text=t("project.title") />
        <Nav />
        <main class="page">
            <Flash />
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
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
        <p data-testid="task-type">{t("project.task")} " " <strong>{d.task_type.clone()}</strong>
            {(d.task_type == "rating").then(|| tf("project.rated_on", &[("aspects", &d.aspects.join(", ")), ("scale", &d.scale)]))}</p>
        <p><a href=format!("{base}/dashboard") data-testid="dashboard-link">{t("dashboard.link")}</a> " · "
           <a href=format!("{base}/leaderboard") data-testid="leaderboard-link">{t("leaderboard.link")}</a></p>
        <section class="stats" data-testid="counts">
            <div><strong>{d.prompts}</strong>" " {t("project.prompts")}</div>
            <div><strong>{d.pairs}</strong>" " {if d.unit == "prompts" { t("project.tasks_prompts") } else { t("project.pairs") }}</div>
            <div><strong>{d.complete_pairs}</strong>" " {t("project.complete")}</div>
            <div><strong>{d.annotations}</strong>" " {t("project.annotations")}</div>
            <div><strong>{d.live_leases}</strong>" " {t("project.live_leases")}</div>
            <div><strong>{d.over_covered_pairs}</strong>" " {t("project.over_covered")}</div>
        </section>
        <h2>{t("project.export")}</h2>
        <form method="get" action=export class="panel stack" data-testid="export">
            <div class="inline-form">
                <label>{t("project.format")} " "
                    <select name="format">
                        <option value="trl" selected>{t("project.f_trl")}</option>
                        <option value="trl-implicit">{t("project.f_trl_implicit")}</option>
                        <option value="openai-dpo">"OpenAI DPO"</option>
                        <option value="hh-rlhf">"HH-RLHF"</option>
                        <option value="arena">{t("project.f_arena")}</option>
                        <option value="raw">{t("project.f_raw")}</option>
                        <option value="pairs">{t("project.f_pairs")}</option>
                        <option value="rewards">{t("project.f_rewards")}</option>
                    </select>
                </label>
                <label>{t("project.file")} " "
                    <select name="as">
                        <option value="jsonl" selected>"JSONL"</option>
                        <option value="parquet">"Parquet"</option>
                        <option value="csv">"CSV (raw, pairs)"</option>
                    </select>
                </label>
                <label>{t("project.form")} " "
                    <select name="form">
                        <option value="auto" selected>{t("project.form_auto")}</option>
                        <option value="standard">{t("project.form_standard")}</option>
                        <option value="conversational">{t("project.form_conversational")}</option>
                    </select>
                </label>
                <label>{t("project.margin")} " "
                    <select name="margin">
                        <option value="score" selected>"score"</option>
                        <option value="levels">"Llama-2 levels"</option>
                        <option value="none">{t("project.none")}</option>
                    </select>
                </label>
            </div>
            <div class="inline-form">
                <label>{t("project.min_annotations")} " " <input name="min_annotations" type="number" min="1" value="1" /></label>
                <label>{t("project.min_agreement")} " " <input name="min_agreement" type="number" min="0" max="1" step="0.05" value="0" /></label>
                <label>{t("project.ties")} " "
                    <select name="ties"><option value="drop" selected>{t("project.drop")}</option><option value="keep">{t("project.keep")}</option></select>
                </label>
                <label>{t("project.both_bad")} " "
                    <select name="both_bad"><option value="drop" selected>{t("project.drop")}</option><option value="keep">{t("project.keep")}</option></select>
                </label>
                <label>{t("project.flagged")} " "
                    <select name="flagged"><option value="keep" selected>{t("project.keep")}</option><option value="drop">{t("project.drop")}</option></select>
                </label>
                <label><input type="checkbox" name="exclude_flagged_annotators" value="true" /> " " {t("project.exclude_flagged_annotators")}</label>
            </div>
            <button type="submit" class="primary">{t("project.download")}</button>
        </form>
        {d.last_export.map(|e| view! {
            <section class="panel" data-testid="last-export">
                <h3>{tf("project.last_export", &[("format", &e.format), ("when", &e.when)])}</h3>
                <p>{e.summary}</p>
                <p class="muted">"sha256 " <code>{e.sha256}</code></p>
                <table class="grid">
                    <thead><tr><th>{t("project.model")}</th><th>{t("project.wins")}</th><th>{t("project.ties")}</th><th>{t("project.losses")}</th></tr></thead>
                    <tbody>{e.models.into_iter().map(|(m, w, ties, l)| view! { <tr><td>{m}</td><td>{w}</td><td>{ties}</td><td>{l}</td></tr> }).collect_view()}</tbody>
                </table>
            </section>
        })}

        {d.import.map(|imp| view! {
            <section class=if imp.ok { "panel import ok" } else { "panel import bad" } data-testid="import-report">
                <h2>{t("project.import_of")} " " {imp.filename}</h2>
                <p>{imp.summary}</p>
                <ul>{imp.errors.into_iter().map(|e| view! { <li><code>{e}</code></li> }).collect_view()}</ul>
            </section>
        })}

        <h2>{t("project.import")}</h2>
        <ImportForm action=format!("{base}/import") />

        <h2>{t("project.annotators")}</h2>
        <table class="grid">
            <thead><tr><th>{t("users.user")}</th><th>{t("admin.annotations")}</th><th>{t("project.skipped")}</th></tr></thead>
            <tbody>{d.annotators.into_iter().map(|(u, n, s)| view! { <tr><td>{u}</td><td>{n}</td><td>{s}</td></tr> }).collect_view()}</tbody>
        </table>
        <h2>{t("project.agreement")}</h2>
        <section class="stats" data-testid="agreement">
            <div><strong>{d.agreement.alpha_ordinal.clone()}</strong>" " {t("project.alpha_ordinal")}</div>
            <div><strong>{d.agreement.alpha_interval.clone()}</strong>" " {t("project.alpha_interval")}</div>
            <div><strong>{d.agreement.fleiss_kappa.clone()}</strong>" " {t("project.kappa")}</div>
            <div><strong>{d.agreement.units}</strong>" " {t("project.units")}</div>
        </section>
        {d.agreement.imported_preference.map(|p| view! { <p data-testid="imported-preference">{p}</p> })}
        <table class="grid">
            <thead><tr><th>{t("project.annotator")}</th><th>{t("project.votes_compared")}</th><th>{t("project.with_majority")}</th></tr></thead>
            <tbody>{d.agreement.annotators.into_iter().map(|(u, n, a)| view! { <tr><td>{u}</td><td>{n}</td><td>{a}</td></tr> }).collect_view()}</tbody>
        </table>
        <h2>{t("project.members")}</h2>
        <p class="muted">{t("project.members_help")}</p>
        <ul class="members" data-testid="members">
            {d.members.into_iter().map(|m| {
                let remove = format!("{base}/members/remove");
                view! {
                    <li>
                        {m.clone()} " "
                        <form method="post" action=remove class="inline">
                            <input type="hidden" name="username" value=m />
                            <button type="submit">{t("project.remove")}</button>
                        </form>
                    </li>
                }
            }).collect_view()}
        </ul>
        <form method="post" action=format!("{base}/members") class="panel inline-form">
            <label>{t("project.add_member")} " " <input name="username" required placeholder="username" /></label>
            <button type="submit">{t("project.add")}</button>
        </form>

        <h2>{t("project.settings")}</h2>
        <form method="post" action=format!("{base}/settings") class="panel stack">
            <label>{t("admin.title_field")} " " <input name="title" value=d.title required /></label>
            <label>{t("project.guidelines")} " " <textarea name="guidelines" rows="8">{d.guidelines}</textarea></label>
            <label>{t("admin.per_pair")} " " <input name="annotations_per_pair" type="number" min="1" max="100" value=d.annotations_per_pair.to_string() /></label>
            <label>{t("project.lease")} " " <input name="lease_seconds" type="number" min="10" max="86400" value=d.lease_seconds.to_string() /></label>
            <label>{t("project.undo_judgements")} " " <input name="undo_judgements" type="number" min="0" max="1000" value=d.undo_judgements.to_string() /></label>
            <label>{t("project.undo_minutes")} " " <input name="undo_minutes" type="number" min="0" max="10080" value=d.undo_minutes.to_string() /></label>
            <label>{t("project.gold_percent")} " " <input name="gold_percent" type="number" min="0" max="50" value=d.gold_percent.to_string() /></label>
            <label>{t("project.gold_accuracy_min")} " " <input name="gold_accuracy_min" type="number" min="0" max="100" value=d.gold_accuracy_min.to_string() /></label>
            <label>{t("project.flag_agreement_min")} " " <input name="flag_agreement_min" type="number" min="0" max="100" value=d.flag_agreement_min.to_string() /></label>
            <label>{t("project.flag_skip_max")} " " <input name="flag_skip_max" type="number" min="0" max="100" value=d.flag_skip_max.to_string() /></label>
            <label>{t("project.flag_bias_permille")} " " <input name="flag_bias_permille" type="number" min="0" max="1000" value=d.flag_bias_permille.to_string() /></label>
            <label>{t("project.flags")} " " <textarea name="flags" rows="4">{d.flags.join("\n")}</textarea></label>
            <label>{t("project.pairs_offered")} " "
                <select name="pair_selection">
                    <option value="all" selected=d.pair_selection == "all">{t("project.all_pairs")}</option>
                    <option value="adaptive" selected=d.pair_selection == "adaptive">{t("project.adaptive")}</option>
                </select>
            </label>
            <label>{t("project.selection")} " "
                <select name="selection">
                    <option value="uniform" selected=d.selection == "uniform">{t("project.s_uniform")}</option>
                    <option value="active" selected=d.selection == "active">{t("project.s_active")}</option>
                </select>
            </label>
            <label>{t("project.task_type")} " "
                <select name="task_type">
                    <option value="pairwise" selected=d.task_type == "pairwise">{t("project.t_pairwise")}</option>
                    <option value="ranking" selected=d.task_type == "ranking">{t("project.t_ranking")}</option>
                    <option value="rating" selected=d.task_type == "rating">{t("project.t_rating")}</option>
                </select>
            </label>
            <label>{t("project.aspects")} " " <input name="aspects" value=d.aspects.join(", ") /></label>
            <label>{t("project.scale")} " " <input name="scale" value=d.scale.clone() /></label>
            <label>{t("project.scale_labels")} " " <input name="scale_labels" value=d.scale_labels.join(", ") /></label>
            <button type="submit" class="primary">{t("project.save")}</button>
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
    let lang = crate::i18n::lang();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            if upload::start(&ev, progress, failed, lang) {
                ev.prevent_default();
            }
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (ev, progress, failed, lang);
        }
    };
    view! {
        <form method="post" action=action enctype="multipart/form-data" class="panel stack" data-testid="import-form" on:submit=on_submit>
            <p class="muted">{t("project.import_help_1")} " "
                <code>{r#"{"id": "p1", "prompt": "…", "completions": [{"model": "m1", "text": "…"}, {"model": "m2", "text": "…"}]}"#}</code>
                " " {t("project.import_help_or")} " " <code>"messages"</code> " " {t("project.import_help_instead")} " " <code>"prompt"</code>
                {t("project.import_help_2")} " "
                <code>"prompt,model_a,completion_a,model_b,completion_b[,id]"</code>
                {t("project.import_help_3")}</p>
            <label>{t("project.format")} " "
                <select name="format">
                    <option value="auto" selected>{t("project.guess")}</option>
                    <option value="native">"Arbiter JSONL"</option>
                    <option value="csv">"CSV"</option>
                    <option value="trl">"TRL"</option>
                    <option value="hh-rlhf">"HH-RLHF"</option>
                    <option value="arena">"Arena battles"</option>
                </select>
            </label>
            <label><input type="checkbox" name="skip_bad" value="1" /> " " {t("project.skip_bad")}</label>
            <input type="file" name="file" aria-label=t("project.file_to_import") accept=".jsonl,.json,.csv,.parquet,application/jsonl,text/csv" required />
            <button type="submit" class="primary">{t("project.import")}</button>
            {move || progress.get().map(|p| view! {
                <p data-testid="upload-progress">
                    <progress max="100" value=p aria-label=t("project.upload_progress")></progress>
                    " " {tf("project.uploaded", &[("p", &format!("{p:.0}"))])} {if p >= 100.0 { t("project.importing") } else { "" }}
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
    pub fn start(
        ev: &leptos::ev::SubmitEvent,
        progress: RwSignal<Option<f64>>,
        failed: RwSignal<Option<String>>,
        lang: crate::i18n::Lang,
    ) -> bool {
        use crate::i18n::{fill, tr};
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
                    failed.set(Some(fill(tr(lang, "upload.http_status"), &[("status", &status.to_string())])));
                }
            }
        });
        xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
        on_load.forget();
        let on_error = Closure::<dyn FnMut()>::new(move || {
            progress.set(None);
            failed.set(Some(tr(lang, "upload.network").to_owned()));
        });
        xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        progress.set(Some(0.0));
        xhr.send_with_opt_form_data(Some(&data)).is_ok()
    }
}
