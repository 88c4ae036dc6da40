//! The operations hooks: health and readiness probes, Prometheus metrics on
//! their own address, JSON logs.
use crate::common::*;
use arbiter_core::services::Role;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn healthz_answers_without_a_login() {
    let app = spawn_app().await;
    let r = bearer().get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_is_ready_on_a_migrated_database() {
    let app = spawn_app().await;
    let r = bearer().get(format!("{}/readyz", app.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn readyz_is_not_ready_while_a_migration_is_missing() {
    let app = spawn_app().await;
    // As if the schema were an older binary's: the newest migration is not recorded.
    arbiter_core::on!(&app.db.write, e => sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .execute(e)
        .await.map(|r| r.rows_affected()))
        .unwrap();
    let r = bearer().get(format!("{}/readyz", app.url)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "not ready");
    assert_eq!(body["reason"], "1 migration(s) not applied", "{body}");
    // Liveness does not depend on the database.
    assert_eq!(bearer().get(format!("{}/healthz", app.url)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn metrics_are_off_unless_an_address_is_given() {
    let app = spawn_app().await;
    let r = bearer().get(format!("{}/metrics", app.url)).send().await.unwrap();
    assert_eq!(r.status(), 404, "metrics are never on the public port");
}

/// The value of the sample `name{labels}` (labels as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
}

#[tokio::test]
async fn metrics_count_requests_judgements_and_leases() {
    let app = spawn_app_with(|c| c.metrics_addr = Some("127.0.0.1:0".parse().unwrap())).await;
    let metrics = format!("http://{}/metrics", app.metrics_addr.expect("a metrics listener"));
    app.project("m", 1, 3).await;
    let token = app.user("ann", Role::Annotator).await;
    app.member("m", "ann").await;
    let before = bearer().get(&metrics).send().await.unwrap().text().await.unwrap();
    let stored_before = sample(&before, "arbiter_annotations_stored_total ").unwrap_or(0.0);

    // One judgement, one lease left open, one probe.
    let next = || bearer().post(app.api("/projects/m/tasks/next")).bearer_auth(&token).send();
    let task: serde_json::Value = next().await.unwrap().json().await.unwrap();
    let r = bearer()
        .post(app.api(&format!("/tasks/{}/annotation", task["task_id"].as_str().unwrap())))
        .bearer_auth(&token)
        .header("Idempotency-Key", "metrics-1")
        .json(&serde_json::json!({"choice": -1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(next().await.unwrap().status(), 200);
    assert_eq!(bearer().get(format!("{}/healthz", app.url)).send().await.unwrap().status(), 200);

    let r = bearer().get(&metrics).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    // Metrics are process-wide and other tests run alongside: counters only grow.
    let stored = sample(&text, "arbiter_annotations_stored_total ").expect("annotations counter");
    assert!(stored >= stored_before + 1.0, "{stored} after {stored_before}");
    let healthz = sample(&text, r#"arbiter_http_requests_total{route="/healthz",method="GET",status="200"} "#);
    assert!(healthz.unwrap_or(0.0) >= 1.0, "{text}");
    // The route is the pattern, not the path with its ids.
    assert!(text.contains(r#"route="/api/v1/tasks/{task_id}/annotation",method="POST",status="201""#), "{text}");
    assert!(text.contains("arbiter_http_request_duration_seconds_bucket{"), "{text}");
    if !on_postgres() {
        // SQLite's group commit; PostgreSQL has no writer thread.
        assert!(text.contains("arbiter_writer_batch_size_bucket{le=\""), "{text}");
    }
    assert!(sample(&text, "arbiter_live_leases ").unwrap() >= 1.0, "{text}");
    assert!(sample(&text, "arbiter_writer_queue_depth ").is_some(), "{text}");
    assert!(sample(&text, r#"arbiter_db_pool_connections{pool="read",state="idle"} "#).is_some(), "{text}");
    if on_postgres() {
        // The write-job threads' connections: the judgement above opened at least one.
        let open = [
            r#"arbiter_db_pool_connections{pool="write_jobs",state="idle"} "#,
            r#"arbiter_db_pool_connections{pool="write_jobs",state="busy"} "#,
        ]
        .iter()
        .map(|m| sample(&text, m).unwrap_or_else(|| panic!("{m} missing: {text}")))
        .sum::<f64>();
        assert!(open >= 1.0, "{text}");
    }
    assert_eq!(sample(&text, "arbiter_database_up "), Some(1.0));
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("a.db").display());
    // A missing site folder makes `serve` log a warning at start.
    let mut child = Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .args(["--database", &db, "--log-format", "json", "serve", "--addr", "127.0.0.1:0"])
        .args(["--site-root", dir.path().join("no-site").to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a log line").unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let line: serde_json::Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert_eq!(line["level"], "WARN", "{line}");
    assert!(line["timestamp"].is_string(), "{line}");
    assert!(line["fields"]["message"].as_str().unwrap().contains("no pkg/ in the site root"), "{line}");
}

#[test]
fn an_unknown_log_format_is_refused() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_arbiter")).args(["--log-format", "xml", "backup", "x.db"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-format"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_database_down_and_back() {
    if skip_on_sqlite("no database server to stop") {
        return;
    }
    let pg = tempfile::tempdir().unwrap();
    let url = pg_script("start", pg.path());
    let app = spawn_app_at(&url).await;
    let readyz = format!("{}/readyz", app.url);
    assert_eq!(bearer().get(&readyz).send().await.unwrap().status(), 200);
    pg_script("stop", pg.path());
    let r = bearer().get(&readyz).send().await.unwrap();
    assert_eq!(r.status(), 503, "not ready while PostgreSQL is down");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["reason"].as_str().unwrap().contains("database"), "{body}");
    assert_eq!(bearer().get(format!("{}/healthz", app.url)).send().await.unwrap().status(), 200, "still alive");
    // Back up on the same port: the instance reconnects by itself.
    pg_script("restart", pg.path());
    let start = std::time::Instant::now();
    loop {
        if bearer().get(&readyz).send().await.unwrap().status() == 200 {
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(15), "not ready 15 s after PostgreSQL came back");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    pg_script("stop", pg.path());
}
