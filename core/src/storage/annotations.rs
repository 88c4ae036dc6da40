use super::{new_uuid, rfc3339, Tx};
use crate::domain::choice::Choice;
use crate::domain::views::AnnotationReceipt;

pub struct NewAnnotation<'a> {
    pub assignment_id: i64,
    pub project_id: i64,
    pub pair_id: i64,
    pub annotator_id: i64,
    pub client_key: &'a str,
    pub request_hash: &'a str,
    pub choice_shown: Choice,
    pub choice: i8,
    pub both_bad: bool,
    pub flags: &'a [String],
    pub rationale: &'a str,
    pub time_ms: Option<i64>,
    pub late: bool,
    pub now: i64,
}

pub async fn insert(tx: &mut Tx, n: &NewAnnotation<'_>) -> sqlx::Result<String> {
    let uuid = new_uuid();
    sqlx::query(
        "INSERT INTO annotations (uuid, assignment_id, project_id, pair_id, annotator_id, client_key, request_hash,
                                  choice_shown, choice, both_bad, flags, rationale, time_ms, late, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&uuid)
    .bind(n.assignment_id)
    .bind(n.project_id)
    .bind(n.pair_id)
    .bind(n.annotator_id)
    .bind(n.client_key)
    .bind(n.request_hash)
    .bind(i64::from(n.choice_shown))
    .bind(n.choice)
    .bind(n.both_bad)
    .bind(serde_json::to_string(n.flags).unwrap_or_else(|_| "[]".into()))
    .bind(n.rationale)
    .bind(n.time_ms)
    .bind(n.late)
    .bind(n.now)
    .execute(&mut **tx)
    .await?;
    Ok(uuid)
}

/// The stored annotation for a client key: its owner, request hash and the
/// receipt to answer a retry with.
pub async fn by_client_key(tx: &mut Tx, key: &str) -> sqlx::Result<Option<(i64, String, AnnotationReceipt)>> {
    let row: Option<(i64, String, String, String, i64, bool, String, String, Option<i64>, bool, i64)> = sqlx::query_as(
        "SELECT n.annotator_id, n.request_hash, n.uuid, s.uuid, n.choice_shown, n.both_bad, n.flags, n.rationale,
                n.time_ms, n.late, n.created_at
         FROM annotations n JOIN assignments s ON s.id = n.assignment_id WHERE n.client_key = ?",
    )
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(owner, hash, uuid, task, choice, both_bad, flags, rationale, time_ms, late, created_at)| {
        (
            owner,
            hash,
            AnnotationReceipt {
                annotation_id: uuid.parse().unwrap_or_default(),
                task_id: task.parse().unwrap_or_default(),
                choice: Choice::new(choice).unwrap_or(Choice::TIE),
                both_bad,
                flags: serde_json::from_str(&flags).unwrap_or_default(),
                rationale,
                time_ms,
                late,
                created_at: rfc3339(created_at),
            },
        )
    }))
}
