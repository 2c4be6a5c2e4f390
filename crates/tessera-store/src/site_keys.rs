//! Site keys: named credentials that let an office's programs take seats without each
//! engineer signing in. Only a key's hash is stored; a revoked key stays listed (with
//! when it was revoked) and the seats it took end with it.

use sqlx::Row;
use tessera_core::Millis;

use crate::seats::{LeaseRecord, end_lease};
use crate::{EndReason, Store, StoreError};

/// A site key as stored (never its text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteKeyRecord {
    pub id: String,
    pub realm: String,
    pub name: String,
    pub created_at: Millis,
    /// Who made it: an e-mail in the portal, `cli` for `tessera server site-key add`.
    pub created_by: String,
    pub revoked_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub last_address: Option<String>,
}

impl SiteKeyRecord {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// Why a site key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SiteKeyError {
    #[error("a site key needs a name (1 to 80 characters, no line breaks)")]
    BadName,
    #[error("a site key named `{0}` is in use already; revoke it first or choose another name")]
    NameTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How often a key's last use is written at most: a checkout storm with one key does
/// not turn into as many writes of the same row.
const TOUCH_EVERY_MS: Millis = 60_000;

fn record(r: &sqlx::any::AnyRow) -> Result<SiteKeyRecord, StoreError> {
    Ok(SiteKeyRecord {
        id: r.try_get("id")?,
        realm: r.try_get("realm")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        revoked_at: r.try_get("revoked_at")?,
        last_used_at: r.try_get("last_used_at")?,
        last_address: r.try_get("last_address")?,
    })
}

const COLUMNS: &str =
    "id, realm, name, created_at, created_by, revoked_at, last_used_at, last_address";

impl Store {
    /// Keeps a new site key of `realm` under `name` (unique among the realm's active
    /// keys), by its hash; the caller made the key and shows it once.
    pub async fn add_site_key(
        &self,
        realm: &str,
        name: &str,
        key_hash: &str,
        created_by: &str,
        now: Millis,
    ) -> Result<SiteKeyRecord, SiteKeyError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
            return Err(SiteKeyError::BadName);
        }
        let mut tx = self.write_tx().await?;
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT id FROM site_keys WHERE realm = $1 AND name = $2 AND revoked_at IS NULL",
        )
        .bind(realm)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if taken.is_some() {
            let _ = tx.rollback().await;
            return Err(SiteKeyError::NameTaken(name.to_owned()));
        }
        let key = SiteKeyRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            realm: realm.to_owned(),
            name: name.to_owned(),
            created_at: now,
            created_by: created_by.to_owned(),
            revoked_at: None,
            last_used_at: None,
            last_address: None,
        };
        sqlx::query(
            "INSERT INTO site_keys (id, realm, name, key_hash, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.id)
        .bind(&key.realm)
        .bind(&key.name)
        .bind(key_hash)
        .bind(key.created_at)
        .bind(&key.created_by)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(key)
    }

    /// Every site key of `realm`, active ones first, newest first.
    pub async fn site_keys(&self, realm: &str) -> Result<Vec<SiteKeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM site_keys WHERE realm = $1 \
             ORDER BY CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END, created_at DESC, id"
        ))
        .bind(realm)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(record).collect()
    }

    /// The active site key with this hash, in any realm (the caller checks the realm, so
    /// that a key of another organization answers exactly as a made-up one).
    pub async fn active_site_key(
        &self,
        key_hash: &str,
    ) -> Result<Option<SiteKeyRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM site_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(key_hash)
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// Notes a use of the key (at most once a minute, or when the address changes).
    pub async fn touch_site_key(
        &self,
        key: &SiteKeyRecord,
        now: Millis,
        address: Option<&str>,
    ) -> Result<(), StoreError> {
        let recent = key.last_used_at.is_some_and(|at| now - at < TOUCH_EVERY_MS);
        if recent && key.last_address.as_deref() == address {
            return Ok(());
        }
        sqlx::query("UPDATE site_keys SET last_used_at = $1, last_address = $2 WHERE id = $3")
            .bind(now)
            .bind(address)
            .bind(&key.id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Revokes the active key of `realm` whose id or name is `which`, and ends every
    /// lease and borrow it took (their programs learn at the next heartbeat). Returns the
    /// key and the seats ended; `None` when no such active key exists.
    pub async fn revoke_site_key(
        &self,
        realm: &str,
        which: &str,
        now: Millis,
    ) -> Result<Option<(SiteKeyRecord, Vec<LeaseRecord>)>, StoreError> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM site_keys WHERE realm = $1 AND (id = $2 OR name = $2) \
             AND revoked_at IS NULL"
        ))
        .bind(realm)
        .bind(which.trim())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(mut key) = row.as_ref().map(record).transpose()? else {
            let _ = tx.rollback().await;
            return Ok(None);
        };
        sqlx::query("UPDATE site_keys SET revoked_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&key.id)
            .execute(&mut *tx)
            .await?;
        let leases: Vec<LeaseRecord> =
            sqlx::query_as("SELECT * FROM leases WHERE realm = $1 AND site_key_id = $2")
                .bind(realm)
                .bind(&key.id)
                .fetch_all(&mut *tx)
                .await?;
        let mut ended = Vec::new();
        for lease in leases {
            let (at, reason) = if lease.expires_at <= now {
                (lease.expires_at, EndReason::Expired)
            } else {
                (now, EndReason::Removed)
            };
            end_lease(&mut tx, self.behind.as_deref(), &lease, at, reason).await?;
            if reason == EndReason::Removed {
                ended.push(lease);
            }
        }
        tx.commit().await?;
        key.revoked_at = Some(now);
        Ok(Some((key, ended)))
    }
}
