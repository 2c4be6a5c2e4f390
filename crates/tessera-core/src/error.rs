//! The stable error codes of the license protocol. A code never changes meaning once
//! released; clients match on it, people read the message.

use serde::{Deserialize, Serialize};

/// Every error code the v1 protocol can answer with, and the HTTP status it goes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No free seat in any pool that covers the product.
    NoSeatAvailable,
    /// The server's policy refuses this user, host or request.
    DeniedByPolicy,
    /// No pool on this server covers the product.
    UnknownProduct,
    /// Every pool covering the product has ended.
    LicenseExpired,
    /// Every pool covering the product starts in the future.
    LicenseNotStarted,
    /// The request's fields are present but not acceptable.
    InvalidRequest,
    /// The body is not well-formed JSON.
    InvalidJson,
    /// The request carries a body of a type other than JSON.
    UnsupportedMediaType,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// The lease does not exist (any more): it expired, was checked in or removed.
    LeaseNotFound,
    /// The borrow does not exist (any more).
    BorrowNotFound,
    /// The pool does not allow borrowing.
    BorrowNotAllowed,
    /// More hours were asked than the pool allows.
    BorrowTooLong,
    /// A token is missing, malformed or not valid for this call.
    Unauthorized,
    /// The caller's token is valid but does not allow this call.
    Forbidden,
    /// A checkout or borrow that must carry a credential (a person's sign-in or a site
    /// key) came without one.
    AuthenticationRequired,
    /// The credential is made up, revoked, expired, or not one of this license server.
    InvalidCredential,
    /// A policy that does not parse or check; the message names the line.
    InvalidPolicy,
    /// Too many checkouts are waiting already.
    QueueFull,
    /// This client sends more requests than the server takes from one client.
    RateLimited,
    /// An activation key's signature does not verify against the vendor key.
    InvalidSignature,
    /// An activation key names another server.
    WrongServer,
    /// An activation key has expired.
    Expired,
    /// The path does not exist.
    NotFound,
    /// The path exists but not for this method.
    MethodNotAllowed,
    /// The server could not complete the request; details are in its log.
    Internal,
    /// The server is not ready (for example shutting down).
    Unavailable,
    /// A named user signed in on another device; this one stops until they sign in here again.
    Superseded,
    /// The named user holds no seat of the product (any more).
    SeatUnassigned,
    /// The organization's token balance is below the product's daily rate.
    TokensExhausted,
    /// The organization's tokens have expired (none valid are left).
    TokensExpired,
    /// A browser sign-in is not approved yet: ask again after the interval.
    AuthorizationPending,
    /// A browser sign-in was asked about too often: wait longer between asks.
    SlowDown,
    /// The person denied the browser sign-in.
    AccessDenied,
    /// The browser sign-in's code ended, was used already, or never was.
    ExpiredToken,
}

impl ErrorCode {
    /// The HTTP status code that goes with this error.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            NoSeatAvailable => 409,
            DeniedByPolicy => 403,
            UnknownProduct => 404,
            LicenseExpired => 410,
            LicenseNotStarted => 403,
            InvalidRequest => 422,
            InvalidJson => 400,
            UnsupportedMediaType => 415,
            PayloadTooLarge => 413,
            LeaseNotFound => 404,
            BorrowNotFound => 404,
            BorrowNotAllowed => 403,
            BorrowTooLong => 422,
            Unauthorized => 401,
            Forbidden => 403,
            AuthenticationRequired => 401,
            InvalidCredential => 401,
            InvalidPolicy => 422,
            QueueFull => 503,
            RateLimited => 429,
            InvalidSignature => 400,
            WrongServer => 409,
            Expired => 410,
            NotFound => 404,
            MethodNotAllowed => 405,
            Internal => 500,
            Unavailable => 503,
            Superseded => 409,
            SeatUnassigned => 403,
            TokensExhausted => 402,
            TokensExpired => 410,
            AuthorizationPending => 400,
            SlowDown => 400,
            AccessDenied => 403,
            ExpiredToken => 410,
        }
    }

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            NoSeatAvailable => "no_seat_available",
            DeniedByPolicy => "denied_by_policy",
            UnknownProduct => "unknown_product",
            LicenseExpired => "license_expired",
            LicenseNotStarted => "license_not_started",
            InvalidRequest => "invalid_request",
            InvalidJson => "invalid_json",
            UnsupportedMediaType => "unsupported_media_type",
            PayloadTooLarge => "payload_too_large",
            LeaseNotFound => "lease_not_found",
            BorrowNotFound => "borrow_not_found",
            BorrowNotAllowed => "borrow_not_allowed",
            BorrowTooLong => "borrow_too_long",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            AuthenticationRequired => "authentication_required",
            InvalidCredential => "invalid_credential",
            InvalidPolicy => "invalid_policy",
            QueueFull => "queue_full",
            RateLimited => "rate_limited",
            InvalidSignature => "invalid_signature",
            WrongServer => "wrong_server",
            Expired => "expired",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            Internal => "internal",
            Unavailable => "unavailable",
            Superseded => "superseded",
            SeatUnassigned => "seat_unassigned",
            TokensExhausted => "tokens_exhausted",
            TokensExpired => "tokens_expired",
            AuthorizationPending => "authorization_pending",
            SlowDown => "slow_down",
            AccessDenied => "access_denied",
            ExpiredToken => "expired_token",
        }
    }

    /// Parses a wire code; unknown codes (from a newer server) give `None`.
    pub fn parse(code: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(code.to_owned())).ok()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_codes_round_trip_through_serde_and_as_str() {
        for code in [
            ErrorCode::NoSeatAvailable,
            ErrorCode::DeniedByPolicy,
            ErrorCode::LeaseNotFound,
            ErrorCode::WrongServer,
            ErrorCode::BorrowTooLong,
            ErrorCode::Internal,
            ErrorCode::Superseded,
            ErrorCode::SeatUnassigned,
            ErrorCode::TokensExhausted,
            ErrorCode::TokensExpired,
            ErrorCode::AuthenticationRequired,
            ErrorCode::InvalidCredential,
            ErrorCode::AuthorizationPending,
            ErrorCode::SlowDown,
            ErrorCode::AccessDenied,
            ErrorCode::ExpiredToken,
        ] {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json.as_str().unwrap(), code.as_str());
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }
}
