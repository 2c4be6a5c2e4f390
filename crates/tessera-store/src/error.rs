//! The store's errors: `StoreError` when the database itself fails, and `SeatError`
//! for why a seat was not granted. They carry no HTTP status: tessera-server's
//! `error.rs` maps each to its code and status.

use thiserror::Error;

/// A failure of the database itself.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    #[error("unsupported database URL scheme `{0}` (use sqlite://PATH)")]
    UnsupportedUrl(String),
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the database could not commit: {0}")]
    Commit(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

/// Why a seat was not granted.
#[derive(Debug, Error)]
pub enum SeatError {
    #[error("no pool on this server covers `{0}`")]
    UnknownProduct(String),
    #[error("every license for `{0}` has expired")]
    Expired(String),
    #[error("the license for `{0}` has not started yet")]
    NotStarted(String),
    #[error("all {seats} seats of `{product}` are in use")]
    NoSeat { product: String, seats: u32 },
    #[error("{message}")]
    Denied { rule: String, message: String },
    #[error("{0}")]
    Reserved(String),
    #[error("no license for `{0}` allows borrowing")]
    BorrowNotAllowed(String),
    #[error("`{product}` can be borrowed for at most {max_hours} hours")]
    BorrowTooLong { product: String, max_hours: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SeatError {
    fn from(e: sqlx::Error) -> Self {
        SeatError::Store(StoreError::Database(e))
    }
}
