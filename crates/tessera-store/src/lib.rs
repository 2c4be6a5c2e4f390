//! Storage of the license server: SQLite by default, with migrations per backend
//! embedded in the binary and run at start. Seat counts are enforced inside one write
//! transaction, never by reading and then writing in two steps.

mod error;
mod seats;

pub use error::{SeatError, StoreError};
pub use seats::{
    ActivationRecord, DenialRecord, EndReason, LeaseRecord, PoolUsage, SeatRequest, SessionRecord,
};

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// The database behind a license server or a portal.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) db: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and brings its schema up to date.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a lease acknowledged to a client survives a crash or a power cut.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        Self::connect_sqlite(options).await
    }

    /// Opens a database from a URL: `sqlite://PATH` (PostgreSQL comes with the web license server).
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(StoreError::Database)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10));
            Self::connect_sqlite(options).await
        } else {
            Err(StoreError::UnsupportedUrl(
                url.split(':').next().unwrap_or("").to_owned(),
            ))
        }
    }

    async fn connect_sqlite(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let db = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(StoreError::Database)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&db)
            .await
            .map_err(StoreError::Migration)?;
        Ok(Store { db })
    }

    /// Closes every connection, after pending writes.
    pub async fn close(&self) {
        self.db.close().await;
    }
}
