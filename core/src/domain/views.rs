//! Shapes that cross the wire (REST API and server functions alike).
use super::choice::Choice;
use super::import::{Message, Role};
use super::settings::{Scale, TaskType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// One completion as the annotator sees it: the raw text and the sanitized
/// HTML the server rendered from its markdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    pub text: String,
    pub html: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub html: String,
}

/// One completion of a ranking or rating task, in the order shown. `id` is
/// opaque and valid for this task only (never a model name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShownCompletion {
    pub id: String,
    pub text: String,
    pub html: String,
}

/// The id a ranking or rating task gives one of its completions: stable for
/// the task (a reload shows the same ids), meaningless outside it.
#[cfg(feature = "server")]
pub fn task_completion_id(task_uuid: &str, completion_uuid: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{task_uuid}\0{completion_uuid}").as_bytes());
    hex::encode(&h[..6])
}

/// A leased task. Model names are left out on purpose: judgements are blind.
/// A pairwise task has `left` and `right`; a ranking or rating task has
/// `completions` in the shown order (and a rating task its aspects and scale).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub task_id: Uuid,
    pub task_type: TaskType,
    /// RFC 3339, UTC.
    pub lease_expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// The prompt (or conversation so far) rendered for display.
    pub thread: Vec<Turn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<Shown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right: Option<Shown>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub completions: Vec<ShownCompletion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspects: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    pub guidelines: String,
}

/// A JSON object whose keys must be distinct (a repeated key is an error,
/// not "the last one wins"), in key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(transparent)]
pub struct Entries<V>(pub BTreeMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Entries<V>, M::Error> {
                let mut out = BTreeMap::new();
                while let Some(k) = m.next_key::<String>()? {
                    if out.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!("{k:?} is given twice")));
                    }
                    let v = m.next_value()?;
                    out.insert(k, v);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationInput {
    /// Pairwise tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<Choice>,
    /// Ranking tasks: every completion's rank by its task id (1 = best; equal ranks tie).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranks: Option<Entries<i64>>,
    /// Rating tasks: every completion's value on every aspect, by its task id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratings: Option<Entries<Entries<i64>>>,
    /// Ranking and rating tasks: flags on single answers, by task id (each
    /// one of the project's flags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_flags: Option<Entries<Vec<String>>>,
    #[serde(default)]
    pub both_bad: bool,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub rationale: String,
    #[serde(default, deserialize_with = "super::integral::option")]
    pub time_ms: Option<i64>,
}

/// What a submit answers, the first time and on every retry with its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotationReceipt {
    pub annotation_id: Uuid,
    pub task_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranks: Option<Entries<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratings: Option<Entries<Entries<i64>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_flags: Option<Entries<Vec<String>>>,
    pub both_bad: bool,
    pub flags: Vec<String>,
    pub rationale: String,
    pub time_ms: Option<i64>,
    /// Arrived after its lease had expired (recorded all the same).
    pub late: bool,
    pub created_at: String,
    /// 1 for the first submission; each edit (undo) adds one.
    #[serde(default = "first_version")]
    pub version: i64,
    /// When the latest edit was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

fn first_version() -> i64 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MyProgress {
    pub done: i64,
    pub remaining: i64,
}

/// One of an annotator's own judgements, as their history lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryItem {
    pub annotation_id: Uuid,
    pub task_id: Uuid,
    /// The prompt's last turn, shortened.
    pub prompt: String,
    /// Pairwise: as shown (negative favours the left side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<i64>,
    pub both_bad: bool,
    pub flags: Vec<String>,
    pub rationale: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    pub version: i64,
    /// Inside the project's undo window: it can still be changed.
    pub editable: bool,
}

/// A judgement shown again to be changed (undo, history): its task as first
/// shown, what was answered (the latest version) and whether it can still
/// be changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgedTask {
    pub task: TaskView,
    pub input: AnnotationInput,
    pub editable: bool,
}
