//! The client library of Tessera: finds its license server, checks out a floating seat
//! as a [`License`] value that heartbeats in a background thread and checks in when
//! dropped, and verifies every token it is given back to the vendor's public key.
//!
//! Blocking by design (threads, no async runtime) so it can sit behind a C ABI.
//!
//! A license borrowed with [`Client::borrow`] is kept in a local cache and granted by
//! [`Client::checkout`] without the server until the borrow ends.
//!
//! ```no_run
//! let client = tessera_client::Client::from_env()?;
//! let license = client.checkout("acad")?;
//! assert!(license.is_valid());
//! // ... run the licensed program; dropping `license` returns the seat.
//! # Ok::<(), tessera_client::ClientError>(())
//! ```

mod borrow;
mod cache;
mod client;
mod config;
mod error;
mod license;
pub mod named;

pub use borrow::Borrow;
pub use cache::{BorrowInfo, CLOCK_TOLERANCE};
pub use client::Client;
pub use config::{
    ClientConfig, ClientConfigBuilder, DEFAULT_TIMEOUT, ENV_CACHE_DIR, ENV_SERVER, ENV_SITE_KEY,
    ENV_VENDOR_PUBLIC_KEY, default_cache_dir_from_env, load_vendor_key,
};
pub use error::ClientError;
pub use license::{License, LicenseStatus};

pub use tessera_core::protocol::{ActivationImported, LeaseList, LeaseView, ServerInfo};
pub use tessera_token::{TokenError, VerifyingKey};

#[cfg(test)]
mod tests;
