//! The model leaderboard (issue 10): one project's (`/admin/projects/:slug/
//! leaderboard`) or across projects (`/admin/leaderboard?projects=a,b`).
//! The charts come drawn from the server; the table holds their numbers.
use crate::api::{load_leaderboard, LeaderboardView};
use crate::components::{loaded, Nav};
use crate::i18n::{t, tf};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn LeaderboardPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || (params.read().get("slug"), query.read().get("projects"));
    let data = Resource::new(key, |(slug, projects)| load_leaderboard(slug, projects));
    view! {
        <Title text=t("leaderboard.title") />
        <Nav />
        <main class="page wide">
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move { loaded(data.await, |d| view! { <Board d /> }) })}
            </Suspense>
        </main>
    }
}

#[component]
fn Board(d: LeaderboardView) -> impl IntoView {
    let single = d.api_query.is_empty();
    let api = if single {
        format!("/api/v1/projects/{}/leaderboard", d.projects.first().cloned().unwrap_or_default())
    } else {
        format!("/api/v1/leaderboard?{}", d.api_query)
    };
    let csv = format!("{api}{}format=csv", if single { "?" } else { "&" });
    let back = if single {
        format!("/admin/projects/{}", d.projects.first().cloned().unwrap_or_default())
    } else {
        "/admin".into()
    };
    let empty = d.rows.is_empty();
    view! {
        <h1>{t("leaderboard.heading")} " " <code>{d.projects.join(", ")}</code></h1>
        <p class="muted" data-testid="leaderboard-summary">
            {tf("leaderboard.summary", &[("battles", &d.battles), ("models", &d.rows.len()), ("rounds", &d.rounds), ("seed", &d.seed)])}
            {d.stale.then(|| view! { " " <strong data-testid="stale">{t("leaderboard.stale")}</strong> })}
        </p>
        <p><a href=back>{t("leaderboard.back")}</a> " · " <a href=api.clone() data-testid="leaderboard-json">"JSON"</a> " · " <a href=csv>"CSV"</a></p>
        {empty.then(|| view! { <p data-testid="leaderboard-empty">{t("leaderboard.empty")}</p> })}
        {(!empty).then(move || view! {
            <table class="grid" data-testid="leaderboard">
                <thead><tr>
                    <th>"#"</th><th>{t("leaderboard.model")}</th><th>{t("leaderboard.rating")}</th>
                    <th>{t("leaderboard.ci")}</th><th>"Elo"</th><th>{t("leaderboard.battles")}</th>
                    <th>{t("leaderboard.wtl")}</th>
                </tr></thead>
                <tbody>
                    {d.rows.iter().enumerate().map(|(i, r)| view! {
                        <tr>
                            <td>{i + 1}</td><td><code>{r.model.clone()}</code></td><td>{r.rating.clone()}</td>
                            <td>{r.ci.clone()}</td><td>{r.elo.clone()}</td>
                            <td>{r.battles}</td><td>{r.record.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <section class="charts">
                <figure data-testid="chart-ratings"><figcaption>{t("leaderboard.chart_ratings")}</figcaption><div inner_html=d.intervals_svg /></figure>
                <figure data-testid="chart-win-rate"><figcaption>{t("leaderboard.chart_win_rate")}</figcaption><div inner_html=d.win_rate_svg /></figure>
                <figure data-testid="chart-battles"><figcaption>{t("leaderboard.chart_battles")}</figcaption><div inner_html=d.battles_svg /></figure>
                {d.timelines.into_iter().map(|(family, svg)| view! {
                    <figure data-testid="chart-versions"><figcaption>{tf("leaderboard.chart_versions", &[("family", &family)])}</figcaption><div inner_html=svg /></figure>
                }).collect_view()}
            </section>
        })}
    }
}
