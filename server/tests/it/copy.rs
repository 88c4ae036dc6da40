//! `arbiter copy`: a whole installation moved between databases of either
//! backend, checked table by table, into empty targets only.
use crate::common::*;
use arbiter_core::services::Role;
use arbiter_core::storage::copy::TABLES;

/// The project's raw and TRL exports, as the admin token downloads them.
async fn exports(app: &TestApp, token: &str) -> Vec<String> {
    let mut out = Vec::new();
    for format in ["raw", "trl", "rewards"] {
        let r = bearer()
            .get(app.api(&format!("/projects/moved/export?format={format}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{format}");
        out.push(r.text().await.unwrap());
    }
    out
}

fn copy(from: &str, to: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .args(["copy", "--from", from, "--to", to])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_round_trip_through_both_backends_exports_the_same_bytes() {
    let source = spawn_app().await;
    source.project("moved", 2, 12).await;
    let admin = source.user("boss", Role::Admin).await;
    for name in ["ann", "bob"] {
        let token = source.user(name, Role::Annotator).await;
        source.member("moved", name).await;
        judge_all(
            &source,
            "moved",
            &token,
            |j, _| serde_json::json!({"choice": (j as i64 % 7) - 3, "rationale": "ok"}),
        )
        .await;
    }
    let before = exports(&source, &admin).await;

    // Source → SQLite file → (PostgreSQL → SQLite file, when this run has a server).
    let dir = tempfile::tempdir().unwrap();
    let mut hops = vec![format!("sqlite://{}", dir.path().join("b.db").display())];
    if on_postgres() {
        hops.push(fresh_database(dir.path()).await);
        hops.push(format!("sqlite://{}", dir.path().join("d.db").display()));
    } else {
        hops.push(format!("sqlite://{}", dir.path().join("c.db").display()));
    }
    let mut from = source.db_url.clone();
    for to in &hops {
        let out = copy(&from, to);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{from} → {to}: {err}");
        assert!(err.contains("every table's row count and checksum match"), "{err}");
        assert!(err.contains("annotations") && err.contains(" 24 rows"), "{err}");
        let copy_app = spawn_app_at(to).await;
        assert_eq!(exports(&copy_app, &admin).await, before, "exports after the copy into {to}");
        from = to.clone();
    }
}

/// PostgreSQL: the copy gathers the planner's statistics of the tables it
/// filled and of no empty one. Statistics of an empty `annotations` would
/// plan its lookup by idempotency key as a scan until autovacuum analyzed
/// it again; a table never analyzed is probed through its indexes.
#[tokio::test]
async fn a_copy_into_postgresql_analyzes_the_tables_it_filled_and_no_empty_one() {
    if skip_on_sqlite("its planner's statistics after a copy") {
        return;
    }
    let source = spawn_app().await;
    source.project("moved", 2, 12).await;
    let dir = tempfile::tempdir().unwrap();
    let to = fresh_database(dir.path()).await;
    let out = copy(&source.db_url, &to);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let target = spawn_app_at(&to).await;
    // `reltuples`: -1 until the table is first analyzed (or vacuumed).
    let analyzed = |table: &'static str| {
        let target = &target;
        async move {
            target.count(&format!("SELECT COUNT(*) FROM pg_class WHERE relname = '{table}' AND reltuples >= 0")).await
        }
    };
    assert_eq!(analyzed("pairs").await, 1, "a filled table is analyzed");
    assert_eq!(target.count("SELECT COUNT(*) FROM annotations").await, 0);
    assert_eq!(analyzed("annotations").await, 0, "the empty one is left as never analyzed");
}

#[tokio::test]
async fn copy_refuses_a_target_with_rows_and_leaves_it_as_it_was() {
    let source = spawn_app().await;
    source.project("moved", 1, 3).await;
    let target = spawn_app().await;
    target.project("other", 1, 1).await;
    let out = copy(&source.db_url, &target.db_url);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the target database is not empty (rows in projects, prompts, completions, pairs"), "{err}");
    assert_eq!(target.count("SELECT COUNT(*) FROM projects").await, 1);
    assert_eq!(target.count("SELECT COUNT(*) FROM prompts").await, 1, "nothing added");
}

#[tokio::test]
async fn the_copy_knows_every_table_and_column_of_the_schema() {
    if skip_on_postgres("reads SQLite's schema tables") {
        return;
    }
    let app = spawn_app().await;
    let tables: Vec<String> = arbiter_core::on!(&app.db.read, e => sqlx::query_scalar(
        // SQLite's own tables (`sqlite_sequence`, the planner's `sqlite_stat1`) are not Arbiter's.
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> '_sqlx_migrations' AND name NOT LIKE 'sqlite%'
         ORDER BY name"
    )
    .fetch_all(e)
    .await)
    .unwrap();
    let mut known: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    known.sort_unstable();
    assert_eq!(tables, known, "tables the copy does not know (or that no longer exist)");
    for t in TABLES {
        let mut columns: Vec<String> = arbiter_core::on!(&app.db.read, e => sqlx::query_scalar(
            "SELECT name FROM pragma_table_info($1)"
        )
        .bind(t.name)
        .fetch_all(e)
        .await)
        .unwrap();
        columns.sort();
        let mut listed: Vec<&str> = t.columns.to_vec();
        listed.sort_unstable();
        assert_eq!(columns, listed, "columns of {}", t.name);
    }
}
