//! What an export is asked for, parsed once at the edge: the format, the file
//! type, the margin, and the filters that decide which rows go out. Every row
//! left out is counted under one reason.
use super::verdict::{PairTally, Verdict, Winner};
use super::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// TRL, explicit prompt: `{"prompt","chosen","rejected","margin"}`.
    Trl,
    /// TRL, implicit prompt: `{"chosen","rejected","margin"}`, each the whole dialogue.
    TrlImplicit,
    /// OpenAI preference fine-tuning.
    OpenaiDpo,
    /// Anthropic HH-RLHF: `{"chosen","rejected"}` as `\n\nHuman: …\n\nAssistant: …` text.
    HhRlhf,
    /// Chatbot Arena battles (FastChat's fields), one per annotation.
    Arena,
    /// One row per annotation with everything about it.
    Raw,
    /// One row per pair with its votes and statistics.
    Pairs,
    /// One row per judged completion: its reward (Bradley–Terry over the
    /// votes on its prompt's pairs, centred within the prompt), standard
    /// error, number of votes and rank.
    Rewards,
}

pub const FORMATS: [Format; 8] = [
    Format::Trl,
    Format::TrlImplicit,
    Format::OpenaiDpo,
    Format::HhRlhf,
    Format::Arena,
    Format::Raw,
    Format::Pairs,
    Format::Rewards,
];

impl Format {
    pub fn parse(s: &str) -> Result<Format, FieldError> {
        FORMATS.into_iter().find(|f| f.name() == s).ok_or_else(|| {
            let names: Vec<&str> = FORMATS.iter().map(|f| f.name()).collect();
            FieldError::new("format", format!("unknown format {s:?} (available: {})", names.join(", ")))
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Trl => "trl",
            Format::TrlImplicit => "trl-implicit",
            Format::OpenaiDpo => "openai-dpo",
            Format::HhRlhf => "hh-rlhf",
            Format::Arena => "arena",
            Format::Raw => "raw",
            Format::Pairs => "pairs",
            Format::Rewards => "rewards",
        }
    }

    /// One row per annotation (else one per pair, or per completion).
    pub fn per_annotation(self) -> bool {
        matches!(self, Format::Arena | Format::Raw)
    }

    /// One row per completion, from all the votes on its prompt.
    pub fn per_completion(self) -> bool {
        self == Format::Rewards
    }

    /// A training format: chosen/rejected rows, where ties and pairs judged
    /// both bad are left out unless asked for.
    pub fn is_training(self) -> bool {
        matches!(self, Format::Trl | Format::TrlImplicit | Format::OpenaiDpo | Format::HhRlhf)
    }

    /// Whether the admin's `form` applies (standard text or message lists).
    pub fn has_form(self) -> bool {
        matches!(self, Format::Trl | Format::TrlImplicit | Format::Rewards)
    }

    /// Whether a kept tie can be written: TRL rows carry it as margin 0.
    pub fn holds_ties(self, margin: MarginMode) -> bool {
        match self {
            Format::Trl | Format::TrlImplicit => margin != MarginMode::None,
            Format::OpenaiDpo | Format::HhRlhf => false,
            Format::Arena | Format::Raw | Format::Pairs | Format::Rewards => true,
        }
    }

    pub fn file_types(self) -> &'static [FileType] {
        match self {
            Format::Raw | Format::Pairs | Format::Rewards => &[FileType::Jsonl, FileType::Csv, FileType::Parquet],
            _ => &[FileType::Jsonl, FileType::Parquet],
        }
    }

    pub fn file_name(self, slug: &str, as_: FileType) -> String {
        format!("{slug}-{}.{}", self.name(), as_.extension())
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    Jsonl,
    Csv,
    Parquet,
}

impl FileType {
    pub fn parse(s: &str) -> Result<FileType, FieldError> {
        match s {
            "jsonl" => Ok(FileType::Jsonl),
            "csv" => Ok(FileType::Csv),
            "parquet" => Ok(FileType::Parquet),
            other => Err(FieldError::new("as", format!("unknown file type {other:?} (jsonl, csv or parquet)"))),
        }
    }

    /// The type a file name asks for by its extension, if it names one.
    pub fn from_extension(name: &str) -> Option<FileType> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "json" | "ndjson" => Some(FileType::Jsonl),
            "csv" => Some(FileType::Csv),
            "parquet" | "pq" => Some(FileType::Parquet),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileType::Jsonl => "jsonl",
            FileType::Csv => "csv",
            FileType::Parquet => "parquet",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileType::Jsonl => "application/jsonl; charset=utf-8",
            FileType::Csv => "text/csv; charset=utf-8",
            FileType::Parquet => "application/vnd.apache.parquet",
        }
    }
}

impl std::fmt::Display for FileType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.extension())
    }
}

/// The type of one column of an export file (CSV header, Parquet schema
/// and the dataset card's features are all made from these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Str,
    Int,
    Float,
    Bool,
    /// A list of strings.
    Strs,
    /// A list of `{role, content}` messages.
    Messages,
    /// `{"messages": [...]}` (OpenAI's `input`).
    Input,
}

/// The columns of a file, in order. `form` matters for TRL formats only.
pub fn columns(format: Format, form: super::form::Form, margin: MarginMode) -> Vec<(&'static str, Col)> {
    use Col::*;
    let text = if form == super::form::Form::Conversational { Messages } else { Str };
    let mut cols = match format {
        Format::Trl => vec![("prompt", text), ("chosen", text), ("rejected", text)],
        Format::TrlImplicit => vec![("chosen", text), ("rejected", text)],
        Format::OpenaiDpo => vec![("input", Input), ("preferred_output", Messages), ("non_preferred_output", Messages)],
        Format::HhRlhf => vec![("chosen", Str), ("rejected", Str)],
        Format::Arena => vec![
            ("question_id", Str),
            ("model_a", Str),
            ("model_b", Str),
            ("winner", Str),
            ("judge", Str),
            ("conversation_a", Messages),
            ("conversation_b", Messages),
            ("turn", Int),
            ("tstamp", Float),
        ],
        Format::Raw => vec![
            ("annotation_id", Str),
            ("pair_id", Str),
            ("prompt_id", Str),
            ("external_id", Str),
            ("completion_a_id", Str),
            ("completion_b_id", Str),
            ("model_a", Str),
            ("model_b", Str),
            ("annotator", Str),
            ("choice_shown", Int),
            ("choice", Int),
            ("left", Str),
            ("both_bad", Bool),
            ("flags", Strs),
            ("rationale", Str),
            ("time_ms", Int),
            ("leased_at", Str),
            ("submitted_at", Str),
            ("late", Bool),
            ("meta", Str),
            ("version", Int),
            ("latest", Bool),
        ],
        Format::Pairs => vec![
            ("pair_id", Str),
            ("prompt_id", Str),
            ("external_id", Str),
            ("model_a", Str),
            ("model_b", Str),
            ("n", Int),
            ("votes_a", Int),
            ("votes_tie", Int),
            ("votes_b", Int),
            ("both_bad", Int),
            ("flagged", Int),
            ("mean_score", Float),
            ("agreement", Float),
            ("label", Str),
            ("prior", Str),
            ("agrees_with_prior", Bool),
        ],
        Format::Rewards => vec![
            ("prompt", text),
            ("completion", Str),
            ("model", Str),
            ("reward", Float),
            ("stderr", Float),
            ("n", Int),
            ("rank", Int),
        ],
    };
    if matches!(format, Format::Trl | Format::TrlImplicit) && margin != MarginMode::None {
        cols.push(("margin", Float));
    }
    cols
}

/// The `margin` column of TRL rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MarginMode {
    /// |mean normalized score| of the pair's votes, in [0, 1].
    #[default]
    Score,
    /// The Llama-2 level of the majority: the strength most of the winning
    /// side's votes gave (much better 1, better 2/3, slightly better 1/3;
    /// a tie between strengths goes to the weaker).
    Levels,
    /// No margin column.
    None,
}

impl MarginMode {
    pub fn parse(s: &str) -> Result<MarginMode, FieldError> {
        match s {
            "score" => Ok(MarginMode::Score),
            "levels" => Ok(MarginMode::Levels),
            "none" => Ok(MarginMode::None),
            other => Err(FieldError::new("margin", format!("unknown margin {other:?} (score, levels or none)"))),
        }
    }

    /// The margin of a pair whose verdict has a winner.
    pub fn of(self, tally: &PairTally, winner: Winner) -> Option<f64> {
        match self {
            MarginMode::None => None,
            MarginMode::Score => Some(tally.toward(winner).max(0.0)),
            MarginMode::Levels => Some(f64::from(tally.majority_level(winner)) / 3.0),
        }
    }
}

/// Drop or keep one kind of row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    Drop,
    Keep,
}

impl Keep {
    pub fn parse(field: &'static str, s: &str) -> Result<Keep, FieldError> {
        match s {
            "drop" => Ok(Keep::Drop),
            "keep" => Ok(Keep::Keep),
            other => Err(FieldError::new(field, format!("{other:?}: expected drop or keep"))),
        }
    }
}

/// Which rows an export keeps. Annotator and time filters choose the
/// annotations that count at all (see the storage scope); the rest decide per
/// row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filters {
    pub min_annotations: u32,
    pub min_agreement: f64,
    pub ties: Keep,
    pub both_bad: Keep,
    pub flagged: Keep,
}

impl Filters {
    /// The defaults for a format: training formats leave out ties and pairs
    /// judged both bad; records (arena, raw, pairs) keep everything.
    pub fn defaults(format: Format) -> Filters {
        let training = if format.is_training() { Keep::Drop } else { Keep::Keep };
        Filters { min_annotations: 1, min_agreement: 0.0, ties: training, both_bad: training, flagged: Keep::Keep }
    }
}

/// Why a row was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    MinAnnotations,
    MinAgreement,
    Flagged,
    BothBad,
    Tie,
    /// A tie kept by the filters in a format that cannot hold one.
    TieNotRepresentable,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::MinAnnotations => "min_annotations",
            DropReason::MinAgreement => "min_agreement",
            DropReason::Flagged => "flagged",
            DropReason::BothBad => "both_bad",
            DropReason::Tie => "tie",
            DropReason::TieNotRepresentable => "tie_not_representable",
        }
    }
}

/// What a kept pair says in a training row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Chosen {
        winner: Winner,
        margin: Option<f64>,
    },
    /// A kept tie: A and B in canonical order, margin 0 (when there is a margin column).
    Tie {
        margin: Option<f64>,
    },
    /// A pair judged both bad by the majority, kept (records only; training
    /// formats see it as its votes say).
    BothBad,
}

/// The per-pair decision of every pair-level format (and the pair-level
/// filters of the per-annotation ones).
pub fn decide_pair(
    tally: &PairTally,
    filters: &Filters,
    format: Format,
    margin: MarginMode,
) -> Result<Outcome, DropReason> {
    pair_gate(tally, filters)?;
    if filters.flagged == Keep::Drop && tally.flagged > 0 {
        return Err(DropReason::Flagged);
    }
    let mut verdict = tally.verdict();
    if verdict == Verdict::BothBad {
        if filters.both_bad == Keep::Drop {
            return Err(DropReason::BothBad);
        }
        if !format.is_training() {
            return Ok(Outcome::BothBad);
        }
        verdict = tally.verdict_ignoring_both_bad();
    }
    match verdict {
        Verdict::Chosen { winner, .. } => Ok(Outcome::Chosen { winner, margin: margin.of(tally, winner) }),
        Verdict::Tie if filters.ties == Keep::Drop => Err(DropReason::Tie),
        Verdict::Tie if !format.holds_ties(margin) => Err(DropReason::TieNotRepresentable),
        Verdict::Tie => Ok(Outcome::Tie { margin: (margin != MarginMode::None).then_some(0.0) }),
        // Unreachable: tallies come from at least one annotation.
        Verdict::BothBad | Verdict::Unlabelled => Err(DropReason::MinAnnotations),
    }
}

/// The filters on a pair's votes as a whole, which per-annotation rows obey too.
pub fn pair_gate(tally: &PairTally, filters: &Filters) -> Result<(), DropReason> {
    // An admin decided this pair: how many voted and how far they agreed
    // no longer decides whether it is in.
    if tally.adjudicated.is_some() {
        return Ok(());
    }
    if tally.votes() < i64::from(filters.min_annotations) {
        return Err(DropReason::MinAnnotations);
    }
    if tally.agreement() + 1e-12 < filters.min_agreement {
        return Err(DropReason::MinAgreement);
    }
    Ok(())
}

/// The per-annotation filters of arena and raw rows (after `pair_gate`).
pub fn decide_annotation(choice: i64, both_bad: bool, flagged: bool, filters: &Filters) -> Result<(), DropReason> {
    if filters.flagged == Keep::Drop && flagged {
        return Err(DropReason::Flagged);
    }
    if filters.both_bad == Keep::Drop && both_bad {
        return Err(DropReason::BothBad);
    }
    if filters.ties == Keep::Drop && choice == 0 {
        return Err(DropReason::Tie);
    }
    Ok(())
}

/// Rows written and left out (pairs for pair formats, annotations for
/// per-annotation ones), per model, and the annotations that counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub rows: u64,
    pub dropped: BTreeMap<String, u64>,
    /// Annotations within the annotator and time filters.
    pub annotations: u64,
    /// Annotations of the project outside them.
    pub annotations_out_of_scope: u64,
    pub annotators: u64,
    pub models: BTreeMap<String, ModelRecord>,
    /// Rows whose label an admin set (adjudicated pairs).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub adjudicated: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub wins: u64,
    pub ties: u64,
    pub losses: u64,
}

impl Counts {
    pub fn drop(&mut self, reason: DropReason) {
        *self.dropped.entry(reason.name().to_owned()).or_default() += 1;
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// A written row's result for its two models: `outcome` > 0 A won, < 0 B won, 0 a tie.
    pub fn record(&mut self, model_a: &str, model_b: &str, outcome: i64) {
        let (a, b) = match outcome.signum() {
            1 => ((1, 0, 0), (0, 0, 1)),
            -1 => ((0, 0, 1), (1, 0, 0)),
            _ => ((0, 1, 0), (0, 1, 0)),
        };
        for (model, (w, t, l)) in [(model_a, a), (model_b, b)] {
            let m = self.models.entry(model.to_owned()).or_default();
            m.wins += w;
            m.ties += t;
            m.losses += l;
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wrote {} rows from {} annotations", self.rows, self.annotations)?;
        if self.adjudicated > 0 {
            write!(f, " ({} labelled by adjudication)", self.adjudicated)?;
        }
        if self.dropped.is_empty() {
            return f.write_str("; left out none");
        }
        let parts: Vec<String> = self.dropped.iter().map(|(k, v)| format!("{v} {k}")).collect();
        write!(f, "; left out {} ({})", self.dropped_total(), parts.join(", "))
    }
}

/// The split a prompt goes to: a stable hash of its id (the imported id,
/// else Arbiter's) against the test share, so no prompt is in two splits,
/// re-exports agree, and a re-import keeps each prompt in its split.
pub fn in_test_split(prompt_key: &str, test_share: f64) -> bool {
    if test_share <= 0.0 {
        return false;
    }
    // FNV-1a: stable across versions and platforms (unlike std's hasher).
    let mut h: u64 = 0xcbf29ce484222325;
    for b in prompt_key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    (h % 1_000_000) as f64 / 1_000_000.0 < test_share
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::verdict::tally_of as tally;

    #[test]
    fn formats_parse_by_name_and_unknown_ones_list_the_rest() {
        for f in FORMATS {
            assert_eq!(Format::parse(f.name()).unwrap(), f);
        }
        let e = Format::parse("dpo").unwrap_err();
        assert!(e.message.contains("openai-dpo"), "{}", e.message);
        assert_eq!(FileType::from_extension("x/out.PARQUET"), Some(FileType::Parquet));
        assert_eq!(FileType::from_extension("out.txt"), None);
    }

    #[test]
    fn training_defaults_drop_ties_and_both_bad_records_keep_them() {
        let f = Filters::defaults(Format::Trl);
        let tie = tally(&[(1, false), (-1, false)]);
        assert_eq!(decide_pair(&tie, &f, Format::Trl, MarginMode::Score), Err(DropReason::Tie));
        let f = Filters::defaults(Format::Pairs);
        assert!(decide_pair(&tie, &f, Format::Pairs, MarginMode::Score).is_ok());
    }

    #[test]
    fn a_kept_tie_is_margin_zero_where_the_format_has_a_margin_and_dropped_elsewhere() {
        let mut f = Filters::defaults(Format::Trl);
        f.ties = Keep::Keep;
        let tie = tally(&[(0, false)]);
        assert_eq!(decide_pair(&tie, &f, Format::Trl, MarginMode::Score), Ok(Outcome::Tie { margin: Some(0.0) }));
        assert_eq!(decide_pair(&tie, &f, Format::Trl, MarginMode::None), Err(DropReason::TieNotRepresentable));
        assert_eq!(decide_pair(&tie, &f, Format::HhRlhf, MarginMode::Score), Err(DropReason::TieNotRepresentable));
    }

    #[test]
    fn filters_apply_in_order_and_each_drop_has_one_reason() {
        let mut f = Filters::defaults(Format::Trl);
        f.min_annotations = 2;
        assert_eq!(
            decide_pair(&tally(&[(3, false)]), &f, Format::Trl, MarginMode::Score),
            Err(DropReason::MinAnnotations)
        );
        f.min_agreement = 0.7;
        let split = tally(&[(3, false), (-1, false), (2, false)]); // 2 of 3 for A
        assert_eq!(decide_pair(&split, &f, Format::Trl, MarginMode::Score), Err(DropReason::MinAgreement));
        f.min_agreement = 0.6;
        assert!(decide_pair(&split, &f, Format::Trl, MarginMode::Score).is_ok());
        let mut flagged = tally(&[(3, false)]);
        flagged.add(2, false, true);
        f.flagged = Keep::Drop;
        assert_eq!(decide_pair(&flagged, &f, Format::Trl, MarginMode::Score), Err(DropReason::Flagged));
    }

    #[test]
    fn both_bad_kept_in_a_training_format_follows_the_votes() {
        let mut f = Filters::defaults(Format::Trl);
        let bad = tally(&[(-2, true), (-1, true)]);
        assert_eq!(decide_pair(&bad, &f, Format::Trl, MarginMode::Score), Err(DropReason::BothBad));
        f.both_bad = Keep::Keep;
        match decide_pair(&bad, &f, Format::Trl, MarginMode::Score) {
            Ok(Outcome::Chosen { winner: Winner::B, margin: Some(m) }) => assert!((m - 0.5).abs() < 1e-9),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decide_pair(&bad, &Filters::defaults(Format::Pairs), Format::Pairs, MarginMode::Score),
            Ok(Outcome::BothBad)
        );
    }

    #[test]
    fn levels_take_the_strength_most_winning_votes_gave() {
        // A wins with strengths 3, 1, 1 → level 1 (slightly better) → 1/3.
        let t = tally(&[(3, false), (1, false), (1, false), (-2, false)]);
        assert_eq!(MarginMode::Levels.of(&t, Winner::A), Some(1.0 / 3.0));
        // 3 and 2 once each: the weaker one.
        let t = tally(&[(3, false), (2, false)]);
        assert_eq!(MarginMode::Levels.of(&t, Winner::A), Some(2.0 / 3.0));
        assert_eq!(MarginMode::None.of(&t, Winner::A), None);
    }

    #[test]
    fn the_test_split_is_stable_and_near_its_share() {
        let n = (0..20_000).filter(|i| in_test_split(&format!("prompt-{i}"), 0.1)).count();
        assert!((1_800..2_200).contains(&n), "{n}");
        assert_eq!(in_test_split("x", 0.5), in_test_split("x", 0.5));
        assert!(!in_test_split("x", 0.0));
    }

    #[test]
    fn counts_record_wins_ties_and_losses_per_model() {
        let mut c = Counts::default();
        c.record("m1", "m2", 2);
        c.record("m1", "m2", 0);
        c.record("m2", "m1", 1);
        assert_eq!(c.models["m1"], ModelRecord { wins: 1, ties: 1, losses: 1 });
        assert_eq!(c.models["m2"], ModelRecord { wins: 1, ties: 1, losses: 1 });
        c.drop(DropReason::Tie);
        assert!(c.to_string().contains("left out 1 (1 tie)"), "{c}");
    }
}
