use crate::domain::verdict::PairTally;
use futures::stream::BoxStream;
use futures::StreamExt;
use sqlx::SqlitePool;

/// One annotated pair with its texts and the sums of its votes.
pub struct PairRow {
    pub pair_uuid: String,
    pub messages: String,
    pub is_chat: bool,
    pub a: String,
    pub b: String,
    pub tally: PairTally,
}

type Row = (String, String, bool, String, String, i64, i64, i64, i64, i64);

/// The sums of each annotated pair's votes (the one bound parameter is the
/// project), which `PairTally` turns into a verdict.
macro_rules! tallies {
    () => {
        "(SELECT pair_id, SUM(choice) AS sum_choice, COUNT(*) AS votes, SUM(both_bad) AS both_bad,
                 SUM(choice > 0) AS for_a, SUM(choice < 0) AS for_b
          FROM annotations WHERE project_id = ? GROUP BY pair_id)"
    };
}

/// Annotated pairs of a project in pair order, as a stream: SQLite sums the
/// votes per pair (walking the (project, pair) index), so memory stays flat
/// however many annotations there are.
pub fn annotated_pairs(db: &SqlitePool, project_id: i64) -> BoxStream<'_, sqlx::Result<PairRow>> {
    sqlx::query_as::<_, Row>(concat!(
        "SELECT p.uuid, pr.messages, pr.is_chat, ca.body, cb.body,
                t.sum_choice, t.votes, t.both_bad, t.for_a, t.for_b
         FROM ",
        tallies!(),
        " t
         JOIN pairs p ON p.id = t.pair_id
         JOIN prompts pr ON pr.id = p.prompt_id
         JOIN completions ca ON ca.id = p.completion_a
         JOIN completions cb ON cb.id = p.completion_b
         ORDER BY t.pair_id"
    ))
    .bind(project_id)
    .fetch(db)
    .map(|row| {
        row.map(|(pair_uuid, messages, is_chat, a, b, sum_choice, votes, both_bad, for_a, for_b)| PairRow {
            pair_uuid,
            messages,
            is_chat,
            a,
            b,
            tally: PairTally { sum_choice, votes, both_bad, for_a, for_b },
        })
    })
    .boxed()
}

/// What deciding an export's form needs, per annotated pair: its prompt,
/// whether that is a conversation (with its messages then), and the votes.
pub struct PairKind {
    pub prompt_id: i64,
    pub prompt_label: String,
    pub chat_messages: Option<String>,
    pub tally: PairTally,
}

type KindRow = (i64, String, Option<String>, i64, i64, i64, i64, i64);

/// Like `annotated_pairs` without the completions' texts.
pub fn pair_kinds(db: &SqlitePool, project_id: i64) -> BoxStream<'_, sqlx::Result<PairKind>> {
    sqlx::query_as::<_, KindRow>(concat!(
        "SELECT pr.id, COALESCE(pr.external_id, pr.uuid), CASE WHEN pr.is_chat THEN pr.messages END,
                t.sum_choice, t.votes, t.both_bad, t.for_a, t.for_b
         FROM ",
        tallies!(),
        " t
         JOIN pairs p ON p.id = t.pair_id
         JOIN prompts pr ON pr.id = p.prompt_id
         ORDER BY t.pair_id"
    ))
    .bind(project_id)
    .fetch(db)
    .map(|row| {
        row.map(|(prompt_id, prompt_label, chat_messages, sum_choice, votes, both_bad, for_a, for_b)| PairKind {
            prompt_id,
            prompt_label,
            chat_messages,
            tally: PairTally { sum_choice, votes, both_bad, for_a, for_b },
        })
    })
    .boxed()
}

/// One annotation with everything about it, for the raw export.
#[derive(sqlx::FromRow)]
pub struct AnnotationRow {
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
    pub both_bad: bool,
    pub flags: String,
    pub rationale: String,
    pub time_ms: Option<i64>,
    pub leased_at: i64,
    pub submitted_at: i64,
    pub late: bool,
    pub meta: Option<String>,
}

/// Every annotation of a project in the order they were stored, streamed.
pub fn annotations(db: &SqlitePool, project_id: i64) -> BoxStream<'_, sqlx::Result<AnnotationRow>> {
    sqlx::query_as::<_, AnnotationRow>(
        "SELECT n.uuid AS annotation_uuid, p.uuid AS pair_uuid, pr.uuid AS prompt_uuid, pr.external_id,
                ca.uuid AS completion_a_uuid, cb.uuid AS completion_b_uuid, ca.model AS model_a, cb.model AS model_b,
                u.uuid AS annotator_uuid, u.username AS annotator_name, n.choice_shown, n.choice, s.swapped,
                n.both_bad, n.flags, n.rationale, n.time_ms, s.leased_at, n.created_at AS submitted_at, n.late, pr.meta
         FROM annotations n
         JOIN assignments s ON s.id = n.assignment_id
         JOIN pairs p ON p.id = n.pair_id
         JOIN prompts pr ON pr.id = p.prompt_id
         JOIN completions ca ON ca.id = p.completion_a
         JOIN completions cb ON cb.id = p.completion_b
         JOIN users u ON u.id = n.annotator_id
         WHERE n.project_id = ? ORDER BY n.id",
    )
    .bind(project_id)
    .fetch(db)
    .boxed()
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
