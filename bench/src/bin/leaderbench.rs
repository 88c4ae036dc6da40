//! Leaderboard benchmarks (issue 10).
//!
//! 1. The math at scale, in process: 100 models × 1M battles drawn from
//!    known ratings → tally, Bradley–Terry fit, 100 bootstrap rounds on the
//!    machine's cores, online Elo; and how well the fit recovers the truth.
//! 2. The page at 1M judgements against a release server: the first visit
//!    (the fit is made), later visits (cached), a visit after new votes
//!    (the last fit at once, a refit in the background) and a fresh API read.
//!
//!     bash scripts/build.sh --release && cargo build --release -p bench && target/release/leaderbench
use anyhow::ensure;
use arbiter_core::domain::leaderboard::{
    board, bootstrap, elo, fit, priorities, serving_weights, weighted_order, Battle, Outcome, Tally,
};
use bench::{cli, serve, timed_gets};
use clap::Parser;
use rand::{Rng, SeedableRng};
use sqlx::sqlite::SqlitePoolOptions;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "target/release/arbiter")]
    bin: PathBuf,
    #[arg(long, default_value = "target/site")]
    site_root: PathBuf,
    #[arg(long, default_value_t = 100)]
    models: usize,
    #[arg(long, default_value_t = 1_000_000)]
    battles: usize,
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// Simulated votes per run of the active-selection simulation (0 skips it).
    #[arg(long, default_value_t = 3000)]
    simulate: usize,
    /// Judgements in the page benchmark (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    annotations: usize,
    #[arg(long, default_value_t = 200)]
    renders: usize,
}

fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let rank = |v: &[f64]| {
        let mut ix: Vec<usize> = (0..v.len()).collect();
        ix.sort_by(|&x, &y| v[x].total_cmp(&v[y]));
        let mut r = vec![0.0; v.len()];
        for (k, &i) in ix.iter().enumerate() {
            r[i] = k as f64;
        }
        r
    };
    let (ra, rb) = (rank(a), rank(b));
    let n = a.len() as f64;
    let d2: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - y).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);

    // 1. The math.
    let mut rng = rand::rngs::StdRng::seed_from_u64(10);
    let truth: Vec<f64> = (0..args.models).map(|_| 1000.0 + rng.gen_range(-300.0..300.0)).collect();
    let n = args.models as u32;
    let battles: Vec<Battle> = (0..args.battles)
        .map(|_| {
            let a = rng.gen_range(0..n);
            let b = (a + rng.gen_range(1..n)) % n;
            let p = 1.0 / (1.0 + 10f64.powf((truth[b as usize] - truth[a as usize]) / 400.0));
            // No ties: a tie at random (whatever the strengths) would pull the
            // fitted ratings together, and the truth to cover would move.
            let outcome = if rng.gen::<f64>() < p { Outcome::A } else { Outcome::B };
            Battle { a, b, outcome }
        })
        .collect();
    let t = Instant::now();
    let tally = Tally::of(args.models, battles.iter().copied());
    let tally_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ratings = fit(&tally);
    let fit_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ci = bootstrap(&tally, args.rounds, 42, threads);
    let boot_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let online = elo(args.models, battles.iter().copied());
    let elo_s = t.elapsed().as_secs_f64();
    let mean = truth.iter().sum::<f64>() / truth.len() as f64;
    let covered = (0..args.models)
        .filter(|&m| ci[m].0 <= truth[m] - mean + 1000.0 && truth[m] - mean + 1000.0 <= ci[m].1)
        .count();
    let width = ci.iter().map(|(lo, hi)| hi - lo).sum::<f64>() / ci.len() as f64;
    println!(
        "{} models × {} battles: tally {:.3}s, Bradley–Terry fit {:.3}s, {} bootstrap rounds on {threads} threads {:.2}s, Elo {:.3}s",
        args.models, args.battles, tally_s, fit_s, args.rounds, boot_s, elo_s
    );
    println!(
        "recovery: Spearman ρ(fit, truth) = {:.4}, ρ(Elo, truth) = {:.4}; 95% intervals cover the truth for {covered}/{} models, mean width {:.1} points",
        spearman(&ratings, &truth),
        spearman(&online, &truth),
        args.models,
        width
    );
    if args.simulate > 0 {
        simulate(args.simulate, threads);
    }
    if args.annotations == 0 {
        return Ok(());
    }

    // 2. The page at N judgements: prompts of five answers from twenty
    //    models (ten pairs each), one vote per pair filled in with SQL.
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}", dir.path().join("lb.db").display());
    cli(&args.bin, &db_url, &["project", "create", "lb", "--title", "Leaderboard"], "")?;
    let prompts = args.annotations.div_ceil(10);
    let file = dir.path().join("lb.jsonl");
    let data: String = (0..prompts)
        .map(|i| {
            let completions: Vec<String> = (0..5)
                .map(|k| format!("{{\"model\":\"m{:02}\",\"text\":\"answer {i}.{k}\"}}", (i * 7 + k * 3) % 20))
                .collect();
            format!("{{\"id\":\"q{i}\",\"prompt\":\"Question {i}\",\"completions\":[{}]}}\n", completions.join(","))
        })
        .collect();
    std::fs::write(&file, data)?;
    let t = Instant::now();
    cli(&args.bin, &db_url, &["import", "lb", file.to_str().unwrap()], "")?;
    println!("import of {prompts} prompts × 5 answers: {:.1}s", t.elapsed().as_secs_f64());
    cli(&args.bin, &db_url, &["user", "add", "boss", "--role", "admin"], "benchmark password\n")?;
    let admin = cli(&args.bin, &db_url, &["token", "create", "boss"], "")?;
    let db = SqlitePoolOptions::new().max_connections(1).connect(&db_url).await?;
    let t = Instant::now();
    sqlx::query(
        "INSERT INTO assignments (uuid, project_id, prompt_id, pair_id, annotator_id, swapped, state, leased_at,
                                  lease_expires_at, finished_at)
         SELECT lower(hex(randomblob(16))), p.project_id, p.prompt_id, p.id, u.id, 0, 'submitted', 0, 0, 0
         FROM pairs p CROSS JOIN users u WHERE u.username = 'boss' LIMIT ?",
    )
    .bind(args.annotations as i64)
    .execute(&db)
    .await?;
    sqlx::query(
        "INSERT INTO annotations (uuid, assignment_id, project_id, prompt_id, pair_id, annotator_id, client_key,
                                  request_hash, choice_shown, choice, both_bad, created_at)
         SELECT lower(hex(randomblob(16))), id, project_id, prompt_id, pair_id, annotator_id,
                lower(hex(randomblob(16))), '', c, c, 0, 0
         FROM (SELECT id, project_id, prompt_id, pair_id, annotator_id, (abs(random()) % 7) - 3 AS c FROM assignments)",
    )
    .execute(&db)
    .await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM annotations").fetch_one(&db).await?;
    println!("filled {n} judgements in {:.1}s", t.elapsed().as_secs_f64());

    let server = serve(&args.bin, &db_url, &args.site_root)?;
    let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build()?;
    client
        .post(format!("{}/login", server.url))
        .form(&[("username", "boss"), ("password", "benchmark password")])
        .send()
        .await?;
    let page = format!("{}/admin/projects/lb/leaderboard", server.url);
    let t = Instant::now();
    let first = client.get(&page).send().await?.text().await?;
    ensure!(first.contains("data-testid=\"leaderboard\""), "the leaderboard page shows no table");
    println!("first visit (reads {n} judgements, fits, 100 bootstrap rounds): {:.2}s", t.elapsed().as_secs_f64());
    println!(
        "leaderboard page, cached fit ({} sequential): {}",
        args.renders,
        timed_gets(&client, &page, args.renders).await?
    );
    let dashboard = format!("{}/admin/projects/lb/dashboard", server.url);
    let t = Instant::now();
    let body = client.get(&dashboard).send().await?.text().await?;
    ensure!(body.contains("data-testid=\"annotators\""), "the dashboard shows no annotators");
    println!("dashboard at {n} judgements (one visit): {:.2}s", t.elapsed().as_secs_f64());
    let split = format!("{}/admin/projects/lb/adjudicate", server.url);
    let t = Instant::now();
    client.get(&split).send().await?.bytes().await?;
    println!("adjudication page at {n} judgements (one visit): {:.2}s", t.elapsed().as_secs_f64());
    sqlx::query("UPDATE annotations SET choice = -choice, updated_at = 1 WHERE id = 1").execute(&db).await?;
    let t = Instant::now();
    let stale = client.get(&page).send().await?.text().await?;
    println!(
        "visit after a new vote: {:.1}ms (the last fit, marked {}; refit in the background)",
        t.elapsed().as_secs_f64() * 1000.0,
        if stale.contains("data-testid=\"stale\"") { "updating" } else { "NOT marked" }
    );
    sqlx::query("UPDATE annotations SET choice = -choice, updated_at = 2 WHERE id = 2").execute(&db).await?;
    let t = Instant::now();
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/projects/lb/leaderboard", server.url))
        .bearer_auth(&admin)
        .send()
        .await?;
    ensure!(r.status().is_success());
    let board: serde_json::Value = r.json().await?;
    println!("fresh API read after a vote (refit of {} battles): {:.2}s", board["battles"], t.elapsed().as_secs_f64());
    Ok(())
}

/// Active against uniform model-pair selection, simulated: 12 models whose
/// true ratings are 25 (close) or 100 (spread) points apart, votes drawn from them (no ties); the
/// uniform policy picks a model pair at random, the active one draws each
/// vote's model pair with the chances `serving_weights` gives `priorities`
/// (as the server does per task), refitting every 100 votes (as the server refits while votes come
/// in). Printed: the mean width of the 95 % bootstrap intervals at equal
/// numbers of votes, averaged over 8 runs.
fn simulate(votes: usize, threads: usize) {
    for spacing in [25.0, 100.0] {
        simulate_at(votes, spacing, threads);
    }
}

fn simulate_at(votes: usize, spacing: f64, threads: usize) {
    const MODELS: usize = 12;
    const RUNS: u64 = 8;
    const BATCH: usize = 100;
    let names: Vec<String> = (0..MODELS).map(|m| format!("m{m:02}")).collect();
    let truth: Vec<f64> = (0..MODELS).map(|m| 1000.0 + spacing * m as f64).collect();
    let checkpoints: Vec<usize> = [votes / 3, 2 * votes / 3, votes].into_iter().filter(|v| *v >= BATCH).collect();
    let mut widths = vec![[0.0f64; 2]; checkpoints.len()];
    for (policy, active) in [(0, false), (1, true)] {
        for run in 0..RUNS {
            let mut rng = rand::rngs::StdRng::seed_from_u64(1000 + run);
            let mut battles: Vec<Battle> = Vec::new();
            let mut scored: Vec<((u32, u32), f64)> = Vec::new();
            while battles.len() < votes {
                if active && battles.len() >= BATCH {
                    let b = board(&names, &battles, 30, run, threads);
                    scored = priorities(&b, &names)
                        .into_iter()
                        .map(|((x, y), s)| ((x[1..].parse().unwrap(), y[1..].parse().unwrap()), s))
                        .collect();
                }
                for _ in 0..BATCH {
                    let (a, b) = if scored.is_empty() {
                        let a = rng.gen_range(0..MODELS as u32);
                        (a, (a + rng.gen_range(1..MODELS as u32)) % MODELS as u32)
                    } else {
                        let scores: Vec<f64> = scored.iter().map(|x| x.1).collect();
                        scored[weighted_order(&serving_weights(&scores), || rng.gen::<f64>())[0]].0
                    };
                    let p = 1.0 / (1.0 + 10f64.powf((truth[b as usize] - truth[a as usize]) / 400.0));
                    battles.push(Battle { a, b, outcome: if rng.gen::<f64>() < p { Outcome::A } else { Outcome::B } });
                }
                if let Some(at) = checkpoints.iter().position(|c| *c == battles.len()) {
                    let ci = bootstrap(&Tally::of(MODELS, battles.iter().copied()), 100, 42, threads);
                    let mean = ci.iter().map(|(lo, hi)| hi - lo).sum::<f64>() / MODELS as f64;
                    widths[at][policy] += mean / RUNS as f64;
                }
            }
        }
    }
    for (at, v) in checkpoints.iter().enumerate() {
        let [uniform, active] = widths[at];
        println!(
            "simulation, {MODELS} models {spacing} points apart, {v} votes: mean 95% interval width uniform {uniform:.1}, active {active:.1} points ({:+.0}%)",
            100.0 * (active - uniform) / uniform
        );
    }
}
