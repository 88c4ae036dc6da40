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
        common::judge_all(&app, "dash", &token, |j, _| {
            let choice = if lean {
                -2
            } else if j % 2 == 0 {
                -1
            } else {
                1
            };
            let mut body = json!({"choice": choice, "time_ms": 1000 + j * 100});
            if lean && j == 0 {
                body["flags"] = json!(["unsafe"]);
                body["rationale"] = json!("too risky to show");
            }
            body
        })
        .await;
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

/// A project of `n` prompts (alpha, beta), the first `gold` of them gold
/// with alpha (A) the known answer, serving gold pairs at `percent`.
async fn gold_project(app: &common::TestApp, slug: &str, n: usize, gold: usize, percent: i64) {
    use arbiter_core::services::{import, projects};
    let mut s = arbiter_core::domain::SettingsInput::titled("Gold");
    s.annotations_per_pair = Some(1);
    s.gold_percent = Some(percent);
    let p = projects::create(&app.db, "test", slug, s).await.unwrap();
    let data: String = (0..n)
        .map(|i| {
            let mut line: Value = serde_json::from_str(&common::jsonl_line(i)).unwrap();
            if i < gold {
                line["gold"] = json!("a");
            }
            format!("{line}\n")
        })
        .collect();
    assert!(import::import_jsonl(&app.db, &p, None, "gold.jsonl", data.into_bytes()).await.unwrap().ok);
}

/// Judges every task offered, always for beta's answer; returns how many.
async fn judge_all_for_beta(app: &common::TestApp, slug: &str, who: &str) -> usize {
    let token = app.user(who, Role::Annotator).await;
    app.member(slug, who).await;
    common::judge_all(app, slug, &token, |_, task| {
        let beta_left = task["left"]["text"].as_str().unwrap().starts_with("beta");
        json!({"choice": if beta_left { -3 } else { 3 }})
    })
    .await
}

#[tokio::test]
async fn gold_pairs_are_served_only_at_the_gold_rate_and_flag_an_annotator_who_misses_them() {
    let app = spawn_app().await;
    // At 0 % no gold pair is ever served: 14 ordinary pairs only.
    gold_project(&app, "nogold", 20, 6, 0).await;
    assert_eq!(judge_all_for_beta(&app, "nogold", "a0").await, 14);
    // At 50 %, each annotator gets every gold pair once besides the rest.
    gold_project(&app, "gold", 20, 6, 50).await;
    assert_eq!(judge_all_for_beta(&app, "gold", "cheat").await, 20);
    let gold_votes: i64 = app
        .count("SELECT COUNT(*) FROM annotations n JOIN pairs p ON p.id = n.pair_id WHERE p.gold_choice IS NOT NULL")
        .await;
    assert_eq!(gold_votes, 6);

    // Always beta: every gold answer (alpha) missed → flagged.
    let admin = app.user("chief", Role::Admin).await;
    let c = common::login(&app, "chief", common::PASSWORD).await;
    let html = c.get(format!("{}/admin/projects/gold/dashboard", app.url)).send().await.unwrap().text().await.unwrap();
    let cheat = row(&html, "cheat");
    assert!(cheat.contains("0% (6)") && cheat.contains("low gold accuracy"), "{cheat}");

    // Exports can leave flagged annotators out.
    let export = |q: &'static str| {
        let (url, admin) = (app.api(&format!("/projects/gold/export?format=raw{q}")), admin.clone());
        async move { bearer().get(url).bearer_auth(admin).send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(export("").await.lines().count(), 20);
    assert_eq!(export("&exclude_flagged_annotators=true").await.lines().count(), 0);

    // Marking by the API: a 400 names the field, a made-up pair is a 404.
    let pair: String = arbiter_core::on!(&app.db.read, e => sqlx::query_scalar(
        "SELECT p.uuid FROM pairs p JOIN projects j ON j.id = p.project_id WHERE j.slug = 'gold' AND p.gold_choice IS NULL
         ORDER BY p.id LIMIT 1",
    )
    .fetch_one(e)
    .await)
    .unwrap();
    let put = |pair: String, body: Value| {
        let (url, admin) = (app.api(&format!("/projects/gold/pairs/{pair}/gold")), admin.clone());
        async move { bearer().put(url).bearer_auth(admin).json(&body).send().await.unwrap() }
    };
    let r = put(pair.clone(), json!({"gold": "b"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"pair": pair, "gold": "b"}));
    let stored: Option<i64> =
        arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT gold_choice FROM pairs WHERE uuid = $1").bind(&pair).fetch_one(e).await).unwrap();
    assert_eq!(stored, Some(-3));
    let r = put(pair.clone(), json!({"gold": "left"})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().starts_with("gold"));
    assert_eq!(put("nope".into(), json!({"gold": "a"})).await.status(), StatusCode::NOT_FOUND);
    // The pair page shows it and its form; the CLI unmarks it.
    let page =
        c.get(format!("{}/admin/projects/gold/pairs/{pair}", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains(r#"data-testid="gold-form""#) && page.contains(r#"value="b" selected"#),
        "the gold answer selected"
    );
    let out = common::arbiter(&app.db_url, &["gold", "gold", &pair, "none"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stored: Option<i64> =
        arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT gold_choice FROM pairs WHERE uuid = $1").bind(&pair).fetch_one(e).await).unwrap();
    assert_eq!(stored, None);
}

/// Judges every task offered to a new annotator `who`, for alpha's answer or beta's.
async fn judge_all_for(app: &common::TestApp, slug: &str, who: &str, model: &str) {
    let token = app.user(who, Role::Annotator).await;
    app.member(slug, who).await;
    common::judge_all(app, slug, &token, |_, task| {
        let left = task["left"]["text"].as_str().unwrap().starts_with(model);
        json!({"choice": if left { -2 } else { 2 }, "rationale": format!("{who} likes {model}")})
    })
    .await;
}

#[tokio::test]
async fn an_admins_final_label_decides_a_split_pair_in_exports_and_the_card_counts_it() {
    let app = spawn_app().await;
    app.project("adj", 3, 2).await;
    // Each pair splits 2 : 1 for alpha (A).
    judge_all_for(&app, "adj", "ann1", "alpha").await;
    judge_all_for(&app, "adj", "ann2", "beta").await;
    judge_all_for(&app, "adj", "ann3", "alpha").await;
    let admin = app.user("chief", Role::Admin).await;
    let export = |q: &'static str| {
        let (url, admin) = (app.api(&format!("/projects/adj/export?{q}")), admin.clone());
        async move { bearer().get(url).bearer_auth(admin).send().await.unwrap().text().await.unwrap() }
    };
    // The card is stored once the export's last byte has left: the next
    // export starts after it, so the cards' order is the exports' order.
    let cards_stored = |n: usize| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let mut cards = Value::Null;
            for _ in 0..200 {
                cards = common::get_json(app, "/projects/adj/export/cards", &admin).await;
                if cards.as_array().unwrap().len() >= n {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            cards
        }
    };
    assert_eq!(export("format=trl&min_agreement=1").await.lines().count(), 0, "no pair is unanimous");
    cards_stored(1).await;

    // The adjudication page lists both, with every vote and rationale.
    let c = common::login(&app, "chief", common::PASSWORD).await;
    let page = c.get(format!("{}/admin/projects/adj/adjudicate", app.url)).send().await.unwrap().text().await.unwrap();
    assert_eq!(page.matches(r#"data-testid="split-pair""#).count(), 2);
    assert!(page.contains("2 for A · 0 tie · 1 for B") && page.contains("ann2 likes beta"), "counts and rationales");

    // B, by the API: the pair is in, with beta chosen, whatever the filter says.
    let pairs: Vec<String> = arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT uuid FROM pairs ORDER BY id").fetch_all(e).await).unwrap();
    let r = bearer()
        .put(app.api(&format!("/projects/adj/pairs/{}/adjudication", pairs[0])))
        .bearer_auth(&admin)
        .json(&json!({"label": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let trl = export("format=trl&min_agreement=1").await;
    assert_eq!(trl.lines().count(), 1);
    let row: Value = serde_json::from_str(trl.lines().next().unwrap()).unwrap();
    assert!(row["chosen"].to_string().contains("beta answer 0"), "{row}");
    cards_stored(2).await;
    let pairs_csv = export("format=pairs&as=csv").await;
    let labelled = pairs_csv.lines().filter(|l| l.contains(&pairs[0])).collect::<Vec<_>>().join("");
    assert!(labelled.contains(",b,"), "the label column says b: {labelled}");
    // The three exports' cards, newest first: the pairs export counts the labelled row.
    let cards = cards_stored(3).await;
    assert_eq!(cards.as_array().unwrap().len(), 3, "{cards}");
    assert_eq!(cards[0]["format"], "pairs", "{cards}");
    assert_eq!(cards[0]["counts"]["adjudicated"], 1, "{}", cards[0]["counts"]);
    assert_eq!(cards[1]["counts"]["adjudicated"], 1, "the TRL export after the label: {}", cards[1]["counts"]);
    assert!(cards[2]["counts"]["adjudicated"].is_null(), "none before: {}", cards[2]["counts"]);

    // A tie by the page's form; a bad label is a 400 naming the field.
    let r = c
        .post(format!("{}/admin/projects/adj/pairs/{}/adjudicate", app.url, pairs[1]))
        .form(&[("label", "tie"), ("from", "list")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/admin/projects/adj/adjudicate?ok=adjudicated");
    let tie: Option<i64> =
        arbiter_core::on!(&app.db.read, e => sqlx::query_scalar("SELECT adjudicated FROM pairs WHERE uuid = $1").bind(&pairs[1]).fetch_one(e).await).unwrap();
    assert_eq!(tie, Some(0));
    let r = bearer()
        .put(app.api(&format!("/projects/adj/pairs/{}/adjudication", pairs[1])))
        .bearer_auth(&admin)
        .json(&json!({"label": "A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().starts_with("label"));
}
