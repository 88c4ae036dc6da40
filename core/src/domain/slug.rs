use serde::{Deserialize, Serialize};
use std::fmt;

/// A project's name in URLs and on the command line: 1–64 of `a-z 0-9 -`,
/// starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectSlug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("slug must be 1-64 characters of a-z, 0-9 and '-', starting with a letter or digit; got {0:?}")]
pub struct BadSlug(pub String);

impl ProjectSlug {
    pub fn parse(s: &str) -> Result<Self, BadSlug> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-');
        if ok {
            Ok(ProjectSlug(s.to_owned()))
        } else {
            Err(BadSlug(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProjectSlug {
    type Error = BadSlug;
    fn try_from(s: String) -> Result<Self, BadSlug> {
        ProjectSlug::parse(&s)
    }
}

impl From<ProjectSlug> for String {
    fn from(s: ProjectSlug) -> String {
        s.0
    }
}

impl fmt::Display for ProjectSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_slugs_and_rejects_the_rest() {
        assert!(ProjectSlug::parse("demo").is_ok());
        assert!(ProjectSlug::parse("rm-v2-2026").is_ok());
        for bad in ["", "-x", "Demo", "a b", "a/b", "ü", &"x".repeat(65)] {
            assert!(ProjectSlug::parse(bad).is_err(), "{bad:?}");
        }
    }
}
