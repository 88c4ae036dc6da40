//! The one error type of the core, and the one mapping from it to an HTTP
//! status and a public message: the REST API, the form handlers and the
//! server functions all answer through `status()` and `public_message()`.
//! `Internal` keeps its cause for the log only.
use crate::domain::import::LineError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    #[error("the file has {} bad line(s); nothing was imported", .0.len())]
    Import(Vec<LineError>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    /// Answered as "not found": what is not yours does not exist for you.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("too many attempts; try again in {0} seconds")]
    TooManyAttempts(u64),
    /// Worth retrying as it was (the database was busy or went away).
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for Error {
    /// A lost connection, an exhausted pool, a database shutting down, a
    /// deadlock, a lock wait that timed out or a serialization failure are
    /// worth retrying as they were (503); anything else is a bug (500).
    fn from(e: sqlx::Error) -> Self {
        let retry = match &e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                true
            }
            sqlx::Error::Database(d) => d.code().is_some_and(|c| {
                // 40001 serialization failure, 40P01 deadlock, 55P03 a lock
                // not had in time, class 08 connection exceptions, 53300 too
                // many connections, 57P01-03 shutdown and restart.
                c == "40001"
                    || c == "40P01"
                    || c == "55P03"
                    || c.starts_with("08")
                    || matches!(c.as_ref(), "53300" | "57P01" | "57P02" | "57P03")
            }),
            _ => false,
        };
        // 22021 / 22P05: a NUL in text or in a JSON value, which PostgreSQL
        // cannot store (the edges refuse it first; this is the backstop).
        if let sqlx::Error::Database(d) = &e {
            if d.code().is_some_and(|c| matches!(c.as_ref(), "22021" | "22P05")) {
                tracing::warn!(error = %e, "text the database cannot store");
                return Error::BadRequest(crate::domain::text::NUL_MESSAGE.into());
            }
        }
        if retry {
            tracing::warn!(error = %e, "database unavailable; the request may be retried");
            Error::Unavailable("the database is unavailable for a moment; try again".into())
        } else {
            Error::Internal(anyhow::Error::new(e).context("database query failed"))
        }
    }
}

impl From<crate::domain::FieldError> for Error {
    fn from(e: crate::domain::FieldError) -> Self {
        Error::BadRequest(e.to_string())
    }
}

impl Error {
    pub fn bad(msg: impl Into<String>) -> Self {
        Error::BadRequest(msg.into())
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    /// The HTTP status for this error, the same on every path.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Unauthorized(_) => 401,
            Error::NotFound(_) | Error::Forbidden(_) => 404,
            Error::Conflict(_) => 409,
            Error::TooLarge(_) => 413,
            Error::Import(_) => 422,
            Error::TooManyAttempts(_) => 429,
            Error::Internal(_) => 500,
            Error::Unavailable(_) => 503,
        }
    }

    /// What the caller is told: never a cause of a 500, never whether
    /// something they may not see exists.
    pub fn public_message(&self) -> String {
        match self {
            Error::Forbidden(_) => "not found".into(),
            Error::Internal(_) => "internal error; see the server log".into(),
            other => other.to_string(),
        }
    }

    /// Logs the cause of an internal error (the caller sees only a 500).
    pub fn log_if_internal(&self, context: &str) {
        if let Error::Internal(cause) = self {
            tracing::error!(error = ?cause, "{context} failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_one_status_and_hides_what_it_must() {
        assert_eq!(Error::bad("x").status(), 400);
        assert_eq!(Error::Import(vec![]).status(), 422);
        assert_eq!(Error::Forbidden("admins only".into()).status(), 404);
        assert_eq!(Error::Forbidden("admins only".into()).public_message(), "not found");
        let internal = Error::Internal(anyhow::anyhow!("SELECT secret FROM x"));
        assert_eq!(internal.status(), 500);
        assert!(!internal.public_message().contains("SELECT"));
        assert_eq!(Error::TooManyAttempts(7).status(), 429);
        assert_eq!(Error::TooLarge("big".into()).status(), 413);
    }
}
