//! A project's settings, parsed once at the edge (form, JSON, CLI flags).
use serde::{Deserialize, Serialize};

/// A field that did not parse, with a message an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> FieldError {
        FieldError { field, message: message.into() }
    }
}

pub const DEFAULT_ANNOTATIONS_PER_PAIR: i64 = 3;
pub const DEFAULT_LEASE_SECONDS: i64 = 600;
/// Undo window: an annotator may change their last 10 judgements, for 30 minutes.
pub const DEFAULT_UNDO_JUDGEMENTS: i64 = 10;
pub const DEFAULT_UNDO_MINUTES: i64 = 30;
/// Of an annotator's pairwise tasks, this percent are gold pairs (when there are any).
pub const DEFAULT_GOLD_PERCENT: i64 = 10;
pub const DEFAULT_GOLD_ACCURACY_MIN: i64 = 70;
pub const DEFAULT_FLAG_AGREEMENT_MIN: i64 = 50;
pub const DEFAULT_FLAG_SKIP_MAX: i64 = 30;
pub const DEFAULT_FLAG_BIAS_PERMILLE: i64 = 10;
pub const DEFAULT_FLAGS: [&str; 3] = ["unsafe", "factually wrong", "off-topic"];
pub const MAX_TITLE: usize = 200;
pub const MAX_GUIDELINES: usize = 100_000;
pub const MAX_FLAG_LEN: usize = 60;
pub const MAX_FLAGS: usize = 20;

/// Which pairs a pairwise project offers: every pair N times, or per
/// prompt the pair whose order is least certain until the order is settled
/// (`domain::reward::next_pair`), N times per pair at most.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PairSelection {
    #[default]
    All,
    Adaptive,
}

impl PairSelection {
    pub fn parse(s: &str) -> Result<PairSelection, FieldError> {
        match s.trim() {
            "all" => Ok(PairSelection::All),
            "adaptive" => Ok(PairSelection::Adaptive),
            other => Err(FieldError::new("pair_selection", format!("{other:?} is not all or adaptive"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PairSelection::All => "all",
            PairSelection::Adaptive => "adaptive",
        }
    }
}

/// Which model pairs a pairwise project serves first (issue 10): round robin
/// over the model pairs, or the pairs of models whose order the current
/// leaderboard is least sure of and that met least (`leaderboard::priorities`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelSelection {
    #[default]
    Uniform,
    Active,
}

impl ModelSelection {
    pub fn parse(s: &str) -> Result<ModelSelection, FieldError> {
        match s.trim() {
            "uniform" => Ok(ModelSelection::Uniform),
            "active" => Ok(ModelSelection::Active),
            other => Err(FieldError::new("selection", format!("{other:?} is not uniform or active"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ModelSelection::Uniform => "uniform",
            ModelSelection::Active => "active",
        }
    }
}

/// What an annotator is asked for: the better of two completions, an order
/// of all of a prompt's completions, or a rating of each (issue 9).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskType {
    #[default]
    Pairwise,
    Ranking,
    Rating,
}

impl TaskType {
    pub fn parse(s: &str) -> Result<TaskType, FieldError> {
        match s.trim() {
            "pairwise" => Ok(TaskType::Pairwise),
            "ranking" => Ok(TaskType::Ranking),
            "rating" => Ok(TaskType::Rating),
            other => Err(FieldError::new("task_type", format!("{other:?} is not pairwise, ranking or rating"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TaskType::Pairwise => "pairwise",
            TaskType::Ranking => "ranking",
            TaskType::Rating => "rating",
        }
    }

    /// A task of this type is a whole prompt (not one pair of it).
    pub fn per_prompt(self) -> bool {
        self != TaskType::Pairwise
    }

    /// The fewest completions a prompt needs to make a task of this type.
    pub fn min_completions(self) -> i64 {
        match self {
            TaskType::Rating => 1,
            _ => 2,
        }
    }

    /// The most completions a task of this type shows.
    pub fn max_completions(self) -> i64 {
        match self {
            TaskType::Ranking => MAX_RANKED as i64,
            _ => i64::MAX,
        }
    }
}

/// The most completions a ranking task shows: typed as one digit each.
pub const MAX_RANKED: usize = 9;
pub const MAX_ASPECTS: usize = 8;
pub const MAX_ASPECT_LEN: usize = 40;
pub const DEFAULT_ASPECT: &str = "overall";

/// A rating scale: whole numbers `min..=max` (0 ≤ min < max ≤ 10, so one
/// key rates: digits, and 0 for 10), with an optional label per point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scale {
    pub min: i64,
    pub max: i64,
    #[serde(default)]
    pub labels: Vec<String>,
}

impl Default for Scale {
    fn default() -> Scale {
        Scale { min: 1, max: 7, labels: Vec::new() }
    }
}

impl Scale {
    /// `"1-7"` (labels come separately).
    pub fn parse(s: &str, labels: Vec<String>) -> Result<Scale, FieldError> {
        let bad =
            || FieldError::new("scale", format!("{s:?}: expected MIN-MAX, whole numbers with 0 ≤ MIN < MAX ≤ 10"));
        let (min, max) = s.trim().split_once('-').ok_or_else(bad)?;
        let (min, max): (i64, i64) = (min.trim().parse().map_err(|_| bad())?, max.trim().parse().map_err(|_| bad())?);
        if !(0..=10).contains(&min) || !(0..=10).contains(&max) || min >= max {
            return Err(bad());
        }
        Scale::new(min, max, labels)
    }

    pub fn new(min: i64, max: i64, labels: Vec<String>) -> Result<Scale, FieldError> {
        if !(0..=10).contains(&min) || !(0..=10).contains(&max) || min >= max {
            return Err(FieldError::new("scale", format!("{min}-{max}: expected 0 ≤ MIN < MAX ≤ 10")));
        }
        let labels: Vec<String> = labels.into_iter().map(|l| l.trim().to_owned()).collect();
        let points = (max - min + 1) as usize;
        if !(labels.is_empty() || labels.len() == points) {
            return Err(FieldError::new(
                "scale_labels",
                format!("{} labels for {points} points: give one per point ({min} to {max}) or none", labels.len()),
            ));
        }
        if let Some(l) = labels.iter().find(|l| l.chars().count() > MAX_FLAG_LEN || l.chars().any(char::is_control)) {
            return Err(FieldError::new(
                "scale_labels",
                format!("{l:?}: at most {MAX_FLAG_LEN} characters, no control characters"),
            ));
        }
        Ok(Scale { min, max, labels })
    }

    pub fn contains(&self, v: i64) -> bool {
        (self.min..=self.max).contains(&v)
    }

    /// The label of a point, if labels were given.
    pub fn label(&self, v: i64) -> Option<&str> {
        self.labels.get(usize::try_from(v - self.min).ok()?).map(String::as_str)
    }

    /// The value a digit key rates: the digit, or 10 for `0` on a scale without 0.
    pub fn from_key(&self, digit: u8) -> Option<i64> {
        let v = if digit == 0 && self.min > 0 { 10 } else { i64::from(digit) };
        self.contains(v).then_some(v)
    }
}

impl std::fmt::Display for Scale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}

/// Aspect names as given: trimmed, none blank or repeated, 1 to `MAX_ASPECTS`.
pub fn parse_aspects(given: &[String]) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for raw in given {
        let a = raw.trim();
        if a.is_empty() {
            continue;
        }
        if a.chars().count() > MAX_ASPECT_LEN || a.chars().any(char::is_control) {
            return Err(FieldError::new(
                "aspects",
                format!("{a:?}: at most {MAX_ASPECT_LEN} characters, no control characters"),
            ));
        }
        if out.iter().any(|o| o == a) {
            return Err(FieldError::new("aspects", format!("{a:?} is given twice")));
        }
        out.push(a.to_owned());
    }
    if out.is_empty() || out.len() > MAX_ASPECTS {
        return Err(FieldError::new("aspects", format!("give 1 to {MAX_ASPECTS} aspect names")));
    }
    Ok(out)
}

/// What an admin sets on a project; only `Settings::parse` makes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub title: String,
    pub guidelines: String,
    pub annotations_per_pair: i64,
    pub lease_seconds: i64,
    pub flags: Vec<String>,
    pub pair_selection: PairSelection,
    pub selection: ModelSelection,
    pub task_type: TaskType,
    /// What a rating task rates each completion on (rating projects).
    pub aspects: Vec<String>,
    pub scale: Scale,
    /// How many of their latest judgements an annotator may change (0: none).
    pub undo_judgements: i64,
    /// For how long after submitting (0: never).
    pub undo_minutes: i64,
    /// Percent of an annotator's pairwise tasks drawn from the gold pairs.
    pub gold_percent: i64,
    /// Annotators whose gold accuracy is under this percent are flagged.
    pub gold_accuracy_min: i64,
    /// Flag annotators whose agreement with the others is under this percent.
    pub flag_agreement_min: i64,
    /// Flag annotators who skip more than this percent of their tasks.
    pub flag_skip_max: i64,
    /// Flag a left-side bias at a binomial p under this / 1000.
    pub flag_bias_permille: i64,
}

/// Settings as they arrive: every field but the title optional (defaults apply).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsInput {
    pub title: String,
    #[serde(default)]
    pub guidelines: Option<String>,
    #[serde(default)]
    pub annotations_per_pair: Option<i64>,
    #[serde(default)]
    pub lease_seconds: Option<i64>,
    #[serde(default)]
    pub flags: Option<Vec<String>>,
    /// `all` (default) or `adaptive`.
    #[serde(default)]
    pub pair_selection: Option<String>,
    /// `uniform` (default) or `active`.
    #[serde(default)]
    pub selection: Option<String>,
    /// `pairwise` (default), `ranking` or `rating`.
    #[serde(default)]
    pub task_type: Option<String>,
    /// Rating projects: aspect names (default `["overall"]`).
    #[serde(default)]
    pub aspects: Option<Vec<String>>,
    /// Rating projects: `"MIN-MAX"` (default `"1-7"`).
    #[serde(default)]
    pub scale: Option<String>,
    /// Rating projects: one label per point of the scale, or none.
    #[serde(default)]
    pub scale_labels: Option<Vec<String>>,
    #[serde(default)]
    pub undo_judgements: Option<i64>,
    #[serde(default)]
    pub undo_minutes: Option<i64>,
    /// 0–50 (default 10).
    #[serde(default)]
    pub gold_percent: Option<i64>,
    /// 0–100 (default 70).
    #[serde(default)]
    pub gold_accuracy_min: Option<i64>,
    #[serde(default)]
    pub flag_agreement_min: Option<i64>,
    #[serde(default)]
    pub flag_skip_max: Option<i64>,
    #[serde(default)]
    pub flag_bias_permille: Option<i64>,
}

impl SettingsInput {
    pub fn titled(title: &str) -> SettingsInput {
        SettingsInput { title: title.to_owned(), ..Default::default() }
    }
}

impl Settings {
    pub fn parse(input: SettingsInput) -> Result<Settings, FieldError> {
        if input.title.chars().any(char::is_control) {
            return Err(FieldError::new("title", "must not contain control characters"));
        }
        let title = input.title.trim().to_owned();
        if title.is_empty() || input.title.chars().count() > MAX_TITLE {
            return Err(FieldError::new("title", format!("must be 1-{MAX_TITLE} characters, not only white space")));
        }
        let guidelines = input.guidelines.unwrap_or_default();
        if guidelines.chars().count() > MAX_GUIDELINES {
            return Err(FieldError::new("guidelines", format!("at most {MAX_GUIDELINES} characters")));
        }
        let annotations_per_pair = input.annotations_per_pair.unwrap_or(DEFAULT_ANNOTATIONS_PER_PAIR);
        if !(1..=100).contains(&annotations_per_pair) {
            return Err(FieldError::new("annotations_per_pair", "must be from 1 to 100"));
        }
        let lease_seconds = input.lease_seconds.unwrap_or(DEFAULT_LEASE_SECONDS);
        if !(10..=86_400).contains(&lease_seconds) {
            return Err(FieldError::new("lease_seconds", "must be from 10 to 86400"));
        }
        let given = input.flags.unwrap_or_else(|| DEFAULT_FLAGS.iter().map(|s| s.to_string()).collect());
        // Limits apply to what was sent; then blanks and repeats are dropped.
        if given.len() > MAX_FLAGS {
            return Err(FieldError::new("flags", format!("at most {MAX_FLAGS}")));
        }
        let mut flags: Vec<String> = Vec::new();
        for raw in &given {
            if raw.chars().count() > MAX_FLAG_LEN {
                return Err(FieldError::new("flags", format!("{raw:?} is longer than {MAX_FLAG_LEN} characters")));
            }
            let f = raw.trim();
            if !f.is_empty() && !flags.iter().any(|g| g == f) {
                flags.push(f.to_owned());
            }
        }
        let pair_selection = input.pair_selection.as_deref().map(PairSelection::parse).transpose()?.unwrap_or_default();
        let selection = input.selection.as_deref().map(ModelSelection::parse).transpose()?.unwrap_or_default();
        let task_type = input.task_type.as_deref().map(TaskType::parse).transpose()?.unwrap_or_default();
        let aspects = match &input.aspects {
            Some(given) => parse_aspects(given)?,
            None => vec![DEFAULT_ASPECT.to_owned()],
        };
        let labels = input.scale_labels.unwrap_or_default();
        let scale = match input.scale.as_deref() {
            Some(s) => Scale::parse(s, labels)?,
            None => Scale::new(1, 7, labels)?,
        };
        let undo_judgements = input.undo_judgements.unwrap_or(DEFAULT_UNDO_JUDGEMENTS);
        if !(0..=1000).contains(&undo_judgements) {
            return Err(FieldError::new("undo_judgements", "must be from 0 (no undo) to 1000"));
        }
        let undo_minutes = input.undo_minutes.unwrap_or(DEFAULT_UNDO_MINUTES);
        if !(0..=10_080).contains(&undo_minutes) {
            return Err(FieldError::new("undo_minutes", "must be from 0 (no undo) to 10080 (a week)"));
        }
        let gold_percent = input.gold_percent.unwrap_or(DEFAULT_GOLD_PERCENT);
        if !(0..=50).contains(&gold_percent) {
            return Err(FieldError::new("gold_percent", "must be from 0 (no gold pairs served) to 50"));
        }
        let gold_accuracy_min = input.gold_accuracy_min.unwrap_or(DEFAULT_GOLD_ACCURACY_MIN);
        if !(0..=100).contains(&gold_accuracy_min) {
            return Err(FieldError::new("gold_accuracy_min", "must be a percent from 0 to 100"));
        }
        let flag_agreement_min = input.flag_agreement_min.unwrap_or(DEFAULT_FLAG_AGREEMENT_MIN);
        if !(0..=100).contains(&flag_agreement_min) {
            return Err(FieldError::new("flag_agreement_min", "must be a percent from 0 to 100"));
        }
        let flag_skip_max = input.flag_skip_max.unwrap_or(DEFAULT_FLAG_SKIP_MAX);
        if !(0..=100).contains(&flag_skip_max) {
            return Err(FieldError::new("flag_skip_max", "must be a percent from 0 to 100"));
        }
        let flag_bias_permille = input.flag_bias_permille.unwrap_or(DEFAULT_FLAG_BIAS_PERMILLE);
        if !(0..=1000).contains(&flag_bias_permille) {
            return Err(FieldError::new("flag_bias_permille", "must be from 0 (never) to 1000 (per mille)"));
        }
        Ok(Settings {
            title,
            flag_agreement_min,
            flag_skip_max,
            flag_bias_permille,
            undo_judgements,
            undo_minutes,
            gold_percent,
            gold_accuracy_min,
            guidelines,
            annotations_per_pair,
            lease_seconds,
            flags,
            pair_selection,
            selection,
            task_type,
            aspects,
            scale,
        })
    }
}

/// A whole number from a form or flag field; empty means "use the default".
pub fn parse_int_field(field: &'static str, value: Option<&str>) -> Result<Option<i64>, FieldError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| FieldError::new(field, format!("{v:?} is not a whole number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_was_not_given() {
        let s = Settings::parse(SettingsInput::titled("  T  ")).unwrap();
        assert_eq!(s.title, "T");
        assert_eq!(s.annotations_per_pair, DEFAULT_ANNOTATIONS_PER_PAIR);
        assert_eq!(s.lease_seconds, DEFAULT_LEASE_SECONDS);
        assert_eq!(s.flags, DEFAULT_FLAGS.map(String::from).to_vec());
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad = |f: fn(&mut SettingsInput)| {
            let mut i = SettingsInput::titled("T");
            f(&mut i);
            Settings::parse(i).unwrap_err().field
        };
        assert_eq!(bad(|i| i.title = " ".into()), "title");
        assert_eq!(bad(|i| i.title = "x".repeat(201)), "title");
        assert_eq!(bad(|i| i.title = "a\u{1c}b".into()), "title");
        assert_eq!(bad(|i| i.annotations_per_pair = Some(0)), "annotations_per_pair");
        assert_eq!(bad(|i| i.pair_selection = Some("smart".into())), "pair_selection");
        assert_eq!(bad(|i| i.selection = Some("greedy".into())), "selection");
        assert_eq!(bad(|i| i.lease_seconds = Some(5)), "lease_seconds");
        assert_eq!(bad(|i| i.flags = Some(vec!["x".repeat(61)])), "flags");
        assert_eq!(bad(|i| i.flags = Some((0..21).map(|n| n.to_string()).collect())), "flags");
        assert_eq!(bad(|i| i.guidelines = Some("x".repeat(MAX_GUIDELINES + 1))), "guidelines");
        assert_eq!(bad(|i| i.task_type = Some("sorting".into())), "task_type");
        assert_eq!(bad(|i| i.undo_judgements = Some(-1)), "undo_judgements");
        assert_eq!(bad(|i| i.undo_minutes = Some(20_000)), "undo_minutes");
        assert_eq!(bad(|i| i.gold_percent = Some(51)), "gold_percent");
        assert_eq!(bad(|i| i.gold_accuracy_min = Some(101)), "gold_accuracy_min");
        assert_eq!(bad(|i| i.flag_agreement_min = Some(-1)), "flag_agreement_min");
        assert_eq!(bad(|i| i.flag_skip_max = Some(101)), "flag_skip_max");
        assert_eq!(bad(|i| i.flag_bias_permille = Some(1001)), "flag_bias_permille");
        assert_eq!(bad(|i| i.aspects = Some(vec!["a".into(), " a".into()])), "aspects");
        assert_eq!(bad(|i| i.aspects = Some(vec![" ".into()])), "aspects");
        assert_eq!(bad(|i| i.scale = Some("7-1".into())), "scale");
        assert_eq!(bad(|i| i.scale = Some("1-11".into())), "scale");
        assert_eq!(bad(|i| i.scale = Some("1 to 5".into())), "scale");
        assert_eq!(bad(|i| i.scale = Some("".into())), "scale");
        assert_eq!(bad(|i| i.scale_labels = Some(vec!["bad".into(), "good".into()])), "scale_labels");
    }

    #[test]
    fn rating_settings_parse_and_default() {
        let s = Settings::parse(SettingsInput::titled("T")).unwrap();
        assert_eq!(
            (s.task_type, s.aspects.clone(), s.scale.clone()),
            (TaskType::Pairwise, vec!["overall".into()], Scale::default())
        );
        let mut i = SettingsInput::titled("T");
        i.task_type = Some("rating".into());
        i.aspects = Some(vec![" helpfulness".into(), "honesty ".into()]);
        i.scale = Some("1-5".into());
        i.scale_labels = Some(["awful", "poor", "ok", "good", "great"].map(String::from).to_vec());
        let s = Settings::parse(i).unwrap();
        assert_eq!(s.task_type, TaskType::Rating);
        assert_eq!(s.aspects, vec!["helpfulness", "honesty"]);
        assert_eq!((s.scale.min, s.scale.max, s.scale.label(5)), (1, 5, Some("great")));
        assert_eq!((s.scale.from_key(3), s.scale.from_key(6)), (Some(3), None));
        let ten = Scale::parse("1-10", Vec::new()).unwrap();
        assert_eq!(ten.from_key(0), Some(10));
        assert_eq!(Scale::parse("0-4", Vec::new()).unwrap().from_key(0), Some(0));
    }

    #[test]
    fn flags_are_trimmed_and_deduplicated() {
        let mut i = SettingsInput::titled("T");
        i.flags = Some(vec![" a ".into(), "".into(), "a".into(), "b".into()]);
        assert_eq!(Settings::parse(i).unwrap().flags, vec!["a", "b"]);
    }

    #[test]
    fn int_fields_name_themselves() {
        assert_eq!(parse_int_field("n", Some(" 4 ")), Ok(Some(4)));
        assert_eq!(parse_int_field("n", Some("")), Ok(None));
        assert_eq!(parse_int_field("n", Some("x")).unwrap_err().field, "n");
    }
}
