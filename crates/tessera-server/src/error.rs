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
    /// Seconds to wait before trying again (`Retry-After`), for `rate_limited`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Tells the client to wait `seconds` before trying again.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
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
        let body =
            ErrorBody::new(self.code, self.message).with_request_id(crate::request_id::current());
        let mut response = (status, axum::Json(body)).into_response();
        if matches!(
            self.code,
            ErrorCode::Unauthorized
                | ErrorCode::AuthenticationRequired
                | ErrorCode::InvalidCredential
        ) {
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, wait.into());
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

/// Whether a path is the protocol's: `/api…` on a LAN server, `/w/{org}/api…` on the
/// web license server.
fn is_protocol_path(path: &str) -> bool {
    let path = match path.strip_prefix("/w/") {
        Some(rest) => rest.find('/').map_or("", |i| &rest[i..]),
        None => path,
    };
    path.starts_with("/api")
}

/// Makes every error answer under `/api` (`/w/{org}/api` on the web) a protocol error
/// body, including the ones that axum's own extractors and limits produce before a
/// handler runs (a body over the limit, a malformed path). Pages keep their own answers.
pub async fn json_errors_for_api(
    axum::extract::State(_): axum::extract::State<crate::SharedState>,
    request_parts: axum::http::request::Parts,
    response: Response,
) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_protocol_path(request_parts.uri.path())
        || is_json
        || !(status.is_client_error() || status.is_server_error())
    {
        return response;
    }
    let code = match status.as_u16() {
        400 | 422 => ErrorCode::InvalidRequest,
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        503 => ErrorCode::Unavailable,
        _ if status.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::InvalidRequest,
    };
    let message = match code {
        ErrorCode::PayloadTooLarge => "the request body is too large".to_owned(),
        ErrorCode::NotFound => "no such call in the v1 protocol".to_owned(),
        ErrorCode::Internal => "the server could not complete the request; see its log".to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("bad request")
            .to_lowercase(),
    };
    let mut out = ApiError::new(code, message).into_response();
    *out.status_mut() = status;
    out
}
