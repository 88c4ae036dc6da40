//! Reads for exports and agreement. Export streams run on one read
//! connection inside one transaction, so the form decided first and the rows
//! written after see the same snapshot while writers go on.
use crate::domain::verdict::PairTally;
use sqlx::{SqliteConnection, SqliteExecutor, SqlitePool};

/// Which annotations count: the project's, optionally only some annotators'
/// (ids, resolved by the service) and a time window (ms, `until` exclusive).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub project_id: i64,
    pub include: Option<Vec<i64>>,
    pub exclude: Vec<i64>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Scope {
    /// The WHERE clause over `annotations n`. Every value is an integer the
    /// service produced (ids from the database, parsed times), so it is
    /// written into the SQL rather than bound.
    fn clause(&self) -> String {
        let ids = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let mut w = format!("n.project_id = {}", self.project_id);
        if let Some(include) = &self.include {
            w += &format!(" AND n.annotator_id IN ({})", ids(include));
        }
        if !self.exclude.is_empty() {
            w += &format!(" AND n.annotator_id NOT IN ({})", ids(&self.exclude));
        }
        if let Some(t) = self.since {
            w += &format!(" AND n.created_at >= {t}");
        }
        if let Some(t) = self.until {
            w += &format!(" AND n.created_at < {t}");
        }
        w
    }

    /// Per pair: its votes per canonical choice, both-bad and flagged
    /// counts, for the pairs `extra` selects, in pair order.
    fn tallies(&self, extra: &str) -> String {
        format!(
            "SELECT n.pair_id AS pair_id,
                    SUM(n.choice = -3) AS c0, SUM(n.choice = -2) AS c1, SUM(n.choice = -1) AS c2,
                    SUM(n.choice = 0) AS c3, SUM(n.choice = 1) AS c4, SUM(n.choice = 2) AS c5,
                    SUM(n.choice = 3) AS c6, SUM(n.both_bad) AS both_bad, SUM(n.flags <> '[]') AS flagged
             FROM annotations n WHERE {} {extra} GROUP BY n.pair_id ORDER BY n.pair_id",
            self.clause()
        )
    }
}

#[derive(sqlx::FromRow)]
struct TallyRow {
    pair_id: i64,
    c0: i64,
    c1: i64,
    c2: i64,
    c3: i64,
    c4: i64,
    c5: i64,
    c6: i64,
    both_bad: i64,
    flagged: i64,
}

impl From<&TallyRow> for PairTally {
    fn from(t: &TallyRow) -> PairTally {
        PairTally { counts: [t.c0, t.c1, t.c2, t.c3, t.c4, t.c5, t.c6], both_bad: t.both_bad, flagged: t.flagged }
    }
}

fn id_list(ids: impl Iterator<Item = i64>) -> String {
    ids.map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// Rows per page. Exports read page after page (keyset pagination on the
/// (project, pair) index and on annotation ids), so SQLite never sorts or
/// materializes a whole project and memory stays flat.
pub const PAGE: i64 = 2000;

/// One annotated pair (with at least one annotation in scope).
#[derive(sqlx::FromRow)]
pub struct PairRow {
    pub pair_id: i64,
    pub pair_uuid: String,
    pub prompt_uuid: String,
    pub external_id: Option<String>,
    pub is_chat: bool,
    /// The prompt's messages (JSON): always with texts, else only for conversations.
    pub messages: Option<String>,
    pub a: Option<String>,
    pub b: Option<String>,
    pub model_a: String,
    pub model_b: String,
    pub prior: Option<i64>,
    /// The original HH-RLHF line the pair was imported from (with texts).
    pub source: Option<String>,
    /// Its votes within the scope.
    #[sqlx(skip)]
    pub tally: PairTally,
}

impl PairRow {
    pub fn label(&self) -> &str {
        self.external_id.as_deref().unwrap_or(&self.prompt_uuid)
    }
}

/// The next page of annotated pairs after pair `after`, in pair order.
pub async fn pairs_page(
    conn: &mut SqliteConnection,
    scope: &Scope,
    with_texts: bool,
    after: i64,
) -> sqlx::Result<Vec<PairRow>> {
    let sql = scope.tallies(&format!("AND n.pair_id > {after}")) + &format!(" LIMIT {PAGE}");
    let tallies: Vec<TallyRow> = sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
    if tallies.is_empty() {
        return Ok(Vec::new());
    }
    let texts = if with_texts {
        "pr.messages, ca.body AS a, cb.body AS b, (SELECT line FROM pair_sources s WHERE s.pair_id = p.id) AS source"
    } else {
        "CASE WHEN pr.is_chat THEN pr.messages END AS messages, NULL AS a, NULL AS b, NULL AS source"
    };
    let sql = format!(
        "SELECT p.id AS pair_id, p.uuid AS pair_uuid, pr.uuid AS prompt_uuid, pr.external_id, pr.is_chat, {texts},
                ca.model AS model_a, cb.model AS model_b, p.prior
         FROM pairs p
         JOIN prompts pr ON pr.id = p.prompt_id
         JOIN completions ca ON ca.id = p.completion_a
         JOIN completions cb ON cb.id = p.completion_b
         WHERE p.id IN ({}) ORDER BY p.id",
        id_list(tallies.iter().map(|t| t.pair_id))
    );
    let mut rows: Vec<PairRow> = sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
    for (row, t) in rows.iter_mut().zip(&tallies) {
        debug_assert_eq!(row.pair_id, t.pair_id);
        row.tally = PairTally::from(t);
    }
    Ok(rows)
}

/// One annotation with everything about it (raw and arena rows).
#[derive(sqlx::FromRow)]
pub struct AnnotationRow {
    pub id: i64,
    pub pair_id: i64,
    pub annotation_uuid: String,
    pub pair_uuid: String,
    pub prompt_uuid: String,
    pub external_id: Option<String>,
    pub completion_a_uuid: String,
    pub completion_b_uuid: String,
    pub model_a: String,
    pub model_b: String,
    pub annotator_uuid: String,
    pub annotator_name: String,
    pub choice_shown: i64,
    pub choice: i64,
    pub swapped: bool,
    pub both_bad_vote: bool,
    pub flags: String,
    pub rationale: String,
    pub time_ms: Option<i64>,
    pub leased_at: i64,
    pub submitted_at: i64,
    pub late: bool,
    pub meta: Option<String>,
    pub is_chat: bool,
    /// With texts only.
    pub messages: Option<String>,
    pub a: Option<String>,
    pub b: Option<String>,
    /// Its pair's votes within the scope.
    #[sqlx(skip)]
    pub tally: PairTally,
}

/// The next page of annotations in scope after annotation `after`, in the
/// order they were stored, each with its pair's tally within the scope.
pub async fn annotations_page(
    conn: &mut SqliteConnection,
    scope: &Scope,
    with_texts: bool,
    after: i64,
) -> sqlx::Result<Vec<AnnotationRow>> {
    let texts =
        if with_texts { "pr.messages, ca.body AS a, cb.body AS b" } else { "NULL AS messages, NULL AS a, NULL AS b" };
    let sql = format!(
        "SELECT n.id, n.pair_id, n.uuid AS annotation_uuid, p.uuid AS pair_uuid, pr.uuid AS prompt_uuid, pr.external_id,
                ca.uuid AS completion_a_uuid, cb.uuid AS completion_b_uuid, ca.model AS model_a, cb.model AS model_b,
                u.uuid AS annotator_uuid, u.username AS annotator_name, n.choice_shown, n.choice, s.swapped,
                n.both_bad AS both_bad_vote, n.flags, n.rationale, n.time_ms, s.leased_at, n.created_at AS submitted_at,
                n.late, pr.meta, pr.is_chat, {texts}
         FROM annotations n
         JOIN assignments s ON s.id = n.assignment_id
         JOIN pairs p ON p.id = n.pair_id
         JOIN prompts pr ON pr.id = p.prompt_id
         JOIN completions ca ON ca.id = p.completion_a
         JOIN completions cb ON cb.id = p.completion_b
         JOIN users u ON u.id = n.annotator_id
         WHERE {} AND n.id > {after} ORDER BY n.id LIMIT {PAGE}",
        scope.clause()
    );
    let mut rows: Vec<AnnotationRow> = sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
    if rows.is_empty() {
        return Ok(rows);
    }
    let mut pairs: Vec<i64> = rows.iter().map(|r| r.pair_id).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let sql = scope.tallies(&format!("AND n.pair_id IN ({})", id_list(pairs.into_iter())));
    let tallies: Vec<TallyRow> = sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
    let by_pair: std::collections::HashMap<i64, PairTally> =
        tallies.iter().map(|t| (t.pair_id, PairTally::from(t))).collect();
    for r in &mut rows {
        r.tally = by_pair.get(&r.pair_id).copied().unwrap_or_default();
    }
    Ok(rows)
}

/// (annotations in scope, annotations of the project, annotators in scope).
pub async fn scope_counts(conn: &mut SqliteConnection, scope: &Scope) -> sqlx::Result<(i64, i64, i64)> {
    let sql = format!(
        "SELECT (SELECT COUNT(*) FROM annotations n WHERE {c}),
                (SELECT COUNT(*) FROM annotations WHERE project_id = {p}),
                (SELECT COUNT(DISTINCT n.annotator_id) FROM annotations n WHERE {c})",
        c = scope.clause(),
        p = scope.project_id
    );
    sqlx::query_as(&sql).fetch_one(conn).await
}

/// (id, uuid, username) of everyone who annotated in the project.
pub async fn annotators(db: impl SqliteExecutor<'_>, project_id: i64) -> sqlx::Result<Vec<(i64, String, String)>> {
    sqlx::query_as(
        "SELECT u.id, u.uuid, u.username FROM users u
         WHERE u.id IN (SELECT DISTINCT annotator_id FROM annotations WHERE project_id = ?) ORDER BY u.username",
    )
    .bind(project_id)
    .fetch_all(db)
    .await
}

/// Every annotation of a project as (pair, annotator, canonical choice),
/// for agreement statistics.
pub async fn ratings(db: &SqlitePool, project_id: i64) -> sqlx::Result<Vec<(i64, i64, i64)>> {
    sqlx::query_as("SELECT pair_id, annotator_id, choice FROM annotations WHERE project_id = ? ORDER BY id")
        .bind(project_id)
        .fetch_all(db)
        .await
}

/// The names of a project's annotators by id.
pub async fn annotator_names(db: &SqlitePool, project_id: i64) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT DISTINCT u.id, u.username FROM annotations n JOIN users u ON u.id = n.annotator_id
         WHERE n.project_id = ? ORDER BY u.username",
    )
    .bind(project_id)
    .fetch_all(db)
    .await
}

/// Annotated pairs that came with an imported preference, and how many of
/// them the annotators' summed votes agree with.
pub async fn prior_agreement(db: &SqlitePool, project_id: i64) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN s > 0 THEN 1 WHEN s < 0 THEN -1 ELSE 0 END = prior), 0)
         FROM (SELECT p.prior AS prior, SUM(n.choice) AS s FROM pairs p JOIN annotations n ON n.pair_id = p.id
               WHERE p.project_id = ? AND p.prior IS NOT NULL GROUP BY p.id)",
    )
    .bind(project_id)
    .fetch_one(db)
    .await
}

pub async fn insert_card(
    db: impl SqliteExecutor<'_>,
    project_id: i64,
    actor: &str,
    card: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO exports (uuid, project_id, actor, created_at, card) VALUES (?, ?, ?, ?, ?)")
        .bind(super::new_uuid())
        .bind(project_id)
        .bind(actor)
        .bind(super::now_ms())
        .bind(card.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// The cards of a project's latest exports, newest first.
pub async fn cards(db: &SqlitePool, project_id: i64, limit: i64) -> sqlx::Result<Vec<serde_json::Value>> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT card FROM exports WHERE project_id = ? ORDER BY id DESC LIMIT ?")
        .bind(project_id)
        .bind(limit)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|(c,)| serde_json::from_str(&c).ok()).collect())
}
