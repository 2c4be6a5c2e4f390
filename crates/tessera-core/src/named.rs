//! Wire types of the portal's named-user calls: `POST /api/v1/named/activations` signs a
//! person in on a device and answers a token; `POST /api/v1/named/refresh` answers a new
//! one, or `superseded` once they signed in elsewhere, or `seat_unassigned` once their
//! seat was taken away; `POST /api/v1/named/sign-out` ends the device's sign-in.
//!
//! A program may also sign its person in through the browser (OAuth 2.0 Device
//! Authorization Grant, RFC 8628): `POST /api/v1/named/browser` answers a short code and
//! the portal's address, the person signs in to the portal there and approves, and
//! `POST /api/v1/named/browser/token`, asked every few seconds meanwhile, answers
//! `authorization_pending` until then and the token once after. No password passes
//! through the program.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Signs a person in on a device for a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedActivationRequest {
    pub email: String,
    pub password: String,
    /// A stable id of the computer.
    pub device: String,
    /// The product the program asks for; empty: any product the person holds a seat of.
    #[serde(default)]
    pub product: String,
}

/// Asks for a new token, for a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRefreshRequest {
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
}

/// Ends the sign-in the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedSignOutRequest {
    pub token: String,
}

/// A named-user token with what the program needs to keep it fresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedGrant {
    /// PASETO v4.public, `kind: "named"`, signed with the vendor key.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// Ask for a new token this often.
    pub refresh_interval_s: u64,
    /// How long the program keeps working with no connection to the portal, from the
    /// token's `iat`.
    pub offline_days: u32,
    /// The products the person holds seats of.
    pub products: Vec<String>,
}

/// Starts a sign-in through the browser for this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserSignInRequest {
    /// A stable id of the computer.
    pub device: String,
    /// The computer's name, shown to the person when they approve.
    #[serde(default)]
    pub computer: String,
    /// The product the program asks for; empty: any.
    #[serde(default)]
    pub product: String,
}

/// Where the person goes, and what the program asks with meanwhile (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserSignInStart {
    /// The program's secret for asking; single-use, short-lived.
    pub device_code: String,
    /// What the person types at `verification_uri` (`BCDF-GHJK`).
    pub user_code: String,
    pub verification_uri: String,
    /// The same page with the code filled in.
    pub verification_uri_complete: String,
    /// Seconds until the code ends.
    pub expires_in: u64,
    /// Seconds to wait between asks.
    pub interval: u64,
}

/// The program asks whether the person approved (RFC 8628 §3.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserSignInPoll {
    pub device_code: String,
}
