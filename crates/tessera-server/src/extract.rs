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
use crate::audit::{ADMIN_TOKEN, Actor};
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

/// The `Authorization: Bearer` token of a request, if it has one.
pub fn bearer_of(parts: &Parts) -> Option<&str> {
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

/// Compares a presented admin token with the LAN server's in constant time.
pub fn admin_token_matches(state: &SharedState, presented: &str) -> bool {
    let Some(identity) = state.identity() else {
        return false;
    };
    same_secret(&identity.admin_token, presented)
}

/// Whether `presented` is `expected`, compared in constant time.
pub fn same_secret(expected: &str, presented: &str) -> bool {
    presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// A named parameter of the matched path (decoded), whatever the others are.
async fn path_param(parts: &mut Parts, name: &str) -> Option<String> {
    let params = axum::extract::RawPathParams::from_request_parts(parts, &())
        .await
        .ok()?;
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The realm a request is about: the LAN server's one realm, or on the web license
/// server the organization in the path (`/w/{org}/…`). Whether that organization exists
/// is not said here: a caller learns it only with a credential or an admin's sign-in
/// that is good for it (`credential.rs`, the portal's gate), so that the answers tell a
/// stranger nothing of which organizations there are.
pub struct Realm(pub String);

impl FromRequestParts<SharedState> for Realm {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        if state.identity().is_some() {
            return Ok(Realm(state.realm.clone()));
        }
        Ok(Realm(path_param(parts, "org").await.unwrap_or_default()))
    }
}

/// The `{id}` of a lease or borrow path, whatever other parameters the path has.
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match path_param(parts, "id").await {
            Some(id) if !id.is_empty() => Ok(Id(id)),
            _ => Err(ApiError::new(
                ErrorCode::NotFound,
                "no such lease or borrow",
            )),
        }
    }
}

/// An admin call: with the LAN server's admin token (a bearer token or the live page's
/// cookie), or on the web license server whoever the portal's gate lets administer the
/// realm. It carries who that is, for the audit log.
pub struct Admin(pub Actor);

/// The client's address of a request as this server sees it (after trusted proxies).
pub fn client_address(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

impl FromRequestParts<SharedState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(gate) = &state.admin_gate {
            let Realm(realm) = Realm::from_request_parts(parts, state).await?;
            let who = gate.authorize(parts, &realm).await?;
            return Ok(Admin(Actor::new(&realm, &who, client_address(parts))));
        }
        let presented = bearer_of(parts).or_else(|| cookie_of(parts, ADMIN_COOKIE));
        match presented {
            Some(t) if admin_token_matches(state, t) => Ok(Admin(Actor::new(
                &state.realm,
                ADMIN_TOKEN,
                client_address(parts),
            ))),
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

/// The client's address as this server saw it (the peer of the connection); `None` for
/// requests without one (in-process tests).
pub struct ClientAddress(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts)))
    }
}
