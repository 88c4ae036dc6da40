//! Load benchmark of the assignment engine over HTTP: N simulated annotators
//! doing next → submit as fast as they can against one or more release
//! servers on one database, then checks of the invariants on the database.
//!
//!     bash scripts/build.sh --release && target/release/loadgen
//!     target/release/loadgen --database postgres://… --instances 2 [--kill-one-after 10] [--restart-postgres DIR --restart-after 20]
//!
//! With `--kill-one-after`, instance 0 gets SIGKILL then and its annotators
//! go on with another instance (what a load balancer does); with
//! `--restart-postgres`, the PostgreSQL server of that folder (scripts/pg.sh)
//! restarts mid-run. Requests that fail meanwhile are retried with the same
//! idempotency key, as the browser does.
use anyhow::ensure;
use bench::{cli, cpu_seconds, dataset, serve, stats};
use clap::Parser;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// The arbiter binary to benchmark.
    #[arg(long, default_value = "target/release/arbiter")]
    bin: PathBuf,
    #[arg(long, default_value_t = 10_000)]
    pairs: usize,
    #[arg(long, default_value_t = 64)]
    annotators: usize,
    #[arg(long, default_value_t = 3)]
    per_pair: i64,
    /// Stop after this many seconds even if work is left.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// The database (default: a new SQLite file); PostgreSQL must be empty.
    #[arg(long)]
    database: Option<String>,
    /// Servers on the database; annotators are spread over them.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// SIGKILL instance 0 after this many seconds.
    #[arg(long)]
    kill_one_after: Option<u64>,
    /// The scripts/pg.sh folder of the PostgreSQL server to restart mid-run.
    #[arg(long)]
    restart_postgres: Option<PathBuf>,
    #[arg(long, default_value_t = 15)]
    restart_after: u64,
    /// Each save asks for the next task in the same request
    /// (`?next_in=load`, one transaction), as the annotation page does.
    #[arg(long)]
    together: bool,
    /// Judgements per second offered in all (each annotator on a fixed
    /// schedule, latency counted from the time due, so falling behind shows);
    /// without it every annotator goes as fast as answers come.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds at the start whose requests are not counted in the figures
    /// (the servers open connections and fill caches); the checks count all.
    #[arg(long, default_value_t = 0)]
    warmup: u64,
    /// Before the run, this many other annotators (not in the run) have
    /// passed on every pair (skipped, so no pair's load moves), and the
    /// statistics are gathered: the database of a project under way rather
    /// than a fresh one.
    #[arg(long, default_value_t = 0)]
    history: usize,
    /// Also print each second's saves and their p50/p99: whether the tail
    /// comes from a few slow seconds or from all of them.
    #[arg(long)]
    timeline: bool,
}

struct Worker {
    /// Each counted save's second (from the start) and latency.
    saves: Vec<(u64, Duration)>,
    claims: Vec<Duration>,
    acked: Vec<String>,
    errors: u64,
    /// The instance this annotator's requests go to (before any kill).
    instance: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.rate.is_none_or(|r| r.is_finite() && r > 0.0), "--rate: judgements per second, above 0");
    let dir = tempfile::tempdir()?;
    let db_url = args.database.clone().unwrap_or_else(|| format!("sqlite://{}", dir.path().join("load.db").display()));
    let t0 = Instant::now();
    let n = args.per_pair.to_string();
    cli(&args.bin, &db_url, &["project", "create", "load", "--title", "Load", "--annotations-per-pair", &n], "")?;
    let file = dir.path().join("load.jsonl");
    std::fs::write(&file, dataset(args.pairs))?;
    cli(&args.bin, &db_url, &["import", "load", file.to_str().unwrap()], "")?;
    let tokens = bench::annotators(&args.bin, &db_url, "load", "load", args.annotators)?;
    if args.history > 0 {
        history(&db_url, args.history).await?;
    }
    eprintln!("setup: {} pairs, {} annotators in {:.1}s", args.pairs, args.annotators, t0.elapsed().as_secs_f64());

    let mut servers = Vec::new();
    for _ in 0..args.instances.max(1) {
        servers.push(serve(&args.bin, &db_url, dir.path())?);
    }
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let server_pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
    let killed = Arc::new(AtomicBool::new(false));
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(args.annotators).timeout(Duration::from_secs(30)).build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let seq = Arc::new(AtomicU64::new(0));

    // Watches the live invariant while the load runs: no pair with more than
    // N live leases plus annotations. It reads the run's own assignments (ids
    // past those of the setup, whose history is all skipped) and, on
    // PostgreSQL, on a connection of its own whose backend runs at the
    // lowest CPU priority (best effort: `renice`), so it reads while the
    // servers work rather than instead of them. Reading every assignment
    // each second at full priority was, with `--history 30`, a parallel scan
    // of 650,000 rows on both cores (~100 ms), which stalled the servers
    // once a second.
    let watch_db = arbiter_core::storage::Db::connect(&db_url).await?;
    let setup_ids: i64 = arbiter_core::on!(&watch_db.read, e => sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM assignments")
            .fetch_one(e)
            .await)?;
    let watcher = {
        let stop = stop.clone();
        let db = watch_db.clone();
        tokio::spawn(async move {
            const WATCH: &str = "SELECT MAX(c) FROM (SELECT COUNT(*) AS c FROM assignments
                                                     WHERE id > $1 AND state IN ('leased', 'submitted')
                                                     GROUP BY pair_id) x";
            let mut own = match &db.read {
                arbiter_core::storage::Pool::Postgres(p) => p.acquire().await.ok(),
                arbiter_core::storage::Pool::Sqlite(_) => None,
            };
            if let Some(c) = own.as_mut() {
                // No parallel workers (they would run at full priority), and
                // the backend reniced only when it is a local PostgreSQL's.
                let _ = sqlx::query("SET max_parallel_workers_per_gather = 0").execute(&mut **c).await;
                if let Ok(pid) = sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()").fetch_one(&mut **c).await {
                    let local =
                        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres");
                    if local {
                        let _ =
                            std::process::Command::new("renice").args(["-n", "19", "-p", &pid.to_string()]).output();
                    }
                }
            }
            let mut worst = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let m: Option<i64> = match own.as_mut() {
                    Some(c) => sqlx::query_scalar(WATCH).bind(setup_ids).fetch_one(&mut **c).await,
                    None => {
                        arbiter_core::on!(&db.read, e => sqlx::query_scalar(WATCH).bind(setup_ids).fetch_one(e).await)
                    }
                }
                .unwrap_or(None);
                worst = worst.max(m.unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(1000)).await;
            }
            worst
        })
    };

    let started = Instant::now();
    let server_cpu = || server_pids.iter().map(|&p| cpu_seconds(p)).sum::<f64>();
    let (server_cpu0, own_cpu0) = (server_cpu(), cpu_seconds(std::process::id()));
    let deadline = started + Duration::from_secs(args.seconds);
    let mut handles = Vec::new();
    let together = args.together;
    let counted_from = started + Duration::from_secs(args.warmup);
    // With --rate: each annotator's time between judgements, and their first one.
    let annotators = args.annotators as f64;
    let every = args.rate.map(|r| Duration::from_secs_f64(annotators / r));
    for (i, token) in tokens.into_iter().enumerate() {
        let (client, urls, stop, seq, killed) =
            (client.clone(), urls.clone(), stop.clone(), seq.clone(), killed.clone());
        handles.push(tokio::spawn(async move {
            let mut w = Worker {
                saves: Vec::new(),
                claims: Vec::new(),
                acked: Vec::new(),
                errors: 0,
                instance: i % urls.len(),
            };
            // The balancer: this annotator's instance, or another once instance 0 is gone.
            let url_of = |killed: bool| {
                let at = i % urls.len();
                if killed && at == 0 && urls.len() > 1 {
                    urls[1 + i % (urls.len() - 1)].clone()
                } else {
                    urls[at].clone()
                }
            };
            // With --together: the task the last save answered with.
            let mut given: Option<Value> = None;
            let mut finished = false;
            let mut due = every.map(|e| started + e.mul_f64(i as f64 / annotators));
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                // Paced: wait for this judgement's time; its latency counts from then.
                let begun = match (due, every) {
                    (Some(at), Some(e)) => {
                        tokio::time::sleep_until(at.into()).await;
                        due = Some(at + e);
                        at
                    }
                    _ => Instant::now(),
                };
                let task = match given.take() {
                    Some(task) => task,
                    None => {
                        let url = url_of(killed.load(Ordering::Relaxed));
                        let t = begun;
                        let r = client
                            .post(format!("{url}/api/v1/projects/load/tasks/next"))
                            .bearer_auth(&token)
                            .send()
                            .await;
                        let Ok(r) = r else {
                            w.errors += 1;
                            continue;
                        };
                        if r.status() == 204 {
                            break;
                        }
                        if !r.status().is_success() {
                            w.errors += 1;
                            continue;
                        }
                        let task: Value = r.json().await.unwrap_or_default();
                        if t >= counted_from {
                            w.claims.push(t.elapsed());
                        }
                        task
                    }
                };
                let Some(id) = task["task_id"].as_str() else {
                    w.errors += 1;
                    continue;
                };
                let key = format!("load-{}", seq.fetch_add(1, Ordering::Relaxed));
                let choice = (key.len() % 7) as i64 - 3;
                // Together, the request is the judgement's first: it counts from its time due.
                let t = if together { begun } else { Instant::now() };
                // A save that fails (a dead instance, a restarting database) is
                // sent again with its key, to whichever instance serves now.
                for _attempt in 0..50 {
                    let url = url_of(killed.load(Ordering::Relaxed));
                    let then = if together { "?next_in=load" } else { "" };
                    let r = client
                        .post(format!("{url}/api/v1/tasks/{id}/annotation{then}"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", &key)
                        .json(&json!({"choice": choice, "time_ms": 1000}))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 201 || r.status() == 200 => {
                            if t >= counted_from {
                                w.saves.push((t.duration_since(started).as_secs(), t.elapsed()));
                            }
                            if together {
                                // The next task came with the save (claim latency = save latency).
                                // A body lost on the way: the next round claims.
                                match r.json::<Value>().await.map(|mut a| a["next"].take()) {
                                    Ok(Value::Null) => finished = true,
                                    Ok(next) => {
                                        if t >= counted_from {
                                            w.claims.push(t.elapsed());
                                        }
                                        given = Some(next);
                                    }
                                    Err(_) => w.errors += 1,
                                }
                            }
                            w.acked.push(key);
                            break;
                        }
                        Ok(r) if r.status().is_client_error() => {
                            w.errors += 1;
                            break;
                        }
                        _ => {
                            w.errors += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
                if finished {
                    break;
                }
            }
            w
        }));
    }
    // Faults, at their times.
    let mut servers: Vec<Option<bench::Server>> = servers.into_iter().map(Some).collect();
    if let Some(after) = args.kill_one_after {
        tokio::time::sleep(Duration::from_secs(after)).await;
        if let Some(mut s) = servers[0].take() {
            s.child.kill()?; // SIGKILL
            s.child.wait()?;
            killed.store(true, Ordering::Relaxed);
            eprintln!("killed instance 0 (SIGKILL) at {:.1}s", started.elapsed().as_secs_f64());
        }
    }
    if let Some(pgdir) = &args.restart_postgres {
        let wait = Duration::from_secs(args.restart_after).saturating_sub(started.elapsed());
        tokio::time::sleep(wait).await;
        let t = Instant::now();
        let out = std::process::Command::new("bash").arg("scripts/pg.sh").arg("restart").arg(pgdir).output()?;
        ensure!(out.status.success(), "pg.sh restart: {}", String::from_utf8_lossy(&out.stderr));
        eprintln!(
            "restarted PostgreSQL at {:.1}s (took {:.1}s)",
            started.elapsed().as_secs_f64(),
            t.elapsed().as_secs_f64()
        );
    }
    let mut saves = Vec::new();
    let mut claims = Vec::new();
    let mut acked = Vec::new();
    let mut errors = 0;
    let mut by_instance = vec![Vec::new(); args.instances.max(1)];
    for h in handles {
        let w = h.await?;
        by_instance[w.instance].extend(w.saves.iter().map(|&(_, latency)| latency));
        saves.extend(w.saves);
        claims.extend(w.claims);
        acked.extend(w.acked);
        errors += w.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The rates are over the counted time.
    let counted = (elapsed - args.warmup as f64).max(f64::EPSILON);
    let server_cpu = server_cpu() - server_cpu0;
    let own_cpu = cpu_seconds(std::process::id()) - own_cpu0;
    stop.store(true, Ordering::Relaxed);
    let worst_live = watcher.await?;

    if args.timeline {
        let mut by_second = std::collections::BTreeMap::<u64, Vec<Duration>>::new();
        for &(second, latency) in &saves {
            by_second.entry(second).or_default().push(latency);
        }
        for (second, latencies) in by_second {
            println!("second {second:>3}: {}", stats(latencies));
        }
    }
    let (s, c) = (stats(saves.into_iter().map(|(_, latency)| latency).collect()), stats(claims));
    let backend = if db_url.starts_with("sqlite") { "sqlite" } else { "postgres" };
    println!(
        "backend={backend} instances={} annotators={} pairs={} N={} elapsed={:.2}s errors={} together={} offered={} warmup={}s",
        args.instances,
        args.annotators,
        args.pairs,
        args.per_pair,
        elapsed,
        errors,
        args.together,
        args.rate.map_or("as fast as answered".into(), |r| format!("{r}/s")),
        args.warmup,
    );
    println!("claims/s={:.0}  claim latency: {c}", c.n as f64 / counted);
    println!("saves/s={:.0}  save latency:  {s}", s.n as f64 / counted);
    if by_instance.len() > 1 {
        for (k, latencies) in by_instance.into_iter().enumerate() {
            println!("  instance {k}: {}", stats(latencies));
        }
    }
    println!(
        "cpu: server {:.1} cores, loadgen {:.1} cores (of {})",
        server_cpu / elapsed,
        own_cpu / elapsed,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );

    // Invariants, read from the database itself.
    let db = &watch_db.read;
    let dup_pairs: i64 = arbiter_core::on!(db, e => sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM annotations GROUP BY annotator_id, pair_id HAVING COUNT(*) > 1) x",
    )
    .fetch_one(e)
    .await)?;
    let rows: i64 =
        arbiter_core::on!(db, e => sqlx::query_scalar("SELECT COUNT(*) FROM annotations").fetch_one(e).await)?;
    let keys: Vec<String> =
        arbiter_core::on!(db, e => sqlx::query_scalar("SELECT client_key FROM annotations").fetch_all(e).await)?;
    let stored: HashSet<String> = keys.into_iter().collect();
    let missing = acked.iter().filter(|k| !stored.contains(*k)).count();
    let unique_acked: HashSet<&String> = acked.iter().collect();
    let over: i64 = arbiter_core::on!(db, e => sqlx::query_scalar("SELECT COUNT(*) FROM pairs WHERE submitted > $1")
        .bind(args.per_pair)
        .fetch_one(e)
        .await)?;
    println!("check: annotator with two annotations of one pair: {dup_pairs}");
    println!("check: most live leases + annotations seen on one pair: {worst_live} (N = {})", args.per_pair);
    println!("check: pairs over N at the end: {over}");
    println!("check: acknowledged {} / stored {} / acknowledged but missing {missing}", unique_acked.len(), rows);
    drop(servers);
    ensure!(dup_pairs == 0, "an annotator annotated a pair twice");
    ensure!(worst_live <= args.per_pair && over == 0, "a pair went over N");
    ensure!(
        missing == 0 && rows as usize == unique_acked.len(),
        "acknowledged submissions are not stored exactly once"
    );
    println!("violations: 0");
    Ok(())
}

/// `--history`: `n` annotators who skipped every pair, then (PostgreSQL)
/// the tables they grew are analyzed.
async fn history(db_url: &str, n: usize) -> anyhow::Result<()> {
    let db = arbiter_core::storage::Db::connect(db_url).await?;
    let users = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
         INSERT INTO users (uuid, username, role, created_at)
         SELECT 'history-' || i, 'history' || i, 'annotator', 0 FROM n"
    );
    let skipped = "INSERT INTO assignments (uuid, project_id, prompt_id, pair_id, annotator_id, swapped, state,
                                            leased_at, lease_expires_at)
         SELECT u.uuid || '-' || p.id, p.project_id, p.prompt_id, p.id, u.id, FALSE, 'skipped', 0, 0
         FROM pairs p CROSS JOIN users u WHERE u.username LIKE 'history%'";
    // PostgreSQL's statistics as autovacuum would have them. Not those of
    // `annotations`: empty, they would plan its lookups as scans, which a
    // real database has left behind long before. (Arbiter never analyzes a
    // SQLite file, so neither does this.)
    let analyze: &[&str] =
        if db_url.starts_with("postgres") { &["ANALYZE users", "ANALYZE pairs", "ANALYZE assignments"] } else { &[] };
    for sql in [users.as_str(), skipped].iter().chain(analyze) {
        arbiter_core::on!(&db.write, e => sqlx::query(sql).execute(e).await.map(|r| r.rows_affected()))?;
    }
    db.close().await;
    Ok(())
}
