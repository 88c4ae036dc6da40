//! Undo and history over HTTP (issue 13): an edit is its own request with
//! its own key, inside the project's undo window; the annotation keeps one
//! row (the latest), every earlier version is kept and shown by `raw`.
use crate::common;

use arbiter_core::services::Role;
use common::{bearer, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn post(app: &TestApp, token: &str, path: &str, key: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut r = bearer().post(app.api(path)).bearer_auth(token).json(&body);
    if let Some(k) = key {
        r = r.header("Idempotency-Key", k);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn put(app: &TestApp, token: &str, annotation: &str, key: &str, body: Value) -> (StatusCode, Value) {
    let r = bearer()
        .put(app.api(&format!("/annotations/{annotation}")))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn history(app: &TestApp, token: &str) -> Vec<Value> {
    let r = bearer().get(app.api("/projects/u/history")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    v["judgements"].as_array().unwrap().clone()
}

/// Three judgements by `ann` (choices −3, 1, 2 as shown): their receipts.
async fn three(app: &TestApp, ann: &str) -> Vec<Value> {
    let mut receipts = Vec::new();
    for (i, choice) in [-3, 1, 2].into_iter().enumerate() {
        let (_, task) = post(app, ann, "/projects/u/tasks/next", None, json!({})).await;
        let task_id = task["task_id"].as_str().unwrap().to_owned();
        let (status, r) =
            post(app, ann, &format!("/tasks/{task_id}/annotation"), Some(&format!("k{i}")), json!({"choice": choice}))
                .await;
        assert_eq!(status, StatusCode::CREATED);
        receipts.push(r);
    }
    receipts
}

#[tokio::test]
async fn an_edit_replaces_the_judgement_keeps_the_old_version_and_is_idempotent() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    let ann = app.user("ann", Role::Annotator).await;
    let other = app.user("other", Role::Annotator).await;
    app.project("u", 1, 3).await;
    app.member("u", "ann").await;
    app.member("u", "other").await;
    let receipts = three(&app, &ann).await;
    let list = history(&app, &ann).await;
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["annotation_id"], receipts[2]["annotation_id"], "newest first");
    assert!(list.iter().all(|j| j["editable"] == true && j["version"] == 1), "{list:?}");
    let last = receipts[2]["annotation_id"].as_str().unwrap();

    let edit = json!({"choice": -1, "rationale": "on second thought"});
    let (status, first) = put(&app, &ann, last, "edit-1", edit.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!((first["choice"].as_i64(), first["version"].as_i64()), (Some(-1), Some(2)));
    assert!(first["updated_at"].is_string());
    let (status, again) = put(&app, &ann, last, "edit-1", edit.clone()).await;
    assert_eq!((status, &again), (StatusCode::OK, &first), "a retry answers the same");
    let (status, _) = put(&app, &ann, last, "edit-1", json!({"choice": 3})).await;
    assert_eq!(status, StatusCode::CONFLICT, "the same key with another body");
    let (status, _) = put(&app, &ann, last, "k0", json!({"choice": 3})).await;
    assert_eq!(status, StatusCode::CONFLICT, "a key a submission used");
    let (status, _) = put(&app, &other, last, "edit-x", json!({"choice": 3})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "someone else's judgement");
    let (status, e) = put(&app, &ann, last, "edit-bad", json!({"choice": 9})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    // The original submission's retry still gets an answer, not a second row.
    let task = receipts[2]["task_id"].as_str().unwrap();
    let (status, _) = post(&app, &ann, &format!("/tasks/{task}/annotation"), Some("k2"), json!({"choice": 2})).await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 3, "one row per pair and annotator");
    assert_eq!(app.count("SELECT COUNT(*) FROM annotation_revisions").await, 1);
    assert_eq!(app.count("SELECT CAST(SUM(submitted) AS BIGINT) FROM pairs").await, 3, "counters untouched");
    let list = history(&app, &ann).await;
    assert_eq!((list[0]["version"].as_i64(), list[0]["choice"].as_i64()), (Some(2), Some(-1)));

    // Exports use the latest version; raw shows both, marked.
    let text = |q: &str| {
        let (app, admin) = (&app, &admin);
        let q = q.to_owned();
        async move {
            let r = bearer().get(app.api(&format!("/projects/u/export?{q}"))).bearer_auth(admin).send().await.unwrap();
            r.text().await.unwrap().lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect::<Vec<_>>()
        }
    };
    let raw = text("format=raw").await;
    assert_eq!(raw.len(), 4, "three latest rows and the replaced version");
    let versions: Vec<(i64, bool, i64)> = raw
        .iter()
        .filter(|r| r["annotation_id"] == last)
        .map(|r| (r["version"].as_i64().unwrap(), r["latest"].as_bool().unwrap(), r["choice_shown"].as_i64().unwrap()))
        .collect();
    assert_eq!(versions, vec![(1, false, 2), (2, true, -1)]);
    let pairs = text("format=pairs").await;
    assert_eq!(pairs.len(), 3);
    assert_eq!(pairs.iter().map(|p| p["n"].as_i64().unwrap()).sum::<i64>(), 3, "one vote per pair");
}

#[tokio::test]
async fn the_undo_window_closes_after_the_last_n_judgements_or_the_minutes() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    let ann = app.user("ann", Role::Annotator).await;
    let r = bearer()
        .post(app.api("/projects"))
        .bearer_auth(&admin)
        .json(&json!({"slug": "u", "title": "U", "annotations_per_pair": 1, "undo_judgements": 2, "undo_minutes": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let lines: String = (0..3).map(common::jsonl_line).collect();
    let r = bearer().post(app.api("/projects/u/import")).bearer_auth(&admin).body(lines).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    app.member("u", "ann").await;
    let receipts = three(&app, &ann).await;
    let editable: Vec<bool> = history(&app, &ann).await.iter().map(|j| j["editable"].as_bool().unwrap()).collect();
    assert_eq!(editable, vec![true, true, false], "the last two only");
    let oldest = receipts[0]["annotation_id"].as_str().unwrap();
    let (status, e) = put(&app, &ann, oldest, "late-1", json!({"choice": 0})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert!(e["error"].as_str().unwrap().contains("can no longer be changed"), "{e}");
    // Six minutes later the newest is out of the window too.
    arbiter_core::on!(&app.db.write, e => sqlx::query("UPDATE annotations SET created_at = created_at - 6 * 60000").execute(e).await.map(|r| r.rows_affected())).unwrap();
    let newest = receipts[2]["annotation_id"].as_str().unwrap();
    let (status, _) = put(&app, &ann, newest, "late-2", json!({"choice": 0})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(history(&app, &ann).await.iter().all(|j| j["editable"] == false));
    assert_eq!(app.count("SELECT COUNT(*) FROM annotation_revisions").await, 0, "nothing half-written");
}
