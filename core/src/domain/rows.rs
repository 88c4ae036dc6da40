//! One row of each export format, built from a pair (or an annotation) and
//! what its votes decided. Every row of a file has the same columns: the
//! file's form is decided before the first row (see `form`).
use super::dataset::Outcome;
use super::form::{completion_part, flatten, prompt_part, Form, NotFlattenable, Part};
use super::import::{Message, Role};
use super::verdict::{round3, PairTally, Winner};
use serde_json::{json, Value};

pub struct PairTexts<'a> {
    pub messages: &'a [Message],
    pub is_chat: bool,
    pub a: &'a str,
    pub b: &'a str,
}

impl<'a> PairTexts<'a> {
    /// (chosen, rejected) texts; a kept tie goes out in canonical order.
    fn ordered(&self, outcome: Outcome) -> (&'a str, &'a str) {
        match outcome {
            Outcome::Chosen { winner: Winner::B, .. } => (self.b, self.a),
            _ => (self.a, self.b),
        }
    }
}

fn margin_of(outcome: Outcome) -> Option<f64> {
    match outcome {
        Outcome::Chosen { margin, .. } | Outcome::Tie { margin } => margin,
        Outcome::BothBad => None,
    }
}

fn with_margin(mut row: Value, outcome: Outcome) -> Value {
    if let Some(m) = margin_of(outcome) {
        row["margin"] = json!(round3(m));
    }
    row
}

/// One `rewards` row: a completion of a prompt with its reward (centred
/// within the prompt), standard error, votes it took part in and rank.
pub struct RewardRecord<'a> {
    pub messages: &'a [Message],
    pub is_chat: bool,
    pub completion: &'a str,
    pub model: &'a str,
    pub reward: super::reward::Reward,
    pub n: i64,
    pub rank: u32,
}

pub fn reward(r: &RewardRecord<'_>, form: Form) -> Result<Value, NotFlattenable> {
    let round = |x: f64| (x * 1e6).round() / 1e6;
    Ok(json!({
        "prompt": prompt_part(r.messages, r.is_chat, form)?,
        "completion": r.completion,
        "model": r.model,
        "reward": round(r.reward.reward),
        "stderr": round(r.reward.stderr),
        "n": r.n,
        "rank": r.rank,
    }))
}

/// A TRL row, explicit prompt: `{"prompt","chosen","rejected"[,"margin"]}`
/// (keys in sorted order, as every row's), borrowed from the page: an
/// export writes a million of these.
#[derive(Debug, serde::Serialize)]
pub struct Trl<'a> {
    pub chosen: Part<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<f64>,
    pub prompt: Part<'a>,
    pub rejected: Part<'a>,
}

pub fn trl<'a>(texts: &PairTexts<'a>, outcome: Outcome, form: Form) -> Result<Trl<'a>, NotFlattenable> {
    let (chosen, rejected) = texts.ordered(outcome);
    Ok(Trl {
        chosen: completion_part(chosen, form),
        margin: margin_of(outcome).map(round3),
        prompt: prompt_part(texts.messages, texts.is_chat, form)?,
        rejected: completion_part(rejected, form),
    })
}

/// The whole dialogue ending in `answer`: HH-RLHF text in the standard form
/// (so the prompt can be told apart again), a message list in the
/// conversational one.
fn dialogue(messages: &[Message], answer: &str, form: Form) -> Result<Value, NotFlattenable> {
    Ok(match form {
        Form::Standard => Value::String(flatten(messages)? + answer),
        Form::Conversational => json!(with_answer(messages, answer)),
    })
}

fn with_answer(messages: &[Message], answer: &str) -> Vec<Message> {
    let mut all = messages.to_vec();
    all.push(Message { role: Role::Assistant, content: answer.to_owned() });
    all
}

/// TRL, implicit prompt: `{"chosen","rejected"[,"margin"]}`, each the whole dialogue.
pub fn trl_implicit(texts: &PairTexts<'_>, outcome: Outcome, form: Form) -> Result<Value, NotFlattenable> {
    let (chosen, rejected) = texts.ordered(outcome);
    let row = json!({
        "chosen": dialogue(texts.messages, chosen, form)?,
        "rejected": dialogue(texts.messages, rejected, form)?,
    });
    Ok(with_margin(row, outcome))
}

/// OpenAI preference fine-tuning: the prompt as `input.messages`, each
/// answer as one assistant message.
pub fn openai_dpo(texts: &PairTexts<'_>, outcome: Outcome) -> Value {
    let (chosen, rejected) = texts.ordered(outcome);
    json!({
        "input": {"messages": texts.messages},
        "preferred_output": [{"role": "assistant", "content": chosen}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    })
}

/// An HH-RLHF line (without its newline). A pair imported from an HH-RLHF
/// line (`source`) goes out as that line, byte for byte, when the people
/// here agree with it, and with its two values swapped (each as written
/// there) when they prefer the other answer.
pub fn hh_rlhf(texts: &PairTexts<'_>, outcome: Outcome, source: Option<&str>) -> Result<String, NotFlattenable> {
    if let Some(line) = source {
        #[derive(serde::Deserialize)]
        struct Original<'a> {
            #[serde(borrow)]
            chosen: &'a serde_json::value::RawValue,
            #[serde(borrow)]
            rejected: &'a serde_json::value::RawValue,
        }
        if let Ok(o) = serde_json::from_str::<Original<'_>>(line) {
            // Imported as A = chosen, B = rejected.
            return Ok(match outcome {
                Outcome::Chosen { winner: Winner::B, .. } => {
                    format!("{{\"chosen\": {}, \"rejected\": {}}}", o.rejected.get(), o.chosen.get())
                }
                _ => line.to_owned(),
            });
        }
    }
    let (chosen, rejected) = texts.ordered(outcome);
    let prompt = flatten(texts.messages)?;
    let row = json!({"chosen": format!("{prompt}{chosen}"), "rejected": format!("{prompt}{rejected}")});
    Ok(row.to_string())
}

/// A Chatbot Arena battle, FastChat's fields (one per annotation).
pub struct Battle<'a> {
    pub question_id: &'a str,
    pub model_a: &'a str,
    pub model_b: &'a str,
    /// Canonical: positive favours A.
    pub choice: i64,
    pub both_bad: bool,
    pub judge: &'a str,
    pub tstamp_ms: i64,
}

pub fn arena(texts: &PairTexts<'_>, b: &Battle<'_>) -> Value {
    let winner = match (b.both_bad, b.choice.signum()) {
        (true, _) => "tie (bothbad)",
        (false, 1) => "model_a",
        (false, -1) => "model_b",
        _ => "tie",
    };
    json!({
        "question_id": b.question_id,
        "model_a": b.model_a,
        "model_b": b.model_b,
        "winner": winner,
        "judge": b.judge,
        "conversation_a": with_answer(texts.messages, texts.a),
        "conversation_b": with_answer(texts.messages, texts.b),
        "turn": texts.messages.iter().filter(|m| m.role == Role::User).count(),
        "tstamp": b.tstamp_ms as f64 / 1000.0,
    })
}

/// One row of the `pairs` table.
pub struct PairRecord<'a> {
    pub pair_id: &'a str,
    pub prompt_id: &'a str,
    pub external_id: Option<&'a str>,
    pub model_a: &'a str,
    pub model_b: &'a str,
    pub tally: &'a PairTally,
    /// The imported preference, canonical (−1, 0, 1).
    pub prior: Option<i64>,
}

pub fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Chosen { winner: Winner::A, .. } => "a",
        Outcome::Chosen { winner: Winner::B, .. } => "b",
        Outcome::Tie { .. } => "tie",
        Outcome::BothBad => "both_bad",
    }
}

fn side(sign: i64) -> &'static str {
    match sign.signum() {
        1 => "a",
        -1 => "b",
        _ => "tie",
    }
}

/// Whether the people here agree with an imported preference: the same
/// winner by the sum of their votes, or both a tie.
pub fn agrees_with_prior(tally: &PairTally, prior: i64) -> bool {
    tally.sum_choice().signum() == prior.signum()
}

pub fn pairs(r: &PairRecord<'_>, outcome: Outcome) -> Value {
    let t = r.tally;
    json!({
        "pair_id": r.pair_id,
        "prompt_id": r.prompt_id,
        "external_id": r.external_id,
        "model_a": r.model_a,
        "model_b": r.model_b,
        "n": t.votes(),
        "votes_a": t.for_a(),
        "votes_tie": t.ties(),
        "votes_b": t.for_b(),
        "both_bad": t.both_bad,
        "flagged": t.flagged,
        "mean_score": round3(t.mean_score()),
        "agreement": round3(t.agreement()),
        "label": label(outcome),
        "prior": r.prior.map(side),
        "agrees_with_prior": r.prior.map(|p| agrees_with_prior(t, p)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(winner: Winner, margin: f64) -> Outcome {
        Outcome::Chosen { winner, margin: Some(margin) }
    }

    fn user(s: &str) -> Message {
        Message { role: Role::User, content: s.into() }
    }

    fn trl_json(t: &PairTexts<'_>, outcome: Outcome, form: Form) -> Value {
        serde_json::to_value(trl(t, outcome, form).unwrap()).unwrap()
    }

    /// A TRL row as it was built before rows were borrowed: a `Value`.
    fn trl_as_value(t: &PairTexts<'_>, outcome: Outcome, form: Form) -> Value {
        let (chosen, rejected) = t.ordered(outcome);
        let answer = |text: &str| match form {
            Form::Standard => json!(text),
            Form::Conversational => json!([{"role": "assistant", "content": text}]),
        };
        let prompt = match form {
            Form::Conversational => serde_json::to_value(t.messages).unwrap(),
            Form::Standard if t.is_chat => json!(flatten(t.messages).unwrap()),
            Form::Standard => json!(t.messages.last().map(|m| m.content.clone()).unwrap_or_default()),
        };
        with_margin(json!({"prompt": prompt, "chosen": answer(chosen), "rejected": answer(rejected)}), outcome)
    }

    #[test]
    fn a_trl_row_is_written_as_its_value_would_be() {
        // Files written before rows were borrowed: the same bytes.
        let conv = [Message { role: Role::System, content: "sys".into() }, user("q \"quoted\"\n")];
        for (is_chat, form) in [(true, Form::Conversational), (true, Form::Standard), (false, Form::Standard)] {
            let t = PairTexts { messages: &conv, is_chat, a: "x\ty", b: "é" };
            for outcome in [chosen(Winner::B, 2.0 / 3.0), Outcome::BothBad] {
                let row = trl(&t, outcome, form).unwrap();
                assert_eq!(serde_json::to_string(&row).unwrap(), trl_as_value(&t, outcome, form).to_string());
            }
        }
    }

    #[test]
    fn plain_prompt_row_puts_the_winner_in_chosen() {
        let msgs = [user("q")];
        let t = PairTexts { messages: &msgs, is_chat: false, a: "A text", b: "B text" };
        let r = trl_json(&t, chosen(Winner::B, 2.0 / 3.0), Form::Standard);
        assert_eq!(r, json!({"prompt": "q", "chosen": "B text", "rejected": "A text", "margin": 0.667}));
    }

    #[test]
    fn the_conversational_form_holds_plain_prompts_and_conversations_alike() {
        let plain = [user("q")];
        let t = PairTexts { messages: &plain, is_chat: false, a: "x", b: "y" };
        let r = trl_json(&t, chosen(Winner::A, 1.0), Form::Conversational);
        assert_eq!(r["prompt"], json!([{"role": "user", "content": "q"}]));
        assert_eq!(r["chosen"], json!([{"role": "assistant", "content": "x"}]));
        assert_eq!(r["rejected"], json!([{"role": "assistant", "content": "y"}]));
        let conv = [Message { role: Role::System, content: "sys".into() }, user("q")];
        let t = PairTexts { messages: &conv, is_chat: true, a: "x", b: "y" };
        let r = trl_json(&t, chosen(Winner::A, 1.0), Form::Conversational);
        assert_eq!(r["prompt"], json!([{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}]));
        assert_eq!(r["margin"], json!(1.0));
    }

    #[test]
    fn the_standard_form_flattens_a_conversation() {
        let conv = [Message { role: Role::System, content: "sys".into() }, user("q")];
        let t = PairTexts { messages: &conv, is_chat: true, a: "x", b: "y" };
        let r = trl_json(&t, chosen(Winner::B, 1.0), Form::Standard);
        assert_eq!(r["prompt"], "\n\nSystem: sys\n\nHuman: q\n\nAssistant: ");
        assert_eq!(r["chosen"], "y");
    }

    #[test]
    fn a_kept_tie_goes_out_in_canonical_order_with_margin_zero() {
        let msgs = [user("q")];
        let t = PairTexts { messages: &msgs, is_chat: false, a: "x", b: "y" };
        let r = trl_json(&t, Outcome::Tie { margin: Some(0.0) }, Form::Standard);
        assert_eq!(r, json!({"prompt": "q", "chosen": "x", "rejected": "y", "margin": 0.0}));
        let r = trl_json(&t, Outcome::Chosen { winner: Winner::A, margin: None }, Form::Standard);
        assert!(r.get("margin").is_none());
    }

    #[test]
    fn implicit_rows_carry_the_whole_dialogue() {
        let msgs = [user("q")];
        let t = PairTexts { messages: &msgs, is_chat: false, a: "x", b: "y" };
        let r = trl_implicit(&t, chosen(Winner::B, 1.0), Form::Standard).unwrap();
        assert_eq!(r["chosen"], "\n\nHuman: q\n\nAssistant: y");
        let r = trl_implicit(&t, chosen(Winner::B, 1.0), Form::Conversational).unwrap();
        assert_eq!(r["rejected"], json!([{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}]));
    }

    #[test]
    fn openai_rows_put_the_prompt_in_input_messages() {
        let msgs = [Message { role: Role::System, content: "s".into() }, user("q")];
        let t = PairTexts { messages: &msgs, is_chat: true, a: "x", b: "y" };
        let r = openai_dpo(&t, chosen(Winner::A, 1.0));
        assert_eq!(
            r,
            json!({"input": {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]},
                   "preferred_output": [{"role": "assistant", "content": "x"}],
                   "non_preferred_output": [{"role": "assistant", "content": "y"}]})
        );
    }

    #[test]
    fn an_hh_line_comes_back_as_written_or_swapped_value_for_value() {
        let line = r#"{"chosen": "\n\nHuman: caf\u00e9?\n\nAssistant: Oui", "rejected": "\n\nHuman: caf\u00e9?\n\nAssistant: Non"}"#;
        let msgs = [user("café?")];
        let t = PairTexts { messages: &msgs, is_chat: true, a: "Oui", b: "Non" };
        assert_eq!(hh_rlhf(&t, chosen(Winner::A, 1.0), Some(line)).unwrap(), line);
        assert_eq!(
            hh_rlhf(&t, chosen(Winner::B, 1.0), Some(line)).unwrap(),
            r#"{"chosen": "\n\nHuman: caf\u00e9?\n\nAssistant: Non", "rejected": "\n\nHuman: caf\u00e9?\n\nAssistant: Oui"}"#
        );
        let made: Value = serde_json::from_str(&hh_rlhf(&t, chosen(Winner::B, 1.0), None).unwrap()).unwrap();
        assert_eq!(
            made,
            json!({"chosen": "\n\nHuman: café?\n\nAssistant: Non", "rejected": "\n\nHuman: café?\n\nAssistant: Oui"})
        );
    }

    #[test]
    fn arena_winners_follow_the_canonical_choice_and_both_bad() {
        let msgs = [user("q")];
        let t = PairTexts { messages: &msgs, is_chat: false, a: "x", b: "y" };
        let b = |choice, both_bad| Battle {
            question_id: "q1",
            model_a: "m1",
            model_b: "m2",
            choice,
            both_bad,
            judge: "j",
            tstamp_ms: 1500,
        };
        assert_eq!(arena(&t, &b(2, false))["winner"], "model_a");
        assert_eq!(arena(&t, &b(-1, false))["winner"], "model_b");
        assert_eq!(arena(&t, &b(0, false))["winner"], "tie");
        let r = arena(&t, &b(1, true));
        assert_eq!(r["winner"], "tie (bothbad)");
        assert_eq!(r["turn"], 1);
        assert_eq!(r["tstamp"], 1.5);
        assert_eq!(
            r["conversation_b"],
            json!([{"role": "user", "content": "q"}, {"role": "assistant", "content": "y"}])
        );
    }
}
