//! What the admin's dashboard reads (issue 10): judgements per hour, each
//! annotator's habits, flags and "both bad" per model, a pair's votes.
use super::{on, Pool};

/// (hour start in ms since the epoch, judgements stored in that hour), in order.
pub async fn per_hour(db: &Pool, project_id: i64) -> sqlx::Result<Vec<(i64, i64)>> {
    on!(db, e => sqlx::query_as(
        "SELECT (created_at / 3600000) * 3600000 AS h, COUNT(*) FROM annotations WHERE project_id = $1
         GROUP BY h ORDER BY h",
    )
    .bind(project_id)
    .fetch_all(e)
    .await)
}

/// One annotator's pairwise habits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Habits {
    pub username: String,
    pub judgements: i64,
    pub skipped: i64,
    /// Times on task (ms) of the judgements that have one, ascending.
    pub times_ms: Vec<i64>,
    /// Pairwise votes for the side shown left / right (ties left out).
    pub left: i64,
    pub right: i64,
    /// Pairwise votes by strength |choice as shown|: 0 (tie), 1, 2, 3.
    pub strengths: [i64; 4],
    /// Votes on gold pairs, and of those the ones on the gold side (or a tie for a tie).
    pub gold: i64,
    pub gold_right: i64,
}

pub async fn habits(db: &Pool, project_id: i64) -> sqlx::Result<Vec<Habits>> {
    let rows: Vec<(String, i64, i64, i64, i64, i64, i64, i64)> = on!(db, e => sqlx::query_as(
        "SELECT u.username, COUNT(n.id),
                COUNT(CASE WHEN n.choice_shown < 0 THEN 1 END), COUNT(CASE WHEN n.choice_shown > 0 THEN 1 END),
                COUNT(CASE WHEN n.choice_shown = 0 THEN 1 END), COUNT(CASE WHEN abs(n.choice_shown) = 1 THEN 1 END),
                COUNT(CASE WHEN abs(n.choice_shown) = 2 THEN 1 END), COUNT(CASE WHEN abs(n.choice_shown) = 3 THEN 1 END)
         FROM annotations n JOIN users u ON u.id = n.annotator_id
         WHERE n.project_id = $1 GROUP BY u.id ORDER BY u.username",
    )
    .bind(project_id)
    .fetch_all(e)
    .await)?;
    let mut out: Vec<Habits> = rows
        .into_iter()
        .map(|(username, judgements, left, right, s0, s1, s2, s3)| Habits {
            username,
            judgements,
            left,
            right,
            strengths: [s0, s1, s2, s3],
            ..Default::default()
        })
        .collect();
    let skips: Vec<(String, i64)> = on!(db, e => sqlx::query_as(
        "SELECT u.username, COUNT(*) FROM assignments a JOIN users u ON u.id = a.annotator_id
         WHERE a.project_id = $1 AND a.state = 'skipped' GROUP BY u.id",
    )
    .bind(project_id)
    .fetch_all(e)
    .await)?;
    for (name, n) in skips {
        match out.iter_mut().find(|h| h.username == name) {
            Some(h) => h.skipped = n,
            None => out.push(Habits { username: name, skipped: n, ..Default::default() }),
        }
    }
    let times: Vec<(String, i64)> = on!(db, e => sqlx::query_as(
        "SELECT u.username, n.time_ms FROM annotations n JOIN users u ON u.id = n.annotator_id
         WHERE n.project_id = $1 AND n.time_ms IS NOT NULL ORDER BY u.username, n.time_ms",
    )
    .bind(project_id)
    .fetch_all(e)
    .await)?;
    for (name, t) in times {
        if let Some(h) = out.iter_mut().find(|h| h.username == name) {
            h.times_ms.push(t);
        }
    }
    let gold: Vec<(String, i64, i64)> = on!(db, e => sqlx::query_as(
        "SELECT u.username, COUNT(*), COUNT(CASE WHEN sign(n.choice) = sign(p.gold_choice) THEN 1 END)
         FROM annotations n JOIN pairs p ON p.id = n.pair_id JOIN users u ON u.id = n.annotator_id
         WHERE n.project_id = $1 AND p.gold_choice IS NOT NULL GROUP BY u.id",
    )
    .bind(project_id)
    .fetch_all(e)
    .await)?;
    for (name, n, right) in gold {
        if let Some(h) = out.iter_mut().find(|h| h.username == name) {
            (h.gold, h.gold_right) = (n, right);
        }
    }
    out.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(out)
}

/// Per model: judgements of its answers, "both bad" votes, judgements with
/// flags, and flags on its answers alone (ranking and rating tasks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFlags {
    pub model: String,
    pub judged: i64,
    pub both_bad: i64,
    pub flagged: i64,
    pub answer_flags: i64,
}

pub async fn model_flags(db: &Pool, project_id: i64) -> sqlx::Result<Vec<ModelFlags>> {
    // A pairwise judgement counts for both models of its pair.
    let rows: Vec<(String, i64, i64, i64)> = on!(db, e => sqlx::query_as(
        "SELECT c.model, COUNT(*), COUNT(CASE WHEN n.both_bad THEN 1 END), COUNT(CASE WHEN n.flags <> '[]' THEN 1 END)
         FROM annotations n JOIN pairs p ON p.id = n.pair_id
         JOIN completions c ON c.id IN (p.completion_a, p.completion_b)
         WHERE n.project_id = $1 GROUP BY c.model ORDER BY c.model",
    )
    .bind(project_id)
    .fetch_all(e)
    .await)?;
    let mut out: Vec<ModelFlags> = rows
        .into_iter()
        .map(|(model, judged, both_bad, flagged)| ModelFlags { model, judged, both_bad, flagged, answer_flags: 0 })
        .collect();
    let answer: Vec<(String, i64)> = on!(db, e => sqlx::query_as(
        "SELECT c.model, COUNT(*) FROM completion_flags f JOIN annotations n ON n.id = f.annotation_id
         JOIN completions c ON c.id = f.completion_id WHERE n.project_id = $1 GROUP BY c.model",
    )
    .bind(project_id)
    .fetch_all(e)
    .await)?;
    for (model, n) in answer {
        match out.iter_mut().find(|m| m.model == model) {
            Some(m) => m.answer_flags = n,
            None => out.push(ModelFlags { model, judged: 0, both_bad: 0, flagged: 0, answer_flags: n }),
        }
    }
    out.sort_by(|a, b| a.model.cmp(&b.model));
    Ok(out)
}

/// A pair with flags or "both bad" votes, for the list behind a model's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlaggedPair {
    pub pair_uuid: String,
    pub model_a: String,
    pub model_b: String,
    pub both_bad: i64,
    pub flagged: i64,
}

/// Pairs of `model` (all models when `None`) with a flag or a "both bad"
/// vote, most such votes first.
pub async fn flagged_pairs(db: &Pool, project_id: i64, model: Option<&str>) -> sqlx::Result<Vec<FlaggedPair>> {
    let rows: Vec<(String, String, String, i64, i64)> = on!(db, e => sqlx::query_as(
        "SELECT p.uuid, ca.model, cb.model, COUNT(CASE WHEN n.both_bad THEN 1 END), COUNT(CASE WHEN n.flags <> '[]' THEN 1 END)
         FROM annotations n JOIN pairs p ON p.id = n.pair_id
         JOIN completions ca ON ca.id = p.completion_a JOIN completions cb ON cb.id = p.completion_b
         WHERE n.project_id = $1 AND ($2 IS NULL OR ca.model = $2 OR cb.model = $2)
         GROUP BY p.id, ca.model, cb.model HAVING COUNT(CASE WHEN n.both_bad THEN 1 END) + COUNT(CASE WHEN n.flags <> '[]' THEN 1 END) > 0
         ORDER BY COUNT(CASE WHEN n.both_bad THEN 1 END) + COUNT(CASE WHEN n.flags <> '[]' THEN 1 END) DESC, p.id LIMIT 500",
    )
    .bind(project_id)
    .bind(model)
    .fetch_all(e)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(pair_uuid, model_a, model_b, both_bad, flagged)| FlaggedPair {
            pair_uuid,
            model_a,
            model_b,
            both_bad,
            flagged,
        })
        .collect())
}

/// A pair as the admin sees it: prompt, both answers with their models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairDetail {
    pub pair_id: i64,
    pub messages: String,
    pub model_a: String,
    pub model_b: String,
    pub a: String,
    pub b: String,
    /// The known answer, canonical (positive: A).
    pub gold: Option<i64>,
    /// The admin's final label, canonical.
    pub adjudicated: Option<i64>,
}

pub async fn pair(db: &Pool, project_id: i64, pair_uuid: &str) -> sqlx::Result<Option<PairDetail>> {
    let row: Option<(i64, String, String, String, String, String, Option<i64>, Option<i64>)> = on!(db, e => sqlx::query_as(
        "SELECT p.id, pr.messages, ca.model, cb.model, ca.body, cb.body, p.gold_choice, p.adjudicated FROM pairs p
         JOIN prompts pr ON pr.id = p.prompt_id
         JOIN completions ca ON ca.id = p.completion_a JOIN completions cb ON cb.id = p.completion_b
         WHERE p.project_id = $1 AND p.uuid = $2",
    )
    .bind(project_id)
    .bind(pair_uuid)
    .fetch_optional(e)
    .await)?;
    Ok(row.map(|(pair_id, messages, model_a, model_b, a, b, gold, adjudicated)| PairDetail {
        pair_id,
        messages,
        model_a,
        model_b,
        a,
        b,
        gold,
        adjudicated,
    }))
}

/// Marks a pair of the project as gold (canonical ±3 or 0) or unmarks it;
/// `false` when the project has no such pair.
pub async fn set_gold(db: &Pool, project_id: i64, pair_uuid: &str, gold: Option<i64>) -> sqlx::Result<bool> {
    let r = on!(db, e => sqlx::query("UPDATE pairs SET gold_choice = $1 WHERE project_id = $2 AND uuid = $3")
        .bind(gold)
        .bind(project_id)
        .bind(pair_uuid)
        .execute(e)
        .await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// One vote on a pair: who, the side A was shown on, the choice (as shown
/// and canonical), both bad, flags (JSON), rationale, time, when.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Vote {
    pub annotator: String,
    pub swapped: bool,
    pub choice_shown: i64,
    pub choice: i64,
    pub both_bad: bool,
    pub flags: String,
    pub rationale: String,
    pub time_ms: Option<i64>,
    pub created_at: i64,
}

pub async fn votes(db: &Pool, pair_id: i64) -> sqlx::Result<Vec<Vote>> {
    on!(db, e => sqlx::query_as(
        "SELECT u.username AS annotator, s.swapped AS swapped, n.choice_shown AS choice_shown, n.choice AS choice,
                n.both_bad AS both_bad, n.flags AS flags, n.rationale AS rationale, n.time_ms AS time_ms,
                n.created_at AS created_at
         FROM annotations n JOIN assignments s ON s.id = n.assignment_id JOIN users u ON u.id = n.annotator_id
         WHERE n.pair_id = $1 ORDER BY n.id",
    )
    .bind(pair_id)
    .fetch_all(e)
    .await)
}

/// A pair whose votes split (two or more of A, tie, B), for adjudication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPair {
    pub pair_id: i64,
    pub pair_uuid: String,
    pub model_a: String,
    pub model_b: String,
    pub for_a: i64,
    pub ties: i64,
    pub for_b: i64,
    /// The admin's final label, canonical (1 A, −1 B, 0 tie).
    pub adjudicated: Option<i64>,
}

/// Pairs with split votes, most divided first (the smallest majority share,
/// then the most votes); at most `limit`.
pub async fn split_pairs(db: &Pool, project_id: i64, limit: i64) -> sqlx::Result<Vec<SplitPair>> {
    let rows: Vec<(i64, String, String, String, i64, i64, i64, Option<i64>)> = on!(db, e => sqlx::query_as(
        "SELECT v.id, v.uuid, ca.model, cb.model, v.a, v.t, v.b, v.adjudicated
         FROM (SELECT p.id, p.uuid, p.completion_a, p.completion_b, p.adjudicated,
                      COUNT(CASE WHEN n.choice > 0 THEN 1 END) AS a, COUNT(CASE WHEN n.choice = 0 THEN 1 END) AS t,
                      COUNT(CASE WHEN n.choice < 0 THEN 1 END) AS b, COUNT(*) AS n
               FROM annotations n JOIN pairs p ON p.id = n.pair_id
               WHERE n.project_id = $1 AND n.choice IS NOT NULL
               GROUP BY p.id) v
         JOIN completions ca ON ca.id = v.completion_a JOIN completions cb ON cb.id = v.completion_b
         WHERE (CASE WHEN v.a > 0 THEN 1 ELSE 0 END) + (CASE WHEN v.t > 0 THEN 1 ELSE 0 END)
               + (CASE WHEN v.b > 0 THEN 1 ELSE 0 END) >= 2
         ORDER BY (CASE WHEN v.a >= v.t AND v.a >= v.b THEN v.a WHEN v.t >= v.b THEN v.t ELSE v.b END) * 1.0 / v.n,
                  v.n DESC, v.id
         LIMIT $2",
    )
    .bind(project_id)
    .bind(limit)
    .fetch_all(e)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(pair_id, pair_uuid, model_a, model_b, for_a, ties, for_b, adjudicated)| SplitPair {
            pair_id,
            pair_uuid,
            model_a,
            model_b,
            for_a,
            ties,
            for_b,
            adjudicated,
        })
        .collect())
}

/// Sets (or with `None` clears) a pair's final label; `false` when the
/// project has no such pair.
pub async fn adjudicate(
    db: &Pool,
    project_id: i64,
    pair_uuid: &str,
    label: Option<i64>,
    by: &str,
    at: i64,
) -> sqlx::Result<bool> {
    let r = on!(db, e => sqlx::query(
        "UPDATE pairs SET adjudicated = $1, adjudicated_by = CASE WHEN $1 IS NULL THEN NULL ELSE $2 END,
                          adjudicated_at = CASE WHEN $1 IS NULL THEN NULL ELSE $3 END
         WHERE project_id = $4 AND uuid = $5",
    )
    .bind(label)
    .bind(by)
    .bind(at)
    .bind(project_id)
    .bind(pair_uuid)
    .execute(e)
    .await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// An annotator's judgements in a project stored at or after `since` (ms).
pub async fn done_since(db: &Pool, project_id: i64, user_id: i64, since: i64) -> sqlx::Result<i64> {
    on!(db, e => sqlx::query_scalar(
        "SELECT COUNT(*) FROM annotations WHERE annotator_id = $1 AND project_id = $2 AND created_at >= $3",
    )
    .bind(user_id)
    .bind(project_id)
    .bind(since)
    .fetch_one(e)
    .await)
}

/// One annotator's agreement with the others, as `domain::agreement::
/// leave_one_out` counts it: of their pairwise votes on pairs where the
/// other votes have a single most frequent class (A, tie, B), how many are
/// in it. (votes compared, votes agreeing)
pub async fn agreement_of(db: &Pool, project_id: i64, user_id: i64) -> sqlx::Result<(i64, i64)> {
    on!(db, e => sqlx::query_as(
        "WITH mine AS (SELECT pair_id, sign(choice) AS s FROM annotations
                       WHERE project_id = $1 AND annotator_id = $2 AND pair_id IS NOT NULL AND choice IS NOT NULL),
              others AS (SELECT n.pair_id, COUNT(CASE WHEN n.choice > 0 THEN 1 END) AS a,
                                COUNT(CASE WHEN n.choice = 0 THEN 1 END) AS t, COUNT(CASE WHEN n.choice < 0 THEN 1 END) AS b
                         FROM annotations n JOIN mine m ON m.pair_id = n.pair_id
                         WHERE n.project_id = $1 AND n.annotator_id <> $2 AND n.choice IS NOT NULL GROUP BY n.pair_id),
              top AS (SELECT o.*, CASE WHEN o.a >= o.t AND o.a >= o.b THEN o.a WHEN o.t >= o.b THEN o.t ELSE o.b END AS most
                      FROM others o)
         SELECT COUNT(*), COUNT(CASE WHEN (CASE m.s WHEN 1 THEN x.a WHEN 0 THEN x.t ELSE x.b END) = x.most THEN 1 END)
         FROM mine m JOIN top x ON x.pair_id = m.pair_id
         WHERE x.most > 0 AND (CASE WHEN x.a = x.most THEN 1 ELSE 0 END) + (CASE WHEN x.t = x.most THEN 1 ELSE 0 END)
                              + (CASE WHEN x.b = x.most THEN 1 ELSE 0 END) = 1",
    )
    .bind(project_id)
    .bind(user_id)
    .fetch_one(e)
    .await)
}
