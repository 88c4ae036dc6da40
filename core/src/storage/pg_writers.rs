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
//! Group commit, as on SQLite: the annotators' jobs queued when a thread
//! takes one (at most `MAX_BATCH`) share its transaction, and all are
//! answered after the one `COMMIT` that made them durable. The round trip
//! that begins it takes every annotator's advisory lock, and the jobs run
//! one after another. Should one fail, the transaction is undone and the
//! batch runs again job by job, each in a savepoint of its own (one round
//! trip opens it and takes the annotator's lock): a job's error undoes its
//! own writes only. (A savepoint per job cost a round trip and a
//! subtransaction each: 2,199–2,235 against 2,378–2,550 judgements/s.) A job that waits
//! for a lock another transaction holds gives up after `BATCH_LOCK_TIMEOUT`
//! (two batches could each hold what the other's job waits for) and runs
//! again after its batch, alone, waiting as long as it must. Any other job
//! (an import chunk, a maintenance write) runs in a transaction of its own.
//!
//! A lost connection is replaced on the thread's next transaction; a batch
//! that met it (or a lone job a deadlock, a serialization failure) runs
//! again from the start, a few times, then answers `Unavailable` (503, worth
//! retrying). Each answer of the database is awaited at most
//! `PG_ANSWER_TIMEOUT`; a connection idle for a while is checked (a `Sync`)
//! before its next job, and one past `MAX_LIFETIME` is replaced. An
//! annotator's jobs wait their turn here, in the instance, before they take
//! a thread: one client sending many at once holds at most one thread
//! waiting for their advisory lock.
use super::conn::{self, Conn, Driver};
use crate::{Error, Result};
use sqlx::postgres::PgConnectOptions;
use sqlx::PgConnection;
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

/// How long a batch waits for a row or an advisory lock that another
/// transaction holds before it is undone and run again job by job, where
/// the job that waits as long is undone in its savepoint and runs again
/// after the batch: two batches that each hold what the other's job waits
/// for would otherwise wait for PostgreSQL's deadlock check (a second).
const BATCH_LOCK_TIMEOUT: Duration = Duration::from_millis(20);

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

/// At most this many annotators' jobs share one transaction (one `COMMIT`,
/// one flush of the WAL), so one batch cannot keep its first job waiting
/// long (nor hold its rows long).
const MAX_BATCH: usize = 16;

/// A job queued for a thread: it runs inside its batch's transaction
/// (again, from the start, should that transaction be retried), keeps its
/// output, and is answered once the batch is committed.
trait Job: Send {
    /// The annotator on whose behalf it runs: their advisory lock is taken
    /// first. Only such jobs (the hot path's) share a transaction.
    fn annotator(&self) -> Option<i64>;
    /// Waited for a thread past `QUEUE_TIMEOUT`.
    fn stale(&self) -> bool;
    fn run(&mut self, c: &mut dyn Conn) -> Result<()>;
    /// Answers the caller: the kept output when `outcome` is Ok, else the error.
    fn reply(self: Box<Self>, outcome: Result<()>);
}

struct Call<T, F> {
    job: F,
    out: Option<T>,
    tx: oneshot::Sender<Result<T>>,
    annotator: Option<i64>,
    sent: Instant,
}

impl<T, F> Job for Call<T, F>
where
    T: Send,
    F: FnMut(&mut dyn Conn) -> Result<T> + Send,
{
    fn annotator(&self) -> Option<i64> {
        self.annotator
    }

    fn stale(&self) -> bool {
        self.sent.elapsed() > QUEUE_TIMEOUT
    }

    fn run(&mut self, c: &mut dyn Conn) -> Result<()> {
        self.out = Some((self.job)(c)?);
        Ok(())
    }

    fn reply(self: Box<Self>, outcome: Result<()>) {
        let Call { out, tx, .. } = *self;
        let answer =
            outcome.and_then(|()| out.ok_or_else(|| Error::Internal(anyhow::anyhow!("a write job did not run"))));
        let _ = tx.send(answer);
    }
}

pub struct Writers {
    jobs: Mutex<Option<flume::Sender<Box<dyn Job>>>>,
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
        let (tx, rx) = flume::unbounded::<Box<dyn Job>>();
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
                while let Ok(first) = rx.recv() {
                    queued.fetch_sub(1, Ordering::SeqCst);
                    busy.fetch_add(1, Ordering::SeqCst);
                    // Annotators' jobs queued behind it share its transaction;
                    // any other job runs alone, after them.
                    let mut batch = vec![first];
                    let mut alone = None;
                    while batch[0].annotator().is_some() && batch.len() < MAX_BATCH {
                        let Ok(job) = rx.try_recv() else { break };
                        queued.fetch_sub(1, Ordering::SeqCst);
                        if job.annotator().is_some() {
                            batch.push(job);
                        } else {
                            alone = Some(job);
                            break;
                        }
                    }
                    metrics::histogram!("arbiter_writer_batch_size").record(batch.len() as f64);
                    // A panic outside the jobs (a driver's bug) drops the
                    // batch's jobs, whose callers hear `Unavailable`; the
                    // thread goes on with a new connection.
                    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        t.run(batch);
                        if let Some(job) = alone {
                            t.run(vec![job]);
                        }
                    }));
                    if ran.is_err() {
                        tracing::error!("a write-job thread's batch panicked");
                        t.disconnect();
                    }
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
    /// is committed. With `annotator`, the job first takes an advisory lock
    /// on their id (in the round trip that begins the transaction or its
    /// batch, or its savepoint): one annotator's jobs run one at a time
    /// across instances.
    /// Annotators' jobs queued together share a transaction (at most
    /// `MAX_BATCH`): one commit and one flush of the WAL for all of them, and
    /// a job's error undoes its writes only (the batch runs again, each job
    /// in a savepoint of its own).
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

    async fn send<T, F>(&self, annotator: Option<i64>, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let call: Box<dyn Job> = Box::new(Call { job, out: None, tx, annotator, sent: Instant::now() });
        {
            let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            let jobs = jobs.as_ref().ok_or_else(closed)?;
            self.queued.fetch_add(1, Ordering::SeqCst);
            if jobs.send(call).is_err() {
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

/// An error of the batch's own (its `BEGIN`, `COMMIT`, connection), for
/// each of its jobs.
fn clone_err(e: &Error) -> Error {
    match e {
        Error::Unavailable(m) => Error::Unavailable(m.clone()),
        other => Error::Internal(anyhow::anyhow!("{other:#}")),
    }
}

enum Ran {
    Ok,
    Err(Error),
    Panicked,
}

/// Runs one job in the open transaction.
fn run_job(job: &mut Box<dyn Job>, driver: &Driver<'_>, tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Ran {
    match std::panic::catch_unwind(AssertUnwindSafe(|| job.run(&mut conn::PgConn { driver: driver.clone(), conn: tx })))
    {
        Ok(Ok(())) => Ran::Ok,
        Ok(Err(e)) => Ran::Err(e),
        Err(_) => Ran::Panicked,
    }
}

/// Answers the job that panicked (500) and takes it out; whatever the
/// connection was in the middle of, it is not reused, and the batch's
/// other jobs run again on another.
fn panicked(jobs: &mut Vec<Box<dyn Job>>, i: usize) -> Broken {
    jobs.remove(i).reply(Err(Error::Internal(anyhow::anyhow!("a write job panicked"))));
    (Error::Unavailable("a write job panicked".into()), true)
}

/// What a batch's transaction ended in, short of a commit: the error, and
/// whether the connection is in no state to be used again.
type Broken = (Error, bool);

impl Thread {
    /// Runs a batch and answers each of its jobs. A job of a batch that met
    /// a lock held by another transaction (`BATCH_LOCK_TIMEOUT`), a deadlock
    /// or a serialization failure is undone in its savepoint and runs again
    /// after the batch, alone, in a transaction that waits as long as it must.
    fn run(&mut self, jobs: Vec<Box<dyn Job>>) {
        let (stale, jobs): (Vec<_>, Vec<_>) = jobs.into_iter().partition(|j| j.stale());
        for job in stale {
            job.reply(Err(Error::Unavailable("the database is busy; try again".into())));
        }
        let mut deferred = Vec::new();
        self.run_batch(jobs, &mut deferred);
        for job in deferred {
            self.run_batch(vec![job], &mut Vec::new());
        }
    }

    /// A transaction over `jobs`, which runs again from the start when it
    /// met a lost connection (or, for a lone job, a deadlock or a
    /// serialization failure), a few times, then answers `Unavailable`
    /// (503, worth retrying).
    fn run_batch(&mut self, mut jobs: Vec<Box<dyn Job>>, deferred: &mut Vec<Box<dyn Job>>) {
        let mut tries = 0;
        while !jobs.is_empty() {
            tries += 1;
            let out = self.try_once(&mut jobs, deferred).map_err(|(e, broken)| {
                // A lost connection (or one in an unknown state) is replaced.
                if broken || matches!(e, Error::Unavailable(_) | Error::Internal(_)) {
                    self.disconnect();
                }
                e
            });
            match out {
                Ok(replace) => {
                    jobs.drain(..).for_each(|job| job.reply(Ok(())));
                    // A job met an error no one expected: the connection may be
                    // in a state the next batch should not inherit.
                    if replace {
                        self.disconnect();
                    }
                }
                Err(Error::Unavailable(_)) if tries < TRIES && !jobs.is_empty() => {
                    std::thread::sleep(Duration::from_millis(25 * u64::from(tries)));
                }
                Err(e) => jobs.drain(..).for_each(|job| job.reply(Err(clone_err(&e)))),
            }
        }
    }

    /// One transaction over `jobs`. Those that failed on their own are
    /// answered (and taken out) here, those a batch defers are moved to
    /// `deferred`, the rest are answered once it is committed. Ok(true):
    /// committed, and a job's internal error says to replace the connection.
    fn try_once(
        &mut self,
        jobs: &mut Vec<Box<dyn Job>>,
        deferred: &mut Vec<Box<dyn Job>>,
    ) -> std::result::Result<bool, Broken> {
        self.connect().map_err(|e| (e, true))?;
        let driver = Driver::Runtime(&self.rt);
        let (conn, _, used) = self.conn.as_mut().expect("connected above");
        *used = Instant::now();
        // The annotators' advisory locks, taken in the order of their ids
        // (a volatile function in the select list runs after the sort), by one
        // statement (each statement of a simple query is parsed and planned
        // anew: a batch's sixteen took 0.8 ms to begin). Integers written
        // into the text: the simple protocol runs the statements in one
        // round trip.
        let lock = |ids: &[i64]| match ids {
            [] => String::new(),
            [id] => format!("; SELECT pg_advisory_xact_lock({id})"),
            _ => {
                let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                format!("; SELECT pg_advisory_xact_lock(id) FROM unnest('{{{list}}}'::bigint[]) AS t(id) ORDER BY id")
            }
        };
        if jobs.len() == 1 {
            // The transaction is the job's own: on an error all of it is undone.
            let begin = format!("BEGIN{}", lock(jobs[0].annotator().as_slice()));
            // The begin failed, perhaps after `BEGIN` ran (the lock timed out
            // or was cancelled): sqlx rolls back only a transaction it counted as begun.
            let mut tx = driver.run(sqlx::Connection::begin_with(conn, begin)).map_err(|e| (e, true))?;
            let e = match run_job(&mut jobs[0], &driver, &mut tx) {
                Ran::Ok => return driver.run(tx.commit()).map(|()| false).map_err(|e| (e, true)),
                Ran::Panicked => return Err(panicked(jobs, 0)),
                Ran::Err(e) => e,
            };
            let rolled_back = driver.run(tx.rollback()).is_ok();
            if matches!(e, Error::Unavailable(_)) {
                return Err((e, !rolled_back));
            }
            let internal = matches!(e, Error::Internal(_));
            jobs.remove(0).reply(Err(e));
            return match (rolled_back, internal) {
                (true, false) => Ok(false),
                // Nothing is left to answer; the connection is replaced.
                _ => Err((Error::Unavailable("the write job failed".into()), true)),
            };
        }
        let timeout = format!("BEGIN; SET LOCAL lock_timeout = '{}ms'", BATCH_LOCK_TIMEOUT.as_millis());
        // First the whole batch without savepoints, every annotator's lock
        // taken in the round trip that begins it (in the order of their ids,
        // so two such batches never wait for each other's locks). Should a
        // job fail, or a lock be held elsewhere too long, all of it is undone
        // and the batch runs again job by job, each in a savepoint of its own.
        let mut ids: Vec<i64> = jobs.iter().filter_map(|j| j.annotator()).collect();
        ids.sort_unstable();
        ids.dedup();
        let begin = format!("{timeout}{}", lock(&ids));
        let begun = match driver.run(sqlx::Connection::begin_with(&mut *conn, begin)) {
            Ok(mut tx) => {
                let mut i = 0;
                while i < jobs.len() {
                    match run_job(&mut jobs[i], &driver, &mut tx) {
                        Ran::Ok => i += 1,
                        Ran::Panicked => return Err(panicked(jobs, i)),
                        Ran::Err(_) => break,
                    }
                }
                if i == jobs.len() {
                    return driver.run(tx.commit()).map(|()| false).map_err(|e| (e, true));
                }
                driver.run(tx.rollback()).map_err(|e| (e, true))?;
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "a batch could not begin with its annotators' locks");
                false
            }
        };
        // A lock held elsewhere, or a lost connection: the `BEGIN` may have
        // run, and sqlx rolls back only a transaction it counted as begun.
        if !begun {
            driver.run(sqlx::raw_sql("ROLLBACK").execute(&mut *conn)).map_err(|e| (e, true))?;
        }
        metrics::counter!("arbiter_writer_batches_split_total").increment(1);
        let mut tx = driver.run(sqlx::Connection::begin_with(conn, timeout)).map_err(|e| (e, true))?;
        let mut first = true;
        let mut replace = false;
        let mut i = 0;
        while i < jobs.len() {
            let release = if std::mem::take(&mut first) { "" } else { "RELEASE SAVEPOINT job; " };
            let open = format!("{release}SAVEPOINT job{}", lock(jobs[i].annotator().as_slice()));
            let e = match driver.run(sqlx::raw_sql(&open).execute(&mut *tx)) {
                Ok(_) => match run_job(&mut jobs[i], &driver, &mut tx) {
                    Ran::Ok => {
                        i += 1;
                        continue;
                    }
                    Ran::Panicked => return Err(panicked(jobs, i)),
                    Ran::Err(e) => e,
                },
                // The advisory lock waited too long (another instance's batch holds it).
                Err(e) => e,
            };
            // The job's writes are undone, the batch's others kept. Should
            // that fail, the connection is gone or lost: the whole batch
            // runs again on another (the job too).
            driver.run(sqlx::raw_sql("ROLLBACK TO SAVEPOINT job").execute(&mut *tx)).map_err(|e| (e, true))?;
            let job = jobs.remove(i);
            if matches!(e, Error::Unavailable(_)) {
                deferred.push(job);
            } else {
                replace |= matches!(e, Error::Internal(_));
                job.reply(Err(e));
            }
        }
        driver.run(tx.commit()).map(|()| replace).map_err(|e| (e, true))
    }

    /// A connection ready for a transaction: checked when idle a while,
    /// replaced when old or lost.
    fn connect(&mut self) -> Result<()> {
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
            let mut conn = self
                .rt
                .block_on(async { tokio::time::timeout(CONNECT_TIMEOUT, connect).await })
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
            // Each statement is planned once, for any values: a pick's plan
            // walks its index and probes each candidate
            // (`assignments::probe`) whatever the values, and PostgreSQL's
            // cost comparison would otherwise plan some picks anew at every
            // claim once the statistics change (the ranking pick after a
            // `VACUUM`). So no write-job statement may need its values to be
            // planned well (no `$1 IS NULL OR …`). Set after connecting, not
            // as a startup option, which connection poolers refuse.
            let generic = sqlx::raw_sql("SET plan_cache_mode = force_generic_plan").execute(&mut conn);
            self.rt
                .block_on(async { tokio::time::timeout(CONNECT_TIMEOUT, generic).await })
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
            self.conn = Some((conn, Instant::now(), Instant::now()));
            self.open.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
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
