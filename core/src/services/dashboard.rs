//! The admin's dashboard of a project (issue 10): progress and pace,
//! each annotator's habits with flags, flags and "both bad" per model, and
//! a pair with every vote. Admins only.
use super::auth::require_admin;
use super::projects::Progress;
use crate::domain::import::Message;
use crate::domain::stats::{binomial_two_sided, median};
use crate::domain::views::Turn;
use crate::render::markdown;
use crate::storage::dashboard::{self as store, FlaggedPair, ModelFlags, Vote};
use crate::storage::projects::Project;
use crate::storage::users::User;
use crate::storage::{now_ms, Db};
use crate::{Error, Result};

/// An annotator is flagged, with at least this many votes behind a figure,
/// when their left-side share differs from ½ at p under the project's
/// `flag_bias_permille` / 1000, their agreement with the others' majority
/// is under `flag_agreement_min` %, or they skip more than `flag_skip_max` %
/// of their tasks;
pub const MIN_VOTES: i64 = 20;
/// and, with this many votes on gold pairs, when their gold accuracy is
/// under `gold_accuracy_min` %.
pub const MIN_GOLD_VOTES: i64 = 5;

/// The bounds a project sets for flagging (see `MIN_VOTES`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub bias_p: f64,
    pub min_agreement: f64,
    pub max_skip_rate: f64,
    pub min_gold_accuracy: f64,
}

impl Bounds {
    pub fn of(p: &Project) -> Bounds {
        Bounds {
            bias_p: p.flag_bias_permille as f64 / 1000.0,
            min_agreement: p.flag_agreement_min as f64 / 100.0,
            max_skip_rate: p.flag_skip_max as f64 / 100.0,
            min_gold_accuracy: p.gold_accuracy_min as f64 / 100.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AnnotatorStats {
    pub username: String,
    pub judgements: i64,
    pub skipped: i64,
    pub skip_rate: Option<f64>,
    pub median_ms: Option<f64>,
    /// Agreement with the leave-one-out majority, and the votes compared.
    pub agreement: Option<f64>,
    pub compared: u64,
    /// Share of non-tie pairwise votes for the side shown left, and the
    /// two-sided binomial test's p against ½.
    pub left_share: Option<f64>,
    pub bias_p: Option<f64>,
    /// Pairwise votes by |choice|: 0 (tie), 1, 2, 3.
    pub strengths: [i64; 4],
    /// Share of their gold-pair votes on the gold side, and how many.
    pub gold_accuracy: Option<f64>,
    pub gold_votes: i64,
    /// Why the annotator is flagged (`left_bias`, `low_agreement`, `skips`, `gold`).
    pub flags: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub progress: Progress,
    /// Judgements wanted: tasks × N.
    pub target: i64,
    /// (hour start, ms since the epoch; judgements in that hour).
    pub per_hour: Vec<(i64, i64)>,
    /// Judgements per hour over the last 24 hours of work.
    pub pace: Option<f64>,
    /// Hours to the target at that pace.
    pub eta_hours: Option<f64>,
    pub annotators: Vec<AnnotatorStats>,
    pub models: Vec<ModelFlags>,
}

pub async fn project(db: &Db, admin: &User, project: &Project) -> Result<Dashboard> {
    require_admin(admin)?;
    compute(db, project).await
}

async fn compute(db: &Db, project: &Project) -> Result<Dashboard> {
    let progress = super::projects::counted(db, project, None).await?;
    let per_hour = store::per_hour(&db.read, project.id).await?;
    let habits = store::habits(&db.read, project.id).await?;
    let agreement = super::agreement::compute(db, project).await?;
    let models = store::model_flags(&db.read, project.id).await?;
    let target = progress.pairs_total * progress.annotations_per_pair;
    let (pace, eta_hours) = pace(&per_hour, now_ms(), (target - progress.annotations).max(0));
    let annotators = habits
        .into_iter()
        .map(|h| {
            let agreed = agreement.annotators.iter().find(|a| a.annotator == h.username);
            let sides = (h.left + h.right) as u64;
            let tasks = h.judgements + h.skipped;
            let mut s = AnnotatorStats {
                skip_rate: (tasks > 0).then(|| h.skipped as f64 / tasks as f64),
                median_ms: median(&h.times_ms),
                agreement: agreed.and_then(|a| a.agreement),
                compared: agreed.map_or(0, |a| a.n),
                left_share: (sides > 0).then(|| h.left as f64 / sides as f64),
                bias_p: (sides > 0).then(|| binomial_two_sided(h.left as u64, sides)),
                strengths: h.strengths,
                gold_accuracy: (h.gold > 0).then(|| h.gold_right as f64 / h.gold as f64),
                gold_votes: h.gold,
                flags: Vec::new(),
                username: h.username,
                judgements: h.judgements,
                skipped: h.skipped,
            };
            s.flags = flags(&s, Bounds::of(project));
            s
        })
        .collect();
    Ok(Dashboard { progress, target, per_hour, pace, eta_hours, annotators, models })
}

/// Judgements per hour over the last 24 hours of work (from the first
/// judgement when the project is younger), and the hours to `remaining`.
fn pace(per_hour: &[(i64, i64)], now: i64, remaining: i64) -> (Option<f64>, Option<f64>) {
    const HOUR: i64 = 3_600_000;
    let Some(&(first, _)) = per_hour.first() else { return (None, None) };
    let since = (now - 24 * HOUR).max(first);
    let recent: i64 = per_hour.iter().filter(|(h, _)| h + HOUR > since).map(|(_, n)| n).sum();
    let hours = ((now - since) as f64 / HOUR as f64).max(1.0);
    let pace = recent as f64 / hours;
    let eta = if remaining == 0 { Some(0.0) } else { (pace > 0.0).then(|| remaining as f64 / pace) };
    (Some(pace), eta)
}

fn flags(s: &AnnotatorStats, b: Bounds) -> Vec<&'static str> {
    let mut out = Vec::new();
    let sides = (s.strengths[1] + s.strengths[2] + s.strengths[3]) >= MIN_VOTES;
    if sides && s.bias_p.is_some_and(|p| p < b.bias_p) {
        out.push("left_bias");
    }
    if s.compared >= MIN_VOTES as u64 && s.agreement.is_some_and(|a| a < b.min_agreement) {
        out.push("low_agreement");
    }
    if s.judgements + s.skipped >= MIN_VOTES && s.skip_rate.is_some_and(|r| r > b.max_skip_rate) {
        out.push("skips");
    }
    if s.gold_votes >= MIN_GOLD_VOTES && s.gold_accuracy.is_some_and(|a| a < b.min_gold_accuracy) {
        out.push("gold");
    }
    out
}

/// The usernames the dashboard flags (for exports that leave them out).
pub(crate) async fn flagged(db: &Db, project: &Project) -> Result<Vec<String>> {
    let d = compute(db, project).await?;
    Ok(d.annotators.into_iter().filter(|a| !a.flags.is_empty()).map(|a| a.username).collect())
}

/// Pairs with flags or "both bad" votes (of `model`, or all).
pub async fn flagged_pairs(db: &Db, admin: &User, project: &Project, model: Option<&str>) -> Result<Vec<FlaggedPair>> {
    require_admin(admin)?;
    Ok(store::flagged_pairs(&db.read, project.id, model).await?)
}

/// A pair with its prompt, both answers (rendered) and every vote.
#[derive(Debug, Clone, PartialEq)]
pub struct PairPage {
    pub thread: Vec<Turn>,
    pub model_a: String,
    pub model_b: String,
    pub a_html: String,
    pub b_html: String,
    pub gold: Option<Answer>,
    pub adjudicated: Option<Answer>,
    pub votes: Vec<Vote>,
}

/// A pair with split votes and every vote, for the adjudication page.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub pair: store::SplitPair,
    pub adjudicated: Option<Answer>,
    pub votes: Vec<Vote>,
}

/// How many split pairs the adjudication page lists at once.
pub const SPLIT_PAGE: i64 = 100;

/// Pairs with split votes, most divided first, each with its votes.
pub async fn split_pairs(db: &Db, admin: &User, project: &Project) -> Result<Vec<Split>> {
    require_admin(admin)?;
    let mut out = Vec::new();
    for pair in store::split_pairs(&db.read, project.id, SPLIT_PAGE).await? {
        let votes = store::votes(&db.read, pair.pair_id).await?;
        out.push(Split { adjudicated: pair.adjudicated.map(Answer::of), pair, votes });
    }
    Ok(out)
}

/// Sets a pair's final label (exports use it over the votes), or clears it.
pub async fn adjudicate(
    db: &Db,
    admin: &User,
    project: &Project,
    pair_uuid: &str,
    label: Option<Answer>,
) -> Result<()> {
    require_admin(admin)?;
    let stored =
        store::adjudicate(&db.write, project.id, pair_uuid, label.map(Answer::sign), &admin.username, now_ms()).await?;
    if !stored {
        return Err(Error::not_found("no such pair"));
    }
    super::audit::record(
        db,
        &admin.username,
        "pair.adjudicate",
        &project.slug,
        serde_json::json!({"pair": pair_uuid, "label": label.map(Answer::name)}),
    )
    .await
}

/// The better answer of a pair: a gold pair's known answer, or an
/// admin's final label for a pair with split votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    A,
    B,
    Tie,
}

impl Answer {
    /// `a`, `b` or `tie`; `field` names what is parsed in the error.
    pub fn parse(field: &str, s: &str) -> Result<Answer> {
        match s {
            "a" => Ok(Answer::A),
            "b" => Ok(Answer::B),
            "tie" => Ok(Answer::Tie),
            other => Err(Error::bad(format!("{field}: {other:?} is not a, b or tie"))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Answer::A => "a",
            Answer::B => "b",
            Answer::Tie => "tie",
        }
    }
    /// Canonical sign: 1 for A, −1 for B, 0 for a tie.
    fn sign(self) -> i64 {
        match self {
            Answer::A => 1,
            Answer::B => -1,
            Answer::Tie => 0,
        }
    }
    fn of(canonical: i64) -> Answer {
        match canonical.signum() {
            1 => Answer::A,
            -1 => Answer::B,
            _ => Answer::Tie,
        }
    }
}

/// Marks a pair as gold with a known answer, or (`None`) unmarks it.
pub async fn set_gold(db: &Db, admin: &User, project: &Project, pair_uuid: &str, gold: Option<Answer>) -> Result<()> {
    require_admin(admin)?;
    if !store::set_gold(&db.write, project.id, pair_uuid, gold.map(|g| 3 * g.sign())).await? {
        return Err(Error::not_found("no such pair"));
    }
    super::audit::record(
        db,
        &admin.username,
        "pair.gold",
        &project.slug,
        serde_json::json!({"pair": pair_uuid, "gold": gold.map(Answer::name)}),
    )
    .await
}

pub async fn pair(db: &Db, admin: &User, project: &Project, pair_uuid: &str) -> Result<PairPage> {
    require_admin(admin)?;
    let p = store::pair(&db.read, project.id, pair_uuid).await?.ok_or_else(|| Error::not_found("no such pair"))?;
    let votes = store::votes(&db.read, p.pair_id).await?;
    let messages: Vec<Message> = serde_json::from_str(&p.messages)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("stored prompt messages")))?;
    Ok(PairPage {
        thread: messages.iter().map(|m| Turn { role: m.role, html: markdown(&m.content) }).collect(),
        a_html: markdown(&p.a),
        b_html: markdown(&p.b),
        model_a: p.model_a,
        model_b: p.model_b,
        gold: p.gold.map(Answer::of),
        adjudicated: p.adjudicated.map(Answer::of),
        votes,
    })
}

/// What an annotator sees of their own work in a project.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mine {
    /// Judgements since midnight UTC.
    pub today: i64,
    /// Agreement with the others' majority (as on the admin's dashboard), and votes compared.
    pub agreement: Option<f64>,
    pub compared: i64,
}

/// The caller's own figures in a project they may work on.
pub async fn mine(db: &Db, user: &User, project: &Project) -> Result<Mine> {
    const DAY: i64 = 86_400_000;
    let today = store::done_since(&db.read, project.id, user.id, now_ms() / DAY * DAY).await?;
    let (compared, agreed) = store::agreement_of(&db.read, project.id, user.id).await?;
    Ok(Mine { today, agreement: (compared > 0).then(|| agreed as f64 / compared as f64), compared })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn the_pace_counts_the_last_day_or_since_the_start() {
        let now = 100 * HOUR;
        // 10 an hour for the last 30 hours: 10 an hour, 50 to go → 5 h.
        let hours: Vec<(i64, i64)> = (70..100).map(|h| (h * HOUR, 10)).collect();
        let (pace, eta) = pace(&hours, now, 50);
        assert!((pace.unwrap() - 10.0).abs() < 1e-9);
        assert!((eta.unwrap() - 5.0).abs() < 1e-9);
        // Started two hours ago with 40: 20 an hour.
        let (pace, _) = super::pace(&[(98 * HOUR, 20), (99 * HOUR, 20)], now, 10);
        assert!((pace.unwrap() - 20.0).abs() < 1e-9);
        assert_eq!(super::pace(&[], now, 10), (None, None));
        assert_eq!(super::pace(&[(99 * HOUR, 5)], now, 0).1, Some(0.0));
    }

    const DEFAULTS: Bounds = Bounds { bias_p: 0.01, min_agreement: 0.5, max_skip_rate: 0.3, min_gold_accuracy: 0.7 };

    fn with_gold(min: f64) -> Bounds {
        Bounds { min_gold_accuracy: min, ..DEFAULTS }
    }

    fn stats(left: i64, right: i64) -> AnnotatorStats {
        AnnotatorStats {
            username: "a".into(),
            judgements: left + right,
            skipped: 0,
            skip_rate: Some(0.0),
            median_ms: None,
            agreement: None,
            compared: 0,
            left_share: Some(left as f64 / (left + right) as f64),
            bias_p: Some(binomial_two_sided(left as u64, (left + right) as u64)),
            strengths: [0, left + right, 0, 0],
            gold_accuracy: None,
            gold_votes: 0,
            flags: Vec::new(),
        }
    }

    #[test]
    fn an_annotator_is_flagged_for_a_side_bias_only_with_enough_votes() {
        assert_eq!(flags(&stats(30, 10), DEFAULTS), vec!["left_bias"]);
        assert!(flags(&stats(22, 18), DEFAULTS).is_empty(), "within chance");
        assert!(flags(&stats(10, 0), DEFAULTS).is_empty(), "too few votes to say");
        let mut s = stats(20, 20);
        s.agreement = Some(0.4);
        s.compared = 25;
        s.skipped = 20;
        s.skip_rate = Some(20.0 / 60.0);
        assert_eq!(flags(&s, DEFAULTS), vec!["low_agreement", "skips"]);
    }

    #[test]
    fn gold_accuracy_is_flagged_under_the_projects_bound_with_enough_gold_votes() {
        let mut s = stats(20, 20);
        (s.gold_votes, s.gold_accuracy) = (10, Some(0.6));
        assert_eq!(flags(&s, with_gold(0.7)), vec!["gold"]);
        assert!(flags(&s, with_gold(0.6)).is_empty(), "60% is not under 60%");
        (s.gold_votes, s.gold_accuracy) = (4, Some(0.0));
        assert!(flags(&s, with_gold(0.7)).is_empty(), "too few gold votes to say");
    }

    #[test]
    fn the_projects_bounds_decide_the_flags() {
        // 27 of 40 on the left: p ≈ 0.038, flagged at 5 %, not at 1 %.
        let s = stats(27, 13);
        assert!(flags(&s, DEFAULTS).is_empty());
        assert_eq!(flags(&s, Bounds { bias_p: 0.05, ..DEFAULTS }), vec!["left_bias"]);
        let mut s = stats(20, 20);
        (s.agreement, s.compared) = (Some(0.6), 30);
        assert!(flags(&s, DEFAULTS).is_empty());
        assert_eq!(flags(&s, Bounds { min_agreement: 0.7, ..DEFAULTS }), vec!["low_agreement"]);
        (s.skipped, s.skip_rate) = (10, Some(0.2));
        assert_eq!(flags(&s, Bounds { max_skip_rate: 0.1, ..DEFAULTS }), vec!["skips"]);
    }
}
