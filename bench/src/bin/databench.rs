//! Datasets at scale: import and export speed and peak memory of the CLI,
//! and what 32 annotators see while a big import or export runs.
//!
//!     scripts/build.sh --release && cargo build --release -p bench
//!     target/release/databench --lines 10000                 # import 10k lines
//!     target/release/databench --lines 1000000 --load        # 1M: import, export, annotators meanwhile
use anyhow::{bail, Context};
use bench::{cli, serve, stats};
use clap::Parser;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "target/release/arbiter")]
    bin: PathBuf,
    /// Lines of the native JSONL file (one prompt, two completions, about 2.4 KB each).
    #[arg(long, default_value_t = 10_000)]
    lines: usize,
    /// Also measure 32 annotators' saves, idle and while the import and the exports run.
    #[arg(long)]
    load: bool,
    #[arg(long, default_value_t = 32)]
    annotators: usize,
    /// Where to work (default: a temporary folder).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The database (default: a new SQLite file in the work folder); a
    /// PostgreSQL database must be empty.
    #[arg(long)]
    database: Option<String>,
    /// Instead: an HH-RLHF JSONL file (uncompressed) to import, judge as the
    /// file says, export as hh-rlhf and compare byte for byte.
    #[arg(long)]
    hh: Option<PathBuf>,
}

/// Imports an HH-RLHF file, agrees with every line's preference, exports it
/// again and counts the lines that come back byte for byte.
async fn hh_round_trip(args: &Args, dir: &Path, file: &Path) -> anyhow::Result<()> {
    let db_url = format!("sqlite://{}", dir.join("hh.db").display());
    cli(&args.bin, &db_url, &["project", "create", "hh", "--title", "HH", "--annotations-per-pair", "1"], "")?;
    let (secs, _, err) =
        timed(&args.bin, &db_url, &["import", "hh", file.to_str().unwrap(), "--format", "hh-rlhf", "--skip-bad"])?;
    println!("import: {secs:.2} s; {}", err.lines().filter(|l| !l.contains("INFO")).collect::<Vec<_>>().join(" | "));
    seed_annotations(&db_url, "hh").await?;
    // The fixture judged by a formula; make every vote agree with the file instead.
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&db_url).await?;
    sqlx::query("UPDATE annotations SET choice = 3").execute(&pool).await?;
    pool.close().await;
    let out = dir.join("hh-out.jsonl");
    cli(&args.bin, &db_url, &["export", "hh", "--format", "hh-rlhf", "-o", out.to_str().unwrap()], "")?;
    let original = std::fs::read_to_string(file)?;
    let exported = std::fs::read_to_string(&out)?;
    let wanted: std::collections::HashSet<&str> = original.lines().collect();
    let same = exported.lines().filter(|l| wanted.contains(l)).count();
    println!(
        "hh-rlhf: {} lines in, {} exported, {} of them byte-identical to an input line",
        original.lines().count(),
        exported.lines().count(),
        same
    );
    Ok(())
}

/// A native line of about 2.4 KB: a prompt and two long answers.
fn line(i: usize) -> String {
    let models = ["atlas", "boreal", "cinder", "dune"];
    let (a, b) = (models[i % 4], models[(i + 1) % 4]);
    let para = "This answer explains the idea step by step, with **an example**, a list:\n\n- first point\n- second point\n\nand a short summary at the end. ";
    json!({
        "id": format!("d{i}"),
        "prompt": format!("Question {i}: explain something useful about topic {} in plain words, with an example.", i % 977),
        "completions": [
            {"model": a, "text": format!("{a} answer {i}. {}", para.repeat(8))},
            {"model": b, "text": format!("{b} answer {i}. {}", para.repeat(7))},
        ],
    })
    .to_string()
        + "\n"
}

/// Runs `arbiter ARGS` under GNU time: (seconds, peak RSS in MB, stderr).
fn timed(bin: &Path, db_url: &str, args: &[&str]) -> anyhow::Result<(f64, f64, String)> {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "MAXRSS_KB=%M"])
        .arg(bin)
        .arg("--database")
        .arg(db_url)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .context("running /usr/bin/time (apt install time)")?;
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        bail!("arbiter {args:?} failed: {err}");
    }
    let kb: f64 =
        err.lines().find_map(|l| l.strip_prefix("MAXRSS_KB=")).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0);
    Ok((secs, kb / 1024.0, err))
}

/// One annotation per pair of `slug`, written straight into the file (a
/// fixture for the export benchmarks: 1M annotations over HTTP would take
/// longer than the benchmark itself).
async fn seed_annotations(db_url: &str, slug: &str) -> anyhow::Result<i64> {
    use arbiter_core::on;
    let db = arbiter_core::storage::Db::connect(db_url).await?;
    let now = 1_764_000_000_000i64;
    on!(&db.write, e => sqlx::query(
        "INSERT INTO users (uuid, username, role, created_at) VALUES ('bench-u', 'bench-annotator', 'annotator', $1)
         ON CONFLICT DO NOTHING")
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    let user: i64 = on!(&db.write, e => sqlx::query_scalar("SELECT id FROM users WHERE username = 'bench-annotator'").fetch_one(e).await)?;
    let project: i64 = on!(&db.write, e => sqlx::query_scalar("SELECT id FROM projects WHERE slug = $1").bind(slug).fetch_one(e).await)?;
    on!(&db.write, e => sqlx::query(
        "INSERT INTO assignments (uuid, project_id, prompt_id, pair_id, annotator_id, swapped, state, leased_at,
                                  lease_expires_at, finished_at)
         SELECT 'as-' || id, project_id, prompt_id, id, $1, id % 2 = 1, 'submitted', $2, $2 + 600000, $2 + 1000
         FROM pairs WHERE project_id = $3",
    )
    .bind(user)
    .bind(now)
    .bind(project)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    let n = on!(&db.write, e => sqlx::query(
        "INSERT INTO annotations (uuid, assignment_id, project_id, prompt_id, pair_id, annotator_id, client_key,
                                  request_hash, choice_shown, choice, both_bad, flags, rationale, time_ms, created_at)
         SELECT 'an-' || s.id, s.id, s.project_id, s.prompt_id, s.pair_id, s.annotator_id, 'ck-' || s.id, 'h',
                (s.pair_id % 7) - 3, CASE WHEN s.swapped THEN (s.pair_id % 7) - 3 ELSE 3 - (s.pair_id % 7) END,
                FALSE, '[]', '', 1000, s.finished_at
         FROM assignments s WHERE s.project_id = $1 AND s.annotator_id = $2",
    )
    .bind(project)
    .bind(user)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    on!(&db.write, e => sqlx::query("UPDATE pairs SET submitted = 1, load = 1 WHERE project_id = $1").bind(project).execute(e).await.map(|r| r.rows_affected()))?;
    // As after an import: PostgreSQL plans from fresh statistics.
    if db.is_shared() {
        on!(&db.write, e => sqlx::query("ANALYZE").execute(e).await.map(|r| r.rows_affected()))?;
    }
    db.close().await;
    Ok(n as i64)
}

struct Load {
    stop: Arc<AtomicBool>,
    handles: Vec<tokio::task::JoinHandle<(Vec<Duration>, u64)>>,
}

/// `tokens` annotators doing next → submit as fast as they can until stopped
/// (or until the load project has no task left for them: then the figures
/// would be of nothing, and `finish` says so).
fn annotate(url: &str, tokens: &[String], seq: Arc<AtomicU64>) -> Load {
    let client = reqwest::Client::builder().pool_max_idle_per_host(tokens.len()).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let handles = tokens
        .iter()
        .cloned()
        .map(|token| {
            let (client, url, stop, seq) = (client.clone(), url.to_owned(), stop.clone(), seq.clone());
            tokio::spawn(async move {
                let (mut saves, mut errors) = (Vec::new(), 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let r =
                        client.post(format!("{url}/api/v1/projects/load/tasks/next")).bearer_auth(&token).send().await;
                    let task: Value = match r {
                        Ok(r) if r.status() == 200 => r.json().await.unwrap_or_default(),
                        Ok(r) if r.status() == 204 => {
                            eprintln!(
                                "warning: the load project ran out of tasks; the figures cover part of the phase"
                            );
                            break;
                        }
                        _ => {
                            errors += 1;
                            continue;
                        }
                    };
                    let Some(id) = task["task_id"].as_str() else {
                        errors += 1;
                        continue;
                    };
                    let key = format!("db-{}", seq.fetch_add(1, Ordering::Relaxed));
                    let t = Instant::now();
                    let r = client
                        .post(format!("{url}/api/v1/tasks/{id}/annotation"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", &key)
                        .json(&json!({"choice": 1, "time_ms": 1000}))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 201 || r.status() == 200 => saves.push(t.elapsed()),
                        _ => errors += 1,
                    }
                }
                (saves, errors)
            })
        })
        .collect();
    Load { stop, handles }
}

impl Load {
    async fn finish(self) -> (bench::Stats, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut all, mut errors) = (Vec::new(), 0);
        for h in self.handles {
            let (s, e) = h.await.unwrap_or_default();
            all.extend(s);
            errors += e;
        }
        (stats(all), errors)
    }
}

/// Starts the server with room for a large upload.
fn serve_big(bin: &Path, db_url: &str, dir: &Path) -> anyhow::Result<bench::Server> {
    std::env::set_var("ARBITER_MAX_IMPORT_MB", "8192");
    serve(bin, db_url, dir)
}

/// Peak resident memory of a running process (VmHWM), in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    if let Some(hh) = &args.hh {
        return hh_round_trip(&args, &dir, hh).await;
    }
    let db_url = args.database.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("data.db").display()));
    let file = dir.join(format!("native-{}.jsonl", args.lines));
    if !file.exists() {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for i in 0..args.lines {
            w.write_all(line(i).as_bytes())?;
        }
        w.flush()?;
    }
    let mb = std::fs::metadata(&file)?.len() as f64 / 1e6;
    cli(&args.bin, &db_url, &["project", "create", "data", "--title", "Data", "--annotations-per-pair", "1"], "")?;

    // Annotators and their own project first, so the load can run during the import.
    let mut tokens = Vec::new();
    let mut admin = String::new();
    let seq = Arc::new(AtomicU64::new(0));
    let server = if args.load {
        cli(&args.bin, &db_url, &["project", "create", "load", "--title", "Load", "--annotations-per-pair", "3"], "")?;
        let load_file = dir.join("load.jsonl");
        // Enough tasks for the annotators to stay busy through the import
        // and both exports (at N = 3, 1.8M saves; they make ~900k in a run).
        std::fs::write(&load_file, bench::dataset(600_000))?;
        cli(&args.bin, &db_url, &["import", "load", load_file.to_str().unwrap()], "")?;
        tokens = bench::annotators(&args.bin, &db_url, "load", "ann", args.annotators)?;
        cli(&args.bin, &db_url, &["user", "add", "boss", "--role", "admin"], "benchmark password\n")?;
        admin = cli(&args.bin, &db_url, &["token", "create", "boss"], "")?;
        Some(serve_big(&args.bin, &db_url, &dir)?)
    } else {
        None
    };
    let measure_idle = |server: &bench::Server, secs: u64| {
        let load = annotate(&server.url, &tokens, seq.clone());
        async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            load.finish().await
        }
    };
    if let Some(s) = &server {
        let (st, e) = measure_idle(s, 20).await;
        println!("saves idle (20 s): {st} errors={e}");
    }

    // Import.
    let (secs, rss, err, during_import) = match &server {
        // With annotators at work, the import goes through the server (the
        // way to import while people annotate: one process, one writer queue).
        Some(s) => {
            let load = annotate(&s.url, &tokens, seq.clone());
            let t = Instant::now();
            let body =
                reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(tokio::fs::File::open(&file).await?));
            let r = reqwest::Client::new()
                .post(format!("{}/api/v1/projects/data/import?format=native", s.url))
                .bearer_auth(&admin)
                .body(body)
                .send()
                .await?;
            let status = r.status();
            let report: Value = r.json().await?;
            let secs = t.elapsed().as_secs_f64();
            if !status.is_success() {
                bail!("import failed: {report}");
            }
            let rss = peak_rss_mb(s.child.id());
            (secs, rss, format!("imported over HTTP: {}", report["added"]), Some(load.finish().await))
        }
        None => {
            let (secs, rss, err) = timed(&args.bin, &db_url, &["import", "data", file.to_str().unwrap()])?;
            (secs, rss, err, None)
        }
    };
    println!(
        "import {} native lines ({mb:.1} MB): {secs:.2} s ({:.0} lines/s), peak RSS {rss:.0} MB  [{}]",
        args.lines,
        args.lines as f64 / secs,
        err.lines().find(|l| l.starts_with("imported")).unwrap_or("").trim()
    );
    if server.is_some() {
        println!("(peak RSS is the server's, over its whole life)");
    }
    if let Some((st, e)) = during_import {
        println!("saves during the import: {st} errors={e}");
    }

    // Exports of one annotation per pair.
    let seeded = seed_annotations(&db_url, "data").await?;
    for (label, extra) in
        [("trl jsonl", vec!["--format", "trl"]), ("trl parquet", vec!["--format", "trl", "--as", "parquet"])]
    {
        let out = dir.join(format!("out-{}", label.replace(' ', ".")));
        let mut a = vec!["export", "data", "-o", out.to_str().unwrap()];
        a.extend(extra);
        let load = server.as_ref().map(|s| annotate(&s.url, &tokens, seq.clone()));
        let (secs, rss, err) = timed(&args.bin, &db_url, &a)?;
        let during = match load {
            Some(l) => Some(l.finish().await),
            None => None,
        };
        let size = std::fs::metadata(&out)?.len() as f64 / 1e6;
        println!(
            "export {seeded} annotations, {label}: {secs:.2} s, {size:.0} MB, peak RSS {rss:.0} MB  [{}]",
            err.lines().find(|l| l.starts_with("wrote")).unwrap_or("").trim()
        );
        if let Some((st, e)) = during {
            println!("saves during the export: {st} errors={e}");
        }
        let _ = std::fs::remove_file(&out);
    }
    drop(server);
    Ok(())
}
