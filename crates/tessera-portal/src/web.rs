//! The web license server beside the portal: the protocol at `/w/{org}/api/v1` (from
//! tessera-server), whose admin calls the portal allows for the organization's own
//! people (and the vendor's staff), and whose checkouts it lets a person's sign-in take
//! (a live named-user sign-in of an account; membership of the organization decided here).

use std::future::Future;
use std::pin::Pin;

use axum::http::request::Parts;
use tessera_core::ErrorCode;
use tessera_server::WebGate;
use tessera_server::credential::{Person, refused};
use tessera_server::error::ApiError;
use tessera_store::portal::{OrganizationRecord, Role, UserRecord};
use tessera_store::{Store, StoreError};

use crate::security::token_hash;
use crate::session::SESSION_COOKIE;

/// The one rule of who administers an organization's web license server (its panel
/// and its admin API): for now every member of the organization, and the vendor's
/// staff. Team roles will narrow it to the organization's admins, here and nowhere else.
/// `None` when `user` may not, or there is no such organization.
pub async fn administered_by(
    store: &Store,
    user: &UserRecord,
    slug: &str,
) -> Result<Option<OrganizationRecord>, StoreError> {
    let Some(org) = store.organization_by_slug(slug).await? else {
        return Ok(None);
    };
    let may = user.role == Role::Staff || org.id == user.organization_id;
    Ok(may.then_some(org))
}

/// Lets whoever [`administered_by`] allows call the admin API of a realm, and tells
/// the web license server whose sign-in a checkout carries.
pub struct PortalGate {
    pub store: Store,
    /// Signs named-user tokens (the vendor's key).
    pub vendor: tessera_token::VerifyingKey,
    /// A sign-in older than this must be made again (the named-user settings).
    pub offline_days: u32,
}

impl PortalGate {
    /// The person of a named-user sign-in token, if the token is the vendor's, current,
    /// and its sign-in has not ended (signed out, signed in elsewhere, removed).
    async fn signed_in(&self, realm: &str, token: &str) -> Result<Option<Person>, StoreError> {
        if token.len() > 8192 {
            return Ok(None);
        }
        let Ok(claims) = tessera_token::verify_named(&self.vendor, token) else {
            return Ok(None);
        };
        let now = chrono::Utc::now();
        let too_old = claims.iat + chrono::Duration::days(i64::from(self.offline_days));
        if claims.exp <= now || too_old <= now {
            return Ok(None);
        }
        let Some(session) = self.store.named_session(&claims.jti).await? else {
            return Ok(None);
        };
        if session.end_reason.is_some() || session.device != claims.device {
            return Ok(None);
        }
        let Some(user) = self.store.user(&session.user_id).await? else {
            return Ok(None);
        };
        let member = match self.store.organization_by_slug(realm).await? {
            Some(org) => org.id == user.organization_id,
            None => return Ok(None),
        };
        Ok(Some(Person {
            email: user.email,
            member,
        }))
    }
}

fn session_token(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
}

impl WebGate for PortalGate {
    fn authorize<'a>(
        &'a self,
        parts: &'a Parts,
        realm: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, ApiError>> + Send + 'a>> {
        Box::pin(async move {
            let now = tessera_core::to_millis(chrono::Utc::now());
            let Some(token) = session_token(parts) else {
                return Err(ApiError::unauthorized(
                    "sign in to the portal to administer this web license server",
                ));
            };
            let user = match self.store.session(&token_hash(token), now).await? {
                Some(s) => match s.user_id {
                    Some(id) => self.store.user(&id).await?,
                    None => None,
                },
                None => None,
            };
            let Some(user) = user else {
                return Err(ApiError::unauthorized(
                    "sign in to the portal to administer this web license server",
                ));
            };
            match administered_by(&self.store, &user, realm).await? {
                Some(_) => Ok(user.email),
                None => Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "this web license server belongs to another organization",
                )),
            }
        })
    }

    fn person<'a>(
        &'a self,
        realm: &'a str,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Person, ApiError>> + Send + 'a>> {
        Box::pin(async move { self.signed_in(realm, token).await?.ok_or_else(refused) })
    }
}
