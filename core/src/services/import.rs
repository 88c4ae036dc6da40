//! JSONL import: parse every line first, then write all of it in one
//! transaction, or nothing when any line is bad.
use crate::domain::import::{parse_line, ImportItem, LineError, Prepared, MAX_LINE_BYTES};
use crate::storage::projects::Project;
use crate::storage::prompts::{self, Added};
use crate::storage::{imports, Db};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// At most this many bad lines are listed; the count covers them all.
const MAX_LISTED_ERRORS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub import_id: String,
    pub ok: bool,
    pub lines: u64,
    pub added: Added,
    pub error_count: u64,
    pub errors: Vec<LineError>,
}

/// Renders a parsed line's markdown (on the blocking pool, with the
/// parsing), so no request ever renders a stored text again.
fn prepare(item: ImportItem) -> Prepared {
    let messages_html = item.messages.iter().map(|m| crate::render::markdown(&m.content)).collect();
    let completions_html = item.completions.iter().map(|c| crate::render::markdown(&c.text)).collect();
    Prepared { item, messages_html, completions_html }
}

fn parse_all(data: &[u8]) -> (u64, Vec<ImportItem>, Vec<LineError>, u64) {
    let mut items = Vec::new();
    let mut errors = Vec::new();
    let mut error_count = 0u64;
    let mut lines = 0u64;
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line_no = i as u64 + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        lines += 1;
        if raw.len() > MAX_LINE_BYTES {
            error_count += 1;
            if errors.len() < MAX_LISTED_ERRORS {
                errors.push(LineError {
                    line: line_no,
                    field: None,
                    message: format!("line is {} bytes; at most {MAX_LINE_BYTES} are allowed", raw.len()),
                });
            }
            continue;
        }
        let parsed = std::str::from_utf8(raw)
            .map_err(|_| LineError { line: line_no, field: None, message: "not valid UTF-8".into() })
            .and_then(|text| parse_line(line_no, text));
        match parsed {
            Ok(item) => items.push(item),
            Err(e) => {
                error_count += 1;
                if errors.len() < MAX_LISTED_ERRORS {
                    errors.push(e);
                }
            }
        }
    }
    if lines == 0 {
        error_count = 1;
        errors.push(LineError { line: 0, field: None, message: "the file has no JSON lines".into() });
    }
    (lines, items, errors, error_count)
}

/// Imports a JSONL file into a project. Bad lines make the whole import fail
/// (the report lists them); the attempt is recorded either way.
pub async fn import_jsonl(
    db: &Db,
    project: &Project,
    actor: Option<&crate::storage::users::User>,
    filename: &str,
    data: Vec<u8>,
) -> Result<ImportReport> {
    let (lines, items, errors, error_count) = tokio::task::spawn_blocking(move || {
        let (lines, items, errors, error_count) = parse_all(&data);
        // Rendering is only worth it when the import will go ahead.
        let items: Vec<Prepared> = if error_count == 0 { items.into_iter().map(prepare).collect() } else { Vec::new() };
        (lines, items, errors, error_count)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?;

    let mut added = Added::default();
    let ok = error_count == 0;
    let mut tx = db.begin_write().await?;
    if ok {
        let mut spread = prompts::model_pair_counts(&mut tx, project.id).await?;
        for item in &items {
            let a = prompts::add_item(&mut tx, project.id, item, &mut spread).await?;
            added.prompts += a.prompts;
            added.prompts_existing += a.prompts_existing;
            added.completions += a.completions;
            added.pairs += a.pairs;
        }
    }
    let mut report = ImportReport { import_id: String::new(), ok, lines, added, error_count, errors };
    let json = serde_json::to_value(&report).map_err(|e| Error::Internal(e.into()))?;
    report.import_id = imports::record(&mut *tx, project.id, actor.map(|a| a.id), filename, ok, &json).await?;
    let who = actor.map(|a| a.username.as_str()).unwrap_or("cli");
    let detail = serde_json::json!({"file": filename, "ok": ok, "lines": lines, "pairs_added": added.pairs, "bad_lines": error_count});
    crate::storage::audit::record(&mut *tx, who, "project.import", &project.slug, &detail).await?;
    tx.commit().await?;
    tracing::info!(project = %project.slug, filename, ok, lines, pairs = added.pairs, "import");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::parse_all;

    #[test]
    fn blank_lines_are_skipped_but_numbering_follows_the_file() {
        let good = r#"{"prompt":"q","completions":[{"model":"a","text":"x"},{"model":"b","text":"y"}]}"#;
        let data = format!("{good}\n\n{{bad\r\n{good}\n");
        let (lines, items, errors, count) = parse_all(data.as_bytes());
        assert_eq!((lines, items.len(), count), (3, 2, 1));
        assert_eq!(errors[0].line, 3);
    }

    #[test]
    fn an_overlong_line_is_reported_with_its_number() {
        let long = format!("{{\"prompt\":\"{}\"}}", "x".repeat(super::MAX_LINE_BYTES));
        let (_, _, errors, count) = parse_all(format!("\n{long}\n").as_bytes());
        assert_eq!(count, 1);
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("at most"), "{}", errors[0].message);
    }

    #[test]
    fn an_empty_file_is_an_error() {
        let (_, _, errors, count) = parse_all(b"\n  \n");
        assert_eq!(count, 1);
        assert!(errors[0].message.contains("no JSON lines"));
    }

    #[test]
    fn invalid_utf8_is_reported_with_its_line() {
        let (_, _, errors, _) = parse_all(b"\n\xff\xfe\n");
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("UTF-8"));
    }
}
