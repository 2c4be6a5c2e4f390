//! Usage reports: a LAN server's daily usage figures, sent to the portal when the office
//! allows it. Signed with the server's own key and carrying its activation key in the
//! footer, like its lease tokens, so the portal checks a report back to the vendor key
//! and knows which activation (and so which order and organization) it is about.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::usage::DailyUsage;

use crate::documents::{
    ActivationKey, check_kind, parse_untrusted, sign_json, verify_activation, verify_json,
};
use crate::{SigningKey, TokenError, VerifyingKey};

/// Claims of a usage report (`kind: "usage_report"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageReportClaims {
    pub kind: String,
    /// The reporting server's short id.
    pub server: String,
    pub iat: DateTime<Utc>,
    /// Days of the activation's pools.
    pub days: Vec<DailyUsage>,
}

#[derive(Serialize, Deserialize)]
struct ReportFooter {
    activation: String,
}

/// Signs a report with the server's key, its activation key in the footer.
pub fn sign_usage_report(
    server: &SigningKey,
    claims: &UsageReportClaims,
    activation: &str,
) -> Result<String, TokenError> {
    let footer = serde_json::to_vec(&ReportFooter {
        activation: activation.to_owned(),
    })
    .map_err(|_| TokenError::Signing)?;
    sign_json(server, claims, Some(&footer))
}

/// Verifies a report back to the vendor key: the footer's activation against the vendor
/// key, the report against the activation's server key, and that it speaks only of the
/// activation's pools. Time is left to the caller.
pub fn verify_usage_report(
    vendor: &VerifyingKey,
    token: &str,
) -> Result<(ActivationKey, UsageReportClaims), TokenError> {
    let untrusted = parse_untrusted(token)?;
    let footer: ReportFooter = serde_json::from_slice(untrusted.untrusted_footer())
        .map_err(|e| TokenError::BadClaims(format!("footer: {e}")))?;
    let activation = verify_activation(vendor, &footer.activation)?;
    let value = verify_json(&activation.server_key()?, &untrusted)?;
    check_kind(&value, "usage_report")?;
    let claims: UsageReportClaims =
        serde_json::from_value(value).map_err(|e| TokenError::BadClaims(e.to_string()))?;
    if let Some(day) = claims
        .days
        .iter()
        .find(|d| !activation.claims.pools.iter().any(|p| p.id == d.pool_id))
    {
        return Err(TokenError::BadClaims(format!(
            "the report names pool `{}`, which its activation does not grant",
            day.pool_id
        )));
    }
    Ok((activation, claims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::{ActivationClaims, sign_activation};
    use chrono::Duration;
    use tessera_core::{LicenseModel, PoolSpec};

    fn activation(vendor: &SigningKey, server: &SigningKey) -> String {
        let now = Utc::now();
        sign_activation(
            vendor,
            &ActivationClaims {
                kind: "activation".into(),
                jti: "act-1".into(),
                registration_key: "TSR1-X".into(),
                server_key: server.verifying_key().to_paserk(),
                org: "Office".into(),
                iat: now,
                exp: now + Duration::days(30),
                pools: vec![PoolSpec {
                    id: "ord-1".into(),
                    products: vec!["acad".into()],
                    model: LicenseModel::Floating,
                    seats: 2,
                    start: now,
                    end: now + Duration::days(30),
                    borrow_max_hours: 0,
                }],
            },
        )
        .unwrap()
    }

    fn report(pool: &str) -> UsageReportClaims {
        UsageReportClaims {
            kind: "usage_report".into(),
            server: "abc".into(),
            iat: Utc::now(),
            days: vec![DailyUsage {
                day: "2026-11-02".into(),
                pool_id: pool.into(),
                products: vec!["acad".into()],
                seats: 2,
                peak: 2,
                sessions: 5,
                users: 2,
                seat_hours: 7.5,
                denials: 1,
            }],
        }
    }

    #[test]
    fn a_report_verifies_back_to_the_vendor_and_nothing_else_does() {
        let vendor = SigningKey::generate();
        let server = SigningKey::generate();
        let act = activation(&vendor, &server);
        let sent = report("ord-1");
        let token = sign_usage_report(&server, &sent, &act).unwrap();
        let (a, claims) = verify_usage_report(vendor.verifying_key(), &token).unwrap();
        assert_eq!(a.claims.org, "Office");
        assert_eq!(claims, sent);

        // Signed by another key than the activation's server key.
        let thief = SigningKey::generate();
        let forged = sign_usage_report(&thief, &report("ord-1"), &act).unwrap();
        assert!(matches!(
            verify_usage_report(vendor.verifying_key(), &forged),
            Err(TokenError::InvalidSignature)
        ));
        // An activation from another vendor.
        let other = SigningKey::generate();
        let foreign =
            sign_usage_report(&server, &report("ord-1"), &activation(&other, &server)).unwrap();
        assert!(verify_usage_report(vendor.verifying_key(), &foreign).is_err());
        // A pool the activation does not grant.
        let wide = sign_usage_report(&server, &report("someone-else"), &act).unwrap();
        assert!(matches!(
            verify_usage_report(vendor.verifying_key(), &wide),
            Err(TokenError::BadClaims(_))
        ));
        // Not a token at all.
        assert!(verify_usage_report(vendor.verifying_key(), "v4.public.nope").is_err());
    }
}
