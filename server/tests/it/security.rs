//! Accounts and request-level security against a spawned server.
use crate::common;

use arbiter_core::services::{accounts, Role};
use common::{bearer, browser, login, spawn_app, PASSWORD};
use reqwest::StatusCode;

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn a_cross_site_form_post_is_refused() {
    let app = spawn_app().await;
    app.user("boss", Role::Admin).await;
    let c = login(&app, "boss", PASSWORD).await;
    let host = app.url.trim_start_matches("http://").to_owned();
    let form = [("slug", "csrf"), ("title", "made by evil.example")];
    let evil = c
        .post(format!("{}/admin/projects", app.url))
        .header("Origin", "http://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    let fetch_meta = c
        .post(format!("{}/admin/projects", app.url))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_meta.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM projects").await, 0);
    let same = c
        .post(format!("{}/admin/projects", app.url))
        .header("Origin", format!("http://{host}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&same), "/admin/projects/csrf?ok=project_created");
    // A cross-site JSON call riding on the cookie is refused too; a Bearer token needs no check.
    let api = c
        .post(app.api("/projects"))
        .header("Origin", "http://evil.example")
        .json(&serde_json::json!({"slug": "x", "title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    // A page's server function hears it in the encoding the page decodes as
    // the server's no (not retried as an answer that did not come).
    let sfn = c.post(format!("{}/sfn/submit_and_next", app.url)).header("Origin", "http://evil.example").send().await;
    let sfn = sfn.unwrap();
    assert_eq!(sfn.status(), StatusCode::FORBIDDEN);
    assert_eq!(sfn.text().await.unwrap(), "ServerError|cross-site request refused (CSRF protection)");
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after_and_unknown_users_look_the_same() {
    let app = spawn_app().await;
    app.user("ann", Role::Annotator).await;
    let c = browser();
    let try_login = |name: &'static str, pw: &'static str| {
        let c = c.clone();
        let url = format!("{}/login", app.url);
        async move { c.post(url).form(&[("username", name), ("password", pw)]).send().await.unwrap() }
    };
    let wrong = try_login("ann", "not the password").await;
    let unknown = try_login("nobody-here", "not the password").await;
    assert_eq!(location(&wrong), location(&unknown), "same answer for a wrong password and an unknown user");
    for _ in 0..4 {
        assert_eq!(try_login("ann", "not the password").await.status(), StatusCode::SEE_OTHER);
    }
    let blocked = try_login("ann", PASSWORD).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    let wait: u64 = blocked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait));
}

#[tokio::test]
async fn login_rotates_the_session_and_logout_everywhere_ends_them_all() {
    let app = spawn_app().await;
    app.user("ann", Role::Annotator).await;
    let first = login(&app, "ann", PASSWORD).await;
    let second = login(&app, "ann", PASSWORD).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 2);
    // Logging in again in the same browser replaces its session.
    let r = first
        .post(format!("{}/login", app.url))
        .form(&[("username", "ann"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 2, "the old session of this browser is gone");
    let r = second.post(format!("{}/account/logout-everywhere", app.url)).send().await.unwrap();
    assert!(location(&r).starts_with("/login"));
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    let page = first.get(format!("{}/account", app.url)).send().await.unwrap();
    assert!(location(&page).starts_with("/login"), "the other browser is logged out too");
}

#[tokio::test]
async fn deactivation_stops_sessions_and_tokens_at_once_but_not_for_the_last_admin() {
    let app = spawn_app().await;
    app.user("boss", Role::Admin).await;
    let token = app.user("ann", Role::Annotator).await;
    let ann = login(&app, "ann", PASSWORD).await;
    let admin = login(&app, "boss", PASSWORD).await;
    assert_eq!(bearer().get(app.api("/projects")).bearer_auth(&token).send().await.unwrap().status(), StatusCode::OK);
    let r =
        admin.post(format!("{}/admin/users/ann/active", app.url)).form(&[("active", "false")]).send().await.unwrap();
    assert!(location(&r).contains("ok="), "{}", location(&r));
    assert_eq!(ann.get(app.api("/projects")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bearer().get(app.api("/projects")).bearer_auth(&token).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let r = browser()
        .post(format!("{}/login", app.url))
        .form(&[("username", "ann"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(location(&r).starts_with("/login?error="));
    // The only admin cannot deactivate or demote themself.
    let r =
        admin.post(format!("{}/admin/users/boss/active", app.url)).form(&[("active", "false")]).send().await.unwrap();
    assert!(location(&r).contains("last+active+admin"), "{}", location(&r));
    let r =
        admin.post(format!("{}/admin/users/boss/role", app.url)).form(&[("role", "annotator")]).send().await.unwrap();
    assert!(location(&r).contains("last+active+admin"), "{}", location(&r));
    let audit = app
        .count("SELECT COUNT(*) FROM audit_log WHERE action = 'user.deactivate' AND actor = 'boss' AND target = 'ann'")
        .await;
    assert_eq!(audit, 1);
    // The raw audit export has it too.
    let raw = admin.get(app.api("/audit")).send().await.unwrap().text().await.unwrap();
    let entry = raw
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["action"] == "user.deactivate");
    assert_eq!(entry.unwrap()["target"], "ann");
}

#[tokio::test]
async fn a_token_made_on_the_page_is_shown_once_and_stored_only_hashed() {
    let app = spawn_app().await;
    app.user("ann", Role::Annotator).await;
    let c = login(&app, "ann", PASSWORD).await;
    let r = c.post(format!("{}/account/tokens", app.url)).form(&[("name", "my script")]).send().await.unwrap();
    let page_url = format!("{}{}", app.url, location(&r));
    assert!(page_url.contains("/account?reveal="));
    let page = c.get(&page_url).send().await.unwrap().text().await.unwrap();
    let at = page.find("arb_").expect("the token is shown");
    let token: String =
        page[at..].chars().take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_' || *ch == '-').collect();
    assert!(token.len() > 40);
    let again = c.get(&page_url).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains(&token), "shown once");
    let stored: Vec<String> = arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT token_hash FROM api_tokens WHERE name = 'my script'")
        .fetch_all(e)
        .await)
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&token) && stored[0].len() == 64, "only a SHA-256 is kept");
    let r = bearer().get(app.api("/projects")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Revoked on the page: it stops working.
    let uuid: String =
        arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT uuid FROM api_tokens WHERE name = 'my script'")
        .fetch_one(e)
        .await)
        .unwrap();
    c.post(format!("{}/account/tokens/{uuid}/revoke", app.url)).send().await.unwrap();
    assert_eq!(
        bearer().get(app.api("/projects")).bearer_auth(&token).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_invite_creates_an_account_once_with_its_projects() {
    let app = spawn_app().await;
    app.project("p", 1, 2).await;
    app.project("q", 1, 2).await;
    let token = accounts::invite(&app.db, None, Role::Annotator, vec!["p".into()], 1).await.unwrap();
    let page = browser().get(format!("{}/invite/{token}", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("invited as annotator to p"), "{page}");
    let c = browser();
    let short = c
        .post(format!("{}/invite/{token}", app.url))
        .form(&[("username", "newbie"), ("password", "short")])
        .send()
        .await
        .unwrap();
    assert!(location(&short).contains("at+least+12"));
    let ok = c
        .post(format!("{}/invite/{token}", app.url))
        .form(&[("username", "newbie"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&ok), "/");
    let projects: serde_json::Value = c.get(app.api("/projects")).send().await.unwrap().json().await.unwrap();
    let slugs: Vec<&str> =
        projects["projects"].as_array().unwrap().iter().map(|p| p["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, vec!["p"]);
    let reuse = browser()
        .post(format!("{}/invite/{token}", app.url))
        .form(&[("username", "other"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(reuse.status(), StatusCode::NOT_FOUND);
    assert!(reuse.text().await.unwrap().contains("this link is used, expired or unknown"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
}

#[tokio::test]
async fn pages_carry_a_nonce_csp_and_api_answers_are_locked_down() {
    let app = spawn_app().await;
    let page = browser().get(format!("{}/login", app.url)).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert!(page.headers().get("referrer-policy").is_some());
    let html = page.text().await.unwrap();
    let at = html.find("nonce=\"").expect("the loader script has a nonce") + 7;
    let nonce = &html[at..at + html[at..].find('"').unwrap()];
    assert!(csp.contains(&format!("'nonce-{nonce}'")), "{csp}");
    assert!(
        csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let api = bearer().get(app.api("/projects")).send().await.unwrap();
    assert!(api.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
}

#[tokio::test]
async fn an_oversized_body_gets_a_json_413() {
    let app = spawn_app().await;
    let token = app.user("boss", Role::Admin).await;
    app.project("p", 1, 0).await;
    let big = "x".repeat(2 * 1024 * 1024); // the test app allows 1 MiB imports
    let r = bearer().post(app.api("/projects/p/import")).bearer_auth(&token).body(big).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("too large"));
}

#[tokio::test]
async fn removing_a_member_on_the_project_page_takes_the_project_away() {
    let app = spawn_app().await;
    app.user("boss", Role::Admin).await;
    let token = app.user("ann", Role::Annotator).await;
    app.project("p", 1, 2).await;
    app.member("p", "ann").await;
    let admin = login(&app, "boss", PASSWORD).await;
    let page = admin.get(format!("{}/admin/projects/p", app.url)).send().await.unwrap().text().await.unwrap();
    let members = &page[page.find("data-testid=\"members\"").expect("a members list")..];
    assert!(members[..members.find("</ul>").unwrap()].contains("ann"), "the page lists the member");
    let r = admin
        .post(format!("{}/admin/projects/p/members/remove", app.url))
        .form(&[("username", "ann")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/admin/projects/p?ok=member_removed");
    let next = bearer().post(app.api("/projects/p/tasks/next")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(next.status(), StatusCode::NOT_FOUND);
    let audit =
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'project.remove_member' AND actor = 'boss'").await;
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn a_username_logs_in_whatever_its_case_and_cannot_be_taken_twice_by_case() {
    let app = spawn_app().await;
    app.user("Alice", Role::Annotator).await;
    // The same name in other letters' case is the same user…
    login(&app, "alice", PASSWORD).await;
    login(&app, "ALICE", PASSWORD).await;
    // …and cannot be created a second time.
    let again = arbiter_core::services::auth::create_user(&app.db, "test", "aLiCe", PASSWORD, Role::Annotator).await;
    assert!(again.is_err(), "a second user named aLiCe");
}
