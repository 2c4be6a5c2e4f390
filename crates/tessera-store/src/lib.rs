//! Storage: SQLite by default (a file in the data folder), PostgreSQL for more than one
//! node. One query text serves both where the dialects agree, written with `$N`
//! parameters (SQLite numbers them in order of first appearance, so they are always
//! used in ascending order); where they differ the code says so. Each backend has its
//! own migrations, embedded in the binary and run at start. Seat counts are enforced
//! inside one write transaction: `BEGIN IMMEDIATE` on SQLite, row locks on PostgreSQL.

mod audit;
mod batch;
mod behind;
mod error;
mod group;
mod lan_cluster;
mod mail_outbox;
pub mod portal;
mod realms;
mod seats;
mod site_keys;
pub mod testing;

pub use audit::{AuditAction, AuditEntry, AuditFilter, NewAuditEntry, line_diff};
pub use error::{SeatError, StoreError};
pub use lan_cluster::{LanSecrets, SYSTEM_IDENTIFIER_OVERRIDE_ENV};
pub use mail_outbox::{NewOutboxMessage, OutboxClaim, OutboxMessage, OutboxSummary};
pub use realms::RealmRecord;
pub use seats::{
    ActivationRecord, DenialRecord, EndReason, LeaseRecord, PoolUsage, SeatRequest, SessionRecord,
};
pub use site_keys::{SiteKeyError, SiteKeyRecord};

use std::path::Path;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database behind a license server or a portal.
#[derive(Clone, Debug)]
pub struct Store {
    /// Reads (and, on PostgreSQL, everything).
    pub(crate) db: AnyPool,
    /// Writes. On SQLite a pool of one connection: writers queue here, in order, instead
    /// of several connections contending for SQLite's one write lock and sleeping in its
    /// busy handler (which left the lock idle while they slept, and past `busy_timeout`
    /// failed with `database is locked`). On PostgreSQL the same pool as `db`.
    pub(crate) writer: AnyPool,
    /// Group commit of heartbeats (`batch.rs`).
    pub(crate) heartbeats: batch::Heartbeats,
    /// Heartbeats written behind on SQLite (`behind.rs`); none on PostgreSQL, where
    /// other nodes end leases this one would not hear of.
    pub(crate) behind: Option<std::sync::Arc<behind::Behind>>,
    /// Group commit of checkouts and checkins on SQLite (`group.rs`); none on PostgreSQL.
    pub(crate) group: Option<group::Group>,
    pub(crate) backend: Backend,
}

/// Percent-encodes a path for a `sqlite://` URL (sqlx decodes it again).
fn sqlite_url(path: &Path) -> String {
    let mut out = String::from("sqlite://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str("?mode=rwc");
    out
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and brings its schema up to date.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        Self::open_url(&sqlite_url(path)).await
    }

    /// Opens `sqlite://PATH` or `postgres://…` and brings its schema up to date.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(
                url.split(':').next().unwrap_or("").to_owned(),
            ));
        };
        let url = if backend == Backend::Sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_owned()
        };
        let options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; FULL makes a lease that
                        // was acknowledged to a client survive a crash or a power cut.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA busy_timeout = 10000",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            sqlx::Executor::execute(&mut *conn, pragma).await?;
                        }
                    }
                    Ok(())
                })
            });
        let (db, writer) = match backend {
            Backend::Sqlite => {
                // The writer first: it creates the file and switches it to WAL before
                // any reader opens it.
                let writer = options
                    .clone()
                    .max_connections(1)
                    .min_connections(1)
                    .connect(&url)
                    .await
                    .map_err(StoreError::Database)?;
                let db = options
                    .max_connections(8)
                    .min_connections(1)
                    .connect(&url)
                    .await
                    .map_err(StoreError::Database)?;
                (db, writer)
            }
            Backend::Postgres => {
                let db = options
                    .max_connections(16)
                    .connect(&url)
                    .await
                    .map_err(StoreError::Database)?;
                (db.clone(), db)
            }
        };
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run(&writer).await.map_err(StoreError::Migration)?;
        let behind = (backend == Backend::Sqlite).then(|| {
            let behind = std::sync::Arc::new(behind::Behind::new());
            behind::start(behind.clone(), writer.clone());
            behind
        });
        let target = match &behind {
            Some(behind) => batch::Target::Sqlite(behind.clone()),
            None => batch::Target::Postgres(batch::deferred_pool(&url).await?),
        };
        let heartbeats = batch::Heartbeats::start(writer.clone(), target);
        let group = (backend == Backend::Sqlite).then(|| group::Group::start(writer.clone()));
        Ok(Store {
            db,
            writer,
            heartbeats,
            behind,
            group,
            backend,
        })
    }

    /// Writes a consistent copy of a SQLite database to `dest` while it is in use
    /// (`VACUUM INTO` reads one snapshot). PostgreSQL is backed up with its own tools.
    pub async fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Unsupported(
                "backups of PostgreSQL are made with pg_dump",
            ));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(dest.to_string_lossy().into_owned())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection, after pending writes (heartbeats kept in memory too).
    pub async fn close(&self) {
        if let Some(behind) = &self.behind {
            let now = tessera_core::to_millis(chrono::Utc::now());
            if let Err(e) = behind::write_due(behind, &self.writer, now, true).await {
                tracing::warn!(error = %e, "writing the heartbeats kept in memory failed");
            }
        }
        self.heartbeats.close().await;
        self.writer.close().await;
        self.db.close().await;
    }
}
