//! Domain rules of Tessera: pools, seats, leases, borrows and the wire types of the
//! license protocol (v1). No I/O lives here; the store, the server and the client all
//! speak in these types.

pub mod access;
pub mod error;
pub mod named;
pub mod policy;
pub mod pool;
pub mod protocol;
pub mod text;
pub mod tokens;
pub mod usage;
pub mod validate;

pub use error::ErrorCode;
pub use pool::{LicenseModel, PoolSpec};

/// Milliseconds since the Unix epoch: how every instant is stored and compared.
pub type Millis = i64;

/// Converts an instant to milliseconds since the epoch.
pub fn to_millis(t: chrono::DateTime<chrono::Utc>) -> Millis {
    t.timestamp_millis()
}

/// Converts milliseconds since the epoch to an instant (clamped to chrono's range).
pub fn from_millis(ms: Millis) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}
