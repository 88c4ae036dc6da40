//! TRL's preference format ("standard, explicit prompt"), one JSON object a line:
//! `{"prompt": "…", "chosen": "…", "rejected": "…", "margin": 0.667}`; for a
//! conversation, `prompt` is the message list and chosen/rejected are one
//! assistant turn each (TRL's conversational form).
use super::import::Message;
use super::verdict::{round3, Verdict, Winner};
use serde_json::{json, Value};

pub struct PairTexts<'a> {
    pub messages: &'a [Message],
    pub is_chat: bool,
    pub a: &'a str,
    pub b: &'a str,
}

/// The row for a pair, or `None` when the verdict has no winner (ties,
/// both-bad, unlabelled): TRL cannot hold those.
pub fn row(texts: &PairTexts<'_>, verdict: Verdict) -> Option<Value> {
    let Verdict::Chosen { winner, margin } = verdict else {
        return None;
    };
    let (chosen, rejected) = match winner {
        Winner::A => (texts.a, texts.b),
        Winner::B => (texts.b, texts.a),
    };
    let margin = round3(margin);
    Some(if texts.is_chat {
        json!({
            "prompt": texts.messages,
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
            "margin": margin,
        })
    } else {
        let prompt = texts.messages.last().map(|m| m.content.as_str()).unwrap_or_default();
        json!({"prompt": prompt, "chosen": chosen, "rejected": rejected, "margin": margin})
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::import::Role;

    fn user(s: &str) -> Message {
        Message { role: Role::User, content: s.into() }
    }

    #[test]
    fn plain_prompt_row_puts_the_winner_in_chosen() {
        let msgs = [user("q")];
        let t = PairTexts { messages: &msgs, is_chat: false, a: "A text", b: "B text" };
        let r = row(&t, Verdict::Chosen { winner: Winner::B, margin: 2.0 / 3.0 }).unwrap();
        assert_eq!(r, json!({"prompt": "q", "chosen": "B text", "rejected": "A text", "margin": 0.667}));
    }

    #[test]
    fn conversation_row_uses_the_conversational_form() {
        let msgs = [Message { role: Role::System, content: "sys".into() }, user("q")];
        let t = PairTexts { messages: &msgs, is_chat: true, a: "x", b: "y" };
        let r = row(&t, Verdict::Chosen { winner: Winner::A, margin: 1.0 }).unwrap();
        assert_eq!(r["prompt"], json!([{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}]));
        assert_eq!(r["chosen"], json!([{"role": "assistant", "content": "x"}]));
        assert_eq!(r["rejected"], json!([{"role": "assistant", "content": "y"}]));
        assert_eq!(r["margin"], json!(1.0));
    }

    #[test]
    fn ties_and_both_bad_have_no_row() {
        let msgs = [user("q")];
        let t = PairTexts { messages: &msgs, is_chat: false, a: "x", b: "y" };
        assert!(row(&t, Verdict::Tie).is_none());
        assert!(row(&t, Verdict::BothBad).is_none());
        assert!(row(&t, Verdict::Unlabelled).is_none());
    }
}
