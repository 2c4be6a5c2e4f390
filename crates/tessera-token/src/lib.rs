//! The trust chain: Ed25519 keys as PASERK strings, the registration key that ties a
//! license server to its key and machine, and the PASETO v4.public documents (activation
//! keys, lease and borrow tokens, named-user tokens, package signatures) with their
//! verification back to the vendor key.
//! No I/O: callers read files and clocks and hand in what they found.

pub mod documents;
pub mod error;
pub mod keys;
pub mod named;
pub mod package;
pub mod registration;
pub mod report;
pub mod site_key;

pub use documents::{
    ActivationClaims, ActivationKey, SeatClaims, SeatKind, VerifiedSeat, issue_activation,
    sign_activation, sign_seat, verify_activation, verify_own_seat_token, verify_seat_token,
};
pub use error::TokenError;
pub use keys::{SigningKey, VerifyingKey};
pub use named::{NamedClaims, sign_named, verify_named};
pub use package::{FileDigest, PackageClaims, PackageDigest, sign_package, verify_package};
pub use registration::RegistrationKey;
pub use report::{UsageReportClaims, sign_usage_report, verify_usage_report};
pub use site_key::{SITE_KEY_PREFIX, generate_site_key, is_site_key, site_key_hash};
