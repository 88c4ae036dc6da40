//! The authorization matrix: every page, server function, REST route and
//! form post, for six kinds of caller, with the outcome each must get. A
//! route missing from the matrix fails the test.
//!
//! Every request is a valid one, so a caller who may do it must succeed:
//! `ok` = 2xx, or a 303 to a page without an error; `bad` = the request was
//! refused as input (400/409/422, or a 303 carrying `?error=`), which no row
//! expects; `login` = sent to the login page; `401`; `404` (also what a
//! caller gets for what is not theirs, so nothing leaks). The "revoked"
//! caller sends a revoked API token; "gone" is a deactivated user with a
//! session cookie from before the deactivation.
use crate::common;

use arbiter_core::services::{accounts, Role};
use common::{bearer, browser, spawn_app, PASSWORD};
use reqwest::{Client, Method, StatusCode};
use std::collections::BTreeSet;

const WHO: [&str; 6] = ["anon", "member", "outsider", "admin", "revoked", "gone"];

struct Row {
    method: &'static str,
    /// The route as registered (with `{param}`), for the coverage check.
    route: &'static str,
    /// Expected outcome per caller, in WHO order.
    expect: [&'static str; 6],
}

const PAGE_LOGIN: [&str; 6] = ["login", "ok", "ok", "ok", "401", "login"];
const PAGE_ADMIN: [&str; 6] = ["login", "404", "404", "ok", "401", "login"];
const PUBLIC: [&str; 6] = ["ok", "ok", "ok", "ok", "401", "ok"];
const USER: [&str; 6] = ["401", "ok", "ok", "ok", "401", "401"];
const MEMBER: [&str; 6] = ["401", "ok", "404", "ok", "401", "401"];
const OWNER: [&str; 6] = ["401", "ok", "404", "404", "401", "401"];
const ADMIN: [&str; 6] = ["401", "404", "404", "ok", "401", "401"];
const FORM_USER: [&str; 6] = ["login", "ok", "ok", "ok", "401", "login"];
const FORM_OWNER: [&str; 6] = ["login", "ok", "404", "404", "401", "login"];
const FORM_ADMIN: [&str; 6] = ["login", "404", "404", "ok", "401", "login"];

fn rows() -> Vec<Row> {
    let r = |method, route, expect| Row { method, route, expect };
    vec![
        // Pages
        r("GET", "/", PAGE_LOGIN),
        r("GET", "/login", PUBLIC),
        r("GET", "/invite/{token}", PUBLIC),
        r("GET", "/annotate/{slug}", ["login", "ok", "404", "ok", "401", "login"]),
        r("GET", "/annotate/{slug}/history", ["login", "ok", "404", "ok", "401", "login"]),
        r("GET", "/account", PAGE_LOGIN),
        r("GET", "/admin", PAGE_ADMIN),
        r("GET", "/admin/projects/{slug}", PAGE_ADMIN),
        r("GET", "/admin/users", PAGE_ADMIN),
        r("GET", "/admin/audit", PAGE_ADMIN),
        r("GET", "/admin/projects/{slug}/leaderboard", PAGE_ADMIN),
        r("GET", "/admin/leaderboard", PAGE_ADMIN),
        r("GET", "/admin/projects/{slug}/dashboard", PAGE_ADMIN),
        r("GET", "/admin/projects/{slug}/adjudicate", PAGE_ADMIN),
        r("GET", "/admin/projects/{slug}/pairs/{pair}", PAGE_ADMIN),
        // Server functions (named without their hash suffix)
        r("POST", "sfn:whoami", PUBLIC),
        r("POST", "sfn:invite_info", PUBLIC),
        r("POST", "sfn:my_projects", USER),
        r("POST", "sfn:load_account", USER),
        r("POST", "sfn:load_annotate", MEMBER),
        r("POST", "sfn:prefetch_task", MEMBER),
        r("POST", "sfn:skip_and_next", OWNER),
        r("POST", "sfn:submit_and_next", OWNER),
        r("POST", "sfn:undo_last", MEMBER),
        r("POST", "sfn:edit_and_next", OWNER),
        r("POST", "sfn:load_history", MEMBER),
        r("POST", "sfn:admin_projects", ADMIN),
        r("POST", "sfn:admin_project", ADMIN),
        r("POST", "sfn:admin_users", ADMIN),
        r("POST", "sfn:audit_log", ADMIN),
        r("POST", "sfn:load_leaderboard", ADMIN),
        r("POST", "sfn:load_dashboard", ADMIN),
        r("POST", "sfn:load_pair", ADMIN),
        r("POST", "sfn:load_split", ADMIN),
        // REST API
        r("GET", "/api/v1/audit", ADMIN),
        r("GET", "/api/v1/projects", USER),
        r("POST", "/api/v1/projects", ADMIN),
        r("GET", "/api/v1/projects/{slug}/progress", MEMBER),
        r("GET", "/api/v1/projects/{slug}/agreement", ADMIN),
        r("GET", "/api/v1/projects/{slug}/leaderboard", ADMIN),
        r("GET", "/api/v1/leaderboard", ADMIN),
        r("PUT", "/api/v1/projects/{slug}/pairs/{pair}/gold", ADMIN),
        r("PUT", "/api/v1/projects/{slug}/pairs/{pair}/adjudication", ADMIN),
        r("POST", "/api/v1/projects/{slug}/tasks/next", MEMBER),
        r("POST", "/api/v1/projects/{slug}/tasks/prefetch", MEMBER),
        r("GET", "/api/v1/projects/{slug}/export", ADMIN),
        r("GET", "/api/v1/projects/{slug}/export/cards", ADMIN),
        r("POST", "/api/v1/projects/{slug}/import", ADMIN),
        r("POST", "/api/v1/tasks/{task_id}/skip", OWNER),
        r("POST", "/api/v1/tasks/{task_id}/annotation", OWNER),
        r("GET", "/api/v1/projects/{slug}/history", MEMBER),
        // The member's annotation of the task (stored by the rows above).
        r("PUT", "/api/v1/annotations/{annotation_id}", OWNER),
        // Form posts
        r("POST", "/annotate/{slug}/submit", FORM_OWNER),
        r("POST", "/account/tokens", FORM_USER),
        r("POST", "/account/display", FORM_USER),
        r("POST", "/account/tokens/{uuid}/revoke", FORM_USER),
        r("POST", "/admin/projects", FORM_ADMIN),
        r("POST", "/admin/projects/{slug}/settings", FORM_ADMIN),
        r("POST", "/admin/projects/{slug}/members", FORM_ADMIN),
        r("POST", "/admin/projects/{slug}/members/remove", FORM_ADMIN),
        r("POST", "/admin/projects/{slug}/pairs/{pair}/gold", FORM_ADMIN),
        r("POST", "/admin/projects/{slug}/pairs/{pair}/adjudicate", FORM_ADMIN),
        r("POST", "/admin/projects/{slug}/import", FORM_ADMIN),
        r("POST", "/admin/users", FORM_ADMIN),
        r("POST", "/admin/invites", FORM_ADMIN),
        r("POST", "/admin/users/{username}/role", FORM_ADMIN),
        r("POST", "/admin/users/{username}/active", FORM_ADMIN),
        r("POST", "/admin/users/{username}/reset", FORM_ADMIN),
        // Last: these end the caller's sessions …
        r("POST", "/account/logout-everywhere", FORM_USER),
        r("POST", "/logout", ["ok", "ok", "ok", "ok", "401", "ok"]),
        // … and these start new ones (every caller is logged out by now);
        // "gone" is deactivated, so its own password no longer works.
        r("POST", "/login", ["ok", "ok", "ok", "ok", "401", "bad"]),
        r("POST", "/invite/{token}", PUBLIC),
    ]
}

fn outcome(status: StatusCode, location: &str) -> &'static str {
    match status.as_u16() {
        303 if location == "/login" || location.starts_with("/login?next=") => "login",
        303 if location.contains("error=") => "bad",
        200..=299 | 303 => "ok",
        400 | 409 | 422 => "bad",
        401 => "401",
        403 => "403",
        404 => "404",
        _ => "other",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_caller_as_the_matrix_says() {
    let app = spawn_app().await;
    app.project("p", 2, 30).await;
    app.user("root", Role::Admin).await;
    app.user("in", Role::Annotator).await;
    app.user("out", Role::Annotator).await;
    app.user("gone", Role::Annotator).await;
    app.user("spare", Role::Annotator).await;
    app.member("p", "in").await;
    app.member("p", "gone").await;
    let login = |name: &'static str| {
        let url = app.url.clone();
        async move {
            let c = browser();
            c.post(format!("{url}/login")).form(&[("username", name), ("password", PASSWORD)]).send().await.unwrap();
            c
        }
    };
    let (member, outsider, admin, gone) =
        (login("in").await, login("out").await, login("root").await, login("gone").await);
    let user = |name: &'static str| {
        let db = app.db.clone();
        async move { arbiter_core::storage::users::by_username(&db.read, name).await.unwrap().unwrap().0 }
    };
    let root = user("root").await;
    accounts::set_active(&app.db, &root, "gone", false).await.unwrap();
    let revoked = arbiter_core::services::auth::create_token(&app.db, "root", "to revoke").await.unwrap();
    let token_uuid = |name: &'static str| {
        let db = app.db.clone();
        async move {
            let u: String =
                arbiter_core::on!(&db.read, e => sqlx::query_scalar("SELECT uuid FROM api_tokens WHERE name = $1")
                .bind(name)
                .fetch_one(e)
                .await)
                .unwrap();
            u
        }
    };
    accounts::revoke_token(&app.db, &root, &token_uuid("to revoke").await).await.unwrap();
    // A token of each caller's own, for the revoke form.
    let mut own_token = Vec::new();
    for (who, name) in WHO.iter().zip(["", "in", "out", "root", "", "gone"]) {
        if name.is_empty() {
            own_token.push("00000000-0000-4000-8000-000000000000".to_string());
            continue;
        }
        let label: &'static str = Box::leak(format!("own-{who}").into_boxed_str());
        arbiter_core::services::auth::create_token(&app.db, name, label).await.unwrap();
        own_token.push(token_uuid(label).await);
    }
    // An invite link of each caller's own, for the accept form.
    let mut invites = Vec::new();
    for _ in WHO {
        invites.push(accounts::invite(&app.db, Some(&root), Role::Annotator, vec![], 1).await.unwrap());
    }

    // Server functions by name: their registered paths carry a hash.
    let sfn: Vec<(String, String)> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| (path.to_string(), method.to_string()))
        .collect();
    let sfn_path = |name: &str| -> String {
        sfn.iter()
            .map(|(p, _)| p.clone())
            .find(|p| p.trim_start_matches("/sfn/").trim_end_matches(|c: char| c.is_ascii_digit()) == name)
            .unwrap_or_else(|| panic!("no server function {name} in {sfn:?}"))
    };

    let member_token = arbiter_core::services::auth::create_token(&app.db, "in", "task").await.unwrap();
    let callers: [Option<&Client>; 6] = [None, Some(&member), Some(&outsider), Some(&admin), None, Some(&gone)];
    let mut failures = Vec::new();
    let mut table = String::new();
    for (n, row) in rows().into_iter().enumerate() {
        // A task of the member's own that nobody has answered yet, for each row.
        let task: serde_json::Value = bearer()
            .post(app.api("/projects/p/tasks/next"))
            .bearer_auth(&member_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let task_id = task["task_id"].as_str().expect("the member has a task for every row").to_owned();
        let pair_uuid: String =
            arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT uuid FROM pairs ORDER BY id LIMIT 1").fetch_one(e).await).unwrap();
        let mut got = Vec::new();
        for (i, who) in WHO.iter().enumerate() {
            let (path, body, json): (String, Vec<(&str, String)>, Option<serde_json::Value>) = match row.route {
                r if r.starts_with("sfn:") => {
                    let name = &r[4..];
                    let path = sfn_path(name);
                    match name {
                        "submit_and_next" => (
                            path,
                            vec![],
                            Some(
                                serde_json::json!({"slug": "p", "task_id": task_id, "client_key": format!("authz-{n}-{i}"), "input": {"choice": 1}}),
                            ),
                        ),
                        "skip_and_next" => {
                            (path, vec![], Some(serde_json::json!({"slug": "p", "task_id": task_id, "reason": null})))
                        }
                        "load_annotate" | "prefetch_task" | "load_history" => (path, vec![("slug", "p".into())], None),
                        "undo_last" => (path, vec![], Some(serde_json::json!({"slug": "p", "before": null}))),
                        "edit_and_next" => {
                            // The member's latest judgement (the rows before stored some).
                            let task: String = arbiter_core::on!(&app.db.read, e => sqlx::query_scalar(
                                "SELECT s.uuid FROM annotations n JOIN assignments s ON s.id = n.assignment_id
                                 JOIN users u ON u.id = n.annotator_id WHERE u.username = 'in' ORDER BY n.id DESC LIMIT 1",
                            )
                            .fetch_one(e)
                            .await)
                            .unwrap();
                            (
                                path,
                                vec![],
                                Some(
                                    serde_json::json!({"slug": "p", "task_id": task, "client_key": format!("authz-edit-{n}-{i}"), "input": {"choice": 2}}),
                                ),
                            )
                        }
                        "admin_project" | "load_leaderboard" | "load_dashboard" | "load_split" => {
                            (path, vec![("slug", "p".into())], None)
                        }
                        "load_pair" => (path, vec![("slug", "p".into()), ("pair", pair_uuid.clone())], None),
                        "invite_info" => (path, vec![("token", "nope".into())], None),
                        _ => (path, vec![], None),
                    }
                }
                r => {
                    let annotation: String = if r.contains("{annotation_id}") {
                        arbiter_core::on!(&app.db.read, e => sqlx::query_scalar(
                            "SELECT n.uuid FROM annotations n JOIN users u ON u.id = n.annotator_id
                             WHERE u.username = 'in' ORDER BY n.id DESC LIMIT 1",
                        )
                        .fetch_one(e)
                        .await)
                        .unwrap()
                    } else {
                        String::new()
                    };
                    let path = r
                        .replace("{annotation_id}", &annotation)
                        .replace("{slug}", "p")
                        .replace("{task_id}", &task_id)
                        .replace("{token}", &invites[i])
                        .replace("{uuid}", &own_token[i])
                        .replace("{username}", "spare")
                        .replace("{pair}", &pair_uuid);
                    let body = match r {
                        "/login" => {
                            let name = ["in", "in", "out", "root", "in", "gone"][i];
                            vec![("username", name.to_string()), ("password", PASSWORD.to_string())]
                        }
                        "/invite/{token}" => {
                            vec![("username", format!("invited-{i}")), ("password", "a password long enough".into())]
                        }
                        "/annotate/{slug}/submit" => vec![
                            ("task_id", task_id.clone()),
                            ("client_key", format!("authz-form-{i}")),
                            ("choice", "1".into()),
                        ],
                        "/account/tokens" => vec![("name", "authz".into())],
                        "/account/display" => vec![("size", "larger".into()), ("next", "/".into())],
                        "/admin/projects" => vec![("slug", format!("made-{i}")), ("title", "Made".into())],
                        "/admin/projects/{slug}/settings" => vec![("title", "Renamed".into())],
                        "/admin/projects/{slug}/members" | "/admin/projects/{slug}/members/remove" => {
                            vec![("username", "spare".into())]
                        }
                        "/admin/users" => vec![
                            ("username", format!("added-{i}")),
                            ("password", "a password long enough".into()),
                            ("role", "annotator".into()),
                        ],
                        "/admin/invites" => vec![("role", "annotator".into()), ("projects", "p".into())],
                        "/admin/users/{username}/role" => vec![("role", "admin".into())],
                        "/admin/users/{username}/active" => vec![("active", "true".into())],
                        "/admin/projects/{slug}/pairs/{pair}/gold" => vec![("gold", "a".into())],
                        "/admin/projects/{slug}/pairs/{pair}/adjudicate" => vec![("label", "none".into())],
                        _ => vec![],
                    };
                    let json = match r {
                        "/api/v1/projects" if row.method == "POST" => {
                            Some(serde_json::json!({"slug": format!("api-{i}"), "title": "Made"}))
                        }
                        "/api/v1/tasks/{task_id}/annotation" | "/api/v1/annotations/{annotation_id}" => {
                            Some(serde_json::json!({"choice": 1}))
                        }
                        "/api/v1/projects/{slug}/pairs/{pair}/gold" => Some(serde_json::json!({"gold": null})),
                        "/api/v1/projects/{slug}/pairs/{pair}/adjudication" => Some(serde_json::json!({"label": null})),
                        _ => None,
                    };
                    (path, body, json)
                }
            };
            // The anonymous caller and the revoked token come without cookies.
            let fresh = browser();
            let client = callers[i].unwrap_or(&fresh);
            let method = Method::from_bytes(row.method.as_bytes()).unwrap();
            let mut req = client.request(method, format!("{}{}", app.url, path)).header("Accept", "application/json");
            if *who == "revoked" {
                req = req.bearer_auth(&revoked);
            }
            if row.route == "/api/v1/tasks/{task_id}/annotation" || row.route == "/api/v1/annotations/{annotation_id}" {
                req = req.header("Idempotency-Key", format!("authz-api-{n}-{i}"));
            }
            req = match (&json, row.route) {
                (Some(v), _) => req.json(v),
                (None, "/api/v1/projects/{slug}/import") => req.body(common::jsonl_line(99)),
                (None, "/admin/projects/{slug}/import") => {
                    let part = reqwest::multipart::Part::text(common::jsonl_line(98)).file_name("a.jsonl");
                    req.multipart(reqwest::multipart::Form::new().part("file", part))
                }
                (None, _) if row.method == "POST" => req.form(&body),
                _ => req,
            };
            let r = req.send().await.unwrap();
            let loc = r.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            let o = outcome(r.status(), &loc);
            if o != row.expect[i] {
                failures.push(format!(
                    "{} {} as {who}: expected {}, got {} ({} {loc})",
                    row.method,
                    row.route,
                    row.expect[i],
                    o,
                    r.status()
                ));
            }
            got.push(o);
        }
        table.push_str(&format!("{:<5} {:<42} {}\n", row.method, row.route, got.join(" ")));
    }
    assert!(failures.is_empty(), "{}\n\nwhole table ({}):\n{table}", failures.join("\n"), WHO.join(" "));

    // Coverage: every route the server has is in the matrix.
    let covered: BTreeSet<(String, String)> =
        rows().iter().map(|r| (r.method.to_string(), r.route.to_string())).collect();
    let mut missing = Vec::new();
    for (m, p) in arbiter_server::startup::http_routes() {
        if !covered.contains(&(m.clone(), p.clone())) {
            missing.push(format!("{m} {p}"));
        }
    }
    // The list the server uses (generating another would suspend resources process-wide).
    for listing in arbiter_server::startup::route_list() {
        if !covered.contains(&("GET".to_string(), listing.path().to_string())) {
            missing.push(format!("GET {} (page)", listing.path()));
        }
    }
    for (path, _) in &sfn {
        let name = path.trim_start_matches("/sfn/").trim_end_matches(|c: char| c.is_ascii_digit());
        if !covered.contains(&("POST".to_string(), format!("sfn:{name}"))) {
            missing.push(format!("server function {path}"));
        }
    }
    assert!(missing.is_empty(), "routes without a row in the authorization matrix:\n{}", missing.join("\n"));
}
