//! The wire types of the license protocol v1, shared by the LAN server, the web license
//! server and the client library. Times are RFC 3339 in UTC.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ErrorCode, LicenseModel};

/// The default TCP port of a LAN license server.
pub const DEFAULT_PORT: u16 = 27080;
/// Seconds between heartbeats unless the server says otherwise.
pub const DEFAULT_HEARTBEAT_S: u64 = 30;
/// Seconds a lease lives without a heartbeat.
pub const DEFAULT_LEASE_TTL_S: u64 = 120;
/// The longest borrow a server allows unless configured otherwise.
pub const DEFAULT_MAX_BORROW_HOURS: u32 = 168;

/// `{"error": {"code", "message"}}`
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    /// The request's id, also in the server's log line for it and in the
    /// `X-Request-Id` header: what an admin matches a user's error to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.as_str().to_owned(),
                message: message.into(),
                request_id: None,
            },
        }
    }

    /// The same answer, naming the request it answers.
    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        self.error.request_id = id;
        self
    }
}

/// `POST /api/v1/leases`
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub product: String,
    pub user: String,
    pub host: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The person's e-mail address as the program knows it. Kept for older programs and
    /// never trusted: the web license server matches its lists against the verified
    /// e-mail of a sign-in (the credential), not against this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Wait up to this many seconds for a seat to free instead of failing at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_s: Option<u64>,
}

/// The answer to a checkout or a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeaseGrant {
    pub lease_id: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub heartbeat_interval_s: u64,
}

/// `POST /api/v1/borrows`
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BorrowRequest {
    pub product: String,
    pub user: String,
    pub host: String,
    pub client_id: String,
    pub hours: u32,
    /// As in a checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BorrowGrant {
    pub borrow_id: String,
    pub token: String,
    pub until: DateTime<Utc>,
}

/// One pool as `GET /api/v1/server` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PoolStatus {
    pub id: String,
    /// Set when the pool covers a single product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Set when the pool is a bundle of several products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<String>>,
    pub model: LicenseModel,
    pub seats: u32,
    pub in_use: u32,
    pub borrowed: u32,
    pub available: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub borrow_max_hours: u32,
    pub org: String,
}

impl PoolStatus {
    /// The products the pool covers, whether it is a bundle or not.
    pub fn product_list(&self) -> Vec<String> {
        match (&self.product, &self.products) {
            (Some(p), _) => vec![p.clone()],
            (None, Some(ps)) => ps.clone(),
            (None, None) => Vec::new(),
        }
    }
}

/// `GET /api/v1/server`
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServerInfo {
    pub server_id: String,
    pub registration_key: String,
    pub public_key: String,
    pub version: String,
    pub heartbeat_interval_s: u64,
    pub lease_ttl_s: u64,
    pub products: Vec<PoolStatus>,
    /// The node that answered, when the server names its nodes (a LAN server: its
    /// `--node-name`, else host name and port), so an admin can tell which one of
    /// several it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// Whether a seat is held online (a lease) or taken offline (a borrow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeaseKind {
    Lease,
    Borrow,
}

impl LeaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseKind::Lease => "lease",
            LeaseKind::Borrow => "borrow",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "lease" => Some(Self::Lease),
            "borrow" => Some(Self::Borrow),
            _ => None,
        }
    }
}

/// One lease or borrow in the admin live view.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeaseView {
    pub id: String,
    pub kind: LeaseKind,
    pub pool_id: String,
    pub product: String,
    pub user: String,
    pub host: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The e-mail address the program sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The client's address as the server saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The person whose sign-in took the seat (their verified e-mail), if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in: Option<String>,
    /// The name of the site key that took the seat, if one did; the user and host are
    /// then as the program reported them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_key: Option<String>,
    pub since: DateTime<Utc>,
    pub last_heartbeat: DateTime<Utc>,
    /// When the lease lapses without a heartbeat, or when the borrow ends.
    pub until: DateTime<Utc>,
}

/// `GET /api/v1/admin/leases`
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeaseList {
    pub leases: Vec<LeaseView>,
    /// Checkouts waiting for a seat now (`wait_s`), first come first.
    #[serde(default)]
    pub waiting: Vec<WaitingView>,
}

/// A checkout waiting for a seat: who, for what, since when, and its place in the line of
/// its product (1 is next).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WaitingView {
    pub product: String,
    pub user: String,
    pub host: String,
    pub since: DateTime<Utc>,
    pub position: u32,
}

/// `POST /api/v1/admin/activations` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivationImported {
    pub activation_id: String,
    pub org: String,
    pub pools: Vec<String>,
    pub exp: DateTime<Utc>,
}
