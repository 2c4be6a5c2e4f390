//! Named sign-ins: one open sign-in per person, on one device at a time (a sign-in on
//! another device supersedes it), and "Sign out of all devices".

use sqlx::Row;
use tessera_core::Millis;

use super::new_id;
use crate::{Backend, Store, StoreError};

/// A named sign-in on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSessionRecord {
    pub id: String,
    pub user_id: String,
    pub device: String,
    pub created_at: Millis,
    pub ended_at: Option<Millis>,
    pub end_reason: Option<String>,
}

fn session_from_row(row: &sqlx::any::AnyRow) -> Result<NamedSessionRecord, StoreError> {
    Ok(NamedSessionRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        device: row.try_get("device")?,
        created_at: row.try_get("created_at")?,
        ended_at: row.try_get("ended_at")?,
        end_reason: row.try_get("end_reason")?,
    })
}

impl Store {
    /// Signs a person in on `device`: an open sign-in on another device ends
    /// (`superseded`); one on the same device is kept. Answers the open session.
    pub async fn start_named_session(
        &self,
        user_id: &str,
        device: &str,
        now: Millis,
    ) -> Result<NamedSessionRecord, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        // Serialises sign-ins of one person on PostgreSQL (SQLite's write lock does it).
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        }
        let same = sqlx::query(
            "SELECT id, user_id, device, created_at, ended_at, end_reason FROM named_sessions \
             WHERE user_id = $1 AND device = $2 AND ended_at IS NULL",
        )
        .bind(user_id)
        .bind(device)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE named_sessions SET ended_at = $1, end_reason = 'superseded' \
             WHERE user_id = $2 AND device <> $3 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(device)
        .execute(&mut *tx)
        .await?;
        let session = match same {
            Some(row) => session_from_row(&row)?,
            None => {
                let s = NamedSessionRecord {
                    id: new_id(),
                    user_id: user_id.to_owned(),
                    device: device.to_owned(),
                    created_at: now,
                    ended_at: None,
                    end_reason: None,
                };
                sqlx::query(
                    "INSERT INTO named_sessions (id, user_id, device, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&s.id)
                .bind(user_id)
                .bind(device)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                s
            }
        };
        tx.commit().await?;
        Ok(session)
    }

    pub async fn named_session(&self, id: &str) -> Result<Option<NamedSessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, device, created_at, ended_at, end_reason FROM named_sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// A person's open sign-ins (at most one).
    pub async fn open_named_sessions(
        &self,
        user_id: &str,
    ) -> Result<Vec<NamedSessionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, device, created_at, ended_at, end_reason FROM named_sessions \
             WHERE user_id = $1 AND ended_at IS NULL ORDER BY created_at",
        )
        .bind(user_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(session_from_row).collect()
    }

    /// Ends one sign-in (`tessera logout` on its device).
    pub async fn end_named_session(&self, id: &str, now: Millis) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE named_sessions SET ended_at = $1, end_reason = 'signed_out' \
             WHERE id = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&self.db)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// "Sign out of all devices": ends every open sign-in of the person.
    pub async fn sign_out_all_devices(
        &self,
        user_id: &str,
        now: Millis,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE named_sessions SET ended_at = $1, end_reason = 'signed_out' \
             WHERE user_id = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&self.db)
        .await?;
        Ok(done.rows_affected())
    }
}
