//! Rows → bytes: JSONL, CSV or Parquet, in chunks, with the file's sha256.
//! Every file type is fed the same JSON rows; CSV and Parquet take their
//! columns (and types) from `dataset::columns`.
use crate::domain::dataset::{Col, FileType};
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_json::reader::Decoder;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Bytes leave in chunks of about this size.
pub const CHUNK: usize = 64 * 1024;
/// Rows handed to the Parquet encoder at once.
const BATCH_ROWS: usize = 1024;
/// A Parquet row group is closed at this many rows or this many bytes,
/// whichever comes first, so memory stays flat however long the file is.
const ROW_GROUP_ROWS: usize = 64 * 1024;
const ROW_GROUP_BYTES: usize = 32 * 1024 * 1024;

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Internal(anyhow::Error::new(e))
}

fn message_struct() -> DataType {
    DataType::Struct(Fields::from(vec![
        Field::new("role", DataType::Utf8, true),
        Field::new("content", DataType::Utf8, true),
    ]))
}

fn data_type(col: Col) -> DataType {
    match col {
        Col::Str => DataType::Utf8,
        Col::Int => DataType::Int64,
        Col::Float => DataType::Float64,
        Col::Bool => DataType::Boolean,
        Col::Strs => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        Col::Messages => DataType::List(Arc::new(Field::new("item", message_struct(), true))),
        Col::Input => DataType::Struct(Fields::from(vec![Field::new("messages", data_type(Col::Messages), true)])),
    }
}

pub fn arrow_schema(columns: &[(&'static str, Col)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns.iter().map(|(name, col)| Field::new(*name, data_type(*col), true)).collect::<Vec<_>>(),
    ))
}

/// A `Write` whose bytes the encoder takes out as they accumulate.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

enum Kind {
    Jsonl,
    Csv { columns: Vec<&'static str> },
    Parquet { writer: Box<ArrowWriter<Shared>>, decoder: Box<Decoder>, pending: Vec<Value> },
}

/// The file's sha256, computed on a thread of its own from the chunks as
/// they leave (it was 8% of an export's CPU, on the encoding thread).
struct Hasher {
    chunks: Option<std::sync::mpsc::SyncSender<bytes::Bytes>>,
    thread: Option<std::thread::JoinHandle<String>>,
}

impl Hasher {
    fn start() -> Result<Hasher> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(16);
        let thread = std::thread::Builder::new()
            .name("arbiter-sha256".into())
            .spawn(move || {
                let mut hash = Sha256::new();
                for chunk in rx {
                    hash.update(&chunk);
                }
                hex::encode(hash.finalize())
            })
            .map_err(|e| Error::Internal(e.into()))?;
        Ok(Hasher { chunks: Some(tx), thread: Some(thread) })
    }

    fn update(&self, chunk: &bytes::Bytes) {
        if let Some(tx) = &self.chunks {
            let _ = tx.send(chunk.clone());
        }
    }

    fn finish(mut self) -> Result<String> {
        drop(self.chunks.take());
        let thread = self.thread.take().ok_or_else(|| Error::Internal(anyhow::anyhow!("hasher finished twice")))?;
        thread.join().map_err(|_| Error::Internal(anyhow::anyhow!("the sha256 thread panicked")))
    }
}

impl Drop for Hasher {
    fn drop(&mut self) {
        // An export given up: let the thread end with what it has.
        drop(self.chunks.take());
    }
}

/// One output file being written.
pub struct Encoder {
    kind: Kind,
    buf: Vec<u8>,
    shared: Shared,
    hash: Hasher,
    pub rows: u64,
    pub bytes: u64,
}

pub struct Finished {
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl Encoder {
    pub fn new(file_type: FileType, columns: &[(&'static str, Col)]) -> Result<Encoder> {
        let shared = Shared::default();
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        let kind = match file_type {
            FileType::Jsonl => Kind::Jsonl,
            FileType::Csv => {
                let names: Vec<&'static str> = columns.iter().map(|c| c.0).collect();
                write_csv_record(&mut buf, names.iter().map(|n| std::borrow::Cow::Borrowed(*n)))?;
                Kind::Csv { columns: names }
            }
            FileType::Parquet => {
                let schema = arrow_schema(columns);
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                    .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
                    .set_created_by(format!("arbiter {}", env!("CARGO_PKG_VERSION")))
                    .build();
                let writer = ArrowWriter::try_new(shared.clone(), schema.clone(), Some(props)).map_err(internal)?;
                let decoder = arrow_json::ReaderBuilder::new(schema)
                    .with_batch_size(BATCH_ROWS)
                    .build_decoder()
                    .map_err(internal)?;
                Kind::Parquet { writer: Box::new(writer), decoder: Box::new(decoder), pending: Vec::new() }
            }
        };
        Ok(Encoder { kind, buf, shared, hash: Hasher::start()?, rows: 0, bytes: 0 })
    }

    /// Adds a row: anything that serializes to a JSON object (JSONL writes
    /// it straight; CSV and Parquet read it as a `Value`).
    pub fn push<T: serde::Serialize + ?Sized>(&mut self, row: &T) -> Result<()> {
        self.rows += 1;
        match &mut self.kind {
            Kind::Jsonl => {
                serde_json::to_writer(&mut self.buf, row).map_err(internal)?;
                self.buf.push(b'\n');
            }
            Kind::Csv { columns } => {
                let row = serde_json::to_value(row).map_err(internal)?;
                let cells = columns.iter().map(|c| csv_cell(row.get(*c).unwrap_or(&Value::Null)));
                write_csv_record(&mut self.buf, cells)?;
            }
            Kind::Parquet { pending, .. } => {
                pending.push(serde_json::to_value(row).map_err(internal)?);
                if pending.len() >= BATCH_ROWS {
                    self.encode_pending()?;
                }
            }
        }
        Ok(())
    }

    /// Adds a row given as one JSON line (written as it is in JSONL).
    pub fn push_line(&mut self, line: &str) -> Result<()> {
        if let Kind::Jsonl = self.kind {
            self.rows += 1;
            self.buf.extend_from_slice(line.as_bytes());
            self.buf.push(b'\n');
            return Ok(());
        }
        let row: Value = serde_json::from_str(line).map_err(internal)?;
        self.push(&row)
    }

    fn encode_pending(&mut self) -> Result<()> {
        let Kind::Parquet { writer, decoder, pending } = &mut self.kind else {
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        decoder.serialize(pending).map_err(internal)?;
        pending.clear();
        while let Some(batch) = decoder.flush().map_err(internal)? {
            write_batch(writer, &batch)?;
        }
        let out = self.shared.take();
        self.buf.extend_from_slice(&out);
        Ok(())
    }

    /// Bytes ready to leave, once there are about a chunk's worth.
    pub fn ready(&mut self) -> Option<bytes::Bytes> {
        if self.buf.len() + self.shared.len() < CHUNK {
            return None;
        }
        let out = self.shared.take();
        self.buf.extend_from_slice(&out);
        Some(self.take())
    }

    fn take(&mut self) -> bytes::Bytes {
        let out = bytes::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 4096)));
        self.hash.update(&out);
        self.bytes += out.len() as u64;
        out
    }

    /// The last bytes (Parquet's footer among them) and the file's figures.
    pub fn finish(mut self) -> Result<(bytes::Bytes, Finished)> {
        self.encode_pending()?;
        if let Kind::Parquet { writer, .. } = std::mem::replace(&mut self.kind, Kind::Jsonl) {
            writer.close().map_err(internal)?;
        }
        let out = self.shared.take();
        self.buf.extend_from_slice(&out);
        let last = self.take();
        let sha256 = self.hash.finish()?;
        Ok((last, Finished { rows: self.rows, bytes: self.bytes, sha256 }))
    }
}

fn write_batch(writer: &mut ArrowWriter<Shared>, batch: &RecordBatch) -> Result<()> {
    writer.write(batch).map_err(internal)
}

/// A CSV cell: text as it is, numbers and booleans as JSON writes them,
/// null empty, lists and objects as JSON text.
fn csv_cell(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::Null => "".into(),
        Value::String(s) => s.as_str().into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Number(n) => n.to_string().into(),
        other => other.to_string().into(),
    }
}

fn write_csv_record<'a>(buf: &mut Vec<u8>, cells: impl Iterator<Item = std::borrow::Cow<'a, str>>) -> Result<()> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(buf);
    w.write_record(cells.map(|c| c.into_owned())).map_err(internal)?;
    w.flush().map_err(internal)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_quotes_what_needs_quoting_and_writes_lists_as_json() {
        let cols = [("a", Col::Str), ("b", Col::Strs), ("c", Col::Int), ("d", Col::Str)];
        let mut e = Encoder::new(FileType::Csv, &cols).unwrap();
        e.push(&json!({"a": "x, \"y\"\nz", "b": ["p", "q"], "c": 3, "d": null})).unwrap();
        let (bytes, done) = e.finish().unwrap();
        assert_eq!(
            String::from_utf8(bytes.to_vec()).unwrap(),
            "a,b,c,d\r\n\"x, \"\"y\"\"\nz\",\"[\"\"p\"\",\"\"q\"\"]\",3,\r\n"
        );
        assert_eq!(done.rows, 1);
    }

    #[test]
    fn parquet_files_start_and_end_with_the_magic_bytes() {
        let cols = [("prompt", Col::Messages), ("margin", Col::Float)];
        let mut e = Encoder::new(FileType::Parquet, &cols).unwrap();
        let mut all = Vec::new();
        for i in 0..3000 {
            e.push(&json!({"prompt": [{"role": "user", "content": format!("q{i}")}], "margin": 0.5})).unwrap();
            if let Some(b) = e.ready() {
                all.extend(b);
            }
        }
        let (last, done) = e.finish().unwrap();
        all.extend(last);
        assert_eq!(&all[..4], b"PAR1");
        assert_eq!(&all[all.len() - 4..], b"PAR1");
        assert_eq!(done.bytes as usize, all.len());
        assert_eq!(done.sha256, hex::encode(Sha256::digest(&all)));
    }
}
