//! The one place where typed errors become `{"error": {"code", "message"}}` with a status.
//! Internal detail goes to the log, never to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tessera_core::ErrorCode;
use tessera_core::protocol::ErrorBody;
use tessera_store::{SeatError, StoreError};

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            ErrorCode::Internal,
            "the server could not complete the request; see its log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response =
            (status, axum::Json(ErrorBody::new(self.code, self.message))).into_response();
        if self.code == ErrorCode::Unauthorized {
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<SeatError> for ApiError {
    fn from(e: SeatError) -> Self {
        let code = match &e {
            SeatError::UnknownProduct(_) => ErrorCode::UnknownProduct,
            SeatError::Expired(_) => ErrorCode::LicenseExpired,
            SeatError::NotStarted(_) => ErrorCode::LicenseNotStarted,
            SeatError::NoSeat { .. } | SeatError::Reserved(_) => ErrorCode::NoSeatAvailable,
            SeatError::Denied { .. } => ErrorCode::DeniedByPolicy,
            SeatError::BorrowNotAllowed(_) => ErrorCode::BorrowNotAllowed,
            SeatError::BorrowTooLong { .. } => ErrorCode::BorrowTooLong,
            SeatError::Store(inner) => return ApiError::internal(inner),
        };
        let message = match &e {
            SeatError::Denied { rule, message } => format!("{message} [{rule}]"),
            _ => e.to_string(),
        };
        ApiError::new(code, message)
    }
}

impl From<tessera_core::validate::FieldError> for ApiError {
    fn from(e: tessera_core::validate::FieldError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
