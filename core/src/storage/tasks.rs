//! Assignments: leasing pairs to annotators, expiring leases, skipping.
use super::{new_uuid, Tx};
use sqlx::SqliteExecutor;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: i64,
    pub uuid: String,
    pub swapped: bool,
    pub lease_expires_at: i64,
}

/// Returns expired leases' pairs to the pool. Run inside each claim; with the
/// partial index on live leases it is a probe that usually finds nothing.
pub async fn expire_due(tx: &mut Tx, now: i64) -> sqlx::Result<u64> {
    let pairs: Vec<i64> = sqlx::query_scalar(
        "UPDATE assignments SET state = 'expired' WHERE state = 'leased' AND lease_expires_at <= ? RETURNING pair_id",
    )
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    for pair in &pairs {
        sqlx::query("UPDATE pairs SET load = load - 1 WHERE id = ?").bind(pair).execute(&mut **tx).await?;
    }
    Ok(pairs.len() as u64)
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

/// Picks the pair with the least load (then the lowest spread, which
/// interleaves model pairs) that still needs annotations and that this
/// annotator has not judged, skipped or leased, and leases it.
pub async fn lease_next(
    tx: &mut Tx,
    project_id: i64,
    annotator_id: i64,
    per_pair: i64,
    now: i64,
    lease_ms: i64,
    swapped: bool,
) -> sqlx::Result<Option<Lease>> {
    let pair: Option<i64> = sqlx::query_scalar(
        "SELECT p.id FROM pairs p
         WHERE p.project_id = ?1 AND p.load < ?2
           AND NOT EXISTS (SELECT 1 FROM assignments a
                           WHERE a.pair_id = p.id AND a.annotator_id = ?3 AND a.state <> 'expired')
         ORDER BY p.load, p.spread LIMIT 1",
    )
    .bind(project_id)
    .bind(per_pair)
    .bind(annotator_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(pair) = pair else { return Ok(None) };
    let expires = now + lease_ms;
    // An expired lease of the same annotator on this pair is renewed in
    // place; it keeps its id and its shown order, so a page still open on
    // the old lease submits into the same task with the same sides.
    let (id, uuid, swapped): (i64, String, bool) = sqlx::query_as(
        "INSERT INTO assignments (uuid, project_id, pair_id, annotator_id, swapped, state, leased_at, lease_expires_at)
         VALUES (?, ?, ?, ?, ?, 'leased', ?, ?)
         ON CONFLICT (pair_id, annotator_id) DO UPDATE
           SET state = 'leased', leased_at = excluded.leased_at, lease_expires_at = excluded.lease_expires_at
         RETURNING id, uuid, swapped",
    )
    .bind(new_uuid())
    .bind(project_id)
    .bind(pair)
    .bind(annotator_id)
    .bind(swapped)
    .bind(now)
    .bind(expires)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("UPDATE pairs SET load = load + 1 WHERE id = ?").bind(pair).execute(&mut **tx).await?;
    Ok(Some(Lease { id, uuid, swapped, lease_expires_at: expires }))
}

/// An assignment as submit and skip need it, found by its public id and
/// owner: someone else's task id is "not found", never "forbidden".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub id: i64,
    pub uuid: String,
    pub project_id: i64,
    pub pair_id: i64,
    pub swapped: bool,
    pub state: String,
    pub leased_at: i64,
    pub lease_expires_at: i64,
    pub project_flags: String,
}

pub async fn find(tx: &mut Tx, uuid: &str, annotator_id: i64) -> sqlx::Result<Option<Assignment>> {
    let row: Option<(i64, String, i64, i64, bool, String, i64, i64, String)> = sqlx::query_as(
        "SELECT a.id, a.uuid, a.project_id, a.pair_id, a.swapped, a.state, a.leased_at, a.lease_expires_at, p.flags
         FROM assignments a JOIN projects p ON p.id = a.project_id
         WHERE a.uuid = ? AND a.annotator_id = ?",
    )
    .bind(uuid)
    .bind(annotator_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(id, uuid, project_id, pair_id, swapped, state, leased_at, lease_expires_at, project_flags)| Assignment {
        id,
        uuid,
        project_id,
        pair_id,
        swapped,
        state,
        leased_at,
        lease_expires_at,
        project_flags,
    }))
}

/// Marks the assignment finished; `counts_in_load` says whether the pair's
/// load still includes it (a lease that was not swept as expired).
pub async fn finish(tx: &mut Tx, a: &Assignment, state: &str, reason: Option<&str>, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE assignments SET state = ?, finished_at = ?, skip_reason = ? WHERE id = ?")
        .bind(state)
        .bind(now)
        .bind(reason)
        .bind(a.id)
        .execute(&mut **tx)
        .await?;
    let was_counted = a.state == "leased";
    let (load_delta, submitted_delta) = match (state, was_counted) {
        ("submitted", true) => (0, 1),
        ("submitted", false) => (1, 1), // late: the sweep had already taken it out of `load`
        (_, true) => (-1, 0),           // skipped while leased: free the slot
        _ => (0, 0),
    };
    sqlx::query("UPDATE pairs SET load = load + ?, submitted = submitted + ? WHERE id = ?")
        .bind(load_delta)
        .bind(submitted_delta)
        .bind(a.pair_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What the annotator page shows for a lease: the prompt and both texts in
/// canonical order (the caller applies `swapped`).
pub struct Content {
    pub messages: String,
    pub is_chat: bool,
    pub a: String,
    pub b: String,
}

pub async fn content(db: impl SqliteExecutor<'_>, assignment_id: i64) -> sqlx::Result<Content> {
    let (messages, is_chat, a, b): (String, bool, String, String) = sqlx::query_as(
        "SELECT pr.messages, pr.is_chat, ca.body, cb.body
         FROM assignments s JOIN pairs p ON p.id = s.pair_id JOIN prompts pr ON pr.id = p.prompt_id
         JOIN completions ca ON ca.id = p.completion_a JOIN completions cb ON cb.id = p.completion_b
         WHERE s.id = ?",
    )
    .bind(assignment_id)
    .fetch_one(db)
    .await?;
    Ok(Content { messages, is_chat, a, b })
}
