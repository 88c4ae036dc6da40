//! Existing preference sets as import items: TRL (standard or
//! conversational, explicit or implicit prompt), Anthropic HH-RLHF, Chatbot
//! Arena battles, and a plain CSV. The original preference becomes the
//! item's prior (never shown to annotators); model names come from the file
//! where it has them, else `chosen` / `rejected`.
use super::form::{unflatten, ASSISTANT, HUMAN};
use super::import::{parse_messages, parse_native, CompletionIn, ImportItem, LineError, Message, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportFormat {
    Native,
    Csv,
    Trl,
    HhRlhf,
    Arena,
}

pub const IMPORT_FORMATS: [ImportFormat; 5] =
    [ImportFormat::Native, ImportFormat::Csv, ImportFormat::Trl, ImportFormat::HhRlhf, ImportFormat::Arena];

impl ImportFormat {
    pub fn parse(s: &str) -> Result<ImportFormat, super::FieldError> {
        IMPORT_FORMATS.into_iter().find(|f| f.name() == s).ok_or_else(|| {
            super::FieldError::new(
                "format",
                format!("unknown import format {s:?} (native, csv, trl, hh-rlhf or arena)"),
            )
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ImportFormat::Native => "native",
            ImportFormat::Csv => "csv",
            ImportFormat::Trl => "trl",
            ImportFormat::HhRlhf => "hh-rlhf",
            ImportFormat::Arena => "arena",
        }
    }

    /// The format a JSON line looks like, by its keys.
    pub fn guess(obj: &Map<String, Value>) -> Option<ImportFormat> {
        let has = |k: &str| obj.contains_key(k);
        if has("completions") {
            Some(ImportFormat::Native)
        } else if has("conversation_a") && has("winner") {
            Some(ImportFormat::Arena)
        } else if has("chosen") && has("rejected") {
            let hh = !has("prompt") && obj.get("chosen").and_then(Value::as_str).is_some_and(|c| c.starts_with(HUMAN));
            Some(if hh { ImportFormat::HhRlhf } else { ImportFormat::Trl })
        } else {
            None
        }
    }

    /// Parses one JSON record of this format (CSV records go through `csv_record`).
    pub fn parse_object(self, line: u64, obj: Map<String, Value>, text: &str) -> Result<ImportItem, LineError> {
        match self {
            ImportFormat::Native => parse_native(line, obj),
            ImportFormat::Trl => trl(line, obj),
            ImportFormat::HhRlhf => hh_rlhf(line, obj, text),
            ImportFormat::Arena => arena(line, obj),
            ImportFormat::Csv => Err(LineError { line, field: None, message: "CSV records are not JSON".into() }),
        }
    }
}

fn err(line: u64, field: &str, message: impl Into<String>) -> LineError {
    LineError { line, field: Some(field.to_owned()), message: message.into() }
}

fn text_field(line: u64, obj: &Map<String, Value>, field: &str) -> Result<String, LineError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(_) => Err(err(line, field, "must be a non-empty string")),
        None => Err(err(line, field, "missing")),
    }
}

fn id_of(obj: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match obj.get(*k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// The fields an item does not use, kept as its meta.
fn rest(mut obj: Map<String, Value>, used: &[&str]) -> Option<Map<String, Value>> {
    for k in used {
        obj.remove(*k);
    }
    (!obj.is_empty()).then_some(obj)
}

/// A preference item: the prompt, the chosen answer first.
fn preference(
    line: u64,
    messages: Vec<Message>,
    is_chat: bool,
    chosen: (String, String),
    rejected: (String, String),
) -> Result<ImportItem, LineError> {
    if messages.last().map(|m| m.role) != Some(Role::User) {
        return Err(err(line, "prompt", "the prompt's last turn must be the user's"));
    }
    // An empty answer stays: published sets have them (4 of HH-RLHF's
    // 2,312 harmless-base test lines), and it is a real answer to judge.
    if chosen.1 == rejected.1 {
        return Err(err(line, "rejected", "the same answer as chosen: nothing to compare"));
    }
    let completions =
        vec![CompletionIn { model: chosen.0, text: chosen.1 }, CompletionIn { model: rejected.0, text: rejected.1 }];
    let mut item = ImportItem::new(messages, is_chat, completions);
    item.prior = Some(1);
    item.key_on_completions = true;
    Ok(item)
}

/// HH-RLHF's split, as TRL's own HH-RLHF script makes it: the common prefix
/// of chosen and rejected, cut back to its last `\n\nAssistant: `, is the
/// conversation; each remainder is an answer.
pub fn split_hh(chosen: &str, rejected: &str) -> Option<(Vec<Message>, String, String)> {
    let common: usize = chosen
        .char_indices()
        .zip(rejected.chars())
        .take_while(|((_, a), b)| a == b)
        .map(|((_, a), _)| a.len_utf8())
        .sum();
    let mut prefix = &chosen[..common];
    if !prefix.ends_with(ASSISTANT) {
        let at = prefix.rfind(ASSISTANT)?;
        prefix = &chosen[..at + ASSISTANT.len()];
    }
    let messages = unflatten(prefix)?;
    Some((messages, chosen[prefix.len()..].to_owned(), rejected[prefix.len()..].to_owned()))
}

fn hh_rlhf(line: u64, obj: Map<String, Value>, text: &str) -> Result<ImportItem, LineError> {
    let chosen = text_field(line, &obj, "chosen")?;
    let rejected = text_field(line, &obj, "rejected")?;
    if let Some(k) = obj.keys().find(|k| *k != "chosen" && *k != "rejected") {
        return Err(err(line, k, "unknown field (HH-RLHF lines have chosen and rejected only)"));
    }
    let (messages, c, r) = split_hh(&chosen, &rejected).ok_or_else(|| {
        err(
            line,
            "chosen",
            "not HH-RLHF text: no \\n\\nHuman: … \\n\\nAssistant: dialogue shared by chosen and rejected",
        )
    })?;
    let mut item = preference(line, messages, true, ("chosen".into(), c), ("rejected".into(), r))?;
    item.source = Some(text.trim_end_matches(['\r', '\n']).to_owned());
    Ok(item)
}

/// TRL's rule for an implicit prompt in text form: the common prefix, less
/// a space it ends on.
fn split_trl_text(chosen: &str, rejected: &str) -> (String, String, String) {
    let mut idx: usize = chosen
        .char_indices()
        .zip(rejected.chars())
        .take_while(|((_, a), b)| a == b)
        .map(|((_, a), _)| a.len_utf8())
        .sum();
    if idx > 0 && idx < chosen.len().min(rejected.len()) && chosen[..idx].ends_with(' ') {
        idx -= 1;
    }
    (chosen[..idx].to_owned(), chosen[idx..].to_owned(), rejected[idx..].to_owned())
}

/// One assistant message, as TRL's conversational answers are.
fn one_answer(line: u64, field: &str, v: &Value) -> Result<String, LineError> {
    let Value::Array(items) = v else { return Err(err(line, field, "must be a string or a list of messages")) };
    match items.as_slice() {
        [m] if m.get("role").and_then(Value::as_str) == Some("assistant") => match m.get("content") {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(err(line, &format!("{field}[0].content"), "must be a string")),
        },
        _ => Err(err(line, field, "must be one assistant message")),
    }
}

fn trl(line: u64, obj: Map<String, Value>) -> Result<ImportItem, LineError> {
    let (chosen_v, rejected_v) = match (obj.get("chosen"), obj.get("rejected")) {
        (Some(c), Some(r)) => (c.clone(), r.clone()),
        (None, _) => return Err(err(line, "chosen", "missing")),
        (_, None) => return Err(err(line, "rejected", "missing")),
    };
    let (chosen_model, rejected_model) = (
        id_of(&obj, &["chosen_model"]).unwrap_or_else(|| "chosen".into()),
        id_of(&obj, &["rejected_model"]).unwrap_or_else(|| "rejected".into()),
    );
    let external_id = id_of(&obj, &["id", "prompt_id"]);
    let mut item = match (obj.get("prompt"), &chosen_v, &rejected_v) {
        // Explicit, standard.
        (Some(Value::String(p)), Value::String(c), Value::String(r)) => {
            if p.trim().is_empty() {
                return Err(err(line, "prompt", "must be a non-empty string"));
            }
            let messages = vec![Message { role: Role::User, content: p.clone() }];
            preference(line, messages, false, (chosen_model, c.clone()), (rejected_model, r.clone()))?
        }
        // Explicit, conversational.
        (Some(p @ Value::Array(_)), _, _) => {
            let messages = parse_messages(p).map_err(|(f, m)| err(line, &f.replacen("messages", "prompt", 1), m))?;
            let c = one_answer(line, "chosen", &chosen_v)?;
            let r = one_answer(line, "rejected", &rejected_v)?;
            preference(line, messages, true, (chosen_model, c), (rejected_model, r))?
        }
        (Some(_), _, _) => return Err(err(line, "prompt", "must be a string or a list of messages")),
        // Implicit, standard: HH-RLHF text, or TRL's common-prefix rule.
        (None, Value::String(c), Value::String(r)) => {
            if let Some((messages, ca, ra)) = split_hh(c, r).filter(|_| c.starts_with(HUMAN)) {
                preference(line, messages, true, (chosen_model, ca), (rejected_model, ra))?
            } else {
                let (p, ca, ra) = split_trl_text(c, r);
                if p.trim().is_empty() {
                    return Err(err(line, "chosen", "chosen and rejected share no prompt (give \"prompt\")"));
                }
                let messages = vec![Message { role: Role::User, content: p }];
                preference(line, messages, false, (chosen_model, ca), (rejected_model, ra))?
            }
        }
        // Implicit, conversational: the common prefix of the two message lists.
        (None, Value::Array(c), Value::Array(r)) => {
            let common = c.iter().zip(r.iter()).take_while(|(a, b)| a == b).count();
            if common == 0 || common + 1 != c.len() || common + 1 != r.len() {
                return Err(err(
                    line,
                    "chosen",
                    "chosen and rejected must share every message but one final assistant answer",
                ));
            }
            let messages = parse_messages(&Value::Array(c[..common].to_vec()))
                .map_err(|(f, m)| err(line, &f.replacen("messages", "chosen", 1), m))?;
            let ca = one_answer(line, &format!("chosen[{common}]"), &Value::Array(c[common..].to_vec()))?;
            let ra = one_answer(line, &format!("rejected[{common}]"), &Value::Array(r[common..].to_vec()))?;
            preference(line, messages, true, (chosen_model, ca), (rejected_model, ra))?
        }
        _ => return Err(err(line, "rejected", "chosen and rejected must both be strings or both message lists")),
    };
    item.external_id = external_id;
    item.meta = rest(obj, &["prompt", "chosen", "rejected", "chosen_model", "rejected_model", "id", "prompt_id"]);
    Ok(item)
}

fn arena(line: u64, obj: Map<String, Value>) -> Result<ImportItem, LineError> {
    let model_a = text_field(line, &obj, "model_a")?;
    let model_b = text_field(line, &obj, "model_b")?;
    let prior = match obj.get("winner").and_then(Value::as_str) {
        Some("model_a") => 1,
        Some("model_b") => -1,
        Some("tie") | Some("tie (bothbad)") => 0,
        _ => return Err(err(line, "winner", "must be model_a, model_b, tie or \"tie (bothbad)\"")),
    };
    let conv = |field: &str| -> Result<Vec<Value>, LineError> {
        match obj.get(field) {
            Some(Value::Array(v)) if !v.is_empty() => Ok(v.clone()),
            _ => Err(err(line, field, "must be a non-empty list of messages")),
        }
    };
    let (a, b) = (conv("conversation_a")?, conv("conversation_b")?);
    let common = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
    if common == 0 || common + 1 != a.len() || common + 1 != b.len() {
        return Err(err(
            line,
            "conversation_b",
            "the two conversations must differ only in their last answer (a multi-turn battle whose earlier answers differ cannot be re-judged as one prompt)",
        ));
    }
    let messages = parse_messages(&Value::Array(a[..common].to_vec()))
        .map_err(|(f, m)| err(line, &f.replacen("messages", "conversation_a", 1), m))?;
    let ta = one_answer(line, &format!("conversation_a[{common}]"), &Value::Array(a[common..].to_vec()))?;
    let tb = one_answer(line, &format!("conversation_b[{common}]"), &Value::Array(b[common..].to_vec()))?;
    let is_chat = messages.len() > 1;
    let mut item = preference(line, messages, is_chat, (model_a, ta), (model_b, tb))?;
    item.prior = Some(prior);
    item.external_id = id_of(&obj, &["question_id"]);
    item.meta = rest(obj, &["question_id", "model_a", "model_b", "winner", "conversation_a", "conversation_b"]);
    Ok(item)
}

pub const CSV_COLUMNS: [&str; 6] = ["prompt", "model_a", "completion_a", "model_b", "completion_b", "id"];

/// The position of each CSV column, from the header row.
pub fn csv_header(header: &[&str]) -> Result<[Option<usize>; 6], LineError> {
    let mut at = [None; 6];
    for (i, name) in header.iter().enumerate() {
        let name = name.trim().trim_start_matches('\u{feff}');
        match CSV_COLUMNS.iter().position(|c| *c == name) {
            Some(k) if at[k].is_none() => at[k] = Some(i),
            Some(_) => return Err(err(1, name, "column given twice")),
            None => return Err(err(1, name, format!("unknown column (expected {})", CSV_COLUMNS.join(", ")))),
        }
    }
    if let Some(k) = (0..5).find(|k| at[*k].is_none()) {
        return Err(err(1, CSV_COLUMNS[k], "missing column in the header row"));
    }
    Ok(at)
}

/// One CSV record: a plain prompt and two completions.
pub fn csv_record(line: u64, at: &[Option<usize>; 6], record: &[&str]) -> Result<ImportItem, LineError> {
    let cell = |k: usize| at[k].and_then(|i| record.get(i)).map(|s| s.to_string()).unwrap_or_default();
    for (k, column) in CSV_COLUMNS.iter().enumerate().take(5) {
        if cell(k).trim().is_empty() {
            return Err(err(line, column, "must not be empty"));
        }
    }
    let (ma, mb) = (cell(1).trim().to_owned(), cell(3).trim().to_owned());
    if ma == mb && cell(2) == cell(4) {
        return Err(err(line, "completion_b", "the same completion as completion_a"));
    }
    let mut item = ImportItem::new(
        vec![Message { role: Role::User, content: cell(0) }],
        false,
        vec![CompletionIn { model: ma, text: cell(2) }, CompletionIn { model: mb, text: cell(4) }],
    );
    let id = cell(5);
    item.external_id = (!id.trim().is_empty()).then_some(id);
    item.key_on_completions = true;
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_format_is_guessed_from_the_keys() {
        assert_eq!(ImportFormat::guess(&obj(json!({"prompt": "q", "completions": []}))), Some(ImportFormat::Native));
        assert_eq!(
            ImportFormat::guess(&obj(json!({"prompt": "q", "chosen": "a", "rejected": "b"}))),
            Some(ImportFormat::Trl)
        );
        assert_eq!(
            ImportFormat::guess(&obj(json!({"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "x"}))),
            Some(ImportFormat::HhRlhf)
        );
        assert_eq!(
            ImportFormat::guess(&obj(json!({"conversation_a": [], "winner": "tie"}))),
            Some(ImportFormat::Arena)
        );
        assert_eq!(ImportFormat::guess(&obj(json!({"text": "x"}))), None);
    }

    #[test]
    fn hh_lines_split_the_way_trl_splits_them() {
        let c = "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Joke?\n\nAssistant: Knock knock.";
        let r = "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Joke?\n\nAssistant: No.";
        let line = json!({"chosen": c, "rejected": r}).to_string();
        let item = ImportFormat::HhRlhf.parse_object(4, obj(json!({"chosen": c, "rejected": r})), &line).unwrap();
        assert_eq!(item.messages.len(), 3);
        assert_eq!(item.messages[1], Message { role: Role::Assistant, content: "Hello".into() });
        assert_eq!(item.completions[0].text, "Knock knock.");
        assert_eq!(item.completions[1].text, "No.");
        assert_eq!((item.completions[0].model.as_str(), item.prior), ("chosen", Some(1)));
        assert_eq!(item.source.as_deref(), Some(line.as_str()));
        // Answers sharing their first words: the cut goes back to the last assistant marker.
        let (m, a, b) = split_hh("\n\nHuman: q\n\nAssistant: The cat", "\n\nHuman: q\n\nAssistant: The dog").unwrap();
        assert_eq!((m.len(), a.as_str(), b.as_str()), (1, "The cat", "The dog"));
    }

    #[test]
    fn trl_rows_in_every_shape_become_a_prompt_and_two_answers() {
        let explicit = ImportFormat::Trl
            .parse_object(1, obj(json!({"prompt": "q", "chosen": "a", "rejected": "b", "margin": 0.5})), "")
            .unwrap();
        assert!(!explicit.is_chat);
        assert_eq!(explicit.meta.unwrap()["margin"], 0.5);
        let conv = ImportFormat::Trl
            .parse_object(
                1,
                obj(json!({"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]})),
                "",
            )
            .unwrap();
        assert!(conv.is_chat);
        assert_eq!(conv.completions[1].text, "b");
        let implicit = ImportFormat::Trl
            .parse_object(1, obj(json!({"chosen": "The sky is blue.", "rejected": "The sky is green."})), "")
            .unwrap();
        assert_eq!(implicit.messages[0].content, "The sky is");
        assert_eq!(implicit.completions[0].text, " blue.");
        let implicit_conv = ImportFormat::Trl
            .parse_object(
                1,
                obj(json!({"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                           "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}]})),
                "",
            )
            .unwrap();
        assert_eq!(implicit_conv.messages.len(), 1);
        let e = ImportFormat::Trl
            .parse_object(9, obj(json!({"prompt": "q", "chosen": "a", "rejected": "a"})), "")
            .unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (9, Some("rejected")));
    }

    #[test]
    fn arena_battles_keep_models_winner_and_the_rest_as_meta() {
        let conv = |a: &str| json!([{"role": "user", "content": "q"}, {"role": "assistant", "content": a}]);
        let item = ImportFormat::Arena
            .parse_object(
                2,
                obj(json!({"question_id": "b1", "model_a": "m1", "model_b": "m2", "winner": "model_b",
                           "conversation_a": conv("x"), "conversation_b": conv("y"), "turn": 1, "judge": "j"})),
                "",
            )
            .unwrap();
        assert_eq!((item.completions[0].model.as_str(), item.completions[1].model.as_str()), ("m1", "m2"));
        assert_eq!(item.prior, Some(-1));
        assert_eq!(item.external_id.as_deref(), Some("b1"));
        assert_eq!(item.meta.unwrap()["judge"], "j");
        let e = ImportFormat::Arena
            .parse_object(2, obj(json!({"model_a": "m1", "model_b": "m2", "winner": "a", "conversation_a": conv("x"), "conversation_b": conv("y")})), "")
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("winner"));
    }

    #[test]
    fn csv_headers_and_records_name_what_is_wrong() {
        let at = csv_header(&["id", "prompt", "model_a", "completion_a", "model_b", "completion_b"]).unwrap();
        let item = csv_record(3, &at, &["x1", "q", "m1", "a", "m2", "b"]).unwrap();
        assert_eq!(item.external_id.as_deref(), Some("x1"));
        assert_eq!(item.completions[1].model, "m2");
        assert_eq!(
            csv_header(&["prompt", "model_a", "completion_a", "model_b"]).unwrap_err().field.as_deref(),
            Some("completion_b")
        );
        assert_eq!(csv_header(&["prompt", "answer"]).unwrap_err().field.as_deref(), Some("answer"));
        let e = csv_record(5, &at, &["x1", "q", "m1", "", "m2", "b"]).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (5, Some("completion_a")));
    }
}
