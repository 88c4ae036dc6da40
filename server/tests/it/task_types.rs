//! Ranking and rating tasks over HTTP (issue 9): what `tasks/next` shows,
//! which submissions are refused and why, retries, the plain form, and the
//! exports' order whatever order the completions were shown in.
use crate::common;

use arbiter_core::services::Role;
use common::{bearer, login, spawn_app, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn next_task(app: &TestApp, token: &str, slug: &str) -> Value {
    let r = bearer().post(app.api(&format!("/projects/{slug}/tasks/next"))).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn annotate(app: &TestApp, token: &str, task: &str, key: &str, body: String) -> (StatusCode, Value) {
    let r = bearer()
        .post(app.api(&format!("/tasks/{task}/annotation")))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A project of `task_type` (created over the API) with prompts of four
/// completions by models m0…m3 whose texts say their quality: m3 best.
async fn project(app: &TestApp, admin: &str, slug: &str, extra: Value) {
    let mut body = json!({"slug": slug, "title": slug, "annotations_per_pair": 2});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let r = bearer().post(app.api("/projects")).bearer_auth(admin).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let lines: String = (0..2)
        .map(|p| {
            let c: Vec<String> =
                (0..4).map(|m| format!(r#"{{"model":"m{m}","text":"quality {m} answer to {p}"}}"#)).collect();
            format!("{{\"id\":\"q{p}\",\"prompt\":\"Question {p}?\",\"completions\":[{}]}}\n", c.join(","))
        })
        .collect();
    let r = bearer()
        .post(app.api(&format!("/projects/{slug}/import")))
        .bearer_auth(admin)
        .header("content-type", "application/x-ndjson")
        .body(lines)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

fn quality(text: &str) -> i64 {
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn export(app: &TestApp, admin: &str, slug: &str, query: &str) -> Vec<Value> {
    let r = bearer().get(app.api(&format!("/projects/{slug}/export?{query}"))).bearer_auth(admin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test]
async fn a_ranking_task_shows_every_completion_and_refuses_what_is_not_a_full_ranking() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    let ann = app.user("ann", Role::Annotator).await;
    project(&app, &admin, "r", json!({"task_type": "ranking"})).await;
    app.member("r", "ann").await;
    let t = next_task(&app, &ann, "r").await;
    assert_eq!(t["task_type"], "ranking");
    assert!(t.get("left").is_none() && t.get("right").is_none(), "{t}");
    let shown = t["completions"].as_array().unwrap();
    assert_eq!(shown.len(), 4);
    let ids: Vec<&str> = shown.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(ids.iter().all(|id| id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit())), "opaque ids: {ids:?}");
    assert!(!t.to_string().contains("\"m0\""), "no model names: {t}");
    assert!(shown.iter().all(|c| c["html"].as_str().unwrap().contains("answer")));
    let task = t["task_id"].as_str().unwrap();
    let again = next_task(&app, &ann, "r").await;
    assert_eq!(again["completions"], t["completions"], "the held task comes back in its recorded order");
    // Rank by quality: best first.
    let rank_of = |c: &Value| 4 - quality(c["text"].as_str().unwrap());
    let good: Vec<(String, i64)> = shown.iter().map(|c| (c["id"].as_str().unwrap().to_owned(), rank_of(c))).collect();
    let ranks = |entries: &[(String, i64)]| {
        let parts: Vec<String> = entries.iter().map(|(id, r)| format!("\"{id}\":{r}")).collect();
        format!("{{\"ranks\":{{{}}}}}", parts.join(","))
    };
    let refused = [
        (r#"{"choice": 2}"#.to_owned(), "ranks"),
        (ranks(&good[..3]), &*format!("completion {:?} is missing", ids[3])),
        (ranks(&[good.clone(), vec![("abc".into(), 1)]].concat()), "\"abc\" is not a completion of this task"),
        (ranks(&[good[..3].to_vec(), vec![(ids[3].to_owned(), 5)]].concat()), "ranks go from 1 (best) to 4"),
        (ranks(&[good.clone(), vec![good[0].clone()]].concat()), "given twice"),
        (format!("{{\"ratings\":{{\"{}\":{{\"overall\":3}}}}}}", ids[0]), "a ranking task takes ranks"),
        (
            json!({"ranks": good.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<String, Value>>(), "completion_flags": {ids[0]: ["rude"]}})
                .to_string(),
            "\"rude\" is not one of this project's flags",
        ),
    ];
    for (i, (body, says)) in refused.iter().enumerate() {
        let (status, e) = annotate(&app, &ann, task, &format!("bad-{i}"), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(e["error"].as_str().unwrap_or_default().contains(says), "{body} → {e} should say {says}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 0, "nothing half-written");
    // The first answer flagged on its own (a repeat counts once).
    let body =
        json!({"ranks": good.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<String, Value>>(),
                      "completion_flags": {ids[0]: ["unsafe", "unsafe"]}})
        .to_string();
    let (status, first) = annotate(&app, &ann, task, "good", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["completion_flags"], json!({ids[0]: ["unsafe"]}));
    let (status, again) = annotate(&app, &ann, task, "good", body).await;
    assert_eq!(status, StatusCode::OK, "a retry with the same key is answered, not stored again");
    assert_eq!(first, again);
    assert_eq!(first["ranks"][ids[0]], rank_of(&shown[0]));
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM ranks").await, 4);
    assert_eq!(app.count("SELECT COUNT(*) FROM completion_flags").await, 1);
    let (status, _) = annotate(&app, &ann, task, "other", ranks(&good)).await;
    assert_eq!(status, StatusCode::CONFLICT, "a second annotation of the task under another key");
}

#[tokio::test]
async fn rankings_export_as_rewards_and_as_every_ordered_pair_whatever_the_shown_order() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    project(&app, &admin, "r", json!({"task_type": "ranking"})).await;
    let mut orders = Vec::new();
    for name in ["ann", "bob"] {
        let token = app.user(name, Role::Annotator).await;
        app.member("r", name).await;
        for i in 0..2 {
            let t = next_task(&app, &token, "r").await;
            let shown = t["completions"].as_array().unwrap();
            orders.push(shown.iter().map(|c| quality(c["text"].as_str().unwrap())).collect::<Vec<_>>());
            // m2 and m1 tied: ranks 1, 2, 2, 4 for m3, m2, m1, m0.
            let ranks: serde_json::Map<String, Value> = shown
                .iter()
                .map(|c| {
                    let rank = [4, 2, 2, 1][quality(c["text"].as_str().unwrap()) as usize];
                    (c["id"].as_str().unwrap().to_owned(), json!(rank))
                })
                .collect();
            let (status, e) = annotate(
                &app,
                &token,
                t["task_id"].as_str().unwrap(),
                &format!("{name}-{i}"),
                json!({"ranks": ranks}).to_string(),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{e}");
        }
    }
    let rewards = export(&app, &admin, "r", "format=rewards").await;
    assert_eq!(rewards.len(), 8, "four completions of two prompts");
    for row in &rewards {
        let q = quality(row["completion"].as_str().unwrap());
        assert_eq!(row["rank"], json!([4, 2, 2, 1][q as usize]), "{row}");
        assert_eq!(row["n"], 6, "two rankings × three other completions");
    }
    let m3 = rewards.iter().find(|r| r["model"] == "m3").unwrap()["reward"].as_f64().unwrap();
    let m0 = rewards.iter().find(|r| r["model"] == "m0").unwrap()["reward"].as_f64().unwrap();
    assert!(m3 > 0.0 && m0 < 0.0 && (m3 + m0).abs() < 1e-6, "centred and symmetric: {m3} {m0}");
    let trl = export(&app, &admin, "r", "format=trl").await;
    assert_eq!(trl.len(), 2 * 5, "six pairs a prompt, the tie left out");
    for row in &trl {
        let (c, r) = (quality(row["chosen"].as_str().unwrap()), quality(row["rejected"].as_str().unwrap()));
        assert!(c > r, "{row}");
        let m = row["margin"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&m), "{row}");
        if (c, r) == (3, 0) {
            assert_eq!(m, 1.0, "best over worst spans the prompt's range");
        }
    }
    let raw = export(&app, &admin, "r", "format=raw").await;
    assert_eq!(raw.len(), 4 * 6, "each ranking as its six pairwise outcomes");
    assert!(orders.iter().any(|o| o != &orders[0]), "shown orders differ (random): {orders:?}");
    // Every other format, and the other file types.
    for (query, rows) in [
        ("format=arena", 24),
        ("format=openai-dpo", 10),
        ("format=hh-rlhf", 10),
        ("format=trl-implicit", 10),
        ("format=pairs", 12),
    ] {
        assert_eq!(export(&app, &admin, "r", query).await.len(), rows, "{query}");
    }
    let pairs = export(&app, &admin, "r", "format=pairs").await;
    let tie = pairs.iter().find(|p| p["label"] == "tie").expect("m1 and m2 tie");
    assert_eq!((tie["votes_tie"].as_i64(), tie["n"].as_i64()), (Some(2), Some(2)), "{tie}");
    for query in ["format=rewards&as=csv", "format=rewards&as=parquet", "format=raw&as=csv", "format=trl&as=parquet"] {
        let r = bearer().get(app.api(&format!("/projects/r/export?{query}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{query}");
        assert!(!r.bytes().await.unwrap().is_empty(), "{query}");
    }
}

#[tokio::test]
async fn rating_tasks_need_every_aspect_on_the_scale_and_z_scores_remove_each_annotators_offset() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    let extra = json!({"task_type": "rating", "aspects": ["helpfulness", "honesty"], "scale": "1-5",
                       "scale_labels": ["awful", "poor", "fair", "good", "great"]});
    project(&app, &admin, "g", extra).await;
    let mut first = None;
    // A generous and a harsh annotator who agree on the order.
    for (name, offset) in [("gen", 2), ("harsh", 0)] {
        let token = app.user(name, Role::Annotator).await;
        app.member("g", name).await;
        for i in 0..2 {
            let t = next_task(&app, &token, "g").await;
            assert_eq!(t["task_type"], "rating");
            assert_eq!(t["aspects"], json!(["helpfulness", "honesty"]));
            assert_eq!(t["scale"]["max"], 5);
            assert_eq!(t["scale"]["labels"][4], "great");
            let task = t["task_id"].as_str().unwrap().to_owned();
            let shown = t["completions"].as_array().unwrap().clone();
            let id = |k: usize| shown[k]["id"].as_str().unwrap().to_owned();
            if first.is_none() {
                let refused = [
                    (json!({"ratings": {id(0): {"helpfulness": 3}}}), "aspect \"honesty\" is missing"),
                    (json!({"ratings": {id(0): {"helpfulness": 3, "honesty": 6}}}), "outside the scale 1-5"),
                    (
                        json!({"ratings": {id(0): {"helpfulness": 3, "honesty": 3, "humour": 1}}}),
                        "\"humour\" is not an aspect",
                    ),
                    (json!({"ratings": {id(0): {"helpfulness": 3, "honesty": 3}}}), "is missing"),
                ];
                for (n, (body, says)) in refused.iter().enumerate() {
                    let (status, e) = annotate(&app, &token, &task, &format!("bad-{n}"), body.to_string()).await;
                    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
                    assert!(e["error"].as_str().unwrap_or_default().contains(says), "{body} → {e} should say {says}");
                }
            }
            let ratings: serde_json::Map<String, Value> = shown
                .iter()
                .map(|c| {
                    let v = (quality(c["text"].as_str().unwrap()) / 2 + 1 + offset).min(5);
                    (c["id"].as_str().unwrap().to_owned(), json!({"helpfulness": v, "honesty": v}))
                })
                .collect();
            let body = json!({"ratings": ratings}).to_string();
            let (status, receipt) = annotate(&app, &token, &task, &format!("{name}-{i}"), body.clone()).await;
            assert_eq!(status, StatusCode::CREATED, "{receipt}");
            let (status, again) = annotate(&app, &token, &task, &format!("{name}-{i}"), body).await;
            assert_eq!((status, &again), (StatusCode::OK, &receipt), "a retry gets the first receipt");
            first.get_or_insert(receipt);
        }
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 4);
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings").await, 4 * 4 * 2);
    let rewards = export(&app, &admin, "g", "format=rewards").await;
    assert_eq!(rewards.len(), 8);
    for row in &rewards {
        let q = quality(row["completion"].as_str().unwrap());
        assert_eq!(row["rank"], json!([3, 3, 1, 1][q as usize]), "{row}");
        // Both annotators' z-scores agree exactly: no spread between them.
        assert!(row["stderr"].as_f64().unwrap() < 1e-9, "{row}");
    }
    let trl = export(&app, &admin, "g", "format=trl").await;
    assert_eq!(trl.len(), 2 * 4, "the pairs whose mean normalized ratings differ");
    for row in &trl {
        assert!(quality(row["chosen"].as_str().unwrap()) / 2 > quality(row["rejected"].as_str().unwrap()) / 2);
        assert_eq!(row["margin"], 1.0);
    }
}

#[tokio::test]
async fn ranking_and_rating_pages_work_as_plain_forms() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    app.user("ann", Role::Annotator).await;
    project(&app, &admin, "r", json!({"task_type": "ranking"})).await;
    project(&app, &admin, "g", json!({"task_type": "rating", "scale": "1-3"})).await;
    app.member("r", "ann").await;
    app.member("g", "ann").await;
    let c = login(&app, "ann", PASSWORD).await;
    for slug in ["r", "g"] {
        let page = c.get(format!("{}/annotate/{slug}", app.url)).send().await.unwrap().text().await.unwrap();
        let value = |name: &str| -> String {
            let at = page.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name}"));
            let rest = &page[at + name.len() + 15..];
            rest[..rest.find('"').unwrap()].to_string()
        };
        let mut form = vec![
            ("task_id".to_owned(), value("task_id")),
            ("client_key".to_owned(), value("client_key")),
            ("action".to_owned(), "submit".to_owned()),
        ];
        // Every completion's field, in page order: rank i + 1, or a rating of 2.
        let prefix = if slug == "r" { "name=\"rank_" } else { "name=\"rate_" };
        let mut names: Vec<String> = page
            .match_indices(prefix)
            .map(|(at, _)| {
                let rest = &page[at + 6..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
            .collect();
        names.dedup();
        assert_eq!(names.len(), 4, "{slug}: a field per completion: {names:?}");
        for (i, name) in names.into_iter().enumerate() {
            form.push((name, if slug == "r" { (i + 1).to_string() } else { "2".to_owned() }));
        }
        let r = c.post(format!("{}/annotate/{slug}/submit", app.url)).form(&form).send().await.unwrap();
        assert_eq!(r.headers()["location"], &format!("/annotate/{slug}?ok=saved"), "{slug}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM ranks").await, 4);
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings").await, 4);
}

#[tokio::test]
async fn the_task_type_is_fixed_once_a_project_has_annotations() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    let ann = app.user("ann", Role::Annotator).await;
    project(&app, &admin, "r", json!({"task_type": "ranking"})).await;
    app.member("r", "ann").await;
    let p = arbiter_core::storage::projects::by_slug(&app.db.read, "r").await.unwrap().unwrap();
    let mut to_rating = arbiter_core::domain::SettingsInput::titled("r");
    to_rating.task_type = Some("rating".into());
    arbiter_core::services::projects::update(&app.db, "test", &p, to_rating.clone()).await.unwrap();
    let p = arbiter_core::storage::projects::by_slug(&app.db.read, "r").await.unwrap().unwrap();
    let t = next_task(&app, &ann, "r").await;
    let ratings: serde_json::Map<String, Value> = t["completions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), json!({"overall": 4})))
        .collect();
    let (status, _) =
        annotate(&app, &ann, t["task_id"].as_str().unwrap(), "k", json!({"ratings": ratings}).to_string()).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut back = arbiter_core::domain::SettingsInput::titled("r");
    back.task_type = Some("ranking".into());
    let e = arbiter_core::services::projects::update(&app.db, "test", &p, back).await.unwrap_err();
    assert!(e.to_string().contains("task_type"), "{e}");
    // The project's page says what its tasks are.
    let page = login(&app, "boss", PASSWORD).await.get(format!("{}/admin/projects/r", app.url)).send().await.unwrap();
    let page = page.text().await.unwrap();
    let at = page.find("data-testid=\"task-type\"").expect("the task type on the admin page");
    assert!(page[at..at + 200].contains("rating") && page[at..at + 300].contains("overall"), "{}", &page[at..at + 300]);
    // Other settings still change.
    let mut renamed = to_rating;
    renamed.title = "renamed".into();
    arbiter_core::services::projects::update(&app.db, "test", &p, renamed).await.unwrap();
    let bad = bearer()
        .post(app.api("/projects"))
        .bearer_auth(&admin)
        .json(&json!({"slug": "x", "title": "x", "task_type": "sorting"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("task_type"));
}
