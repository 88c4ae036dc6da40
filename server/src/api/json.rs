use crate::error::{from_rejection, ApiError};
use arbiter_core::domain::text::{nul_in_json, NUL_MESSAGE};
use arbiter_core::Error;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

/// `Json<T>` whose rejections are the API's own JSON errors: 413 for a body
/// over its limit, else 400 saying which field was wrong where serde can tell.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // The body is read once and kept, to look for a NUL character in
        // its strings once it parses (see `domain::text`).
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|r| ApiError(from_rejection(r.status(), r.body_text())))?;
        let parsed = axum::Json::<T>::from_request(Request::from_parts(parts, Body::from(bytes.clone())), state).await;
        match parsed {
            Ok(axum::Json(v)) => match nul_in_json(&bytes) {
                Some(field) => {
                    let field = if field.is_empty() { "body".into() } else { field.escape_debug().to_string() };
                    Err(ApiError(Error::BadRequest(format!("{field}: {NUL_MESSAGE}"))))
                }
                None => Ok(JsonBody(v)),
            },
            Err(rejection) => Err(ApiError(from_rejection(rejection.status(), rejection.body_text()))),
        }
    }
}

/// `Query<T>` whose rejections are the API's JSON 400s, naming the parameter.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    axum::extract::Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(QueryParams(v)),
            Err(rejection) => Err(ApiError(from_rejection(rejection.status(), rejection.body_text()))),
        }
    }
}
