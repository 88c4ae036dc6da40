#[cfg(feature = "ssr")]
use super::ctx;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The leaderboard page's data: the standings and the charts drawn on the
/// server (inline SVG).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardView {
    /// The projects it covers.
    pub projects: Vec<String>,
    /// Formatted on the server (no float formatting in the browser bundle).
    pub rows: Vec<RowView>,
    pub battles: u64,
    pub rounds: usize,
    pub seed: u64,
    /// Newer judgements exist; a refit is running.
    pub stale: bool,
    pub intervals_svg: String,
    pub win_rate_svg: String,
    pub battles_svg: String,
    /// (family, chart of its versions).
    pub timelines: Vec<(String, String)>,
    /// Query string of the JSON/CSV links.
    pub api_query: String,
}

/// A model's row of the table, as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowView {
    pub model: String,
    pub rating: String,
    pub ci: String,
    pub elo: String,
    pub battles: u64,
    /// won / tied / lost
    pub record: String,
}

/// One project's leaderboard (`slug`), or the one across `projects`
/// (comma-separated; all when empty).
#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn load_leaderboard(
    slug: Option<String>,
    projects: Option<String>,
) -> Result<LeaderboardView, ServerFnError> {
    use arbiter_core::domain::charts::{self, Scale};
    use arbiter_core::services::leaderboard::{self, Options};
    use arbiter_core::services::projects as project_service;
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let lang = crate::i18n::current();
    let tr = |k: &str| crate::i18n::tr(lang, k);
    let options = Options::default();
    let (covered, current) = match &slug {
        Some(slug) => {
            let project = project_service::administered(&db, &user, slug).await.map_err(ctx::fail)?;
            let current = leaderboard::project(&db, &user, &project, options, false).await.map_err(ctx::fail)?;
            (vec![project.slug], current)
        }
        None => {
            let slugs: Vec<String> = projects
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let (ps, current) = leaderboard::across(&db, &user, &slugs, options, false).await.map_err(ctx::fail)?;
            (ps.into_iter().map(|p| p.slug).collect(), current)
        }
    };
    let b = &current.board;
    let names: Vec<&str> = b.models.iter().map(|s| s.model.as_str()).collect();
    let rows: Vec<(&str, f64, f64, f64)> =
        b.models.iter().map(|s| (s.model.as_str(), s.rating, s.ci[0], s.ci[1])).collect();
    let counts: Vec<Vec<Option<f64>>> =
        b.battle_counts.iter().map(|r| r.iter().map(|&c| (c > 0).then_some(c as f64)).collect()).collect();
    Ok(LeaderboardView {
        api_query: if slug.is_some() { String::new() } else { format!("projects={}", covered.join(",")) },
        projects: covered,
        rows: b
            .models
            .iter()
            .map(|s| RowView {
                model: s.model.clone(),
                rating: format!("{:.1}", s.rating),
                ci: format!("{:.1} – {:.1}", s.ci[0], s.ci[1]),
                elo: format!("{:.1}", s.elo),
                battles: s.battles,
                record: format!("{} / {} / {}", s.wins, s.ties, s.losses),
            })
            .collect(),
        battles: b.battles,
        rounds: b.rounds,
        seed: b.seed,
        stale: current.stale,
        intervals_svg: charts::intervals(tr("leaderboard.chart_ratings"), &rows),
        win_rate_svg: charts::heatmap(tr("leaderboard.chart_win_rate"), &names, &b.win_rate, Scale::Share),
        battles_svg: charts::heatmap(tr("leaderboard.chart_battles"), &names, &counts, Scale::Count),
        timelines: b
            .versions
            .iter()
            .filter(|f| f.versions.len() > 1)
            .map(|f| {
                let points: Vec<(&str, f64, f64, f64)> =
                    f.versions.iter().map(|v| (v.version.as_str(), v.rating, v.ci[0], v.ci[1])).collect();
                (f.family.clone(), charts::line(&f.family, &points))
            })
            .collect(),
    })
}
