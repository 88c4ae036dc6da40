//! The admin's dashboard and the page of a pair (issue 10).
use crate::common;

use arbiter_core::services::Role;
use common::{bearer, spawn_app};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The row of the annotators' table that names `who`.
fn row<'a>(html: &'a str, who: &str) -> &'a str {
    html.split(r#"data-testid="annotator-row""#)
        .skip(1)
        .map(|r| &r[..r.find("</tr>").unwrap()])
        .find(|r| r.contains(&format!(">{who}<")))
        .unwrap_or_else(|| panic!("no row for {who}"))
}

#[tokio::test]
async fn the_dashboard_flags_a_left_leaning_annotator_and_leads_from_a_flag_to_its_pair() {
    let app = spawn_app().await;
    app.project("dash", 2, 30).await;
    for (name, lean) in [("lefty", true), ("fair", false)] {
        let token = app.user(name, Role::Annotator).await;
        app.member("dash", name).await;
        for j in 0.. {
            let r = bearer().post(app.api("/projects/dash/tasks/next")).bearer_auth(&token).send().await.unwrap();
            if r.status() == StatusCode::NO_CONTENT {
                break;
            }
            let task: Value = r.json().await.unwrap();
            let choice = if lean { -2 } else if j % 2 == 0 { -1 } else { 1 };
            let mut body = json!({"choice": choice, "time_ms": 1000 + j * 100});
            if lean && j == 0 {
                body["flags"] = json!(["unsafe"]);
                body["rationale"] = json!("too risky to show");
            }
            let r = bearer()
                .post(app.api(&format!("/tasks/{}/annotation", task["task_id"].as_str().unwrap())))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("{name}-{j}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        }
    }
    app.user("chief", Role::Admin).await;
    let c = common::login(&app, "chief", common::PASSWORD).await;
    let get = |path: String| {
        let c = c.clone();
        async move { c.get(path).send().await.unwrap().text().await.unwrap() }
    };
    let html = get(format!("{}/admin/projects/dash/dashboard", app.url)).await;
    // 30 of 30 pairs have both votes; 60 judgements of 60, at some pace.
    assert!(html.contains("30 of 30 tasks complete") && html.contains("60 of 60 judgements"), "overview");
    assert!(html.contains(r#"data-testid="chart-per-hour""#), "judgements per hour drawn");
    // Always the left side, 30 times: p = 2·2⁻³⁰; the fair one is 50/50.
    let lefty = row(&html, "lefty");
    assert!(lefty.contains("left-side bias") && lefty.contains("100% (p = &lt;0.001)"), "{lefty}");
    let fair = row(&html, "fair");
    assert!(!fair.contains("left-side bias") && fair.contains("50% (p = 1.000)"), "{fair}");
    // Median time 1.0 s + 14.5 · 0.1 s; strengths 0 / 0 / 30 / 0 as a histogram.
    assert!(lefty.contains("2.5 s") && lefty.contains("0 / 0 / 30 / 0") && lefty.contains("<svg"), "{lefty}");
    // Flags per model link to the flagged pairs of the model, and on to the pair.
    assert!(html.contains(r#"data-testid="model-flags""#));
    let list = get(format!("{}/admin/projects/dash/dashboard?model=alpha", app.url)).await;
    assert!(list.contains("Pairs of alpha with flags"));
    let at = list.find("/admin/projects/dash/pairs/").expect("a flagged pair is listed");
    let link = &list[at..at + list[at..].find('"').unwrap()];
    assert_eq!(list.matches(r#"data-testid="pair-link""#).count(), 1, "one flagged pair");
    let pair = get(format!("{}{link}", app.url)).await;
    assert!(pair.contains("too risky to show") && pair.contains("unsafe"), "the vote with its flag and rationale");
    assert_eq!(pair.matches(r#"data-testid="vote""#).count(), 2, "both votes of the pair");
    assert!(pair.contains("alpha") && pair.contains("beta"), "the models are named to the admin");
    // Another project's pair, or a made-up one, is not found.
    let r = c.get(format!("{}/admin/projects/dash/pairs/nope", app.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
