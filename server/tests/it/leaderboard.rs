//! The model leaderboard through the API, the CLI and the page (issue 10).
use crate::common;

use arbiter_core::services::{import, projects, Role};
use common::{bearer, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const MODELS: [&str; 4] = ["alpha", "beta", "gamma@v1", "gamma@v2"];
/// The strengths the simulated annotator judges by (FastChat's scale).
const TRUTH: [f64; 4] = [1000.0, 1150.0, 850.0, 1300.0];

/// A project of `prompts` prompts, each answered by the four models, and
/// one annotator who judges every pair through the API: the better model
/// (by `TRUTH`, with a pseudo-random draw) wins, 1 in 8 votes a tie.
async fn judged(app: &TestApp, slug: &str, prompts: usize) -> String {
    let mut s = arbiter_core::domain::SettingsInput::titled("Leaderboard");
    s.annotations_per_pair = Some(1);
    let p = projects::create(&app.db, "test", slug, s).await.unwrap();
    let data: String = (0..prompts)
        .map(|i| {
            let completions: Vec<Value> =
                MODELS.iter().map(|m| json!({"model": m, "text": format!("[{m}] answer {i}")})).collect();
            format!(
                "{}\n",
                json!({"id": format!("q{i}"), "prompt": format!("Question {i}?"), "completions": completions})
            )
        })
        .collect();
    assert!(import::import_jsonl(&app.db, &p, None, "t.jsonl", data.into_bytes()).await.unwrap().ok);
    let token = app.user(&format!("{slug}-judge"), Role::Annotator).await;
    app.member(slug, &format!("{slug}-judge")).await;
    let mut seed: u64 = 7;
    let mut uniform = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let model_of = |text: &str| MODELS.iter().position(|m| text.starts_with(&format!("[{m}]"))).unwrap();
    common::judge_all(app, slug, &token, |_, task| {
        let (left, right) =
            (model_of(task["left"]["text"].as_str().unwrap()), model_of(task["right"]["text"].as_str().unwrap()));
        let p_left = 1.0 / (1.0 + 10f64.powf((TRUTH[right] - TRUTH[left]) / 400.0));
        let u = uniform();
        json!({"choice": if u < 0.125 { 0 } else if uniform() < p_left { -2 } else { 2 }})
    })
    .await;
    app.user(&format!("{slug}-boss"), Role::Admin).await
}

#[tokio::test]
async fn the_leaderboard_ranks_models_like_the_reference_fit_as_json_and_csv() {
    let app = spawn_app().await;
    let admin = judged(&app, "lb", 60).await;
    let get = |q: &'static str| {
        let (url, admin) = (app.api(&format!("/projects/lb/leaderboard{q}")), admin.clone());
        async move { bearer().get(url).bearer_auth(admin).send().await.unwrap() }
    };
    let r = get("").await;
    assert_eq!(r.status(), StatusCode::OK);
    let board: Value = r.json().await.unwrap();
    let models = board["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["model"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 4);
    assert_eq!(names[0], "gamma@v2", "the strongest model leads: {names:?}");
    assert_eq!(names[3], "gamma@v1", "the weakest is last: {names:?}");
    let ratings: Vec<f64> = models.iter().map(|m| m["rating"].as_f64().unwrap()).collect();
    assert!(ratings.windows(2).all(|w| w[0] >= w[1]), "sorted by rating: {ratings:?}");
    assert!((ratings.iter().sum::<f64>() / 4.0 - 1000.0).abs() < 1e-6);
    for m in models {
        for key in ["model", "rating", "ci", "elo", "battles", "wins", "ties", "losses"] {
            assert!(!m[key].is_null(), "{key} in {m}");
        }
        let (lo, hi, r) = (m["ci"][0].as_f64().unwrap(), m["ci"][1].as_f64().unwrap(), m["rating"].as_f64().unwrap());
        assert!(lo < r && r < hi, "the interval holds the rating: {m}");
        let played = m["wins"].as_u64().unwrap() + m["ties"].as_u64().unwrap() + m["losses"].as_u64().unwrap();
        assert_eq!(m["battles"].as_u64().unwrap(), played);
    }
    // 60 prompts × 6 pairs, one vote each.
    assert_eq!(board["battles"], 360);
    assert_eq!((board["rounds"].as_u64(), board["seed"].as_u64()), (Some(100), Some(42)));
    assert_eq!(board["projects"], json!(["lb"]));
    assert_eq!(board["versions"][0]["family"], "gamma");
    assert_eq!(board["versions"][0]["versions"][1]["version"], "v2");
    assert_eq!(board["battle_counts"][0][1], 60);

    // The same seed gives the same intervals; another seed others.
    let again: Value = get("").await.json().await.unwrap();
    assert_eq!(again["models"], board["models"]);
    let other: Value = get("?seed=7").await.json().await.unwrap();
    assert_eq!(other["seed"], 7);
    assert_ne!(other["models"][0]["ci"], board["models"][0]["ci"], "another seed, other intervals");
    assert_eq!(other["models"][0]["rating"], board["models"][0]["rating"], "the fit itself does not change");
    let none: Value = get("?rounds=0").await.json().await.unwrap();
    assert_eq!(none["rounds"], 0);
    assert_eq!(none["models"][0]["ci"][0], none["models"][0]["rating"], "no rounds: no interval");

    // CSV: a header and a row per model, in the same order.
    let r = get("?format=csv").await;
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "model,rating,ci_low,ci_high,elo,battles,wins,ties,losses");
    assert_eq!(lines.len(), 5);
    assert!(lines[1].starts_with("gamma@v2,"));

    // Bad parameters are 400s naming the parameter.
    for (q, field) in
        [("?format=xml", "format"), ("?rounds=many", "rounds"), ("?rounds=5000", "rounds"), ("?seed=-1", "seed")]
    {
        let r =
            bearer().get(app.api(&format!("/projects/lb/leaderboard{q}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().starts_with(field), "{q}: {body}");
    }

    // The reference fit (FastChat's logistic regression) on the arena export.
    let arena = bearer()
        .get(app.api("/projects/lb/export?format=arena"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("battles.jsonl"), arena).unwrap();
    std::fs::write(dir.path().join("board.json"), board.to_string()).unwrap();
    common::run_python(
        "check_leaderboard.py",
        &[&dir.path().join("battles.jsonl"), &dir.path().join("board.json")],
        dir.path(),
    );
}

#[tokio::test]
async fn models_of_one_name_are_one_model_across_projects_and_new_votes_count() {
    let app = spawn_app().await;
    let admin = judged(&app, "one", 10).await;
    judged(&app, "two", 10).await;
    let across: Value = common::get_json(&app, "/leaderboard?projects=one,two", &admin).await;
    assert_eq!(across["battles"], 120);
    assert_eq!(across["models"].as_array().unwrap().len(), 4);
    assert_eq!(across["projects"], json!(["one", "two"]));
    let all: Value = common::get_json(&app, "/leaderboard", &admin).await;
    assert_eq!(all["battles"], 120, "no list: every project");
    let r = bearer().get(app.api("/leaderboard?projects=one,nope")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The CLI prints the same leaderboard.
    let out = common::arbiter(&app.db_url, &["leaderboard", "one", "two", "--format", "csv"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 5);
    let top = across["models"][0]["model"].as_str().unwrap();
    assert!(csv.lines().nth(1).unwrap().starts_with(&format!("{top},")), "{csv}");
    let out = common::arbiter(&app.db_url, &["leaderboard", "one", "--format", "xml"], "");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--format"));

    // A vote more, through the API: a fresh read counts it.
    let before: Value = common::get_json(&app, "/projects/one/leaderboard", &admin).await;
    assert_eq!(before["battles"], 60);
    // The page shows the fit it has (cached above) at once…
    let page_client = common::login(&app, "one-boss", common::PASSWORD).await;
    let page = || async {
        page_client
            .get(format!("{}/admin/projects/one/leaderboard", app.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert!(!page().await.contains(r#"data-testid="stale""#), "nothing new yet");
    // A new prompt comes in (every pair so far has its one vote).
    let p = arbiter_core::storage::projects::by_slug(&app.db.read, "one").await.unwrap().unwrap();
    let line = json!({"id": "late", "prompt": "Late?", "completions": [{"model": "alpha", "text": "[alpha] late"}, {"model": "beta", "text": "[beta] late"}]});
    assert!(import::import_jsonl(&app.db, &p, None, "late.jsonl", format!("{line}\n").into_bytes()).await.unwrap().ok);
    let token = app.user("late", Role::Annotator).await;
    app.member("one", "late").await;
    let r = bearer().post(app.api("/projects/one/tasks/next")).bearer_auth(&token).send().await.unwrap();
    let task: Value = r.json().await.unwrap();
    let r = bearer()
        .post(app.api(&format!("/tasks/{}/annotation", task["task_id"].as_str().unwrap())))
        .bearer_auth(&token)
        .header("Idempotency-Key", "late-1")
        .json(&json!({"choice": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // … the page answers with the last fit, marked as updating, and refits
    // in the background until it shows the new vote.
    let stale = page().await;
    assert!(stale.contains(r#"data-testid="stale""#) && stale.contains("60 battles"), "the last fit, marked");
    let mut fresh = String::new();
    for _ in 0..100 {
        fresh = page().await;
        if fresh.contains("61 battles") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(fresh.contains("61 battles") && !fresh.contains(r#"data-testid="stale""#), "the refit came in");
    let after: Value = common::get_json(&app, "/projects/one/leaderboard", &admin).await;
    assert_eq!(after["battles"], 61);
}

#[tokio::test]
async fn the_leaderboard_page_shows_the_table_and_charts_without_javascript() {
    let app = spawn_app().await;
    judged(&app, "page", 12).await;
    app.user("chief", Role::Admin).await;
    let c = common::login(&app, "chief", common::PASSWORD).await;
    let html =
        c.get(format!("{}/admin/projects/page/leaderboard", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"data-testid="leaderboard""#), "the table");
    // Intervals, win rates, battle counts and gamma's versions, as inline SVG.
    for chart in ["chart-ratings", "chart-win-rate", "chart-battles", "chart-versions"] {
        assert!(html.contains(&format!(r#"data-testid="{chart}""#)), "{chart}");
    }
    assert!(html.matches(r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart""#).count() >= 4);
    assert!(html.contains("gamma@v2") && html.contains("Versions of gamma"));
    let across =
        c.get(format!("{}/admin/leaderboard?projects=page", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(across.contains("/api/v1/leaderboard?projects=page"));
}

/// Imports prompts `from..to`, each answered by `models`.
async fn answered_by(app: &TestApp, slug: &str, from: usize, to: usize, models: &[&str]) {
    let p = arbiter_core::storage::projects::by_slug(&app.db.read, slug).await.unwrap().unwrap();
    let data: String = (from..to)
        .map(|i| {
            let completions: Vec<Value> =
                models.iter().map(|m| json!({"model": m, "text": format!("[{m}] {i}")})).collect();
            format!("{}\n", json!({"id": format!("q{i}"), "prompt": format!("Q{i}?"), "completions": completions}))
        })
        .collect();
    assert!(import::import_jsonl(&app.db, &p, None, "m.jsonl", data.into_bytes()).await.unwrap().ok);
}

#[tokio::test]
async fn active_selection_serves_first_the_model_pairs_the_leaderboard_knows_least() {
    let app = spawn_app().await;
    let mut s = arbiter_core::domain::SettingsInput::titled("Active");
    s.annotations_per_pair = Some(1);
    let p = projects::create(&app.db, "test", "act", s.clone()).await.unwrap();
    answered_by(&app, "act", 0, 20, &["alpha", "beta", "gamma"]).await;
    // A uniform project's pairs do not name their model pair (the index skips them) …
    let named = "SELECT COUNT(*) FROM pairs WHERE model_pair IS NOT NULL";
    assert_eq!(app.count(named).await, 0);
    // … until the project turns active.
    s.selection = Some("active".into());
    projects::update(&app.db, "test", &p, s).await.unwrap();
    assert_eq!(app.count(named).await, 60);
    let token = app.user("seed", Role::Annotator).await;
    app.member("act", "seed").await;
    let model = |text: &str| text[1..text.find(']').unwrap()].to_owned();
    let judged =
        common::judge_all(&app, "act", &token, |j, _| json!({"choice": if j % 3 == 0 { -1 } else { 1 }})).await;
    assert_eq!(judged, 60, "every pair of the three models");
    // A new model arrives; the fit everyone reads (the default rounds and
    // seed) is made now and knows it has no battles yet.
    answered_by(&app, "act", 20, 30, &["alpha", "beta", "gamma", "delta"]).await;
    assert_eq!(app.count(named).await, 120, "an active project's import names them");
    let admin = app.user("boss", Role::Admin).await;
    let board: Value = common::get_json(&app, "/projects/act/leaderboard", &admin).await;
    assert_eq!(board["battles"], 60);
    // Uniform would serve delta's pairs half the time (30 of 60 new pairs);
    // active serves them first.
    let token = app.user("next", Role::Annotator).await;
    app.member("act", "next").await;
    for j in 0..15 {
        let r = bearer().post(app.api("/projects/act/tasks/next")).bearer_auth(&token).send().await.unwrap();
        let task: Value = r.json().await.unwrap();
        let pair = [model(task["left"]["text"].as_str().unwrap()), model(task["right"]["text"].as_str().unwrap())];
        assert!(pair.contains(&"delta".to_owned()), "task {j}: {pair:?}");
        let r = bearer()
            .post(app.api(&format!("/tasks/{}/annotation", task["task_id"].as_str().unwrap())))
            .bearer_auth(&token)
            .header("Idempotency-Key", format!("next-{j}"))
            .json(&json!({"choice": 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
}
