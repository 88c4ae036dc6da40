//! Identifiers that arrive from outside, parsed once at the edge.
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A task's public id (a lease of one item to one annotator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub Uuid);

impl TaskId {
    /// Anything that is not a UUID cannot name a task: "not found", like a
    /// task that is someone else's.
    pub fn parse(s: &str) -> Option<TaskId> {
        Uuid::parse_str(s.trim()).ok().map(TaskId)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The client's idempotency key for one submission: 1–128 visible ASCII
/// characters (a UUID is best).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client_key: must be 1-128 visible ASCII characters (a UUID is best)")]
pub struct BadClientKey;

impl ClientKey {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<ClientKey, BadClientKey> {
        let s = s.trim();
        if (1..=Self::MAX_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(ClientKey(s.to_owned()))
        } else {
            Err(BadClientKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientKey {
    type Error = BadClientKey;
    fn try_from(s: String) -> Result<Self, BadClientKey> {
        ClientKey::parse(&s)
    }
}

impl From<ClientKey> for String {
    fn from(k: ClientKey) -> String {
        k.0
    }
}

/// A user's name: 1–64 of letters, digits and `_ - . @`, starting with a
/// letter or digit (so never `.` or `..`, which would break the admin's
/// links to the user).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("username: must be 1-64 characters of letters, digits and _ - . @, starting with a letter or digit")]
pub struct BadUsername;

impl Username {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Username, BadUsername> {
        let s = s.trim();
        let ok = (1..=Self::MAX_LEN).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
        if ok {
            Ok(Username(s.to_owned()))
        } else {
            Err(BadUsername)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = BadUsername;
    fn try_from(s: String) -> Result<Self, BadUsername> {
        Username::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_are_uuids() {
        let id = TaskId::parse("00000000-0000-4000-8000-000000000001").unwrap();
        assert_eq!(id.to_string(), "00000000-0000-4000-8000-000000000001");
        assert_eq!(TaskId::parse("nope"), None);
        assert_eq!(TaskId::parse(""), None);
    }

    #[test]
    fn client_keys_are_visible_ascii_up_to_128() {
        assert!(ClientKey::parse("k-1").is_ok());
        assert!(ClientKey::parse(&"x".repeat(128)).is_ok());
        for bad in ["", "   ", "a b", "ключ", &"x".repeat(129)] {
            assert!(ClientKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usernames_are_a_plain_charset_and_never_dot_names() {
        for ok in ["ann", "a.b", "x_y-z", "me@lab.org", "7up"] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", ".hidden", "-x", "a b", "a/b", "ü", &"x".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }
}
