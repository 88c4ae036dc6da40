//! Page and export benchmarks against a release server:
//! annotator page server render, the bytes a browser downloads, and the
//! export of 100k annotations.
//!
//!     cargo leptos build --release && cargo run --release -p bench --bin pagebench
use anyhow::{ensure, Context};
use bench::{cli, dataset, serve, timed_gets};
use clap::Parser;
use sqlx::sqlite::SqlitePoolOptions;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "target/release/arbiter")]
    bin: PathBuf,
    /// The built site (for the download sizes).
    #[arg(long, default_value = "target/site")]
    site_root: PathBuf,
    #[arg(long, default_value_t = 1000)]
    renders: usize,
    #[arg(long, default_value_t = 100_000)]
    annotations: usize,
}

fn gzip_len(path: &std::path::Path) -> anyhow::Result<(u64, u64)> {
    let raw = std::fs::metadata(path).with_context(|| format!("no {}", path.display()))?.len();
    let out = Command::new("gzip").arg("-c").arg(path).output().context("gzip")?;
    Ok((raw, out.stdout.len() as u64))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();

    // 1. What the annotator's browser downloads (the annotator's bundle),
    //    and what an admin page loads instead (the full one).
    for (who, bundle) in [("annotator", "arbiter-annotator"), ("admin pages", "arbiter")] {
        if !args.site_root.join("pkg").join(format!("{bundle}.wasm")).is_file() {
            println!("assets, {who}: no pkg/{bundle}.wasm (the site was not built by scripts/build.sh)");
            continue;
        }
        let mut total = (0, 0);
        for f in [format!("{bundle}.wasm"), format!("{bundle}.js"), "arbiter.css".to_owned()] {
            let (raw, gz) = gzip_len(&args.site_root.join("pkg").join(&f))?;
            println!("asset {f}: {:.1} KB raw, {:.1} KB gzip", raw as f64 / 1024.0, gz as f64 / 1024.0);
            total = (total.0 + raw, total.1 + gz);
        }
        println!("assets total, {who}: {:.1} KB raw, {:.1} KB gzip", total.0 as f64 / 1024.0, total.1 as f64 / 1024.0);
    }

    // 2. Annotator page server render, with a held lease (the steady state).
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}", dir.path().join("page.db").display());
    cli(&args.bin, &db_url, &["project", "create", "page", "--title", "Page"], "")?;
    let pairs = args.annotations / 3 + 1;
    let file = dir.path().join("page.jsonl");
    std::fs::write(&file, dataset(pairs))?;
    let t = Instant::now();
    cli(&args.bin, &db_url, &["import", "page", file.to_str().unwrap()], "")?;
    println!(
        "import of {pairs} prompts ({:.1} MB): {:.2}s",
        std::fs::metadata(&file)?.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    for name in ["ann0", "ann1", "ann2"] {
        cli(
            &args.bin,
            &db_url,
            &["user", "add", name, "--role", "annotator", "--project", "page"],
            "benchmark password\n",
        )?;
    }
    cli(&args.bin, &db_url, &["user", "add", "boss", "--role", "admin"], "benchmark password\n")?;
    let admin = cli(&args.bin, &db_url, &["token", "create", "boss"], "")?;
    let server = serve(&args.bin, &db_url, &args.site_root)?;
    let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build()?;
    client
        .post(format!("{}/login", server.url))
        .form(&[("username", "ann0"), ("password", "benchmark password")])
        .send()
        .await?;
    let page = format!("{}/annotate/page", server.url);
    let first = client.get(&page).send().await?.text().await?;
    ensure!(first.contains("Which response is better?"), "the annotator page did not render a task");
    println!(
        "annotator page render (GET /annotate/page, {} sequential): {}",
        args.renders,
        timed_gets(&client, &page, args.renders).await?
    );

    // 3. Export of N annotations: filled in bulk with SQL (three annotators
    //    on each pair), then exported over HTTP and with the CLI.
    let db = SqlitePoolOptions::new().max_connections(1).connect(&db_url).await?;
    let t = Instant::now();
    sqlx::query(
        "INSERT INTO assignments (uuid, project_id, prompt_id, pair_id, annotator_id, swapped, state, leased_at,
                                  lease_expires_at, finished_at)
         SELECT lower(hex(randomblob(16))), p.project_id, p.prompt_id, p.id, u.id, abs(random()) % 2, 'submitted', 0, 0, 0
         FROM pairs p CROSS JOIN users u
         WHERE u.username IN ('ann1', 'ann2', 'boss') LIMIT ?",
    )
    .bind(args.annotations as i64)
    .execute(&db)
    .await?;
    sqlx::query(
        "INSERT INTO annotations (uuid, assignment_id, project_id, prompt_id, pair_id, annotator_id, client_key,
                                  request_hash, choice_shown, choice, both_bad, created_at)
         SELECT lower(hex(randomblob(16))), a.id, a.project_id, a.prompt_id, a.pair_id, a.annotator_id,
                lower(hex(randomblob(16))), '', a.c, a.c, 0, 0
         FROM (SELECT id, project_id, prompt_id, pair_id, annotator_id, (abs(random()) % 7) - 3 AS c FROM assignments
               WHERE annotator_id IN (SELECT id FROM users WHERE username IN ('ann1', 'ann2', 'boss'))) a",
    )
    .execute(&db)
    .await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM annotations").fetch_one(&db).await?;
    println!("filled {n} annotations in {:.2}s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let body = reqwest::Client::new()
        .get(format!("{}/api/v1/projects/page/export?format=trl", server.url))
        .bearer_auth(&admin)
        .send()
        .await?
        .bytes()
        .await?;
    let http = t.elapsed();
    let lines = body.iter().filter(|&&b| b == b'\n').count();
    println!(
        "export over HTTP: {n} annotations → {lines} rows, {:.1} MB in {:.2}s",
        body.len() as f64 / 1e6,
        http.as_secs_f64()
    );
    drop(server);

    let out = dir.path().join("export.jsonl");
    let t = Instant::now();
    cli(&args.bin, &db_url, &["export", "page", "--format", "trl", "-o", out.to_str().unwrap()], "")?;
    println!("export with the CLI (process start to file written): {:.2}s", t.elapsed().as_secs_f64());
    Ok(())
}
