//! Shapes that cross the wire (REST API and server functions alike).
use super::choice::Choice;
use super::import::{Message, Role};
use serde::{Deserialize, Serialize};
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

/// A leased task. Model names are left out on purpose: judgements are blind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub task_id: Uuid,
    /// RFC 3339, UTC.
    pub lease_expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// The prompt (or conversation so far) rendered for display.
    pub thread: Vec<Turn>,
    pub left: Shown,
    pub right: Shown,
    pub guidelines: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationInput {
    pub choice: Choice,
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
    pub choice: Choice,
    pub both_bad: bool,
    pub flags: Vec<String>,
    pub rationale: String,
    pub time_ms: Option<i64>,
    /// Arrived after its lease had expired (recorded all the same).
    pub late: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MyProgress {
    pub done: i64,
    pub remaining: i64,
}
