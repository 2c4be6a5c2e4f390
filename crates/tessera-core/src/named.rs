//! Wire types of the portal's named-user calls: `POST /api/v1/named/activations` signs a
//! person in on a device and answers a token; `POST /api/v1/named/refresh` answers a new
//! one, or `superseded` once they signed in elsewhere, or `seat_unassigned` once their
//! seat was taken away; `POST /api/v1/named/sign-out` ends the device's sign-in.

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
