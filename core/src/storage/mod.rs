//! Every SQL statement of Arbiter lives below this module, one file per
//! aggregate. Functions take a pool, a connection or a transaction; nothing
//! else in the workspace knows the schema.
pub mod assignments;
pub mod audit;
pub mod cache;
pub mod dashboard;
pub mod export;
pub mod imports;
pub mod invites;
pub mod leaderboard;
pub mod projects;
pub mod prompts;
pub mod sessions;
pub mod tokens;
pub mod users;
pub mod writer;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;

pub type Tx = Transaction<'static, Sqlite>;

/// SQLite has one writer. The hot path's writes go to the writer thread,
/// which commits them in small groups; the other writes go through a pool
/// of one connection, so they queue in-process instead of spinning on
/// SQLITE_BUSY. Reads use a separate pool and, thanks to WAL, never wait.
#[derive(Clone)]
pub struct Db {
    /// For writes off the hot path (imports, accounts, settings).
    pub write: SqlitePool,
    pub read: SqlitePool,
    /// The hot path's writes: claims, submissions, skips (group commit).
    pub writer: writer::Writer,
    /// Per-request lookups (principals, projects, memberships); see `cache`.
    pub caches: std::sync::Arc<cache::Caches>,
    /// The database file, for connections of their own (exports).
    pub path: std::path::PathBuf,
}

/// The SQLite schema's migrations, embedded in the binary.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// How long a connection waits for SQLite's write lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings every connection gets, sqlx's and the writer thread's alike
/// (besides `BUSY_TIMEOUT`): WAL, so readers never wait for the writer;
/// `synchronous=NORMAL`, durable at every checkpoint and safe against
/// corruption in WAL mode; foreign keys on. The page cache stays at
/// SQLite's default: a connection clears its whole cache whenever another
/// one has committed, and with a 32 MB cache that clearing
/// (`pcache1TruncateUnsafe`) took 19% of the server's CPU and 44% of the
/// judgements per second (docs/benchmarks.md).
pub const PRAGMAS: [(&str, &str); 4] =
    [("journal_mode", "WAL"), ("synchronous", "NORMAL"), ("foreign_keys", "ON"), ("temp_store", "MEMORY")];

/// The database URLs Arbiter understands. Anything else is refused, so a
/// mistyped URL never silently becomes a file of that name.
pub fn sqlite_path(url: &str) -> anyhow::Result<&str> {
    match url.split_once("://") {
        Some(("sqlite", rest)) if !rest.is_empty() => Ok(rest),
        Some(("sqlite", _)) => anyhow::bail!("database URL {url:?} names no file (use sqlite://path/to/arbiter.db)"),
        Some((scheme, _)) => {
            anyhow::bail!("database URL scheme {scheme:?} is not supported (use sqlite://path/to/arbiter.db)")
        }
        None => anyhow::bail!("database URL {url:?} has no scheme (use sqlite://path/to/arbiter.db)"),
    }
}

impl Db {
    /// Opens (creating if needed) and migrates the database at `url`
    /// (`sqlite://path/to/file.db`).
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlite_path(url)?;
        let mut opts = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("Failed to parse database URL {url}"))?
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT);
        for (name, value) in PRAGMAS {
            opts = opts.pragma(name, value);
        }
        let path = opts.get_filename().to_path_buf();
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("Failed to create directory {}", dir.display()))?;
            }
        }
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await
            .with_context(|| format!("Failed to open database {url}"))?;
        SQLITE_MIGRATIONS.run(&write).await.context("Failed to run database migrations")?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(opts.read_only(true))
            .await
            .context("Failed to open read connections")?;
        let writer = writer::Writer::start(&path).context("Failed to start the writer thread")?;
        Ok(Db { write, read, writer, caches: Default::default(), path })
    }

    /// A write transaction that holds the write lock from its first statement
    /// (BEGIN IMMEDIATE), so read-then-write logic never hits SQLITE_BUSY halfway.
    pub async fn begin_write(&self) -> sqlx::Result<Tx> {
        self.write.begin_with("BEGIN IMMEDIATE").await
    }

    /// Finishes the writer's queued jobs, then closes every connection.
    pub async fn close(&self) {
        self.writer.close().await;
        self.write.close().await;
        self.read.close().await;
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    now.as_millis() as i64
}

/// Milliseconds since the epoch → RFC 3339 in UTC with millisecond precision.
pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.format(&fmt).unwrap_or_default()
}

/// Row ids that appear in URLs and API bodies. Time-ordered (v7), so each
/// table's `uuid` index grows at its end: an import of many rows dirties a
/// few index pages per commit instead of one random page per row.
pub fn new_uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_is_utc_with_milliseconds() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::rfc3339(1_764_345_600_123), "2025-11-28T16:00:00.123Z");
    }
}

/// How many embedded migrations the database has not applied (0: current).
/// Fails when the database does not answer.
pub async fn migrations_pending(db: &Db) -> sqlx::Result<usize> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(&db.read).await?;
    Ok(SQLITE_MIGRATIONS
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        .count())
}

/// Connections of each pool: (pool, open, idle).
pub fn pool_use(db: &Db) -> Vec<(&'static str, u32, usize)> {
    vec![("read", db.read.size(), db.read.num_idle()), ("write", db.write.size(), db.write.num_idle())]
}

/// A consistent copy of the whole database into a new file. VACUUM INTO
/// reads one snapshot (a read transaction), so writers carry on meanwhile.
pub async fn backup_into(db: &Db, target: &str) -> sqlx::Result<()> {
    sqlx::query("VACUUM INTO ?").bind(target).execute(&db.write).await?;
    Ok(())
}
