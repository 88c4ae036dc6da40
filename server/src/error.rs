//! The edges' one door for errors. The status and the public message come
//! from the core (`Error::status`, `Error::public_message`), the same for the
//! REST API, the form posts and the server functions; only the body's shape
//! differs: JSON `{"error": …}` for the API, a small HTML page for a browser
//! that posted a form or asked for a page.
use arbiter_core::Error;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answered as JSON (the REST API).
pub struct ApiError(pub Error);

/// An error answered as an HTML page (form posts, pages).
pub struct PageError(pub Error);

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

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        PageError(e)
    }
}

pub fn status_of(e: &Error) -> StatusCode {
    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An extractor's rejection (bad JSON, form or query; a body over its
/// limit) as the core's error: 413 stays 413, everything else is a 400
/// with the extractor's own words, which name the field where it can.
pub fn from_rejection(status: StatusCode, text: String) -> Error {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Error::TooLarge(format!("request body too large ({text})"))
    } else {
        Error::BadRequest(text)
    }
}

fn with_retry_after(e: &Error, mut res: Response) -> Response {
    if let Error::TooManyAttempts(wait) = e {
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log_if_internal("request");
        let body = match &e {
            Error::Import(lines) => json!({"error": e.public_message(), "error_count": lines.len(), "lines": lines}),
            other => json!({"error": other.public_message()}),
        };
        with_retry_after(&e, (status_of(&e), Json(body)).into_response())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log_if_internal("form");
        let status = status_of(&e);
        let msg = html_escape(&e.public_message());
        let title = status.canonical_reason().unwrap_or("Error");
        let page = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Arbiter</title>\
             <link rel=\"stylesheet\" href=\"/pkg/arbiter.css\"></head><body><main class=\"page narrow\">\
             <h1>{title}</h1><p class=\"flash error\" role=\"alert\">{msg}</p><p><a href=\"/\">Back to Arbiter</a></p>\
             </main></body></html>"
        );
        with_retry_after(&e, (status, Html(page)).into_response())
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub type ApiResult<T> = Result<T, ApiError>;
