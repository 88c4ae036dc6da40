//! Every HTTP error is JSON `{"error": "…"}` with a status that says what
//! went wrong; import errors add the bad lines. A 500 never shows its cause.
use arbiter_core::Error;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError(e.into())
    }
}

pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::BadRequest(_) => StatusCode::BAD_REQUEST,
        Error::Import(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::NotFound(_) | Error::Forbidden(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        let body = match &self.0 {
            Error::Import(lines) => json!({"error": self.0.to_string(), "lines": lines}),
            // Forbidden answers as not found: a project you are not in does not exist for you.
            Error::Forbidden(_) => json!({"error": "not found"}),
            Error::Internal(cause) => {
                tracing::error!(error = ?cause, "request failed");
                json!({"error": "internal error; see the server log"})
            }
            other => json!({"error": other.to_string()}),
        };
        (status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
