//! The `arbiter` binary as a user runs it.
use crate::common;

use common::arbiter;
use std::process::Command;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn create_import_export_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database_blocking(dir.path());

    let out =
        arbiter(&db, &["project", "create", "cli-proj", "--title", "CLI project", "--annotations-per-pair", "2"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = arbiter(&db, &["user", "add", "ann", "--role", "annotator", "--project", "cli-proj"], "short\n");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("at least 12"), "{}", text(&out.stderr));
    let out = arbiter(
        &db,
        &["user", "add", "ann", "--role", "annotator", "--project", "cli-proj"],
        "a long enough password\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"prompt\":\"q\",\"completions\":[{\"model\":\"a\",\"text\":\"x\"},{\"model\":\"b\",\"text\":\"y\"}]}\n{\"prompt\":\"q2\"}\n").unwrap();
    let out = arbiter(&db, &["import", "cli-proj", bad.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("line 2: completions:"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");

    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"completions\":[{\"model\":\"a\",\"text\":\"x\"},{\"model\":\"b\",\"text\":\"y\"},{\"model\":\"c\",\"text\":\"z\"}]}\n").unwrap();
    let out = arbiter(&db, &["import", "cli-proj", good.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("3 pairs"), "{}", text(&out.stderr));

    // Two judgements (through the same services the server uses), then the export.
    let judged = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use arbiter_core::domain::views::AnnotationInput;
        use arbiter_core::domain::{Choice, ClientKey};
        use arbiter_core::services::{projects, tasks};
        let db = arbiter_core::storage::Db::connect(&db).await.unwrap();
        let ann = arbiter_core::storage::users::by_username(&db.read, "ann").await.unwrap().unwrap().0;
        let p = projects::visible(&db, &ann, "cli-proj").await.unwrap();
        let mut judged = Vec::new();
        for (i, choice) in [-3, 2].into_iter().enumerate() {
            let t = tasks::next(&db, &p, &ann).await.unwrap().unwrap();
            let input = AnnotationInput {
                choice: Some(Choice::new(choice).unwrap()),
                ranks: None,
                ratings: None,
                completion_flags: None,
                both_bad: false,
                flags: vec![],
                rationale: String::new(),
                time_ms: Some(5),
            };
            let key = ClientKey::parse(&format!("cli-{i}")).unwrap();
            tasks::submit(&db, &ann, None, arbiter_core::domain::TaskId(t.task_id), &key, &input).await.unwrap();
            // Negative favours the left side: (chosen, rejected) as shown.
            let (l, r) = (t.left.as_ref().unwrap().text.clone(), t.right.as_ref().unwrap().text.clone());
            judged.push(if choice < 0 { (l, r) } else { (r, l) });
        }
        db.close().await;
        judged
    });

    let file = dir.path().join("out.jsonl");
    let out = arbiter(&db, &["export", "cli-proj", "--format", "trl", "-o", file.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("wrote 2 rows from 2 annotations"), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> =
        std::fs::read_to_string(&file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    for (chosen, rejected) in judged {
        let row = rows
            .iter()
            .find(|r| r["chosen"][0]["content"] == chosen.as_str() && r["rejected"][0]["content"] == rejected.as_str())
            .unwrap_or_else(|| panic!("no row with {chosen} over {rejected}: {rows:?}"));
        assert_eq!(row["prompt"], serde_json::json!([{"role": "user", "content": "hi"}]));
    }
    assert!(!dir.path().join("out.jsonl.partial").exists());

    let out = arbiter(&db, &["token", "create", "ann"], "");
    let token = text(&out.stdout);
    assert!(token.trim().starts_with("arb_") && token.lines().count() == 1, "only the token on stdout: {token:?}");

    // The pair selection: a bad name is refused naming the field, a good one is kept.
    let out = arbiter(&db, &["project", "create", "ad", "--title", "A", "--pair-selection", "smart"], "");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("pair_selection"), "{}", text(&out.stderr));
    let out = arbiter(&db, &["project", "create", "ad", "--title", "A", "--pair-selection", "adaptive"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let selection = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = arbiter_core::storage::Db::connect(&db).await.unwrap();
        let p = arbiter_core::storage::projects::by_slug(&db.read, "ad").await.unwrap().unwrap();
        db.close().await;
        p.pair_selection
    });
    assert_eq!(selection, arbiter_core::domain::PairSelection::Adaptive);

    // Task types: a bad one is refused naming the field; a rating project keeps its aspects and scale.
    let out = arbiter(&db, &["project", "create", "rt", "--title", "R", "--task-type", "sorting"], "");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("task_type"), "{}", text(&out.stderr));
    let args =
        ["project", "create", "rt", "--title", "R", "--task-type", "rating", "--aspects", "helpfulness, honesty"];
    let out =
        arbiter(&db, &[&args[..], &["--scale", "1-5", "--scale-labels", "awful,poor,fair,good,great"]].concat(), "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = arbiter_core::storage::Db::connect(&db).await.unwrap();
        let p = arbiter_core::storage::projects::by_slug(&db.read, "rt").await.unwrap().unwrap();
        db.close().await;
        p
    });
    assert_eq!(p.task_type, arbiter_core::domain::TaskType::Rating);
    assert_eq!(p.aspects, vec!["helpfulness", "honesty"]);
    assert_eq!((p.scale.min, p.scale.max, p.scale.label(5)), (1, 5, Some("great")));
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["import", "--help"],
        vec!["export", "--help"],
        vec!["user", "add", "--help"],
        vec!["project", "create", "--help"],
        vec!["backup", "--help"],
        vec!["token", "create", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_arbiter")).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage: arbiter"), "{args:?}");
    }
}

/// First run without --demo: no admin yet, so `serve` prints a one-time
/// link that creates the first admin; demo logins do not exist.
#[test]
fn first_run_prints_a_single_use_admin_link() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database_blocking(dir.path());
    let (mut child, mut lines) = common::serve_binary(&db);
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("http://127.0.0.1:"), "{first}");
    let link = second.split_whitespace().last().unwrap();
    assert!(second.starts_with("No admin yet") && link.contains("/invite/"), "{second}");
    assert!(!first.contains("demo") && !second.contains("demo-admin-password"));
    let users = arbiter(&db, &["token", "create", "admin"], "");
    assert!(!users.status.success(), "no user exists before the link is used");

    // Each start mints a new link and voids the one before.
    let (mut child, mut lines) = common::serve_binary(&db);
    let url = lines.next().unwrap().unwrap().split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_owned();
    let again = lines.next().unwrap().unwrap();
    let new_link = again.split_whitespace().last().unwrap().to_owned();
    assert_ne!(new_link, link);
    let page = |l: &str| {
        let path = &l[l.find("/invite/").unwrap()..];
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async { reqwest::get(format!("{url}{path}")).await.unwrap().text().await.unwrap() })
    };
    assert!(page(link).contains("This link is used, expired or unknown"), "the older link is void");
    assert!(page(&new_link).contains("You are invited as admin"), "the newest link works");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_database_url_arbiter_cannot_serve_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["mysql://x/y", "data/arbiter.db", "sqlite://", "postgres://", "postgresql:/x"] {
        let out = Command::new(env!("CARGO_BIN_EXE_arbiter"))
            .current_dir(dir.path())
            .args(["--database", url, "project", "create", "p", "--title", "P"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url}");
        let err = text(&out.stderr);
        assert!(err.contains("database URL"), "{url}: {err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written anywhere");
}

/// `--pg-write-threads` takes 1 to 256; anything else is refused by name
/// before any database is opened.
#[test]
fn a_write_thread_count_out_of_range_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for n in ["0", "257", "many"] {
        let out = Command::new(env!("CARGO_BIN_EXE_arbiter"))
            .current_dir(dir.path())
            .args(["--pg-write-threads", n, "project", "create", "p", "--title", "P"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{n}");
        let err = text(&out.stderr);
        assert!(err.contains("--pg-write-threads"), "{n}: {err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written anywhere");
}

#[test]
fn an_unreachable_postgres_is_a_clear_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on the loopback: nothing listens there.
    let out = Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .current_dir(dir.path())
        .args(["--database", "postgres://arbiter:secret@127.0.0.1:1/arbiter", "project", "create", "p", "--title", "P"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("Failed to connect to PostgreSQL at 127.0.0.1:1/arbiter"), "{err}");
    assert!(!err.contains("secret"), "the password is never printed: {err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no SQLite file instead");
}

/// docs/openapi.json documents exactly the REST routes the server has.
#[test]
fn the_openapi_file_matches_the_api_routes() {
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json")).unwrap(),
    )
    .unwrap();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let path = path.replace("{project}", "{slug}");
            documented.push((method.to_uppercase(), format!("/api/v1{path}")));
        }
    }
    let mut served: Vec<(String, String)> =
        arbiter_server::startup::http_routes().into_iter().filter(|(_, p)| p.starts_with("/api/v1")).collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
}
