//! PostgreSQL's write jobs (claims, submissions, skips, import chunks) run
//! on a few threads of their own, as SQLite's run on its writer thread.
//! Each thread holds one connection and a single-threaded runtime that
//! drives it: a statement's answer wakes the thread waiting for it and
//! nothing else. (On tokio's shared runtime, from a blocking thread, every
//! round trip woke a runtime thread that then woke the waiting one; and
//! sqlx's pool checked each connection with a round trip when it was taken
//! and again when it was given back. 64 annotators on two instances,
//! alternating runs: 815–912 judgements/s that way, 1,148–1,291/s this way;
//! docs/benchmarks.md.)
//!
//! A job runs in a transaction of its own. A lost connection is replaced on
//! the thread's next job; a job that met it (or a deadlock, a serialization
//! failure) runs again from the start, a few times, then answers
//! `Unavailable` (503, worth retrying). Each answer of the database is
//! awaited at most `PG_ANSWER_TIMEOUT`; a connection idle for a while is
//! checked (a `Sync`) before its next job, and one past `MAX_LIFETIME` is
//! replaced. An annotator's jobs wait their turn here, in the instance,
//! before they take a thread: one client sending many at once holds at
//! most one thread waiting for their advisory lock.
use super::conn::{self, Conn, Driver};
use crate::{Error, Result};
use sqlx::postgres::PgConnectOptions;
use sqlx::PgConnection;
use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How often a job is tried when it meets a lost connection, a deadlock or
/// a serialization failure.
const TRIES: u32 = 4;

/// A job that waited this long for a thread is not run: the caller hears
/// `Unavailable` (as from a pool with no connection to give).
const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection unused this long is checked before its next job.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// A connection is replaced after this long (as sqlx's pool does): a
/// server moved behind the same address is picked up.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

type Task = Box<dyn FnOnce(&mut Thread) + Send>;

pub struct Writers {
    jobs: Mutex<Option<flume::Sender<Task>>>,
    /// Jobs sent and not yet taken by a thread.
    queued: Arc<AtomicUsize>,
    /// Threads with a connection open, and those running a job.
    open: Arc<AtomicUsize>,
    busy: Arc<AtomicUsize>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// One turn per annotator: the job on their behalf that is queued or running.
    turns: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Writers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writers")
    }
}

/// One thread's state: its runtime and its connection (opened on its first job).
struct Thread {
    rt: tokio::runtime::Runtime,
    opts: PgConnectOptions,
    /// The connection, when it was opened and when last used.
    conn: Option<(PgConnection, Instant, Instant)>,
    open: Arc<AtomicUsize>,
}

impl Writers {
    /// Starts `n` threads; each connects on its first job.
    pub fn start(opts: PgConnectOptions, n: usize) -> anyhow::Result<Writers> {
        let (tx, rx) = flume::unbounded::<Task>();
        let (queued, open, busy) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let (opts, open) = (opts.clone(), open.clone());
            let (rx, queued, busy) = (rx.clone(), queued.clone(), busy.clone());
            threads.push(std::thread::Builder::new().name(format!("arbiter-pg-{i}")).spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => return tracing::error!(error = %e, "a write-job thread could not start its runtime"),
                };
                let mut t = Thread { rt, opts, conn: None, open };
                while let Ok(task) = rx.recv() {
                    queued.fetch_sub(1, Ordering::SeqCst);
                    busy.fetch_add(1, Ordering::SeqCst);
                    task(&mut t);
                    busy.fetch_sub(1, Ordering::SeqCst);
                }
                t.disconnect();
            })?);
        }
        Ok(Writers {
            jobs: Mutex::new(Some(tx)),
            queued,
            open,
            busy,
            threads: Mutex::new(threads),
            turns: Mutex::default(),
        })
    }

    /// Runs `job` in a transaction on one of the threads and answers once it
    /// is committed. With `annotator`, the transaction begins holding an
    /// advisory lock on their id (`BEGIN` and the lock in one round trip):
    /// one annotator's jobs run one at a time across instances.
    pub async fn run<T, F>(&self, annotator: Option<i64>, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        let Some(id) = annotator else { return self.send(None, job).await };
        let turn = self.turns.lock().unwrap_or_else(|e| e.into_inner()).entry(id).or_default().clone();
        let out = {
            let _mine = turn.lock().await;
            self.send(annotator, job).await
        };
        // The last one out takes the annotator's entry away.
        drop(turn);
        let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
        if turns.get(&id).is_some_and(|t| Arc::strong_count(t) == 1) {
            turns.remove(&id);
        }
        out
    }

    async fn send<T, F>(&self, annotator: Option<i64>, mut job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let sent = Instant::now();
        let task: Task = Box::new(move |t: &mut Thread| {
            let out = if sent.elapsed() > QUEUE_TIMEOUT {
                Err(Error::Unavailable("the database is busy; try again".into()))
            } else {
                std::panic::catch_unwind(AssertUnwindSafe(|| t.run(annotator, &mut job))).unwrap_or_else(|_| {
                    // Whatever the connection was in the middle of, it is not reused.
                    t.disconnect();
                    Err(Error::Internal(anyhow::anyhow!("a write job panicked")))
                })
            };
            let _ = tx.send(out);
        });
        {
            let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            let jobs = jobs.as_ref().ok_or_else(closed)?;
            self.queued.fetch_add(1, Ordering::SeqCst);
            if jobs.send(task).is_err() {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                return Err(closed());
            }
        }
        rx.await.map_err(|_| closed())?
    }

    /// Jobs waiting for a thread (the metrics' queue depth).
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Whether jobs wait for a thread: a long job (an import chunk) checks
    /// this to hand its thread over.
    pub fn others_waiting(&self) -> impl Fn() -> bool + Send + 'static {
        let queued = self.queued.clone();
        move || queued.load(Ordering::SeqCst) > 0
    }

    /// (connections open, of them idle), as sqlx's pools report theirs.
    pub fn usage(&self) -> (u32, usize) {
        let open = self.open.load(Ordering::SeqCst);
        (open as u32, open.saturating_sub(self.busy.load(Ordering::SeqCst)))
    }

    /// Lets the queued jobs finish, then closes the connections and stops
    /// the threads; later jobs answer `Unavailable`.
    pub async fn close(&self) {
        drop(self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take());
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        let _ = tokio::task::spawn_blocking(move || threads.into_iter().for_each(|t| drop(t.join()))).await;
    }
}

fn closed() -> Error {
    Error::Unavailable("the database is shutting down; try again".into())
}

impl Thread {
    fn run<T, F>(&mut self, annotator: Option<i64>, job: &mut F) -> Result<T>
    where
        F: FnMut(&mut dyn Conn) -> Result<T>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            let out = self.try_once(annotator, job);
            match out {
                Err(Error::Unavailable(_)) if tries < TRIES => {
                    std::thread::sleep(Duration::from_millis(25 * u64::from(tries)));
                }
                other => return other,
            }
        }
    }

    fn try_once<T, F>(&mut self, annotator: Option<i64>, job: &mut F) -> Result<T>
    where
        F: FnMut(&mut dyn Conn) -> Result<T>,
    {
        let stale = match &mut self.conn {
            Some((_, opened, _)) if opened.elapsed() > MAX_LIFETIME => true,
            Some((conn, _, used)) if used.elapsed() > IDLE_CHECK => {
                let ping = sqlx::Connection::ping(conn);
                !matches!(self.rt.block_on(async { tokio::time::timeout(CONNECT_TIMEOUT, ping).await }), Ok(Ok(())))
            }
            _ => false,
        };
        if stale {
            self.disconnect();
        }
        if self.conn.is_none() {
            let connect = <PgConnection as sqlx::Connection>::connect_with(&self.opts);
            let conn = self
                .rt
                .block_on(async { tokio::time::timeout(CONNECT_TIMEOUT, connect).await })
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
            self.conn = Some((conn, Instant::now(), Instant::now()));
            self.open.fetch_add(1, Ordering::SeqCst);
        }
        let begin: Cow<'static, str> = match annotator {
            // An integer written into the text: the simple protocol runs
            // both statements in one round trip.
            Some(id) => format!("BEGIN; SELECT pg_advisory_xact_lock({id})").into(),
            None => "BEGIN".into(),
        };
        let driver = Driver::Runtime(&self.rt);
        let (conn, _, used) = self.conn.as_mut().expect("connected above");
        *used = Instant::now();
        // `broken`: the connection is in no state to be used again.
        let out = match driver.run(sqlx::Connection::begin_with(conn, begin)) {
            // The begin failed, perhaps after `BEGIN` ran (the lock timed out
            // or was cancelled): sqlx rolls back only a transaction it
            // counted as begun.
            Err(e) => Err((e, true)),
            Ok(mut tx) => match job(&mut conn::PgConn { driver: driver.clone(), conn: &mut tx }) {
                Ok(v) => driver.run(tx.commit()).map(|()| v).map_err(|e| (e, true)),
                Err(e) => {
                    let rolled_back = driver.run(tx.rollback()).is_ok();
                    Err((e, !rolled_back))
                }
            },
        };
        out.map_err(|(e, broken)| {
            // A lost connection (or one in an unknown state) is replaced.
            if broken || matches!(e, Error::Unavailable(_) | Error::Internal(_)) {
                self.disconnect();
            }
            e
        })
    }

    fn disconnect(&mut self) {
        if let Some((conn, _, _)) = self.conn.take() {
            self.open.fetch_sub(1, Ordering::SeqCst);
            // A polite goodbye when the server still listens; none is owed otherwise.
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(1), sqlx::Connection::close(conn)).await });
        }
    }
}
