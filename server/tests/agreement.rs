//! Agreement figures against the `krippendorff` Python package, on random
//! judgements made through the API.
mod common;

use arbiter_core::services::Role;
use common::{bearer, spawn_app};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Command;

fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

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
    let got: Value =
        bearer().get(app.api("/projects/agree/agreement")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert!(got["units"].as_u64().unwrap() >= 20, "{got}");
    assert_eq!(got["annotators"].as_array().unwrap().len(), 5);
    assert!(got["fleiss_kappa"].is_number());
    let ratings: Vec<(i64, i64, i64)> =
        sqlx::query_as("SELECT pair_id, annotator_id, choice FROM annotations").fetch_all(&app.db.read).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ratings.json"), serde_json::to_string(&ratings).unwrap()).unwrap();
    std::fs::write(dir.path().join("agreement.json"), got.to_string()).unwrap();
    let venv = Command::new("bash").arg(workspace().join("scripts/python-env.sh")).output().unwrap();
    assert!(venv.status.success(), "{}", String::from_utf8_lossy(&venv.stderr));
    let python = format!("{}/bin/python", String::from_utf8_lossy(&venv.stdout).trim());
    let out = Command::new(python)
        .arg(workspace().join("scripts/check_agreement.py"))
        .arg(dir.path().join("ratings.json"))
        .arg(dir.path().join("agreement.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
