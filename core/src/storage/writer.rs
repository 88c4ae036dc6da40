//! The one writer of the hot path. A dedicated thread owns a synchronous
//! SQLite connection and runs each job (claim, submit, skip) as plain
//! function calls, so a transaction costs no async round trip per
//! statement. Jobs that arrive together are committed together (group
//! commit): each runs inside its own SAVEPOINT, so one job's error undoes
//! only that job, and every caller hears back only after the COMMIT that
//! made its work durable. A bulk job (an import chunk, `run_bulk`) is the
//! exception: it gets a transaction of its own, so the short jobs of its
//! batch never wait for it to commit theirs.
//!
//! Should SQLite roll the whole transaction back under a job (a full disk,
//! an I/O error: it leaves autocommit mode), the jobs before it in the
//! batch are told so (`Unavailable`, safe to retry: their writes are gone)
//! and the rest of the batch goes on in a new transaction. A job is never
//! run outside a transaction.
use crate::{Error, Result};
use rusqlite::Connection;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;

/// At most this many jobs share one transaction, so one batch cannot keep
/// the others waiting long.
const MAX_BATCH: usize = 64;
/// BEGIN IMMEDIATE waits `BUSY_TIMEOUT` for the write lock (another
/// process, an import); this many waits before the batch is given up.
const BEGIN_TRIES: u32 = 3;

/// A unit of work: run inside the batch's transaction, then told whether
/// the batch committed.
trait Job: Send {
    /// Returns false when the job failed and its savepoint must be undone.
    fn run(&mut self, conn: &Connection) -> bool;
    /// A long job (an import chunk): it runs in a transaction of its own,
    /// so the short jobs of its batch never wait for it to commit theirs.
    fn bulk(&self) -> bool;
    /// Answers the caller: its own result if `committed` is Ok, else the error.
    fn reply(self: Box<Self>, committed: std::result::Result<(), Error>);
}

struct Call<T, F> {
    f: Option<F>,
    out: Option<Result<T>>,
    tx: oneshot::Sender<Result<T>>,
    bulk: bool,
}

impl<T, F> Job for Call<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else { return false };
        let out = std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)))
            .unwrap_or_else(|_| Err(Error::Internal(anyhow::anyhow!("a write job panicked"))));
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn bulk(&self) -> bool {
        self.bulk
    }

    fn reply(self: Box<Self>, committed: std::result::Result<(), Error>) {
        let answer = match (committed, self.out) {
            // A job that failed on its own says why, whatever became of the batch.
            (_, Some(Err(e))) => Err(e),
            (Ok(()), Some(out)) => out,
            (Err(e), _) => Err(e),
            (Ok(()), None) => Err(Error::Internal(anyhow::anyhow!("a write job did not run"))),
        };
        let _ = self.tx.send(answer);
    }
}

enum Message {
    Job(Box<dyn Job>),
    /// Finish what is queued before this, then stop.
    Stop,
}

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Message>,
    /// Jobs waiting behind the one running: sent and not yet taken by the
    /// thread, or taken in the same batch as a bulk job and not yet run.
    queued: Arc<AtomicUsize>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

/// Opens a connection with the same settings as sqlx's (see `PRAGMAS`).
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    for (name, value) in super::PRAGMAS {
        conn.pragma_update(None, name, value)?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl Writer {
    /// Opens the file (already created and migrated) and starts the thread.
    pub fn start(path: &Path) -> anyhow::Result<Writer> {
        let conn = open(path)?;
        let (jobs, rx) = mpsc::channel::<Message>();
        let queued = Arc::new(AtomicUsize::new(0));
        let q = queued.clone();
        let handle = std::thread::Builder::new().name("arbiter-writer".into()).spawn(move || run(conn, rx, q))?;
        Ok(Writer { jobs, queued, thread: Arc::new(Mutex::new(Some(handle))) })
    }

    /// Queues `f` at once (jobs run in the order `run` was called) to run in
    /// the writer's transaction; the future answers once it is committed.
    /// An `Err` from `f` rolls back `f`'s own writes and nothing else.
    pub fn run<T, F>(&self, f: F) -> impl std::future::Future<Output = Result<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.send(f, false)
    }

    /// Like `run`, for a long job that stops early when `others_waiting`
    /// says so: it gets a transaction of its own, committed at once, so the
    /// jobs that came with it in one batch are committed before it starts.
    pub fn run_bulk<T, F>(&self, f: F) -> impl std::future::Future<Output = Result<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.send(f, true)
    }

    fn send<T, F>(&self, f: F, bulk: bool) -> impl std::future::Future<Output = Result<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: Box<dyn Job> = Box::new(Call { f: Some(f), out: None, tx, bulk });
        self.queued.fetch_add(1, Ordering::SeqCst);
        let queued = self.jobs.send(Message::Job(job)).map_err(|_| {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            closed()
        });
        async move {
            queued?;
            rx.await.map_err(|_| closed())?
        }
    }

    /// Whether other jobs are waiting behind the one running: a long job
    /// (an import chunk) checks this to hand the thread over.
    pub fn others_waiting(&self) -> impl Fn() -> bool + Send + 'static {
        let queued = self.queued.clone();
        move || queued.load(Ordering::SeqCst) > 0
    }

    /// How many jobs wait for the writer thread (the metrics' queue depth).
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.thread.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }

    /// Lets the jobs already queued finish and commit, then stops the
    /// thread; later calls to `run` answer `Unavailable`.
    pub async fn close(&self) {
        let _ = self.jobs.send(Message::Stop);
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

fn closed() -> Error {
    Error::Unavailable("the database is shutting down; try again".into())
}

fn begin(conn: &Connection) -> rusqlite::Result<()> {
    let mut tries = 0;
    loop {
        match conn.execute_batch("BEGIN IMMEDIATE") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && tries + 1 < BEGIN_TRIES =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Message>, queued: Arc<AtomicUsize>) {
    let mut stopping = false;
    while !stopping {
        let Ok(first) = rx.recv() else { return };
        let mut batch: Vec<Box<dyn Job>> = Vec::new();
        match first {
            Message::Job(job) => {
                queued.fetch_sub(1, Ordering::SeqCst);
                batch.push(job)
            }
            Message::Stop => return,
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Message::Job(job)) => {
                    queued.fetch_sub(1, Ordering::SeqCst);
                    batch.push(job)
                }
                Ok(Message::Stop) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        metrics::histogram!("arbiter_writer_batch_size").record(batch.len() as f64);
        run_batch(&conn, batch, &queued);
    }
}

/// Runs a batch of jobs in as few transactions as it can and answers each;
/// a bulk job gets a transaction of its own.
fn run_batch(conn: &Connection, batch: Vec<Box<dyn Job>>, queued: &AtomicUsize) {
    // Jobs that ran in the open transaction, waiting for its COMMIT.
    let mut done: Vec<Box<dyn Job>> = Vec::new();
    let mut open = false;
    let total = batch.len();
    for (index, mut job) in batch.into_iter().enumerate() {
        let bulk = job.bulk();
        if bulk && open {
            commit(conn, std::mem::take(&mut done));
            open = false;
        }
        if !open {
            if let Err(e) = begin(conn) {
                let err = busy_or_internal(e, "could not begin a write transaction");
                job.reply(Err(clone_err(&err)));
                continue;
            }
            open = true;
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            job.reply(Err(sql_err(e)));
            continue;
        }
        // The jobs after a bulk job in this batch wait for it like queued ones.
        let behind = if bulk { total - index - 1 } else { 0 };
        queued.fetch_add(behind, Ordering::SeqCst);
        let ok = job.run(conn);
        queued.fetch_sub(behind, Ordering::SeqCst);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back under this job: the
            // writes of the jobs before it are gone. They may retry.
            for earlier in done.drain(..) {
                earlier.reply(Err(Error::Unavailable("the write was rolled back; try again".into())));
            }
            job.reply(Err(Error::Unavailable("the write was rolled back; try again".into())));
            open = false;
            continue;
        }
        let end = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        if let Err(e) = conn.execute_batch(end) {
            tracing::error!(error = %e, "savepoint end failed");
        }
        done.push(job);
        if bulk {
            commit(conn, std::mem::take(&mut done));
            open = false;
        }
    }
    if open {
        commit(conn, done);
    }
}

/// Commits the open transaction and answers the jobs that ran in it.
fn commit(conn: &Connection, done: Vec<Box<dyn Job>>) {
    let committed = match conn.execute_batch("COMMIT") {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::error!(error = %e, "group commit failed");
            let _ = conn.execute_batch("ROLLBACK");
            Err(busy_or_internal(e, "commit failed"))
        }
    };
    for job in done {
        job.reply(committed.as_ref().map(|_| ()).map_err(clone_err));
    }
}

fn busy_or_internal(e: rusqlite::Error, context: &'static str) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
            Error::Unavailable("the database is busy; try again".into())
        }
        _ => Error::Internal(anyhow::Error::new(e).context(context)),
    }
}

/// Errors of a shared step (BEGIN, COMMIT) go to every job of the batch.
fn clone_err(e: &Error) -> Error {
    match e {
        Error::Unavailable(m) => Error::Unavailable(m.clone()),
        other => Error::Internal(anyhow::anyhow!("{other:#}")),
    }
}

pub fn sql_err(e: rusqlite::Error) -> Error {
    Error::Internal(anyhow::Error::new(e).context("database write failed"))
}
