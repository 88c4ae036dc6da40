//! Boots the real application on port 0 with a fresh database: a SQLite
//! file, or, when `ARBITER_TEST_POSTGRES` names a PostgreSQL server (the
//! test script starts one), a new database on it.
#![allow(dead_code)]
use arbiter_core::domain::SettingsInput;
use arbiter_core::services::{auth, import, projects, Role};
use arbiter_core::storage::Db;
use arbiter_server::{Application, Config};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};

pub struct TestApp {
    pub url: String,
    pub db: Db,
    pub db_url: String,
    pub dir: tempfile::TempDir,
    /// The metrics listener, when the configuration asked for one.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The PostgreSQL server the tests run on, if any (`postgres://…/postgres`).
pub fn postgres_server() -> Option<String> {
    std::env::var("ARBITER_TEST_POSTGRES").ok().filter(|u| !u.is_empty())
}

/// Whether this run's tests use PostgreSQL.
pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// For a test of something only SQLite has (its file, its writer thread):
/// true, and a note, when this run is on PostgreSQL.
pub fn skip_on_postgres(why: &str) -> bool {
    if on_postgres() {
        eprintln!("skipped on PostgreSQL: {why}");
    }
    on_postgres()
}

/// For a test of something only PostgreSQL has (a server to stop, several
/// instances on one database): true, and a note, when this run is on SQLite.
pub fn skip_on_sqlite(why: &str) -> bool {
    if !on_postgres() {
        eprintln!("skipped on SQLite: {why}");
    }
    !on_postgres()
}

/// A new, empty database for one test: a file in `dir`, or a database of
/// its own on the test PostgreSQL server.
pub async fn fresh_database(dir: &std::path::Path) -> String {
    match postgres_server() {
        None => format!("sqlite://{}", dir.join("arbiter.db").display()),
        Some(server) => {
            use sqlx::Connection;
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&server).await.expect("the test PostgreSQL answers");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
            let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
            format!("{base}/{name}")
        }
    }
}

/// `scripts/pg.sh CMD DIR`: start (prints the URL), stop or restart a
/// PostgreSQL server of a test's own (one it may stop without cutting the
/// other tests off).
pub fn pg_script(cmd: &str, dir: &std::path::Path) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let out = Command::new("bash").arg(root.join("scripts/pg.sh")).arg(cmd).arg(dir).output().unwrap();
    assert!(out.status.success(), "pg.sh {cmd}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `fresh_database` for a synchronous test (one that runs the binary).
pub fn fresh_database_blocking(dir: &std::path::Path) -> String {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(fresh_database(dir))
}

/// A second instance on the database of `db_url` (PostgreSQL: several
/// instances share one database).
pub async fn spawn_app_at(db_url: &str) -> TestApp {
    spawn_app_on(Some(db_url.to_owned()), |_| {}).await
}

/// The app with a changed configuration (e.g. trusted proxies).
pub async fn spawn_app_with(change: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(None, change).await
}

async fn spawn_app_on(db_url: Option<String>, change: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let db_url = match db_url {
        Some(url) => url,
        None => fresh_database(dir.path()).await,
    };
    let config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        database_url: db_url.clone(),
        site_root: dir.path().join("site"),
        secure_cookies: false,
        public_url: String::new(),
        max_import_bytes: 1024 * 1024,
        trusted_proxies: Default::default(),
        metrics_addr: None,
    };
    let mut config = config;
    change(&mut config);
    let app = Application::build(config).await.expect("app builds");
    let url = format!("http://{}", app.local_addr());
    let db = app.db.clone();
    let metrics_addr = app.metrics_addr();
    tokio::spawn(app.run_until_stopped());
    TestApp { url, db, db_url, dir, metrics_addr }
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub async fn user(&self, name: &str, role: Role) -> String {
        auth::create_user(&self.db, "test", name, PASSWORD, role).await.unwrap();
        auth::create_token(&self.db, name, "test").await.unwrap()
    }

    /// A project with `prompts` prompts of two completions each (one pair each).
    pub async fn project(&self, slug: &str, per_pair: i64, prompts: usize) {
        let mut s = SettingsInput::titled(&format!("Project {slug}"));
        s.annotations_per_pair = Some(per_pair);
        let p = projects::create(&self.db, "test", slug, s).await.unwrap();
        if prompts == 0 {
            return;
        }
        let data: String = (0..prompts).map(jsonl_line).collect();
        let r = import::import_jsonl(&self.db, &p, None, "t.jsonl", data.into_bytes()).await.unwrap();
        assert!(r.ok);
    }

    pub async fn member(&self, slug: &str, user: &str) {
        let p = arbiter_core::storage::projects::by_slug(&self.db.read, slug).await.unwrap().unwrap();
        projects::add_member(&self.db, "test", &p, user).await.unwrap();
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.url, path)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        arbiter_core::on!(&self.db.read, e => sqlx::query_scalar(sql).fetch_one(e).await).unwrap()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("arbiter.db")
    }
}

pub fn jsonl_line(i: usize) -> String {
    format!(
        "{{\"id\":\"p{i}\",\"prompt\":\"Question {i}?\",\"completions\":[{{\"model\":\"alpha\",\"text\":\"alpha answer {i}\"}},{{\"model\":\"beta\",\"text\":\"beta answer {i}\"}}]}}\n"
    )
}

/// No request of these tests takes this long: one that does is a hang,
/// and fails the test saying which request it was.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A client that keeps cookies but does not follow redirects, so tests see them.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap()
}

pub fn bearer() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(REQUEST_TIMEOUT).build().unwrap()
}

/// GETs an API path (after `/api/v1`) as the holder of `token`; its JSON body.
pub async fn get_json(app: &TestApp, path: impl AsRef<str>, token: &str) -> serde_json::Value {
    bearer().get(app.api(path.as_ref())).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

/// Runs the `arbiter` binary on `db` with `stdin` and returns what it did.
pub fn arbiter(db: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .arg("--database")
        .arg(db)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Starts `arbiter serve` on port 0; the caller reads what it prints.
pub fn serve_binary(db: &str) -> (Child, std::io::Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .args(["--database", db, "serve", "--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Logs in through the form, as a browser does; asserts it worked.
pub async fn login(app: &TestApp, name: &str, password: &str) -> reqwest::Client {
    let c = browser();
    let r =
        c.post(format!("{}/login", app.url)).form(&[("username", name), ("password", password)]).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/", "{name} should be logged in");
    c
}

/// Runs a checker from `scripts/` with the Python venv that
/// `scripts/python-env.sh` makes (once); panics with its output if it fails.
pub fn run_python(script: &str, args: &[&std::path::Path], scratch: &std::path::Path) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let venv = Command::new("bash").arg(root.join("scripts/python-env.sh")).output().unwrap();
    assert!(venv.status.success(), "python venv: {}", String::from_utf8_lossy(&venv.stderr));
    let python = format!("{}/bin/python", String::from_utf8_lossy(&venv.stdout).trim());
    let out = Command::new(python)
        .arg(root.join("scripts").join(script))
        .args(args)
        .env("HF_DATASETS_CACHE", scratch.join("hf-cache"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asks for tasks in `slug` as the holder of `token` until none is left,
/// submitting for each the body `answer` makes of it (the task's number
/// and its JSON); asserts each is stored and returns how many were judged.
pub async fn judge_all(
    app: &TestApp,
    slug: &str,
    token: &str,
    mut answer: impl FnMut(usize, &serde_json::Value) -> serde_json::Value,
) -> usize {
    for j in 0.. {
        let r =
            bearer().post(app.api(&format!("/projects/{slug}/tasks/next"))).bearer_auth(token).send().await.unwrap();
        if r.status() == reqwest::StatusCode::NO_CONTENT {
            return j;
        }
        let task: serde_json::Value = r.json().await.unwrap();
        let body = answer(j, &task);
        let r = bearer()
            .post(app.api(&format!("/tasks/{}/annotation", task["task_id"].as_str().unwrap())))
            .bearer_auth(token)
            .header("Idempotency-Key", format!("{slug}-{j}-{}", &token[token.len().saturating_sub(12)..]))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::CREATED, "task {j}: {}", r.text().await.unwrap());
    }
    unreachable!("the loop returns when no task is left")
}
