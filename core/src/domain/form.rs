//! One export file has one schema. A prompt column holds either text (the
//! "standard" form) or a message list (the "conversational" form) for every
//! row, never a mix: a file that mixes them does not load as typed columns
//! (pyarrow, `datasets`), and TRL decides the form for the whole dataset from
//! its first row.
use super::import::{Message, Role};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The form of every row of one export file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    /// Prompts and completions as text; a conversation is flattened (see `flatten`).
    Standard,
    /// Prompts as message lists, completions as one assistant message; a plain
    /// prompt becomes `[{"role": "user", "content": …}]`.
    Conversational,
}

/// What the admin asked for (`--form`, `&form=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormChoice {
    /// Conversational as soon as one prompt in the export is a conversation, else standard.
    #[default]
    Auto,
    Standard,
    Conversational,
}

impl FormChoice {
    pub fn parse(s: &str) -> Result<FormChoice, super::FieldError> {
        match s {
            "auto" => Ok(FormChoice::Auto),
            "standard" => Ok(FormChoice::Standard),
            "conversational" => Ok(FormChoice::Conversational),
            other => Err(super::FieldError::new(
                "form",
                format!("unknown form {other:?} (auto, standard or conversational)"),
            )),
        }
    }

    /// The form to write, and why, given how many of the prompts that will be
    /// written are conversations.
    pub fn decide(self, prompts: u64, conversations: u64) -> (Form, String) {
        match self {
            FormChoice::Standard => (Form::Standard, "asked for standard".into()),
            FormChoice::Conversational => (Form::Conversational, "asked for conversational".into()),
            FormChoice::Auto if conversations > 0 => {
                (Form::Conversational, format!("auto: {conversations} of {prompts} exported prompts are conversations"))
            }
            FormChoice::Auto => (Form::Standard, format!("auto: none of {prompts} exported prompts is a conversation")),
        }
    }
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Form::Standard => "standard",
            Form::Conversational => "conversational",
        })
    }
}

/// Markers of the flattened text form, Anthropic HH-RLHF's.
pub const HUMAN: &str = "\n\nHuman: ";
pub const ASSISTANT: &str = "\n\nAssistant: ";
pub const SYSTEM: &str = "\n\nSystem: ";

/// A conversation that cannot be flattened without losing where turns end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a turn contains {marker:?}, so the conversation cannot be flattened reversibly; export with form=conversational"
)]
pub struct NotFlattenable {
    pub marker: &'static str,
}

fn marker(role: Role) -> &'static str {
    match role {
        Role::System => SYSTEM,
        Role::User => HUMAN,
        Role::Assistant => ASSISTANT,
    }
}

/// A conversation as one text, the way HH-RLHF writes it: each turn as
/// `"\n\nHuman: …"`, `"\n\nAssistant: …"` or `"\n\nSystem: …"`, ending with
/// `"\n\nAssistant: "`, so that prompt + completion is the whole dialogue.
/// Reversible (`unflatten`) because no turn may contain a marker; one that
/// does is refused rather than written ambiguously.
pub fn flatten(messages: &[Message]) -> Result<String, NotFlattenable> {
    let mut out = String::new();
    for m in messages {
        if let Some(mk) = [HUMAN, ASSISTANT, SYSTEM].into_iter().find(|mk| m.content.contains(mk)) {
            return Err(NotFlattenable { marker: mk });
        }
        out.push_str(marker(m.role));
        out.push_str(&m.content);
    }
    out.push_str(ASSISTANT);
    Ok(out)
}

/// The inverse of `flatten`.
pub fn unflatten(text: &str) -> Option<Vec<Message>> {
    let body = text.strip_suffix(ASSISTANT)?;
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (role, after) = [(Role::User, HUMAN), (Role::Assistant, ASSISTANT), (Role::System, SYSTEM)]
            .into_iter()
            .find_map(|(r, mk)| rest.strip_prefix(mk).map(|a| (r, a)))?;
        let end = [HUMAN, ASSISTANT, SYSTEM].iter().filter_map(|mk| after.find(mk)).min().unwrap_or(after.len());
        out.push(Message { role, content: after[..end].to_owned() });
        rest = &after[end..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(role: Role, c: &str) -> Message {
        Message { role, content: c.into() }
    }

    #[test]
    fn auto_goes_conversational_as_soon_as_one_prompt_is_a_conversation() {
        assert_eq!(FormChoice::Auto.decide(9, 0).0, Form::Standard);
        let (form, why) = FormChoice::Auto.decide(9, 2);
        assert_eq!(form, Form::Conversational);
        assert!(why.contains("2 of 9"), "{why}");
        assert_eq!(FormChoice::Standard.decide(9, 2).0, Form::Standard);
        assert_eq!(FormChoice::Conversational.decide(9, 0).0, Form::Conversational);
        assert!(FormChoice::parse("chat").is_err());
    }

    #[test]
    fn a_conversation_flattens_the_hh_rlhf_way_and_back() {
        let conv = vec![
            m(Role::System, "Be brief."),
            m(Role::User, "Hi"),
            m(Role::Assistant, "Hello!\n\nHow can I help?"),
            m(Role::User, "A joke?"),
        ];
        let flat = flatten(&conv).unwrap();
        assert_eq!(
            flat,
            "\n\nSystem: Be brief.\n\nHuman: Hi\n\nAssistant: Hello!\n\nHow can I help?\n\nHuman: A joke?\n\nAssistant: "
        );
        assert_eq!(unflatten(&flat).unwrap(), conv);
    }

    #[test]
    fn a_turn_that_contains_a_marker_is_refused() {
        let conv = vec![m(Role::User, "Write: \n\nAssistant: sure")];
        assert_eq!(flatten(&conv), Err(NotFlattenable { marker: ASSISTANT }));
        // The word alone is fine.
        assert!(flatten(&[m(Role::User, "Human: a word, Assistant: another")]).is_ok());
    }
}

/// A prompt or an answer in the file's form, borrowed from the row it
/// comes from: text, or a message list. Written (JSON) as a `Value` would
/// write it, each message's keys in sorted order.
#[derive(Debug, Clone, PartialEq)]
pub enum Part<'a> {
    Text(std::borrow::Cow<'a, str>),
    Messages(&'a [Message]),
    /// One assistant message.
    Answer(&'a str),
}

/// A message as a `Value` writes it: keys sorted.
#[derive(serde::Serialize)]
struct Turn<'a> {
    content: &'a str,
    role: Role,
}

impl serde::Serialize for Part<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Part::Text(t) => s.serialize_str(t),
            Part::Messages(m) => s.collect_seq(m.iter().map(|m| Turn { content: &m.content, role: m.role })),
            Part::Answer(a) => s.collect_seq([Turn { content: a, role: Role::Assistant }]),
        }
    }
}

/// A prompt in the file's form: text (a plain prompt as written, a
/// conversation flattened) or a message list.
pub fn prompt_part(messages: &[Message], is_chat: bool, form: Form) -> Result<Part<'_>, NotFlattenable> {
    Ok(match form {
        Form::Conversational => Part::Messages(messages),
        Form::Standard if is_chat => Part::Text(flatten(messages)?.into()),
        Form::Standard => Part::Text(messages.last().map(|m| m.content.as_str()).unwrap_or_default().into()),
    })
}

/// A completion in the file's form: its text, or one assistant message.
pub fn completion_part(text: &str, form: Form) -> Part<'_> {
    match form {
        Form::Standard => Part::Text(text.into()),
        Form::Conversational => Part::Answer(text),
    }
}
