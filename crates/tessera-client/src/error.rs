//! `ClientError`: every way getting or keeping a license can fail, with the protocol's
//! stable code for programs and a plain message for the engineer whose program won't
//! start. Also owns the translation of HTTP answers and transport failures into it.

use chrono::{DateTime, Utc};
use tessera_core::ErrorCode;
use tessera_core::protocol::ErrorBody;
use tessera_token::TokenError;
use thiserror::Error;

/// Why a call to the license server, or a license held in the background, failed.
///
/// Variants that come from the server carry its message verbatim: the server knows the
/// pool ("all 3 seats of `acad` are in use"), the client does not.
#[derive(Debug, Error)]
pub enum ClientError {
    /// Every seat of every pool covering the product is taken.
    #[error("no seat is available: {message}")]
    NoSeatAvailable { message: String },
    /// The server has no pool for the product.
    #[error("the license server does not license this product: {message}")]
    UnknownProduct { message: String },
    /// Every pool covering the product has ended.
    #[error("the license has expired: {message}")]
    LicenseExpired { message: String },
    /// The server's policy refuses this user, host or request.
    #[error("the license server's policy refuses this request: {message}")]
    DeniedByPolicy { message: String },
    /// The lease expired on the server or an admin removed it.
    #[error("the lease is no longer held on the license server: {message}")]
    LeaseNotFound { message: String },
    /// The pool of the product does not lend seats for offline use.
    #[error("this license cannot be borrowed: {message}")]
    BorrowNotAllowed { message: String },
    /// More hours were asked than the pool (or the server) lends for.
    #[error("the borrow is too long: {message}")]
    BorrowTooLong { message: String },
    /// This computer's clock is earlier than a time the client has already seen (when
    /// the borrowed license was issued, or its last use), so the borrowed license is not
    /// used: a clock turned back would stretch it past its end.
    #[error("{message}")]
    ClockTurnedBack { message: String },
    /// The borrowed license has ended, and no seat could be taken online instead.
    #[error("the borrowed license of `{product}` ended at {}: {message}", .until.format("%Y-%m-%d %H:%M:%S UTC"))]
    BorrowExpired {
        product: String,
        until: DateTime<Utc>,
        message: String,
    },
    /// There is no borrowed license of the product from this server on this computer.
    #[error("no license of `{product}` is borrowed from {server} on this computer")]
    NotBorrowed { product: String, server: String },
    /// No HTTP answer at all: connection refused, timeout, DNS or TLS failure.
    #[error("cannot reach the license server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// Any other error answer of the server, with its wire code.
    #[error("the license server refused the request ({code}, HTTP {status}): {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// A token that does not verify back to the vendor key, or that was not issued for
    /// what was asked. Never accepted.
    #[error("the license server's token cannot be trusted: {0}")]
    Untrusted(TokenError),
    /// The client is not configured well enough to make a call.
    #[error("{0}")]
    Config(String),
    /// The server answered something that is not the license protocol.
    #[error("the license server's answer is not understood: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The stable code: the server's wire code for server errors, otherwise one of
    /// `clock_turned_back`, `borrow_expired`, `not_borrowed`, `unreachable`,
    /// `untrusted_token`, `config`, `protocol`.
    pub fn code(&self) -> &str {
        match self {
            ClientError::NoSeatAvailable { .. } => ErrorCode::NoSeatAvailable.as_str(),
            ClientError::UnknownProduct { .. } => ErrorCode::UnknownProduct.as_str(),
            ClientError::LicenseExpired { .. } => ErrorCode::LicenseExpired.as_str(),
            ClientError::DeniedByPolicy { .. } => ErrorCode::DeniedByPolicy.as_str(),
            ClientError::LeaseNotFound { .. } => ErrorCode::LeaseNotFound.as_str(),
            ClientError::BorrowNotAllowed { .. } => ErrorCode::BorrowNotAllowed.as_str(),
            ClientError::BorrowTooLong { .. } => ErrorCode::BorrowTooLong.as_str(),
            ClientError::ClockTurnedBack { .. } => "clock_turned_back",
            ClientError::BorrowExpired { .. } => "borrow_expired",
            ClientError::NotBorrowed { .. } => "not_borrowed",
            ClientError::Unreachable { .. } => "unreachable",
            ClientError::Server { code, .. } => code,
            ClientError::Untrusted(_) => "untrusted_token",
            ClientError::Config(_) => "config",
            ClientError::Protocol(_) => "protocol",
        }
    }

    /// Whether trying again later may succeed without anyone changing anything: the
    /// server is down, restarting, overloaded or behind a failing proxy.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } => true,
            ClientError::Server { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            _ => false,
        }
    }

    /// Whether the server no longer knows the lease (or its token), so the way back is
    /// a fresh checkout rather than another heartbeat.
    pub(crate) fn lease_is_gone(&self) -> bool {
        match self {
            ClientError::LeaseNotFound { .. } => true,
            ClientError::Server { code, .. } => code == ErrorCode::Unauthorized.as_str(),
            _ => false,
        }
    }
}

/// Turns an error answer (status and body text) into a `ClientError`. `server` is the
/// base URL, named in messages when the body is not a protocol error body.
pub(crate) fn from_error_response(status: u16, body: &str, server: &str) -> ClientError {
    let Ok(parsed) = serde_json::from_str::<ErrorBody>(body) else {
        return ClientError::Server {
            status,
            code: format!("http_{status}"),
            message: format!(
                "{server} answered HTTP {status} without a license protocol error{}",
                snippet(body)
            ),
        };
    };
    let code = parsed.error.code;
    let message = if parsed.error.message.trim().is_empty() {
        code.replace('_', " ")
    } else {
        parsed.error.message
    };
    match ErrorCode::parse(&code) {
        Some(ErrorCode::NoSeatAvailable) => ClientError::NoSeatAvailable { message },
        Some(ErrorCode::UnknownProduct) => ClientError::UnknownProduct { message },
        Some(ErrorCode::LicenseExpired) => ClientError::LicenseExpired { message },
        Some(ErrorCode::DeniedByPolicy) => ClientError::DeniedByPolicy { message },
        Some(ErrorCode::LeaseNotFound) => ClientError::LeaseNotFound { message },
        Some(ErrorCode::BorrowNotAllowed) => ClientError::BorrowNotAllowed { message },
        Some(ErrorCode::BorrowTooLong) => ClientError::BorrowTooLong { message },
        // Codes this client has no variant for, and codes of a newer server, keep their
        // wire code so programs can still match on them.
        _ => ClientError::Server {
            status,
            code,
            message,
        },
    }
}

/// The start of an unexpected body (an HTML page of a proxy, say), enough to recognise it.
fn snippet(body: &str) -> String {
    let flat: String = body
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    if flat.is_empty() {
        String::new()
    } else {
        format!(": {flat}")
    }
}

/// Turns a transport failure into a `ClientError`; `server` is the base URL.
pub(crate) fn from_transport(server: &str, e: ureq::Error) -> ClientError {
    use std::io::ErrorKind;
    let reason = match e {
        ureq::Error::BadUri(detail) => {
            return ClientError::Config(format!(
                "the license server address {server} is not a valid URL: {detail}"
            ));
        }
        ureq::Error::RequireHttpsOnly(_) | ureq::Error::InvalidProxyUrl => {
            return ClientError::Config(format!("cannot call {server}: {e}"));
        }
        ureq::Error::Json(e) => {
            return ClientError::Protocol(format!("{server} answered JSON that does not fit: {e}"));
        }
        ureq::Error::Protocol(_)
        | ureq::Error::LargeResponseHeader(..)
        | ureq::Error::BodyExceedsLimit(_)
        | ureq::Error::Decompress(..)
        | ureq::Error::TooManyRedirects
        | ureq::Error::RedirectFailed => {
            return ClientError::Protocol(format!("{server}: {e}"));
        }
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => {
                "connection refused (is the license server running?)".to_owned()
            }
            ErrorKind::TimedOut => "no answer in time".to_owned(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                "the connection was closed".to_owned()
            }
            _ => io.to_string(),
        },
        ureq::Error::Timeout(which) => format!("no answer in time ({which})"),
        ureq::Error::HostNotFound => "the host name is not known".to_owned(),
        other => other.to_string(),
    };
    ClientError::Unreachable {
        url: server.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://licsrv:27080";

    fn body(code: &str, message: &str) -> String {
        serde_json::json!({"error": {"code": code, "message": message}}).to_string()
    }

    #[test]
    fn known_codes_become_their_variants_and_keep_the_server_message() {
        let e = from_error_response(
            409,
            &body("no_seat_available", "all 3 seats of `acad` are in use"),
            URL,
        );
        assert!(
            matches!(&e, ClientError::NoSeatAvailable { message } if message == "all 3 seats of `acad` are in use")
        );
        assert_eq!(e.code(), "no_seat_available");
        assert!(e.to_string().contains("all 3 seats of `acad` are in use"));

        let e = from_error_response(403, &body("denied_by_policy", "anna is excluded"), URL);
        assert!(
            matches!(&e, ClientError::DeniedByPolicy { message } if message == "anna is excluded")
        );
        assert_eq!(e.code(), "denied_by_policy");

        let e = from_error_response(404, &body("unknown_product", "no pool covers `x`"), URL);
        assert!(matches!(e, ClientError::UnknownProduct { .. }));
        assert_eq!(e.code(), "unknown_product");

        let e = from_error_response(410, &body("license_expired", "ended"), URL);
        assert!(matches!(e, ClientError::LicenseExpired { .. }));
        assert_eq!(e.code(), "license_expired");

        let e = from_error_response(403, &body("borrow_not_allowed", "not lent"), URL);
        assert!(matches!(e, ClientError::BorrowNotAllowed { .. }));
        assert_eq!(e.code(), "borrow_not_allowed");
        assert!(e.to_string().contains("not lent"));

        let e = from_error_response(422, &body("borrow_too_long", "at most 24 h"), URL);
        assert!(matches!(e, ClientError::BorrowTooLong { .. }));
        assert_eq!(e.code(), "borrow_too_long");
        assert!(!e.is_transient());

        let e = from_error_response(404, &body("borrow_not_found", "ended"), URL);
        assert_eq!(e.code(), "borrow_not_found");

        let e = from_error_response(404, &body("lease_not_found", "gone"), URL);
        assert!(matches!(e, ClientError::LeaseNotFound { .. }));
        assert!(e.lease_is_gone());
        assert!(!e.is_transient());
    }

    #[test]
    fn other_and_future_codes_keep_their_wire_code_and_status() {
        let e = from_error_response(409, &body("wrong_server", "for another server"), URL);
        match &e {
            ClientError::Server {
                status,
                code,
                message,
            } => {
                assert_eq!(*status, 409);
                assert_eq!(code, "wrong_server");
                assert_eq!(message, "for another server");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(e.code(), "wrong_server");

        let e = from_error_response(418, &body("some_new_code", "from the future"), URL);
        assert_eq!(e.code(), "some_new_code");
        assert!(e.to_string().contains("from the future"));

        let e = from_error_response(401, &body("unauthorized", "bad token"), URL);
        assert!(e.lease_is_gone());

        let e = from_error_response(503, &body("unavailable", "shutting down"), URL);
        assert!(e.is_transient());
    }

    #[test]
    fn bodies_that_are_not_protocol_errors_are_reported_with_status_and_a_snippet() {
        let e = from_error_response(502, "<html>\n<body>Bad Gateway</body>\n</html>", URL);
        assert_eq!(e.code(), "http_502");
        assert!(e.is_transient());
        let text = e.to_string();
        assert!(text.contains(URL), "{text}");
        assert!(text.contains("Bad Gateway"), "{text}");

        let e = from_error_response(404, "", URL);
        assert_eq!(e.code(), "http_404");
        assert!(!e.is_transient());
    }

    #[test]
    fn an_empty_server_message_falls_back_to_the_code() {
        let e = from_error_response(409, &body("no_seat_available", " "), URL);
        assert_eq!(e.to_string(), "no seat is available: no seat available");
    }

    #[test]
    fn transport_failures_are_unreachable_with_the_server_url() {
        let e = from_transport(
            URL,
            ureq::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        );
        assert_eq!(e.code(), "unreachable");
        assert!(e.is_transient());
        assert_eq!(
            e.to_string(),
            "cannot reach the license server at http://licsrv:27080: connection refused (is the license server running?)"
        );
        assert_eq!(
            from_transport(URL, ureq::Error::BadUri("x".into())).code(),
            "config"
        );
        assert_eq!(
            ClientError::Untrusted(TokenError::InvalidSignature).code(),
            "untrusted_token"
        );
    }
}
