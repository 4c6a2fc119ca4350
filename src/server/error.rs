//! The one place where errors become HTTP statuses: every failure is a JSON `{"message"}` that
//! says what to fix.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::types::ErrorBody;
use crate::error::Error;

/// An API failure with its status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::ModelNotFound { .. } => StatusCode::NOT_FOUND,
            Error::NotInRegistry { .. } | Error::DatasetNotFound { .. } | Error::ModelNotAllowed { .. } => {
                StatusCode::NOT_FOUND
            }
            Error::ModelState { .. } | Error::Leased { .. } | Error::Cancelled { .. } => StatusCode::CONFLICT,
            Error::Setting { .. } => StatusCode::BAD_REQUEST,
            Error::Deployment { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Error::TooLong { .. } | Error::Input { .. } | Error::Dataset { .. } | Error::MissingColumn { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Error::InvalidArgument(_) | Error::TooFewPoints { .. } => StatusCode::BAD_REQUEST,
            // The shared database or store is down: the request may succeed once it is back.
            Error::Database { .. } | Error::Store { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &e {
            // The API's caller names settings by their JSON field.
            Error::Setting { setting, reason } => format!("{}: {reason}", setting.field()),
            Error::MissingColumn { column, .. } => format!("{e} with the form field \"{}\"", column.field()),
            e => e.to_string(),
        };
        ApiError::new(status, message)
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection as J;
        let status = r.status();
        let message = match &r {
            J::JsonDataError(e) => format!("the request body does not have the expected fields: {}", e.body_text()),
            J::JsonSyntaxError(e) => format!("the request body is not valid JSON: {}", e.body_text()),
            J::MissingJsonContentType(_) => "send the body as JSON with Content-Type: application/json".into(),
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".into(),
            other => other.body_text(),
        };
        ApiError::new(status, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { message: self.message })).into_response()
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        ApiError::new(r.status(), format!("the path is not valid: {}", r.body_text()))
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::new(r.status(), format!("the query string is not valid: {}", r.body_text()))
    }
}

/// The path extractor whose rejections are JSON [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// The query extractor whose rejections are JSON [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The JSON body extractor whose rejections are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
