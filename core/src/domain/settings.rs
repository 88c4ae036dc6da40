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

/// What an admin sets on a project; only `Settings::parse` makes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub title: String,
    pub guidelines: String,
    pub annotations_per_pair: i64,
    pub lease_seconds: i64,
    pub flags: Vec<String>,
    pub pair_selection: PairSelection,
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
        Ok(Settings { title, guidelines, annotations_per_pair, lease_seconds, flags, pair_selection })
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
        assert_eq!(bad(|i| i.lease_seconds = Some(5)), "lease_seconds");
        assert_eq!(bad(|i| i.flags = Some(vec!["x".repeat(61)])), "flags");
        assert_eq!(bad(|i| i.flags = Some((0..21).map(|n| n.to_string()).collect())), "flags");
        assert_eq!(bad(|i| i.guidelines = Some("x".repeat(MAX_GUIDELINES + 1))), "guidelines");
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
