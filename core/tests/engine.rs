//! The assignment engine and exports against a real SQLite file, or a
//! fresh database on the PostgreSQL server of `ARBITER_TEST_POSTGRES`
//! (`scripts/test.sh` runs them on both); the tests of SQLite's writer
//! thread skip on PostgreSQL.
use arbiter_core::domain::views::{AnnotationInput, AnnotationReceipt};
use arbiter_core::domain::{Choice, ClientKey, SettingsInput, TaskId};
use arbiter_core::services::{auth, export, import, projects, tasks, Role, User};
use arbiter_core::storage::projects::Project;
use arbiter_core::storage::Db;
use arbiter_core::Error;
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
    db: Db,
    url: String,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let url = match postgres_server() {
        None => format!("sqlite://{}", dir.path().join("t.db").display()),
        Some(server) => {
            use sqlx::Connection;
            let name = format!("e_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&server).await.expect("the test PostgreSQL answers");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
            let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
            format!("{base}/{name}")
        }
    };
    let db = Db::connect(&url).await.unwrap();
    Env { dir, db, url }
}

fn postgres_server() -> Option<String> {
    std::env::var("ARBITER_TEST_POSTGRES").ok().filter(|u| !u.is_empty())
}

/// For a test of PostgreSQL's hot path: true, and a note, on SQLite.
fn skip_on_sqlite(why: &str) -> bool {
    let off = postgres_server().is_none();
    if off {
        eprintln!("PostgreSQL only: {why}");
    }
    off
}

/// For a test of SQLite's writer thread: true, and a note, on PostgreSQL.
fn skip_on_postgres(why: &str) -> bool {
    let on = postgres_server().is_some();
    if on {
        eprintln!("skipped on PostgreSQL: {why}");
    }
    on
}

async fn submit(
    db: &Db,
    u: &User,
    task: &str,
    key: &str,
    v: &AnnotationInput,
) -> Result<(AnnotationReceipt, bool), Error> {
    tasks::submit(db, u, None, TaskId::parse(task).unwrap(), &ClientKey::parse(key).unwrap(), v).await
}

async fn skip(db: &Db, u: &User, task: &str, reason: Option<&str>) -> Result<(), Error> {
    tasks::skip(db, u, None, TaskId::parse(task).unwrap(), reason).await
}

async fn project(db: &Db, per_pair: i64, lines: &str) -> Project {
    project_as(db, "t", "pairwise", per_pair, lines).await
}

/// A project `slug` of `task_type` with `lines` imported.
async fn project_as(db: &Db, slug: &str, task_type: &str, per_pair: i64, lines: &str) -> Project {
    let mut s = SettingsInput::titled("T");
    s.annotations_per_pair = Some(per_pair);
    s.task_type = Some(task_type.into());
    let p = projects::create(db, "test", slug, s).await.unwrap();
    let report = import::import_jsonl(db, &p, None, "t.jsonl", lines.as_bytes().to_vec()).await.unwrap();
    assert!(report.ok, "{:?}", report.errors);
    p
}

async fn annotator(db: &Db, name: &str, p: &Project) -> User {
    let u = auth::create_user(db, "test", name, "a long enough password", Role::Annotator).await.unwrap();
    projects::add_member(db, "test", p, name).await.unwrap();
    u
}

fn line(id: &str, k: usize) -> String {
    let comps: Vec<String> = (0..k).map(|i| format!(r#"{{"model":"m{i}","text":"{id} answer {i}"}}"#)).collect();
    format!(r#"{{"id":"{id}","prompt":"question {id}","completions":[{}]}}"#, comps.join(","))
}

fn vote(c: i64) -> AnnotationInput {
    AnnotationInput {
        choice: Some(Choice::new(c).unwrap()),
        ranks: None,
        ratings: None,
        completion_flags: None,
        both_bad: false,
        flags: vec![],
        rationale: String::new(),
        time_ms: Some(10),
    }
}

async fn count(db: &Db, sql: &str) -> i64 {
    arbiter_core::on!(&db.read, e => sqlx::query_scalar(sql).fetch_one(e).await).unwrap()
}

#[tokio::test]
async fn k_completions_make_all_pairs_and_reimport_adds_nothing() {
    let e = env().await;
    let p = project(&e.db, 1, &format!("{}\n{}\n", line("a", 4), line("b", 2))).await;
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM pairs").await, 6 + 1);
    let again = import::import_jsonl(&e.db, &p, None, "t.jsonl", line("a", 4).into_bytes()).await.unwrap();
    assert_eq!((again.added.prompts, again.added.prompts_existing, again.added.pairs), (0, 1, 0));
    // A fifth completion for a known prompt adds exactly its four new pairs.
    let more = import::import_jsonl(&e.db, &p, None, "t.jsonl", line("a", 5).into_bytes()).await.unwrap();
    assert_eq!((more.added.completions, more.added.pairs), (1, 4));
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM prompts").await, 2);
}

#[tokio::test]
async fn a_bad_line_imports_nothing_and_names_the_line() {
    let e = env().await;
    let p = project(&e.db, 1, &line("a", 2)).await;
    let data = format!("{}\n{{\"prompt\":\"x\"}}\n", line("b", 2));
    let r = import::import_jsonl(&e.db, &p, None, "bad.jsonl", data.into_bytes()).await.unwrap();
    assert!(!r.ok);
    assert_eq!(r.errors[0].line, 2);
    assert_eq!(r.errors[0].field.as_deref(), Some("completions"));
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM prompts").await, 1, "line 1 must not be imported either");
}

#[tokio::test]
async fn next_returns_the_held_lease_until_it_is_answered() {
    let e = env().await;
    let p = project(&e.db, 1, &format!("{}\n{}\n", line("a", 2), line("b", 2))).await;
    let u = annotator(&e.db, "ann", &p).await;
    let t1 = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    let again = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    assert_eq!(t1.task_id, again.task_id);
    submit(&e.db, &u, &t1.task_id.to_string(), "k1", &vote(-3)).await.unwrap();
    let t2 = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    assert_ne!(t1.task_id, t2.task_id);
    submit(&e.db, &u, &t2.task_id.to_string(), "k2", &vote(0)).await.unwrap();
    assert!(tasks::next(&e.db, &p, &u).await.unwrap().is_none());
}

#[tokio::test]
async fn a_pair_is_never_leased_beyond_n_and_never_twice_to_one_annotator() {
    let e = env().await;
    let p = project(&e.db, 3, &line("a", 2)).await;
    let mut users = Vec::new();
    for name in ["a1", "a2", "a3", "a4"] {
        users.push(annotator(&e.db, name, &p).await);
    }
    // a1 judges the only pair; it still has room (1 of 3) but never comes back to a1.
    let t = tasks::next(&e.db, &p, &users[0]).await.unwrap().unwrap();
    submit(&e.db, &users[0], &t.task_id.to_string(), "k1", &vote(1)).await.unwrap();
    assert!(tasks::next(&e.db, &p, &users[0]).await.unwrap().is_none(), "never twice to one annotator");
    assert!(tasks::prefetch(&e.db, &p, &users[0]).await.unwrap().is_none());
    // A skip is final for the skipper too.
    let t2 = tasks::next(&e.db, &p, &users[1]).await.unwrap().unwrap();
    skip(&e.db, &users[1], &t2.task_id.to_string(), None).await.unwrap();
    assert!(tasks::next(&e.db, &p, &users[1]).await.unwrap().is_none(), "not back to the skipper");
    // Up to N: a1's annotation + leases of a3 and a4 = 3; nobody else gets it.
    assert!(tasks::next(&e.db, &p, &users[2]).await.unwrap().is_some());
    assert!(tasks::next(&e.db, &p, &users[3]).await.unwrap().is_some());
    let late = annotator(&e.db, "a5", &p).await;
    assert!(tasks::next(&e.db, &p, &late).await.unwrap().is_none(), "N=3 reached: 1 annotation + 2 live leases");
    let per_annotator: i64 = count(
        &e.db,
        "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM assignments GROUP BY pair_id, annotator_id) AS per",
    )
    .await;
    assert_eq!(per_annotator, 1);
}

#[tokio::test]
async fn every_pair_is_leased_once_before_any_is_leased_twice() {
    // PostgreSQL starts each pick at a random place in the least-loaded
    // level (instances then seldom pass over each other's locked pairs);
    // the level itself is still the least loaded, on both backends.
    let e = env().await;
    let lines: Vec<String> = (0..4).map(|i| line(&format!("q{i}"), 3)).collect();
    let p = project(&e.db, 3, &(lines.join("\n") + "\n")).await;
    let pairs = count(&e.db, "SELECT COUNT(*) FROM pairs").await;
    assert_eq!(pairs, 12);
    let mut users = Vec::new();
    for round in 1..=2 {
        for i in 0..pairs {
            let u = annotator(&e.db, &format!("r{round}u{i}"), &p).await;
            assert!(tasks::next(&e.db, &p, &u).await.unwrap().is_some());
            users.push(u);
            let (least, most) =
                (count(&e.db, "SELECT MIN(load) FROM pairs").await, count(&e.db, "SELECT MAX(load) FROM pairs").await);
            assert!(most - least <= 1, "round {round}, claim {i}: loads from {least} to {most}");
        }
        assert_eq!(count(&e.db, &format!("SELECT COUNT(*) FROM pairs WHERE load = {round}")).await, pairs);
    }
    // One who judged a pair of the least-loaded level is given another of
    // it: their held lease first, then one pair more.
    let t = tasks::next(&e.db, &p, &users[0]).await.unwrap().unwrap();
    submit(&e.db, &users[0], &t.task_id.to_string(), "k-level", &vote(1)).await.unwrap();
    let next = tasks::next(&e.db, &p, &users[0]).await.unwrap().unwrap();
    assert_ne!(next.task_id, t.task_id);
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM pairs WHERE load = 3").await, 1);
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM pairs WHERE load = 2").await, pairs - 1);
}

#[tokio::test]
async fn retries_are_stored_once_and_a_reused_key_with_another_body_conflicts() {
    let e = env().await;
    let p = project(&e.db, 1, &line("a", 2)).await;
    let u = annotator(&e.db, "ann", &p).await;
    let t = tasks::next(&e.db, &p, &u).await.unwrap().unwrap().task_id.to_string();
    let (first, created) = submit(&e.db, &u, &t, "key-1", &vote(2)).await.unwrap();
    assert!(created);
    let (again, created_again) = submit(&e.db, &u, &t, "key-1", &vote(2)).await.unwrap();
    assert!(!created_again);
    assert_eq!(first, again);
    assert!(matches!(submit(&e.db, &u, &t, "key-1", &vote(1)).await, Err(Error::Conflict(_))));
    assert!(matches!(submit(&e.db, &u, &t, "key-2", &vote(2)).await, Err(Error::Conflict(_))));
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM annotations").await, 1);
}

#[tokio::test]
async fn someone_elses_task_is_not_found() {
    let e = env().await;
    let p = project(&e.db, 2, &line("a", 2)).await;
    let a = annotator(&e.db, "a1", &p).await;
    let b = annotator(&e.db, "a2", &p).await;
    let t = tasks::next(&e.db, &p, &a).await.unwrap().unwrap().task_id.to_string();
    assert!(matches!(submit(&e.db, &b, &t, "k", &vote(1)).await, Err(Error::NotFound(_))));
    assert!(matches!(skip(&e.db, &b, &t, None).await, Err(Error::NotFound(_))));
}

#[tokio::test]
async fn skipped_pairs_go_back_to_the_pool_but_not_to_the_skipper() {
    let e = env().await;
    let p = project(&e.db, 1, &line("a", 2)).await;
    let a = annotator(&e.db, "a1", &p).await;
    let b = annotator(&e.db, "a2", &p).await;
    let t = tasks::next(&e.db, &p, &a).await.unwrap().unwrap().task_id.to_string();
    assert!(tasks::next(&e.db, &p, &b).await.unwrap().is_none(), "leased to a1");
    skip(&e.db, &a, &t, Some("not my language")).await.unwrap();
    assert!(tasks::next(&e.db, &p, &a).await.unwrap().is_none());
    assert!(tasks::next(&e.db, &p, &b).await.unwrap().is_some());
}

#[tokio::test]
async fn expired_leases_free_the_pair_and_late_work_is_kept_and_counted() {
    let e = env().await;
    let p = project(&e.db, 1, &line("a", 2)).await;
    let a = annotator(&e.db, "a1", &p).await;
    let b = annotator(&e.db, "a2", &p).await;
    let t = tasks::next(&e.db, &p, &a).await.unwrap().unwrap().task_id.to_string();
    arbiter_core::on!(&e.db.write, e => sqlx::query("UPDATE assignments SET lease_expires_at = 0").execute(e).await.map(|r| r.rows_affected())).unwrap();
    let tb = tasks::next(&e.db, &p, &b).await.unwrap().expect("the expired pair is free again").task_id.to_string();
    submit(&e.db, &b, &tb, "kb", &vote(1)).await.unwrap();
    let (late, _) = submit(&e.db, &a, &t, "ka", &vote(1)).await.unwrap();
    assert!(late.late);
    let c = arbiter_core::storage::projects::counts(&e.db.read, &p).await.unwrap();
    assert_eq!((c.annotations, c.over_covered_pairs), (2, 1));
}

#[tokio::test]
async fn export_writes_chosen_and_rejected_by_canonical_score_whatever_the_side() {
    let e = env().await;
    let p = project(&e.db, 1, &line("a", 2)).await;
    let u = annotator(&e.db, "ann", &p).await;
    let t = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    // "Left much better": the left text must come out as chosen.
    submit(&e.db, &u, &t.task_id.to_string(), "k", &vote(-3)).await.unwrap();
    let options = export::Options::parse(&Default::default(), None).unwrap();
    let mut running = export::start(&e.db, "test", &p, options).await.unwrap();
    assert_eq!(running.plan.form, arbiter_core::domain::form::Form::Standard, "{}", running.plan.form_reason);
    let mut out = Vec::new();
    while let Some(chunk) = running.chunks.recv().await {
        out.extend(chunk.bytes);
    }
    let card = running.done.await.unwrap().unwrap();
    let rows: Vec<Value> = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(card.counts.rows, 1);
    assert_eq!(rows[0]["chosen"], t.left.as_ref().unwrap().text);
    assert_eq!(rows[0]["rejected"], t.right.as_ref().unwrap().text);
    assert_eq!(rows[0]["prompt"], "question a");
    assert_eq!(rows[0]["margin"], 1.0);
}

#[tokio::test]
async fn a_failing_write_job_undoes_only_its_own_writes_in_a_shared_transaction() {
    if skip_on_postgres("SQLite's writer thread") {
        return;
    }
    use arbiter_core::storage::writer::sql_err;
    let e = env().await;
    let path = e.dir.path().join("t.db");
    // A job that holds the writer until three more are queued behind it, so
    // those three are taken as one batch (one transaction).
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let blocker = e.db.sqlite_writer().unwrap().run(move |_| {
        started_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        Ok(())
    });
    let blocker = tokio::spawn(blocker);
    tokio::task::spawn_blocking(move || started_rx.recv().unwrap()).await.unwrap();
    let insert = |action: &'static str, fail: bool| {
        let path = path.clone();
        e.db.sqlite_writer().unwrap().run(move |c| {
            c.execute("INSERT INTO audit_log (at, actor, action) VALUES (1, 'test', $1)", [action]).map_err(sql_err)?;
            if fail {
                return Err(Error::bad("refused"));
            }
            // Seen from another connection, the earlier job's row is not committed yet.
            let other = rusqlite::Connection::open(&path).map_err(sql_err)?;
            let committed: i64 = other
                .query_row("SELECT COUNT(*) FROM audit_log WHERE actor = 'test'", [], |r| r.get(0))
                .map_err(sql_err)?;
            Ok(committed)
        })
    };
    let (a, b, c) = (insert("first", false), insert("refused", true), insert("third", false));
    let all = tokio::spawn(async move { tokio::join!(a, b, c) });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    go_tx.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    let (a, b, c) = all.await.unwrap();
    assert_eq!(a.unwrap(), 0);
    assert_eq!(c.unwrap(), 0, "\"first\" was still uncommitted when \"third\" ran: one transaction");
    assert!(matches!(b, Err(Error::BadRequest(_))));
    let actions: Vec<String> = arbiter_core::on!(&e.db.read, e => sqlx::query_scalar("SELECT action FROM audit_log WHERE actor = 'test' ORDER BY id")
        .fetch_all(e)
        .await)
        .unwrap();
    assert_eq!(actions, vec!["first", "third"]);
}

#[tokio::test]
async fn a_bulk_job_commits_alone_and_knows_the_jobs_of_its_batch_wait() {
    if skip_on_postgres("SQLite's writer thread") {
        return;
    }
    use arbiter_core::storage::writer::sql_err;
    let e = env().await;
    let path = e.dir.path().join("t.db");
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let blocker = tokio::spawn(e.db.sqlite_writer().unwrap().run(move |_| {
        started_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        Ok(())
    }));
    tokio::task::spawn_blocking(move || started_rx.recv().unwrap()).await.unwrap();
    // Rows of the test committed, as another connection sees them.
    let committed = move |c: &rusqlite::Connection, action: &str| -> Result<i64, Error> {
        c.execute("INSERT INTO audit_log (at, actor, action) VALUES (1, 'test', $1)", [action]).map_err(sql_err)?;
        let other = rusqlite::Connection::open(&path).map_err(sql_err)?;
        other.query_row("SELECT COUNT(*) FROM audit_log WHERE actor = 'test'", [], |r| r.get(0)).map_err(sql_err)
    };
    // Three jobs queued behind the blocker: taken together as one batch.
    let (c1, c2, c3) = (committed.clone(), committed.clone(), committed);
    let before = e.db.sqlite_writer().unwrap().run(move |c| c1(c, "before"));
    let waiting = e.db.sqlite_writer().unwrap().others_waiting();
    let bulk = e.db.sqlite_writer().unwrap().run_bulk(move |c| Ok((c2(c, "bulk")?, waiting())));
    let after = e.db.sqlite_writer().unwrap().run(move |c| c3(c, "after"));
    let all = tokio::spawn(async move { tokio::join!(before, bulk, after) });
    go_tx.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    let (before, bulk, after) = all.await.unwrap();
    assert_eq!(before.unwrap(), 0, "nothing committed yet when the first job ran");
    let (seen, others_waiting) = bulk.unwrap();
    assert_eq!(seen, 1, "the job before the bulk one was committed before it ran");
    assert!(others_waiting, "the job after it in the batch counts as waiting");
    assert_eq!(after.unwrap(), 2, "the bulk job was committed before the next one ran");
}

#[tokio::test]
async fn closing_the_database_finishes_every_queued_write() {
    if skip_on_postgres("SQLite's writer thread") {
        return;
    }
    use arbiter_core::storage::writer::sql_err;
    let e = env().await;
    let jobs: Vec<_> = (0..200)
        .map(|i| {
            e.db.sqlite_writer().unwrap().run(move |c| {
                c.execute("INSERT INTO audit_log (at, actor, action) VALUES ($1, 'close', 'x')", [i])
                    .map_err(sql_err)?;
                Ok(())
            })
        })
        .collect();
    let all = tokio::spawn(futures::future::join_all(jobs));
    tokio::task::yield_now().await;
    e.db.close().await;
    let results = all.await.unwrap();
    assert!(results.iter().all(|r| r.is_ok()), "every job queued before close was answered ok");
    assert!(
        matches!(e.db.sqlite_writer().unwrap().run(|_| Ok(())).await, Err(Error::Unavailable(_))),
        "closed writers refuse"
    );
    let db = Db::connect(&format!("sqlite://{}", e.dir.path().join("t.db").display())).await.unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM audit_log WHERE actor = 'close'").await, 200);
}

#[tokio::test]
async fn tasks_serve_their_markdown_rendered_and_sanitized() {
    let e = env().await;
    let p = project(
        &e.db,
        1,
        r#"{"prompt":"Say **hi**","completions":[{"model":"a","text":"**bold** <script>x()</script>"},{"model":"b","text":"`code`"}]}"#,
    )
    .await;
    let u = annotator(&e.db, "ann", &p).await;
    let t = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    let html = format!("{}{}", t.left.as_ref().unwrap().html, t.right.as_ref().unwrap().html);
    assert!(html.contains("<strong>bold</strong>") && html.contains("<code>code</code>"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(t.thread[0].html.contains("<strong>hi</strong>"));
}

#[tokio::test]
async fn a_long_answer_is_served_rendered_whole() {
    // Over 64 KB of text: rendered on the blocking pool, not the request's thread.
    let e = env().await;
    let long = "**word** ".repeat(10_000);
    let p = project(
        &e.db,
        1,
        &format!(r#"{{"prompt":"q","completions":[{{"model":"a","text":"{long}"}},{{"model":"b","text":"short"}}]}}"#),
    )
    .await;
    let u = annotator(&e.db, "ann", &p).await;
    let t = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    let html = if t.left.as_ref().unwrap().text.len() > t.right.as_ref().unwrap().text.len() {
        t.left.as_ref().unwrap().html.clone()
    } else {
        t.right.as_ref().unwrap().html.clone()
    };
    assert_eq!(html.matches("<strong>word</strong>").count(), 10_000);
}

#[tokio::test]
async fn a_prefetched_task_is_a_second_lease_that_becomes_current_after_a_submit() {
    let e = env().await;
    let p = project(&e.db, 1, &format!("{}\n{}\n{}\n", line("a", 2), line("b", 2), line("c", 2))).await;
    let a = annotator(&e.db, "a1", &p).await;
    let b = annotator(&e.db, "a2", &p).await;
    assert!(tasks::prefetch(&e.db, &p, &a).await.unwrap().is_none(), "nothing to prefetch after: no current task");
    let current = tasks::next(&e.db, &p, &a).await.unwrap().unwrap();
    let ahead = tasks::prefetch(&e.db, &p, &a).await.unwrap().unwrap();
    assert_ne!(current.task_id, ahead.task_id);
    assert_eq!(tasks::prefetch(&e.db, &p, &a).await.unwrap().unwrap().task_id, ahead.task_id, "at most two leases");
    assert_eq!(
        tasks::next(&e.db, &p, &a).await.unwrap().unwrap().task_id,
        current.task_id,
        "next stays the current one"
    );
    // The prefetched lease counts toward N: with N = 1, a2 gets only the third pair.
    let other = tasks::next(&e.db, &p, &b).await.unwrap().unwrap();
    assert!(other.task_id != current.task_id && other.task_id != ahead.task_id);
    assert!(tasks::prefetch(&e.db, &p, &b).await.unwrap().is_none());
    submit(&e.db, &a, &current.task_id.to_string(), "k1", &vote(1)).await.unwrap();
    assert_eq!(tasks::next(&e.db, &p, &a).await.unwrap().unwrap().task_id, ahead.task_id);
}

#[tokio::test]
async fn adaptive_selection_settles_a_clear_order_with_fewer_judgements_than_all_pairs() {
    let e = env().await;
    let mut s = SettingsInput::titled("A");
    s.annotations_per_pair = Some(5);
    s.pair_selection = Some("adaptive".into());
    let p = projects::create(&e.db, "test", "a", s).await.unwrap();
    // One prompt, four answers; "answer 3" is the best, "answer 0" the worst.
    let report = import::import_jsonl(&e.db, &p, None, "a.jsonl", line("q", 4).into_bytes()).await.unwrap();
    assert!(report.ok);
    let quality = |text: &str| text.rsplit(' ').next().unwrap().parse::<i64>().unwrap();
    let mut judged = 0;
    for a in 0..10 {
        let u = annotator(&e.db, &format!("ann{a}"), &p).await;
        while let Some(t) = tasks::next(&e.db, &p, &u).await.unwrap() {
            // Much better for the better answer, wherever it is shown.
            let c =
                if quality(&t.left.as_ref().unwrap().text) > quality(&t.right.as_ref().unwrap().text) { -3 } else { 3 };
            submit(&e.db, &u, &t.task_id.to_string(), &format!("k-{a}-{judged}"), &vote(c)).await.unwrap();
            judged += 1;
        }
    }
    let all_pairs = 6 * 5;
    assert!(judged < all_pairs * 7 / 10, "adaptive took {judged} judgements; all pairs take {all_pairs}");
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM prompts WHERE settled = TRUE").await, 1, "the order was settled");
    let admin = auth::create_user(&e.db, "test", "boss", "a long enough password", Role::Admin).await.unwrap();
    let progress = projects::progress(&e.db, &admin, &p).await.unwrap();
    assert_eq!((progress.pairs_complete, progress.pairs_total), (6, 6), "a settled prompt's pairs are complete");
    // The rewards put the four answers in their true order.
    let input = export::OptionsInput { format: Some("rewards".into()), ..Default::default() };
    let mut running = export::start(&e.db, "test", &p, export::Options::parse(&input, None).unwrap()).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = running.chunks.recv().await {
        out.extend(chunk.bytes);
    }
    running.done.await.unwrap().unwrap();
    let rows: Vec<Value> = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut by_reward: Vec<(f64, i64)> =
        rows.iter().map(|r| (r["reward"].as_f64().unwrap(), quality(r["completion"].as_str().unwrap()))).collect();
    by_reward.sort_by(|x, y| y.0.total_cmp(&x.0));
    assert_eq!(by_reward.iter().map(|x| x.1).collect::<Vec<_>>(), vec![3, 2, 1, 0], "{rows:?}");
}

/// A ranking of every shown completion, best first as shown.
fn ranked_as_shown(t: &arbiter_core::domain::views::TaskView) -> AnnotationInput {
    let ranks = t.completions.iter().enumerate().map(|(i, c)| (c.id.clone(), i as i64 + 1)).collect();
    AnnotationInput {
        choice: None,
        ranks: Some(arbiter_core::domain::views::Entries(ranks)),
        ratings: None,
        completion_flags: None,
        both_bad: false,
        flags: vec![],
        rationale: String::new(),
        time_ms: Some(10),
    }
}

#[tokio::test]
async fn prompt_tasks_are_leased_n_times_never_twice_to_one_annotator_and_skips_and_expiries_free_them() {
    let e = env().await;
    let p = project_as(&e.db, "t", "ranking", 2, &format!("{}\n{}\n", line("a", 3), line("b", 3))).await;
    let (a, b, c) = (annotator(&e.db, "a", &p).await, annotator(&e.db, "b", &p).await, annotator(&e.db, "c", &p).await);
    assert_eq!(tasks::progress(&e.db, &p, &a).await.unwrap().remaining, 2, "prompts, not pairs");
    // a: the current task and a prefetched one, on the two prompts.
    let ta = tasks::next(&e.db, &p, &a).await.unwrap().unwrap();
    let ta2 = tasks::prefetch(&e.db, &p, &a).await.unwrap().expect("a second prompt leased ahead");
    assert_eq!(ta.completions.len(), 3);
    assert_ne!(ta.prompt, ta2.prompt);
    assert!(
        tasks::prefetch(&e.db, &p, &a).await.unwrap().is_some_and(|t| t.task_id == ta2.task_id),
        "held, not a third"
    );
    // b takes both prompts too (N = 2); c finds nothing left.
    let tb = tasks::next(&e.db, &p, &b).await.unwrap().unwrap();
    let tb2 = tasks::prefetch(&e.db, &p, &b).await.unwrap().unwrap();
    assert!(tasks::next(&e.db, &p, &c).await.unwrap().is_none(), "every prompt has N leases");
    // b skips one: c may take it; a's lease expires: c may take that prompt too.
    skip(&e.db, &b, &tb.task_id.to_string(), None).await.unwrap();
    let tc = tasks::next(&e.db, &p, &c).await.unwrap().expect("the skipped prompt's slot is free");
    assert_eq!(tc.prompt, tb.prompt);
    submit(&e.db, &c, &tc.task_id.to_string(), "kc", &ranked_as_shown(&tc)).await.unwrap();
    arbiter_core::on!(&e.db.write, e => sqlx::query("UPDATE assignments SET lease_expires_at = 0 WHERE annotator_id = $1")
        .bind(a.id)
        .execute(e)
        .await.map(|r| r.rows_affected()))
        .unwrap();
    let tc2 = tasks::next(&e.db, &p, &c).await.unwrap().expect("an expired lease frees its prompt");
    submit(&e.db, &c, &tc2.task_id.to_string(), "kc2", &ranked_as_shown(&tc2)).await.unwrap();
    // a's work arrives late: kept and counted.
    let (late, _) = submit(&e.db, &a, &ta.task_id.to_string(), "ka", &ranked_as_shown(&ta)).await.unwrap();
    assert!(late.late);
    submit(&e.db, &b, &tb2.task_id.to_string(), "kb", &ranked_as_shown(&tb2)).await.unwrap();
    let counts = arbiter_core::storage::projects::counts(&e.db.read, &p).await.unwrap();
    assert_eq!((counts.unit.as_str(), counts.pairs, counts.annotations), ("prompts", 2, 4));
    assert_eq!(counts.complete_pairs, 2, "both prompts have N = 2 rankings");
    assert!(tasks::next(&e.db, &p, &b).await.unwrap().is_none(), "b has done or skipped both prompts");
}

/// An export's second reader sees the export's snapshot, not what was
/// stored after it opened (PostgreSQL: a twin connection; SQLite reads on
/// one connection and has none).
#[tokio::test]
async fn an_exports_second_reader_sees_its_snapshot_not_later_writes() {
    use arbiter_core::storage::conn::Conn;
    use arbiter_core::storage::export::Snapshot;
    fn annotations(s: &mut Snapshot) -> i64 {
        (s as &mut dyn Conn).scalar("SELECT COUNT(*) FROM annotations", &[]).unwrap()
    }
    let e = env().await;
    let p = project(&e.db, 1, &format!("{}\n{}\n", line("a", 2), line("b", 2))).await;
    let u = annotator(&e.db, "ann", &p).await;
    let t = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    submit(&e.db, &u, &t.task_id.to_string(), "k1", &vote(-3)).await.unwrap();
    let db = e.db.clone();
    let (mut first, twin) = tokio::task::spawn_blocking(move || {
        let mut first = Snapshot::open(&db).unwrap();
        let twin = first.twin(&db).unwrap();
        (first, twin)
    })
    .await
    .unwrap();
    assert_eq!(twin.is_some(), postgres_server().is_some(), "a twin on PostgreSQL only");
    let t = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    submit(&e.db, &u, &t.task_id.to_string(), "k2", &vote(3)).await.unwrap();
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM annotations").await, 2);
    let seen = tokio::task::spawn_blocking(move || (annotations(&mut first), twin.map(|mut t| annotations(&mut t))))
        .await
        .unwrap();
    assert_eq!(seen.0, 1, "the export's snapshot is from before the second annotation");
    if let Some(twin) = seen.1 {
        assert_eq!(twin, 1, "the twin sees the same snapshot");
    }
}

/// PostgreSQL: a claim whose annotator lock cannot be had (here a
/// `lock_timeout`) fails, and no later job meets its connection inside an
/// aborted transaction (`BEGIN` and the lock are one query, which sqlx does
/// not roll back when the lock fails: the connection must be closed).
#[tokio::test]
async fn a_claim_whose_lock_fails_leaves_no_broken_connection_behind() {
    use sqlx::Connection;
    if skip_on_sqlite("SQLite has no advisory locks") {
        return;
    }
    let e = env().await;
    let p = project(&e.db, 1, &format!("{}\n{}\n", line("a", 2), line("b", 2))).await;
    let u = annotator(&e.db, "ann", &p).await;
    let db_name = e.url.rsplit('/').next().unwrap().to_owned();
    let mut other = sqlx::PgConnection::connect(&e.url).await.unwrap();
    sqlx::query(&format!("ALTER DATABASE {db_name} SET lock_timeout = '100ms'")).execute(&mut other).await.unwrap();
    // Write-job connections that start after that setting.
    let db = Db::connect(&e.url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)").bind(u.id).execute(&mut other).await.unwrap();
    assert!(tasks::next(&db, &p, &u).await.is_err(), "the annotator's lock is held elsewhere");
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(u.id).execute(&mut other).await.unwrap();
    // Every write-job thread's connection works next.
    for i in 0..6 {
        let t = tasks::next(&db, &p, &u).await.unwrap_or_else(|e| panic!("job {i} after the failed lock: {e}"));
        assert!(t.is_some());
        assert!(count(&db, "SELECT COUNT(*) FROM assignments").await >= 1);
    }
}

/// Twelve pairs (one annotation each) and eight annotators, for jobs at once.
async fn crowd(db: &Db) -> (Project, Vec<User>) {
    let p = project(db, 1, &(0..12).map(|i| line(&format!("p{i}"), 2) + "\n").collect::<String>()).await;
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(annotator(db, &format!("ann{i}"), &p).await);
    }
    (p, users)
}

/// A claim of each of `users` at once; every one gets a task.
async fn claim_at_once(db: &Db, p: &Project, users: &[User]) {
    let claims = futures::future::join_all(users.iter().map(|u| tasks::next(db, p, u))).await;
    assert!(claims.iter().all(|c| matches!(c, Ok(Some(_)))), "{claims:?}");
}

/// PostgreSQL's write-job threads replace a connection the server dropped
/// (as after a restart): the next claims succeed, none answers 503.
#[tokio::test]
async fn write_jobs_replace_connections_the_server_dropped() {
    use sqlx::Connection;
    if skip_on_sqlite("SQLite's writer holds a file, not a connection") {
        return;
    }
    let e = env().await;
    let (p, users) = crowd(&e.db).await;
    // Every thread opens its connection: eight claims at once.
    claim_at_once(&e.db, &p, &users).await;
    let db_name = e.url.rsplit('/').next().unwrap().to_owned();
    let mut admin = sqlx::PgConnection::connect(&e.url).await.unwrap();
    let killed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                               WHERE datname = $1 AND pid <> pg_backend_pid()) x",
    )
    .bind(&db_name)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(killed >= 2, "the write-job connections and the pool's were open: {killed}");
    for round in 0..3 {
        let claims = futures::future::join_all(users.iter().map(|u| tasks::prefetch(&e.db, &p, u))).await;
        for (u, c) in users.iter().zip(&claims) {
            assert!(c.is_ok(), "round {round}, user {}: {:?}", u.id, c.as_ref().err());
        }
    }
}

/// An annotator's jobs wait their turn in the instance, not on a write-job
/// thread: many claims of one annotator blocked on their lock leave the
/// threads free for everyone else.
#[tokio::test]
async fn one_annotators_blocked_jobs_hold_no_thread_from_others() {
    use sqlx::Connection;
    if skip_on_sqlite("SQLite's one writer runs every job in turn") {
        return;
    }
    let e = env().await;
    let p = project(&e.db, 2, &(0..4).map(|i| line(&format!("p{i}"), 2) + "\n").collect::<String>()).await;
    let (a, b) = (annotator(&e.db, "a", &p).await, annotator(&e.db, "b", &p).await);
    // Another session holds a's lock: every job on a's behalf waits for it.
    let mut other = sqlx::PgConnection::connect(&e.url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)").bind(a.id).execute(&mut other).await.unwrap();
    let waiting: Vec<_> = (0..8)
        .map(|_| {
            let (db, p, a) = (e.db.clone(), p.clone(), a.clone());
            tokio::spawn(async move { tasks::next(&db, &p, &a).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let theirs = tokio::time::timeout(std::time::Duration::from_secs(5), tasks::next(&e.db, &p, &b)).await;
    assert!(matches!(theirs, Ok(Ok(Some(_)))), "b's claim waited behind a's: {theirs:?}");
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(a.id).execute(&mut other).await.unwrap();
    let mut leases = std::collections::HashSet::new();
    for w in waiting {
        leases.insert(w.await.unwrap().unwrap().expect("a task for a").task_id);
    }
    assert_eq!(leases.len(), 1, "a's claims all name a's one current task");
}

/// `--pg-write-threads`: that many write-job connections, however many
/// jobs come at once: jobs that each hold a thread all run at once (so
/// every thread has its connection), and claims sent meanwhile open no more.
#[tokio::test]
async fn write_jobs_use_as_many_connections_as_threads_asked_for() {
    if skip_on_sqlite("SQLite has one writer thread") {
        return;
    }
    let e = env().await;
    let (p, users) = crowd(&e.db).await;
    for threads in [1, 3] {
        let db = Db::connect_with(&e.url, threads).await.unwrap();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let go = std::sync::Arc::new(std::sync::Barrier::new(threads + 1));
        let holders: Vec<_> = (0..threads)
            .map(|_| {
                let (db, started, go) = (db.clone(), started_tx.clone(), go.clone());
                tokio::spawn(async move {
                    db.hot(move |_| {
                        started.send(()).unwrap();
                        go.wait();
                        Ok(())
                    })
                    .await
                })
            })
            .collect();
        tokio::task::spawn_blocking(move || (0..threads).for_each(|_| started_rx.recv().unwrap())).await.unwrap();
        let claims = {
            let (db, p, users) = (db.clone(), p.clone(), users.clone());
            tokio::spawn(async move { claim_at_once(&db, &p, &users).await })
        };
        let go_now = go.clone();
        tokio::task::spawn_blocking(move || go_now.wait()).await.unwrap();
        for h in holders {
            h.await.unwrap().unwrap();
        }
        claims.await.unwrap();
        let jobs = arbiter_core::storage::pool_use(&db).into_iter().find(|(name, ..)| *name == "write_jobs");
        assert_eq!(jobs.map(|(_, open, _)| open), Some(threads as u32), "{threads} threads");
        db.close().await;
    }
}

type Then = fn(&mut dyn arbiter_core::storage::conn::Conn) -> Result<(), Error>;

/// PostgreSQL: a test database and a `Db` with one write-job thread (so the
/// jobs queued behind a held one are taken together). None on SQLite.
async fn one_write_job_thread() -> Option<(Env, Db)> {
    if skip_on_sqlite("PostgreSQL's write-job threads (SQLite's writer has its own tests)") {
        return None;
    }
    let e = env().await;
    let db = Db::connect_with(&e.url, 1).await.unwrap();
    Some((e, db))
}

/// PostgreSQL: three audit jobs ("first", `middle`, "third", on behalf of
/// annotators 1, 2 and 3) queued while a job holds the one write-job thread
/// of `db`, which then lets go: the thread takes the three together.
async fn three_jobs_together(
    db: &Db,
    middle: &'static str,
    then: Then,
) -> [tokio::task::JoinHandle<Result<i64, Error>>; 3] {
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let holder = db.clone();
    let held = tokio::spawn(async move {
        holder
            .hot(move |_| {
                started_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                Ok(())
            })
            .await
    });
    tokio::task::spawn_blocking(move || started_rx.recv().unwrap()).await.unwrap();
    let ok: Then = |_| Ok(());
    let jobs = [(1, "first", ok), (2, middle, then), (3, "third", ok)]
        .map(|(who, action, then)| tokio::spawn(audit_job(db, who, action, then)));
    let queued = async {
        while db.writer_queue_depth() < 3 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), queued).await.expect("the three jobs queue");
    go_tx.send(()).unwrap();
    held.await.unwrap().unwrap();
    jobs
}

/// A job on behalf of (advisory lock) `who`: inserts an audit row named
/// `action` and answers its transaction's id.
fn audit_job(
    db: &Db,
    who: i64,
    action: &'static str,
    then: Then,
) -> impl std::future::Future<Output = Result<i64, Error>> {
    let db = db.clone();
    async move {
        db.hot_as(who, move |c| {
            c.execute("INSERT INTO audit_log (at, actor, action) VALUES (1, 'batch', $1)", &[action.into()])?;
            then(c)?;
            c.scalar::<i64>("SELECT txid_current()", &[])
        })
        .await
    }
}

async fn audit_actions(db: &Db) -> Vec<String> {
    arbiter_core::on!(&db.read, e => sqlx::query_scalar("SELECT action FROM audit_log WHERE actor = 'batch' ORDER BY action")
        .fetch_all(e)
        .await)
    .unwrap()
}

/// PostgreSQL's write-job threads commit annotators' jobs queued together
/// in one transaction (one commit, one flush of the WAL); a job that fails
/// undoes its own writes only, in its savepoint.
#[tokio::test]
async fn postgres_jobs_queued_together_share_a_transaction_and_a_failing_one_undoes_only_its_own() {
    let Some((_e, db)) = one_write_job_thread().await else { return };
    let [first, refused, third] = three_jobs_together(&db, "refused", |_| Err(Error::bad("refused"))).await;
    let (first, third) = (first.await.unwrap().unwrap(), third.await.unwrap().unwrap());
    assert_eq!(first, third, "the first and third jobs ran in one transaction");
    assert!(matches!(refused.await.unwrap(), Err(Error::BadRequest(_))));
    assert_eq!(audit_actions(&db).await, vec!["first", "third"]);
    db.close().await;
}

/// A batch whose jobs all succeed runs them one after another in its
/// transaction: every annotator's advisory lock is taken when it begins,
/// and no job has a savepoint (a subtransaction that writes holds a
/// transaction id of its own). Only when a job fails does the batch run
/// again job by job (the test above).
#[tokio::test]
async fn postgres_a_batch_takes_its_annotators_locks_at_once_and_no_savepoint_when_all_succeed() {
    let Some((_e, db)) = one_write_job_thread().await else { return };
    let [first, middle, third] = three_jobs_together(&db, "middle", |c| {
        for (held, kind) in [("advisory", "advisory"), ("xids", "transactionid")] {
            c.execute(
                "INSERT INTO audit_log (at, actor, action)
                 SELECT COUNT(*), 'locks', $1 FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = $2",
                &[held.into(), kind.into()],
            )?;
        }
        Ok(())
    })
    .await;
    let (first, middle, third) =
        (first.await.unwrap().unwrap(), middle.await.unwrap().unwrap(), third.await.unwrap().unwrap());
    assert!(first == middle && middle == third, "one transaction");
    let held: Vec<(String, i64)> = arbiter_core::on!(&db.read, x => sqlx::query_as(
        "SELECT action, at FROM audit_log WHERE actor = 'locks' ORDER BY action")
        .fetch_all(x)
        .await)
    .unwrap();
    assert_eq!(held, vec![("advisory".to_owned(), 3), ("xids".to_owned(), 1)], "the three locks, one transaction id");
    assert_eq!(audit_actions(&db).await, vec!["first", "middle", "third"]);
    db.close().await;
}

/// A job of a batch that waits for a row another transaction holds is
/// undone after a short wait and runs again after the batch, alone: the
/// batch's other jobs are committed (and answered) meanwhile, and it waits
/// as long as it must on its own.
#[tokio::test]
async fn postgres_a_batch_job_waiting_for_a_lock_runs_again_alone_and_the_batch_goes_on() {
    use sqlx::Connection;
    let Some((e, db)) = one_write_job_thread().await else { return };
    arbiter_core::on!(&db.write, x => sqlx::query("INSERT INTO audit_log (at, actor, action) VALUES (0, 'locked', 'row')")
        .execute(x)
        .await
        .map(|_| ()))
    .unwrap();
    // Another session holds that row.
    let mut other = sqlx::PgConnection::connect(&e.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("SELECT * FROM audit_log WHERE actor = 'locked' FOR UPDATE").execute(&mut other).await.unwrap();
    let waiting = |c: &mut dyn arbiter_core::storage::conn::Conn| {
        c.execute("UPDATE audit_log SET at = 1 WHERE actor = 'locked'", &[]).map(|_| ())
    };
    the_batch_goes_on_without_the_waiting_job(&db, waiting, &mut other, "COMMIT").await;
}

/// `three_jobs_together` with a middle job that waits for a lock `other`
/// holds: the first and third are committed together meanwhile; the middle
/// one runs alone, in a transaction of its own, once `release` lets go.
async fn the_batch_goes_on_without_the_waiting_job(
    db: &Db,
    waiting: Then,
    other: &mut sqlx::PgConnection,
    release: &str,
) {
    let [first, waiting, third] = three_jobs_together(db, "waiting", waiting).await;
    let within = std::time::Duration::from_secs(5);
    let first = tokio::time::timeout(within, first).await.expect("the batch did not wait for the held lock");
    let third = tokio::time::timeout(within, third).await.expect("the batch did not wait for the held lock");
    let (first, third) = (first.unwrap().unwrap(), third.unwrap().unwrap());
    assert_eq!(first, third, "one transaction");
    assert!(!waiting.is_finished(), "the job behind the lock still waits for it");
    sqlx::query(release).execute(other).await.unwrap();
    let alone = waiting.await.unwrap().expect("it ran once the lock was free");
    assert_ne!(alone, first, "it ran in a transaction of its own");
    assert_eq!(audit_actions(db).await, vec!["first", "third", "waiting"]);
    db.close().await;
}

/// An annotator whose advisory lock another session holds (their job on
/// another instance): the batch that would begin with it gives up after a
/// short wait, runs again job by job, and goes on without that job, which
/// runs alone once the lock is free.
#[tokio::test]
async fn postgres_a_batch_whose_annotator_lock_is_held_elsewhere_goes_on_without_that_job() {
    use sqlx::Connection;
    let Some((e, db)) = one_write_job_thread().await else { return };
    let mut other = sqlx::PgConnection::connect(&e.url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(2)").execute(&mut other).await.unwrap();
    the_batch_goes_on_without_the_waiting_job(&db, |_| Ok(()), &mut other, "SELECT pg_advisory_unlock(2)").await;
}

/// A job that panics in a batch answers an internal error; the batch's
/// other jobs run again on a new connection and are stored once.
#[tokio::test]
async fn postgres_a_panicking_batch_job_fails_alone_and_the_others_are_stored_once() {
    let Some((_e, db)) = one_write_job_thread().await else { return };
    let [first, panics, third] = three_jobs_together(&db, "panics", |_| panic!("a bug in a write job")).await;
    assert!(matches!(panics.await.unwrap(), Err(Error::Internal(_))));
    assert_eq!(first.await.unwrap().unwrap(), third.await.unwrap().unwrap(), "the two ran again together");
    assert_eq!(audit_actions(&db).await, vec!["first", "third"]);
    db.close().await;
}

/// The schema refuses what the code never writes, on either backend: an
/// out-of-range choice or prior, an unknown task state, a pair of one
/// completion (PostgreSQL checks these as domains and a trigger, not as
/// table checks, so the hot path's updates compile none of them).
#[tokio::test]
async fn the_schema_refuses_out_of_range_values_unknown_states_and_a_pair_of_one_completion() {
    let e = env().await;
    let p = project(&e.db, 1, &format!("{}\n", line("a", 2))).await;
    let u = annotator(&e.db, "ann", &p).await;
    let t = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    submit(&e.db, &u, &t.task_id.to_string(), "k1", &vote(2)).await.unwrap();
    let run = |sql: &'static str| {
        let db = e.db.clone();
        async move { arbiter_core::on!(&db.write, x => sqlx::query(sql).execute(x).await.map(|r| r.rows_affected())) }
    };
    for bad in [
        "UPDATE pairs SET gold_choice = 4",
        "UPDATE pairs SET prior = 2",
        "UPDATE pairs SET adjudicated = -2",
        "UPDATE pairs SET completion_b = completion_a",
        "UPDATE assignments SET state = 'lost'",
        "UPDATE annotations SET choice = -4",
        "UPDATE annotations SET choice_shown = 7",
    ] {
        let refused = run(bad).await;
        let code =
            refused.as_ref().err().and_then(|e| e.as_database_error()).and_then(|d| d.code()).map(|c| c.into_owned());
        // 23514 check_violation on PostgreSQL; SQLite's extended code 275 (SQLITE_CONSTRAINT_CHECK).
        assert!(matches!(code.as_deref(), Some("23514" | "275")), "{bad}: {refused:?}");
    }
    for good in
        ["UPDATE pairs SET gold_choice = -3, prior = 1, adjudicated = 0", "UPDATE assignments SET state = 'submitted'"]
    {
        assert_eq!(run(good).await.unwrap(), 1, "{good}");
    }
}

/// Gold pairs are served at the gold rate while other pairs remain; once
/// none does, the annotator's gold pairs come next whatever the roll says,
/// so "nothing left" is true when it is said.
#[tokio::test]
async fn nothing_left_is_said_only_when_no_gold_pair_is_left_either() {
    let e = env().await;
    let mut s = SettingsInput::titled("G");
    s.annotations_per_pair = Some(1);
    s.gold_percent = Some(1);
    let p = projects::create(&e.db, "test", "g", s).await.unwrap();
    let lines: String = (0..6)
        .map(|i| {
            let l = line(&format!("p{i}"), 2);
            // The first two are gold, with the first answer the known one.
            (if i < 2 { l.replacen('{', r#"{"gold":"a","#, 1) } else { l }) + "\n"
        })
        .collect();
    let report = import::import_jsonl(&e.db, &p, None, "g.jsonl", lines.into_bytes()).await.unwrap();
    assert!(report.ok, "{:?}", report.errors);
    let u = annotator(&e.db, "ann", &p).await;
    let mut judged = 0;
    while let Some(t) = tasks::next(&e.db, &p, &u).await.unwrap() {
        submit(&e.db, &u, &t.task_id.to_string(), &format!("k{judged}"), &vote(1)).await.unwrap();
        judged += 1;
        assert!(judged <= 6, "more tasks than pairs");
    }
    assert_eq!(judged, 6, "4 ordinary pairs and both gold pairs before nothing is left");
}

/// Export pages are cut at the scope's own ids: full pages (but the last)
/// even where another project's ids lie between this one's, every id in
/// exactly one page, in order (pairs and annotations alike).
#[tokio::test]
async fn export_pages_hold_a_full_page_of_the_scopes_ids_however_they_are_spread() {
    use arbiter_core::storage::export::{page_ranges, Scope, Snapshot};
    let e = env().await;
    let mut created = Vec::new();
    for (slug, lines) in [("a", "a0 a1 a2"), ("b", "b0 b1 b2"), ("a", "a3 a4 a5 a6")] {
        let p = match created.iter().find(|p: &&Project| p.slug == slug) {
            Some(p) => p.clone(),
            None => {
                let mut s = SettingsInput::titled(slug);
                s.annotations_per_pair = Some(1);
                let p = projects::create(&e.db, "test", slug, s).await.unwrap();
                created.push(p.clone());
                p
            }
        };
        let body: String = lines.split(' ').map(|id| line(id, 2) + "\n").collect();
        let report = import::import_jsonl(&e.db, &p, None, &format!("{slug}.jsonl"), body.into_bytes()).await.unwrap();
        assert!(report.ok, "{:?}", report.errors);
    }
    let (a, b) = (created[0].clone(), created[1].clone());
    let u = annotator(&e.db, "ann", &a).await;
    projects::add_member(&e.db, "test", &b, "ann").await.unwrap();
    for (p, n) in [(&a, 6), (&b, 2)] {
        for i in 0..n {
            let t = tasks::next(&e.db, p, &u).await.unwrap().unwrap();
            submit(&e.db, &u, &t.task_id.to_string(), &format!("{}{i}", p.slug), &vote(1)).await.unwrap();
        }
    }
    let ids = |sql: String| {
        let db = e.db.clone();
        async move {
            let v: Vec<i64> = arbiter_core::on!(&db.read, x => sqlx::query_scalar(&sql).fetch_all(x).await).unwrap();
            v
        }
    };
    let pairs = ids(format!("SELECT pair_id FROM annotations WHERE project_id = {} ORDER BY pair_id", a.id)).await;
    let annotations = ids(format!("SELECT id FROM annotations WHERE project_id = {} ORDER BY id", a.id)).await;
    assert_eq!(pairs.len(), 6);
    let of_b = ids(format!("SELECT id FROM pairs WHERE project_id = {} ORDER BY id", b.id)).await;
    assert!(pairs[0] < of_b[0] && pairs[5] > of_b[2], "b's pairs lie between a's: {pairs:?}, {of_b:?}");
    let (db, scope) = (e.db.clone(), Scope { project_id: a.id, ..Scope::default() });
    let (by_pair, by_annotation) = tokio::task::spawn_blocking(move || {
        let mut s = Snapshot::open(&db).unwrap();
        (page_ranges(&mut s, &scope, true, 4).unwrap(), page_ranges(&mut s, &scope, false, 4).unwrap())
    })
    .await
    .unwrap();
    for (ranges, ids) in [(by_pair, pairs), (by_annotation, annotations)] {
        let per_page: Vec<Vec<i64>> = ranges
            .iter()
            .map(|&(after, up_to)| ids.iter().copied().filter(|&i| i > after && i <= up_to).collect())
            .collect();
        assert_eq!(per_page.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 2], "{ranges:?} over {ids:?}");
        assert_eq!(per_page.concat(), ids, "every id in one page, in order");
        assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0), "ranges follow each other: {ranges:?}");
    }
}

async fn execute(db: &Db, sql: &str) {
    arbiter_core::on!(&db.write, e => sqlx::query(sql).execute(e).await.map(|_| ())).unwrap();
}

#[tokio::test]
async fn a_judgement_whose_next_task_fails_is_stored_alone_and_its_retry_brings_the_next() {
    let e = env().await;
    let p = project(&e.db, 1, &format!("{}\n{}\n", line("a", 2), line("b", 2))).await;
    let u = annotator(&e.db, "ann", &p).await;
    let t1 = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    // From here on no lease can be written for this annotator: the claim
    // inside `submit_and_next` fails after its submission went in.
    let refuse = if postgres_server().is_some() {
        vec![
            "CREATE FUNCTION refuse_leases() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'no lease for this annotator'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER refuse_leases BEFORE INSERT ON assignments FOR EACH ROW
                 WHEN (NEW.annotator_id = {}) EXECUTE FUNCTION refuse_leases()",
                u.id
            ),
        ]
    } else {
        vec![format!(
            "CREATE TRIGGER refuse_leases BEFORE INSERT ON assignments WHEN NEW.annotator_id = {}
             BEGIN SELECT RAISE(ABORT, 'no lease for this annotator'); END",
            u.id
        )]
    };
    for sql in &refuse {
        execute(&e.db, sql).await;
    }
    let (task, key) = (TaskId::parse(&t1.task_id.to_string()).unwrap(), ClientKey::parse("k-1").unwrap());
    let failed = tasks::submit_and_next(&e.db, &u, &p, task, &key, &vote(3)).await;
    assert!(failed.is_err(), "no next task could be leased: {:?}", failed.map(|r| r.2));
    // The judgement went in anyway, once, and nothing else was leased.
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM annotations").await, 1);
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM assignments WHERE state = 'submitted'").await, 1);
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM assignments").await, 1);
    let drop = if postgres_server().is_some() {
        "DROP TRIGGER refuse_leases ON assignments"
    } else {
        "DROP TRIGGER refuse_leases"
    };
    execute(&e.db, drop).await;
    // The client's retry (same key): the stored receipt, and now a next task.
    let (receipt, fresh, next) = tasks::submit_and_next(&e.db, &u, &p, task, &key, &vote(3)).await.unwrap();
    assert!(!fresh, "the retry finds the judgement stored");
    assert_eq!(receipt.task_id, t1.task_id);
    let next = next.expect("a second pair is left");
    assert_ne!(next.task_id, t1.task_id);
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM annotations").await, 1);
}

/// A judgement that brings the next task returns expired leases to the pool
/// (the first on each handle, then once a second), so an annotator who only
/// ever works that way gets the pair another let lapse.
#[tokio::test]
async fn judgements_that_bring_the_next_task_return_expired_leases_to_the_pool() {
    let e = env().await;
    let p = project(&e.db, 1, &format!("{}\n{}\n", line("a", 2), line("b", 2))).await;
    let (a, b) = (annotator(&e.db, "a", &p).await, annotator(&e.db, "b", &p).await);
    let lapsed = tasks::next(&e.db, &p, &a).await.unwrap().unwrap();
    let mine = tasks::next(&e.db, &p, &b).await.unwrap().unwrap();
    execute(&e.db, &format!("UPDATE assignments SET lease_expires_at = 1 WHERE annotator_id = {}", a.id)).await;
    let (task, key) = (TaskId::parse(&mine.task_id.to_string()).unwrap(), ClientKey::parse("k-b").unwrap());
    let (_, fresh, next) = tasks::submit_and_next(&e.db, &b, &p, task, &key, &vote(1)).await.unwrap();
    assert!(fresh);
    let next = next.expect("the lapsed pair is back in the pool");
    let pair_of = |task: String| format!("SELECT pair_id FROM assignments WHERE uuid = '{task}'");
    assert_eq!(
        count(&e.db, &pair_of(next.task_id.to_string())).await,
        count(&e.db, &pair_of(lapsed.task_id.to_string())).await
    );
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM assignments WHERE state = 'expired'").await, 1);
    assert_eq!(count(&e.db, "SELECT MAX(load) FROM pairs").await, 1, "each pair counts one live lease or annotation");
}

/// Between sweeps, a judgement on a lease past its time is late, and its
/// pair's counters are right: the lease's slot becomes the annotation's.
#[tokio::test]
async fn a_late_judgement_between_sweeps_keeps_its_pairs_counters_right() {
    let e = env().await;
    let p = project(&e.db, 1, &format!("{}\n{}\n", line("a", 2), line("b", 2))).await;
    let a = annotator(&e.db, "a", &p).await;
    let t = tasks::next(&e.db, &p, &a).await.unwrap().unwrap();
    execute(&e.db, "UPDATE assignments SET lease_expires_at = 1").await;
    // The judgement's sweep is not due: the lease stays 'leased', past its time.
    assert!(e.db.sweep_due(arbiter_core::storage::now_ms()));
    let (task, key) = (TaskId::parse(&t.task_id.to_string()).unwrap(), ClientKey::parse("k-late").unwrap());
    let (receipt, fresh, next) = tasks::submit_and_next(&e.db, &a, &p, task, &key, &vote(2)).await.unwrap();
    assert!(fresh && receipt.late, "stored, marked late");
    assert!(next.is_some(), "the other pair");
    let pair = format!("(SELECT pair_id FROM assignments WHERE uuid = '{}')", t.task_id);
    assert_eq!(count(&e.db, &format!("SELECT load FROM pairs WHERE id = {pair}")).await, 1);
    assert_eq!(count(&e.db, &format!("SELECT submitted FROM pairs WHERE id = {pair}")).await, 1);
    assert_eq!(
        count(&e.db, "SELECT CAST(SUM(load) AS BIGINT) FROM pairs").await,
        2,
        "the judged pair and the next one"
    );
}

#[tokio::test]
async fn the_judgements_sweep_is_due_once_a_second() {
    let e = env().await;
    let t = 1_000_000;
    assert!(e.db.sweep_due(t), "the first is due");
    assert!(!e.db.sweep_due(t), "not twice in the same instant");
    assert!(!e.db.sweep_due(t + 999));
    assert!(e.db.sweep_due(t + 1_000));
    assert!(!e.db.sweep_due(t + 1_500));
}

#[tokio::test]
async fn the_picks_are_planned_once_and_walk_their_index() {
    if skip_on_sqlite("plan caching is PostgreSQL's") {
        return;
    }
    let picks = [
        ("pairwise", "pairs_pick"),
        ("ranking", "prompts_pick"),
        ("gold", "pairs_gold"),
        ("models", "pairs_model_pick"),
        ("adaptive", "pairs_pick"),
        // Not a pick: the look at the annotator's own live leases before each.
        ("held", "assignments_annotator"),
        // Nor this: a judgement's task, with those leases (`find_and_held`).
        ("task and held", "assignments_annotator"),
    ];
    for (pick, index) in picks {
        let (generic, custom, plan) = plans_of_seven_picks(pick).await;
        assert_eq!((generic, custom), (7, 0), "{pick}: one plan, for any values");
        assert!(plan.contains(&format!("Index Scan using {index} on")), "{pick}: walks {index}\n{plan}");
        if pick.contains("held") {
            assert!(!plan.contains("Sort"), "{pick}: read in the order wanted, not sorted\n{plan}");
        }
        // (The task lookup joins the test's one project and two users, read whole.)
        let scan = if pick == "task and held" { "Seq Scan on assignments" } else { "Seq Scan" };
        assert!(!plan.contains("Anti Join") && !plan.contains(scan), "{pick}: a probe per candidate\n{plan}");
    }
}

/// (generic, custom) plans of a pick statement after seven executions in
/// one job (so on one write-job connection), and the plan, on a project
/// whose statistics are those of one under way (vacuumed and analyzed):
/// 300 prompts of three answers, each pair or prompt judged by 40 others.
/// Left to compare the cost of the plan without values with those for the
/// values at hand, PostgreSQL planned the ranking pick anew at every claim
/// once `assignments` was vacuumed; and without the `OFFSET 0` fence the
/// plan without values of the pairwise, ranking and adaptive picks was an
/// anti-join (a hash of the annotator's assignments or a scan of them all).
async fn plans_of_seven_picks(pick: &str) -> (i64, i64, String) {
    use arbiter_core::storage::assignments::{
        find_and_held, lease_for_models, lease_gold, lease_next, lease_next_prompt, least_loaded, sweep_and_held,
    };
    let e = env().await;
    let ranking = pick == "ranking";
    let lines: Vec<String> = (0..300).map(|i| line(&format!("q{i}"), 3)).collect();
    let p = project_as(&e.db, "t", if ranking { "ranking" } else { "pairwise" }, 2, &(lines.join("\n") + "\n")).await;
    let u = annotator(&e.db, "ann", &p).await;
    e.db.hot(move |c| {
        for sql in others_on_every_task("bulk", 40, ranking, "submitted") {
            c.execute(&sql, &[])?;
        }
        Ok(())
    })
    .await
    .unwrap();
    {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&e.url).await.unwrap();
        sqlx::raw_sql("VACUUM ANALYZE").execute(&mut admin).await.unwrap();
    }
    let (project_id, user_id, pick) = (p.id, u.id, pick.to_owned());
    e.db.hot(move |c| {
        let models = ["m0\u{1f}m1".to_owned()];
        for _ in 0..7 {
            match pick.as_str() {
                "ranking" => {
                    let lease = lease_next_prompt(c, project_id, user_id, 2, (2, 10), 1, 60_000, &mut |_| {})?;
                    assert!(lease.is_some(), "300 prompts, seven claims");
                }
                "pairwise" => assert!(lease_next(c, project_id, user_id, 2, 1, 60_000, false)?.is_some()),
                "gold" => assert!(lease_gold(c, project_id, user_id, 1, 60_000, false)?.is_none(), "no gold pairs"),
                "models" => drop(lease_for_models(c, project_id, user_id, 2, &models, 1, 60_000, false)?),
                "held" => assert!(sweep_and_held(c, project_id, user_id, 1)?.is_empty()),
                "task and held" => assert!(find_and_held(c, "no such task", user_id, Some("k"), 1)?.is_none()),
                _ => assert!(least_loaded(c, project_id, user_id, 2, true)?.is_some()),
            }
        }
        // Each statement by a phrase of its own (and only one statement matches).
        let phrase = match pick.as_str() {
            "ranking" => "SELECT pr.id FROM prompts pr%",
            "pairwise" => "WITH lvl AS%",
            "gold" => "%p.gold_choice IS NOT NULL%",
            "models" => "%p.model_pair = $2%",
            "held" => "WITH gone AS%",
            "task and held" => "%json_agg%",
            _ => "%pr.settled = FALSE%",
        };
        let r = c.query_one(
            "SELECT generic_plans, custom_plans, COUNT(*) OVER (), name, cardinality(parameter_types)
             FROM pg_prepared_statements WHERE statement LIKE $1",
            arbiter_core::vals![phrase],
        )?;
        assert_eq!(r.get::<i64>(2)?, 1, "one statement matches {phrase}");
        let (generic, custom, name, params): (i64, i64, String, i64) = (r.get(0)?, r.get(1)?, r.get(3)?, r.get(4)?);
        // The plan without values: the one every execution ran.
        let nulls = vec!["NULL"; params as usize].join(", ");
        let plan = c.query(&format!("EXPLAIN EXECUTE {name}({nulls})"), &[])?;
        let plan = plan.iter().map(|r| r.get::<String>(0)).collect::<arbiter_core::Result<Vec<_>>>()?.join("\n");
        Ok((generic, custom, plan))
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_sqlite_file_gets_planner_statistics_after_an_import_and_at_open() {
    if skip_on_postgres("SQLite's statistics (PostgreSQL's: ANALYZE after an import, autovacuum)") {
        return;
    }
    let e = env().await;
    let analyzed = |table: &'static str| {
        let db = e.db.clone();
        async move { count(&db, &format!("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = '{table}'")).await }
    };
    // SQLite loads an ANALYZE's statistics into the connection that ran it:
    // the import's must run on the writer thread's, which plans the picks.
    let writers_limit =
        |db: Db| async move { db.hot(|c| c.scalar::<i64>("PRAGMA analysis_limit", &[])).await.unwrap() };
    assert_eq!(writers_limit(e.db.clone()).await, 0);
    let lines: Vec<String> = (0..300).map(|i| line(&format!("q{i}"), 3)).collect();
    project(&e.db, 2, &(lines.join("\n") + "\n")).await;
    assert!(analyzed("pairs").await > 0, "the import's tables are analyzed after it");
    assert_eq!(writers_limit(e.db.clone()).await, 1000, "on the hot path's own connection");
    // Rows written outside Arbiter's view (others' passes on every pair):
    // the next open gathers their statistics, for a table never analyzed
    // and for one that grew tenfold since it was.
    let arbiter_core::storage::Pool::Sqlite(pool) = &e.db.write else { unreachable!("SQLite only") };
    let rows_seen =
        || count(&e.db, "SELECT COALESCE(MAX(CAST(stat AS INTEGER)), 0) FROM sqlite_stat1 WHERE tbl = 'assignments'");
    for (who, n) in [("few", 1), ("many", 39)] {
        let before = rows_seen().await;
        for sql in others_on_every_task(who, n, false, "skipped") {
            sqlx::query(&sql).execute(pool).await.unwrap();
        }
        assert_eq!(rows_seen().await, before, "nothing analyzed it yet");
        let reopened = Db::connect(&e.url).await.unwrap();
        let after = rows_seen().await;
        assert!(after > 5 * before.max(100), "{who}: opening the file analyzed the grown table ({before} → {after})");
        reopened.close().await;
    }
}

/// An open SQLite file's statistics follow its tables as they grow (hourly
/// in production; here every 200 ms), not only at open and after imports.
#[tokio::test]
async fn an_open_sqlite_file_refreshes_its_planner_statistics_as_its_tables_grow() {
    if skip_on_postgres("SQLite's statistics (PostgreSQL's: autovacuum)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let db = Db::connect_sqlite_with_statistics_every(&url, std::time::Duration::from_millis(200)).await.unwrap();
    let lines: Vec<String> = (0..300).map(|i| line(&format!("q{i}"), 3)).collect();
    project(&db, 2, &(lines.join("\n") + "\n")).await;
    let arbiter_core::storage::Pool::Sqlite(pool) = &db.write else { unreachable!("SQLite only") };
    let analyzed = || count(&db, "SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'assignments'");
    assert_eq!(analyzed().await, 0, "no assignments yet, no statistics of them");
    for sql in others_on_every_task("bulk", 40, false, "skipped") {
        sqlx::query(&sql).execute(pool).await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while analyzed().await == 0 {
        assert!(std::time::Instant::now() < deadline, "the grown table was never analyzed while the file was open");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    db.close().await;
}

/// SQL for either backend: `n` other annotators (named `who` and a number),
/// each with an assignment in `state` of every pair (or, with `prompts`, of
/// every prompt): the statistics of a project under way.
fn others_on_every_task(who: &str, n: usize, prompts: bool, state: &str) -> [String; 2] {
    let users = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
         INSERT INTO users (uuid, username, role, created_at)
         SELECT '{who}-' || i, '{who}' || i, 'annotator', 0 FROM n"
    );
    let assignments = if prompts {
        format!(
            "INSERT INTO assignments (uuid, project_id, prompt_id, pair_id, annotator_id, swapped, shown, state,
                                      leased_at, lease_expires_at)
             SELECT u.uuid || '-' || pr.id, pr.project_id, pr.id, NULL, u.id, FALSE, '[]', '{state}', 0, 0
             FROM prompts pr CROSS JOIN users u WHERE u.username LIKE '{who}%'"
        )
    } else {
        format!(
            "INSERT INTO assignments (uuid, project_id, prompt_id, pair_id, annotator_id, swapped, state,
                                      leased_at, lease_expires_at)
             SELECT u.uuid || '-' || p.id, p.project_id, p.prompt_id, p.id, u.id, FALSE, '{state}', 0, 0
             FROM pairs p CROSS JOIN users u WHERE u.username LIKE '{who}%'"
        )
    };
    [users, assignments]
}

#[tokio::test]
async fn snapshot_connections_are_bounded_and_given_back() {
    use arbiter_core::storage::export::{Snapshot, SNAPSHOT_CONNECTIONS};
    if skip_on_sqlite("snapshots hold PostgreSQL connections of their own") {
        return;
    }
    let e = env().await;
    let db = e.db.clone();
    let (held, refused, twin, after) = tokio::task::spawn_blocking(move || {
        let mut held: Vec<Snapshot> = (0..SNAPSHOT_CONNECTIONS).map(|_| Snapshot::open(&db).unwrap()).collect();
        // All taken: a twin is not waited for, another snapshot waits, then 503.
        let twin = held[0].twin(&db).unwrap().is_some();
        let refused = Snapshot::open(&db).err();
        drop(held.pop());
        let after = Snapshot::open(&db).is_ok();
        (held.len(), refused, twin, after)
    })
    .await
    .unwrap();
    assert_eq!(held, SNAPSHOT_CONNECTIONS - 1);
    assert!(matches!(refused, Some(Error::Unavailable(_))), "{refused:?}");
    assert!(!twin, "no twin while every slot is taken");
    assert!(after, "a dropped snapshot gives its slot back");
}

/// Arbiter deletes no project, prompt, pair or user; an operator's deletion
/// by hand takes their assignments, and those assignments' annotations, with
/// it on both backends (SQLite: `ON DELETE CASCADE`; PostgreSQL: the triggers
/// of migrations `assignment_keys` and `annotation_keys`, so that a claim's
/// and a submission's inserts check no foreign key). A ranking task's
/// assignment has no pair: only its prompt leads to it.
#[tokio::test]
async fn deleting_a_pair_a_prompt_a_user_or_a_project_by_hand_takes_their_assignments_and_annotations() {
    let e = env().await;
    let pairwise = project(&e.db, 2, &format!("{}\n{}\n", line("a", 3), line("b", 3))).await;
    let ranking = project_as(&e.db, "r", "ranking", 2, &format!("{}\n{}\n", line("c", 3), line("d", 3))).await;
    for (name, judged) in [("x", 4), ("y", 3)] {
        let u = annotator(&e.db, name, &pairwise).await;
        projects::add_member(&e.db, "test", &ranking, name).await.unwrap();
        for i in 0..judged {
            let t = tasks::next(&e.db, &pairwise, &u).await.unwrap().unwrap();
            submit(&e.db, &u, &t.task_id.to_string(), &format!("{name}{i}"), &vote(1)).await.unwrap();
        }
        tasks::next(&e.db, &pairwise, &u).await.unwrap().expect("and one pair leased");
        let t = tasks::next(&e.db, &ranking, &u).await.unwrap().unwrap();
        submit(&e.db, &u, &t.task_id.to_string(), &format!("{name}r"), &ranked_as_shown(&t)).await.unwrap();
        tasks::next(&e.db, &ranking, &u).await.unwrap().expect("and one prompt leased");
    }
    const ORPHANS: &str = "SELECT (SELECT COUNT(*) FROM assignments a
                                   WHERE (a.pair_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.id = a.pair_id))
                                      OR NOT EXISTS (SELECT 1 FROM prompts pr WHERE pr.id = a.prompt_id)
                                      OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.annotator_id))
                        + (SELECT COUNT(*) FROM annotations n
                           WHERE NOT EXISTS (SELECT 1 FROM assignments a WHERE a.id = n.assignment_id))";
    let rows = || async {
        (count(&e.db, "SELECT COUNT(*) FROM assignments").await, count(&e.db, "SELECT COUNT(*) FROM annotations").await)
    };
    assert_eq!(rows().await, (13, 9));
    let mut before = rows().await;
    for deletion in [
        "DELETE FROM assignments WHERE id = (SELECT MIN(assignment_id) FROM annotations)",
        "DELETE FROM pairs WHERE id = (SELECT MIN(pair_id) FROM annotations)",
        "DELETE FROM prompts WHERE id = (SELECT MIN(prompt_id) FROM annotations WHERE pair_id IS NULL)",
        "DELETE FROM users WHERE username = 'y'",
        "DELETE FROM projects WHERE slug = 't'",
    ] {
        execute(&e.db, deletion).await;
        let after = rows().await;
        assert!(after.0 < before.0 && after.1 < before.1, "{deletion}: {before:?} → {after:?}");
        assert_eq!(count(&e.db, ORPHANS).await, 0, "{deletion}: nothing left pointing at what is gone");
        before = after;
    }
    assert!(before.0 > 0, "x's task on the ranking project's other prompt is still there");
    if postgres_server().is_some() {
        // What is left, kept aside to be truncated a second way.
        execute(&e.db, "CREATE TABLE kept_assignments AS SELECT * FROM assignments").await;
        execute(&e.db, "CREATE TABLE kept_annotations AS SELECT * FROM annotations").await;
        execute(&e.db, "TRUNCATE assignments").await;
        assert_eq!(rows().await, (0, 0), "TRUNCATE assignments takes their annotations");
        execute(&e.db, "INSERT INTO assignments SELECT * FROM kept_assignments").await;
        execute(&e.db, "INSERT INTO annotations SELECT * FROM kept_annotations").await;
        assert_eq!(rows().await, before);
        execute(&e.db, "TRUNCATE prompts CASCADE").await;
        assert_eq!(rows().await, (0, 0), "TRUNCATE … CASCADE takes them too");
    }
}
