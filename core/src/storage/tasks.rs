//! Assignments, read side: the lease an annotator holds and what it shows.
//! The writes (claim, submit, skip) run on the writer thread: see `hot`.
use sqlx::SqliteExecutor;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: i64,
    pub uuid: String,
    pub swapped: bool,
    pub lease_expires_at: i64,
}

/// The annotator's oldest live lease in the project, if any: asking for the
/// next task again (reload, second tab) returns it instead of taking another.
pub async fn live_lease(db: impl SqliteExecutor<'_>, project_id: i64, annotator_id: i64, now: i64) -> sqlx::Result<Option<Lease>> {
    let row: Option<(i64, String, bool, i64)> = sqlx::query_as(
        "SELECT id, uuid, swapped, lease_expires_at FROM assignments
         WHERE annotator_id = ? AND project_id = ? AND state = 'leased' AND lease_expires_at > ?
         ORDER BY leased_at, id LIMIT 1",
    )
    .bind(annotator_id)
    .bind(project_id)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, uuid, swapped, lease_expires_at)| Lease { id, uuid, swapped, lease_expires_at }))
}

/// What the annotator page shows for a lease: the prompt and both texts in
/// canonical order (the caller applies `swapped`).
pub struct Content {
    pub messages: String,
    pub is_chat: bool,
    pub a: String,
    pub b: String,
    /// Rendered at import; None for rows imported before that existed.
    pub messages_html: Option<String>,
    pub a_html: Option<String>,
    pub b_html: Option<String>,
}

pub async fn content(db: impl SqliteExecutor<'_>, assignment_id: i64) -> sqlx::Result<Content> {
    let (messages, is_chat, a, b, messages_html, a_html, b_html): (String, bool, String, String, Option<String>, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT pr.messages, pr.is_chat, ca.body, cb.body, pr.messages_html, ca.body_html, cb.body_html
         FROM assignments s JOIN pairs p ON p.id = s.pair_id JOIN prompts pr ON pr.id = p.prompt_id
         JOIN completions ca ON ca.id = p.completion_a JOIN completions cb ON cb.id = p.completion_b
         WHERE s.id = ?",
    )
    .bind(assignment_id)
    .fetch_one(db)
    .await?;
    Ok(Content { messages, is_chat, a, b, messages_html, a_html, b_html })
}
