//! The one writer of the hot path. A dedicated thread owns a synchronous
//! SQLite connection and runs each job (claim, submit, skip) as plain
//! function calls, so a transaction costs no async round trip per
//! statement. Jobs that arrive together are committed together (group
//! commit): each runs inside its own SAVEPOINT, so one job's error undoes
//! only that job, and every caller hears back only after the COMMIT that
//! made its work durable.
use crate::{Error, Result};
use rusqlite::Connection;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// At most this many jobs share one transaction, so one batch cannot keep
/// the others waiting long.
const MAX_BATCH: usize = 64;

/// A unit of work: run inside the batch's transaction, then told whether
/// the batch committed. A job that never ran (the transaction could not
/// begin) is only told the error.
trait Job: Send {
    /// Returns false when the job failed and its savepoint must be undone.
    fn run(&mut self, conn: &Connection) -> bool;
    fn reply(self: Box<Self>, committed: std::result::Result<(), String>);
}

struct Call<T, F> {
    f: Option<F>,
    out: Option<Result<T>>,
    tx: oneshot::Sender<Result<T>>,
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

    fn reply(self: Box<Self>, committed: std::result::Result<(), String>) {
        let answer = match (committed, self.out) {
            (Ok(()), Some(out)) => out,
            (Err(e), _) => Err(Error::Internal(anyhow::anyhow!("commit failed: {e}"))),
            (Ok(()), None) => Err(Error::Internal(anyhow::anyhow!("a write job did not run"))),
        };
        let _ = self.tx.send(answer);
    }
}

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Opens the file (already created and migrated) and starts the thread.
    pub fn start(path: &Path) -> anyhow::Result<Writer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        conn.set_prepared_statement_cache_capacity(64);
        let (jobs, rx) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new().name("arbiter-writer".into()).spawn(move || run(conn, rx))?;
        Ok(Writer { jobs })
    }

    /// Runs `f` in the writer's transaction and answers once it is committed.
    /// An `Err` from `f` rolls back `f`'s own writes and nothing else.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: Box<dyn Job> = Box::new(Call { f: Some(f), out: None, tx });
        self.jobs.send(job).map_err(|_| Error::Internal(anyhow::anyhow!("the writer thread is gone")))?;
        rx.await.map_err(|_| Error::Internal(anyhow::anyhow!("the writer thread dropped a job")))?
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            for job in batch {
                job.reply(Err(e.to_string()));
            }
            continue;
        }
        for job in batch.iter_mut() {
            let _ = conn.execute_batch("SAVEPOINT job");
            let ok = job.run(&conn);
            let end = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
            if let Err(e) = conn.execute_batch(end) {
                tracing::error!(error = %e, "savepoint end failed");
            }
        }
        let committed = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for job in batch {
            job.reply(committed.clone());
        }
    }
}

pub fn sql_err(e: rusqlite::Error) -> Error {
    Error::Internal(anyhow::Error::new(e).context("database write failed"))
}
