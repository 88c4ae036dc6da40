//! Streaming exports: rows go out in chunks as SQLite produces them.
use crate::domain::import::Message;
use crate::domain::trl;
use crate::domain::verdict::ExportSummary;
use crate::storage::projects::Project;
use crate::storage::{export, Db};
use crate::{Error, Result};
use futures::StreamExt;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Trl,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "trl" => Ok(Format::Trl),
            other => Err(Error::bad(format!("format: unknown format {other:?} (available: trl)"))),
        }
    }
    pub fn file_name(self, slug: &str) -> String {
        match self {
            Format::Trl => format!("{slug}-trl.jsonl"),
        }
    }
}

const CHUNK: usize = 64 * 1024;

/// Writes the export into `out` chunk by chunk and returns what it counted.
/// Stops early (and quietly) when the receiver goes away.
pub async fn run(
    db: &Db,
    actor: &str,
    project: &Project,
    format: Format,
    out: mpsc::Sender<Vec<u8>>,
) -> Result<ExportSummary> {
    crate::services::accounts::record(
        db,
        actor,
        "project.export",
        &project.slug,
        serde_json::json!({"format": format}),
    )
    .await?;
    let project_id = project.id;
    let mut summary = ExportSummary::default();
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    let mut rows = export::annotated_pairs(&db.read, project_id);
    while let Some(row) = rows.next().await {
        let row = row?;
        summary.count(&row.tally);
        let messages: Vec<Message> = serde_json::from_str(&row.messages).map_err(|e| {
            Error::Internal(anyhow::Error::new(e).context(format!("pair {}: stored messages", row.pair_uuid)))
        })?;
        let texts = trl::PairTexts { messages: &messages, is_chat: row.is_chat, a: &row.a, b: &row.b };
        let line = match format {
            Format::Trl => trl::row(&texts, row.tally.verdict()),
        };
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
