//! The holes a review and an attack on the running server found, each
//! closed and kept closed (issue: hardening before growth).
use crate::common;

use arbiter_core::services::{accounts, Role};
use common::{bearer, browser, spawn_app, spawn_app_with, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

async fn login(app: &TestApp, name: &str) -> reqwest::Client {
    common::login(app, name, PASSWORD).await
}

async fn user(app: &TestApp, name: &str) -> arbiter_core::services::User {
    arbiter_core::storage::users::by_username(&app.db.read, name).await.unwrap().unwrap().0
}

async fn next_task(app: &TestApp, token: &str, slug: &str) -> String {
    let r = bearer().post(app.api(&format!("/projects/{slug}/tasks/next"))).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["task_id"].as_str().unwrap().to_owned()
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(e)
        .await)
    .unwrap()
}

#[tokio::test]
async fn login_never_redirects_off_the_site() {
    let app = spawn_app().await;
    app.user("ann", Role::Annotator).await;
    for (next, expected) in [
        ("/\t/evil.example", "/"),
        ("/\\evil.example", "/"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/x/..//evil.example", "/"),
        ("/account?reveal=1", "/account?reveal=1"),
    ] {
        let r = browser()
            .post(format!("{}/login", app.url))
            .form(&[("username", "ann"), ("password", PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&r), expected, "next={next:?}");
    }
}

#[tokio::test]
async fn a_removed_member_can_neither_submit_nor_skip_and_their_leases_go_back() {
    let app = spawn_app().await;
    app.project("p", 1, 3).await;
    let token = app.user("ann", Role::Annotator).await;
    app.member("p", "ann").await;
    let task = next_task(&app, &token, "p").await;
    let ahead = bearer().post(app.api("/projects/p/tasks/prefetch")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ahead.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT CAST(COALESCE(SUM(load), 0) AS BIGINT) FROM pairs").await, 2);
    let admin = app.user("boss", Role::Admin).await;
    let r = bearer()
        .post(format!("{}/admin/projects/p/members/remove", app.url))
        .bearer_auth(&admin)
        .form(&[("username", "ann")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/admin/projects/p?ok=member_removed");
    assert_eq!(app.count("SELECT COUNT(*) FROM assignments WHERE state = 'leased'").await, 0, "leases released");
    assert_eq!(
        app.count("SELECT CAST(COALESCE(SUM(load), 0) AS BIGINT) FROM pairs").await,
        0,
        "slots back in the pool"
    );
    let submit = bearer()
        .post(app.api(&format!("/tasks/{task}/annotation")))
        .bearer_auth(&token)
        .header("Idempotency-Key", "k1")
        .json(&json!({"choice": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(submit.status(), StatusCode::NOT_FOUND);
    let skip = bearer().post(app.api(&format!("/tasks/{task}/skip"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(skip.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 0);
    // A deactivated annotator's task is refused the same way, on the form path too.
    app.member("p", "ann").await;
    let task = next_task(&app, &token, "p").await;
    let ann = login(&app, "ann").await;
    let root = user(&app, "boss").await;
    accounts::set_active(&app.db, &root, "ann", false).await.unwrap();
    let form = ann
        .post(format!("{}/annotate/p/submit", app.url))
        .form(&[("task_id", task.as_str()), ("client_key", "k2"), ("choice", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&form), "/login", "the session ended with the deactivation");
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM assignments WHERE state = 'leased'").await, 0);
}

#[tokio::test]
async fn a_task_must_belong_to_the_project_the_request_names() {
    let app = spawn_app().await;
    app.project("p", 1, 2).await;
    app.project("q", 1, 2).await;
    let token = app.user("ann", Role::Annotator).await;
    app.member("p", "ann").await;
    app.member("q", "ann").await;
    let task_in_p = next_task(&app, &token, "p").await;
    let ann = login(&app, "ann").await;
    let r = ann
        .post(format!("{}/annotate/q/submit", app.url))
        .form(&[("task_id", task_in_p.as_str()), ("client_key", "k1"), ("choice", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "a task of another project");
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 0);
    let r = ann
        .post(format!("{}/annotate/p/submit", app.url))
        .form(&[("task_id", task_in_p.as_str()), ("client_key", "k1"), ("choice", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/annotate/p?ok=saved");
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_guesses_get_five_password_checks() {
    let app = spawn_app().await;
    app.user("victim", Role::Annotator).await;
    let url = format!("{}/login", app.url);
    let tries = (0..40).map(|i| {
        let url = url.clone();
        async move {
            browser()
                .post(url)
                .form(&[("username", "victim"), ("password", format!("wrong password {i}").as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures::future::join_all(tries).await;
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(throttled, 35, "{statuses:?}");
    assert_eq!(audit_count(&app, "login.failure").await, 5, "only five passwords were checked");
    assert_eq!(audit_count(&app, "login.throttled").await, 35);
    // The right password waits too.
    let r = browser().post(&url).form(&[("username", "victim"), ("password", PASSWORD)]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
}

async fn fail_logins(app: &TestApp, forwarded_for: &str, n: usize) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for i in 0..n {
        let r = browser()
            .post(format!("{}/login", app.url))
            .header("X-Forwarded-For", forwarded_for)
            .form(&[("username", format!("nobody{i}-{forwarded_for}").as_str()), ("password", "wrong password!")])
            .send()
            .await
            .unwrap();
        out.push(r.status());
    }
    out
}

#[tokio::test]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    // Behind a trusted proxy (the tests connect from 127.0.0.1): each client address has its own budget.
    let app = spawn_app_with(|c| {
        c.trusted_proxies = arbiter_server::security::TrustedProxies::parse(&["127.0.0.0/8".into()]).unwrap()
    })
    .await;
    assert!(fail_logins(&app, "203.0.113.1", 20).await.iter().all(|s| *s == StatusCode::SEE_OTHER));
    assert_eq!(fail_logins(&app, "203.0.113.1", 1).await, vec![StatusCode::TOO_MANY_REQUESTS]);
    assert_eq!(fail_logins(&app, "203.0.113.2", 1).await, vec![StatusCode::SEE_OTHER], "another client");
    let entry: String =
        arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'login.throttled'").fetch_one(e).await).unwrap();
    assert!(entry.contains("203.0.113.1"), "the audit log names the client: {entry}");
    // Without a trusted proxy the header is the client's own word and ignored.
    let app = spawn_app().await;
    assert!(fail_logins(&app, "203.0.113.1", 20).await.iter().all(|s| *s == StatusCode::SEE_OTHER));
    assert_eq!(fail_logins(&app, "203.0.113.2", 1).await, vec![StatusCode::TOO_MANY_REQUESTS], "same peer");
}

#[tokio::test]
async fn deactivation_ends_api_tokens_for_good() {
    let app = spawn_app().await;
    app.user("boss", Role::Admin).await;
    let token = app.user("ann", Role::Annotator).await;
    let root = user(&app, "boss").await;
    accounts::set_active(&app.db, &root, "ann", false).await.unwrap();
    accounts::set_active(&app.db, &root, "ann", true).await.unwrap();
    let r = bearer().get(app.api("/projects")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "reactivation does not bring a token back");
    assert!(login(&app, "ann").await.get(app.api("/projects")).send().await.unwrap().status().is_success());
}

#[tokio::test]
async fn a_reset_can_revoke_tokens_and_a_newer_link_voids_the_older() {
    let app = spawn_app().await;
    app.user("boss", Role::Admin).await;
    let token = app.user("ann", Role::Annotator).await;
    let admin = login(&app, "boss").await;
    let first = accounts::reset_link(&app.db, &user(&app, "boss").await, "ann", false).await.unwrap();
    assert!(accounts::invite_info(&app.db, &first).await.unwrap().is_some());
    assert_eq!(bearer().get(app.api("/projects")).bearer_auth(&token).send().await.unwrap().status(), StatusCode::OK);
    // The page's reset form, with "revoke their API tokens" ticked.
    let r =
        admin.post(format!("{}/admin/users/ann/reset", app.url)).form(&[("revoke_tokens", "on")]).send().await.unwrap();
    assert!(location(&r).starts_with("/admin/users?reveal="), "{}", location(&r));
    assert!(accounts::invite_info(&app.db, &first).await.unwrap().is_none(), "the older link is void");
    let r = bearer().get(app.api("/projects")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let page = admin.get(format!("{}/admin/users", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("revoke_tokens"), "the reset form offers to revoke tokens");
}

#[tokio::test]
async fn links_made_by_an_admin_die_when_the_admin_is_demoted_or_deactivated() {
    let app = spawn_app().await;
    app.user("boss", Role::Admin).await;
    app.user("second", Role::Admin).await;
    app.user("third", Role::Admin).await;
    let second = user(&app, "second").await;
    let third = user(&app, "third").await;
    let root = user(&app, "boss").await;
    let invite = accounts::invite(&app.db, Some(&second), Role::Admin, vec![], 24).await.unwrap();
    let reset = accounts::reset_link(&app.db, &third, "boss", false).await.unwrap();
    accounts::set_role(&app.db, &root, "second", Role::Annotator).await.unwrap();
    assert!(accounts::invite_info(&app.db, &invite).await.unwrap().is_none(), "demoted: invite void");
    accounts::set_role(&app.db, &root, "second", Role::Admin).await.unwrap();
    assert!(accounts::invite_info(&app.db, &invite).await.unwrap().is_none(), "for good");
    accounts::set_active(&app.db, &root, "third", false).await.unwrap();
    assert!(accounts::invite_info(&app.db, &reset).await.unwrap().is_none(), "deactivated: reset link void");
}

#[tokio::test]
async fn only_the_newest_first_admin_link_works_and_none_once_an_admin_exists() {
    let app = spawn_app().await;
    let first = accounts::first_admin_invite(&app.db).await.unwrap();
    let second = accounts::first_admin_invite(&app.db).await.unwrap();
    assert!(accounts::invite_info(&app.db, &first).await.unwrap().is_none());
    assert!(accounts::invite_info(&app.db, &second).await.unwrap().is_some());
    app.user("boss", Role::Admin).await;
    assert!(accounts::invite_info(&app.db, &second).await.unwrap().is_none(), "an admin exists");
    let r = browser()
        .post(format!("{}/invite/{second}", app.url))
        .form(&[("username", "intruder"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE username = 'intruder'").await, 0);
}

#[tokio::test]
async fn every_input_has_a_limit_and_a_4xx_naming_the_field() {
    let app = spawn_app().await;
    app.project("p", 1, 2).await;
    let admin_token = app.user("boss", Role::Admin).await;
    let token = app.user("ann", Role::Annotator).await;
    app.member("p", "ann").await;
    let task = next_task(&app, &token, "p").await;
    // time_ms has an upper bound.
    let r = bearer()
        .post(app.api(&format!("/tasks/{task}/annotation")))
        .bearer_auth(&token)
        .header("Idempotency-Key", "t1")
        .json(&json!({"choice": 1, "time_ms": 1_000_000_000_000i64}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().starts_with("time_ms:"));
    // A 40 MB JSON body is a JSON 413, not a 400.
    let big = format!("{{\"choice\": 1, \"rationale\": \"{}\"}}", "x".repeat(40 * 1024 * 1024));
    let r = bearer()
        .post(app.api(&format!("/tasks/{task}/annotation")))
        .bearer_auth(&token)
        .header("Idempotency-Key", "t2")
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    // A bad query string is the API's JSON 400, naming the parameter.
    let r = bearer()
        .get(app.api("/projects/p/export?format=trl&colour=red"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("colour"));
    // Server functions take at most 256 KiB, like the API.
    let ann = login(&app, "ann").await;
    let sfn = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_string())
        .find(|p| p.starts_with("/sfn/submit_and_next"))
        .unwrap();
    let body = json!({"slug": "p", "task_id": task, "client_key": "t3", "input": {"choice": 1, "rationale": "x".repeat(300 * 1024)}});
    let r = ann.post(format!("{}{sfn}", app.url)).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Usernames are a plain charset: "." and ".." would break the admin's links.
    let admin = login(&app, "boss").await;
    for bad in [".", "..", "a/b", "x y"] {
        let r = admin
            .post(format!("{}/admin/users", app.url))
            .form(&[("username", bad), ("password", PASSWORD), ("role", "annotator")])
            .send()
            .await
            .unwrap();
        assert!(location(&r).contains("error=username"), "{bad:?}: {}", location(&r));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM annotations").await, 0);
}

#[tokio::test]
async fn annotators_see_only_their_own_progress_row() {
    let app = spawn_app().await;
    app.project("p", 2, 4).await;
    let admin = app.user("boss", Role::Admin).await;
    let a = app.user("ann", Role::Annotator).await;
    let b = app.user("bob", Role::Annotator).await;
    app.member("p", "ann").await;
    app.member("p", "bob").await;
    for (t, key) in [(&a, "a1"), (&b, "b1")] {
        let task = next_task(&app, t, "p").await;
        bearer()
            .post(app.api(&format!("/tasks/{task}/annotation")))
            .bearer_auth(t)
            .header("Idempotency-Key", key)
            .json(&json!({"choice": 2}))
            .send()
            .await
            .unwrap();
    }
    let names = |v: &Value| -> Vec<String> {
        v["annotators"].as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap().to_owned()).collect()
    };
    let mine: Value = common::get_json(&app, "/projects/p/progress", &a).await;
    assert_eq!(names(&mine), vec!["ann"]);
    assert_eq!(mine["annotations"], 2, "the totals stay");
    let all: Value = common::get_json(&app, "/projects/p/progress", &admin).await;
    assert_eq!(names(&all), vec!["ann", "bob"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_demoting_each_other_at_once_leave_one() {
    let app = spawn_app().await;
    app.user("a", Role::Admin).await;
    app.user("b", Role::Admin).await;
    let (ua, ub) = (user(&app, "a").await, user(&app, "b").await);
    let (x, y) = tokio::join!(
        accounts::set_role(&app.db, &ua, "b", Role::Annotator),
        accounts::set_role(&app.db, &ub, "a", Role::Annotator)
    );
    assert!(x.is_ok() != y.is_ok(), "exactly one demotion goes through: {x:?} {y:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = TRUE").await, 1);
    // Whichever demotion went through, the other admin is the last one: two
    // deactivations of them at once leave them active.
    let last: String = arbiter_core::on!(&app.db.read, e => sqlx::query_scalar(
        "SELECT username FROM users WHERE role = 'admin' AND active = TRUE"
    )
    .fetch_one(e)
    .await)
    .unwrap();
    let (x, y) = tokio::join!(
        accounts::set_active(&app.db, &ua, &last, false),
        accounts::set_active(&app.db, &ub, &last, false)
    );
    assert!(x.is_err() && y.is_err(), "the last active admin cannot be deactivated: {x:?} {y:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = TRUE").await, 1);
}

#[tokio::test]
async fn imported_images_and_relative_links_never_reach_the_page() {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    let token = app.user("ann", Role::Annotator).await;
    app.project("p", 1, 0).await;
    app.member("p", "ann").await;
    let line = json!({"prompt": "![p](/annotate/other)", "completions": [
        {"model": "a", "text": "![x](/api/v1/projects/p/export) [me](/logout) <img src=\"/admin/users\">"},
        {"model": "b", "text": "![chart](https://example.org/c.png)"}]});
    let r = bearer()
        .post(app.api("/projects/p/import"))
        .bearer_auth(&admin)
        .body(format!("{line}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let task: Value = bearer()
        .post(app.api("/projects/p/tasks/next"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let html = format!("{}{}{}", task["left"]["html"], task["right"]["html"], task["thread"][0]["html"]);
    assert!(!html.contains("<img") && !html.contains("src="), "{html}");
    assert!(!html.contains("/api/v1") && !html.contains("/logout") && !html.contains("/annotate/other"), "{html}");
    assert!(html.contains("href=\\\"https://example.org/c.png\\\""), "{html}");
}

#[tokio::test]
async fn logins_audit_reads_and_accepted_invites_are_in_the_audit_log() {
    let app = spawn_app().await;
    app.user("boss", Role::Admin).await;
    let admin = login(&app, "boss").await;
    browser()
        .post(format!("{}/login", app.url))
        .form(&[("username", "boss"), ("password", "not the password")])
        .send()
        .await
        .unwrap();
    assert_eq!(audit_count(&app, "login.success").await, 1);
    assert_eq!(audit_count(&app, "login.failure").await, 1);
    let raw = admin.get(app.api("/audit")).send().await.unwrap().text().await.unwrap();
    assert!(raw.lines().any(|l| l.contains("\"login.failure\"")));
    assert_eq!(audit_count(&app, "audit.read").await, 1, "reading the log is recorded");
    admin.get(format!("{}/admin/audit", app.url)).send().await.unwrap().text().await.unwrap();
    assert_eq!(audit_count(&app, "audit.read").await, 2, "the page's read too");
    let root = user(&app, "boss").await;
    let link = accounts::invite(&app.db, Some(&root), Role::Annotator, vec![], 1).await.unwrap();
    let r = browser()
        .post(format!("{}/invite/{link}", app.url))
        .form(&[("username", "newbie"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/");
    let detail: String =
        arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'user.create_from_invite'").fetch_one(e).await).unwrap();
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["role"], "annotator");
    assert_eq!(detail["invited_by"], "boss");
}
