//! PASETO v4.public documents of the trust chain.
//!
//! An activation key is signed by the vendor and names the server's key; lease and
//! borrow tokens are signed by that server and carry the activation key in their footer,
//! so a client holding only the vendor's public key verifies the whole chain offline.
//! Tokens of the web license server have no footer and are signed by the vendor key.

use chrono::{DateTime, Utc};
use pasetors::Public;
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};
use serde::{Deserialize, Serialize};
use tessera_core::PoolSpec;

use crate::{SigningKey, TokenError, VerifyingKey};

/// Claims of an activation key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationClaims {
    pub kind: String,
    /// The activation's own id; importing the same one twice changes nothing.
    pub jti: String,
    pub registration_key: String,
    /// The server's `k4.public` key, which signs its lease and borrow tokens.
    pub server_key: String,
    pub org: String,
    pub iat: DateTime<Utc>,
    pub exp: DateTime<Utc>,
    pub pools: Vec<PoolSpec>,
}

/// An activation key whose vendor signature has been verified.
#[derive(Debug, Clone)]
pub struct ActivationKey {
    pub text: String,
    pub claims: ActivationClaims,
}

impl ActivationKey {
    pub fn server_key(&self) -> Result<VerifyingKey, TokenError> {
        VerifyingKey::from_paserk(&self.claims.server_key)
    }
}

/// Whether a seat token stands for an online lease or an offline borrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatKind {
    Lease,
    Borrow,
}

impl SeatKind {
    fn as_str(self) -> &'static str {
        match self {
            SeatKind::Lease => "lease",
            SeatKind::Borrow => "borrow",
        }
    }
}

/// Claims of a lease or borrow token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatClaims {
    pub kind: SeatKind,
    /// The lease or borrow id.
    pub jti: String,
    /// The user: the OS account the program reported, or the verified e-mail of the
    /// person whose sign-in took the seat.
    pub sub: String,
    pub host: String,
    pub client_id: String,
    pub products: Vec<String>,
    /// The pool the seat is taken from.
    pub pool: String,
    /// The id of the site key the seat was taken with, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_key: Option<String>,
    pub iat: DateTime<Utc>,
    pub exp: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct Footer {
    activation: String,
}

/// A seat token whose chain verified; time is left to the caller, who knows its clock.
#[derive(Debug, Clone)]
pub struct VerifiedSeat {
    pub claims: SeatClaims,
    /// The activation from the footer, absent for web license server tokens.
    pub activation: Option<ActivationClaims>,
}

pub(crate) fn sign_json<T: Serialize>(
    key: &SigningKey,
    claims: &T,
    footer: Option<&[u8]>,
) -> Result<String, TokenError> {
    let message = serde_json::to_vec(claims).map_err(|_| TokenError::Signing)?;
    PublicToken::sign(key.inner(), &message, footer, None).map_err(|_| TokenError::Signing)
}

pub(crate) fn parse_untrusted(token: &str) -> Result<UntrustedToken<Public, V4>, TokenError> {
    UntrustedToken::<Public, V4>::try_from(token.trim()).map_err(|_| TokenError::Malformed)
}

pub(crate) fn verify_json(
    key: &VerifyingKey,
    token: &UntrustedToken<Public, V4>,
) -> Result<serde_json::Value, TokenError> {
    let trusted = PublicToken::verify(key.inner(), token, None, None)
        .map_err(|_| TokenError::InvalidSignature)?;
    serde_json::from_str(trusted.payload()).map_err(|e| TokenError::BadClaims(e.to_string()))
}

pub(crate) fn check_kind(
    claims: &serde_json::Value,
    expected: &'static str,
) -> Result<(), TokenError> {
    let found = claims.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if found != expected {
        return Err(TokenError::WrongKind {
            expected,
            found: found.to_owned(),
        });
    }
    Ok(())
}

/// Signs an activation key with the vendor's key.
pub fn sign_activation(
    vendor: &SigningKey,
    claims: &ActivationClaims,
) -> Result<String, TokenError> {
    if claims.kind != "activation" {
        return Err(TokenError::WrongKind {
            expected: "activation",
            found: claims.kind.clone(),
        });
    }
    sign_json(vendor, claims, None)
}

/// Builds and signs an activation key for the server with `registration_key`: what the
/// vendor's `tessera vendor issue` and the portal's paid orders both do.
pub fn issue_activation(
    vendor: &SigningKey,
    registration_key: &crate::RegistrationKey,
    org: &str,
    pools: Vec<PoolSpec>,
    now: DateTime<Utc>,
) -> Result<String, TokenError> {
    let exp = pools
        .iter()
        .map(|p| p.end)
        .max()
        .ok_or_else(|| TokenError::BadClaims("an activation needs at least one pool".into()))?;
    let claims = ActivationClaims {
        kind: "activation".into(),
        jti: random_id(),
        registration_key: registration_key.to_string(),
        server_key: registration_key.server_key().to_paserk(),
        org: org.to_owned(),
        iat: now,
        exp,
        pools,
    };
    sign_activation(vendor, &claims)
}

fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Verifies an activation key's signature against the vendor key and reads its claims.
pub fn verify_activation(vendor: &VerifyingKey, text: &str) -> Result<ActivationKey, TokenError> {
    let token = parse_untrusted(text)?;
    if !token.untrusted_footer().is_empty() {
        return Err(TokenError::Malformed);
    }
    let value = verify_json(vendor, &token)?;
    check_kind(&value, "activation")?;
    let claims: ActivationClaims =
        serde_json::from_value(value).map_err(|e| TokenError::BadClaims(e.to_string()))?;
    VerifyingKey::from_paserk(&claims.server_key)?;
    Ok(ActivationKey {
        text: text.trim().to_owned(),
        claims,
    })
}

/// Signs a lease or borrow token; a LAN server passes its activation key for the footer.
pub fn sign_seat(
    server: &SigningKey,
    claims: &SeatClaims,
    activation: Option<&str>,
) -> Result<String, TokenError> {
    let footer = activation
        .map(|a| {
            serde_json::to_vec(&Footer {
                activation: a.to_owned(),
            })
        })
        .transpose()
        .map_err(|_| TokenError::Signing)?;
    sign_json(server, claims, footer.as_deref())
}

/// Verifies a lease or borrow token back to the vendor key: the footer's activation
/// against the vendor key, then the token against the activation's server key, and that
/// the token claims no product the activation does not grant. Without a footer the token
/// must be signed by the vendor key itself (web license server).
pub fn verify_seat_token(vendor: &VerifyingKey, token: &str) -> Result<VerifiedSeat, TokenError> {
    let untrusted = parse_untrusted(token)?;
    let (signer, activation) = if untrusted.untrusted_footer().is_empty() {
        (vendor.clone(), None)
    } else {
        let footer: Footer = serde_json::from_slice(untrusted.untrusted_footer())
            .map_err(|e| TokenError::BadClaims(format!("footer: {e}")))?;
        let activation = verify_activation(vendor, &footer.activation)?;
        (activation.server_key()?, Some(activation.claims))
    };
    let value = verify_json(&signer, &untrusted)?;
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if kind != SeatKind::Lease.as_str() && kind != SeatKind::Borrow.as_str() {
        return Err(TokenError::WrongKind {
            expected: "lease",
            found: kind.to_owned(),
        });
    }
    let claims: SeatClaims =
        serde_json::from_value(value).map_err(|e| TokenError::BadClaims(e.to_string()))?;
    if let Some(act) = &activation {
        let granted = |p: &String| act.pools.iter().any(|pool| pool.covers(p));
        if let Some(extra) = claims.products.iter().find(|p| !granted(p)) {
            return Err(TokenError::ProductsOutsideActivation(extra.clone()));
        }
    }
    Ok(VerifiedSeat { claims, activation })
}

/// Verifies a seat token against one known key (a server checking its own tokens).
pub fn verify_own_seat_token(key: &VerifyingKey, token: &str) -> Result<SeatClaims, TokenError> {
    let untrusted = parse_untrusted(token)?;
    let value = verify_json(key, &untrusted)?;
    serde_json::from_value(value).map_err(|e| TokenError::BadClaims(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use tessera_core::LicenseModel;

    fn activation_for(vendor: &SigningKey, server: &SigningKey, products: &[&str]) -> String {
        let now = Utc::now();
        let claims = ActivationClaims {
            kind: "activation".into(),
            jti: "act-1".into(),
            registration_key: "TSR1-X".into(),
            server_key: server.verifying_key().to_paserk(),
            org: "Office".into(),
            iat: now,
            exp: now + Duration::days(365),
            pools: vec![PoolSpec {
                id: "p1".into(),
                products: products.iter().map(|s| s.to_string()).collect(),
                model: LicenseModel::Floating,
                seats: 3,
                start: now,
                end: now + Duration::days(365),
                borrow_max_hours: 72,
            }],
        };
        sign_activation(vendor, &claims).unwrap()
    }

    fn seat(products: &[&str]) -> SeatClaims {
        let now = Utc::now();
        SeatClaims {
            kind: SeatKind::Lease,
            jti: "l1".into(),
            sub: "anna".into(),
            host: "pc1".into(),
            client_id: "c1".into(),
            products: products.iter().map(|s| s.to_string()).collect(),
            pool: "p1".into(),
            site_key: None,
            iat: now,
            exp: now + Duration::seconds(120),
        }
    }

    #[test]
    fn lease_token_verifies_back_to_the_vendor_key_alone() {
        let vendor = SigningKey::generate();
        let server = SigningKey::generate();
        let act = activation_for(&vendor, &server, &["acad"]);
        let token = sign_seat(&server, &seat(&["acad"]), Some(&act)).unwrap();
        let verified = verify_seat_token(vendor.verifying_key(), &token).unwrap();
        assert_eq!(verified.claims.sub, "anna");
        assert_eq!(verified.activation.unwrap().org, "Office");
    }

    #[test]
    fn a_token_from_a_server_the_vendor_never_activated_is_refused() {
        let vendor = SigningKey::generate();
        let server = SigningKey::generate();
        let rogue_vendor = SigningKey::generate();
        let act = activation_for(&rogue_vendor, &server, &["acad"]);
        let token = sign_seat(&server, &seat(&["acad"]), Some(&act)).unwrap();
        assert_eq!(
            verify_seat_token(vendor.verifying_key(), &token).unwrap_err(),
            TokenError::InvalidSignature
        );
        // A real activation, but a token signed by another key.
        let act = activation_for(&vendor, &server, &["acad"]);
        let token = sign_seat(&SigningKey::generate(), &seat(&["acad"]), Some(&act)).unwrap();
        assert_eq!(
            verify_seat_token(vendor.verifying_key(), &token).unwrap_err(),
            TokenError::InvalidSignature
        );
    }

    #[test]
    fn a_server_cannot_grant_products_outside_its_activation() {
        let vendor = SigningKey::generate();
        let server = SigningKey::generate();
        let act = activation_for(&vendor, &server, &["acad"]);
        let token = sign_seat(&server, &seat(&["revit"]), Some(&act)).unwrap();
        assert!(matches!(
            verify_seat_token(vendor.verifying_key(), &token),
            Err(TokenError::ProductsOutsideActivation(p)) if p == "revit"
        ));
    }

    #[test]
    fn activation_keys_are_not_accepted_as_seat_tokens_and_vice_versa() {
        let vendor = SigningKey::generate();
        let server = SigningKey::generate();
        let act = activation_for(&vendor, &server, &["acad"]);
        assert!(matches!(
            verify_seat_token(vendor.verifying_key(), &act),
            Err(TokenError::WrongKind { .. })
        ));
        let token = sign_seat(&vendor, &seat(&["acad"]), None).unwrap();
        assert!(matches!(
            verify_activation(vendor.verifying_key(), &token),
            Err(TokenError::WrongKind { .. })
        ));
        assert_eq!(
            verify_activation(vendor.verifying_key(), "garbage").unwrap_err(),
            TokenError::Malformed
        );
    }
}
