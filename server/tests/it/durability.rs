//! Exactly-once under crashes, retries and backups, with the real binary.
use crate::common;

use arbiter_core::services::Role;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn run(db: &str, args: &[&str], stdin: &str) -> String {
    let out = common::arbiter(db, args, stdin);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn serve(db: &str) -> (Child, String) {
    let (child, mut lines) = common::serve_binary(db);
    let first = lines.next().unwrap().unwrap();
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_owned();
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// A project of `pairs` pairs and `n` annotators with API tokens.
fn setup(db: &str, dir: &std::path::Path, pairs: usize, n: usize) -> Vec<String> {
    run(db, &["project", "create", "dur", "--title", "Durability", "--annotations-per-pair", "3"], "");
    let file = dir.join("d.jsonl");
    std::fs::write(&file, (0..pairs).map(common::jsonl_line).collect::<String>()).unwrap();
    run(db, &["import", "dur", file.to_str().unwrap()], "");
    (0..n)
        .map(|i| {
            let name = format!("w{i}");
            run(db, &["user", "add", &name, "--role", "annotator", "--project", "dur"], "durability password\n");
            run(db, &["token", "create", &name], "")
        })
        .collect()
}

/// Annotates until the server stops answering; returns what the server
/// acknowledged (a 200/201 that reached us): the key and the annotation id
/// of its receipt.
async fn annotate_until_error(url: String, token: String, tag: String) -> Vec<(String, String)> {
    let c = reqwest::Client::new();
    let mut acked = Vec::new();
    for i in 0.. {
        let Ok(r) = c.post(format!("{url}/api/v1/projects/dur/tasks/next")).bearer_auth(&token).send().await else {
            break;
        };
        if r.status() != 200 {
            break;
        }
        let Ok(task) = r.json::<Value>().await else { break };
        let key = format!("{tag}-{i}");
        let sent = c
            .post(format!("{url}/api/v1/tasks/{}/annotation", task["task_id"].as_str().unwrap()))
            .bearer_auth(&token)
            .header("Idempotency-Key", &key)
            .json(&json!({"choice": (i % 7) - 3}))
            .send()
            .await;
        let Ok(r) = sent else { break };
        if !r.status().is_success() {
            break;
        }
        match r.json::<Value>().await {
            Ok(receipt) => acked.push((key, receipt["annotation_id"].as_str().unwrap().to_owned())),
            Err(_) => break,
        }
    }
    acked
}

/// After a crash: the database is sound, every acknowledged judgement is
/// there as the receipt said (same annotation id), and the pairs' counters
/// agree with the rows they count.
async fn check_file(db: &str, acked: &[(String, String)]) {
    let db = arbiter_core::storage::Db::connect(db).await.unwrap();
    if !common::on_postgres() {
        let ok: String =
            arbiter_core::on!(&db.read, e => sqlx::query_scalar("PRAGMA integrity_check").fetch_one(e).await).unwrap();
        assert_eq!(ok, "ok");
    }
    let rows: Vec<(String, String)> =
        arbiter_core::on!(&db.read, e => sqlx::query_as("SELECT client_key, uuid FROM annotations").fetch_all(e).await)
            .unwrap();
    let stored: HashMap<String, String> = rows.into_iter().collect();
    for (key, id) in acked {
        assert_eq!(stored.get(key), Some(id), "acknowledged {key} must be stored as its receipt said");
    }
    let bad_counters: i64 = arbiter_core::on!(&db.read, e => sqlx::query_scalar(
        "SELECT COUNT(*) FROM pairs p WHERE p.submitted <> (SELECT COUNT(*) FROM annotations a WHERE a.pair_id = p.id)
            OR p.load <> p.submitted + (SELECT COUNT(*) FROM assignments s WHERE s.pair_id = p.id AND s.state = 'leased')",
    )
    .fetch_one(e)
    .await)
    .unwrap();
    assert_eq!(bad_counters, 0, "pairs whose counters disagree with their rows");
    db.close().await;
}

/// Kills the server with SIGKILL `cycles` times while annotators write.
async fn crash_cycles(cycles: usize, every: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path()).await;
    let tokens = setup(&db, dir.path(), 3000, 8);
    let mut all_acked = Vec::new();
    for cycle in 0..cycles {
        let (mut child, url) = serve(&db);
        let writers: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| tokio::spawn(annotate_until_error(url.clone(), t.clone(), format!("c{cycle}-w{i}"))))
            .collect();
        tokio::time::sleep(every).await;
        child.kill().unwrap(); // SIGKILL: no shutdown, no checkpoint
        child.wait().unwrap();
        for w in writers {
            all_acked.extend(w.await.unwrap());
        }
        check_file(&db, &all_acked).await;
    }
    assert!(all_acked.len() > 50 * cycles, "the writers barely wrote ({} acks)", all_acked.len());
    // The file still serves after the last crash.
    let (mut child, url) = serve(&db);
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/projects/dur/tasks/next"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_annotations_survive_kill_9() {
    crash_cycles(2, Duration::from_millis(1500)).await;
}

/// The long soak: `ARBITER_SOAK_SECONDS=300 cargo test -p server --test durability -- --ignored soak`
/// (scripts/soak.sh) kills the server every 10 seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn soak_kill_every_ten_seconds() {
    let seconds: u64 = std::env::var("ARBITER_SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    crash_cycles((seconds / 10) as usize, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_storm_stores_one_row_per_key() {
    let app = common::spawn_app().await;
    app.project("t", 3, 200).await;
    let mut tokens = Vec::new();
    for i in 0..12 {
        let name = format!("s{i}");
        tokens.push(app.user(&name, Role::Annotator).await);
        app.member("t", &name).await;
    }
    let answers = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (url, answers) = (app.url.clone(), answers.clone());
        tasks.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            for j in 0..10 {
                let task: Value = c
                    .post(format!("{url}/api/v1/projects/t/tasks/next"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let id = task["task_id"].as_str().unwrap().to_owned();
                let key = format!("storm-{i}-{j}");
                // The same submission three times at once, as a flaky network would.
                let sends = (0..3).map(|_| {
                    c.post(format!("{url}/api/v1/tasks/{id}/annotation"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", &key)
                        .json(&json!({"choice": 1, "rationale": "storm"}))
                        .send()
                });
                let mut statuses = Vec::new();
                let mut bodies = Vec::new();
                for r in futures::future::join_all(sends).await {
                    let r = r.unwrap();
                    statuses.push(r.status().as_u16());
                    bodies.push(r.json::<Value>().await.unwrap());
                }
                statuses.sort();
                assert_eq!(statuses, vec![200, 200, 201], "{key}");
                assert!(bodies.iter().all(|b| b == &bodies[0]), "{key}: all answers are the first one");
                answers.lock().unwrap().push((key, bodies[0]["annotation_id"].as_str().unwrap().to_owned()));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let answers = answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 120);
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 120, "one row per key, not three");
    for (key, id) in &answers {
        let stored: String = arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT uuid FROM annotations WHERE client_key = $1")
            .bind(key)
            .fetch_one(e)
            .await)
            .unwrap();
        assert_eq!(&stored, id, "{key}: every answer named the stored row");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_write_load_is_consistent_and_opens() {
    if common::skip_on_postgres("`arbiter backup` copies a SQLite file") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("live.db").display());
    let tokens = setup(&db, dir.path(), 2000, 4);
    let (mut child, url) = serve(&db);
    let writers: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| tokio::spawn(annotate_until_error(url.clone(), t.clone(), format!("b{i}"))))
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let copy = dir.path().join("copy.db");
    let started = Instant::now();
    run(&db, &["backup", copy.to_str().unwrap()], "");
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut acked = 0;
    for w in writers {
        acked += w.await.unwrap().len();
    }
    let copy_url = format!("sqlite://{}", copy.display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&copy_url).await.unwrap();
    let ok: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&pool).await.unwrap();
    assert_eq!(ok, "ok");
    let in_copy: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM annotations").fetch_one(&pool).await.unwrap();
    let done_pairs: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(submitted), 0) FROM pairs").fetch_one(&pool).await.unwrap();
    assert_eq!(in_copy, done_pairs, "counters and rows agree in the snapshot");
    assert!(in_copy > 0 && (in_copy as usize) < acked + 8 * 4, "copy has {in_copy}, writers acked {acked}");
    pool.close().await;
    // Restoring = serving the copy.
    let (mut restored, url) = serve(&copy_url);
    let r = reqwest::Client::new()
        .get(format!("{url}/api/v1/projects/dur/progress"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "backup took {took:?}");
    restored.kill().unwrap();
    restored.wait().unwrap();
    // The CLI refuses to overwrite a file.
    let out = common::arbiter(&db, &["backup", copy.to_str().unwrap()], "");
    assert!(!out.status.success());
}

/// Annotates through whichever instance answers (a load balancer's view):
/// a failed claim moves on to the next instance, a failed save is sent
/// again with its key until one answers. Returns what was acknowledged.
async fn annotate_over(urls: Vec<String>, token: String, tag: String, until: Instant) -> Vec<(String, String)> {
    let c = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut acked = Vec::new();
    let mut at = 0usize;
    let mut i = 0;
    while Instant::now() < until {
        let url = &urls[at % urls.len()];
        let r = c.post(format!("{url}/api/v1/projects/dur/tasks/next")).bearer_auth(&token).send().await;
        let task: Value = match r {
            Ok(r) if r.status() == 200 => r.json().await.unwrap(),
            Ok(r) if r.status() == 204 => break,
            _ => {
                at += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        i += 1;
        let key = format!("{tag}-{i}");
        let body = json!({"choice": (i % 7) - 3});
        let mut receipt: Option<Value> = None;
        for _ in 0..200 {
            let url = &urls[at % urls.len()];
            let sent = c
                .post(format!("{url}/api/v1/tasks/{}/annotation", task["task_id"].as_str().unwrap()))
                .bearer_auth(&token)
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    receipt = Some(r.json().await.unwrap());
                    break;
                }
                Ok(r) if r.status().is_client_error() => panic!("{key}: {} {}", r.status(), r.text().await.unwrap()),
                _ => {
                    at += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        let receipt = receipt.unwrap_or_else(|| panic!("{key} was never acknowledged"));
        acked.push((key, receipt["annotation_id"].as_str().unwrap().to_owned()));
    }
    acked
}

/// Two instances on one PostgreSQL database, eight annotators spread over
/// both; `fault` happens a second in. Afterwards: every acknowledged
/// annotation stored once, as its receipt said, counters right, no pair over N.
async fn two_instances_through(db: &str, dir: &std::path::Path, fault: impl FnOnce(&mut Vec<Child>)) -> usize {
    let tokens = setup(db, dir, 400, 8);
    let mut children = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..2 {
        let (child, url) = serve(db);
        children.push(child);
        urls.push(url);
    }
    let until = Instant::now() + Duration::from_secs(4);
    let writers: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            // Half start on each instance.
            let mut mine = urls.clone();
            mine.rotate_left(i % 2);
            tokio::spawn(annotate_over(mine, t.clone(), format!("w{i}"), until))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    fault(&mut children);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    check_file(db, &acked).await;
    let over = {
        let db = arbiter_core::storage::Db::connect(db).await.unwrap();
        let n: i64 =
            arbiter_core::on!(&db.read, e => sqlx::query_scalar("SELECT COUNT(*) FROM pairs WHERE submitted > 3")
            .fetch_one(e)
            .await)
            .unwrap();
        db.close().await;
        n
    };
    assert_eq!(over, 0, "pairs over N");
    acked.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_of_two_instances_loses_no_acknowledged_annotation() {
    if !common::on_postgres() {
        eprintln!("skipped on SQLite: one instance per database file");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path()).await;
    let acked = two_instances_through(&db, dir.path(), |children| {
        children[0].kill().unwrap(); // SIGKILL
        children[0].wait().unwrap();
    })
    .await;
    assert!(acked > 50, "the writers barely wrote ({acked} acknowledged)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_restart_mid_run_loses_no_acknowledged_annotation() {
    if !common::on_postgres() {
        eprintln!("skipped on SQLite: no database server to restart");
        return;
    }
    // A server of its own: restarting the shared one would cut the other tests off.
    let pg = tempfile::tempdir().unwrap();
    let server = common::pg_script("start", pg.path());
    let dir = tempfile::tempdir().unwrap();
    let pgdir = pg.path().to_path_buf();
    let acked = two_instances_through(&server, dir.path(), move |_| {
        common::pg_script("restart", &pgdir);
    })
    .await;
    common::pg_script("stop", pg.path());
    assert!(acked > 50, "the writers barely wrote ({acked} acknowledged)");
}
