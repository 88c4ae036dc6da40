//! The hot path: next task, submit (exactly once), skip.
use crate::domain::import::Message;
use crate::domain::views::{AnnotationInput, AnnotationReceipt, MyProgress, Shown, TaskView, Turn};
use crate::domain::{ClientKey, TaskId};
use crate::render::markdown;
use crate::storage::assignments::{self as hot, Content, Lease};
use crate::storage::projects::Project;
use crate::storage::users::User;
use crate::storage::writer::sql_err;
use crate::storage::{now_ms, rfc3339, Db};
use crate::{Error, Result};
use sha2::{Digest, Sha256};

pub const MAX_RATIONALE: usize = 10_000;
/// Time on task above a day is not a measurement but a bug or a forgery.
pub const MAX_TIME_MS: i64 = 24 * 3600 * 1000;
pub const MAX_SKIP_REASON: usize = 1_000;

/// The annotator's current task in the project: the live lease they hold, or
/// a newly leased pair; `None` when nothing is left for them.
pub async fn next(db: &Db, project: &Project, user: &User) -> Result<Option<TaskView>> {
    claim(db, project, user, Which::Current).await
}

/// The task after the current one, leased ahead so the browser can show it
/// the moment the current one is submitted. An annotator holds at most two
/// live leases per project: the current task and this one. `None` when there
/// is no current task or nothing more to lease.
pub async fn prefetch(db: &Db, project: &Project, user: &User) -> Result<Option<TaskView>> {
    claim(db, project, user, Which::Ahead).await
}

#[derive(Clone, Copy)]
enum Which {
    Current,
    Ahead,
}

/// One writer job: sweep expired leases, take the lease asked for (held, or
/// newly leased), and read what it shows; two tabs asking at once get one lease.
async fn claim(db: &Db, project: &Project, user: &User, which: Which) -> Result<Option<TaskView>> {
    let now = now_ms();
    let (project_id, user_id) = (project.id, user.id);
    let (per_pair, lease_ms) = (project.annotations_per_pair, project.lease_seconds * 1000);
    let adaptive = project.pair_selection == crate::domain::PairSelection::Adaptive;
    let swapped = rand::random::<bool>();
    let lease = db
        .writer
        .run(move |c| {
            hot::expire_due(c, now).map_err(sql_err)?;
            let mut held = hot::held_leases(c, project_id, user_id, now).map_err(sql_err)?;
            let wanted = match which {
                Which::Current => 0,
                Which::Ahead => 1,
            };
            let lease = if held.len() > wanted {
                held.swap_remove(wanted)
            } else if held.len() == wanted {
                let next = if adaptive {
                    lease_adaptive(c, project_id, user_id, per_pair, now, lease_ms, swapped).map_err(sql_err)?
                } else {
                    hot::lease_next(c, project_id, user_id, per_pair, now, lease_ms, swapped).map_err(sql_err)?
                };
                match next {
                    Some(new) => new,
                    None => return Ok(None),
                }
            } else {
                return Ok(None); // nothing to be ahead of
            };
            let content = hot::content(c, lease.id).map_err(sql_err)?;
            Ok(Some((lease, content)))
        })
        .await?;
    match lease {
        // Rendering long texts (up to 2 MB; raw HTML goes through the
        // sanitizer) would hold a runtime thread: they go to the blocking pool.
        Some((lease, content)) if content.messages.len() + content.a.len() + content.b.len() > RENDER_INLINE_BYTES => {
            let project = project.clone();
            tokio::task::spawn_blocking(move || view(&project, &lease, content))
                .await
                .map_err(|e| Error::Internal(e.into()))?
                .map(Some)
        }
        Some((lease, content)) => view(project, &lease, content).map(Some),
        None => Ok(None),
    }
}

/// Adaptive selection (inside the writer's job): the prompt of the pair
/// `all` would offer (least load first), fitted on its votes so far; the
/// pair of it whose order is least certain among those this annotator may
/// take. A prompt whose order is settled is marked so and passed over.
fn lease_adaptive(
    c: &rusqlite::Connection,
    project_id: i64,
    user_id: i64,
    per_pair: i64,
    now: i64,
    lease_ms: i64,
    swapped: bool,
) -> rusqlite::Result<Option<hot::Lease>> {
    use crate::domain::reward;
    while let Some((_, prompt)) = hot::least_loaded(c, project_id, user_id, per_pair, true)? {
        let pairs = hot::prompt_pairs(c, prompt, user_id, per_pair)?;
        let mut completions: Vec<i64> = pairs.iter().flat_map(|p| [p.a, p.b]).collect();
        completions.sort_unstable();
        completions.dedup();
        let at = |id: i64| completions.binary_search(&id).unwrap_or_default();
        let votes: Vec<reward::Comparison> = hot::prompt_votes(c, prompt)?
            .into_iter()
            .map(|(a, b, choice)| reward::from_vote(at(a), at(b), choice))
            .collect();
        let fit = reward::fit(completions.len(), &votes);
        // A pair as two indices, smaller first.
        let key = |p: &hot::OpenPair| {
            let (x, y) = (at(p.a), at(p.b));
            (x.min(y), x.max(y))
        };
        let open = |i: usize, j: usize| pairs.iter().find(|p| p.offerable && key(p) == (i.min(j), i.max(j)));
        match reward::next_pair(&fit, |i, j| open(i, j).is_some()) {
            Some((i, j)) => {
                let pair = open(i, j).map(|p| p.id);
                return match pair {
                    Some(pair) => hot::lease_pair(c, project_id, pair, user_id, now, lease_ms, swapped).map(Some),
                    None => Ok(None),
                };
            }
            None => hot::settle(c, prompt)?,
        }
    }
    Ok(None)
}

/// Texts up to this size (prompt and both answers) are rendered on the
/// request's own thread: tens of microseconds.
const RENDER_INLINE_BYTES: usize = 64 * 1024;

fn view(project: &Project, lease: &Lease, c: Content) -> Result<TaskView> {
    let messages: Vec<Message> = serde_json::from_str(&c.messages)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("stored prompt messages")))?;
    // Rendered here, not stored: a few tens of µs per text, and a stored
    // copy doubled the rows every import writes and every export reads.
    let (a_html, b_html) = (markdown(&c.a), markdown(&c.b));
    let ((left, left_html), (right, right_html)) =
        if lease.swapped { ((c.b, b_html), (c.a, a_html)) } else { ((c.a, a_html), (c.b, b_html)) };
    let thread = messages.iter().map(|m| Turn { role: m.role, html: markdown(&m.content) }).collect();
    let (prompt, messages) =
        if c.is_chat { (None, Some(messages)) } else { (messages.into_iter().last().map(|m| m.content), None) };
    Ok(TaskView {
        task_id: lease.uuid.parse().map_err(|e: uuid::Error| Error::Internal(e.into()))?,
        lease_expires_at: rfc3339(lease.lease_expires_at),
        prompt,
        messages,
        thread,
        left: Shown { html: left_html, text: left },
        right: Shown { html: right_html, text: right },
        guidelines: project.guidelines.clone(),
    })
}

pub async fn progress(db: &Db, project: &Project, user: &User) -> Result<MyProgress> {
    Ok(hot::progress(&db.read, user.id, project.id, project.annotations_per_pair).await?)
}

fn request_hash(task_id: &str, input: &AnnotationInput) -> String {
    let mut flags = input.flags.clone();
    flags.sort();
    let canonical = serde_json::json!([task_id, input.choice, input.both_bad, flags, input.rationale, input.time_ms]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Records a judgement once. A retry with the same client key and body gets
/// the first receipt back (`false` = nothing new stored); the same key with
/// another body is a conflict. A late submission (lease expired) is kept and
/// marked late: human work is never thrown away.
///
/// The task must be the caller's, in `project` when the request names one,
/// and the caller must still be an active member of its project: checked
/// inside the write job, so it holds on every path (REST, forms, pages).
pub async fn submit(
    db: &Db,
    user: &User,
    project: Option<&Project>,
    task_id: TaskId,
    client_key: &ClientKey,
    input: &AnnotationInput,
) -> Result<(AnnotationReceipt, bool)> {
    check_input(input)?;
    let task_id = task_id.to_string();
    let hash = request_hash(&task_id, input);
    let (user_id, client_key, input) = (user.id, client_key.as_str().to_owned(), input.clone());
    let project_id = project.map(|p| p.id);
    db.writer
        .run(move |c| {
            let now = now_ms();
            let task = find_task(c, &task_id, user_id, project_id)?;
            if let Some((owner, stored_hash, receipt)) = hot::by_client_key(c, &client_key).map_err(sql_err)? {
                return if owner == user_id && stored_hash == hash {
                    Ok((receipt, false))
                } else {
                    Err(Error::Conflict("client_key: already used for a different submission".into()))
                };
            }
            match task.state.as_str() {
                "submitted" => {
                    return Err(Error::Conflict(
                        "this task has an annotation already (sent with another client key)".into(),
                    ))
                }
                "skipped" => return Err(Error::Conflict("this task was skipped".into())),
                _ => {}
            }
            let allowed: Vec<String> = serde_json::from_str(&task.project_flags).unwrap_or_default();
            if let Some(bad) = input.flags.iter().find(|f| !allowed.contains(f)) {
                return Err(Error::bad(format!(
                    "flags: {bad:?} is not one of this project's flags ({})",
                    allowed.join(", ")
                )));
            }
            let late = task.state == "expired" || task.lease_expires_at <= now;
            let mut flags: Vec<String> = Vec::with_capacity(input.flags.len());
            for f in &input.flags {
                if !flags.contains(f) {
                    flags.push(f.clone());
                }
            }
            // Without a client clock (plain form posts) time on task is measured from the lease.
            let time_ms = input.time_ms.or(Some(now - task.leased_at));
            let annotation_id = hot::insert_annotation(
                c,
                &hot::NewAnnotation {
                    assignment: &task,
                    annotator_id: user_id,
                    client_key: &client_key,
                    request_hash: &hash,
                    choice_shown: input.choice,
                    both_bad: input.both_bad,
                    flags: &flags,
                    rationale: &input.rationale,
                    time_ms,
                    late,
                    now,
                },
            )
            .map_err(sql_err)?;
            hot::finish(c, &task, "submitted", None, now).map_err(sql_err)?;
            let receipt = AnnotationReceipt {
                annotation_id: annotation_id.parse().map_err(|e: uuid::Error| Error::Internal(e.into()))?,
                task_id: task.uuid.parse().map_err(|e: uuid::Error| Error::Internal(e.into()))?,
                choice: input.choice,
                both_bad: input.both_bad,
                flags,
                rationale: input.rationale,
                time_ms,
                late,
                created_at: rfc3339(now),
            };
            Ok((receipt, true))
        })
        .await
}

fn check_input(input: &AnnotationInput) -> Result<()> {
    if input.rationale.chars().count() > MAX_RATIONALE {
        return Err(Error::bad(format!("rationale: at most {MAX_RATIONALE} characters")));
    }
    if input.time_ms.is_some_and(|t| !(0..=MAX_TIME_MS).contains(&t)) {
        return Err(Error::bad(format!("time_ms: must be from 0 to {MAX_TIME_MS}")));
    }
    if input.flags.len() > crate::domain::settings::MAX_FLAGS {
        return Err(Error::bad(format!("flags: at most {}", crate::domain::settings::MAX_FLAGS)));
    }
    Ok(())
}

/// The caller's task (see `submit` for what that takes), or not found.
fn find_task(
    c: &rusqlite::Connection,
    task_id: &str,
    user_id: i64,
    project_id: Option<i64>,
) -> Result<hot::Assignment> {
    hot::find(c, task_id, user_id)
        .map_err(sql_err)?
        .filter(|t| project_id.is_none_or(|p| p == t.project_id))
        .ok_or_else(|| Error::not_found("no such task"))
}

/// Skips a task: the pair is never shown to this annotator again and its
/// slot goes back to the pool. Skipping twice is harmless.
pub async fn skip(
    db: &Db,
    user: &User,
    project: Option<&Project>,
    task_id: TaskId,
    reason: Option<&str>,
) -> Result<()> {
    if reason.is_some_and(|r| r.chars().count() > MAX_SKIP_REASON) {
        return Err(Error::bad(format!("reason: at most {MAX_SKIP_REASON} characters")));
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    let (user_id, task_id, project_id) = (user.id, task_id.to_string(), project.map(|p| p.id));
    db.writer
        .run(move |c| {
            let task = find_task(c, &task_id, user_id, project_id)?;
            match task.state.as_str() {
                "skipped" => return Ok(()),
                "submitted" => return Err(Error::Conflict("this task has an annotation already".into())),
                _ => {}
            }
            hot::finish(c, &task, "skipped", reason.as_deref(), now_ms()).map_err(sql_err)
        })
        .await
}
