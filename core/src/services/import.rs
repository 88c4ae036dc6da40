//! Imports: native JSONL, CSV, TRL, HH-RLHF and Arena files, as JSONL, CSV
//! or Parquet. The whole file is validated first (nothing is written when a
//! line is bad, unless `skip_bad`); then it is written in chunks of bounded
//! duration through the writer thread, interleaved with the annotators'
//! submissions, so an import never stalls them. An interrupted import is
//! completed by running it again: items are found again by their id (or
//! content) and only what is missing is added.
use crate::domain::dataset::FileType;
use crate::domain::import::{json_object, ImportItem, LineError, MAX_LINE_BYTES};
use crate::domain::preference::{csv_header, csv_record, ImportFormat};
use crate::storage::projects::Project;
use crate::storage::prompts::{self, Added};
use crate::storage::{imports, Db};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most this many bad lines are listed; the count covers them all.
const MAX_LISTED_ERRORS: usize = 100;
/// Items parsed together before they go to the writer.
const BATCH: usize = 1024;
/// One writer job stops after this long when other jobs (annotators'
/// submissions) wait behind it, so they wait at most about this much...
const JOB_BUDGET: Duration = Duration::from_millis(4);
/// ...and after this long when none do, so an import alone commits rarely.
const JOB_BUDGET_ALONE: Duration = Duration::from_millis(250);
/// After a job that handed over, the import rests this long before its next
/// one: while annotators are at work it takes at most about half of the
/// writer (and of a core), so their saves keep their speed.
const REST_AFTER_HANDOVER: Duration = Duration::from_millis(8);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub import_id: String,
    pub ok: bool,
    /// The format read (`native`, `csv`, `trl`, `hh-rlhf`, `arena`).
    #[serde(default)]
    pub format: String,
    /// The format was not given but guessed from the first record.
    #[serde(default)]
    pub format_guessed: bool,
    pub lines: u64,
    pub added: Added,
    pub error_count: u64,
    /// Bad lines left out (with `skip_bad`); otherwise 0.
    #[serde(default)]
    pub skipped: u64,
    pub errors: Vec<LineError>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// None: guessed from the first record.
    pub format: Option<ImportFormat>,
    /// Import the good lines and report the bad ones (default: all or nothing).
    pub skip_bad: bool,
    /// Parse at a lower CPU priority, so annotators at work keep
    /// theirs (the server's imports; the CLI alone takes full speed).
    pub yield_cpu: bool,
}

/// Where the file's bytes are: read twice (validation, then writing).
#[derive(Clone)]
pub enum Source {
    Bytes(Arc<Vec<u8>>),
    File(PathBuf),
}

impl Source {
    fn open(&self) -> Result<Box<dyn Read + Send>> {
        Ok(match self {
            Source::Bytes(b) => Box::new(std::io::Cursor::new(ArcBytes(b.clone()))),
            Source::File(p) => {
                Box::new(std::fs::File::open(p).map_err(|e| Error::bad(format!("{}: {e}", p.display())))?)
            }
        })
    }

    fn starts_with(&self, magic: &[u8]) -> bool {
        let mut head = vec![0u8; magic.len()];
        match self.open() {
            Ok(mut r) => r.read_exact(&mut head).is_ok() && head == magic,
            Err(_) => false,
        }
    }
}

struct ArcBytes(Arc<Vec<u8>>);
impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Runs `f` on a new thread at a lower CPU priority (Linux: nice 10 for this
/// thread and the threads it starts), so parsing a large file never takes
/// the CPU from the requests of annotators at work.
/// The thread starts at once; the future answers with what `f` returned.
fn in_background<T: Send + 'static>(
    yield_cpu: bool,
    f: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = Result<T>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let started = std::thread::Builder::new()
        .name("arbiter-import".into())
        .spawn(move || {
            #[cfg(target_os = "linux")]
            if yield_cpu {
                // SAFETY: plain syscalls on the calling thread, no memory passed.
                unsafe {
                    let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                    libc::setpriority(libc::PRIO_PROCESS, tid, 10);
                }
            }
            #[cfg(not(target_os = "linux"))]
            let _ = yield_cpu;
            let _ = tx.send(f());
        })
        .map_err(|e| Error::Internal(e.into()));
    async move {
        started?;
        rx.await.map_err(|_| Error::Internal(anyhow::anyhow!("the import thread ended early")))
    }
}

/// The file type: Parquet by its magic bytes, CSV by the format or name, else JSONL.
fn file_type(source: &Source, filename: &str, format: Option<ImportFormat>) -> FileType {
    if source.starts_with(b"PAR1") {
        FileType::Parquet
    } else if format == Some(ImportFormat::Csv) || FileType::from_extension(filename) == Some(FileType::Csv) {
        FileType::Csv
    } else {
        FileType::Jsonl
    }
}

/// Reads every record once, parsing each with the file's format (decided by
/// the first record when not given), and hands each to `visit`. Returns the
/// format and whether it was guessed.
fn read_records(
    source: &Source,
    file_type: FileType,
    format: Option<ImportFormat>,
    visit: &mut dyn FnMut(u64, std::result::Result<ImportItem, LineError>),
) -> Result<(ImportFormat, bool)> {
    let mut chosen: Option<(ImportFormat, bool)> = format.map(|f| (f, false));
    match file_type {
        FileType::Csv => {
            let newlines = Arc::new(std::sync::Mutex::new(Vec::new()));
            let counted = LineIndex { inner: source.open()?, offset: 0, newlines: newlines.clone() };
            let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(counted);
            let mut at = None;
            let mut header_error = None;
            for (i, rec) in r.records().enumerate() {
                let byte = match &rec {
                    Ok(r) => r.position().map(|p| p.byte()),
                    Err(e) => e.position().map(|p| p.byte()),
                };
                let line = match byte {
                    Some(b) => line_of(&newlines.lock().unwrap_or_else(|e| e.into_inner()), b),
                    None => i as u64 + 1,
                };
                let rec = match rec {
                    Ok(rec) => rec,
                    Err(e) => {
                        visit(line, Err(LineError { line, field: None, message: format!("not valid CSV: {e}") }));
                        continue;
                    }
                };
                let cells: Vec<&str> = rec.iter().collect();
                if at.is_none() && header_error.is_none() {
                    match csv_header(&cells) {
                        Ok(h) => at = Some(h),
                        Err(e) => header_error = Some(e),
                    }
                    continue;
                }
                if cells.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                if let Some(at) = &at {
                    visit(line, csv_record(line, at, &cells));
                }
            }
            if let (None, Some(e)) = (&at, header_error) {
                visit(1, Err(e));
            }
            Ok((ImportFormat::Csv, chosen.map(|c| c.1).unwrap_or(true)))
        }
        FileType::Jsonl => {
            let mut reader = std::io::BufReader::with_capacity(1 << 20, source.open()?);
            let mut buf = Vec::new();
            let mut line = 0u64;
            loop {
                buf.clear();
                let n = reader.read_until(b'\n', &mut buf).map_err(|e| Error::bad(format!("reading the file: {e}")))?;
                if n == 0 {
                    break;
                }
                line += 1;
                let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                let raw = if line == 1 { raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(raw) } else { raw };
                if raw.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if raw.len() > MAX_LINE_BYTES {
                    let message = format!("line is {} bytes; at most {MAX_LINE_BYTES} are allowed", raw.len());
                    visit(line, Err(LineError { line, field: None, message }));
                    continue;
                }
                let parsed = std::str::from_utf8(raw)
                    .map_err(|_| LineError { line, field: None, message: "not valid UTF-8".into() })
                    .and_then(|text| parse_json_record(&mut chosen, line, text));
                visit(line, parsed);
            }
            Ok(chosen.unwrap_or((ImportFormat::Native, true)))
        }
        FileType::Parquet => {
            let path_or_bytes = match source {
                Source::Bytes(b) => parquet_rows(bytes_reader(b.clone()))?,
                Source::File(p) => {
                    parquet_rows(std::fs::File::open(p).map_err(|e| Error::bad(format!("{}: {e}", p.display())))?)?
                }
            };
            let mut line = 0u64;
            for batch in path_or_bytes {
                let batch = batch.map_err(|e| Error::bad(format!("reading the Parquet file: {e}")))?;
                let mut w = arrow_json::LineDelimitedWriter::new(Vec::new());
                w.write(&batch).map_err(|e| Error::bad(format!("reading the Parquet file: {e}")))?;
                w.finish().map_err(|e| Error::bad(format!("reading the Parquet file: {e}")))?;
                let text = String::from_utf8(w.into_inner())
                    .map_err(|_| Error::bad("the Parquet file has text that is not UTF-8"))?;
                for row in text.lines() {
                    line += 1;
                    let parsed = parse_json_record(&mut chosen, line, row);
                    visit(line, parsed);
                }
            }
            Ok(chosen.unwrap_or((ImportFormat::Native, true)))
        }
    }
}

/// One JSON record (a JSONL line, a Parquet row) parsed with the file's
/// format; the first record decides it when none was given.
fn parse_json_record(
    chosen: &mut Option<(ImportFormat, bool)>,
    line: u64,
    text: &str,
) -> std::result::Result<ImportItem, LineError> {
    let obj = json_object(line, text)?;
    let format = match *chosen {
        Some((f, _)) => f,
        None => {
            let f = ImportFormat::guess(&obj).ok_or_else(|| LineError {
                line,
                field: None,
                message: "cannot tell the format from this record's fields; give format=native|trl|hh-rlhf|arena"
                    .into(),
            })?;
            *chosen = Some((f, true));
            f
        }
    };
    format.parse_object(line, obj, text)
}

/// Notes where the file's newlines are as the CSV reader reads it, so a
/// record's line is told from its byte offset (csv's own line count is off
/// by one in CRLF files and after blank lines).
struct LineIndex<R> {
    inner: R,
    offset: u64,
    newlines: Arc<std::sync::Mutex<Vec<u64>>>,
}

impl<R: Read> Read for LineIndex<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut v = self.newlines.lock().unwrap_or_else(|e| e.into_inner());
        v.extend(buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| self.offset + i as u64));
        self.offset += n as u64;
        Ok(n)
    }
}

/// The 1-based line of the record starting at `byte`. A start that sits on
/// a newline (the `\n` of a CRLF, blank lines) moves past it first.
fn line_of(newlines: &[u64], mut byte: u64) -> u64 {
    while newlines.binary_search(&byte).is_ok() {
        byte += 1;
    }
    newlines.partition_point(|&o| o < byte) as u64 + 1
}

fn bytes_reader(b: Arc<Vec<u8>>) -> bytes::Bytes {
    bytes::Bytes::from_owner(ArcBytes(b))
}

fn parquet_rows<R: parquet::file::reader::ChunkReader + 'static>(
    r: R,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader> {
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(r)
        .and_then(|b| b.with_batch_size(1024).build())
        .map_err(|e| Error::bad(format!("not a readable Parquet file: {e}")))
}

struct Checked {
    lines: u64,
    errors: Vec<LineError>,
    error_count: u64,
    format: ImportFormat,
    guessed: bool,
}

/// A ranking task shows every completion of its prompt, each typed as one
/// digit: a line with more is refused there (the prompt's other completions
/// already stored are checked when the project's task type is set).
fn within_limit(
    parsed: std::result::Result<ImportItem, LineError>,
    line: u64,
    max: usize,
) -> std::result::Result<ImportItem, LineError> {
    match parsed {
        Ok(item) if item.nul_field().is_some() => {
            Err(LineError { line, field: item.nul_field(), message: crate::domain::text::NUL_MESSAGE.into() })
        }
        Ok(item) if item.completions.len() > max => Err(LineError {
            line,
            field: Some("completions".into()),
            message: format!(
                "a ranking project shows at most {max} completions per prompt, got {}",
                item.completions.len()
            ),
        }),
        other => other,
    }
}

fn check(source: &Source, file_type: FileType, format: Option<ImportFormat>, max: usize) -> Result<Checked> {
    let (mut lines, mut errors, mut error_count) = (0u64, Vec::new(), 0u64);
    let (format, guessed) = read_records(source, file_type, format, &mut |line, parsed| {
        let parsed = within_limit(parsed, line, max);
        lines += 1;
        if let Err(e) = parsed {
            error_count += 1;
            if errors.len() < MAX_LISTED_ERRORS {
                errors.push(e);
            }
        }
    })?;
    if lines == 0 {
        error_count = 1;
        errors.push(LineError { line: 0, field: None, message: "the file has no records".into() });
    }
    Ok(Checked { lines, errors, error_count, format, guessed })
}

/// Imports a JSONL file given as bytes, all or nothing (the API's and the
/// tests' way in).
pub async fn import_jsonl(
    db: &Db,
    project: &Project,
    actor: Option<&crate::storage::users::User>,
    filename: &str,
    data: Vec<u8>,
) -> Result<ImportReport> {
    import(db, project, actor, filename, Source::Bytes(Arc::new(data)), ImportOptions::default()).await
}

/// Imports a file into a project. The attempt is recorded either way.
pub async fn import(
    db: &Db,
    project: &Project,
    actor: Option<&crate::storage::users::User>,
    filename: &str,
    source: Source,
    options: ImportOptions,
) -> Result<ImportReport> {
    // Checked before anything is written: the import's record stores it.
    if filename.contains('\0') {
        return Err(Error::bad(format!("filename: {}", crate::domain::text::NUL_MESSAGE)));
    }
    let ft = file_type(&source, filename, options.format);
    let src = source.clone();
    let max = if project.task_type == crate::domain::TaskType::Ranking {
        crate::domain::settings::MAX_RANKED
    } else {
        crate::domain::import::MAX_COMPLETIONS
    };
    let checked = in_background(options.yield_cpu, move || check(&src, ft, options.format, max)).await??;
    let ok = checked.error_count == 0 || (options.skip_bad && checked.lines > checked.error_count);
    let added = if ok {
        write(db, project.id, source, ft, checked.format, options.yield_cpu, max).await?
    } else {
        Added::default()
    };
    if ok && added.pairs > 0 && project.selection == crate::domain::ModelSelection::Active {
        crate::storage::prompts::set_model_pairs(&db.write, project.id, true).await?;
    }
    if ok && (added.prompts > 0 || added.pairs > 0) {
        // Best effort: the rows are in; autovacuum would gather them later.
        if let Err(e) = crate::storage::prompts::refresh_statistics(db).await {
            tracing::warn!(error = %e, "refreshing the planner's statistics after an import failed");
        }
    }
    let mut report = ImportReport {
        import_id: String::new(),
        ok,
        format: checked.format.name().into(),
        format_guessed: checked.guessed,
        lines: checked.lines,
        added,
        error_count: checked.error_count,
        skipped: if ok { checked.error_count } else { 0 },
        errors: checked.errors,
    };
    let json = serde_json::to_value(&report).map_err(|e| Error::Internal(e.into()))?;
    let mut tx = db.begin_write().await?;
    report.import_id = imports::record(&mut tx, project.id, actor.map(|a| a.id), filename, ok, &json).await?;
    let who = actor.map(|a| a.username.as_str()).unwrap_or("cli");
    let detail = serde_json::json!({"file": filename, "format": report.format, "ok": ok, "lines": report.lines,
        "pairs_added": added.pairs, "bad_lines": report.error_count, "skipped": report.skipped});
    crate::storage::audit::record(&mut tx, who, "project.import", &project.slug, &detail).await?;
    tx.commit().await?;
    tracing::info!(project = %project.slug, filename, ok, lines = report.lines, pairs = added.pairs, "import");
    Ok(report)
}

/// The second pass: parse on a background thread, write in short
/// writer jobs as batches arrive. Bad lines (with `skip_bad`) are left out.
async fn write(
    db: &Db,
    project_id: i64,
    source: Source,
    ft: FileType,
    format: ImportFormat,
    yield_cpu: bool,
    max: usize,
) -> Result<Added> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<ImportItem>>(2);
    let reader = in_background(yield_cpu, move || -> Result<()> {
        let mut batch = Vec::with_capacity(BATCH);
        let mut closed = false;
        read_records(&source, ft, Some(format), &mut |line, parsed| {
            if closed {
                return;
            }
            if let Ok(item) = within_limit(parsed, line, max) {
                batch.push(item);
            }
            if batch.len() >= BATCH {
                closed = tx.blocking_send(std::mem::take(&mut batch)).is_err();
            }
        })?;
        if !batch.is_empty() && !closed {
            let _ = tx.blocking_send(batch);
        }
        Ok(())
    });
    let mut spread: Option<HashMap<(String, String), i64>> = None;
    let mut added = Added::default();
    while let Some(mut items) = rx.recv().await {
        while !items.is_empty() {
            let s = spread.take();
            let others_waiting = db.others_waiting();
            let mut job = Some((items, s));
            let (rest, a, s, handed_over) = db
                .hot_bulk(move |conn| {
                    let (mut items, s) =
                        job.take().ok_or_else(|| Error::Unavailable("the import was interrupted; try again".into()))?;
                    if conn.dialect() == crate::storage::Dialect::Postgres {
                        // A PostgreSQL job may run again (a deadlock, a lost
                        // connection): it keeps its data for that. And two
                        // imports into one project take turns, as SQLite's
                        // one writer makes them (the dedupe keys hold).
                        job = Some((items.clone(), s.clone()));
                        conn.execute("SELECT pg_advisory_xact_lock(2, CAST($1 AS INTEGER))", crate::vals![project_id])?;
                    }
                    let mut spread = match s {
                        Some(s) => s,
                        None => prompts::model_pair_counts(conn, project_id)?,
                    };
                    let start = Instant::now();
                    let mut added = Added::default();
                    let mut done = 0;
                    let mut handed_over = false;
                    for p in &items {
                        let a = prompts::add_item(conn, project_id, p, &mut spread)?;
                        added.prompts += a.prompts;
                        added.prompts_existing += a.prompts_existing;
                        added.completions += a.completions;
                        added.pairs += a.pairs;
                        done += 1;
                        let spent = start.elapsed();
                        if spent >= JOB_BUDGET && others_waiting() {
                            handed_over = true;
                            break;
                        }
                        if spent >= JOB_BUDGET_ALONE {
                            break;
                        }
                    }
                    items.drain(..done);
                    Ok((items, added, spread, handed_over))
                })
                .await?;
            if handed_over {
                tokio::time::sleep(REST_AFTER_HANDOVER).await;
            }
            items = rest;
            spread = Some(s);
            added.prompts += a.prompts;
            added.prompts_existing += a.prompts_existing;
            added.completions += a.completions;
            added.pairs += a.pairs;
        }
    }
    reader.await??;
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::import::MAX_COMPLETIONS;

    fn check_bytes(data: &[u8]) -> Checked {
        check(&Source::Bytes(Arc::new(data.to_vec())), FileType::Jsonl, None, MAX_COMPLETIONS).unwrap()
    }

    #[test]
    fn blank_lines_are_skipped_but_numbering_follows_the_file() {
        let good = r#"{"prompt":"q","completions":[{"model":"a","text":"x"},{"model":"b","text":"y"}]}"#;
        let data = format!("{good}\n\n{{bad\r\n{good}\n");
        let c = check_bytes(data.as_bytes());
        assert_eq!((c.lines, c.error_count), (3, 1));
        assert_eq!(c.errors[0].line, 3);
        assert_eq!((c.format, c.guessed), (ImportFormat::Native, true));
    }

    #[test]
    fn an_overlong_line_is_reported_with_its_number() {
        let long = format!("{{\"prompt\":\"{}\"}}", "x".repeat(MAX_LINE_BYTES));
        let c = check_bytes(format!("\n{long}\n").as_bytes());
        assert_eq!(c.error_count, 1);
        assert_eq!(c.errors[0].line, 2);
        assert!(c.errors[0].message.contains("at most"), "{}", c.errors[0].message);
    }

    #[test]
    fn an_empty_file_is_an_error() {
        let c = check_bytes(b"\n  \n");
        assert_eq!(c.error_count, 1);
        assert!(c.errors[0].message.contains("no records"));
    }

    #[test]
    fn invalid_utf8_is_reported_with_its_line() {
        let c = check_bytes(b"\n\xff\xfe\n");
        assert_eq!(c.errors[0].line, 2);
        assert!(c.errors[0].message.contains("UTF-8"));
    }

    #[test]
    fn csv_lines_are_numbered_as_in_the_file_with_crlf_and_blank_lines() {
        for data in [
            "prompt,model_a,completion_a,model_b,completion_b\r\nq,m1,a,m2,b\r\nq2,m1,,m2,b\r\n",
            "prompt,model_a,completion_a,model_b,completion_b\nq,m1,a,m2,b\n\n\nq2,m1,,m2,b\n",
        ] {
            let c = check(
                &Source::Bytes(Arc::new(data.as_bytes().to_vec())),
                FileType::Csv,
                Some(ImportFormat::Csv),
                MAX_COMPLETIONS,
            )
            .unwrap();
            let want = data.lines().position(|l| l.starts_with("q2")).unwrap() as u64 + 1;
            assert_eq!((c.lines, c.error_count), (2, 1), "{data:?}");
            assert_eq!(c.errors[0].line, want, "{data:?}");
        }
    }

    #[test]
    fn a_bad_csv_header_is_one_error() {
        let data = "prompt,answer\nq,a\nq,b\n";
        let c = check(
            &Source::Bytes(Arc::new(data.as_bytes().to_vec())),
            FileType::Csv,
            Some(ImportFormat::Csv),
            MAX_COMPLETIONS,
        )
        .unwrap();
        assert_eq!(c.error_count, 1);
        assert_eq!(c.errors[0].field.as_deref(), Some("answer"));
    }

    #[test]
    fn a_jsonl_file_may_start_with_a_byte_order_mark() {
        let good = r#"{"prompt":"q","completions":[{"model":"a","text":"x"},{"model":"b","text":"y"}]}"#;
        let c = check_bytes(format!("\u{feff}{good}\n").as_bytes());
        assert_eq!((c.lines, c.error_count), (1, 0));
    }

    #[test]
    fn csv_lines_are_numbered_as_in_the_file_even_with_multiline_cells() {
        let data = "prompt,model_a,completion_a,model_b,completion_b\n\"two\nlines\",m1,a,m2,b\nq,m1,,m2,b\n";
        let c = check(
            &Source::Bytes(Arc::new(data.as_bytes().to_vec())),
            FileType::Csv,
            Some(ImportFormat::Csv),
            MAX_COMPLETIONS,
        )
        .unwrap();
        assert_eq!((c.lines, c.error_count), (2, 1));
        assert_eq!((c.errors[0].line, c.errors[0].field.as_deref()), (4, Some("completion_a")));
    }
}
