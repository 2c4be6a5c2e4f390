//! Wire types of token (consumption) licensing: `POST /api/v1/tokens/use` on the portal,
//! with a named-user token as `Authorization: Bearer`, reports that a person uses a
//! product. The first use in 24 hours charges the product's daily rate; later uses in
//! that window are already paid; a use shorter than the free minutes is not charged.
//! Refused with 402 `tokens_exhausted` (balance below the rate) or 410 `tokens_expired`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Reports a use of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUseRequest {
    pub product: String,
    /// How long the program has been in use, in seconds; below the free minutes the use
    /// is not charged (but still refused when the balance is too low). Absent: charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_seconds: Option<u64>,
}

/// What a use came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenUseStatus {
    /// Charged now: the product's daily rate for 24 hours.
    Charged,
    /// The 24 hours are already paid.
    AlreadyPaid,
    /// Too short a use to charge yet.
    Free,
}

/// The answer to a use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUseGrant {
    pub status: TokenUseStatus,
    pub product: String,
    /// Tokens charged by this call (0 unless `charged`).
    pub charged: i64,
    /// The product's daily rate.
    pub rate: i64,
    /// Until when the use is paid (absent when `free`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_until: Option<DateTime<Utc>>,
    /// Tokens left in the organization's valid packs.
    pub balance: i64,
}
