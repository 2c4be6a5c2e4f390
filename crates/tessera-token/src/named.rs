//! Named-user tokens: signed by the portal with the vendor key, bound to one device, for
//! the products a person holds seats of. Short-lived; the portal answers a new one on
//! each refresh, or refuses when the person signed in elsewhere or lost the seat.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::documents::{check_kind, parse_untrusted, sign_json, verify_json};
use crate::{SigningKey, TokenError, VerifyingKey};

/// Claims of a named-user token (`kind: "named"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedClaims {
    pub kind: String,
    /// The sign-in (session) it belongs to.
    pub jti: String,
    /// The person's e-mail.
    pub sub: String,
    /// The device it is bound to.
    pub device: String,
    pub products: Vec<String>,
    pub iat: DateTime<Utc>,
    pub exp: DateTime<Utc>,
}

/// Signs a named-user token with the vendor key.
pub fn sign_named(vendor: &SigningKey, claims: &NamedClaims) -> Result<String, TokenError> {
    if claims.kind != "named" {
        return Err(TokenError::WrongKind {
            expected: "named",
            found: claims.kind.clone(),
        });
    }
    sign_json(vendor, claims, None)
}

/// Verifies a named-user token against the vendor key; time is left to the caller.
pub fn verify_named(vendor: &VerifyingKey, token: &str) -> Result<NamedClaims, TokenError> {
    let untrusted = parse_untrusted(token)?;
    if !untrusted.untrusted_footer().is_empty() {
        return Err(TokenError::Malformed);
    }
    let value = verify_json(vendor, &untrusted)?;
    check_kind(&value, "named")?;
    serde_json::from_value(value).map_err(|e| TokenError::BadClaims(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> NamedClaims {
        let now = Utc::now();
        NamedClaims {
            kind: "named".into(),
            jti: "s1".into(),
            sub: "anna@office.example".into(),
            device: "dev-a".into(),
            products: vec!["share".into()],
            iat: now,
            exp: now + chrono::Duration::hours(24),
        }
    }

    #[test]
    fn a_named_token_verifies_against_the_vendor_key_only() {
        let vendor = SigningKey::generate();
        let signed = claims();
        let token = sign_named(&vendor, &signed).unwrap();
        let read = verify_named(vendor.verifying_key(), &token).unwrap();
        assert_eq!(
            (read.jti, read.sub, read.device, read.products),
            (signed.jti, signed.sub, signed.device, signed.products)
        );
        let other = SigningKey::generate();
        assert_eq!(
            verify_named(other.verifying_key(), &token),
            Err(TokenError::InvalidSignature)
        );
    }

    #[test]
    fn a_lease_token_is_not_a_named_token() {
        let vendor = SigningKey::generate();
        let mut c = claims();
        c.kind = "lease".into();
        assert!(sign_named(&vendor, &c).is_err());
        let lease = sign_json(&vendor, &c, None).unwrap();
        assert!(matches!(
            verify_named(vendor.verifying_key(), &lease),
            Err(TokenError::WrongKind { .. })
        ));
    }
}
