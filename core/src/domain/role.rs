//! What a user may do: admins everything, annotators the projects they are members of.
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Annotator,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role: must be admin or annotator, got {0:?}")]
pub struct BadRole(pub String);

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Annotator => "annotator",
        }
    }

    pub fn parse(s: &str) -> Result<Role, BadRole> {
        match s.trim() {
            "admin" => Ok(Role::Admin),
            "annotator" => Ok(Role::Annotator),
            other => Err(BadRole(other.to_owned())),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = BadRole;
    fn from_str(s: &str) -> Result<Role, BadRole> {
        Role::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_their_names_only() {
        assert_eq!(Role::parse("admin"), Ok(Role::Admin));
        assert_eq!(Role::parse(" annotator "), Ok(Role::Annotator));
        assert!(Role::parse("Admin").is_err());
        assert!(Role::parse("root").is_err());
        assert_eq!(Role::Admin.to_string(), "admin");
    }
}
