//! The admin's dashboard of a project and the page of one pair (issue 10).
//! Numbers and charts come formatted and drawn from the server.
use crate::api::{load_dashboard, load_pair, load_split, DashboardView, PairView, SplitView, VoteRow};
use crate::components::{loaded, Flash, Nav};
use crate::i18n::{t, tf};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn DashboardPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || (params.read().get("slug").unwrap_or_default(), query.read().get("model"));
    let data = Resource::new(key, |(slug, model)| load_dashboard(slug, model));
    view! {
        <Title text=t("dashboard.title") />
        <Nav />
        <main class="page wide">
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move { loaded(data.await, |d| view! { <Dashboard d /> }) })}
            </Suspense>
        </main>
    }
}

#[component]
fn Dashboard(d: DashboardView) -> impl IntoView {
    let base = format!("/admin/projects/{}", d.slug);
    let pairs_base = base.clone();
    let models_base = base.clone();
    view! {
        <h1>{tf("dashboard.heading", &[("title", &d.title)])}</h1>
        <p><a href=base.clone()>{t("leaderboard.back")}</a> " · " <a href=format!("{base}/leaderboard")>{t("leaderboard.link")}</a>
           " · " <a href=format!("{base}/adjudicate") data-testid="adjudicate-link">{t("adjudicate.link")}</a></p>
        <section class="panel" data-testid="overview">
            <h2>{t("dashboard.progress")}</h2>
            <p>
                <label for="progress-bar">{tf("dashboard.tasks_done", &[("done", &d.complete), ("total", &d.tasks)])}</label>
                " " <progress id="progress-bar" max=d.tasks.max(1).to_string() value=d.complete.to_string()></progress>
            </p>
            <p>{tf("dashboard.judgements", &[("n", &d.judgements), ("target", &d.target)])} " · "
               {tf("dashboard.live", &[("n", &d.live_leases)])} " · "
               <span data-testid="pace">{tf("dashboard.pace", &[("pace", &d.pace), ("eta", &d.eta)])}</span></p>
            {(!d.per_hour_svg.is_empty()).then(|| view! {
                <figure class="charts" data-testid="chart-per-hour"><figcaption>{t("dashboard.per_hour")}</figcaption><div inner_html=d.per_hour_svg.clone() /></figure>
            })}
        </section>
        <section class="panel" data-testid="annotators">
            <h2>{t("dashboard.annotators")}</h2>
            <p class="muted">{t("dashboard.annotators_help")}</p>
            <table class="grid">
                <thead><tr>
                    <th>{t("dashboard.annotator")}</th><th>{t("dashboard.count")}</th><th>{t("dashboard.median_time")}</th>
                    <th>{t("dashboard.skip_rate")}</th><th>{t("dashboard.agreement")}</th><th>{t("dashboard.left")}</th><th>{t("dashboard.gold")}</th>
                    <th>{t("dashboard.strength")}</th><th>{t("dashboard.flags")}</th>
                </tr></thead>
                <tbody>
                    {d.annotators.into_iter().map(|a| {
                        let flagged = !a.flags.is_empty();
                        view! {
                            <tr class:flagged=flagged data-testid="annotator-row">
                                <td>{a.username}</td><td>{a.judgements}</td><td>{a.median}</td><td>{a.skip_rate}</td>
                                <td>{a.agreement}</td><td>{a.left}</td><td>{a.gold}</td>
                                <td><span inner_html=a.strengths_svg /><span class="muted">{a.strengths}</span></td>
                                <td data-testid="annotator-flags">{a.flags.iter().map(|f| t(f)).collect::<Vec<_>>().join(", ")}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="panel" data-testid="model-flags">
            <h2>{t("dashboard.models")}</h2>
            <table class="grid">
                <thead><tr>
                    <th>{t("leaderboard.model")}</th><th>{t("dashboard.judged")}</th><th>{t("dashboard.both_bad")}</th>
                    <th>{t("dashboard.flagged")}</th><th>{t("dashboard.answer_flags")}</th>
                </tr></thead>
                <tbody>
                    {d.models.into_iter().map(|m| {
                        let link = format!("{models_base}/dashboard?model={}#flagged", urlencoding(&m.model));
                        view! {
                            <tr>
                                <td><code>{m.model.clone()}</code></td><td>{m.judged}</td>
                                <td><a href=link.clone() data-testid="flag-link">{m.both_bad}</a></td>
                                <td><a href=link>{m.flagged}</a></td><td>{m.answer_flags}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="panel" id="flagged" data-testid="flagged-pairs">
            <h2>{match &d.flagged_model {
                Some(m) => tf("dashboard.flagged_of", &[("model", m)]),
                None => t("dashboard.flagged_all").to_owned(),
            }}</h2>
            {d.flagged.is_empty().then(|| view! { <p>{t("dashboard.none_flagged")}</p> })}
            <ul>
                {d.flagged.into_iter().map(|p| view! {
                    <li><a href=format!("{pairs_base}/pairs/{}", p.pair) data-testid="pair-link">
                        <code>{p.model_a}</code> " – " <code>{p.model_b}</code></a>
                        " " {tf("dashboard.pair_counts", &[("both_bad", &p.both_bad), ("flagged", &p.flagged)])}</li>
                }).collect_view()}
            </ul>
        </section>
    }
}

/// Percent-encodes a model name for a query value.
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn PairPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || (params.read().get("slug").unwrap_or_default(), params.read().get("pair").unwrap_or_default());
    let data = Resource::new(key, |(slug, pair)| load_pair(slug, pair));
    view! {
        <Title text=t("pair.title") />
        <Nav />
        <main class="page wide">
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move { loaded(data.await, |p| view! { <Pair p /> }) })}
            </Suspense>
        </main>
    }
}

#[component]
fn Pair(p: PairView) -> impl IntoView {
    view! {
        <h1>{t("pair.heading")}</h1>
        <Flash />
        <p><a href=format!("/admin/projects/{}/dashboard", p.slug)>{t("pair.back")}</a></p>
        <section class="thread">
            {p.thread.into_iter().map(|(role, html)| view! { <div class=format!("turn {role}")><div class="md" inner_html=html /></div> }).collect_view()}
        </section>
        <div class="sides">
            <article class="side card" data-testid="pair-a"><h2>"A · " <code>{p.model_a}</code></h2><div class="md" inner_html=p.a_html /></article>
            <article class="side card" data-testid="pair-b"><h2>"B · " <code>{p.model_b}</code></h2><div class="md" inner_html=p.b_html /></article>
        </div>
        <form method="post" action=format!("/admin/projects/{}/pairs/{}/gold", p.slug, p.pair) class="inline-form" data-testid="gold-form">
            <label>{t("pair.gold")} " " <AnswerSelect name="gold" none=t("pair.gold_none") current=p.gold.clone() /></label>
            <button type="submit">{t("pair.gold_save")}</button>
        </form>
        <LabelForm slug=p.slug.clone() pair=p.pair.clone() current=p.label.clone() from="pair" />
        <h2>{t("pair.votes")}</h2>
        <Votes votes=p.votes />
        <p class="muted">{t("pair.choice_help")}</p>
    }
}

/// A select of a, b, tie or none, with `current` chosen.
#[component]
fn AnswerSelect(name: &'static str, none: &'static str, current: String) -> impl IntoView {
    view! {
        <select name=name>
            {[("none", none), ("a", "A"), ("b", "B"), ("tie", "=")].into_iter().map(|(v, label)| {
                view! { <option value=v selected=current == v>{label}</option> }
            }).collect_view()}
        </select>
    }
}

/// The final-label form of a pair (adjudication).
#[component]
fn LabelForm(slug: String, pair: String, current: String, from: &'static str) -> impl IntoView {
    view! {
        <form method="post" action=format!("/admin/projects/{slug}/pairs/{pair}/adjudicate") class="inline-form" data-testid="label-form">
            <input type="hidden" name="from" value=from />
            <label>{t("adjudicate.label")} " " <AnswerSelect name="label" none=t("adjudicate.none") current=current /></label>
            <button type="submit">{t("adjudicate.save")}</button>
        </form>
    }
}

/// Every vote of a pair.
#[component]
fn Votes(votes: Vec<VoteRow>) -> impl IntoView {
    view! {
        <table class="grid" data-testid="votes">
            <thead><tr>
                <th>{t("dashboard.annotator")}</th><th>{t("pair.a_shown")}</th><th>{t("pair.choice")}</th>
                <th>{t("dashboard.both_bad")}</th><th>{t("dashboard.flags")}</th><th>{t("pair.rationale")}</th>
                <th>{t("dashboard.median_time")}</th><th>{t("history.when")}</th>
            </tr></thead>
            <tbody>
                {votes.into_iter().map(|v| view! {
                    <tr data-testid="vote">
                        <td>{v.annotator}</td><td>{if v.a_shown == "left" { t("pair.left") } else { t("pair.right") }}</td>
                        <td>{format!("{:+} ({:+})", v.choice, v.choice_shown)}</td>
                        <td>{if v.both_bad { "✓" } else { "" }}</td><td>{v.flags}</td><td>{v.rationale}</td>
                        <td>{v.time}</td><td>{v.at}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn AdjudicatePage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.read().get("slug").unwrap_or_default(), load_split);
    view! {
        <Title text=t("adjudicate.title") />
        <Nav />
        <main class="page wide">
            <Flash />
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move { loaded(data.await, |s| view! { <Adjudicate s /> }) })}
            </Suspense>
        </main>
    }
}

#[component]
fn Adjudicate(s: SplitView) -> impl IntoView {
    let slug = s.slug.clone();
    view! {
        <h1>{t("adjudicate.heading")}</h1>
        <p><a href=format!("/admin/projects/{}/dashboard", s.slug)>{t("pair.back")}</a></p>
        <p class="muted">{t("adjudicate.help")}</p>
        {s.pairs.is_empty().then(|| view! { <p data-testid="no-split">{t("adjudicate.none_split")}</p> })}
        {s.pairs.into_iter().map(|p| view! {
            <section class="panel" data-testid="split-pair">
                <h2><a href=format!("/admin/projects/{slug}/pairs/{}", p.pair)><code>{p.model_a.clone()}</code> " (A) – " <code>{p.model_b.clone()}</code> " (B)"</a></h2>
                <p>{tf("adjudicate.counts", &[("a", &p.for_a), ("tie", &p.ties), ("b", &p.for_b)])}</p>
                <Votes votes=p.votes />
                <LabelForm slug=slug.clone() pair=p.pair current=p.label from="list" />
            </section>
        }).collect_view()}
    }
}
