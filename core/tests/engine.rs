//! The assignment engine and exports against a real SQLite file.
use arbiter_core::domain::views::AnnotationInput;
use arbiter_core::domain::Choice;
use arbiter_core::services::{auth, export, import, projects, tasks, Role, User};
use arbiter_core::storage::projects::{Project, Settings};
use arbiter_core::storage::Db;
use arbiter_core::Error;
use serde_json::Value;

struct Env {
    _dir: tempfile::TempDir,
    db: Db,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let db = Db::connect(&url).await.unwrap();
    Env { _dir: dir, db }
}

async fn project(db: &Db, per_pair: i64, lines: &str) -> Project {
    let mut s = Settings::new("T");
    s.annotations_per_pair = per_pair;
    let p = projects::create(db, "test", "t", s).await.unwrap();
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
        choice: Choice::new(c).unwrap(),
        both_bad: false,
        flags: vec![],
        rationale: String::new(),
        time_ms: Some(10),
    }
}

async fn count(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.read).await.unwrap()
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
    tasks::submit(&e.db, &u, &t1.task_id.to_string(), "k1", &vote(-3)).await.unwrap();
    let t2 = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    assert_ne!(t1.task_id, t2.task_id);
    tasks::submit(&e.db, &u, &t2.task_id.to_string(), "k2", &vote(0)).await.unwrap();
    assert!(tasks::next(&e.db, &p, &u).await.unwrap().is_none());
}

#[tokio::test]
async fn a_pair_is_never_leased_beyond_n_and_never_twice_to_one_annotator() {
    let e = env().await;
    let p = project(&e.db, 2, &line("a", 2)).await;
    let users = [annotator(&e.db, "a1", &p).await, annotator(&e.db, "a2", &p).await, annotator(&e.db, "a3", &p).await];
    assert!(tasks::next(&e.db, &p, &users[0]).await.unwrap().is_some());
    assert!(tasks::next(&e.db, &p, &users[1]).await.unwrap().is_some());
    assert!(tasks::next(&e.db, &p, &users[2]).await.unwrap().is_none(), "N=2 live leases already");
}

#[tokio::test]
async fn retries_are_stored_once_and_a_reused_key_with_another_body_conflicts() {
    let e = env().await;
    let p = project(&e.db, 1, &line("a", 2)).await;
    let u = annotator(&e.db, "ann", &p).await;
    let t = tasks::next(&e.db, &p, &u).await.unwrap().unwrap().task_id.to_string();
    let (first, created) = tasks::submit(&e.db, &u, &t, "key-1", &vote(2)).await.unwrap();
    assert!(created);
    let (again, created_again) = tasks::submit(&e.db, &u, &t, "key-1", &vote(2)).await.unwrap();
    assert!(!created_again);
    assert_eq!(first, again);
    assert!(matches!(tasks::submit(&e.db, &u, &t, "key-1", &vote(1)).await, Err(Error::Conflict(_))));
    assert!(matches!(tasks::submit(&e.db, &u, &t, "key-2", &vote(2)).await, Err(Error::Conflict(_))));
    assert_eq!(count(&e.db, "SELECT COUNT(*) FROM annotations").await, 1);
}

#[tokio::test]
async fn someone_elses_task_is_not_found() {
    let e = env().await;
    let p = project(&e.db, 2, &line("a", 2)).await;
    let a = annotator(&e.db, "a1", &p).await;
    let b = annotator(&e.db, "a2", &p).await;
    let t = tasks::next(&e.db, &p, &a).await.unwrap().unwrap().task_id.to_string();
    assert!(matches!(tasks::submit(&e.db, &b, &t, "k", &vote(1)).await, Err(Error::NotFound(_))));
    assert!(matches!(tasks::skip(&e.db, &b, &t, None).await, Err(Error::NotFound(_))));
}

#[tokio::test]
async fn skipped_pairs_go_back_to_the_pool_but_not_to_the_skipper() {
    let e = env().await;
    let p = project(&e.db, 1, &line("a", 2)).await;
    let a = annotator(&e.db, "a1", &p).await;
    let b = annotator(&e.db, "a2", &p).await;
    let t = tasks::next(&e.db, &p, &a).await.unwrap().unwrap().task_id.to_string();
    assert!(tasks::next(&e.db, &p, &b).await.unwrap().is_none(), "leased to a1");
    tasks::skip(&e.db, &a, &t, Some("not my language")).await.unwrap();
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
    sqlx::query("UPDATE assignments SET lease_expires_at = 0").execute(&e.db.write).await.unwrap();
    let tb = tasks::next(&e.db, &p, &b).await.unwrap().expect("the expired pair is free again").task_id.to_string();
    tasks::submit(&e.db, &b, &tb, "kb", &vote(1)).await.unwrap();
    let (late, _) = tasks::submit(&e.db, &a, &t, "ka", &vote(1)).await.unwrap();
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
    tasks::submit(&e.db, &u, &t.task_id.to_string(), "k", &vote(-3)).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let summary = export::run(&e.db, "test", &p, export::Format::Trl, tx).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = rx.recv().await {
        out.extend(chunk);
    }
    let rows: Vec<Value> = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(summary.written, 1);
    assert_eq!(rows[0]["chosen"], t.left.text);
    assert_eq!(rows[0]["rejected"], t.right.text);
    assert_eq!(rows[0]["prompt"], "question a");
    assert_eq!(rows[0]["margin"], 1.0);
}

#[tokio::test]
async fn a_failing_write_job_undoes_only_its_own_writes() {
    use arbiter_core::storage::writer::sql_err;
    let e = env().await;
    let insert = |action: &'static str, fail: bool| {
        e.db.writer.run(move |c| {
            c.execute("INSERT INTO audit_log (at, actor, action) VALUES (1, 'test', ?)", [action]).map_err(sql_err)?;
            if fail {
                Err(Error::bad("refused"))
            } else {
                Ok(())
            }
        })
    };
    // Sent together, so they share a batch (one transaction).
    let (a, b, c) = tokio::join!(insert("first", false), insert("refused", true), insert("third", false));
    assert!(a.is_ok() && c.is_ok());
    assert!(matches!(b, Err(Error::BadRequest(_))));
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE actor = 'test' ORDER BY id")
        .fetch_all(&e.db.read)
        .await
        .unwrap();
    assert_eq!(actions, vec!["first", "third"]);
}

#[tokio::test]
async fn tasks_serve_the_html_rendered_and_sanitized_at_import() {
    let e = env().await;
    let p = project(
        &e.db,
        1,
        r#"{"prompt":"Say **hi**","completions":[{"model":"a","text":"**bold** <script>x()</script>"},{"model":"b","text":"`code`"}]}"#,
    )
    .await;
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM completions WHERE body_html LIKE '%<strong>bold</strong>%'")
            .fetch_one(&e.db.read)
            .await
            .unwrap();
    assert_eq!(stored, 1, "rendered once, at import");
    let u = annotator(&e.db, "ann", &p).await;
    let t = tasks::next(&e.db, &p, &u).await.unwrap().unwrap();
    let html = format!("{}{}", t.left.html, t.right.html);
    assert!(html.contains("<strong>bold</strong>") && html.contains("<code>code</code>"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(t.thread[0].html.contains("<strong>hi</strong>"));
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
    tasks::submit(&e.db, &a, &current.task_id.to_string(), "k1", &vote(1)).await.unwrap();
    assert_eq!(tasks::next(&e.db, &p, &a).await.unwrap().unwrap().task_id, ahead.task_id);
}
