//! Every SQL statement of Arbiter lives below this module, one file per
//! aggregate. Functions take a pool, a connection or a transaction; nothing
//! else in the workspace knows the schema.
pub mod assignments;
pub mod audit;
pub mod cache;
pub mod conn;
pub mod copy;
pub mod dashboard;
pub mod export;
pub mod imports;
pub mod invites;
pub mod leaderboard;
pub mod pg_writers;
pub mod projects;
pub mod prompts;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod writer;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// A pool of connections to the one database, whichever backend it is.
/// Services hand it to storage functions and never look inside.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open write transaction on either backend.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub async fn commit(self) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}

/// Where a storage function runs its statements: a pool, or the connection
/// of an open transaction. `From` a `&Pool` or a `&mut Tx`, so one function
/// serves both.
pub enum Ex<'c> {
    SqlitePool(&'c SqlitePool),
    Sqlite(&'c mut SqliteConnection),
    PgPool(&'c PgPool),
    Postgres(&'c mut PgConnection),
}

/// Which database a statement is for, where their SQL differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl<'c> Ex<'c> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Ex::SqlitePool(_) | Ex::Sqlite(_) => Dialect::Sqlite,
            Ex::PgPool(_) | Ex::Postgres(_) => Dialect::Postgres,
        }
    }
}

impl<'c> From<&'c Pool> for Ex<'c> {
    fn from(p: &'c Pool) -> Self {
        match p {
            Pool::Sqlite(p) => Ex::SqlitePool(p),
            Pool::Postgres(p) => Ex::PgPool(p),
        }
    }
}

impl<'c> From<&'c mut Tx> for Ex<'c> {
    fn from(t: &'c mut Tx) -> Self {
        match t {
            Tx::Sqlite(t) => Ex::Sqlite(t),
            Tx::Postgres(t) => Ex::Postgres(t),
        }
    }
}

/// Runs `$body` with `$e` bound to the executor of `$ex` (anything that
/// is `Into<Ex>`): the same statement, bindings and row types compile once
/// per backend. SQL is written for both (`$1` placeholders, `TRUE`/`FALSE`,
/// `CAST(SUM(..) AS BIGINT)`); where the dialects differ, the function picks
/// the text by `Ex::dialect`.
#[macro_export]
macro_rules! on {
    ($ex:expr, $e:ident => $body:expr) => {{
        match Into::<$crate::storage::Ex>::into($ex) {
            $crate::storage::Ex::SqlitePool($e) => $body,
            $crate::storage::Ex::Sqlite($e) => $body,
            $crate::storage::Ex::PgPool($e) => $body,
            $crate::storage::Ex::Postgres($e) => $body,
        }
    }};
}
pub use crate::on;

/// Who runs write jobs: SQLite's writer thread (group commit), or a
/// PostgreSQL pool (a transaction per job).
#[derive(Clone)]
enum Hot {
    Sqlite(writer::Writer),
    Postgres(std::sync::Arc<pg_writers::Writers>),
}

/// Where the data lives.
#[derive(Clone, Debug)]
pub enum Location {
    /// The SQLite file, for connections of their own (exports, the writer).
    Sqlite(std::path::PathBuf),
    Postgres,
}

/// SQLite has one writer. The hot path's writes go to the writer thread,
/// which commits them in small groups; the other writes go through a pool
/// of one connection, so they queue in-process instead of spinning on
/// SQLITE_BUSY. Reads use a separate pool and, thanks to WAL, never wait.
/// On PostgreSQL `write` and `read` are the same pool.
#[derive(Clone)]
pub struct Db {
    /// For writes off the hot path (imports, accounts, settings).
    pub write: Pool,
    pub read: Pool,
    /// The hot path's writes: claims, submissions, skips (see `hot`).
    hot: Hot,
    /// Per-request lookups (principals, projects, memberships); see `cache`.
    pub caches: std::sync::Arc<cache::Caches>,
    pub location: Location,
    /// The task this handle runs beside the requests, stopped by `close`:
    /// PostgreSQL's, which clears the caches when another instance changes
    /// something (`cache::listen`); SQLite's, which keeps the planner's
    /// statistics up to date (`keep_sqlite_statistics`).
    background: std::sync::Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// PostgreSQL: the connections snapshots may hold at once (`export::Snapshot`).
    pub(crate) snapshot_slots: std::sync::Arc<export::Slots>,
    /// When a judgement's job last returned expired leases to the pool (ms);
    /// see `sweep_due`.
    last_sweep: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// How often a judgement's job returns expired leases to the pool (claims
/// asked for apart always do).
const SWEEP_EVERY_MS: i64 = 1_000;

/// The SQLite schema's migrations, embedded in the binary.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
/// The PostgreSQL schema's migrations, embedded in the binary.
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The advisory lock key of `begin_write` on PostgreSQL ("Arbiter" in ASCII).
const WRITE_LOCK: i64 = 0x41_72_62_69_74_65_72;

/// Connections each instance keeps to PostgreSQL at most for reads and the
/// writes off the hot path.
const PG_POOL_SIZE: u32 = 16;

/// Threads (each with a connection of its own) that run an instance's write
/// jobs on PostgreSQL, unless `--pg-write-threads` says otherwise. Each
/// commits the annotators' jobs queued behind it together (`pg_writers`):
/// on the 2-core benchmark machine two instances with one thread each did
/// 2,175–2,353 judgements/s, with two each 1,872–2,068/s (docs/benchmarks.md,
/// eighth session): more concurrent transactions than the database's cores
/// only queue inside it, and hold each other's rows longer.
pub const PG_WRITERS: usize = 2;

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

/// SQLite's planner statistics, gathered where they are missing or stale:
/// tables never analyzed, or grown or shrunk tenfold since (`0x2`), looked
/// at all, not only those this connection used (`0x10000`), as SQLite
/// advises when a long-lived connection opens. `analysis_limit` bounds the
/// work (about 1,000 rows sampled per index), so it takes milliseconds on a
/// big file. Without statistics the hot path ran 35-40% slower
/// (docs/benchmarks.md, sixth session).
const SQLITE_OPTIMIZE: [&str; 2] = ["PRAGMA analysis_limit = 1000", "PRAGMA optimize = 0x10002"];

/// `SQLITE_OPTIMIZE` on a connection of `pool`: at open, before the writer
/// thread and the read connections open, which then load what it gathered.
pub(crate) async fn sqlite_optimize(pool: &sqlx::SqlitePool) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    for sql in SQLITE_OPTIMIZE {
        sqlx::query(sql).execute(&mut *conn).await?;
    }
    Ok(())
}

/// `SQLITE_OPTIMIZE` inside a write job. SQLite loads the statistics an
/// `ANALYZE` gathered into the connection that ran it, and into others only
/// when they next read the schema (they would keep planning from the old
/// ones): so after the file is open it runs on the writer thread's
/// connection, the hot path's. The other connections pick them up when
/// sqlx replaces them (within 30 minutes).
pub(crate) fn sqlite_optimize_here(c: &mut dyn conn::Conn) -> crate::Result<()> {
    for sql in SQLITE_OPTIMIZE {
        c.query(sql, &[])?;
    }
    Ok(())
}

/// How often an open SQLite file's planner statistics are refreshed: a
/// campaign's tables grow from nothing to millions of rows between two
/// restarts, and SQLite advises `PRAGMA optimize` every few hours on
/// long-lived connections.
const SQLITE_STATISTICS_EVERY: Duration = Duration::from_secs(60 * 60);

/// Runs `sqlite_optimize_here` on the writer thread every `every`, until
/// the writer is closed.
fn keep_sqlite_statistics(writer: writer::Writer, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match writer.run_bulk(|c| sqlite_optimize_here(&mut conn::SqliteConn(c))).await {
                Ok(()) => {}
                Err(_) if writer.is_closed() => return,
                Err(e) => tracing::warn!(error = %e, "could not refresh SQLite's planner statistics"),
            }
        }
    })
}

/// A database URL Arbiter understands, parsed once at the edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://path/to/file.db` (the path after the scheme).
    Sqlite(String),
    /// `postgres://` or `postgresql://…`, as given.
    Postgres(String),
}

const URL_HELP: &str = "use sqlite://path/to/arbiter.db or postgres://user@host:5432/db";

impl DatabaseUrl {
    /// Anything but these two schemes is refused, so a mistyped URL never
    /// silently becomes a file of that name.
    pub fn parse(url: &str) -> anyhow::Result<DatabaseUrl> {
        match url.split_once("://") {
            Some(("sqlite", rest)) if !rest.is_empty() => Ok(DatabaseUrl::Sqlite(rest.to_owned())),
            Some(("sqlite", _)) => anyhow::bail!("database URL {url:?} names no file ({URL_HELP})"),
            Some(("postgres" | "postgresql", rest)) if !rest.is_empty() => Ok(DatabaseUrl::Postgres(url.to_owned())),
            Some(("postgres" | "postgresql", _)) => {
                anyhow::bail!("database URL {url:?} names no server ({URL_HELP})")
            }
            Some((scheme, _)) => anyhow::bail!("database URL scheme {scheme:?} is not supported ({URL_HELP})"),
            None => anyhow::bail!("database URL {url:?} has no scheme ({URL_HELP})"),
        }
    }
}

impl Db {
    /// Opens (creating if needed) and migrates the database at `url`.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        Self::connect_with(url, PG_WRITERS).await
    }

    /// `connect`, with `pg_write_threads` write-job threads (and connections)
    /// on PostgreSQL; SQLite has its one writer thread whatever it says.
    pub async fn connect_with(url: &str, pg_write_threads: usize) -> anyhow::Result<Db> {
        match DatabaseUrl::parse(url)? {
            DatabaseUrl::Sqlite(_) => Self::connect_sqlite(url, SQLITE_STATISTICS_EVERY).await,
            DatabaseUrl::Postgres(_) => Self::connect_postgres(url, pg_write_threads.max(1)).await,
        }
    }

    /// Several instances share one PostgreSQL database: each has a pool for
    /// reads and the writes off the hot path, and write-job threads with a
    /// connection each (`pg_writers`). The migrations run under
    /// PostgreSQL's advisory lock, so instances starting together apply
    /// them once. Lost connections are replaced (the pool checks each
    /// before use; a write-job thread replaces one that failed), so a
    /// restarted server is picked up by itself.
    async fn connect_postgres(url: &str, write_threads: usize) -> anyhow::Result<Db> {
        let opts = PgConnectOptions::from_str(url).with_context(|| "Failed to parse the PostgreSQL URL".to_string())?;
        let place = format!("{}:{}/{}", opts.get_host(), opts.get_port(), opts.get_database().unwrap_or("(default)"));
        let pool = PgPoolOptions::new()
            .max_connections(PG_POOL_SIZE)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .with_context(|| format!("Failed to connect to PostgreSQL at {place}"))?;
        POSTGRES_MIGRATIONS.run(&pool).await.context("Failed to run database migrations")?;
        let caches = std::sync::Arc::new(cache::Caches::with_ttl(cache::SHARED_TTL));
        let listener = cache::listen(pool.clone(), caches.clone());
        let writers = pg_writers::Writers::start(pool.connect_options().as_ref().clone(), write_threads)
            .context("Failed to start the write-job threads")?;
        Ok(Db {
            write: Pool::Postgres(pool.clone()),
            read: Pool::Postgres(pool),
            hot: Hot::Postgres(std::sync::Arc::new(writers)),
            caches,
            location: Location::Postgres,
            background: std::sync::Arc::new(std::sync::Mutex::new(Some(listener))),
            snapshot_slots: Default::default(),
            last_sweep: Default::default(),
        })
    }

    /// Something the request caches hold changed (an account, a token, a
    /// session, a project's settings or members): this instance forgets
    /// them at once, and on PostgreSQL tells the others (`NOTIFY`), which
    /// do the same.
    pub async fn changed(&self) {
        self.caches.clear_all();
        if let Pool::Postgres(p) = &self.write {
            if let Err(e) = sqlx::query("SELECT pg_notify($1, '')").bind(cache::CHANNEL).execute(p).await {
                tracing::warn!(error = %e, "could not tell the other instances to forget their caches");
            }
        }
    }

    /// `connect` for a SQLite file whose statistics are refreshed every
    /// `statistics_every` instead of hourly (tests).
    #[doc(hidden)]
    pub async fn connect_sqlite_with_statistics_every(url: &str, statistics_every: Duration) -> anyhow::Result<Db> {
        Self::connect_sqlite(url, statistics_every).await
    }

    async fn connect_sqlite(url: &str, statistics_every: Duration) -> anyhow::Result<Db> {
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
        // Statistics help; a file whose write lock another process holds
        // past the busy timeout (a running server's import) opens without them.
        if let Err(e) = sqlite_optimize(&write).await {
            tracing::warn!(error = %e, "could not gather SQLite's planner statistics");
        }
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(opts.read_only(true))
            .await
            .context("Failed to open read connections")?;
        let writer = writer::Writer::start(&path).context("Failed to start the writer thread")?;
        let statistics = keep_sqlite_statistics(writer.clone(), statistics_every);
        Ok(Db {
            write: Pool::Sqlite(write),
            read: Pool::Sqlite(read),
            hot: Hot::Sqlite(writer),
            caches: Default::default(),
            location: Location::Sqlite(path),
            background: std::sync::Arc::new(std::sync::Mutex::new(Some(statistics))),
            snapshot_slots: Default::default(),
            last_sweep: Default::default(),
        })
    }

    /// A write transaction. On SQLite it holds the write lock from its first
    /// statement (BEGIN IMMEDIATE), so read-then-write logic never hits
    /// SQLITE_BUSY halfway.
    pub async fn begin_write(&self) -> sqlx::Result<Tx> {
        Ok(match &self.write {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                // One such transaction at a time across instances, as SQLite's
                // write lock gives: read-then-write checks (the last admin, a
                // consumed invite) hold without further locking.
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await?;
                Tx::Postgres(tx)
            }
        })
    }

    /// Whether several instances may share this database (PostgreSQL): what
    /// they must agree on (the login throttle's counts) is kept in it.
    pub fn is_shared(&self) -> bool {
        matches!(self.location, Location::Postgres)
    }

    /// The SQLite file, for the operations that work on the file itself.
    pub fn sqlite_file(&self) -> crate::Result<&std::path::Path> {
        match &self.location {
            Location::Sqlite(path) => Ok(path),
            Location::Postgres => Err(crate::Error::bad("this works on SQLite databases only")),
        }
    }

    /// Runs a write job of the hot path (a claim, a submission, a skip) in a
    /// transaction and answers once it is committed; an `Err` from the job
    /// undoes its writes and nothing else. SQLite: on the writer thread, in
    /// a group commit with the jobs queued beside it. PostgreSQL: on one of
    /// the write-job threads (`pg_writers`), in a transaction of its own,
    /// run again (from the start) after a lost connection, a deadlock or a
    /// serialization failure (`hot_as` jobs are group-committed there too).
    pub async fn hot<T, F>(&self, job: F) -> crate::Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn conn::Conn) -> crate::Result<T> + Send + 'static,
    {
        self.job(job, false, None).await
    }

    /// Whether the job of a judgement that brings the next task, at `now`,
    /// should first return expired leases to the pool: once a second per
    /// instance (every claim asked for apart does it too). A sweep is a
    /// statement of its own there; every judgement's would be a quarter of
    /// PostgreSQL's statements for a slot freed a second sooner.
    pub fn sweep_due(&self, now: i64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let last = self.last_sweep.load(Relaxed);
        // A clock set back is not a reason to stop sweeping.
        (now - last >= SWEEP_EVERY_MS || now < last)
            && self.last_sweep.compare_exchange(last, now, Relaxed, Relaxed).is_ok()
    }

    /// `hot` for a job on one annotator's behalf (a claim, a submission, a
    /// skip, the release of their leases): their jobs run one at a time
    /// across instances, so two tabs asking at once get one lease and a
    /// retried submission finds the first one. PostgreSQL: the job begins
    /// holding an advisory lock on their id (taken in the round trip that
    /// begins its transaction, which may be a group commit with the jobs
    /// queued beside it, or its savepoint when that batch runs again job by
    /// job). SQLite's one writer does this already.
    pub async fn hot_as<T, F>(&self, annotator_id: i64, job: F) -> crate::Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn conn::Conn) -> crate::Result<T> + Send + 'static,
    {
        self.job(job, false, Some(annotator_id)).await
    }

    /// Like `hot`, for a long job (an import chunk) that hands over when
    /// `others_waiting` says so: on SQLite it gets a transaction of its own.
    pub async fn hot_bulk<T, F>(&self, job: F) -> crate::Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn conn::Conn) -> crate::Result<T> + Send + 'static,
    {
        self.job(job, true, None).await
    }

    async fn job<T, F>(&self, mut job: F, bulk: bool, annotator: Option<i64>) -> crate::Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn conn::Conn) -> crate::Result<T> + Send + 'static,
    {
        match &self.hot {
            Hot::Sqlite(w) => {
                let run = move |c: &rusqlite::Connection| job(&mut conn::SqliteConn(c));
                if bulk {
                    w.run_bulk(run).await
                } else {
                    w.run(run).await
                }
            }
            Hot::Postgres(writers) => writers.run(annotator, job).await,
        }
    }

    /// Whether write jobs wait behind the one running (a long job hands over).
    pub fn others_waiting(&self) -> impl Fn() -> bool + Send + 'static {
        let w: Box<dyn Fn() -> bool + Send> = match &self.hot {
            Hot::Sqlite(w) => Box::new(w.others_waiting()),
            Hot::Postgres(w) => Box::new(w.others_waiting()),
        };
        move || w()
    }

    /// SQLite's writer thread, for the tests of its group commit.
    pub fn sqlite_writer(&self) -> Option<&writer::Writer> {
        match &self.hot {
            Hot::Sqlite(w) => Some(w),
            Hot::Postgres(..) => None,
        }
    }

    /// Write jobs waiting for SQLite's writer thread, or for one of
    /// PostgreSQL's write-job threads.
    pub fn writer_queue_depth(&self) -> usize {
        match &self.hot {
            Hot::Sqlite(w) => w.queue_depth(),
            Hot::Postgres(w) => w.queue_depth(),
        }
    }

    /// Finishes the queued write jobs, then closes every connection.
    pub async fn close(&self) {
        match &self.hot {
            Hot::Sqlite(w) => w.close().await,
            Hot::Postgres(w) => w.close().await,
        }
        if let Some(task) = self.background.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
        self.write.close().await;
        self.read.close().await;
    }
}

impl Pool {
    pub async fn close(&self) {
        match self {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// (open connections, idle connections).
    pub fn usage(&self) -> (u32, usize) {
        match self {
            Pool::Sqlite(p) => (p.size(), p.num_idle()),
            Pool::Postgres(p) => (p.size(), p.num_idle()),
        }
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

/// How many embedded migrations the database has not applied (0: current).
/// Fails when the database does not answer.
pub async fn migrations_pending(db: &Db) -> sqlx::Result<usize> {
    let ex = Ex::from(&db.read);
    let migrator = match ex.dialect() {
        Dialect::Sqlite => &SQLITE_MIGRATIONS,
        Dialect::Postgres => &POSTGRES_MIGRATIONS,
    };
    let applied: Vec<i64> =
        on!(ex, e => sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(e).await)?;
    Ok(migrator.iter().filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version)).count())
}

/// Connections of each pool: (pool, open, idle).
pub fn pool_use(db: &Db) -> Vec<(&'static str, u32, usize)> {
    let (read, write) = (db.read.usage(), db.write.usage());
    let mut pools = vec![("read", read.0, read.1), ("write", write.0, write.1)];
    if let Hot::Postgres(w) = &db.hot {
        let (open, idle) = w.usage();
        pools.push(("write_jobs", open, idle));
    }
    pools
}

/// A consistent copy of the whole database into a new file. VACUUM INTO
/// reads one snapshot (a read transaction), so writers carry on meanwhile.
pub async fn backup_into(db: &Db, target: &str) -> crate::Result<()> {
    db.sqlite_file()?;
    on!(&db.write, e => sqlx::query("VACUUM INTO $1").bind(target).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_is_utc_with_milliseconds() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::rfc3339(1_764_345_600_123), "2025-11-28T16:00:00.123Z");
    }
}
