//! The hot path: next task, submit (exactly once), skip.
use crate::domain::import::Message;
use crate::domain::settings::TaskType;
use crate::domain::views::{
    task_completion_id, AnnotationInput, AnnotationReceipt, Entries, MyProgress, Shown, ShownCompletion, TaskView, Turn,
};
use crate::domain::{ClientKey, TaskId};
use crate::render::markdown;
use crate::storage::assignments::{self as hot, Content as PairContent, Lease};
use crate::storage::conn::Conn;
use crate::storage::projects::Project;
use crate::storage::users::User;
use crate::storage::{now_ms, rfc3339, Db};
use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

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
    let plan = Claim::plan(db, project, user, which);
    let found = db.hot_as(user.id, move |c| plan.run(c, now_ms())).await?;
    show(project, found).await
}

/// What a claim needs from its project, worked out (and its dice rolled)
/// before the write job, so a retried job takes the same decisions.
struct Claim {
    which: Which,
    project_id: i64,
    user_id: i64,
    per_pair: i64,
    lease_ms: i64,
    adaptive: bool,
    task_type: TaskType,
    swapped: bool,
    /// This task is a gold pair (when the project has one left for them).
    gold: bool,
    serves_gold: bool,
    /// Active selection: the model pairs in the order the last fit wants them.
    active: Option<Vec<String>>,
}

impl Claim {
    fn plan(db: &Db, project: &Project, user: &User, which: Which) -> Claim {
        let task_type = project.task_type;
        let adaptive = project.pair_selection == crate::domain::PairSelection::Adaptive;
        let active =
            (project.selection == crate::domain::ModelSelection::Active && !task_type.per_prompt() && !adaptive)
                .then(|| super::leaderboard::serving_order(db, project.id))
                .flatten();
        Claim {
            which,
            project_id: project.id,
            user_id: user.id,
            per_pair: project.annotations_per_pair,
            lease_ms: project.lease_seconds * 1000,
            adaptive,
            task_type,
            swapped: rand::random::<bool>(),
            gold: rand::random::<u32>() % 100 < project.gold_percent.clamp(0, 100) as u32,
            serves_gold: project.gold_percent > 0,
            active,
        }
    }

    /// Inside the write job: the lease asked for and what it shows.
    fn run(&self, c: &mut dyn Conn, now: i64) -> Result<Option<(Lease, Content)>> {
        let held = self.sweep_and_held(c, now)?;
        self.take(c, now, held)
    }

    /// Expired leases back to the pool; the annotator's live ones, oldest first.
    fn sweep_and_held(&self, c: &mut dyn Conn, now: i64) -> Result<Vec<Lease>> {
        hot::sweep_and_held(c, self.project_id, self.user_id, now)
    }

    /// The lease asked for, given the ones `held`: one of them, or a new one.
    fn take(&self, c: &mut dyn Conn, now: i64, mut held: Vec<Lease>) -> Result<Option<(Lease, Content)>> {
        let Claim { project_id, user_id, per_pair, lease_ms, swapped, .. } = *self;
        let wanted = match self.which {
            Which::Current => 0,
            Which::Ahead => 1,
        };
        let mut lease = if held.len() > wanted {
            held.swap_remove(wanted)
        } else if held.len() == wanted {
            let next = if self.task_type.per_prompt() {
                // The shown order: a uniform shuffle, recorded with the lease.
                let mut shuffle = |ids: &mut [i64]| rand::seq::SliceRandom::shuffle(ids, &mut rand::thread_rng());
                hot::lease_next_prompt(
                    c,
                    project_id,
                    user_id,
                    per_pair,
                    (self.task_type.min_completions(), self.task_type.max_completions()),
                    now,
                    lease_ms,
                    &mut shuffle,
                )?
            } else {
                let gold_pair =
                    if self.gold { hot::lease_gold(c, project_id, user_id, now, lease_ms, swapped)? } else { None };
                let picked = match (gold_pair, &self.active) {
                    (None, Some(order)) => {
                        hot::lease_for_models(c, project_id, user_id, per_pair, order, now, lease_ms, swapped)?
                    }
                    (gold_pair, _) => gold_pair,
                };
                let picked = match picked {
                    Some(lease) => Some(lease),
                    None if self.adaptive => lease_adaptive(c, project_id, user_id, per_pair, now, lease_ms, swapped)?,
                    None => hot::lease_next(c, project_id, user_id, per_pair, now, lease_ms, swapped)?,
                };
                // Nothing else is left for them: the gold pairs they have
                // not had yet, whatever the roll said (served at the gold
                // rate only while other pairs remain), so "all done" is true.
                match picked {
                    None if !self.gold && self.serves_gold => {
                        hot::lease_gold(c, project_id, user_id, now, lease_ms, swapped)?
                    }
                    picked => picked,
                }
            };
            match next {
                Some(new) => new,
                None => return Ok(None),
            }
        } else {
            return Ok(None); // nothing to be ahead of
        };
        let content = match lease.content.take() {
            Some(content) => Content::Pair(content),
            None if lease.shown.is_some() => Content::Prompt(hot::prompt_content(c, lease.id)?),
            None => Content::Pair(hot::content(c, lease.id)?),
        };
        Ok(Some((lease, content)))
    }
}

/// A claimed lease as the annotator sees it.
async fn show(project: &Project, found: Option<(Lease, Content)>) -> Result<Option<TaskView>> {
    match found {
        // Rendering long texts (up to 2 MB; raw HTML goes through the
        // sanitizer) would hold a runtime thread: they go to the blocking pool.
        Some((lease, content)) if content.len() > RENDER_INLINE_BYTES => {
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
    c: &mut dyn Conn,
    project_id: i64,
    user_id: i64,
    per_pair: i64,
    now: i64,
    lease_ms: i64,
    swapped: bool,
) -> Result<Option<hot::Lease>> {
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

/// What a lease shows: a pair, or a prompt's completions.
enum Content {
    Pair(PairContent),
    Prompt(hot::PromptContent),
}

impl Content {
    fn len(&self) -> usize {
        match self {
            Content::Pair(c) => c.messages.len() + c.a.len() + c.b.len(),
            Content::Prompt(c) => c.messages.len() + c.completions.iter().map(|c| c.2.len()).sum::<usize>(),
        }
    }
}

fn view(project: &Project, lease: &Lease, content: Content) -> Result<TaskView> {
    let (messages, is_chat) = match &content {
        Content::Pair(c) => (&c.messages, c.is_chat),
        Content::Prompt(c) => (&c.messages, c.is_chat),
    };
    let messages: Vec<Message> = serde_json::from_str(messages)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("stored prompt messages")))?;
    let thread = messages.iter().map(|m| Turn { role: m.role, html: markdown(&m.content) }).collect();
    let (prompt, messages) =
        if is_chat { (None, Some(messages)) } else { (messages.into_iter().last().map(|m| m.content), None) };
    let mut view = TaskView {
        task_id: lease.uuid.parse().map_err(|e: uuid::Error| Error::Internal(e.into()))?,
        task_type: project.task_type,
        lease_expires_at: rfc3339(lease.lease_expires_at),
        prompt,
        messages,
        thread,
        left: None,
        right: None,
        completions: Vec::new(),
        aspects: None,
        scale: None,
        guidelines: project.guidelines.clone(),
    };
    // Rendered here, not stored: a few tens of µs per text, and a stored
    // copy doubled the rows every import writes and every export reads.
    match content {
        Content::Pair(c) => {
            let (a, b) = (Shown { html: markdown(&c.a), text: c.a }, Shown { html: markdown(&c.b), text: c.b });
            let (left, right) = if lease.swapped { (b, a) } else { (a, b) };
            view.left = Some(left);
            view.right = Some(right);
        }
        Content::Prompt(c) => {
            view.task_type = if project.task_type.per_prompt() { project.task_type } else { TaskType::Ranking };
            view.completions = c
                .completions
                .into_iter()
                .map(|(_, uuid, text)| ShownCompletion {
                    id: task_completion_id(&lease.uuid, &uuid),
                    html: markdown(&text),
                    text,
                })
                .collect();
            if view.task_type == TaskType::Rating {
                view.aspects = Some(project.aspects.clone());
                view.scale = Some(project.scale.clone());
            }
        }
    }
    Ok(view)
}

pub use crate::domain::views::JudgedTask;

/// The caller's judgement of task `task_id` in the project; or, with
/// `task_id` None, their latest one before task `before` (Backspace on the
/// page). None when there is none.
pub async fn judged(
    db: &Db,
    project: &Project,
    user: &User,
    task_id: Option<TaskId>,
    before: Option<TaskId>,
) -> Result<Option<JudgedTask>> {
    let (user_id, project_id) = (user.id, project.id);
    let undo = (project.undo_judgements, project.undo_minutes);
    let found = db
        .hot_as(user_id, move |c| {
            let task = match task_id {
                Some(t) => Some(t.to_string()),
                None => hot::latest_judged(c, user_id, project_id, before.map(|b| b.to_string()).as_deref())?,
            };
            let Some(task) = task else { return Ok(None) };
            let Some(lease) = hot::judged_task(c, &task, user_id)? else { return Ok(None) };
            let Some((annotation_id, annotation_uuid, _)) = hot::editable(c, None, Some(&task), user_id)? else {
                return Ok(None);
            };
            // Still the caller's project (membership checked as for a submit).
            find_task(c, &task, user_id, Some(project_id), None)?;
            let content = if lease.shown.is_some() {
                Content::Prompt(hot::prompt_content(c, lease.id)?)
            } else {
                Content::Pair(hot::content(c, lease.id)?)
            };
            let (_, _, receipt) =
                hot::by_uuid(c, &annotation_uuid)?.ok_or_else(|| Error::not_found("no such annotation"))?;
            let receipt = with_judgement(c, receipt)?;
            let editable = hot::in_undo_window(c, annotation_id, undo.0, undo.1, now_ms())?;
            Ok(Some((lease, content, receipt, editable)))
        })
        .await?;
    let Some((lease, content, receipt, editable)) = found else { return Ok(None) };
    let project = project.clone();
    let task = tokio::task::spawn_blocking(move || view(&project, &lease, content))
        .await
        .map_err(|e| Error::Internal(e.into()))??;
    let input = AnnotationInput {
        choice: receipt.choice,
        ranks: receipt.ranks,
        ratings: receipt.ratings,
        completion_flags: receipt.completion_flags,
        both_bad: receipt.both_bad,
        flags: receipt.flags,
        rationale: receipt.rationale,
        time_ms: None,
    };
    Ok(Some(JudgedTask { task, input, editable }))
}

/// How many judgements a history page lists.
pub const HISTORY_LIMIT: i64 = 200;

/// The caller's own judgements in the project, newest first (at most
/// `HISTORY_LIMIT`), each saying whether it can still be changed.
pub async fn history(db: &Db, project: &Project, user: &User) -> Result<Vec<crate::domain::views::HistoryItem>> {
    let undo = (project.undo_judgements, project.undo_minutes);
    Ok(hot::history(&db.read, user.id, project.id, undo, HISTORY_LIMIT).await?)
}

pub async fn progress(db: &Db, project: &Project, user: &User) -> Result<MyProgress> {
    let per_prompt = project.task_type.per_prompt().then(|| project.task_type.min_completions());
    Ok(hot::progress(&db.read, user.id, project.id, project.annotations_per_pair, per_prompt).await?)
}

fn request_hash(task_id: &str, input: &AnnotationInput) -> String {
    let mut flags = input.flags.clone();
    flags.sort();
    let mut canonical =
        serde_json::json!([task_id, input.choice, input.both_bad, flags, input.rationale, input.time_ms]);
    // Ranking and rating parts join the hash whenever any is given (a body
    // with only `choice` hashes as it always did).
    let parts =
        input.choice.is_none() || input.ranks.is_some() || input.ratings.is_some() || input.completion_flags.is_some();
    if let (Some(list), true) = (canonical.as_array_mut(), parts) {
        list.push(serde_json::json!(input.ranks));
        list.push(serde_json::json!(input.ratings));
        if let Some(Entries(per)) = &input.completion_flags {
            // Order and repeats within a list do not make another request.
            let sorted: std::collections::BTreeMap<&String, std::collections::BTreeSet<&String>> =
                per.iter().map(|(k, v)| (k, v.iter().collect())).collect();
            list.push(serde_json::json!(sorted));
        }
    }
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
    let submission = Submission::new(user, project, task_id, client_key, input)?;
    let stored = db.hot_as(user.id, move |c| submission.store(c, now_ms())).await;
    stored.inspect(|(_, fresh)| counted(*fresh))
}

/// `submit`, then `next` in the same write job (one transaction): what the
/// annotator works on after this judgement. The task must be in `project`.
/// A retry with the same key gets the first receipt and the lease it leased
/// (still held, so `next` answers it again).
///
/// The sweep of expired leases (once a second per instance: `Db::sweep_due`)
/// comes first, before the submission locks its pair: a sweep waits for the
/// pairs of the leases it ends, and waiting for one while holding another is
/// how two jobs deadlock. The task and the annotator's live leases are then
/// read together (PostgreSQL: one statement). Adaptive selection
/// locks a prompt's pairs without skipping, so there the two stay two jobs.
/// Should the claim fail, the judgement is stored on its own (nothing of it
/// is lost to the next task's trouble) and the next task asked for apart.
pub async fn submit_and_next(
    db: &Db,
    user: &User,
    project: &Project,
    task_id: TaskId,
    client_key: &ClientKey,
    input: &AnnotationInput,
) -> Result<(AnnotationReceipt, bool, Option<TaskView>)> {
    let apart = || async {
        let (receipt, fresh) = submit(db, user, Some(project), task_id, client_key, input).await?;
        Ok((receipt, fresh, next(db, project, user).await?))
    };
    let plan = Claim::plan(db, project, user, Which::Current);
    if plan.adaptive {
        return apart().await;
    }
    let submission = Submission::new(user, Some(project), task_id, client_key, input)?;
    // Decided before the job, so that a retried job decides alike.
    let sweep = db.sweep_due(now_ms());
    // Set once the submission is in (the job's last try): a failure after it was the claim's.
    let claiming = Arc::new(AtomicBool::new(false));
    let in_claim = claiming.clone();
    let done = db
        .hot_as(user.id, move |c| {
            in_claim.store(false, Relaxed);
            let now = now_ms();
            if sweep {
                hot::sweep(c, now)?;
            }
            let (task, held) = submission.find_and_held(c, now)?;
            let (receipt, fresh) = submission.store_task(c, now, task)?;
            in_claim.store(true, Relaxed);
            // Read before the submission: the task just judged is held no more.
            let judged = receipt.task_id.to_string();
            let held = held.into_iter().filter(|l| l.uuid != judged).collect();
            Ok((receipt, fresh, plan.take(c, now, held)?))
        })
        .await;
    match done {
        Ok((receipt, fresh, found)) => {
            counted(fresh);
            Ok((receipt, fresh, show(project, found).await?))
        }
        Err(e) if claiming.load(Relaxed) => {
            tracing::warn!(error = %e, "leasing the next task with a judgement failed; storing the judgement alone");
            apart().await
        }
        Err(e) => Err(e),
    }
}

fn counted(fresh: bool) {
    if fresh {
        metrics::counter!("arbiter_annotations_stored_total").increment(1);
    }
}

/// A first submission, checked, on its way to the write job.
struct Submission {
    task_id: String,
    hash: String,
    user_id: i64,
    project_id: Option<i64>,
    client_key: String,
    input: AnnotationInput,
}

impl Submission {
    fn new(
        user: &User,
        project: Option<&Project>,
        task_id: TaskId,
        client_key: &ClientKey,
        input: &AnnotationInput,
    ) -> Result<Submission> {
        check_input(input)?;
        let task_id = task_id.to_string();
        Ok(Submission {
            hash: request_hash(&task_id, input),
            task_id,
            user_id: user.id,
            project_id: project.map(|p| p.id),
            client_key: client_key.as_str().to_owned(),
            input: input.clone(),
        })
    }

    /// Inside the write job: the receipt, and whether it was stored now
    /// (`false`: a retry, answered with the first receipt).
    fn store(&self, c: &mut dyn Conn, now: i64) -> Result<(AnnotationReceipt, bool)> {
        let task = find_task(c, &self.task_id, self.user_id, self.project_id, Some(&self.client_key))?;
        self.store_task(c, now, task)
    }

    /// The task, as `find_task` finds it, and the annotator's live leases in
    /// its project (for the claim that follows the submission).
    fn find_and_held(&self, c: &mut dyn Conn, now: i64) -> Result<(hot::Assignment, Vec<Lease>)> {
        let found = hot::find_and_held(c, &self.task_id, self.user_id, Some(&self.client_key), now)?;
        in_project(found, |(t, _)| t, self.project_id)
    }

    /// `store` with the task found.
    fn store_task(&self, c: &mut dyn Conn, now: i64, task: hot::Assignment) -> Result<(AnnotationReceipt, bool)> {
        let Submission { hash, user_id, client_key, input, .. } = self;
        let user_id = *user_id;
        if let Some((owner, stored_hash, receipt)) =
            if task.key_used { hot::by_client_key(c, client_key)? } else { None }
        {
            return if owner == user_id && &stored_hash == hash {
                Ok((with_judgement(c, receipt)?, false))
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
        let flags = task_flags(&task, input)?;
        let judged = judge(c, &task, input)?;
        let late = task.state == "expired" || task.lease_expires_at <= now;
        // Without a client clock (plain form posts) time on task is measured from the lease.
        let time_ms = input.time_ms.or(Some(now - task.leased_at));
        let request = Request { task: &task, user_id, client_key, hash, input };
        let annotation_id = hot::submit(c, &request.annotation(&judged, &flags, time_ms, late, now))?;
        let receipt = AnnotationReceipt {
            annotation_id: annotation_id.parse().map_err(|e: uuid::Error| Error::Internal(e.into()))?,
            task_id: task.uuid.parse().map_err(|e: uuid::Error| Error::Internal(e.into()))?,
            choice: input.choice,
            ranks: input.ranks.clone(),
            ratings: input.ratings.clone(),
            completion_flags: judged.receipt_flags,
            both_bad: input.both_bad,
            flags,
            rationale: input.rationale.clone(),
            time_ms,
            late,
            created_at: rfc3339(now),
            version: 1,
            updated_at: None,
        };
        Ok((receipt, true))
    }
}

/// The task-wide flags of a submission: each one of the project's, each once.
fn task_flags(task: &hot::Assignment, input: &AnnotationInput) -> Result<Vec<String>> {
    let allowed: Vec<String> = serde_json::from_str(&task.project_flags).unwrap_or_default();
    if let Some(bad) = input.flags.iter().find(|f| !allowed.contains(f)) {
        return Err(Error::bad(format!("flags: {bad:?} is not one of this project's flags ({})", allowed.join(", "))));
    }
    let mut flags: Vec<String> = Vec::with_capacity(input.flags.len());
    for f in &input.flags {
        if !flags.contains(f) {
            flags.push(f.clone());
        }
    }
    Ok(flags)
}

/// A stored receipt with its ranking, rating and answer flags filled in.
fn with_judgement(c: &mut dyn Conn, mut receipt: AnnotationReceipt) -> Result<AnnotationReceipt> {
    if receipt.choice.is_none() {
        let (ranks, ratings, flags) = hot::judgement(c, &receipt.annotation_id.to_string())?;
        (receipt.ranks, receipt.ratings) = judgement_entries(ranks, ratings);
        receipt.completion_flags = flag_entries(flags);
    }
    Ok(receipt)
}

/// What an edit names: an annotation (REST), or the task it answered (the page).
#[derive(Debug, Clone, Copy)]
pub enum EditTarget {
    Annotation(uuid::Uuid),
    Task(TaskId),
}

/// Changes a judgement (undo, history): the same body and rules as a first
/// submission, with a key of its own. Only the annotator's own judgement,
/// inside the project's undo window (else 409). The annotation keeps one row
/// (now the new version); the replaced version goes to the revisions table.
/// A retry with the same key and body answers the current version; counters,
/// leases and N are not touched.
pub async fn edit(
    db: &Db,
    user: &User,
    project: Option<&Project>,
    target: EditTarget,
    client_key: &ClientKey,
    input: &AnnotationInput,
) -> Result<(AnnotationReceipt, bool)> {
    check_input(input)?;
    let (user_id, client_key, input) = (user.id, client_key.as_str().to_owned(), input.clone());
    let project_id = project.map(|p| p.id);
    db.hot_as(user_id, move |c| {
            let now = now_ms();
            let (by_annotation, by_task) = match target {
                EditTarget::Annotation(a) => (Some(a.to_string()), None),
                EditTarget::Task(t) => (None, Some(t.to_string())),
            };
            let (annotation_id, annotation_uuid, task_uuid) =
                hot::editable(c, by_annotation.as_deref(), by_task.as_deref(), user_id)
                    ?
                    .ok_or_else(|| Error::not_found("no such annotation"))?;
            let task = find_task(c, &task_uuid, user_id, project_id, None)?;
            let hash = request_hash(&task_uuid, &input);
            if let Some((owner, stored_hash, annotation)) = hot::edit_by_key(c, &client_key)? {
                if owner == user_id && stored_hash == hash && annotation == annotation_uuid {
                    let (_, _, receipt) = hot::by_uuid(c, &annotation_uuid)
                        ?
                        .ok_or_else(|| Error::not_found("no such annotation"))?;
                    return Ok((with_judgement(c, receipt)?, false));
                }
                return Err(Error::Conflict("client_key: already used for a different edit".into()));
            }
            if hot::by_client_key(c, &client_key)?.is_some() {
                return Err(Error::Conflict("client_key: already used for a submission".into()));
            }
            if !hot::in_undo_window(c, annotation_id, task.undo_judgements, task.undo_minutes, now)? {
                return Err(Error::Conflict(format!(
                    "this judgement can no longer be changed: a project's annotators may change their last {} judgements for {} minutes",
                    task.undo_judgements, task.undo_minutes
                )));
            }
            let flags = task_flags(&task, &input)?;
            let judged = judge(c, &task, &input)?;
            let time_ms = input.time_ms;
            let request = Request { task: &task, user_id, client_key: &client_key, hash: &hash, input: &input };
            hot::revise(c, annotation_id, &request.annotation(&judged, &flags, time_ms, false, now))?;
            let (_, _, receipt) =
                hot::by_uuid(c, &annotation_uuid)?.ok_or_else(|| Error::not_found("no such annotation"))?;
            Ok((with_judgement(c, receipt)?, true))
        })
        .await
}

/// A submission or edit being stored: whose, under which key, what.
struct Request<'a> {
    task: &'a hot::Assignment,
    user_id: i64,
    client_key: &'a str,
    hash: &'a str,
    input: &'a AnnotationInput,
}

impl<'a> Request<'a> {
    /// The row to store, with the checked ranking or rating and flags.
    fn annotation(
        &self,
        judged: &'a Judged,
        flags: &'a [String],
        time_ms: Option<i64>,
        late: bool,
        now: i64,
    ) -> hot::NewAnnotation<'a> {
        hot::NewAnnotation {
            assignment: self.task,
            annotator_id: self.user_id,
            client_key: self.client_key,
            request_hash: self.hash,
            choice_shown: self.input.choice,
            ranks: &judged.ranks,
            ratings: &judged.ratings,
            completion_flags: &judged.flags,
            both_bad: self.input.both_bad,
            flags,
            rationale: &self.input.rationale,
            time_ms,
            late,
            now,
        }
    }
}

/// A submission's ranking or rating in storage terms: completion ids.
#[derive(Default)]
struct Judged {
    ranks: Vec<(i64, i64)>,
    ratings: Vec<(i64, String, i64)>,
    /// (completion id, flag), each once.
    flags: Vec<(i64, String)>,
    /// The same as the receipt shows them (sorted, each once).
    receipt_flags: Option<Entries<Vec<String>>>,
}

/// Checks that the submission is the kind the task asks for and, for a
/// ranking or rating, that it covers every completion shown (and every
/// aspect) with values in range; any other entry is a 400 naming it.
fn judge(c: &mut dyn Conn, task: &hot::Assignment, input: &AnnotationInput) -> Result<Judged> {
    let kind = TaskType::parse(&task.task_type).unwrap_or_default();
    let kind = if task.pair_id.is_some() { TaskType::Pairwise } else { kind };
    let given =
        [("choice", input.choice.is_some()), ("ranks", input.ranks.is_some()), ("ratings", input.ratings.is_some())];
    let wanted = match kind {
        TaskType::Pairwise => "choice",
        TaskType::Ranking => "ranks",
        TaskType::Rating => "ratings",
    };
    if let Some((other, _)) = given.iter().find(|(f, g)| *g && *f != wanted) {
        return Err(Error::bad(format!("{other}: a {} task takes {wanted}, not {other}", kind.name())));
    }
    if !given.iter().any(|(f, g)| *g && *f == wanted) {
        return Err(Error::bad(format!("{wanted}: required for a {} task", kind.name())));
    }
    if kind == TaskType::Pairwise {
        if input.completion_flags.is_some() {
            return Err(Error::bad("completion_flags: only ranking and rating tasks flag single answers"));
        }
        return Ok(Judged::default());
    }
    let shown: Vec<(String, i64)> = hot::shown_completions(c, task.id)?
        .into_iter()
        .map(|(id, uuid)| (task_completion_id(&task.uuid, &uuid), id))
        .collect();
    let lookup = |field: &str, key: &str| {
        shown
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, id)| *id)
            .ok_or_else(|| Error::bad(format!("{field}: {key:?} is not a completion of this task")))
    };
    let missing = |field: &str, have: &dyn Fn(&str) -> bool| match shown.iter().find(|(k, _)| !have(k)) {
        Some((k, _)) => Err(Error::bad(format!("{field}: completion {k:?} is missing"))),
        None => Ok(()),
    };
    let mut judged = Judged::default();
    if let Some(Entries(ranks)) = &input.ranks {
        let k = shown.len() as i64;
        for (key, &rank) in ranks {
            let id = lookup("ranks", key)?;
            if !(1..=k).contains(&rank) {
                return Err(Error::bad(format!("ranks: {key:?} has rank {rank}; ranks go from 1 (best) to {k}")));
            }
            judged.ranks.push((id, rank));
        }
        missing("ranks", &|k| ranks.contains_key(k))?;
    }
    if let Some(Entries(ratings)) = &input.ratings {
        let aspects: Vec<String> = serde_json::from_str(&task.aspects).unwrap_or_default();
        let (min, max) = task.scale;
        for (key, Entries(values)) in ratings {
            let id = lookup("ratings", key)?;
            for (aspect, &v) in values {
                if !aspects.contains(aspect) {
                    return Err(Error::bad(format!(
                        "ratings: {key:?}: {aspect:?} is not an aspect of this project ({})",
                        aspects.join(", ")
                    )));
                }
                if !(min..=max).contains(&v) {
                    return Err(Error::bad(format!("ratings: {key:?}: {aspect} {v} is outside the scale {min}-{max}")));
                }
                judged.ratings.push((id, aspect.clone(), v));
            }
            if let Some(a) = aspects.iter().find(|a| !values.contains_key(*a)) {
                return Err(Error::bad(format!("ratings: {key:?}: aspect {a:?} is missing")));
            }
        }
        missing("ratings", &|k| ratings.contains_key(k))?;
    }
    if let Some(Entries(per)) = &input.completion_flags {
        let allowed: Vec<String> = serde_json::from_str(&task.project_flags).unwrap_or_default();
        let mut shown_flags = std::collections::BTreeMap::new();
        for (key, flags) in per {
            let id = lookup("completion_flags", key)?;
            let mut kept: Vec<String> = Vec::new();
            for f in flags {
                if !allowed.contains(f) {
                    return Err(Error::bad(format!(
                        "completion_flags: {key:?}: {f:?} is not one of this project's flags ({})",
                        allowed.join(", ")
                    )));
                }
                if !kept.contains(f) {
                    kept.push(f.clone());
                }
            }
            kept.sort();
            judged.flags.extend(kept.iter().map(|f| (id, f.clone())));
            if !kept.is_empty() {
                shown_flags.insert(key.clone(), kept);
            }
        }
        judged.receipt_flags = (!shown_flags.is_empty()).then_some(Entries(shown_flags));
    }
    Ok(judged)
}

/// Stored flags on single answers as the receipt's entries.
fn flag_entries(flags: Vec<(String, String)>) -> Option<Entries<Vec<String>>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (id, f) in flags {
        out.entry(id).or_default().push(f);
    }
    (!out.is_empty()).then_some(Entries(out))
}

/// A stored ranking or rating as the receipt's entries.
fn judgement_entries(
    ranks: Vec<(String, i64)>,
    ratings: Vec<(String, String, i64)>,
) -> (Option<Entries<i64>>, Option<Entries<Entries<i64>>>) {
    if !ranks.is_empty() {
        return (Some(Entries(ranks.into_iter().collect())), None);
    }
    let mut out: std::collections::BTreeMap<String, Entries<i64>> = Default::default();
    for (id, aspect, v) in ratings {
        out.entry(id).or_default().0.insert(aspect, v);
    }
    (None, (!out.is_empty()).then_some(Entries(out)))
}

fn check_input(input: &AnnotationInput) -> Result<()> {
    if input.rationale.chars().count() > MAX_RATIONALE {
        return Err(Error::bad(format!("rationale: at most {MAX_RATIONALE} characters")));
    }
    if input.rationale.contains('\0') {
        return Err(Error::bad(format!("rationale: {}", crate::domain::text::NUL_MESSAGE)));
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
    c: &mut dyn Conn,
    task_id: &str,
    user_id: i64,
    project_id: Option<i64>,
    client_key: Option<&str>,
) -> Result<hot::Assignment> {
    in_project(hot::find(c, task_id, user_id, client_key)?, |t| t, project_id)
}

/// What `find` found, as the caller's task: "no such task" when nothing was
/// found, or when the request names a project (`project_id`) the task is not in.
fn in_project<T>(found: Option<T>, task: impl Fn(&T) -> &hot::Assignment, project_id: Option<i64>) -> Result<T> {
    found.filter(|f| project_id.is_none_or(|p| p == task(f).project_id)).ok_or_else(|| Error::not_found("no such task"))
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
    if reason.is_some_and(|r| r.contains('\0')) {
        return Err(Error::bad(format!("reason: {}", crate::domain::text::NUL_MESSAGE)));
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    let (user_id, task_id, project_id) = (user.id, task_id.to_string(), project.map(|p| p.id));
    db.hot_as(user_id, move |c| {
        let task = find_task(c, &task_id, user_id, project_id, None)?;
        match task.state.as_str() {
            "skipped" => return Ok(()),
            "submitted" => return Err(Error::Conflict("this task has an annotation already".into())),
            _ => {}
        }
        hot::finish(c, &task, "skipped", reason.as_deref(), now_ms())
    })
    .await
}
