//! Who takes a seat. On the web license server every checkout, borrow and look at the
//! pools carries a credential: a person's sign-in (the device-bound token of `tessera
//! login`, checked by the portal through [`crate::WebGate::person`]) or a site key made in the
//! panel. A LAN server is open on its own network unless started with
//! `--require-site-key`; a site key sent to it is checked either way.
//!
//! No credential, or one that is made up, revoked, ended or of another organization, gets
//! the same 401 whatever the organization, so the answers tell nobody which exist.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tessera_core::ErrorCode;
use tessera_store::SiteKeyRecord;
use tessera_token::{is_site_key, site_key_hash};

use crate::SharedState;
use crate::error::ApiError;
use crate::extract::{Admin, ClientAddress, Realm, bearer_of};

/// A person whose sign-in the portal vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Their account's verified e-mail.
    pub email: String,
    /// Whether their account belongs to the organization (otherwise only the
    /// organization's allow list or allowed domains can let them in).
    pub member: bool,
}

/// What a seat is taken with.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A LAN server that asks for none.
    Open,
    Person(Person),
    SiteKey(SiteKeyRecord),
}

impl Credential {
    /// The verified e-mail of a person's sign-in.
    pub fn signed_in(&self) -> Option<&str> {
        match self {
            Credential::Person(p) => Some(&p.email),
            _ => None,
        }
    }

    pub fn site_key_id(&self) -> Option<&str> {
        match self {
            Credential::SiteKey(k) => Some(&k.id),
            _ => None,
        }
    }

    /// The bucket of the per-credential rate limit, if the credential has one.
    pub fn rate_key(&self) -> Option<String> {
        match self {
            Credential::Open => None,
            Credential::Person(p) => Some(format!("person:{}", p.email)),
            Credential::SiteKey(k) => Some(format!("key:{}", k.id)),
        }
    }
}

/// The answer to a call that needs a credential and came without one.
pub fn required() -> ApiError {
    ApiError::new(
        ErrorCode::AuthenticationRequired,
        "this license server lends seats only to a signed-in person or to a program with a site key: \
         sign in with `tessera login`, or set a site key (TESSERA_SITE_KEY, or site_key in client.toml)",
    )
}

/// The answer to a credential that is not good here, whatever the reason.
pub fn refused() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidCredential,
        "the credential is not valid for this license server (made up, revoked, of another \
         organization, or a sign-in that has ended): sign in again with `tessera login`, or ask \
         your admin for a site key",
    )
}

/// Checks the request's credential for `realm`.
pub async fn check(
    state: &SharedState,
    bearer: Option<&str>,
    realm: &str,
    address: Option<&str>,
) -> Result<Credential, ApiError> {
    let web = state.identity().is_none();
    let credential = match bearer {
        None if web || state.config.require_site_key => return Err(required()),
        None => Credential::Open,
        Some(token) if is_site_key(token) => {
            let key = state
                .store
                .active_site_key(&site_key_hash(token))
                .await?
                .filter(|k| k.realm == realm)
                .ok_or_else(refused)?;
            if let Err(e) = state.store.touch_site_key(&key, state.now(), address).await {
                tracing::warn!(error = %e, key = %key.id, "could not note a site key's use");
            }
            Credential::SiteKey(key)
        }
        Some(token) => match &state.admin_gate {
            Some(gate) => {
                let person = gate.person(realm, token).await?;
                if !person.member {
                    let lists = state.realm_state(realm).await?.ok_or_else(refused)?;
                    if !lists.access.admits_outsider(&person.email) {
                        return Err(refused());
                    }
                }
                Credential::Person(person)
            }
            // An open LAN server ignores other bearer tokens (it asks for nothing);
            // one that requires site keys takes nothing else.
            None if state.config.require_site_key => return Err(refused()),
            None => Credential::Open,
        },
    };
    if let Some(key) = credential.rate_key()
        && let Err(wait) = state.limiter.credentials.take(&key)
    {
        return Err(crate::limits::too_many_for_credential(wait));
    }
    Ok(credential)
}

/// The credential of a checkout or a borrow (see [`check`]).
pub struct SeatCredential(pub Credential);

impl FromRequestParts<SharedState> for SeatCredential {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let Realm(realm) = Realm::from_request_parts(parts, state).await?;
        let ClientAddress(address) = ClientAddress::from_request_parts(parts, state)
            .await
            .unwrap_or(ClientAddress(None));
        let bearer = bearer_of(parts).map(str::to_owned);
        check(state, bearer.as_deref(), &realm, address.as_deref())
            .await
            .map(SeatCredential)
    }
}

/// Who may see the pools (`GET /api/v1/server`): whoever may take a seat, or an admin
/// (the LAN server's admin token; the organization's admins signed in to the portal).
pub struct PoolReader;

impl FromRequestParts<SharedState> for PoolReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let seat = SeatCredential::from_request_parts(parts, state).await;
        match seat {
            Ok(_) => Ok(PoolReader),
            Err(e) => match Admin::from_request_parts(parts, state).await {
                Ok(Admin(_)) => Ok(PoolReader),
                Err(_) => Err(e),
            },
        }
    }
}

/// Makes a new site key for `realm`: returns its record and its text, which is shown once
/// and never kept.
pub async fn add_site_key(
    store: &tessera_store::Store,
    realm: &str,
    name: &str,
    created_by: &str,
    now: tessera_core::Millis,
) -> Result<(SiteKeyRecord, String), tessera_store::SiteKeyError> {
    let text = tessera_token::generate_site_key();
    let record = store
        .add_site_key(realm, name, &site_key_hash(&text), created_by, now)
        .await?;
    Ok((record, text))
}
