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

/// Annotated pairs of a project in pair order, as a stream: SQLite sums the
/// votes per pair (walking the (project, pair) index), so memory stays flat
/// however many annotations there are.
pub fn annotated_pairs(db: &SqlitePool, project_id: i64) -> BoxStream<'_, sqlx::Result<PairRow>> {
    sqlx::query_as::<_, Row>(
        "SELECT p.uuid, pr.messages, pr.is_chat, ca.body, cb.body,
                t.sum_choice, t.votes, t.both_bad, t.for_a, t.for_b
         FROM (SELECT pair_id, SUM(choice) AS sum_choice, COUNT(*) AS votes, SUM(both_bad) AS both_bad,
                      SUM(choice > 0) AS for_a, SUM(choice < 0) AS for_b
               FROM annotations WHERE project_id = ? GROUP BY pair_id) t
         JOIN pairs p ON p.id = t.pair_id
         JOIN prompts pr ON pr.id = p.prompt_id
         JOIN completions ca ON ca.id = p.completion_a
         JOIN completions cb ON cb.id = p.completion_b
         ORDER BY t.pair_id",
    )
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
    sqlx::query_as::<_, KindRow>(
        "SELECT pr.id, COALESCE(pr.external_id, pr.uuid), CASE WHEN pr.is_chat THEN pr.messages END,
                t.sum_choice, t.votes, t.both_bad, t.for_a, t.for_b
         FROM (SELECT pair_id, SUM(choice) AS sum_choice, COUNT(*) AS votes, SUM(both_bad) AS both_bad,
                      SUM(choice > 0) AS for_a, SUM(choice < 0) AS for_b
               FROM annotations WHERE project_id = ? GROUP BY pair_id) t
         JOIN pairs p ON p.id = t.pair_id
         JOIN prompts pr ON pr.id = p.prompt_id
         ORDER BY t.pair_id",
    )
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
