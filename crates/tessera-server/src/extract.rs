//! Extractors that turn every malformed request into a typed `ApiError`: JSON bodies
//! (broken, wrong types, too large), bearer tokens and the admin token.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use tessera_core::ErrorCode;

use crate::SharedState;
use crate::error::ApiError;

/// The admin session cookie of the live page.
pub const ADMIN_COOKIE: &str = "tessera_admin";

/// A JSON body whose rejections answer in the protocol's error format.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => {
            ApiError::invalid(format!("the request body does not fit: {}", e.body_text()))
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            ErrorCode::InvalidJson,
            format!("the request body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the request body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
        }
        other => ApiError::invalid(other.body_text()),
    }
}

/// The bearer token of a request, as text; its meaning is checked by the handler.
pub struct Bearer(pub String);

fn bearer_of(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match bearer_of(parts) {
            Some(t) if !t.is_empty() && t.len() <= 16 * 1024 => Ok(Bearer(t.to_owned())),
            _ => Err(ApiError::unauthorized(
                "this call needs `Authorization: Bearer <token>`",
            )),
        }
    }
}

fn cookie_of<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Compares a presented admin token with the server's in constant time.
pub fn admin_token_matches(state: &SharedState, presented: &str) -> bool {
    let expected = state.identity.admin_token.as_bytes();
    presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected))
}

/// A request made with the admin token, as a bearer token or the live page's cookie.
pub struct Admin;

impl FromRequestParts<SharedState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let presented = bearer_of(parts).or_else(|| cookie_of(parts, ADMIN_COOKIE));
        match presented {
            Some(t) if admin_token_matches(state, t) => Ok(Admin),
            Some(_) => Err(ApiError::unauthorized("the admin token is not valid")),
            None => Err(ApiError::unauthorized(
                "admin calls need `Authorization: Bearer <admin token>` (see `tessera server admin-token`)",
            )),
        }
    }
}

/// Whether the live page's visitor is signed in (no rejection: the page shows a form).
pub struct MaybeAdmin(pub bool);

impl FromRequestParts<SharedState> for MaybeAdmin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeAdmin(
            cookie_of(parts, ADMIN_COOKIE).is_some_and(|t| admin_token_matches(state, t)),
        ))
    }
}
