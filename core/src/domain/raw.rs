//! The raw export: one row per annotation with everything about it, as the
//! annotator gave it and in canonical order. Every row has the same columns
//! (missing values are `null`); the prompt's `meta` object goes out as a JSON
//! string, so a file whose prompts carry different meta keys still has one
//! schema.
use serde_json::{json, Value};

pub struct RawRow<'a> {
    pub annotation_id: &'a str,
    pub pair_id: &'a str,
    pub prompt_id: &'a str,
    pub external_id: Option<&'a str>,
    pub completion_a_id: &'a str,
    pub completion_b_id: &'a str,
    pub model_a: &'a str,
    pub model_b: &'a str,
    pub annotator: &'a str,
    pub choice_shown: i64,
    pub choice: i64,
    /// B was shown on the left.
    pub swapped: bool,
    pub both_bad: bool,
    pub flags: Vec<String>,
    pub rationale: &'a str,
    pub time_ms: Option<i64>,
    pub leased_at: String,
    pub submitted_at: String,
    pub late: bool,
    pub meta: Option<&'a str>,
    /// 1 for the first submission; each edit (undo) adds one. Every version
    /// is a row; `latest` marks the one exports use.
    pub version: i64,
    pub latest: bool,
}

pub fn row(r: &RawRow<'_>) -> Value {
    json!({
        "annotation_id": r.annotation_id,
        "pair_id": r.pair_id,
        "prompt_id": r.prompt_id,
        "external_id": r.external_id,
        "completion_a_id": r.completion_a_id,
        "completion_b_id": r.completion_b_id,
        "model_a": r.model_a,
        "model_b": r.model_b,
        "annotator": r.annotator,
        "choice_shown": r.choice_shown,
        "choice": r.choice,
        "left": if r.swapped { "b" } else { "a" },
        "both_bad": r.both_bad,
        "flags": r.flags,
        "rationale": r.rationale,
        "time_ms": r.time_ms,
        "leased_at": r.leased_at,
        "submitted_at": r.submitted_at,
        "late": r.late,
        "meta": r.meta,
        "version": r.version,
        "latest": r.latest,
    })
}
