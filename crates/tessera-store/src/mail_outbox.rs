//! The mail outbox: every message the portal sends is stored here first, in one insert,
//! and delivered afterwards by a background task. A message is never deleted or given
//! up on while it is undelivered; a failed attempt is recorded and retried later.
//!
//! Several portal processes may share one database: a deliverer *claims* a message
//! (`claimed_until` in the future) before it sends it, and only the process whose
//! `UPDATE` changed the row sends. A claim that outlives its process (a crash between
//! the claim and the result) expires, and the message is delivered by whoever claims it
//! next, so delivery is at least once.

use sqlx::Row;
use tessera_core::Millis;

use crate::{Store, StoreError};

/// A message to store in the outbox.
#[derive(Debug, Clone)]
pub struct NewOutboxMessage<'a> {
    /// The envelope sender (an address, `shop@vendor.example`).
    pub sender: &'a str,
    /// The envelope recipients (addresses).
    pub recipients: &'a [String],
    /// The subject, for listings and logs.
    pub subject: &'a str,
    /// The formatted RFC 5322 message.
    pub message: &'a [u8],
}

/// A stored message, with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: String,
    pub created_at: Millis,
    pub sender: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub message: Vec<u8>,
    /// Failed attempts so far.
    pub attempts: u32,
    pub next_attempt_at: Millis,
    pub last_error: Option<String>,
    pub delivered_at: Option<Millis>,
    /// `smtp` or the path of the `.eml` file it was written to.
    pub delivered_via: Option<String>,
}

/// A message as listed (without its body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxSummary {
    pub id: String,
    pub created_at: Millis,
    pub recipients: Vec<String>,
    pub subject: String,
    pub size: u64,
    pub attempts: u32,
    pub next_attempt_at: Millis,
    pub last_error: Option<String>,
    pub delivered_at: Option<Millis>,
    pub delivered_via: Option<String>,
}

/// A claim on one message: only its holder records a failed attempt.
#[derive(Debug, Clone)]
pub struct OutboxClaim {
    pub message: OutboxMessage,
    pub token: String,
}

fn recipients_from(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("outbox recipients: {e}")))
}

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn message_from_row(row: &sqlx::any::AnyRow) -> Result<OutboxMessage, StoreError> {
    Ok(OutboxMessage {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        sender: row.try_get("sender")?,
        recipients: recipients_from(&row.try_get::<String, _>("recipients")?)?,
        subject: row.try_get("subject")?,
        message: row.try_get("message")?,
        attempts: count(row.try_get("attempts")?),
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        delivered_at: row.try_get("delivered_at")?,
        delivered_via: row.try_get("delivered_via")?,
    })
}

const MESSAGE_COLUMNS: &str = "id, created_at, sender, recipients, subject, message, attempts, \
     next_attempt_at, last_error, delivered_at, delivered_via";

impl Store {
    /// Stores a message to be delivered as soon as possible; returns its id. Once this
    /// returns the message is durable.
    pub async fn outbox_insert(
        &self,
        message: &NewOutboxMessage<'_>,
        now: Millis,
    ) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let recipients = serde_json::to_string(message.recipients)
            .map_err(|e| StoreError::Corrupt(format!("outbox recipients: {e}")))?;
        sqlx::query(
            "INSERT INTO mail_outbox (id, created_at, sender, recipients, subject, message, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        )
        .bind(&id)
        .bind(now)
        .bind(message.sender)
        .bind(recipients)
        .bind(message.subject)
        .bind(message.message.to_vec())
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(id)
    }

    /// Ids of undelivered messages whose next attempt is due and that nobody holds a
    /// live claim on, oldest first.
    pub async fn outbox_due(&self, now: Millis, limit: u32) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM mail_outbox WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until < $2) \
             ORDER BY next_attempt_at, created_at, id LIMIT $3",
        )
        .bind(now)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.db)
        .await?;
        Ok(ids)
    }

    /// Claims an undelivered message until `until`, unless someone else holds a live
    /// claim on it; `None` when it was delivered or claimed by someone else meanwhile.
    pub async fn outbox_claim(
        &self,
        id: &str,
        now: Millis,
        until: Millis,
    ) -> Result<Option<OutboxClaim>, StoreError> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let claimed = sqlx::query(
            "UPDATE mail_outbox SET claimed_until = $1, claim_token = $2 \
             WHERE id = $3 AND delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until < $4)",
        )
        .bind(until)
        .bind(&token)
        .bind(id)
        .bind(now)
        .execute(&self.writer)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM mail_outbox WHERE id = $1 AND claim_token = $2"
        ))
        .bind(id)
        .bind(&token)
        .fetch_optional(&self.db)
        .await?;
        row.map(|row| {
            Ok(OutboxClaim {
                message: message_from_row(&row)?,
                token,
            })
        })
        .transpose()
    }

    /// Records that a message was delivered (whoever holds the claim now: it was sent).
    pub async fn outbox_delivered(
        &self,
        id: &str,
        now: Millis,
        via: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET delivered_at = $1, delivered_via = $2, claimed_until = NULL, \
             claim_token = NULL WHERE id = $3 AND delivered_at IS NULL",
        )
        .bind(now)
        .bind(via)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Records every undelivered message as delivered `via` without sending it; answers
    /// how many. For `tessera portal bench-seed`, whose thousands of order e-mails to
    /// made-up addresses would otherwise be sent during the measurement.
    pub async fn outbox_set_aside(&self, now: Millis, via: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE mail_outbox SET delivered_at = $1, delivered_via = $2, claimed_until = NULL, \
             claim_token = NULL WHERE delivered_at IS NULL",
        )
        .bind(now)
        .bind(via)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records a failed attempt and when to try again, and releases the claim; does
    /// nothing when the claim was lost meanwhile (another process has the message now).
    pub async fn outbox_failed(
        &self,
        claim: &OutboxClaim,
        error: &str,
        next_attempt_at: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, \
             claimed_until = NULL, claim_token = NULL \
             WHERE id = $3 AND claim_token = $4 AND delivered_at IS NULL",
        )
        .bind(error)
        .bind(next_attempt_at)
        .bind(&claim.message.id)
        .bind(&claim.token)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// How many messages are not delivered yet (due, waiting for a retry, or being sent).
    pub async fn outbox_pending(&self) -> Result<u64, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox WHERE delivered_at IS NULL")
                .fetch_one(&self.db)
                .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The earliest instant at which an undelivered message may be attempted (its next
    /// attempt, or the end of a live claim on it); `None` when nothing is pending.
    pub async fn outbox_next_due(&self) -> Result<Option<Millis>, StoreError> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(CASE WHEN claimed_until IS NOT NULL AND claimed_until > next_attempt_at \
             THEN claimed_until ELSE next_attempt_at END) FROM mail_outbox WHERE delivered_at IS NULL",
        )
        .fetch_one(&self.db)
        .await?;
        Ok(next)
    }

    /// One stored message with its body.
    pub async fn outbox_message(&self, id: &str) -> Result<Option<OutboxMessage>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM mail_outbox WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    /// The most recent messages, newest first, without their bodies.
    pub async fn outbox_recent(&self, limit: u32) -> Result<Vec<OutboxSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, recipients, subject, CAST(LENGTH(message) AS BIGINT) AS size, attempts, \
             next_attempt_at, last_error, delivered_at, delivered_via FROM mail_outbox \
             ORDER BY created_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OutboxSummary {
                    id: row.try_get("id")?,
                    created_at: row.try_get("created_at")?,
                    recipients: recipients_from(&row.try_get::<String, _>("recipients")?)?,
                    subject: row.try_get("subject")?,
                    size: u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or(0),
                    attempts: count(row.try_get("attempts")?),
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    last_error: row.try_get("last_error")?,
                    delivered_at: row.try_get("delivered_at")?,
                    delivered_via: row.try_get("delivered_via")?,
                })
            })
            .collect()
    }

    /// Deletes messages delivered before `before`; undelivered ones are never deleted.
    /// Returns how many were deleted.
    pub async fn outbox_purge_delivered(&self, before: Millis) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM mail_outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1",
        )
        .bind(before)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
