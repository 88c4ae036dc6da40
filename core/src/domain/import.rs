//! One line of Arbiter's native JSONL import, parsed at the boundary so the
//! storage layer only ever sees valid items.
//!
//! `{"id": "ext-1", "prompt": "…", "completions": [{"model": "m1", "text": "…"}, …], "meta": {…}}`
//! or `"messages": [{"role": "user", "content": "…"}, …]` instead of `"prompt"`.
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionIn {
    pub model: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportItem {
    pub external_id: Option<String>,
    /// A plain prompt is stored as one user turn, with `is_chat` false.
    pub messages: Vec<Message>,
    pub is_chat: bool,
    pub completions: Vec<CompletionIn>,
    pub meta: Option<Map<String, Value>>,
    /// The preference the item came with (TRL, HH-RLHF, Arena files),
    /// canonical for its first two completions: 1 = the first preferred.
    pub prior: Option<i8>,
    /// A known answer for the first two completions (native `"gold"`: `"a"`
    /// → 1, `"b"` → −1, `"tie"` → 0): the pair becomes a gold pair.
    pub gold: Option<i8>,
    /// The original HH-RLHF line, given back byte for byte by that export.
    pub source: Option<String>,
    /// Found again on re-import by prompt *and* completions (one item per
    /// line of a preference set), not by the prompt alone.
    pub key_on_completions: bool,
}

impl ImportItem {
    pub fn new(messages: Vec<Message>, is_chat: bool, completions: Vec<CompletionIn>) -> ImportItem {
        ImportItem {
            external_id: None,
            messages,
            is_chat,
            completions,
            meta: None,
            prior: None,
            gold: None,
            source: None,
            key_on_completions: false,
        }
    }

    /// The field of the first text of the item that holds a NUL character
    /// (see `text`), e.g. `completions[1].text`.
    pub fn nul_field(&self) -> Option<String> {
        let nul = |s: &str| s.contains('\0');
        if self.external_id.as_deref().is_some_and(nul) {
            return Some("id".into());
        }
        if let Some(i) = self.messages.iter().position(|m| nul(&m.content)) {
            return Some(format!("messages[{i}].content"));
        }
        for (i, c) in self.completions.iter().enumerate() {
            if nul(&c.model) {
                return Some(format!("completions[{i}].model"));
            }
            if nul(&c.text) {
                return Some(format!("completions[{i}].text"));
            }
        }
        if let Some(meta) = &self.meta {
            if let Some(at) = super::text::nul_in_map(meta, "meta") {
                return Some(at);
            }
        }
        self.source.as_deref().is_some_and(nul).then(|| "source".into())
    }
}

/// Where a line went wrong, in words an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    pub line: u64,
    /// JSON path of the offending field, e.g. `completions[1].text`; absent when the line itself is bad.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: {}: {}", self.line, field, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

pub const MAX_COMPLETIONS: usize = 16;
/// The longest line an import accepts (a prompt with all its completions).
pub const MAX_LINE_BYTES: usize = 2 * 1024 * 1024;
const KNOWN_FIELDS: [&str; 6] = ["id", "prompt", "messages", "completions", "meta", "gold"];

/// Parses one line (1-based `line` for the report). Blank lines are the
/// caller's to skip.
pub fn parse_line(line: u64, text: &str) -> Result<ImportItem, LineError> {
    parse_native(line, json_object(line, text)?)
}

/// A line as a JSON object, or why not.
pub fn json_object(line: u64, text: &str) -> Result<Map<String, Value>, LineError> {
    let err = |message: String| LineError { line, field: None, message };
    let value: Value = serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
    match value {
        Value::Object(obj) => Ok(obj),
        _ => Err(err("expected a JSON object".into())),
    }
}

/// Arbiter's own line, given as a JSON object.
pub fn parse_native(line: u64, obj: Map<String, Value>) -> Result<ImportItem, LineError> {
    let err = |field: Option<&str>, message: String| LineError { line, field: field.map(str::to_owned), message };
    if let Some(unknown) = obj.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(err(Some(unknown), format!("unknown field (expected one of: {})", KNOWN_FIELDS.join(", "))));
    }

    let external_id = match obj.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(err(Some("id"), "must be a non-empty string or a number".into())),
    };

    let (messages, is_chat) = match (obj.get("prompt"), obj.get("messages")) {
        (Some(_), Some(_)) => {
            return Err(err(Some("messages"), "give either \"prompt\" or \"messages\", not both".into()))
        }
        (None, None) => return Err(err(Some("prompt"), "missing: give \"prompt\" or \"messages\"".into())),
        (Some(Value::String(p)), None) if !p.trim().is_empty() => {
            (vec![Message { role: Role::User, content: p.clone() }], false)
        }
        (Some(_), None) => return Err(err(Some("prompt"), "must be a non-empty string".into())),
        (None, Some(m)) => (parse_messages(m).map_err(|(f, m)| err(Some(&f), m))?, true),
    };

    let completions = parse_completions(obj.get("completions")).map_err(|(f, m)| err(Some(&f), m))?;

    let meta = match obj.get("meta") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(err(Some("meta"), "must be a JSON object".into())),
    };

    let gold = match obj.get("gold") {
        None | Some(Value::Null) => None,
        Some(Value::String(g)) if g == "a" => Some(1),
        Some(Value::String(g)) if g == "b" => Some(-1),
        Some(Value::String(g)) if g == "tie" => Some(0),
        Some(_) => {
            return Err(err(Some("gold"), "must be \"a\", \"b\" or \"tie\" (of the first two completions)".into()))
        }
    };

    Ok(ImportItem { external_id, meta, gold, ..ImportItem::new(messages, is_chat, completions) })
}

pub(crate) fn parse_messages(value: &Value) -> Result<Vec<Message>, (String, String)> {
    let Value::Array(items) = value else {
        return Err(("messages".into(), "must be an array of {role, content}".into()));
    };
    if items.is_empty() {
        return Err(("messages".into(), "must not be empty".into()));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = |f: &str| format!("messages[{i}]{f}");
        let role = match item.get("role").and_then(Value::as_str) {
            Some("system") => Role::System,
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            _ => return Err((at(".role"), "must be \"system\", \"user\" or \"assistant\"".into())),
        };
        let content = match item.get("content") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => return Err((at(".content"), "must be a non-empty string".into())),
        };
        out.push(Message { role, content });
    }
    if out.last().map(|m| m.role) != Some(Role::User) {
        return Err((
            format!("messages[{}].role", out.len() - 1),
            "the last turn must be the user's: completions answer it".into(),
        ));
    }
    Ok(out)
}

fn parse_completions(value: Option<&Value>) -> Result<Vec<CompletionIn>, (String, String)> {
    let field = || "completions".to_string();
    let Some(Value::Array(items)) = value else {
        return Err((field(), "missing or not an array of {model, text}".into()));
    };
    if items.len() < 2 {
        return Err((field(), format!("need at least 2 completions to compare, got {}", items.len())));
    }
    if items.len() > MAX_COMPLETIONS {
        return Err((field(), format!("at most {MAX_COMPLETIONS} completions per prompt, got {}", items.len())));
    }
    let mut out: Vec<CompletionIn> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = |f: &str| format!("completions[{i}].{f}");
        let model = match item.get("model") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            _ => return Err((at("model"), "must be a non-empty string".into())),
        };
        let text = match item.get("text") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => return Err((at("text"), "must be a non-empty string".into())),
        };
        if out.iter().any(|c| c.model == model && c.text == text) {
            return Err((at("text"), "duplicate of an earlier completion of the same model".into()));
        }
        out.push(CompletionIn { model, text });
    }
    Ok(out)
}

/// All unordered pairs of K completions by index, in canonical order (i < j).
pub fn pair_indices(k: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..k).flat_map(move |i| (i + 1..k).map(move |j| (i, j)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_gold_answer_names_the_first_two_completions() {
        let two = r#"[{"model":"m1","text":"a"},{"model":"m2","text":"b"}]"#;
        for (g, want) in [("a", Some(1)), ("b", Some(-1)), ("tie", Some(0))] {
            let item = parse_line(1, &format!(r#"{{"prompt":"q","completions":{two},"gold":"{g}"}}"#)).unwrap();
            assert_eq!(item.gold, want, "{g}");
        }
        assert_eq!(parse_line(1, &format!(r#"{{"prompt":"q","completions":{two}}}"#)).unwrap().gold, None);
    }

    use super::*;

    #[test]
    fn parses_a_plain_prompt_line() {
        let item = parse_line(
            1,
            r#"{"id":"p1","prompt":"Hi?","completions":[{"model":"m1","text":"a"},{"model":"m2","text":"b"}],"meta":{"src":"x"}}"#,
        )
        .unwrap();
        assert_eq!(item.external_id.as_deref(), Some("p1"));
        assert!(!item.is_chat);
        assert_eq!(item.messages, vec![Message { role: Role::User, content: "Hi?".into() }]);
        assert_eq!(item.completions.len(), 2);
        assert_eq!(item.meta.unwrap()["src"], "x");
    }

    #[test]
    fn parses_a_conversation() {
        let item = parse_line(
            3,
            r#"{"messages":[{"role":"system","content":"Be brief"},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"Joke?"}],"completions":[{"model":"a","text":"x"},{"model":"b","text":"y"}]}"#,
        )
        .unwrap();
        assert!(item.is_chat);
        assert_eq!(item.messages.len(), 4);
        assert_eq!(item.external_id, None);
    }

    fn error_of(text: &str) -> LineError {
        parse_line(7, text).unwrap_err()
    }

    #[test]
    fn bad_lines_name_the_line_and_field() {
        let two = r#"[{"model":"a","text":"x"},{"model":"b","text":"y"}]"#;
        let cases = [
            ("{not json".to_string(), None),
            ("[1]".to_string(), None),
            (format!(r#"{{"completions":{two}}}"#), Some("prompt")),
            (format!(r#"{{"prompt":"","completions":{two}}}"#), Some("prompt")),
            (format!(r#"{{"prompt":"q","messages":[],"completions":{two}}}"#), Some("messages")),
            (r#"{"prompt":"q","completions":[{"model":"a","text":"x"}]}"#.to_string(), Some("completions")),
            (
                r#"{"prompt":"q","completions":[{"model":"a","text":"x"},{"model":"","text":"y"}]}"#.to_string(),
                Some("completions[1].model"),
            ),
            (
                r#"{"prompt":"q","completions":[{"model":"a","text":"x"},{"model":"b"}]}"#.to_string(),
                Some("completions[1].text"),
            ),
            (
                r#"{"prompt":"q","completions":[{"model":"a","text":"x"},{"model":"a","text":"x"}]}"#.to_string(),
                Some("completions[1].text"),
            ),
            (
                format!(r#"{{"messages":[{{"role":"bot","content":"x"}}],"completions":{two}}}"#),
                Some("messages[0].role"),
            ),
            (format!(r#"{{"prompt":"q","completions":{two},"gold":"left"}}"#), Some("gold")),
            (format!(r#"{{"prompt":"q","completions":{two},"gold":1}}"#), Some("gold")),
            (
                format!(
                    r#"{{"messages":[{{"role":"user","content":"x"}},{{"role":"assistant","content":"y"}}],"completions":{two}}}"#
                ),
                Some("messages[1].role"),
            ),
            (format!(r#"{{"prompt":"q","completions":{two},"meta":3}}"#), Some("meta")),
            (format!(r#"{{"prompt":"q","completions":{two},"chosen":"x"}}"#), Some("chosen")),
            (format!(r#"{{"id":[],"prompt":"q","completions":{two}}}"#), Some("id")),
        ];
        for (text, field) in cases {
            let e = error_of(&text);
            assert_eq!(e.line, 7, "{text}");
            assert_eq!(e.field.as_deref(), field, "{text}: {}", e.message);
            assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn k_completions_make_k_choose_2_pairs() {
        assert_eq!(pair_indices(2).collect::<Vec<_>>(), vec![(0, 1)]);
        assert_eq!(pair_indices(4).count(), 6);
        assert!(pair_indices(5).all(|(i, j)| i < j));
    }
}
