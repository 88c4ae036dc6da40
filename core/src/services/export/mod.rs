//! Streaming exports. `start` opens one read transaction (a snapshot:
//! writers go on), decides what the file will be (its form, refused early
//! when it cannot be written), answers with that plan, then streams rows out
//! in chunks as SQLite produces them and ends with the dataset card.
mod card;
mod encode;
mod judged;

pub use card::{card_markdown, hf_readme, Card, SplitFile};

use crate::domain::dataset::{
    self, columns, decide_annotation, decide_pair, in_test_split, pair_gate, Counts, FileType, Filters, Format, Keep,
    MarginMode, Outcome,
};
use crate::domain::form::{flatten, Form, FormChoice};
use crate::domain::import::Message;
use crate::domain::rows::{self, PairTexts};
use crate::domain::verdict::PairTally;
use crate::domain::{raw, reward, FieldError};
use crate::storage::conn::Conn;
use crate::storage::export::{self as store, Scope};
use crate::storage::projects::Project;
use crate::storage::{rfc3339, Db};
use crate::{Error, Result};
use encode::Encoder;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// An annotator as an export names them: a stable pseudonym per project
/// unless real names were asked for.
pub fn pseudonym(project_uuid: &str, annotator_uuid: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{project_uuid}\0{annotator_uuid}").as_bytes());
    format!("annotator-{}", hex::encode(&h[..4]))
}

/// The options as they arrive (CLI flags, API query parameters), all text.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsInput {
    pub format: Option<String>,
    #[serde(rename = "as")]
    pub as_: Option<String>,
    pub form: Option<String>,
    #[serde(default)]
    pub annotator_names: bool,
    pub min_annotations: Option<u32>,
    pub min_agreement: Option<f64>,
    pub ties: Option<String>,
    pub both_bad: Option<String>,
    pub flagged: Option<String>,
    /// Comma-separated usernames or pseudonyms: only their annotations count.
    pub annotators: Option<String>,
    /// Comma-separated usernames or pseudonyms whose annotations do not count.
    pub exclude_annotators: Option<String>,
    /// Leave out the annotators the dashboard flags (side bias, agreement,
    /// skips, gold accuracy).
    #[serde(default)]
    pub exclude_flagged_annotators: bool,
    /// RFC 3339 time or YYYY-MM-DD (UTC): annotations submitted at or after it.
    pub since: Option<String>,
    /// RFC 3339 time or YYYY-MM-DD (UTC): annotations submitted before it.
    pub until: Option<String>,
    pub margin: Option<String>,
}

/// What an admin asked for, parsed at the edge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Options {
    pub format: Format,
    #[serde(rename = "as")]
    pub as_: FileType,
    pub form: FormChoice,
    pub annotator_names: bool,
    pub filters: Filters,
    pub margin: MarginMode,
    pub annotators: Option<Vec<String>>,
    pub exclude_annotators: Vec<String>,
    pub exclude_flagged_annotators: bool,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Share of prompts in the test split (dataset folders).
    pub test_share: f64,
    #[serde(skip)]
    since_ms: Option<i64>,
    #[serde(skip)]
    until_ms: Option<i64>,
}

/// A comma-separated list of names; an empty one is no filter.
fn names(list: &Option<String>) -> Option<Vec<String>> {
    let v: Vec<String> = list.as_deref()?.split(',').map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).collect();
    (!v.is_empty()).then_some(v)
}

/// `2026-11-29` (midnight UTC) or an RFC 3339 time → ms since the epoch.
fn parse_time(field: &'static str, s: &str) -> std::result::Result<i64, FieldError> {
    use time::format_description::well_known::Rfc3339;
    let bad = || FieldError::new(field, format!("{s:?}: expected YYYY-MM-DD or an RFC 3339 time"));
    let t = match time::OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => t,
        Err(_) => {
            let date =
                time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| bad())?;
            date.midnight().assume_utc()
        }
    };
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

impl Options {
    /// Parses the input; `file_name` (the `-o` file) decides the file type
    /// when `as` is not given.
    pub fn parse(input: &OptionsInput, file_name: Option<&str>) -> Result<Options> {
        let format = Format::parse(input.format.as_deref().unwrap_or("trl"))?;
        let as_ = match (&input.as_, file_name.and_then(FileType::from_extension)) {
            (Some(s), _) => FileType::parse(s)?,
            (None, Some(t)) => t,
            (None, None) => FileType::Jsonl,
        };
        if !format.file_types().contains(&as_) {
            let ok: Vec<&str> = format.file_types().iter().map(|t| t.extension()).collect();
            return Err(
                FieldError::new("as", format!("{format} can be written as {}, not {as_}", ok.join(" or "))).into()
            );
        }
        let mut filters = Filters::defaults(format);
        if let Some(n) = input.min_annotations {
            filters.min_annotations = n;
        }
        if let Some(x) = input.min_agreement {
            if !(0.0..=1.0).contains(&x) {
                return Err(FieldError::new("min_agreement", format!("{x}: must be between 0 and 1")).into());
            }
            filters.min_agreement = x;
        }
        if let Some(s) = &input.ties {
            filters.ties = Keep::parse("ties", s)?;
        }
        if let Some(s) = &input.both_bad {
            filters.both_bad = Keep::parse("both_bad", s)?;
        }
        if let Some(s) = &input.flagged {
            filters.flagged = Keep::parse("flagged", s)?;
        }
        let since_ms = input.since.as_deref().map(|s| parse_time("since", s)).transpose()?;
        let until_ms = input.until.as_deref().map(|s| parse_time("until", s)).transpose()?;
        if let (Some(a), Some(b)) = (since_ms, until_ms) {
            if a >= b {
                return Err(FieldError::new("until", "must be later than since").into());
            }
        }
        Ok(Options {
            format,
            as_,
            form: input.form.as_deref().map(FormChoice::parse).transpose()?.unwrap_or_default(),
            annotator_names: input.annotator_names,
            filters,
            margin: input.margin.as_deref().map(MarginMode::parse).transpose()?.unwrap_or_default(),
            annotators: names(&input.annotators),
            exclude_annotators: names(&input.exclude_annotators).unwrap_or_default(),
            exclude_flagged_annotators: input.exclude_flagged_annotators,
            since: input.since.clone(),
            until: input.until.clone(),
            test_share: 0.0,
            since_ms,
            until_ms,
        })
    }

    /// `--split test=0.05`.
    pub fn with_split(mut self, split: &str) -> Result<Options> {
        let share = split
            .strip_prefix("test=")
            .and_then(|x| x.parse::<f64>().ok())
            .filter(|x| (0.0..1.0).contains(x))
            .ok_or_else(|| FieldError::new("split", format!("{split:?}: expected test=SHARE with 0 <= SHARE < 1")))?;
        self.test_share = share;
        Ok(self)
    }
}

/// What a response needs before its first byte.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub format: Format,
    #[serde(rename = "as")]
    pub as_: FileType,
    pub form: Form,
    pub form_reason: String,
    pub file_name: String,
}

impl Plan {
    pub fn content_type(&self) -> &'static str {
        self.as_.content_type()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Test,
}

/// A piece of the file (of the split's file, for dataset folders).
pub struct Chunk {
    pub split: Split,
    pub bytes: bytes::Bytes,
}

/// A running export: its plan, its bytes, and at the end its card (stored
/// with the project once every byte went out).
pub struct Export {
    pub plan: Plan,
    pub chunks: mpsc::Receiver<Chunk>,
    pub done: tokio::task::JoinHandle<Result<Card>>,
}

/// The annotators named in a filter, as ids; a name that matches no one
/// who annotated here is refused.
async fn resolve(db: &Db, project: &Project, list: &[String], field: &'static str) -> Result<Vec<i64>> {
    let all = store::annotators(&db.read, project.id).await?;
    list.iter()
        .map(|name| {
            all.iter()
                .find(|(_, uuid, username)| {
                    username.eq_ignore_ascii_case(name) || pseudonym(&project.uuid, uuid) == *name
                })
                .map(|(id, _, _)| *id)
                .ok_or_else(|| FieldError::new(field, format!("{name:?} has no annotations in this project")).into())
        })
        .collect()
}

pub async fn start(db: &Db, actor: &str, project: &Project, options: Options) -> Result<Export> {
    let scope = Scope {
        project_id: project.id,
        include: match &options.annotators {
            Some(list) => Some(resolve(db, project, list, "annotators").await?),
            None => None,
        },
        exclude: {
            let mut ids = resolve(db, project, &options.exclude_annotators, "exclude_annotators").await?;
            if options.exclude_flagged_annotators {
                let flagged = crate::services::dashboard::flagged(db, project).await?;
                ids.extend(resolve(db, project, &flagged, "exclude_flagged_annotators").await?);
            }
            ids
        },
        since: options.since_ms,
        until: options.until_ms,
    };
    crate::services::audit::record(
        db,
        actor,
        "project.export",
        &project.slug,
        serde_json::to_value(&options).unwrap_or_default(),
    )
    .await?;
    let (plan_tx, plan_rx) = oneshot::channel();
    let (tx, rx) = mpsc::channel::<Chunk>(8);
    let job = Job { db: db.clone(), actor: actor.to_owned(), project: project.clone(), options, scope };
    let done = tokio::spawn(async move {
        // Reading and encoding run on a thread of their own with a plain
        // SQLite connection; the card (agreement, storage) is async.
        let (job, plan, counts, files) = tokio::task::spawn_blocking(move || {
            let r = job.write(plan_tx, tx);
            r.map(|(plan, counts, files)| (job, plan, counts, files))
        })
        .await
        .map_err(|e| Error::Internal(e.into()))??;
        let card = card::build(&job.db, &job.project, &job.options, &plan, counts, files).await?;
        store::insert_card(&job.db.write, job.project.id, &job.actor, &serde_json::to_value(&card).unwrap_or_default())
            .await?;
        Ok(card)
    });
    match plan_rx.await {
        Ok(Ok(plan)) => Ok(Export { plan, chunks: rx, done }),
        Ok(Err(e)) => Err(e),
        // The job ended before planning: its own error says why.
        Err(_) => Err(done
            .await
            .map_err(|e| Error::Internal(e.into()))?
            .err()
            .unwrap_or_else(|| Error::Internal(anyhow::anyhow!("export ended early")))),
    }
}

struct Job {
    db: Db,
    actor: String,
    project: Project,
    options: Options,
    scope: Scope,
}

/// A page of rows from `read_ahead`. Dropped, it goes back to the reading
/// thread, which frees it: rows freed on the thread that allocated them
/// spare the allocator's cross-thread locking (with glibc, arena lock waits
/// were 15% of an export's CPU, and a Parquet export's memory grew with
/// the file).
struct Page<T: Send> {
    rows: Vec<T>,
    back: std::sync::mpsc::SyncSender<Vec<T>>,
}

impl<T: Send> std::ops::Deref for Page<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.rows
    }
}

impl<T: Send> Drop for Page<T> {
    fn drop(&mut self) {
        // If the reader is gone or behind, the page is freed here instead.
        let _ = self.back.try_send(std::mem::take(&mut self.rows));
    }
}

/// Pages read on a thread of their own, two ahead of the consumer; `next`
/// reads the page after a key and says the last key in it. Stops when the
/// consumer stops asking.
fn read_ahead<'scope, T: Send + 'scope>(
    s: &'scope std::thread::Scope<'scope, '_>,
    mut conn: store::Snapshot,
    mut next: impl FnMut(&mut dyn Conn, i64) -> Result<(Vec<T>, Option<i64>)> + Send + 'scope,
) -> impl Iterator<Item = Result<Page<T>>> + 'scope {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<T>>>(2);
    let (back, returned) = std::sync::mpsc::sync_channel::<Vec<T>>(4);
    s.spawn(move || {
        let mut after = 0;
        loop {
            // Free the pages the consumer is done with, here.
            while let Ok(page) = returned.try_recv() {
                drop(page);
            }
            match next(&mut conn, after) {
                Ok((page, Some(last))) => {
                    after = last;
                    if tx.send(Ok(page)).is_err() {
                        return;
                    }
                }
                Ok((_, None)) => return,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    rx.into_iter().map(move |page| page.map(|rows| Page { rows, back: back.clone() }))
}

/// Pages of id ranges (`store::page_ranges`), read on a thread per snapshot
/// (dealt out in turn: reader `t` reads ranges `t`, `t + n`, …), each
/// reader two pages ahead of the consumer, which gets them in range order.
/// With two PostgreSQL connections the database works on the next pages
/// while this process converts and encodes the current ones.
fn read_ranges<'scope, T: Send + 'scope>(
    s: &'scope std::thread::Scope<'scope, '_>,
    readers: Vec<store::Snapshot>,
    ranges: Vec<(i64, i64)>,
    read: impl Fn(&mut dyn Conn, (i64, i64)) -> Result<Vec<T>> + Send + Copy + 'scope,
) -> impl Iterator<Item = Result<Page<T>>> + 'scope {
    let n = readers.len();
    let mut feeds = Vec::with_capacity(n);
    let ranges = std::sync::Arc::new(ranges);
    for (t, mut conn) in readers.into_iter().enumerate() {
        let ranges = ranges.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<T>>>(2);
        let (back, returned) = std::sync::mpsc::sync_channel::<Vec<T>>(4);
        s.spawn(move || {
            for &range in ranges.iter().skip(t).step_by(n) {
                // Free the pages the consumer is done with, here.
                while let Ok(page) = returned.try_recv() {
                    drop(page);
                }
                let page = read(&mut conn, range);
                let failed = page.is_err();
                if tx.send(page).is_err() || failed {
                    return;
                }
            }
        });
        feeds.push((rx, back));
    }
    // A reader that is done closes its channel: the range after the last.
    (0..).map_while(move |i| {
        let (rx, back) = &feeds[i % n];
        rx.recv().ok().map(|page| page.map(|rows| Page { rows, back: back.clone() }))
    })
}

/// A conversation that no longer flattens: the data changed after the
/// plan checked it (the snapshot makes this a bug, not a user error).
fn changed(e: crate::domain::form::NotFlattenable) -> Error {
    Error::Internal(anyhow::Error::new(e).context("a conversation changed since the plan"))
}

fn parse_messages(json: &str) -> Result<Vec<Message>> {
    serde_json::from_str(json).map_err(|e| Error::Internal(anyhow::Error::new(e).context("stored messages")))
}

fn prompt_key(uuid: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    uuid.hash(&mut h);
    h.finish()
}

/// The two outputs of an export (one unless it splits).
struct Outputs {
    train: Encoder,
    test: Option<Encoder>,
    tx: mpsc::Sender<Chunk>,
}

impl Outputs {
    /// The split of a prompt's rows (by its id), when the export splits.
    fn split_of(&self, prompt: &str, test_share: f64) -> Split {
        if self.test.is_some() && in_test_split(prompt, test_share) {
            Split::Test
        } else {
            Split::Train
        }
    }

    fn pick(&mut self, split: Split) -> &mut Encoder {
        match (split, self.test.as_mut()) {
            (Split::Test, Some(t)) => t,
            _ => &mut self.train,
        }
    }

    /// Sends what is ready; false when the receiver went away.
    fn flush(&mut self, split: Split) -> bool {
        if let Some(bytes) = self.pick(split).ready() {
            return self.tx.blocking_send(Chunk { split, bytes }).is_ok();
        }
        true
    }
}

impl Job {
    /// Writes the whole file (on a blocking thread): the plan first, then
    /// the rows, then each file's last bytes.
    fn write(
        &self,
        plan_tx: oneshot::Sender<Result<Plan>>,
        tx: mpsc::Sender<Chunk>,
    ) -> Result<(Plan, Counts, Vec<SplitFile>)> {
        let mut snapshot = store::Snapshot::open(&self.db)?;
        let plan = match self.plan(&mut snapshot) {
            Ok(plan) => plan,
            Err(e) => {
                let _ = plan_tx.send(Err(e));
                return Err(Error::Internal(anyhow::anyhow!("export refused")));
            }
        };
        let _ = plan_tx.send(Ok(plan.clone()));
        let cols = columns(self.options.format, plan.form, self.options.margin);
        let mut out = Outputs {
            train: Encoder::new(self.options.as_, &cols)?,
            test: if self.options.test_share > 0.0 { Some(Encoder::new(self.options.as_, &cols)?) } else { None },
            tx,
        };
        let (in_scope, total, annotators) = store::scope_counts(&mut snapshot, &self.scope)?;
        let mut counts = Counts {
            annotations: in_scope as u64,
            annotations_out_of_scope: (total - in_scope) as u64,
            annotators: annotators as u64,
            ..Counts::default()
        };
        // The next pages are read on other threads while this one encodes.
        let with_texts = !self.options.format.per_annotation() || self.options.format == Format::Arena;
        let per_prompt = self.project.task_type.per_prompt();
        let scales = if per_prompt { store::rating_scales(&mut snapshot, &self.scope)? } else { Default::default() };
        // Pair and annotation pages go by id ranges, on two connections where
        // the database is a server of its own.
        let ranges = if per_prompt || self.options.format.per_completion() {
            Vec::new()
        } else {
            store::page_ranges(&mut snapshot, &self.scope, !self.options.format.per_annotation(), store::PAGE)?
        };
        let twin = if ranges.len() > 1 { snapshot.twin(&self.db)? } else { None };
        let completed = std::thread::scope(|s| {
            let scope = &self.scope;
            if per_prompt {
                let pages = read_ahead(s, snapshot, move |c, after| store::prompt_judgements_page(c, scope, after));
                self.judged_rows(pages, &scales, &plan, &mut out, &mut counts)
            } else if self.options.format.per_annotation() {
                let readers = std::iter::once(snapshot).chain(twin).collect();
                let pages = read_ranges(s, readers, ranges, move |c, range| {
                    store::annotations_page(c, scope, with_texts, range)
                });
                self.annotation_rows(pages, &mut out, &mut counts)
            } else if self.options.format.per_completion() {
                let pages = read_ahead(s, snapshot, move |c, after| store::prompt_votes_page(c, scope, after));
                self.reward_rows(pages, &plan, &mut out, &mut counts)
            } else {
                let readers = std::iter::once(snapshot).chain(twin).collect();
                let pages =
                    read_ranges(s, readers, ranges, move |c, range| store::pairs_page(c, scope, with_texts, range));
                self.pair_rows(pages, &plan, &mut out, &mut counts)
            }
        })?;
        if !completed {
            return Err(Error::Internal(anyhow::anyhow!("the receiver went away")));
        }
        let mut files = Vec::new();
        let Outputs { train, test, tx } = out;
        for (split, enc) in [(Split::Train, Some(train)), (Split::Test, test)] {
            let Some(enc) = enc else { continue };
            let (bytes, done) = enc.finish()?;
            if tx.blocking_send(Chunk { split, bytes }).is_err() {
                return Err(Error::Internal(anyhow::anyhow!("the receiver went away")));
            }
            files.push(SplitFile { split, rows: done.rows, bytes: done.bytes, sha256: done.sha256 });
        }
        Ok((plan, counts, files))
    }

    /// Decides the form from the rows that will be written: `auto` is
    /// conversational as soon as one of their prompts is a conversation. A
    /// text form needs every conversation to flatten reversibly; one that
    /// does not is refused here, before anything is written.
    fn plan(&self, conn: &mut dyn Conn) -> Result<Plan> {
        let o = &self.options;
        let file_name = o.format.file_name(&self.project.slug, o.as_);
        let plan = |form, form_reason: &str| Plan {
            format: o.format,
            as_: o.as_,
            form,
            form_reason: form_reason.into(),
            file_name: file_name.clone(),
        };
        match o.format {
            Format::Trl | Format::TrlImplicit | Format::HhRlhf | Format::Rewards => {}
            Format::OpenaiDpo | Format::Arena => {
                return Ok(plan(Form::Conversational, "the format holds message lists"))
            }
            Format::Raw | Format::Pairs => return Ok(plan(Form::Standard, "the format has no prompt column")),
        }
        // No conversation anywhere: nothing to decide or to check row by row.
        if !store::has_conversations(conn, self.project.id)? {
            return Ok(match (o.format, o.form) {
                (Format::Trl | Format::TrlImplicit | Format::Rewards, FormChoice::Conversational) => {
                    plan(Form::Conversational, "asked for conversational")
                }
                (Format::HhRlhf, _) => plan(Form::Standard, "HH-RLHF is text"),
                (_, FormChoice::Standard) => plan(Form::Standard, "asked for standard"),
                _ => plan(Form::Standard, "auto: no prompt of this project is a conversation"),
            });
        }
        if o.form == FormChoice::Conversational && o.format != Format::HhRlhf {
            return Ok(plan(Form::Conversational, "asked for conversational"));
        }
        let mut prompts = HashSet::new();
        let mut conversations = HashSet::new();
        let mut unflattenable: Option<(String, String)> = None;
        let mut after = 0;
        // Ranking and rating projects: every judged prompt (a superset of
        // those written).
        while self.project.task_type.per_prompt() {
            let (page, last) = store::prompt_judgements_page(conn, &self.scope, after)?;
            let Some(last) = last else { break };
            after = last;
            for p in page {
                let key = prompt_key(&p.prompt_uuid);
                prompts.insert(key);
                if p.is_chat && conversations.insert(key) && unflattenable.is_none() {
                    if let Err(e) = flatten(&parse_messages(&p.messages)?) {
                        unflattenable = Some((p.label().to_owned(), e.to_string()));
                    }
                }
            }
        }
        let ranges = if self.project.task_type.per_prompt() {
            Vec::new()
        } else {
            store::page_ranges(conn, &self.scope, true, store::PAGE)?
        };
        for range in ranges {
            for row in store::pairs_page(conn, &self.scope, false, range)? {
                // `rewards` keeps or drops vote by vote: its form is decided
                // over every annotated prompt (a superset of those written).
                if o.format != Format::Rewards && decide_pair(&row.tally, &o.filters, o.format, o.margin).is_err() {
                    continue;
                }
                let key = prompt_key(&row.prompt_uuid);
                prompts.insert(key);
                let Some(messages) = &row.messages else { continue };
                if conversations.insert(key) && unflattenable.is_none() {
                    if let Err(e) = flatten(&parse_messages(messages)?) {
                        unflattenable = Some((row.label().to_owned(), e.to_string()));
                    }
                }
            }
        }
        let (form, reason) = if o.format == Format::HhRlhf {
            (Form::Standard, "HH-RLHF is text".to_owned())
        } else {
            o.form.decide(prompts.len() as u64, conversations.len() as u64)
        };
        if form == Form::Standard {
            if let Some((label, e)) = unflattenable {
                return Err(FieldError::new("form", format!("prompt {label:?}: {e}")).into());
            }
        }
        Ok(plan(form, &reason))
    }

    fn pair_rows(
        &self,
        pages: impl Iterator<Item = Result<Page<store::PairRow>>>,
        plan: &Plan,
        out: &mut Outputs,
        counts: &mut Counts,
    ) -> Result<bool> {
        let o = &self.options;
        for page in pages {
            for row in page?.iter() {
                let tally = row.tally;
                let outcome = match decide_pair(&tally, &o.filters, o.format, o.margin) {
                    Ok(outcome) => outcome,
                    Err(reason) => {
                        counts.drop(reason);
                        continue;
                    }
                };
                let messages = parse_messages(row.messages.as_deref().unwrap_or("[]"))?;
                let texts = PairTexts {
                    messages: &messages,
                    is_chat: row.is_chat,
                    a: row.a.as_deref().unwrap_or_default(),
                    b: row.b.as_deref().unwrap_or_default(),
                };
                let split = out.split_of(row.external_id.as_deref().unwrap_or(&row.prompt_uuid), o.test_share);
                let record = rows::PairRecord {
                    pair_id: &row.pair_uuid,
                    prompt_id: &row.prompt_uuid,
                    external_id: row.external_id.as_deref(),
                    model_a: &row.model_a,
                    model_b: &row.model_b,
                    tally: &tally,
                    prior: row.prior,
                };
                push_pair_row(out.pick(split), o.format, plan.form, &texts, outcome, row.source.as_deref(), &record)?;
                counts.rows += 1;
                counts.adjudicated += u64::from(tally.adjudicated.is_some());
                let sign = match outcome {
                    Outcome::Chosen { winner: crate::domain::verdict::Winner::A, .. } => 1,
                    Outcome::Chosen { .. } => -1,
                    Outcome::Tie { .. } => 0,
                    Outcome::BothBad => tally.sum_choice().signum(),
                };
                counts.record(&row.model_a, &row.model_b, sign);
                if !out.flush(split) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// `rewards`: per prompt, a Bradley–Terry fit over the votes on its
    /// pairs that pass the filters (the pair-level ones on each pair's
    /// votes, the others vote by vote, as for `raw`); one row per completion
    /// that took part in a kept vote. Dropped votes are counted by reason.
    fn reward_rows(
        &self,
        pages: impl Iterator<Item = Result<Page<store::PromptVotes>>>,
        plan: &Plan,
        out: &mut Outputs,
        counts: &mut Counts,
    ) -> Result<bool> {
        let o = &self.options;
        for page in pages {
            for p in page?.iter() {
                let mut tallies: std::collections::HashMap<i64, PairTally> = std::collections::HashMap::new();
                for v in &p.votes {
                    let t = tallies.entry(v.pair_id).or_default();
                    t.counts[(v.choice.clamp(-3, 3) + 3) as usize] += 1;
                    t.both_bad += i64::from(v.both_bad);
                    t.flagged += i64::from(v.flagged);
                }
                let position: std::collections::HashMap<i64, usize> =
                    p.completions.iter().enumerate().map(|(i, c)| (c.0, i)).collect();
                // Completions that took part in a kept vote, numbered in import order.
                let mut kept: Vec<(usize, usize, i64)> = Vec::new();
                for v in &p.votes {
                    let decided = pair_gate(&tallies[&v.pair_id], &o.filters)
                        .and_then(|()| decide_annotation(v.choice, v.both_bad, v.flagged, &o.filters));
                    if let Err(reason) = decided {
                        counts.drop(reason);
                        continue;
                    }
                    if let (Some(&a), Some(&b)) = (position.get(&v.a), position.get(&v.b)) {
                        kept.push((a, b, v.choice));
                        let (ma, mb) = (&p.completions[a].1, &p.completions[b].1);
                        counts.record(ma, mb, if v.both_bad { 0 } else { v.choice });
                    }
                }
                if kept.is_empty() {
                    continue;
                }
                let mut judged: Vec<usize> = kept.iter().flat_map(|&(a, b, _)| [a, b]).collect();
                judged.sort_unstable();
                judged.dedup();
                let slot = |c: usize| judged.binary_search(&c).unwrap_or_default();
                let comparisons: Vec<reward::Comparison> =
                    kept.iter().map(|&(a, b, choice)| reward::from_vote(slot(a), slot(b), choice)).collect();
                let mut n = vec![0i64; judged.len()];
                for &(a, b, _) in &kept {
                    n[slot(a)] += 1;
                    n[slot(b)] += 1;
                }
                let fit = reward::bradley_terry(judged.len(), &comparisons);
                let messages = parse_messages(&p.messages)?;
                let split = out.split_of(p.external_id.as_deref().unwrap_or(&p.prompt_uuid), o.test_share);
                let rows: Vec<(&str, &str, reward::Reward, i64)> = judged
                    .iter()
                    .enumerate()
                    .map(|(s, &c)| (p.completions[c].2.as_str(), p.completions[c].1.as_str(), fit[s], n[s]))
                    .collect();
                if !push_rewards(out, split, plan.form, &messages, p.is_chat, &rows, counts)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn annotation_rows(
        &self,
        pages: impl Iterator<Item = Result<Page<store::AnnotationRow>>>,
        out: &mut Outputs,
        counts: &mut Counts,
    ) -> Result<bool> {
        let o = &self.options;
        for page in pages {
            for r in page?.iter() {
                let flags: Vec<String> = serde_json::from_str(&r.flags).unwrap_or_default();
                let kept = pair_gate(&r.tally, &o.filters)
                    .and_then(|()| decide_annotation(r.choice, r.both_bad_vote, !flags.is_empty(), &o.filters));
                if let Err(reason) = kept {
                    counts.drop(reason);
                    continue;
                }
                let annotator = if o.annotator_names {
                    r.annotator_name.clone()
                } else {
                    pseudonym(&self.project.uuid, &r.annotator_uuid)
                };
                let split = out.split_of(r.external_id.as_deref().unwrap_or(&r.prompt_uuid), o.test_share);
                let row = if o.format == Format::Arena {
                    let messages = parse_messages(r.messages.as_deref().unwrap_or("[]"))?;
                    let texts = PairTexts {
                        messages: &messages,
                        is_chat: r.is_chat,
                        a: r.a.as_deref().unwrap_or_default(),
                        b: r.b.as_deref().unwrap_or_default(),
                    };
                    rows::arena(
                        &texts,
                        &rows::Battle {
                            question_id: r.external_id.as_deref().unwrap_or(&r.prompt_uuid),
                            model_a: &r.model_a,
                            model_b: &r.model_b,
                            choice: r.choice,
                            both_bad: r.both_bad_vote,
                            judge: &annotator,
                            tstamp_ms: r.submitted_at,
                        },
                    )
                } else {
                    // The versions edits replaced come first, each a row of its own.
                    for (version, at, body) in &r.revisions {
                        let old: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                        let int = |k: &str| old[k].as_i64().unwrap_or_default();
                        let row = raw::row(&raw::RawRow {
                            annotation_id: &r.annotation_uuid,
                            pair_id: &r.pair_uuid,
                            prompt_id: &r.prompt_uuid,
                            external_id: r.external_id.as_deref(),
                            completion_a_id: &r.completion_a_uuid,
                            completion_b_id: &r.completion_b_uuid,
                            model_a: &r.model_a,
                            model_b: &r.model_b,
                            annotator: &annotator,
                            choice_shown: int("choice_shown"),
                            choice: int("choice"),
                            swapped: r.swapped,
                            both_bad: old["both_bad"].as_bool().unwrap_or_default(),
                            flags: serde_json::from_value(old["flags"].clone()).unwrap_or_default(),
                            rationale: old["rationale"].as_str().unwrap_or_default(),
                            time_ms: old["time_ms"].as_i64(),
                            leased_at: rfc3339(r.leased_at),
                            submitted_at: rfc3339(*at),
                            late: r.late,
                            meta: r.meta.as_deref(),
                            version: *version,
                            latest: false,
                        });
                        out.pick(split).push(&row)?;
                        counts.rows += 1;
                    }
                    raw::row(&raw::RawRow {
                        annotation_id: &r.annotation_uuid,
                        pair_id: &r.pair_uuid,
                        prompt_id: &r.prompt_uuid,
                        external_id: r.external_id.as_deref(),
                        completion_a_id: &r.completion_a_uuid,
                        completion_b_id: &r.completion_b_uuid,
                        model_a: &r.model_a,
                        model_b: &r.model_b,
                        annotator: &annotator,
                        choice_shown: r.choice_shown,
                        choice: r.choice,
                        swapped: r.swapped,
                        both_bad: r.both_bad_vote,
                        flags,
                        rationale: &r.rationale,
                        time_ms: r.time_ms,
                        leased_at: rfc3339(r.leased_at),
                        submitted_at: rfc3339(r.submitted_at),
                        late: r.late,
                        meta: r.meta.as_deref(),
                        version: r.version,
                        latest: true,
                    })
                };
                out.pick(split).push(&row)?;
                counts.rows += 1;
                counts.record(&r.model_a, &r.model_b, if r.both_bad_vote { 0 } else { r.choice.signum() });
                if !out.flush(split) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// The `rewards` rows of one prompt: (text, model, reward, votes) of each
/// judged completion, ranked within the prompt. `false`: the receiver went away.
fn push_rewards(
    out: &mut Outputs,
    split: Split,
    form: Form,
    messages: &[Message],
    is_chat: bool,
    judged: &[(&str, &str, reward::Reward, i64)],
    counts: &mut Counts,
) -> Result<bool> {
    let fit: Vec<reward::Reward> = judged.iter().map(|j| j.2).collect();
    for (&(completion, model, reward, n), rank) in judged.iter().zip(reward::ranks(&fit)) {
        let record = rows::RewardRecord { messages, is_chat, completion, model, reward, n, rank };
        out.pick(split).push(&rows::reward(&record, form).map_err(changed)?)?;
        counts.rows += 1;
        if !out.flush(split) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One row of a pair-level format (`trl`, `trl-implicit`, `openai-dpo`,
/// `hh-rlhf`, `pairs`): the same for every task type.
fn push_pair_row(
    enc: &mut Encoder,
    format: Format,
    form: Form,
    texts: &PairTexts<'_>,
    outcome: Outcome,
    source: Option<&str>,
    record: &rows::PairRecord<'_>,
) -> Result<()> {
    match format {
        Format::Trl => enc.push(&rows::trl(texts, outcome, form).map_err(changed)?),
        Format::TrlImplicit => enc.push(&rows::trl_implicit(texts, outcome, form).map_err(changed)?),
        Format::OpenaiDpo => enc.push(&rows::openai_dpo(texts, outcome)),
        Format::HhRlhf => enc.push_line(&rows::hh_rlhf(texts, outcome, source).map_err(changed)?),
        Format::Pairs => enc.push(&rows::pairs(record, outcome)),
        Format::Arena | Format::Raw | Format::Rewards => unreachable!("per-annotation and per-completion formats"),
    }
}

/// The latest export cards of a project, newest first.
pub async fn cards(db: &Db, reader: &crate::storage::users::User, project: &Project) -> Result<Vec<serde_json::Value>> {
    crate::services::auth::require_admin(reader)?;
    Ok(store::cards(&db.read, project.id, 20).await?)
}

pub use dataset::DropReason;
