//! HTTP tests against a spawned server and a real SQLite file.
use crate::common;

use arbiter_core::services::Role;
use common::{bearer, browser, spawn_app, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn next_task(app: &TestApp, token: &str, slug: &str) -> reqwest::Response {
    claim(app, token, slug, "next").await
}

/// `POST /projects/{slug}/tasks/{which}` (`next` or `prefetch`) as `token`.
async fn claim(app: &TestApp, token: &str, slug: &str, which: &str) -> reqwest::Response {
    bearer().post(app.api(&format!("/projects/{slug}/tasks/{which}"))).bearer_auth(token).send().await.unwrap()
}

/// `POST /projects/t/import{query}` with `body`, as `token`.
async fn import(app: &TestApp, token: &str, query: &str, body: String) -> reqwest::Response {
    bearer().post(app.api(&format!("/projects/t/import{query}"))).bearer_auth(token).body(body).send().await.unwrap()
}

async fn annotate(app: &TestApp, token: &str, task: &str, key: &str, body: Value) -> reqwest::Response {
    annotate_with(app, token, task, "", key, body).await
}

/// `POST /tasks/{task}/annotation{query}` with `body` under `key`.
async fn annotate_with(
    app: &TestApp,
    token: &str,
    task: &str,
    query: &str,
    key: &str,
    body: Value,
) -> reqwest::Response {
    bearer()
        .post(app.api(&format!("/tasks/{task}/annotation{query}")))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn pages_and_api_require_a_login() {
    let app = spawn_app().await;
    app.project("t", 1, 1).await;
    let r = browser().get(format!("{}/annotate/t", app.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login?next=%2Fannotate%2Ft");
    let r = bearer().post(app.api("/projects/t/tasks/next")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("log in"));
    let r = bearer().post(app.api("/projects/t/tasks/next")).bearer_auth("arb_forged").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = bearer().get(app.api("/projects/t/export?format=trl")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_sets_an_httponly_lax_cookie_and_a_wrong_password_does_not() {
    let app = spawn_app().await;
    app.user("ann", Role::Annotator).await;
    let c = browser();
    let bad = c
        .post(format!("{}/login", app.url))
        .form(&[("username", "ann"), ("password", "wrong password!")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::SEE_OTHER);
    assert!(bad.headers()["location"].to_str().unwrap().starts_with("/login?error="));
    assert!(bad.headers().get("set-cookie").is_none());
    let ok = c
        .post(format!("{}/login", app.url))
        .form(&[("username", "ann"), ("password", PASSWORD), ("next", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.headers()["location"], "/", "no open redirect");
    let cookie = ok.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("arbiter_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let home = c.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
}

#[tokio::test]
async fn import_errors_name_each_bad_line_and_import_nothing() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    app.project("t", 1, 0).await;
    let body = format!(
        "{}{}\n{}{{\"prompt\":\"q\",\"completions\":[{{\"model\":\"a\",\"text\":\"x\"}},{{\"model\":\"b\"}}]}}\n",
        common::jsonl_line(1),
        "not json",
        common::jsonl_line(2)
    );
    let r = import(&app, &admin, "", body).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_count"], 2);
    assert_eq!(v["lines"][0]["line"], 2);
    assert!(v["lines"][0]["message"].as_str().unwrap().contains("not valid JSON"));
    assert_eq!(v["lines"][1]["line"], 4);
    assert_eq!(v["lines"][1]["field"], "completions[1].text");
    assert_eq!(app.count("SELECT COUNT(*) FROM prompts").await, 0);

    let nul = format!("{}{{\"prompt\":\"q\",\"completions\":[{{\"model\":\"a\",\"text\":\"x\"}},{{\"model\":\"b\",\"text\":\"y\\u0000\"}}]}}\n", common::jsonl_line(1));
    let r = import(&app, &admin, "", nul).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["lines"][0]["line"].as_i64(), v["lines"][0]["field"].as_str()),
        (Some(2), Some("completions[1].text"))
    );
    assert!(v["lines"][0]["message"].as_str().unwrap().contains("NUL"), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM prompts").await, 0);
    // So is a file name with one: refused before anything is written.
    let r = import(&app, &admin, "?filename=a%00b.jsonl", common::jsonl_line(1)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("filename: text contains a NUL"));
    assert_eq!(app.count("SELECT COUNT(*) FROM prompts").await, 0);

    let good: String = (0..3).map(common::jsonl_line).collect();
    let r = import(&app, &admin, "", good.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["added"]["pairs"], 3);
    if common::on_postgres() {
        // The import refreshed the planner's statistics (-1: never gathered).
        let rows = app.count("SELECT CAST(reltuples AS BIGINT) FROM pg_class WHERE relname = 'pairs'").await;
        assert_eq!(rows, 3, "ANALYZE ran after the import");
    }
    let again: Value = import(&app, &admin, "", good).await.json().await.unwrap();
    assert_eq!((again["added"]["prompts"].as_i64(), again["added"]["prompts_existing"].as_i64()), (Some(0), Some(3)));
}

#[tokio::test]
async fn a_retried_submission_is_stored_once_and_answers_the_same() {
    let app = spawn_app().await;
    let ann = app.user("ann", Role::Annotator).await;
    app.project("t", 1, 2).await;
    app.member("t", "ann").await;
    let task: Value = next_task(&app, &ann, "t").await.json().await.unwrap();
    let id = task["task_id"].as_str().unwrap();
    assert!(task["left"]["text"].is_string() && task["right"]["html"].is_string());
    assert!(task.get("prompt").is_some() && task.get("messages").is_none());
    let body = json!({"choice": -2, "both_bad": false, "flags": ["unsafe"], "rationale": "clearer", "time_ms": 1234});
    let first = annotate(&app, &ann, id, "5a1d6a4c-0000-4000-8000-000000000001", body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let retry = annotate(&app, &ann, id, "5a1d6a4c-0000-4000-8000-000000000001", body.clone()).await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    let changed = annotate(&app, &ann, id, "5a1d6a4c-0000-4000-8000-000000000001", json!({"choice": 3})).await;
    assert_eq!(changed.status(), StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 1);
}

/// `?next_in=`: the judgement and the next task from one transaction. A
/// retry answers the same receipt and the same (still leased) task; a
/// refused judgement stores nothing and leases nothing.
#[tokio::test]
async fn a_judgement_can_bring_the_next_task_and_its_retry_the_same_one() {
    let app = spawn_app().await;
    let ann = app.user("ann", Role::Annotator).await;
    app.project("t", 1, 3).await;
    app.member("t", "ann").await;
    app.project("mine", 1, 1).await;
    app.member("mine", "ann").await;
    app.project("theirs", 1, 1).await;
    let then = |task: String, key: &'static str, body: Value, slug: &'static str| {
        let (app, ann) = (&app, &ann);
        async move { annotate_with(app, ann, &task, &format!("?next_in={slug}"), key, body).await }
    };
    let task: Value = next_task(&app, &ann, "t").await.json().await.unwrap();
    let id = task["task_id"].as_str().unwrap().to_owned();
    for (body, slug, status, needle) in [
        (json!({"choice": 9}), "t", StatusCode::BAD_REQUEST, "choice"),
        (json!({"choice": 1}), "mine", StatusCode::NOT_FOUND, "no such task"),
        (json!({"choice": 1}), "theirs", StatusCode::NOT_FOUND, "no project"),
        (json!({"choice": 1}), "nowhere", StatusCode::NOT_FOUND, "no project"),
    ] {
        let r = then(id.clone(), "k-refused", body.clone(), slug).await;
        assert_eq!(r.status(), status, "{body} in {slug}");
        assert!(r.text().await.unwrap().contains(needle), "{body} in {slug}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM assignments").await, 1, "refused: nothing leased");

    let first = then(id.clone(), "k-1", json!({"choice": 2}), "t").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!((first["task_id"].as_str(), first["choice"].as_i64()), (Some(id.as_str()), Some(2)));
    let next = first["next"]["task_id"].as_str().unwrap().to_owned();
    assert_ne!(next, id);
    assert!(first["next"]["left"]["text"].is_string() && first["next"]["right"]["html"].is_string());
    let retry = then(id.clone(), "k-1", json!({"choice": 2}), "t").await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(retry.json::<Value>().await.unwrap(), first, "the same receipt and the same next task");
    let other = then(id.clone(), "k-1", json!({"choice": -2}), "t").await;
    assert_eq!(other.status(), StatusCode::CONFLICT, "the same key with another body");
    assert_eq!(app.count("SELECT COUNT(*) FROM assignments").await, 2, "refused in the job: nothing more leased");
    let current: Value = next_task(&app, &ann, "t").await.json().await.unwrap();
    assert_eq!(current["task_id"].as_str(), Some(next.as_str()), "the next task is the one leased");

    // Without `next_in` the receipt has no `next` (and other parameters are ignored, as ever).
    let plain = annotate_with(&app, &ann, &next, "?cache=1", "k-2", json!({"choice": -1})).await;
    assert_eq!(plain.status(), StatusCode::CREATED);
    assert!(plain.json::<Value>().await.unwrap().get("next").is_none());
    let last: Value = next_task(&app, &ann, "t").await.json().await.unwrap();
    let last = then(last["task_id"].as_str().unwrap().to_owned(), "k-3", json!({"choice": 0}), "t").await;
    assert_eq!(last.status(), StatusCode::CREATED);
    let last: Value = last.json().await.unwrap();
    assert!(last.get("next").is_some_and(Value::is_null), "{last}");
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM assignments").await, 3);
}

/// With a task leased ahead (as the page holds one), the judgement's `next`
/// is that task, and no third lease is made.
#[tokio::test]
async fn a_judgements_next_task_is_the_one_leased_ahead() {
    let app = spawn_app().await;
    let ann = app.user("ann", Role::Annotator).await;
    app.project("t", 1, 3).await;
    app.member("t", "ann").await;
    let current: Value = next_task(&app, &ann, "t").await.json().await.unwrap();
    let ahead: Value = claim(&app, &ann, "t", "prefetch").await.json().await.unwrap();
    assert_ne!(ahead["task_id"], current["task_id"]);
    let r =
        annotate_with(&app, &ann, current["task_id"].as_str().unwrap(), "?next_in=t", "k-ahead", json!({"choice": 1}))
            .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["next"]["task_id"], ahead["task_id"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM assignments").await, 2);
}

#[tokio::test]
async fn bad_annotation_bodies_get_a_400_saying_what_is_wrong() {
    let app = spawn_app().await;
    let ann = app.user("ann", Role::Annotator).await;
    app.project("t", 1, 1).await;
    app.member("t", "ann").await;
    let task: Value = next_task(&app, &ann, "t").await.json().await.unwrap();
    let id = task["task_id"].as_str().unwrap();
    for (body, needle) in [
        (json!({"choice": 9}), "choice"),
        (json!({"choice": 1, "flags": ["nonsense"]}), "flags"),
        (json!({"both_bad": true}), "choice"),
        // PostgreSQL cannot store a NUL: refused on both backends, naming the field.
        (json!({"choice": 1, "rationale": "a\u{0}b"}), "rationale: text contains a NUL"),
    ] {
        let r = annotate(&app, &ann, id, "k-bad", body.clone()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error"].as_str().unwrap().contains(needle), "{body}: {v}");
    }
    let no_key = bearer()
        .post(app.api(&format!("/tasks/{id}/annotation")))
        .bearer_auth(&ann)
        .json(&json!({"choice": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 0);
}

#[tokio::test]
async fn projects_you_are_not_in_and_admin_routes_answer_404() {
    let app = spawn_app().await;
    let ann = app.user("ann", Role::Annotator).await;
    app.project("t", 1, 1).await;
    assert_eq!(next_task(&app, &ann, "t").await.status(), StatusCode::NOT_FOUND, "not a member");
    app.member("t", "ann").await;
    assert_eq!(next_task(&app, &ann, "t").await.status(), StatusCode::OK);
    let r = bearer().get(app.api("/projects/t/export?format=trl")).bearer_auth(&ann).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "annotators cannot export");
    let r = import(&app, &ann, "", common::jsonl_line(5)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn skip_and_204_when_nothing_is_left() {
    let app = spawn_app().await;
    let ann = app.user("ann", Role::Annotator).await;
    app.project("t", 1, 1).await;
    app.member("t", "ann").await;
    let task: Value = next_task(&app, &ann, "t").await.json().await.unwrap();
    let id = task["task_id"].as_str().unwrap();
    let skip = |reason: &'static str| {
        bearer().post(app.api(&format!("/tasks/{id}/skip"))).bearer_auth(&ann).json(&json!({"reason": reason})).send()
    };
    // A reason PostgreSQL could not store is refused on both backends, naming the field.
    let r = skip("un\u{0}clear").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("reason: text contains a NUL"));
    let r = skip("unclear").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(next_task(&app, &ann, "t").await.status(), StatusCode::NO_CONTENT);
    let progress: Value = common::get_json(&app, "/projects/t/progress", &ann).await;
    assert_eq!(progress["annotators"][0]["skipped"], 1);
}

#[tokio::test]
async fn export_has_the_judged_pairs_with_chosen_and_rejected_right() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    let ann = app.user("ann", Role::Annotator).await;
    app.project("t", 1, 3).await;
    app.member("t", "ann").await;
    // Judge: left much better, right slightly better, tie.
    let mut expected = Vec::new();
    for (i, choice) in [-3, 1, 0].into_iter().enumerate() {
        let task: Value = next_task(&app, &ann, "t").await.json().await.unwrap();
        let r = annotate(&app, &ann, task["task_id"].as_str().unwrap(), &format!("key-{i}"), json!({"choice": choice}))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let (l, rt) = (task["left"]["text"].clone(), task["right"]["text"].clone());
        match choice {
            c if c < 0 => expected.push((l, rt, 1.0)),
            c if c > 0 => expected.push((rt, l, 0.333)),
            _ => {}
        }
    }
    let r = bearer().get(app.api("/projects/t/export?format=trl")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("t-trl.jsonl"));
    let text = r.text().await.unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2, "the tie is left out: {text}");
    for (chosen, rejected, margin) in expected {
        let row =
            rows.iter().find(|r| r["chosen"] == chosen).unwrap_or_else(|| panic!("{chosen} not chosen in {text}"));
        assert_eq!(row["rejected"], rejected);
        assert_eq!(row["margin"], margin);
        assert!(row["prompt"].as_str().unwrap().starts_with("Question"));
    }
    let bad = bearer().get(app.api("/projects/t/export?format=nope")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

/// The no-JavaScript path: a plain form post records the judgement.
#[tokio::test]
async fn the_annotator_page_works_as_a_plain_form() {
    let app = spawn_app().await;
    app.user("ann", Role::Annotator).await;
    app.project("t", 1, 2).await;
    app.member("t", "ann").await;
    let c = browser();
    c.post(format!("{}/login", app.url)).form(&[("username", "ann"), ("password", PASSWORD)]).send().await.unwrap();
    let page = c.get(format!("{}/annotate/t", app.url)).send().await.unwrap().text().await.unwrap();
    let field = |name: &str| -> String {
        let at = page.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in page"));
        let rest = &page[at + name.len() + 15..];
        rest[..rest.find('"').unwrap()].to_string()
    };
    let (task, key) = (field("task_id"), field("client_key"));
    assert!(page.contains("Which response is better?"));
    let form = [
        ("task_id", task.as_str()),
        ("client_key", key.as_str()),
        ("choice", "2"),
        ("flags", "unsafe"),
        ("flags", "off-topic"),
        ("rationale", "B is right"),
        ("action", "submit"),
    ];
    let r = c.post(format!("{}/annotate/t/submit", app.url)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/annotate/t?ok=saved");
    // Pressing submit twice (same form, same key) stores nothing new.
    c.post(format!("{}/annotate/t/submit", app.url)).form(&form).send().await.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 1);
    let flags: String =
        arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT flags FROM annotations").fetch_one(e).await)
            .unwrap();
    assert_eq!(flags, r#"["unsafe","off-topic"]"#);
    let next = c.get(format!("{}/annotate/t?ok=saved", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(!next.contains(&task), "the next page shows a new task");
    assert!(next.contains("1 done"));
    assert!(next.contains(r#"class="flash ok">Saved<"#), "the message of the key `saved`");
}

/// Form handlers send a message key; the page says it in the reader's
/// language, filled with the values it names.
#[tokio::test]
async fn form_messages_are_shown_in_the_readers_language() {
    let app = spawn_app().await;
    app.user("ana", Role::Annotator).await;
    let page = |path: &'static str| {
        let url = format!("{}{path}", app.url);
        async move {
            let r = browser().get(url).header("accept-language", "de-DE,de;q=0.9").send().await.unwrap();
            r.text().await.unwrap()
        }
    };
    let c = browser();
    let r =
        c.post(format!("{}/login", app.url)).form(&[("username", "ana"), ("password", "wrong")]).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/login?error=login_failed");
    assert!(page("/login?error=login_failed").await.contains("Benutzername oder Passwort falsch"));
    assert!(page("/login?ok=logged_out").await.contains(r#"class="flash ok">Abgemeldet<"#));
    // A text that is no key (a validation message of the core) is shown as it came.
    assert!(page("/login?error=title%3A+must+not+be+empty").await.contains("title: must not be empty"));
    let en = browser().get(format!("{}/login?error=login_failed", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(en.contains("Wrong username or password"));
}

async fn admin_browser(app: &TestApp) -> reqwest::Client {
    app.user("boss", Role::Admin).await;
    let c = browser();
    c.post(format!("{}/login", app.url)).form(&[("username", "boss"), ("password", PASSWORD)]).send().await.unwrap();
    c
}

/// The admin page's upload form: the report (good or bad) shows on the project page.
#[tokio::test]
async fn a_web_upload_reports_bad_lines_on_the_project_page_and_imports_nothing() {
    let app = spawn_app().await;
    app.project("t", 1, 0).await;
    let c = admin_browser(&app).await;
    let upload = |body: String| {
        let part = reqwest::multipart::Part::text(body).file_name("batch.jsonl");
        c.post(format!("{}/admin/projects/t/import", app.url))
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
    };
    let bad = upload(format!("{}{{\"prompt\":\"q\"}}\n", common::jsonl_line(1))).await.unwrap();
    let to = bad.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/admin/projects/t?import="), "{to}");
    let page = c.get(format!("{}{to}", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("1 bad line(s) in 2 lines; nothing was imported"), "{page}");
    assert!(page.contains("line 2: completions:"), "the report names line and field");
    assert_eq!(app.count("SELECT COUNT(*) FROM prompts").await, 0);

    let good = upload((0..3).map(common::jsonl_line).collect()).await.unwrap();
    let to = good.headers()["location"].to_str().unwrap().to_owned();
    let page = c.get(format!("{}{to}", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Imported 3 lines (native, guessed from the first record): 3 new prompts"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM pairs").await, 3);

    // With the format chosen and bad lines skipped, the good ones go in and the page says what was left out.
    let part = reqwest::multipart::Part::text(format!("{}not json\n", common::jsonl_line(7))).file_name("more.jsonl");
    let form = reqwest::multipart::Form::new().text("format", "native").text("skip_bad", "1").part("file", part);
    let r = c.post(format!("{}/admin/projects/t/import", app.url)).multipart(form).send().await.unwrap();
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let page = c.get(format!("{}{to}", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Imported 1 lines (native): 1 new prompts"), "{page}");
    assert!(page.contains("1 bad lines skipped") && page.contains("line 2: not valid JSON"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM pairs").await, 4);
}

/// The settings form changes what annotators get, and refuses bad values by field.
#[tokio::test]
async fn the_settings_form_updates_the_project_and_names_a_bad_field() {
    let app = spawn_app().await;
    app.project("t", 1, 1).await;
    let c = admin_browser(&app).await;
    let post = |n: &'static str| {
        let form = [
            ("title", "Renamed"),
            ("guidelines", "Be **kind**"),
            ("annotations_per_pair", n),
            ("lease_seconds", "120"),
            ("flags", "rude\nwrong\n\nrude"),
        ];
        c.post(format!("{}/admin/projects/t/settings", app.url)).form(&form).send()
    };
    let bad = post("0").await.unwrap();
    assert!(bad.headers()["location"].to_str().unwrap().contains("annotations_per_pair"));
    let ok = post("4").await.unwrap();
    assert_eq!(ok.headers()["location"], "/admin/projects/t?ok=settings_saved");
    let list: Value = c.get(app.api("/projects")).send().await.unwrap().json().await.unwrap();
    let p = &list["projects"][0];
    assert_eq!(
        (p["title"].as_str(), p["annotations_per_pair"].as_i64(), p["lease_seconds"].as_i64()),
        (Some("Renamed"), Some(4), Some(120))
    );
    assert_eq!(p["flags"], json!(["rude", "wrong"]), "blank and repeated flags are dropped");
    assert_eq!(p["pair_selection"], "all", "a form without the field keeps the project's");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'project.settings' AND actor = 'boss'").await,
        1
    );
    let select = |v: &'static str| {
        let form = [("title", "Renamed"), ("pair_selection", v)];
        c.post(format!("{}/admin/projects/t/settings", app.url)).form(&form).send()
    };
    let bad = select("smart").await.unwrap();
    assert!(bad.headers()["location"].to_str().unwrap().contains("pair_selection"), "the bad field is named");
    select("adaptive").await.unwrap();
    let list: Value = c.get(app.api("/projects")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["projects"][0]["pair_selection"], "adaptive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_served_whole_while_other_requests_answer_404() {
    // A page answered 404 at the same moment as an asset request (a broken
    // image link) used to turn the asset into a 404: the page never hydrated.
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/arbiter.wasm"), vec![0u8; 64 * 1024]).unwrap();
    std::fs::write(site.path().join("favicon.ico"), b"icon").unwrap();
    let root = site.path().to_path_buf();
    let app = common::spawn_app_with(move |c| c.site_root = root).await;
    app.user("ann", Role::Annotator).await;
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    c.post(format!("{}/login", app.url)).form(&[("username", "ann"), ("password", PASSWORD)]).send().await.unwrap();
    for i in 0..150 {
        let (asset, page, icon) = tokio::join!(
            c.get(format!("{}/pkg/arbiter.wasm", app.url)).send(),
            c.get(format!("{}/annotate/no-such-project-{i}", app.url)).send(),
            c.get(format!("{}/favicon.ico", app.url)).send(),
        );
        let asset = asset.unwrap_or_else(|e| panic!("round {i}: the asset did not come: {e:?}"));
        let page = page.unwrap_or_else(|e| panic!("round {i}: the 404 page did not come: {e:?}"));
        let icon = icon.unwrap_or_else(|e| panic!("round {i}: the icon did not come: {e:?}"));
        assert_eq!(page.status(), reqwest::StatusCode::NOT_FOUND);
        assert_eq!(asset.status(), reqwest::StatusCode::OK, "round {i}");
        assert_eq!(asset.headers()["content-type"], "application/wasm");
        assert_eq!(asset.bytes().await.unwrap().len(), 64 * 1024);
        assert_eq!(icon.status(), reqwest::StatusCode::OK, "round {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_another_app_starts_in_the_same_process() {
    // Building an app generated its route list, which suspends every leptos
    // resource created in the process meanwhile: a page the first app was
    // rendering at that moment never answered.
    let app = common::spawn_app().await;
    app.user("ann", Role::Annotator).await;
    let c = reqwest::Client::builder().cookie_store(true).timeout(std::time::Duration::from_secs(10)).build().unwrap();
    c.post(format!("{}/login", app.url)).form(&[("username", "ann"), ("password", PASSWORD)]).send().await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pages = tokio::spawn({
        let (c, url, stop) = (c.clone(), app.url.clone(), stop.clone());
        async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = c.get(format!("{url}/annotate/no-such-project-{i}")).send().await;
                let r = r.unwrap_or_else(|e| panic!("page {i} did not come: {e:?}"));
                assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND, "page {i}");
                i += 1;
            }
            i
        }
    });
    let mut others = Vec::new();
    for _ in 0..20 {
        others.push(common::spawn_app().await);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rendered = pages.await.unwrap();
    assert!(rendered > 0, "pages were rendered while the other apps started");
}

#[tokio::test]
async fn display_preferences_are_kept_per_user_and_shape_every_page() {
    let app = spawn_app().await;
    app.user("ann", Role::Annotator).await;
    let c = common::login(&app, "ann", PASSWORD).await;
    let html = |c: reqwest::Client| {
        let url = format!("{}/", app.url);
        async move { c.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert!(html(c.clone()).await.contains(r#"<html lang="en" data-theme="auto" class="text-100""#));
    let post = |form: Vec<(&'static str, &'static str)>| {
        let (c, url) = (c.clone(), format!("{}/account/display", app.url));
        async move { c.post(url).form(&form).send().await.unwrap() }
    };
    let r = post(vec![("theme", "toggle"), ("next", "/account")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account");
    post(vec![("size", "larger"), ("next", "/")]).await;
    let page = html(c.clone()).await;
    assert!(page.contains(r#"data-theme="dark" class="text-110""#), "{}", &page[..300]);
    // Another browser of the same user sees the same.
    let other = common::login(&app, "ann", PASSWORD).await;
    assert!(html(other).await.contains(r#"data-theme="dark" class="text-110""#));
    let bad = post(vec![("theme", "blue"), ("next", "/")]).await;
    assert!(bad.headers()["location"].to_str().unwrap().contains("theme"), "the bad field is named");
    let offsite = post(vec![("size", "reset"), ("next", "https://evil.example/")]).await;
    assert_eq!(offsite.headers()["location"], "/", "only paths on this site");
}

#[tokio::test]
async fn pages_but_the_admins_load_the_annotators_bundle_unless_it_is_older_than_the_full_one() {
    // A site as scripts/build.sh leaves it: the full bundle, then the annotator's.
    let site = |annotator_first: bool| {
        let site = tempfile::tempdir().unwrap();
        let pkg = site.path().join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        for name in ["arbiter", "arbiter-annotator"] {
            std::fs::write(pkg.join(format!("{name}.wasm")), b"\0asm").unwrap();
            std::fs::write(pkg.join(format!("{name}.js")), b"").unwrap();
        }
        // `cargo leptos watch` after build.sh: only the full bundle is new.
        let (older, newer) =
            if annotator_first { ("arbiter-annotator", "arbiter") } else { ("arbiter", "arbiter-annotator") };
        let then = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(pkg.join(format!("{older}.wasm")))
            .unwrap()
            .set_modified(then)
            .unwrap();
        assert!(pkg.join(format!("{newer}.wasm")).exists());
        site
    };
    async fn script(app: &TestApp, c: &reqwest::Client, path: &str) -> &'static str {
        let html = c.get(format!("{}{path}", app.url)).send().await.unwrap().text().await.unwrap();
        match (html.contains("/pkg/arbiter-annotator.js"), html.contains("/pkg/arbiter.js")) {
            (true, false) => "annotator",
            (false, true) => "full",
            other => panic!("{path}: {other:?} in {html}"),
        }
    }
    let current = site(false);
    let root = current.path().to_path_buf();
    let app = common::spawn_app_with(move |c| c.site_root = root).await;
    app.user("boss", Role::Admin).await;
    let boss = common::login(&app, "boss", PASSWORD).await;
    assert_eq!(script(&app, &boss, "/login").await, "annotator");
    assert_eq!(script(&app, &boss, "/").await, "annotator");
    assert_eq!(script(&app, &boss, "/admin").await, "full");
    assert_eq!(script(&app, &boss, "/admin/users").await, "full");
    let stale = site(true);
    let root = stale.path().to_path_buf();
    let app = common::spawn_app_with(move |c| c.site_root = root).await;
    assert_eq!(script(&app, &browser(), "/login").await, "full", "an older annotator's bundle is not used");
}
