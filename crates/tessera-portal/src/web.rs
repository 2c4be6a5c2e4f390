//! The web license server beside the portal: the protocol at `/w/{org}/api/v1` (from
//! tessera-server), whose admin calls the portal allows for the organization's own
//! people (and the vendor's staff), and the page behind "Use Web License Server".

use std::future::Future;
use std::pin::Pin;

use axum::http::request::Parts;
use tessera_core::ErrorCode;
use tessera_server::AdminGate;
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

/// Lets whoever [`administered_by`] allows call the admin API of a realm.
pub struct PortalGate {
    pub store: Store,
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

impl AdminGate for PortalGate {
    fn authorize<'a>(
        &'a self,
        parts: &'a Parts,
        realm: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 'a>> {
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
                Some(_) => Ok(()),
                None => Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "this web license server belongs to another organization",
                )),
            }
        })
    }
}
