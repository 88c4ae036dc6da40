use crate::error::ApiError;
use arbiter_core::Error;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};

/// `Json<T>` whose rejections are the API's own `{"error": …}` 400s, saying
/// which field was wrong where serde can tell.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(rejection) => Err(ApiError(Error::BadRequest(rejection.body_text()))),
        }
    }
}
