//! Moving a whole installation between backends (`arbiter copy`): every
//! table, row for row with the same ids, in one transaction on the target,
//! then the row counts and a checksum of every table compared on both sides.
use super::conn::{Conn, Row, Val};
use super::export::Snapshot;
use super::{Db, Dialect};
use crate::{Error, Result};
use sha2::{Digest, Sha256};

/// A table: its name, primary key, every column (the key first), and which
/// columns are flags (INTEGER 0/1 in SQLite, BOOLEAN in PostgreSQL).
pub struct Table {
    pub name: &'static str,
    pub key: &'static [&'static str],
    pub columns: &'static [&'static str],
    pub flags: &'static [&'static str],
}

/// Every table of the schema, parents before children (foreign keys hold
/// at every insert). A test compares this list with the SQLite schema, so
/// a new column cannot be forgotten here.
pub const TABLES: &[Table] = &[
    Table {
        name: "users",
        key: &["id"],
        columns: &[
            "id",
            "uuid",
            "username",
            "password_hash",
            "role",
            "active",
            "created_at",
            "last_seen_at",
            "theme",
            "text_size",
            "language",
        ],
        flags: &["active"],
    },
    Table {
        name: "sessions",
        key: &["id_hash"],
        columns: &["id_hash", "user_id", "created_at", "last_seen_at", "expires_at"],
        flags: &[],
    },
    Table {
        name: "api_tokens",
        key: &["id"],
        columns: &["id", "uuid", "user_id", "name", "token_hash", "created_at", "last_used_at", "revoked_at"],
        flags: &[],
    },
    Table {
        name: "projects",
        key: &["id"],
        columns: &[
            "id",
            "uuid",
            "slug",
            "title",
            "guidelines",
            "annotations_per_pair",
            "lease_seconds",
            "flags",
            "created_at",
            "pair_selection",
            "task_type",
            "aspects",
            "scale_min",
            "scale_max",
            "scale_labels",
            "undo_judgements",
            "undo_minutes",
            "gold_percent",
            "gold_accuracy_min",
            "selection",
            "flag_agreement_min",
            "flag_skip_max",
            "flag_bias_permille",
        ],
        flags: &[],
    },
    Table { name: "project_members", key: &["project_id", "user_id"], columns: &["project_id", "user_id"], flags: &[] },
    Table {
        name: "prompts",
        key: &["id"],
        columns: &[
            "id",
            "uuid",
            "project_id",
            "dedupe_key",
            "external_id",
            "is_chat",
            "messages",
            "meta",
            "created_at",
            "settled",
            "load",
            "submitted",
        ],
        flags: &["is_chat", "settled"],
    },
    Table {
        name: "completions",
        key: &["id"],
        columns: &["id", "uuid", "prompt_id", "model", "body", "position", "content_hash"],
        flags: &[],
    },
    Table {
        name: "pairs",
        key: &["id"],
        columns: &[
            "id",
            "uuid",
            "project_id",
            "prompt_id",
            "completion_a",
            "completion_b",
            "load",
            "submitted",
            "spread",
            "gold_choice",
            "created_at",
            "prior",
            "adjudicated",
            "adjudicated_by",
            "adjudicated_at",
            "model_pair",
        ],
        flags: &[],
    },
    Table { name: "pair_sources", key: &["pair_id"], columns: &["pair_id", "line"], flags: &[] },
    Table {
        name: "imports",
        key: &["id"],
        columns: &["id", "uuid", "project_id", "user_id", "filename", "ok", "report", "created_at"],
        flags: &["ok"],
    },
    Table {
        name: "invites",
        key: &["id"],
        columns: &[
            "id",
            "token_hash",
            "role",
            "projects",
            "user_id",
            "created_by",
            "created_at",
            "expires_at",
            "used_at",
            "kind",
            "revoked_at",
        ],
        flags: &[],
    },
    Table {
        name: "audit_log",
        key: &["id"],
        columns: &["id", "at", "actor", "action", "target", "detail"],
        flags: &[],
    },
    Table {
        name: "exports",
        key: &["id"],
        columns: &["id", "uuid", "project_id", "actor", "created_at", "card"],
        flags: &[],
    },
    Table {
        name: "assignments",
        key: &["id"],
        columns: &[
            "id",
            "uuid",
            "project_id",
            "prompt_id",
            "pair_id",
            "annotator_id",
            "swapped",
            "shown",
            "state",
            "leased_at",
            "lease_expires_at",
            "finished_at",
            "skip_reason",
        ],
        flags: &["swapped"],
    },
    Table {
        name: "annotations",
        key: &["id"],
        columns: &[
            "id",
            "uuid",
            "assignment_id",
            "project_id",
            "prompt_id",
            "pair_id",
            "annotator_id",
            "client_key",
            "request_hash",
            "choice_shown",
            "choice",
            "both_bad",
            "flags",
            "rationale",
            "time_ms",
            "late",
            "created_at",
            "version",
            "updated_at",
        ],
        flags: &["both_bad", "late"],
    },
    Table {
        name: "ranks",
        key: &["annotation_id", "completion_id"],
        columns: &["annotation_id", "completion_id", "rank"],
        flags: &[],
    },
    Table {
        name: "ratings",
        key: &["annotation_id", "completion_id", "aspect"],
        columns: &["annotation_id", "completion_id", "aspect", "value"],
        flags: &[],
    },
    Table {
        name: "completion_flags",
        key: &["annotation_id", "completion_id", "flag"],
        columns: &["annotation_id", "completion_id", "flag"],
        flags: &[],
    },
    Table {
        name: "annotation_revisions",
        key: &["id"],
        columns: &[
            "id",
            "annotation_id",
            "version",
            "body",
            "created_at",
            "replaced_at",
            "replaced_by_key",
            "replaced_by_hash",
        ],
        flags: &[],
    },
];

/// Rows read and written per statement.
const PAGE: usize = 500;

/// A table's rows and its checksum (SHA-256 over every row in key order,
/// values written the same way whichever backend they came from).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableSum {
    pub table: &'static str,
    pub rows: u64,
    pub sha256: String,
}

/// Reads a table page by page in key order (keyset pagination on the whole
/// key, as a row value) and hands each page to `f`.
fn pages(c: &mut dyn Conn, t: &Table, mut f: impl FnMut(&[Row]) -> Result<()>) -> Result<()> {
    let cols = t.columns.join(", ");
    // Text keys in byte order on both backends (PostgreSQL's default
    // collation would order them differently, and the checksums with them).
    let pg = c.dialect() == Dialect::Postgres;
    let key = t
        .key
        .iter()
        .map(|k| if pg && matches!(kind(k), ColumnKind::Text) { format!("{k} COLLATE \"C\"") } else { (*k).to_owned() })
        .collect::<Vec<_>>()
        .join(", ");
    let mut after: Option<Vec<Val<'static>>> = None;
    loop {
        let rows = match &after {
            None => c.query(&format!("SELECT {cols} FROM {} ORDER BY {key} LIMIT {PAGE}", t.name), &[])?,
            Some(last) => {
                let marks: Vec<String> = (1..=t.key.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "SELECT {cols} FROM {} WHERE ({key}) > ({}) ORDER BY {key} LIMIT {PAGE}",
                    t.name,
                    marks.join(", ")
                );
                c.query(&sql, last)?
            }
        };
        if rows.is_empty() {
            return Ok(());
        }
        f(&rows)?;
        if rows.len() < PAGE {
            return Ok(());
        }
        let last = rows.last().map(|r| r.0[..t.key.len()].to_vec()).unwrap_or_default();
        after = Some(last.into_iter().map(typed_null).collect());
    }
}

/// A NULL read back is bound as text; keys are never NULL, so this only
/// keeps the types honest.
fn typed_null(v: Val<'static>) -> Val<'static> {
    match v {
        Val::Null => Val::NullText,
        other => other,
    }
}

/// A value as the target stores it: flags as booleans, NULLs typed.
fn for_target(v: &Val<'static>, flag: bool, kind: ColumnKind) -> Val<'static> {
    match (v, flag) {
        (Val::Int(i), true) => Val::Bool(*i != 0),
        (Val::Null, _) => match kind {
            ColumnKind::Text => Val::NullText,
            ColumnKind::Int => Val::NullInt,
        },
        (other, _) => other.clone(),
    }
}

#[derive(Clone, Copy)]
enum ColumnKind {
    Int,
    Text,
}

/// Whether a column holds text (by name: ids, counts and times are integers).
fn kind(column: &str) -> ColumnKind {
    const TEXT: &[&str] = &[
        "uuid",
        "username",
        "password_hash",
        "role",
        "theme",
        "language",
        "id_hash",
        "name",
        "token_hash",
        "slug",
        "title",
        "guidelines",
        "flags",
        "pair_selection",
        "task_type",
        "aspects",
        "scale_labels",
        "selection",
        "dedupe_key",
        "external_id",
        "messages",
        "meta",
        "model",
        "body",
        "content_hash",
        "adjudicated_by",
        "model_pair",
        "line",
        "filename",
        "report",
        "projects",
        "kind",
        "actor",
        "action",
        "target",
        "detail",
        "card",
        "shown",
        "state",
        "skip_reason",
        "client_key",
        "request_hash",
        "rationale",
        "aspect",
        "flag",
        "replaced_by_key",
        "replaced_by_hash",
    ];
    if TEXT.contains(&column) {
        ColumnKind::Text
    } else {
        ColumnKind::Int
    }
}

/// Feeds one value into a checksum: the same bytes for the same value on
/// either backend (a flag is 0 or 1, a NULL is distinct from every text).
fn hash_val(h: &mut Sha256, v: &Val<'_>) {
    match v {
        Val::Null | Val::NullInt | Val::NullText => h.update([0u8]),
        Val::Int(i) => {
            h.update([1u8]);
            h.update(i.to_le_bytes());
        }
        Val::Bool(b) => {
            h.update([1u8]);
            h.update(i64::from(*b).to_le_bytes());
        }
        Val::Real(f) => {
            h.update([2u8]);
            h.update(f.to_le_bytes());
        }
        Val::Text(s) => {
            h.update([3u8]);
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
    }
}

/// Row counts and checksums of every table.
pub fn checksums(c: &mut dyn Conn) -> Result<Vec<TableSum>> {
    TABLES
        .iter()
        .map(|t| {
            let mut h = Sha256::new();
            let mut rows = 0u64;
            pages(c, t, |page| {
                for r in page {
                    for v in &r.0 {
                        hash_val(&mut h, v);
                    }
                }
                rows += page.len() as u64;
                Ok(())
            })?;
            Ok(TableSum { table: t.name, rows, sha256: hex::encode(h.finalize()) })
        })
        .collect()
}

/// Tables of the target that hold rows (a copy goes only into an empty one).
pub fn non_empty(c: &mut dyn Conn) -> Result<Vec<&'static str>> {
    let mut out = Vec::new();
    for t in TABLES {
        if c.query_opt(&format!("SELECT 1 FROM {} LIMIT 1", t.name), &[])?.is_some() {
            out.push(t.name);
        }
    }
    Ok(out)
}

/// Copies every row of `from` into `to` (which must be empty), in one
/// transaction on the target: a failure leaves it empty. Then moves the
/// target's id sequences past the copied ids and gathers the planner's
/// statistics (PostgreSQL).
pub async fn copy_all(from: &Db, to: &Db) -> Result<u64> {
    let source = from.clone();
    let (copied, filled) = to
        .hot_bulk(move |c| {
            let busy = non_empty(c)?;
            if !busy.is_empty() {
                return Err(Error::Conflict(format!(
                    "the target database is not empty (rows in {}); copy into a new, empty database",
                    busy.join(", ")
                )));
            }
            let mut snapshot = Snapshot::open(&source)?;
            let mut copied = 0u64;
            let mut filled = Vec::new();
            for t in TABLES {
                let before = copied;
                let cols = t.columns.join(", ");
                let kinds: Vec<(bool, ColumnKind)> = t.columns.iter().map(|c| (t.flags.contains(c), kind(c))).collect();
                pages(&mut snapshot, t, |page| {
                    let width = t.columns.len();
                    let mut marks = Vec::with_capacity(page.len());
                    let mut values: Vec<Val<'static>> = Vec::with_capacity(page.len() * width);
                    for (n, r) in page.iter().enumerate() {
                        let row: Vec<String> = (1..=width).map(|i| format!("${}", n * width + i)).collect();
                        marks.push(format!("({})", row.join(", ")));
                        for (v, &(flag, k)) in r.0.iter().zip(&kinds) {
                            values.push(for_target(v, flag, k));
                        }
                    }
                    c.execute(&format!("INSERT INTO {} ({cols}) VALUES {}", t.name, marks.join(", ")), &values)?;
                    copied += page.len() as u64;
                    Ok(())
                })?;
                if copied > before {
                    filled.push(t.name);
                }
                if c.dialect() == Dialect::Postgres && t.key == ["id"] {
                    c.query(
                        &format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {0}",
                        t.name
                    ),
                        &[],
                    )?;
                }
            }
            Ok((copied, filled))
        })
        .await?;
    // PostgreSQL plans from statistics: a copied database is queried at once.
    // Only the tables that got rows: an empty table's statistics say it stays
    // empty, and the plans made from them scan it (`annotations` looked up by
    // idempotency key) until autovacuum analyzes it again, while one never
    // analyzed is assumed to hold some pages and is probed through its
    // indexes. Best effort: the copy is committed and checked either way.
    if to.is_shared() && !filled.is_empty() {
        let analyze = format!("ANALYZE {}", filled.join(", "));
        if let Err(e) = super::on!(&to.write, e => sqlx::query(&analyze).execute(e).await.map(|_| ())) {
            tracing::warn!(error = %e, "gathering the planner's statistics after the copy failed");
        }
    }
    Ok(copied)
}

/// Row counts and checksums of every table of `db`, from one snapshot.
pub async fn table_sums(db: &Db) -> Result<Vec<TableSum>> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut snapshot = Snapshot::open(&db)?;
        checksums(&mut snapshot)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
}
