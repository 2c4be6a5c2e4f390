//! Importing activation keys: the vendor's signature, this server's registration key,
//! the expiry, and sane pools; then the pools go into service.

use tessera_core::protocol::ActivationImported;
use tessera_core::{Millis, to_millis, validate};
use tessera_store::{ActivationRecord, Store, StoreError};
use tessera_token::{ActivationKey, RegistrationKey, TokenError, VerifyingKey, verify_activation};
use thiserror::Error;

use crate::identity::ServerIdentity;

/// The most seats one pool may have; far above any office, low enough to stay sane.
const MAX_SEATS: u32 = 1_000_000;

#[derive(Debug, Error)]
pub enum ActivationError {
    #[error("the activation key's signature does not verify against the vendor key")]
    InvalidSignature,
    #[error("this is not an activation key: {0}")]
    Malformed(String),
    #[error(
        "the activation key was issued for another server (registration key {found}); this server's registration key is {expected}"
    )]
    WrongServer { expected: String, found: String },
    #[error("the activation key expired on {0}")]
    Expired(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks an activation key for this server without importing it.
pub fn check(
    identity: &ServerIdentity,
    vendor: &VerifyingKey,
    text: &str,
    now: Millis,
) -> Result<ActivationKey, ActivationError> {
    let key = verify_activation(vendor, text).map_err(|e| match e {
        TokenError::InvalidSignature => ActivationError::InvalidSignature,
        TokenError::Malformed => {
            ActivationError::Malformed("it is not a PASETO v4.public token".into())
        }
        other => ActivationError::Malformed(other.to_string()),
    })?;
    let claims = &key.claims;
    let named = RegistrationKey::parse(&claims.registration_key).ok();
    let ours = named.as_ref() == Some(&identity.registration_key)
        && key.server_key().ok().as_ref() == Some(identity.key.verifying_key());
    if !ours {
        return Err(ActivationError::WrongServer {
            expected: identity.registration_key.to_string(),
            found: claims.registration_key.clone(),
        });
    }
    if to_millis(claims.exp) <= now {
        return Err(ActivationError::Expired(claims.exp.to_rfc3339()));
    }
    if claims.pools.is_empty() {
        return Err(ActivationError::Malformed("it grants no pools".into()));
    }
    for pool in &claims.pools {
        validate::name("pool id", &pool.id)
            .map_err(|e| ActivationError::Malformed(e.to_string()))?;
        if pool.products.is_empty() {
            return Err(ActivationError::Malformed(format!(
                "pool `{}` covers no product",
                pool.id
            )));
        }
        for p in &pool.products {
            validate::product(p).map_err(|e| ActivationError::Malformed(e.to_string()))?;
        }
        if pool.seats == 0 || pool.seats > MAX_SEATS || pool.end <= pool.start {
            return Err(ActivationError::Malformed(format!(
                "pool `{}` has impossible seats or dates",
                pool.id
            )));
        }
    }
    Ok(key)
}

/// Checks and imports an activation key; its pools are in service at once.
pub async fn import(
    store: &Store,
    realm: &str,
    identity: &ServerIdentity,
    vendor: &VerifyingKey,
    text: &str,
    now: Millis,
) -> Result<ActivationImported, ActivationError> {
    let key = check(identity, vendor, text, now)?;
    let c = &key.claims;
    store
        .import_activation(
            realm,
            &ActivationRecord {
                id: c.jti.clone(),
                org: c.org.clone(),
                token: key.text.clone(),
                issued_at: to_millis(c.iat),
                expires_at: to_millis(c.exp),
                pools: c.pools.clone(),
            },
            now,
        )
        .await?;
    Ok(ActivationImported {
        activation_id: c.jti.clone(),
        org: c.org.clone(),
        pools: c.pools.iter().map(|p| p.id.clone()).collect(),
        exp: c.exp,
    })
}

/// At start: takes out of service every stored activation that no longer holds here —
/// a data folder copied to another machine, or a changed vendor key. Expired ones stay,
/// so that checkouts say `license_expired` rather than `unknown_product`.
pub async fn revalidate(
    store: &Store,
    realm: &str,
    identity: &ServerIdentity,
    vendor: &VerifyingKey,
    now: Millis,
) -> Result<Vec<String>, StoreError> {
    let mut refused = Vec::new();
    for (id, text) in store.activations(realm).await? {
        match check(identity, vendor, &text, now) {
            Ok(_) | Err(ActivationError::Expired(_)) => {}
            Err(e) => {
                tracing::warn!(activation = %id, reason = %e, "activation refused on this server; its pools are out of service");
                store.remove_activation(realm, &id).await?;
                refused.push(id);
            }
        }
    }
    Ok(refused)
}
