//! Several instances on one PostgreSQL database: what one changes, the
//! others see at once, though they cache principals, projects and
//! memberships. (SQLite is one instance per file: these tests are skipped.)
use crate::common::*;
use arbiter_core::services::{accounts, Role};
use std::time::{Duration, Instant};

/// Polls `url` with the token until it answers `want`; how long that took.
async fn until_status(url: &str, token: &str, want: u16) -> Duration {
    let start = Instant::now();
    loop {
        let r = bearer().get(url).bearer_auth(token).send().await.unwrap();
        if r.status().as_u16() == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(5), "still {} after 5 s", r.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_removed_member_and_a_deactivated_user_lose_access_on_every_instance_within_a_second() {
    if skip_on_sqlite("one instance per database file") {
        return;
    }
    let a = spawn_app().await;
    let b = spawn_app_at(&a.db_url).await;
    a.project("shared", 1, 5).await;
    let token = a.user("ann", Role::Annotator).await;
    a.user("boss", Role::Admin).await;
    a.member("shared", "ann").await;
    let on_b = b.api("/projects/shared/progress");
    // B now holds the token's user, the project and the membership in its caches.
    for _ in 0..3 {
        assert_eq!(bearer().get(&on_b).bearer_auth(&token).send().await.unwrap().status(), 200);
    }

    accounts::remove_member(&a.db, "boss", "shared", "ann").await.unwrap();
    let took = until_status(&on_b, &token, 404).await;
    assert!(took < Duration::from_secs(1), "B let a removed member in for {took:?}");

    a.member("shared", "ann").await;
    until_status(&on_b, &token, 200).await;
    let boss = arbiter_core::storage::users::by_username(&a.db.read, "boss").await.unwrap().unwrap().0;
    accounts::set_active(&a.db, &boss, "ann", false).await.unwrap();
    let took = until_status(&on_b, &token, 401).await;
    assert!(took < Duration::from_secs(1), "B accepted a deactivated user's token for {took:?}");
}

#[tokio::test]
async fn two_instances_never_lease_one_pair_twice_or_over_its_annotations() {
    if skip_on_sqlite("one instance per database file") {
        return;
    }
    let a = spawn_app().await;
    let b = spawn_app_at(&a.db_url).await;
    // 40 pairs wanted twice each; 8 annotators, each asking both instances at
    // once: on `a` claim and judgement apart, on `b` each judgement brings the
    // next task (`?next_in=`), so both paths race each other.
    a.project("race", 2, 40).await;
    let mut tokens = Vec::new();
    for i in 0..8 {
        let name = format!("r{i}");
        tokens.push(a.user(&name, Role::Annotator).await);
        a.member("race", &name).await;
    }
    let mut tasks = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        for (app, then) in [(&a, ""), (&b, "?next_in=race")] {
            let (url, token) = (app.api("/projects/race/tasks/next"), token.clone());
            let annotate = app.api("/tasks/");
            tasks.push(tokio::spawn(async move {
                let mut judged = 0;
                let mut given: Option<serde_json::Value> = None;
                for j in 0.. {
                    let task = match given.take() {
                        Some(task) => task,
                        None => {
                            let r = bearer().post(&url).bearer_auth(&token).send().await.unwrap();
                            if r.status() == 204 {
                                return judged;
                            }
                            assert_eq!(r.status(), 200);
                            r.json().await.unwrap()
                        }
                    };
                    let r = bearer()
                        .post(format!("{annotate}{}/annotation{then}", task["task_id"].as_str().unwrap()))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", format!("race-{i}-{j}-{}", &url[..url.len().min(30)]))
                        .json(&serde_json::json!({"choice": 1}))
                        .send()
                        .await
                        .unwrap();
                    // The other instance may have taken this task's place: a
                    // conflict is a refusal, never a second row.
                    if r.status() == 201 {
                        judged += 1;
                        if !then.is_empty() {
                            let answer: serde_json::Value = r.json().await.unwrap();
                            given = answer["next"].is_object().then(|| answer["next"].clone());
                        }
                    }
                }
                judged
            }));
        }
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 80, "every pair judged exactly twice");
    assert_eq!(a.count("SELECT COUNT(*) FROM annotations").await, 80);
    assert_eq!(
        a.count("SELECT COUNT(*) FROM (SELECT pair_id FROM annotations GROUP BY pair_id HAVING COUNT(*) <> 2) x").await,
        0,
        "no pair over or under its two annotations"
    );
    assert_eq!(
        a.count(
            "SELECT COUNT(*) FROM (SELECT pair_id, annotator_id FROM annotations GROUP BY pair_id, annotator_id
                                   HAVING COUNT(*) > 1) x"
        )
        .await,
        0,
        "no annotator judged a pair twice"
    );
}

#[tokio::test]
async fn failed_logins_count_across_instances() {
    if skip_on_sqlite("one instance per database file") {
        return;
    }
    let a = spawn_app().await;
    let b = spawn_app_at(&a.db_url).await;
    a.user("ann", Role::Annotator).await;
    let login = |app: &TestApp, password: &str| {
        let (url, password) = (format!("{}/login", app.url), password.to_owned());
        async move {
            browser()
                .post(url)
                .form(&[("username", "ann"), ("password", password.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Five failures, spread over both instances: the account's limit.
    for i in 0..5 {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_ne!(login(app, "wrong password").await, 429, "attempt {i} is under the limit");
    }
    // Neither instance lets a sixth try through, not even the right password.
    assert_eq!(login(&a, PASSWORD).await, 429);
    assert_eq!(login(&b, PASSWORD).await, 429);
}
