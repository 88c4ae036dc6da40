//! Agreement figures against the `krippendorff` Python package, on random
//! judgements made through the API.
use crate::common;

use arbiter_core::services::Role;
use common::{bearer, spawn_app};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn krippendorff_alpha_matches_the_reference_package_on_random_judgements() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    app.project("agree", 3, 30).await;
    // A fixed pseudo-random sequence (LCG), so the data are the same every run.
    let mut seed: u64 = 42;
    let mut next = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as i64
    };
    for a in 0..5 {
        let name = format!("coder{a}");
        let token = app.user(&name, Role::Annotator).await;
        app.member("agree", &name).await;
        for j in 0..18 {
            let r = bearer().post(app.api("/projects/agree/tasks/next")).bearer_auth(&token).send().await.unwrap();
            if r.status() == StatusCode::NO_CONTENT {
                break;
            }
            let task: Value = r.json().await.unwrap();
            let choice = next() % 7 - 3;
            let r = bearer()
                .post(app.api(&format!("/tasks/{}/annotation", task["task_id"].as_str().unwrap())))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("{name}-{j}"))
                .json(&json!({"choice": choice}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
        }
    }
    let got: Value = common::get_json(&app, "/projects/agree/agreement", &admin).await;
    assert!(got["units"].as_u64().unwrap() >= 20, "{got}");
    assert_eq!(got["annotators"].as_array().unwrap().len(), 5);
    assert!(got["fleiss_kappa"].is_number());
    let ratings: Vec<(i64, i64, i64)> =
        arbiter_core::on!(&app.db.read, e => sqlx::query_as("SELECT pair_id, annotator_id, choice FROM annotations").fetch_all(e).await).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ratings.json"), serde_json::to_string(&ratings).unwrap()).unwrap();
    std::fs::write(dir.path().join("agreement.json"), got.to_string()).unwrap();
    common::run_python(
        "check_agreement.py",
        &[&dir.path().join("ratings.json"), &dir.path().join("agreement.json")],
        dir.path(),
    );
    // Each annotator's home page shows their own agreement, the same figure.
    for a in got["annotators"].as_array().unwrap() {
        let name = a["annotator"].as_str().unwrap();
        let home = common::login(&app, name, common::PASSWORD)
            .await
            .get(format!("{}/", app.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let want = match a["agreement"].as_f64() {
            Some(v) => format!("{:.0}% agree with the others ({} compared)", v * 100.0, a["n"]),
            None => "today (UTC)<".to_owned(),
        };
        assert!(home.contains(&want), "{name}: wants {want:?}");
        assert!(home.contains(" today (UTC)"), "{name}: the day's count is shown");
        // The count behind it, from a fixed start (midnight would make the test depend on the hour).
        let (project, user): (i64, i64) = arbiter_core::on!(&app.db.read, e => sqlx::query_as(
            "SELECT p.id, u.id FROM projects p, users u WHERE p.slug = 'agree' AND u.username = $1",
        )
        .bind(name)
        .fetch_one(e)
        .await)
        .unwrap();
        let done = arbiter_core::storage::dashboard::done_since(&app.db.read, project, user, 0).await.unwrap();
        assert_eq!(done, 18, "{name} judged 18");
    }
    // The admin's project page shows the same figures.
    let page = common::login(&app, "boss", common::PASSWORD)
        .await
        .get(format!("{}/admin/projects/agree", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ordinal = format!("{:.3}", got["krippendorff_alpha"]["ordinal"].as_f64().unwrap());
    assert!(page.contains("Krippendorff") && page.contains(&ordinal), "the page shows α = {ordinal}");
}
