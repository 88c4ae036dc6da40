//! Datasets in and out: every import format round-trips through annotation
//! (sides shown swapped or not) and back out; HH-RLHF lines come back byte
//! for byte; every export format has a golden file; Parquet and dataset
//! folders load with pyarrow and `datasets`; filters drop exactly what they
//! count; an import never stalls an annotator.
use crate::common;

use arbiter_core::services::Role;
use common::{arbiter, bearer, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;

/// The marker of the answer the test annotator prefers.
const BEST: &str = "[+]";

/// Judges every task the annotator is given, by what is shown: much
/// better for the side whose text carries `BEST` (wherever it is shown), a
/// tie when neither does. Returns how many it judged.
async fn judge_all(app: &TestApp, token: &str, slug: &str) -> usize {
    let mut n = 0;
    loop {
        let r =
            bearer().post(app.api(&format!("/projects/{slug}/tasks/next"))).bearer_auth(token).send().await.unwrap();
        if r.status() == StatusCode::NO_CONTENT {
            return n;
        }
        let task: Value = r.json().await.unwrap();
        let left = task["left"]["text"].as_str().unwrap();
        let right = task["right"]["text"].as_str().unwrap();
        let choice = match (left.contains(BEST), right.contains(BEST)) {
            (true, false) => -3,
            (false, true) => 3,
            _ => 0,
        };
        let both_bad = left.contains("[bad]") && right.contains("[bad]");
        let flags = if left.contains("[flag]") || right.contains("[flag]") { json!(["unsafe"]) } else { json!([]) };
        let id = task["task_id"].as_str().unwrap();
        let r = bearer()
            .post(app.api(&format!("/tasks/{id}/annotation")))
            .bearer_auth(token)
            .header("Idempotency-Key", format!("{slug}-{id}"))
            .json(&json!({"choice": choice, "both_bad": both_bad, "flags": flags, "rationale": "r"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        n += 1;
    }
}

async fn setup(slug: &str) -> (TestApp, String, String) {
    let app = spawn_app().await;
    let admin = app.user("boss", Role::Admin).await;
    let token = app.user("ann", Role::Annotator).await;
    app.project(slug, 1, 0).await;
    app.member(slug, "ann").await;
    (app, admin, token)
}

async fn import(app: &TestApp, admin: &str, slug: &str, query: &str, body: impl Into<reqwest::Body>) -> Value {
    let r = bearer()
        .post(app.api(&format!("/projects/{slug}/import?{query}")))
        .bearer_auth(admin)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let report: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

async fn export_bytes(app: &TestApp, admin: &str, slug: &str, query: &str) -> Vec<u8> {
    let r = bearer().get(app.api(&format!("/projects/{slug}/export?{query}"))).bearer_auth(admin).send().await.unwrap();
    let status = r.status();
    let body = r.bytes().await.unwrap().to_vec();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    body
}

async fn export_rows(app: &TestApp, admin: &str, slug: &str, query: &str) -> Vec<Value> {
    let body = export_bytes(app, admin, slug, query).await;
    String::from_utf8(body).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

async fn cards(app: &TestApp, admin: &str, slug: &str) -> Vec<Value> {
    serde_json::from_value(common::get_json(app, &format!("/projects/{slug}/export/cards"), admin).await).unwrap()
}

/// The card of the export that just ended: stored once its last byte left,
/// so it may land a moment after the download finished; `before` is how
/// many cards there were before it.
async fn card_after(app: &TestApp, admin: &str, slug: &str, before: usize) -> Value {
    for _ in 0..500 {
        let all = cards(app, admin, slug).await;
        if all.len() > before {
            return all.into_iter().next().unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no export card stored");
}

fn msg(role: &str, content: &str) -> Value {
    json!({"role": role, "content": content})
}

// ---------------------------------------------------------------- round trips

#[tokio::test]
async fn hh_rlhf_lines_come_back_byte_for_byte_or_swapped_value_for_value() {
    let (app, admin, token) = setup("hh").await;
    // Written the way the published files are: `", "` separators, some
    // characters escaped, others as UTF-8, multi-turn dialogues.
    let lines = [
        r#"{"chosen": "\n\nHuman: What\u2019s a good pun? [x]\n\nAssistant: A pun [+] is its own reword.", "rejected": "\n\nHuman: What\u2019s a good pun? [x]\n\nAssistant: No."}"#,
        r#"{"chosen": "\n\nHuman: Caf\u00e9 or tea?\n\nAssistant: Which do you like?\n\nHuman: Both\n\nAssistant: Then tea.", "rejected": "\n\nHuman: Caf\u00e9 or tea?\n\nAssistant: Which do you like?\n\nHuman: Both\n\nAssistant: Then café [+]."}"#,
        "{\"chosen\": \"\\n\\nHuman: Say hi\\n\\nAssistant: Hi there [+] ’friend’\", \"rejected\": \"\\n\\nHuman: Say hi\\n\\nAssistant: Hi there\"}",
    ];
    let body = lines.join("\n") + "\n";
    let report = import(&app, &admin, "hh", "", body.clone()).await;
    assert_eq!((report["format"].as_str(), report["format_guessed"].as_bool()), (Some("hh-rlhf"), Some(true)));
    assert_eq!(report["added"]["pairs"], 3);
    assert_eq!(judge_all(&app, &token, "hh").await, 3);
    let out = String::from_utf8(export_bytes(&app, &admin, "hh", "format=hh-rlhf").await).unwrap();
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), 3);
    // People agree with lines 1 and 3: those come back as they were.
    assert_eq!(got[0], lines[0]);
    assert_eq!(got[2], lines[2]);
    // Line 2: people prefer the rejected answer, so the two values swap, each as written.
    assert_eq!(
        got[1],
        r#"{"chosen": "\n\nHuman: Caf\u00e9 or tea?\n\nAssistant: Which do you like?\n\nHuman: Both\n\nAssistant: Then café [+].", "rejected": "\n\nHuman: Caf\u00e9 or tea?\n\nAssistant: Which do you like?\n\nHuman: Both\n\nAssistant: Then tea."}"#
    );
    // The TRL export of the same data: the conversation as messages.
    let rows = export_rows(&app, &admin, "hh", "format=trl").await;
    assert_eq!(
        rows[1]["prompt"],
        json!([msg("user", "Café or tea?"), msg("assistant", "Which do you like?"), msg("user", "Both")])
    );
    assert_eq!(rows[1]["chosen"], json!([msg("assistant", "Then café [+].")]));
    // The prior: people agree with the file on 2 of 3 pairs.
    let agreement: Value = common::get_json(&app, "/projects/hh/agreement", &admin).await;
    assert_eq!(agreement["imported_preference"], json!({"pairs": 3, "agree": 2, "rate": 0.667}));
    let pairs = export_rows(&app, &admin, "hh", "format=pairs").await;
    let agrees: Vec<Value> = pairs.iter().map(|p| p["agrees_with_prior"].clone()).collect();
    assert_eq!(agrees, vec![json!(true), json!(false), json!(true)]);
    // Re-importing the same file adds nothing.
    let again = import(&app, &admin, "hh", "format=hh-rlhf", body).await;
    assert_eq!((again["added"]["pairs"].as_u64(), again["added"]["prompts_existing"].as_u64()), (Some(0), Some(3)));
}

#[tokio::test]
async fn trl_rows_of_every_shape_round_trip_with_models_and_the_winner_from_the_people() {
    let (app, admin, token) = setup("trl").await;
    let rows = [
        json!({"prompt": "Explicit?", "chosen": "yes [+]", "rejected": "no", "margin": 0.5}),
        json!({"prompt": [msg("system", "Be kind."), msg("user", "Conversational?")],
               "chosen": [msg("assistant", "sure")], "rejected": [msg("assistant", "fine [+]")],
               "chosen_model": "m-new", "rejected_model": "m-old"}),
        json!({"chosen": [msg("user", "Implicit?"), msg("assistant", "a [+]")], "rejected": [msg("user", "Implicit?"), msg("assistant", "b")]}),
    ];
    let body: String = rows.iter().map(|r| r.to_string() + "\n").collect();
    let report = import(&app, &admin, "trl", "format=trl", body).await;
    assert_eq!((report["format"].as_str(), report["format_guessed"].as_bool()), (Some("trl"), Some(false)));
    judge_all(&app, &token, "trl").await;
    let out = export_rows(&app, &admin, "trl", "format=trl&form=conversational").await;
    assert_eq!(out.len(), 3);
    assert_eq!(
        out[0],
        json!({"prompt": [msg("user", "Explicit?")], "chosen": [msg("assistant", "yes [+]")],
                              "rejected": [msg("assistant", "no")], "margin": 1.0})
    );
    assert_eq!(out[1]["prompt"], rows[1]["prompt"]);
    assert_eq!(out[1]["chosen"], json!([msg("assistant", "fine [+]")]), "the people's winner, not the file's");
    assert_eq!(out[2]["prompt"], json!([msg("user", "Implicit?")]));
    let raw = export_rows(&app, &admin, "trl", "format=raw").await;
    let models: Vec<(String, String)> =
        raw.iter().map(|r| (r["model_a"].as_str().unwrap().into(), r["model_b"].as_str().unwrap().into())).collect();
    assert!(models.contains(&("m-new".into(), "m-old".into())), "{models:?}");
    assert!(models.contains(&("chosen".into(), "rejected".into())), "{models:?}");
    let meta: Value =
        serde_json::from_str(raw.iter().find(|r| r["meta"].is_string()).unwrap()["meta"].as_str().unwrap()).unwrap();
    assert_eq!(meta, json!({"margin": 0.5}), "fields the format does not use are kept as meta");
}

#[tokio::test]
async fn arena_battles_round_trip_with_models_questions_and_winners() {
    let (app, admin, token) = setup("arena").await;
    let conv = |q: &str, a: &str| json!([msg("user", q), msg("assistant", a)]);
    let battles = [
        json!({"question_id": "q1", "model_a": "gpt", "model_b": "llama", "winner": "model_b",
               "conversation_a": conv("Hi?", "hello"), "conversation_b": conv("Hi?", "hey [+]"), "turn": 1, "judge": "x", "tstamp": 1.0}),
        json!({"question_id": "q2", "model_a": "llama", "model_b": "gpt", "winner": "tie",
               "conversation_a": conv("2+2?", "4"), "conversation_b": conv("2+2?", "four"), "turn": 1}),
        json!({"question_id": "q3", "model_a": "gpt", "model_b": "claude", "winner": "model_a",
               "conversation_a": conv("Bye?", "bye [+]"), "conversation_b": conv("Bye?", "ciao"), "turn": 1}),
    ];
    let body: String = battles.iter().map(|r| r.to_string() + "\n").collect();
    let report = import(&app, &admin, "arena", "", body).await;
    assert_eq!(report["format"], "arena");
    judge_all(&app, &token, "arena").await;
    let mut out = export_rows(&app, &admin, "arena", "format=arena").await;
    out.sort_by(|a, b| a["question_id"].as_str().cmp(&b["question_id"].as_str()));
    let winners: Vec<&str> = out.iter().map(|r| r["winner"].as_str().unwrap()).collect();
    assert_eq!(winners, vec!["model_b", "tie", "model_a"]);
    for (got, sent) in out.iter().zip(&battles) {
        for field in ["question_id", "model_a", "model_b", "conversation_a", "conversation_b", "turn"] {
            assert_eq!(got[field], sent[field], "{field}");
        }
        assert!(got["judge"].as_str().unwrap().starts_with("annotator-"));
        assert!(got["tstamp"].as_f64().unwrap() > 1.7e9);
    }
    // The file's winners were right on q1 and q3, and "tie" on q2 matches a tie.
    let card = card_after(&app, &admin, "arena", 0).await;
    assert_eq!(card["agreement"]["imported_preference"]["agree"], 3);
}

#[tokio::test]
async fn csv_imports_and_exports_with_quotes_newlines_and_ids() {
    let (app, admin, token) = setup("csv").await;
    let body = "id,prompt,model_a,completion_a,model_b,completion_b\r\n\
                c1,\"Multi\nline, \"\"quoted\"\" prompt\",m1,first [+],m2,second\r\n\
                c2,Plain,m2,x,m3,y [+]\r\n";
    let report = import(&app, &admin, "csv", "format=csv", body).await;
    assert_eq!((report["lines"].as_u64(), report["added"]["pairs"].as_u64()), (Some(2), Some(2)));
    judge_all(&app, &token, "csv").await;
    let csv_text = String::from_utf8(export_bytes(&app, &admin, "csv", "format=pairs&as=csv").await).unwrap();
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&headers[..5], ["pair_id", "prompt_id", "external_id", "model_a", "model_b"]);
    let recs: Vec<Vec<String>> = r.records().map(|x| x.unwrap().iter().map(String::from).collect()).collect();
    assert_eq!(recs.len(), 2);
    let label = headers.iter().position(|h| h == "label").unwrap();
    assert_eq!((recs[0][2].as_str(), recs[0][3].as_str(), recs[0][label].as_str()), ("c1", "m1", "a"));
    assert_eq!((recs[1][2].as_str(), recs[1][4].as_str(), recs[1][label].as_str()), ("c2", "m3", "b"));
    let trl = export_rows(&app, &admin, "csv", "format=trl").await;
    assert_eq!(trl[0]["prompt"], "Multi\nline, \"quoted\" prompt");
    // raw as CSV: one record per annotation, lists as JSON text.
    let raw_csv = String::from_utf8(export_bytes(&app, &admin, "csv", "format=raw&as=csv").await).unwrap();
    let mut r = csv::Reader::from_reader(raw_csv.as_bytes());
    assert_eq!(r.records().count(), 2);
    // A bad record names its line (as the file counts lines) and column.
    let bad = "prompt,model_a,completion_a,model_b,completion_b\nq,m1,a,m2,b\n\"two\nlines\",m1,,m2,b\n";
    let r =
        bearer().post(app.api("/projects/csv/import?format=csv")).bearer_auth(&admin).body(bad).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["lines"][0]["line"], 3, "{e}");
    assert_eq!(e["lines"][0]["field"], "completion_a", "{e}");
}

#[tokio::test]
async fn bad_lines_import_nothing_unless_skipped_and_skipping_reports_them() {
    let (app, admin, _) = setup("skip").await;
    let good = |i: usize| json!({"prompt": format!("q{i}"), "chosen": "a", "rejected": "b"}).to_string();
    let body = format!(
        "{}\n{{\"prompt\": \"q\", \"chosen\": \"same\", \"rejected\": \"same\"}}\n{}\nnot json\n",
        good(1),
        good(2)
    );
    let r = bearer()
        .post(app.api("/projects/skip/import?format=trl"))
        .bearer_auth(&admin)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("SELECT COUNT(*) FROM pairs").await, 0, "nothing half-written");
    let report = import(&app, &admin, "skip", "format=trl&skip_bad=true", body).await;
    assert_eq!((report["skipped"].as_u64(), report["added"]["pairs"].as_u64()), (Some(2), Some(2)));
    let lines: Vec<u64> = report["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![2, 4]);
    // A line whose format cannot be told is a clear 4xx too.
    let r = bearer()
        .post(app.api("/projects/skip/import"))
        .bearer_auth(&admin)
        .body("{\"text\": \"x\"}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("format"));
}

// ---------------------------------------------------------------- golden files

/// A project with every kind of pair: plain and conversation prompts, a
/// strong and a slight preference, a tie, a both-bad pair, a flagged one,
/// and an imported preference.
async fn golden_project() -> (TestApp, String) {
    let (app, admin, token) = setup("gold").await;
    let lines = [
        json!({"id": "g1", "prompt": "Plain question?", "meta": {"topic": "t"},
               "completions": [{"model": "alpha", "text": "alpha [+]"}, {"model": "beta", "text": "beta"}]}),
        json!({"id": "g2", "messages": [msg("system", "Terse."), msg("user", "Hi"), msg("assistant", "Yo"), msg("user", "Joke?")],
               "completions": [{"model": "alpha", "text": "No."}, {"model": "beta", "text": "Knock knock [+]"}]}),
        json!({"id": "g3", "prompt": "Tie?", "completions": [{"model": "alpha", "text": "same-ish"}, {"model": "beta", "text": "similar"}]}),
        json!({"id": "g4", "prompt": "Both bad?", "completions": [{"model": "alpha", "text": "[bad] x [+]"}, {"model": "beta", "text": "[bad] y"}]}),
        json!({"id": "g5", "prompt": "Flagged?", "completions": [{"model": "beta", "text": "[flag] p"}, {"model": "gamma", "text": "q [+]"}]}),
    ];
    let body: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    import(&app, &admin, "gold", "format=native", body).await;
    import(
        &app,
        &admin,
        "gold",
        "",
        json!({"id": "g6", "prompt": "Imported?", "chosen": "kept [+]", "rejected": "other"}).to_string(),
    )
    .await;
    assert_eq!(judge_all(&app, &token, "gold").await, 6);
    (app, admin)
}

/// Values that differ from run to run (ids, times, pseudonyms, sides
/// shown) replaced by placeholders, so the rest can be compared byte for byte.
fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                let volatile = k.ends_with("_id") && k != "external_id" && k != "question_id"
                    || ["annotator", "judge", "tstamp", "time_ms", "leased_at", "submitted_at", "left", "choice_shown"]
                        .contains(&k.as_str());
                if volatile && !x.is_null() {
                    *x = json!("<redacted>");
                } else {
                    redact(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

fn golden_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares with `tests/golden/NAME`; `UPDATE_GOLDEN=1` rewrites it.
fn golden(name: &str, got: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(got, want, "{name} differs from its golden file");
}

#[tokio::test]
async fn every_export_format_matches_its_golden_file() {
    let (app, admin) = golden_project().await;
    for (name, query) in [
        ("trl.jsonl", "format=trl"),
        ("trl-standard-levels.jsonl", "format=trl&form=standard&margin=levels&ties=keep"),
        ("trl-implicit.jsonl", "format=trl-implicit"),
        ("openai-dpo.jsonl", "format=openai-dpo"),
        ("hh-rlhf.jsonl", "format=hh-rlhf"),
        ("arena.jsonl", "format=arena"),
        ("raw.jsonl", "format=raw"),
        ("pairs.jsonl", "format=pairs"),
        ("rewards.jsonl", "format=rewards"),
    ] {
        let rows = export_rows(&app, &admin, "gold", query).await;
        let mut lines: Vec<String> = rows
            .into_iter()
            .map(|mut r| {
                redact(&mut r);
                r.to_string()
            })
            .collect();
        if name.starts_with("raw") || name.starts_with("arena") {
            lines.sort(); // one row per annotation, in the order they were given
        }
        golden(name, &(lines.join("\n") + "\n"));
    }
    for (name, query) in [("raw.csv", "format=raw&as=csv"), ("pairs.csv", "format=pairs&as=csv")] {
        let text = String::from_utf8(export_bytes(&app, &admin, "gold", query).await).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let headers = r.headers().unwrap().clone();
        let mut out = vec![headers.iter().collect::<Vec<_>>().join(",")];
        let mut recs: Vec<String> = r
            .records()
            .map(|rec| {
                let rec = rec.unwrap();
                headers
                    .iter()
                    .zip(rec.iter())
                    .map(|(h, c)| {
                        let mut v = json!({h: c});
                        redact(&mut v);
                        v[h].as_str().unwrap().to_owned()
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        recs.sort();
        out.extend(recs);
        golden(name, &(out.join("\n") + "\n"));
    }
}

#[tokio::test]
async fn rewards_rank_the_completions_of_a_prompt_by_their_votes_whatever_the_side_shown() {
    let (app, admin, token) = setup("rw").await;
    let line = json!({"id": "k3", "prompt": "Which?", "completions": [
        {"model": "m1", "text": "plain one"}, {"model": "m2", "text": "the best [+]"}, {"model": "m3", "text": "plain two"}]});
    import(&app, &admin, "rw", "format=native", line.to_string()).await;
    // Three pairs: the best wins both of its pairs, the two others tie.
    assert_eq!(judge_all(&app, &token, "rw").await, 3);
    let rows = export_rows(&app, &admin, "rw", "format=rewards").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    let by_model = |m: &str| rows.iter().find(|r| r["model"] == m).unwrap().clone();
    let (m1, m2, m3) = (by_model("m1"), by_model("m2"), by_model("m3"));
    assert_eq!(m2["completion"], "the best [+]");
    assert_eq!(m2["prompt"], "Which?");
    assert_eq!((m2["rank"].as_i64(), m1["rank"].as_i64(), m3["rank"].as_i64()), (Some(1), Some(2), Some(2)));
    assert!(m2["reward"].as_f64().unwrap() > 0.5, "{m2}");
    assert_eq!(m1["reward"], m3["reward"], "tied answers get equal rewards");
    let sum: f64 = rows.iter().map(|r| r["reward"].as_f64().unwrap()).sum();
    assert!(sum.abs() < 1e-5, "centred within the prompt: {sum}");
    assert!(rows.iter().all(|r| r["n"] == 2 && r["stderr"].as_f64().unwrap() > 0.0), "{rows:?}");
    // The same rows as CSV, and dropped votes counted by reason.
    let csv = String::from_utf8(export_bytes(&app, &admin, "rw", "format=rewards&as=csv").await).unwrap();
    assert!(csv.starts_with("prompt,completion,model,reward,stderr,n,rank\r\n"), "{csv}");
    let ties_dropped = export_rows(&app, &admin, "rw", "format=rewards&ties=drop").await;
    assert_eq!(ties_dropped.len(), 3, "the tie went, the two wins remain");
    // Three exports, three cards (each stored once its export ended).
    card_after(&app, &admin, "rw", 2).await;
    let all = cards(&app, &admin, "rw").await;
    let dropping: Vec<&Value> =
        all.iter().filter(|c| !c["counts"]["dropped"].as_object().unwrap().is_empty()).collect();
    assert_eq!(dropping.len(), 1, "only the export without ties dropped anything: {all:?}");
    assert_eq!(dropping[0]["counts"]["dropped"]["tie"], 1, "{all:?}");
    assert_eq!(dropping[0]["counts"]["rows"], 3);
}

#[tokio::test]
async fn the_same_data_and_options_give_the_same_bytes() {
    let (app, admin) = golden_project().await;
    for query in [
        "format=trl",
        "format=pairs&as=csv",
        "format=trl&as=parquet",
        "format=arena&as=parquet",
        "format=rewards",
        "format=rewards&as=parquet",
    ] {
        let a = export_bytes(&app, &admin, "gold", query).await;
        let b = export_bytes(&app, &admin, "gold", query).await;
        assert!(!a.is_empty());
        assert!(a == b, "{query}: two exports differ");
    }
}

#[tokio::test]
async fn parquet_exports_load_with_pyarrow_and_datasets_and_equal_the_jsonl() {
    let (app, admin) = golden_project().await;
    let dir = tempfile::tempdir().unwrap();
    for query in [
        "format=trl",
        "format=trl&form=standard",
        "format=trl-implicit",
        "format=openai-dpo",
        "format=hh-rlhf",
        "format=arena",
        "format=raw",
        "format=pairs",
        "format=rewards",
        "format=rewards&form=standard",
    ] {
        let name = query.replace(['=', '&'], "_");
        let jsonl = dir.path().join(format!("{name}.jsonl"));
        let parquet = dir.path().join(format!("{name}.parquet"));
        std::fs::write(&jsonl, export_bytes(&app, &admin, "gold", query).await).unwrap();
        std::fs::write(&parquet, export_bytes(&app, &admin, "gold", &format!("{query}&as=parquet")).await).unwrap();
        common::run_python("check_dataset.py", &[Path::new("parquet"), &parquet, &jsonl], dir.path());
    }
}

#[tokio::test]
async fn a_dataset_folder_loads_with_its_splits_and_card() {
    let (app, _admin) = golden_project().await;
    let dir = tempfile::tempdir().unwrap();
    let hf = dir.path().join("hf");
    let out = arbiter(
        &app.db_url,
        &[
            "export",
            "gold",
            "--format",
            "trl",
            "--ties",
            "keep",
            "--both-bad",
            "keep",
            "--hf-dir",
            hf.to_str().unwrap(),
            "--split",
            "test=0.5",
        ],
        "",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let card: Value = serde_json::from_str(&std::fs::read_to_string(hf.join("arbiter-card.json")).unwrap()).unwrap();
    let rows = |split: &str| {
        card["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["split"] == split)
            .map(|f| f["rows"].as_u64().unwrap())
            .unwrap_or(0)
    };
    let (train, test) = (rows("train"), rows("test"));
    assert_eq!(train + test, 6, "{card}");
    assert!(train > 0 && test > 0, "with 6 prompts and half in test both splits have rows: {card}");
    // Each file's sha256 is the file's.
    for f in card["files"].as_array().unwrap() {
        let bytes =
            std::fs::read(hf.join(format!("data/{}-00000-of-00001.parquet", f["split"].as_str().unwrap()))).unwrap();
        use sha2::Digest;
        assert_eq!(f["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
    }
    let readme = std::fs::read_to_string(hf.join("README.md")).unwrap();
    assert!(readme.contains("path: data/test-*") && readme.contains("## Agreement"), "{readme}");
    common::run_python(
        "check_dataset.py",
        &[Path::new("hfdir"), &hf, Path::new(&train.to_string()), Path::new(&test.to_string())],
        dir.path(),
    );
    // --card writes JSON and markdown next to a plain export.
    let file = dir.path().join("out.parquet");
    let card_base = dir.path().join("card");
    let out = arbiter(
        &app.db_url,
        &["export", "gold", "-o", file.to_str().unwrap(), "--card", card_base.to_str().unwrap()],
        "",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(&std::fs::read(&file).unwrap()[..4], b"PAR1", "the -o extension chose Parquet");
    let md = std::fs::read_to_string(dir.path().join("card.md")).unwrap();
    assert!(md.contains("| written | 4 |"), "{md}");
    let json_card: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("card.json")).unwrap()).unwrap();
    assert_eq!(json_card["as"], "parquet");
}

// ---------------------------------------------------------------- filters

#[tokio::test]
async fn filters_drop_exactly_the_rows_they_count() {
    let (app, admin) = golden_project().await;
    let card_of = |query: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let before = cards(app, admin, "gold").await.len();
            let rows = export_rows(app, admin, "gold", query).await;
            let card = card_after(app, admin, "gold", before).await;
            (rows.len() as u64, card)
        }
    };
    // Defaults for TRL: the tie and the both-bad pair are left out, each counted.
    let (n, card) = card_of("format=trl").await;
    assert_eq!(n, 4);
    assert_eq!(card["counts"]["rows"], 4);
    assert_eq!(card["counts"]["dropped"], json!({"both_bad": 1, "tie": 1}));
    // Flagged dropped too.
    let (n, card) = card_of("format=trl&flagged=drop").await;
    assert_eq!(n, 3);
    assert_eq!(card["counts"]["dropped"], json!({"both_bad": 1, "flagged": 1, "tie": 1}));
    // Keep everything: the tie with margin 0, the both-bad pair by its votes.
    let (n, _) = card_of("format=trl&ties=keep&both_bad=keep").await;
    assert_eq!(n, 6);
    // HH-RLHF cannot hold a tie: kept ties are counted as not representable.
    let (n, card) = card_of("format=hh-rlhf&ties=keep&both_bad=keep").await;
    assert_eq!(n, 5);
    assert_eq!(card["counts"]["dropped"], json!({"tie_not_representable": 1}));
    // More annotations than any pair has: everything dropped, all counted.
    let (n, card) = card_of("format=pairs&min_annotations=2").await;
    assert_eq!(n, 0);
    assert_eq!(card["counts"]["dropped"], json!({"min_annotations": 6}));
    // Annotator and time filters choose the annotations that count at all.
    let (n, card) = card_of("format=raw&exclude_annotators=ann").await;
    assert_eq!(n, 0);
    assert_eq!(card["counts"]["annotations_out_of_scope"], 6);
    let (n, _) = card_of("format=raw&annotators=ann&since=2000-01-01").await;
    assert_eq!(n, 6);
    let (n, _) = card_of("format=raw&until=2000-01-01T00:00:00Z").await;
    assert_eq!(n, 0);
    // Per-model records: alpha won g1, lost g2 (beta's knock-knock), g3 tie, g4 dropped.
    let (_, card) = card_of("format=trl").await;
    assert_eq!(card["counts"]["models"]["alpha"], json!({"wins": 1, "ties": 0, "losses": 1}));
    // Unknown names and bad values are 400s naming the field.
    for (query, field) in [
        ("format=trl&annotators=nobody", "annotators"),
        ("format=trl&ties=maybe", "ties"),
        ("format=trl&as=csv", "as"),
        ("format=trl&since=yesterday", "since"),
        ("format=trl&margin=big", "margin"),
        ("format=nope", "format"),
        ("format=trl&min_agreement=2", "min_agreement"),
    ] {
        let r =
            bearer().get(app.api(&format!("/projects/gold/export?{query}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        let e: Value = r.json().await.unwrap();
        assert!(e["error"].as_str().unwrap().starts_with(&format!("{field}:")), "{query}: {e}");
    }
}

// ---------------------------------------------------------------- never stall

#[tokio::test]
async fn an_annotator_keeps_submitting_while_a_large_import_runs() {
    let app = common::spawn_app_with(|c| c.max_import_bytes = 64 * 1024 * 1024).await;
    let admin = app.user("boss", Role::Admin).await;
    let token = app.user("ann", Role::Annotator).await;
    app.project("big", 1, 300).await;
    app.member("big", "ann").await;
    let lines: String = (1_000..31_000).map(common::jsonl_line).collect();
    let url = app.api("/projects/big/import");
    let admin2 = admin.clone();
    let importing = tokio::spawn(async move {
        let r = bearer().post(url).bearer_auth(&admin2).body(lines).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        std::time::Instant::now()
    });
    // Submissions while the import runs: each answered, none failed.
    let mut during = 0;
    let mut done_at = None;
    for i in 0..200 {
        let r = bearer().post(app.api("/projects/big/tasks/next")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let task: Value = r.json().await.unwrap();
        let r = bearer()
            .post(app.api(&format!("/tasks/{}/annotation", task["task_id"].as_str().unwrap())))
            .bearer_auth(&token)
            .header("Idempotency-Key", format!("big-{i}"))
            .json(&json!({"choice": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        if importing.is_finished() {
            done_at.get_or_insert(i);
        } else {
            during += 1;
        }
    }
    importing.await.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM prompts").await, 30_300);
    assert!(during >= 20, "only {during} submissions were answered while the import ran (done at {done_at:?})");
}

#[tokio::test]
async fn the_cli_imports_by_extension_and_format_and_skips_bad_lines_when_asked() {
    let (app, _admin, _) = setup("cli").await;
    let dir = tempfile::tempdir().unwrap();
    let csv_file = dir.path().join("pairs.csv");
    std::fs::write(&csv_file, "prompt,model_a,completion_a,model_b,completion_b\r\nq1,m1,a,m2,b\r\nq2,m1,,m2,b\r\n")
        .unwrap();
    let path = csv_file.to_str().unwrap();
    // All or nothing by default: the bad line is named and nothing goes in.
    let out = arbiter(&app.db_url, &["import", "cli", path], "");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("line 3: completion_a"), "{err}");
    assert_eq!(app.count("SELECT COUNT(*) FROM pairs").await, 0);
    // --skip-bad: the good line goes in, and the CLI says what it left out.
    let out = arbiter(&app.db_url, &["import", "cli", path, "--skip-bad"], "");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("format: csv (guessed") && err.contains("skipped 1 bad lines"), "{err}");
    assert_eq!(app.count("SELECT COUNT(*) FROM pairs").await, 1);
    // --format names the format; a JSONL of TRL rows keeps its preference as the prior.
    let trl = dir.path().join("prefs.jsonl");
    std::fs::write(&trl, json!({"prompt": "q", "chosen": "yes", "rejected": "no"}).to_string() + "\n").unwrap();
    let out = arbiter(&app.db_url, &["import", "cli", trl.to_str().unwrap(), "--format", "trl"], "");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success() && !err.contains("guessed"), "{err}");
    assert_eq!(app.count("SELECT COUNT(*) FROM pairs WHERE prior = 1").await, 1);
    let out = arbiter(&app.db_url, &["import", "cli", path, "--format", "parquet"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown import format"));
}
