//! The one place where the portal's errors become pages. A person's mistake is a 4xx
//! with a message that says what to do; anything else is logged and shown as a short
//! apology with a 500, never with its detail.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::documents::DocumentError;
use crate::mail::MailError;
use tessera_store::StoreError;

#[derive(Debug)]
pub enum PortalError {
    /// Something the visitor can correct; shown with this status.
    User {
        status: StatusCode,
        message: String,
    },
    NotFound,
    Forbidden(String),
    /// Too many attempts; try again later.
    TooMany(String),
    /// Detail for the log only.
    Internal(String),
}

pub type PortalResult<T> = Result<T, PortalError>;

impl PortalError {
    /// A mistake in what was sent (422).
    pub fn invalid(message: impl Into<String>) -> Self {
        PortalError::User {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
        }
    }

    /// A request that no longer fits the state of things (409).
    pub fn conflict(message: impl Into<String>) -> Self {
        PortalError::User {
            status: StatusCode::CONFLICT,
            message: message.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        PortalError::Internal(detail.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            PortalError::User { status, .. } => *status,
            PortalError::NotFound => StatusCode::NOT_FOUND,
            PortalError::Forbidden(_) => StatusCode::FORBIDDEN,
            PortalError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            PortalError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the visitor reads.
    pub fn message(&self) -> String {
        match self {
            PortalError::User { message, .. }
            | PortalError::Forbidden(message)
            | PortalError::TooMany(message) => message.clone(),
            PortalError::NotFound => "There is no such page.".into(),
            PortalError::Internal(_) => {
                "Something went wrong on our side. Please try again in a moment.".into()
            }
        }
    }

    /// Whether the visitor can fix this on the page they sent.
    pub fn is_user_error(&self) -> bool {
        matches!(self, PortalError::User { .. } | PortalError::TooMany(_))
    }
}

impl std::fmt::Display for PortalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortalError::Internal(detail) => write!(f, "internal error: {detail}"),
            other => f.write_str(&other.message()),
        }
    }
}

impl From<StoreError> for PortalError {
    fn from(e: StoreError) -> Self {
        PortalError::internal(e)
    }
}

impl From<MailError> for PortalError {
    fn from(e: MailError) -> Self {
        PortalError::internal(e)
    }
}

impl From<DocumentError> for PortalError {
    fn from(e: DocumentError) -> Self {
        PortalError::internal(e)
    }
}

impl From<askama::Error> for PortalError {
    fn from(e: askama::Error) -> Self {
        PortalError::internal(e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    reason: String,
    message: String,
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let PortalError::Internal(detail) = &self {
            tracing::error!(%detail, "portal request failed");
        }
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.message(),
        };
        let html = page
            .render()
            .unwrap_or_else(|_| format!("<!doctype html><title>{status}</title><p>{status}</p>"));
        (
            status,
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            Html(html),
        )
            .into_response()
    }
}
