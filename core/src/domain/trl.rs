//! TRL's preference format (explicit prompt), one JSON object a line:
//! `{"prompt": …, "chosen": …, "rejected": …, "margin": 0.667}`, in the
//! standard form (text) or the conversational form (message lists), the same
//! form for every row of a file (`form`).
use super::form::{completion_value, prompt_value, Form, NotFlattenable};
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
pub fn row(texts: &PairTexts<'_>, verdict: Verdict, form: Form) -> Result<Option<Value>, NotFlattenable> {
    let Verdict::Chosen { winner, margin } = verdict else {
        return Ok(None);
    };
    let (chosen, rejected) = match winner {
        Winner::A => (texts.a, texts.b),
        Winner::B => (texts.b, texts.a),
    };
    Ok(Some(json!({
        "prompt": prompt_value(texts.messages, texts.is_chat, form)?,
        "chosen": completion_value(chosen, form),
        "rejected": completion_value(rejected, form),
        "margin": round3(margin),
    })))
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
        let r = row(&t, Verdict::Chosen { winner: Winner::B, margin: 2.0 / 3.0 }, Form::Standard).unwrap().unwrap();
        assert_eq!(r, json!({"prompt": "q", "chosen": "B text", "rejected": "A text", "margin": 0.667}));
    }

    #[test]
    fn the_conversational_form_holds_plain_prompts_and_conversations_alike() {
        let plain = [user("q")];
        let t = PairTexts { messages: &plain, is_chat: false, a: "x", b: "y" };
        let r = row(&t, Verdict::Chosen { winner: Winner::A, margin: 1.0 }, Form::Conversational).unwrap().unwrap();
        assert_eq!(r["prompt"], json!([{"role": "user", "content": "q"}]));
        assert_eq!(r["chosen"], json!([{"role": "assistant", "content": "x"}]));
        assert_eq!(r["rejected"], json!([{"role": "assistant", "content": "y"}]));
        let conv = [Message { role: Role::System, content: "sys".into() }, user("q")];
        let t = PairTexts { messages: &conv, is_chat: true, a: "x", b: "y" };
        let r = row(&t, Verdict::Chosen { winner: Winner::A, margin: 1.0 }, Form::Conversational).unwrap().unwrap();
        assert_eq!(r["prompt"], json!([{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}]));
        assert_eq!(r["margin"], json!(1.0));
    }

    #[test]
    fn the_standard_form_flattens_a_conversation() {
        let conv = [Message { role: Role::System, content: "sys".into() }, user("q")];
        let t = PairTexts { messages: &conv, is_chat: true, a: "x", b: "y" };
        let r = row(&t, Verdict::Chosen { winner: Winner::B, margin: 1.0 }, Form::Standard).unwrap().unwrap();
        assert_eq!(r["prompt"], "\n\nSystem: sys\n\nHuman: q\n\nAssistant: ");
        assert_eq!(r["chosen"], "y");
    }

    #[test]
    fn ties_and_both_bad_have_no_row() {
        let msgs = [user("q")];
        let t = PairTexts { messages: &msgs, is_chat: false, a: "x", b: "y" };
        for v in [Verdict::Tie, Verdict::BothBad, Verdict::Unlabelled] {
            assert!(row(&t, v, Form::Standard).unwrap().is_none());
        }
    }
}
