//! Streaming exports: the form of the file is decided first (one schema
//! per file), then rows go out in chunks as SQLite produces them.
use crate::domain::form::{flatten, Form, FormChoice};
use crate::domain::import::Message;
use crate::domain::{raw, trl};
use crate::domain::verdict::{ExportSummary, Verdict};
use crate::storage::projects::Project;
use crate::storage::{export, rfc3339, Db};
use crate::{Error, Result};
use futures::StreamExt;
use std::collections::HashSet;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// TRL preference rows, one per labelled pair.
    Trl,
    /// One row per annotation with everything about it.
    Raw,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "trl" => Ok(Format::Trl),
            "raw" => Ok(Format::Raw),
            other => Err(Error::bad(format!("format: unknown format {other:?} (available: trl, raw)"))),
        }
    }
    pub fn file_name(self, slug: &str) -> String {
        match self {
            Format::Trl => format!("{slug}-trl.jsonl"),
            Format::Raw => format!("{slug}-raw.jsonl"),
        }
    }
}

/// An annotator as an export names them: a stable pseudonym per project
/// unless real names were asked for.
pub fn pseudonym(project_uuid: &str, annotator_uuid: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{project_uuid}\0{annotator_uuid}").as_bytes());
    format!("annotator-{}", hex::encode(&h[..4]))
}

/// What an admin asked for, parsed at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub format: Format,
    pub form: FormChoice,
    /// Real usernames instead of pseudonyms (raw export).
    pub annotator_names: bool,
}

impl Options {
    pub fn parse(format: Option<&str>, form: Option<&str>) -> Result<Options> {
        Ok(Options {
            format: Format::parse(format.unwrap_or("trl"))?,
            form: form.map(FormChoice::parse).transpose()?.unwrap_or_default(),
            annotator_names: false,
        })
    }
}

/// An export about to be written: everything a response needs before its
/// first byte (the form, and why).
#[derive(Debug, Clone)]
pub struct Plan {
    pub project: Project,
    pub format: Format,
    pub form: Form,
    pub form_reason: String,
    pub annotator_names: bool,
}

/// Decides the file's form from the rows that will be written: `auto` is
/// conversational as soon as one of their prompts is a conversation. In the
/// standard form every conversation must flatten reversibly; one that does
/// not is refused here, before anything is written.
pub async fn plan(db: &Db, project: &Project, options: Options) -> Result<Plan> {
    if options.format == Format::Raw {
        return Ok(Plan {
            project: project.clone(),
            format: options.format,
            form: Form::Standard,
            form_reason: "raw rows have no prompt column".into(),
            annotator_names: options.annotator_names,
        });
    }
    let mut prompts = HashSet::new();
    let mut conversations: Vec<(i64, String, String)> = Vec::new();
    let mut seen_chat = HashSet::new();
    let mut rows = export::pair_kinds(&db.read, project.id);
    while let Some(row) = rows.next().await {
        let row = row?;
        if !matches!(row.tally.verdict(), Verdict::Chosen { .. }) {
            continue;
        }
        prompts.insert(row.prompt_id);
        if let Some(messages) = row.chat_messages {
            if seen_chat.insert(row.prompt_id) {
                conversations.push((row.prompt_id, row.prompt_label, messages));
            }
        }
    }
    let (form, form_reason) = options.form.decide(prompts.len() as u64, conversations.len() as u64);
    if form == Form::Standard {
        for (_, label, messages) in &conversations {
            let messages: Vec<Message> = serde_json::from_str(messages).map_err(|e| Error::Internal(e.into()))?;
            if let Err(e) = flatten(&messages) {
                return Err(Error::bad(format!("form: prompt {label:?}: {e}")));
            }
        }
    }
    Ok(Plan { project: project.clone(), format: options.format, form, form_reason, annotator_names: options.annotator_names })
}

const CHUNK: usize = 64 * 1024;

/// Writes the export into `out` chunk by chunk and returns what it counted.
/// Stops early (and quietly) when the receiver goes away.
pub async fn run(db: &Db, actor: &str, plan: &Plan, out: mpsc::Sender<Vec<u8>>) -> Result<ExportSummary> {
    let project = &plan.project;
    crate::services::audit::record(
        db,
        actor,
        "project.export",
        &project.slug,
        serde_json::json!({"format": plan.format, "form": plan.form, "annotator_names": plan.annotator_names}),
    )
    .await?;
    if plan.format == Format::Raw {
        return run_raw(db, plan, out).await;
    }
    let mut summary = ExportSummary::default();
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    let mut rows = export::annotated_pairs(&db.read, project.id);
    while let Some(row) = rows.next().await {
        let row = row?;
        summary.count(&row.tally);
        let messages: Vec<Message> = serde_json::from_str(&row.messages).map_err(|e| {
            Error::Internal(anyhow::Error::new(e).context(format!("pair {}: stored messages", row.pair_uuid)))
        })?;
        let texts = trl::PairTexts { messages: &messages, is_chat: row.is_chat, a: &row.a, b: &row.b };
        let line = trl::row(&texts, row.tally.verdict(), plan.form)
        .map_err(|e| Error::Internal(anyhow::Error::new(e).context("a conversation changed since the plan")))?;
        if let Some(line) = line {
            serde_json::to_writer(&mut buf, &line).map_err(|e| Error::Internal(e.into()))?;
            buf.push(b'\n');
        }
        if buf.len() >= CHUNK && out.send(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 4096))).await.is_err()
        {
            return Ok(summary);
        }
    }
    if !buf.is_empty() {
        let _ = out.send(buf).await;
    }
    Ok(summary)
}

/// The raw export: every annotation, in the order stored.
async fn run_raw(db: &Db, plan: &Plan, out: mpsc::Sender<Vec<u8>>) -> Result<ExportSummary> {
    let mut summary = ExportSummary::default();
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    let mut rows = export::annotations(&db.read, plan.project.id);
    while let Some(r) = rows.next().await {
        let r = r?;
        let annotator = if plan.annotator_names {
            r.annotator_name.clone()
        } else {
            pseudonym(&plan.project.uuid, &r.annotator_uuid)
        };
        let line = raw::row(&raw::RawRow {
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
            both_bad: r.both_bad,
            flags: serde_json::from_str(&r.flags).unwrap_or_default(),
            rationale: &r.rationale,
            time_ms: r.time_ms,
            leased_at: rfc3339(r.leased_at),
            submitted_at: rfc3339(r.submitted_at),
            late: r.late,
            meta: r.meta.as_deref(),
        });
        serde_json::to_writer(&mut buf, &line).map_err(|e| Error::Internal(e.into()))?;
        buf.push(b'\n');
        summary.annotations += 1;
        summary.written += 1;
        if buf.len() >= CHUNK && out.send(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 4096))).await.is_err()
        {
            return Ok(summary);
        }
    }
    if !buf.is_empty() {
        let _ = out.send(buf).await;
    }
    Ok(summary)
}
