#[cfg(feature = "ssr")]
use super::ctx;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The dashboard's data, formatted and drawn on the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardView {
    pub slug: String,
    pub title: String,
    /// Tasks complete / total, judgements / wanted.
    pub complete: i64,
    pub tasks: i64,
    pub judgements: i64,
    pub target: i64,
    pub live_leases: i64,
    pub pace: String,
    pub eta: String,
    pub per_hour_svg: String,
    pub annotators: Vec<AnnotatorRow>,
    pub models: Vec<ModelRow>,
    /// The flagged pairs of the model asked for (`?model=`), or of all.
    pub flagged_model: Option<String>,
    pub flagged: Vec<FlaggedRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotatorRow {
    pub username: String,
    pub judgements: i64,
    pub skip_rate: String,
    pub median: String,
    pub agreement: String,
    pub left: String,
    /// Gold accuracy (votes on gold pairs).
    pub gold: String,
    pub strengths_svg: String,
    pub strengths: String,
    /// Catalog keys (`dashboard.flag_left_bias`, …).
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub model: String,
    pub judged: i64,
    pub both_bad: i64,
    pub flagged: i64,
    pub answer_flags: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlaggedRow {
    pub pair: String,
    pub model_a: String,
    pub model_b: String,
    pub both_bad: i64,
    pub flagged: i64,
}

#[cfg(feature = "ssr")]
fn percent(v: Option<f64>) -> String {
    v.map(|v| format!("{:.0}%", v * 100.0)).unwrap_or_else(|| "–".into())
}

#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn load_dashboard(slug: String, model: Option<String>) -> Result<DashboardView, ServerFnError> {
    use arbiter_core::domain::charts;
    use arbiter_core::services::{dashboard, projects};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let lang = crate::i18n::current();
    let tr = |k: &str| crate::i18n::tr(lang, k);
    let project = projects::administered(&db, &user, &slug).await.map_err(ctx::fail)?;
    let d = dashboard::project(&db, &user, &project).await.map_err(ctx::fail)?;
    let model = model.filter(|m| !m.is_empty());
    let flagged = dashboard::flagged_pairs(&db, &user, &project, model.as_deref()).await.map_err(ctx::fail)?;
    let hours: Vec<(String, f64, f64, f64)> = d
        .per_hour
        .iter()
        .map(|&(h, n)| {
            let at = arbiter_core::storage::rfc3339(h);
            (format!("{} {}h", &at[5..10], &at[11..13]), n as f64, n as f64, n as f64)
        })
        .collect();
    let points: Vec<(&str, f64, f64, f64)> = hours.iter().map(|(l, v, lo, hi)| (l.as_str(), *v, *lo, *hi)).collect();
    Ok(DashboardView {
        slug: project.slug.clone(),
        title: project.title.clone(),
        complete: d.progress.pairs_complete,
        tasks: d.progress.pairs_total,
        judgements: d.progress.annotations,
        target: d.target,
        live_leases: d.progress.live_leases,
        pace: d.pace.map(|p| format!("{p:.1}")).unwrap_or_else(|| "–".into()),
        eta: match d.eta_hours {
            Some(h) if h < 48.0 => format!("{h:.1} h"),
            Some(h) => format!("{:.1} d", h / 24.0),
            None => "–".into(),
        },
        per_hour_svg: if points.is_empty() { String::new() } else { charts::line(tr("dashboard.per_hour"), &points) },
        annotators: d
            .annotators
            .iter()
            .map(|a| AnnotatorRow {
                username: a.username.clone(),
                judgements: a.judgements,
                skip_rate: percent(a.skip_rate),
                median: a.median_ms.map(|m| format!("{:.1} s", m / 1000.0)).unwrap_or_else(|| "–".into()),
                agreement: match a.agreement {
                    Some(v) => format!("{:.0}% ({})", v * 100.0, a.compared),
                    None => "–".into(),
                },
                left: match (a.left_share, a.bias_p) {
                    (Some(s), Some(p)) => format!(
                        "{:.0}% (p = {})",
                        s * 100.0,
                        if p < 0.001 { "<0.001".into() } else { format!("{p:.3}") }
                    ),
                    _ => "–".into(),
                },
                gold: match a.gold_accuracy {
                    Some(v) => format!("{:.0}% ({})", v * 100.0, a.gold_votes),
                    None => "–".into(),
                },
                strengths_svg: charts::bars(
                    &crate::i18n::fill(tr("dashboard.strengths_of"), &[("name", &a.username)]),
                    &[("0", a.strengths[0]), ("1", a.strengths[1]), ("2", a.strengths[2]), ("3", a.strengths[3])],
                    true,
                ),
                strengths: a.strengths.map(|s| s.to_string()).join(" / "),
                flags: a.flags.iter().map(|f| format!("dashboard.flag_{f}")).collect(),
            })
            .collect(),
        models: d
            .models
            .into_iter()
            .map(|m| ModelRow {
                model: m.model,
                judged: m.judged,
                both_bad: m.both_bad,
                flagged: m.flagged,
                answer_flags: m.answer_flags,
            })
            .collect(),
        flagged_model: model,
        flagged: flagged
            .into_iter()
            .map(|p| FlaggedRow {
                pair: p.pair_uuid,
                model_a: p.model_a,
                model_b: p.model_b,
                both_bad: p.both_bad,
                flagged: p.flagged,
            })
            .collect(),
    })
}

/// A pair with every vote (the page an admin reaches from a flag count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairView {
    pub slug: String,
    pub pair: String,
    /// `a`, `b`, `tie` or `none`.
    pub gold: String,
    /// The admin's final label: `a`, `b`, `tie` or `none`.
    pub label: String,
    /// (role, HTML) turns of the prompt.
    pub thread: Vec<(String, String)>,
    pub model_a: String,
    pub model_b: String,
    pub a_html: String,
    pub b_html: String,
    pub votes: Vec<VoteRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoteRow {
    pub annotator: String,
    /// Where A was shown: `left` or `right`.
    pub a_shown: String,
    /// The canonical choice (positive favours A) and as shown (positive: right).
    pub choice: i64,
    pub choice_shown: i64,
    pub both_bad: bool,
    pub flags: String,
    pub rationale: String,
    pub time: String,
    pub at: String,
}

#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn load_pair(slug: String, pair: String) -> Result<PairView, ServerFnError> {
    use arbiter_core::services::{dashboard, projects};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = projects::administered(&db, &user, &slug).await.map_err(ctx::fail)?;
    let p = dashboard::pair(&db, &user, &project, &pair).await.map_err(ctx::fail)?;
    Ok(PairView {
        slug: project.slug,
        gold: p.gold.map_or("none", dashboard::Answer::name).to_owned(),
        label: p.adjudicated.map_or("none", dashboard::Answer::name).to_owned(),
        pair,
        thread: p.thread.into_iter().map(|t| (format!("{:?}", t.role).to_lowercase(), t.html)).collect(),
        model_a: p.model_a,
        model_b: p.model_b,
        a_html: p.a_html,
        b_html: p.b_html,
        votes: p.votes.into_iter().map(vote_row).collect(),
    })
}

#[cfg(feature = "ssr")]
fn vote_row(v: arbiter_core::storage::dashboard::Vote) -> VoteRow {
    VoteRow {
        annotator: v.annotator,
        a_shown: if v.swapped { "right".into() } else { "left".into() },
        choice: v.choice,
        choice_shown: v.choice_shown,
        both_bad: v.both_bad,
        flags: serde_json::from_str::<Vec<String>>(&v.flags).unwrap_or_default().join(", "),
        rationale: v.rationale,
        time: v.time_ms.map(|t| format!("{:.1} s", t as f64 / 1000.0)).unwrap_or_else(|| "–".into()),
        at: arbiter_core::storage::rfc3339(v.created_at),
    }
}

/// The adjudication page: pairs with split votes, most divided first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitView {
    pub slug: String,
    pub pairs: Vec<SplitRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitRow {
    pub pair: String,
    pub model_a: String,
    pub model_b: String,
    pub for_a: i64,
    pub ties: i64,
    pub for_b: i64,
    /// `a`, `b`, `tie` or `none`.
    pub label: String,
    pub votes: Vec<VoteRow>,
}

#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn load_split(slug: String) -> Result<SplitView, ServerFnError> {
    use arbiter_core::services::{dashboard, projects};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let project = projects::administered(&db, &user, &slug).await.map_err(ctx::fail)?;
    let pairs = dashboard::split_pairs(&db, &user, &project).await.map_err(ctx::fail)?;
    Ok(SplitView {
        slug: project.slug,
        pairs: pairs
            .into_iter()
            .map(|s| SplitRow {
                pair: s.pair.pair_uuid,
                model_a: s.pair.model_a,
                model_b: s.pair.model_b,
                for_a: s.pair.for_a,
                ties: s.pair.ties,
                for_b: s.pair.for_b,
                label: s.adjudicated.map_or("none", dashboard::Answer::name).to_owned(),
                votes: s.votes.into_iter().map(vote_row).collect(),
            })
            .collect(),
    })
}
