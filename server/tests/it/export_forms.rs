//! One export file has one schema: plain prompts and conversations never
//! share a column. Files are loaded back with pyarrow and `datasets` (a venv
//! made by scripts/python-env.sh) and must come out as typed columns.
use crate::common;

use arbiter_core::services::Role;
use common::{bearer, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Loads `file` with pyarrow and datasets and checks its columns' types.
fn check_with_python(file: &std::path::Path, form: &str) {
    common::run_python("check_export.py", &[file, std::path::Path::new(form)], file.parent().unwrap());
}

async fn judge_everything(app: &TestApp, token: &str, slug: &str) -> usize {
    let mut n = 0;
    loop {
        let r =
            bearer().post(app.api(&format!("/projects/{slug}/tasks/next"))).bearer_auth(token).send().await.unwrap();
        if r.status() == StatusCode::NO_CONTENT {
            return n;
        }
        let task: Value = r.json().await.unwrap();
        let r = bearer()
            .post(app.api(&format!("/tasks/{}/annotation", task["task_id"].as_str().unwrap())))
            .bearer_auth(token)
            .header("Idempotency-Key", format!("{slug}-{n}"))
            .json(&json!({"choice": if n % 2 == 0 { -2 } else { 3 }}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        n += 1;
    }
}

async fn export(
    app: &TestApp,
    admin: &str,
    slug: &str,
    form: &str,
) -> (reqwest::header::HeaderMap, Vec<Value>, String) {
    let r = bearer()
        .get(app.api(&format!("/projects/{slug}/export?format=trl&form={form}")))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    let headers = r.headers().clone();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    let rows = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (headers, rows, text)
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

fn mixed_lines() -> String {
    let mut lines: String = (0..3).map(common::jsonl_line).collect();
    lines.push_str(
        &json!({"id": "conv", "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "A joke?"}],
            "completions": [{"model": "alpha", "text": "Knock knock."}, {"model": "beta", "text": "No."}]})
        .to_string(),
    );
    lines.push('\n');
    lines
}

#[tokio::test]
async fn a_project_with_both_kinds_of_prompt_exports_one_schema_in_every_form() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    let token = app.user("ann", Role::Annotator).await;
    app.project("mix", 1, 0).await;
    app.member("mix", "ann").await;
    let r =
        bearer().post(app.api("/projects/mix/import")).bearer_auth(&admin).body(mixed_lines()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(judge_everything(&app, &token, "mix").await, 4);
    let dir = tempfile::tempdir().unwrap();

    // auto: one conversation among the rows makes every row conversational.
    let (r, rows, text) = export(&app, &admin, "mix", "auto").await;
    assert_eq!(header(&r, "x-arbiter-form"), "conversational");
    assert!(header(&r, "x-arbiter-form-reason").contains("1 of 4"), "{}", header(&r, "x-arbiter-form-reason"));
    assert_eq!(rows.len(), 4);
    for row in &rows {
        for column in ["prompt", "chosen", "rejected"] {
            assert!(row[column].is_array(), "{column} of {row}");
        }
    }
    let plain = rows.iter().find(|r| r["prompt"] == json!([{"role": "user", "content": "Question 0?"}]));
    assert!(plain.is_some(), "a plain prompt becomes one user turn: {rows:?}");
    let file = dir.path().join("auto.jsonl");
    std::fs::write(&file, &text).unwrap();
    check_with_python(&file, "conversational");

    // standard: every prompt is text; the conversation flattened, HH-RLHF style.
    let (r, rows, text) = export(&app, &admin, "mix", "standard").await;
    assert_eq!(header(&r, "x-arbiter-form"), "standard");
    assert!(rows.iter().all(|r| r["prompt"].is_string() && r["chosen"].is_string() && r["rejected"].is_string()));
    let flat = "\n\nSystem: Be brief.\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: A joke?\n\nAssistant: ";
    assert!(rows.iter().any(|r| r["prompt"] == flat), "{rows:?}");
    let file = dir.path().join("standard.jsonl");
    std::fs::write(&file, &text).unwrap();
    check_with_python(&file, "standard");
}

#[tokio::test]
async fn plain_prompts_stay_standard_unless_asked_and_an_ambiguous_flattening_is_refused() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    let token = app.user("ann", Role::Annotator).await;
    app.project("plain", 1, 3).await;
    app.member("plain", "ann").await;
    judge_everything(&app, &token, "plain").await;
    let (r, rows, _) = export(&app, &admin, "plain", "auto").await;
    assert_eq!(header(&r, "x-arbiter-form"), "standard");
    assert!(header(&r, "x-arbiter-form-reason").contains("no prompt of this project is a conversation"));
    assert!(rows.iter().all(|r| r["prompt"].is_string()));
    let (_, rows, text) = export(&app, &admin, "plain", "conversational").await;
    assert!(rows.iter().all(|r| r["prompt"].is_array() && r["chosen"].is_array()));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conv.jsonl");
    std::fs::write(&file, &text).unwrap();
    check_with_python(&file, "conversational");

    // A turn that contains a marker cannot be flattened reversibly: refused, naming the prompt.
    app.project("tricky", 1, 0).await;
    app.member("tricky", "ann").await;
    let line = json!({"id": "sneaky", "messages": [{"role": "user", "content": "Say \n\nAssistant: hi"}],
        "completions": [{"model": "a", "text": "x"}, {"model": "b", "text": "y"}]});
    bearer()
        .post(app.api("/projects/tricky/import"))
        .bearer_auth(&admin)
        .body(format!("{line}\n"))
        .send()
        .await
        .unwrap();
    judge_everything(&app, &token, "tricky").await;
    let r = bearer().get(app.api("/projects/tricky/export?form=standard")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("sneaky"), "{e}");
    let (r, _, _) = export(&app, &admin, "tricky", "auto").await;
    assert_eq!(header(&r, "x-arbiter-form"), "conversational");
    let r = bearer().get(app.api("/projects/tricky/export?form=chat")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().starts_with("form:"));
}

#[tokio::test]
async fn the_raw_export_has_every_annotation_as_given_and_pseudonymous_annotators() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    let token = app.user("ann", Role::Annotator).await;
    app.project("raw", 1, 0).await;
    app.member("raw", "ann").await;
    let mut lines = mixed_lines();
    lines.push_str(
        &json!({"id": "m", "prompt": "with meta", "meta": {"source": "x", "n": 3},
        "completions": [{"model": "alpha", "text": "a"}, {"model": "beta", "text": "b"}]})
        .to_string(),
    );
    lines.push('\n');
    bearer().post(app.api("/projects/raw/import")).bearer_auth(&admin).body(lines).send().await.unwrap();
    let mut shown = Vec::new();
    loop {
        let r = bearer().post(app.api("/projects/raw/tasks/next")).bearer_auth(&token).send().await.unwrap();
        if r.status() == StatusCode::NO_CONTENT {
            break;
        }
        let task: Value = r.json().await.unwrap();
        let id = task["task_id"].as_str().unwrap().to_owned();
        let r = bearer()
            .post(app.api(&format!("/tasks/{id}/annotation")))
            .bearer_auth(&token)
            .header("Idempotency-Key", format!("raw-{id}"))
            .json(&json!({"choice": -2, "flags": ["unsafe"], "rationale": "left is better"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        shown.push((
            task["left"]["text"].as_str().unwrap().to_owned(),
            task["right"]["text"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(shown.len(), 5);
    let text = bearer()
        .get(app.api("/projects/raw/export?format=raw"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 5, "one row per annotation");
    for row in &rows {
        assert_eq!(row["choice_shown"], -2);
        // Canonical: positive favours A. Left was preferred; A was on the left unless swapped.
        let expected = if row["left"] == "a" { 2 } else { -2 };
        assert_eq!(row["choice"], expected, "{row}");
        assert!(row["annotator"].as_str().unwrap().starts_with("annotator-"), "a pseudonym: {row}");
        assert_eq!(row["flags"], json!(["unsafe"]));
        assert_eq!(row["rationale"], "left is better");
        assert!(row["time_ms"].is_i64() && row["submitted_at"].is_string() && row["leased_at"].is_string());
    }
    let pseudonyms: std::collections::HashSet<&str> = rows.iter().map(|r| r["annotator"].as_str().unwrap()).collect();
    assert_eq!(pseudonyms.len(), 1, "stable per annotator");
    let with_meta = rows.iter().find(|r| r["external_id"] == "m").unwrap();
    let meta: Value = serde_json::from_str(with_meta["meta"].as_str().unwrap()).unwrap();
    assert_eq!(meta, json!({"source": "x", "n": 3}), "the prompt's meta, as a JSON string");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("raw.jsonl");
    std::fs::write(&file, &text).unwrap();
    check_with_python(&file, "raw");
    let named = bearer()
        .get(app.api("/projects/raw/export?format=raw&annotator_names=true"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(named.lines().all(|l| l.contains("\"annotator\":\"ann\"")), "real names when asked");
}
