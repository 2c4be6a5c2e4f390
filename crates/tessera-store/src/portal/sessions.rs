//! Browser sessions, one-time tokens and sign-in failures. Tokens are stored only as
//! hashes made by the caller: a copy of the database signs nobody in. A one-time token
//! is taken in one conditional update, so two clicks on the same link use it once.

use sqlx::Row;
use tessera_core::Millis;

use crate::{Store, StoreError};

/// A session as stored; `user_id` is `None` for a visitor's pre-session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub token_hash: String,
    pub user_id: Option<String>,
    pub csrf_secret: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneTimePurpose {
    /// The link in the e-mail sent after sign-up.
    Confirm,
    /// The link in a password reset e-mail.
    Reset,
}

impl OneTimePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            OneTimePurpose::Confirm => "confirm",
            OneTimePurpose::Reset => "reset",
        }
    }
}

impl Store {
    pub async fn create_session(&self, row: &SessionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_secret, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.token_hash)
        .bind(row.user_id.as_deref())
        .bind(&row.csrf_secret)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The live session with this token hash.
    pub async fn session(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, user_id, csrf_secret, created_at, expires_at FROM sessions \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.db)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                token_hash: r.try_get("token_hash")?,
                user_id: r.try_get("user_id")?,
                csrf_secret: r.try_get("csrf_secret")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Signs the user out everywhere (after a password reset).
    pub async fn delete_user_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    /// Forgets expired sessions, used one-time tokens and old sign-in failures.
    pub async fn purge_expired_sessions(
        &self,
        now: Millis,
        failures_before: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        sqlx::query("DELETE FROM one_time_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(failures_before)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn create_one_time_token(
        &self,
        token_hash: &str,
        purpose: OneTimePurpose,
        user_id: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Uses a one-time token: the user it was made for, once, while it has not expired.
    pub async fn take_one_time_token(
        &self,
        token_hash: &str,
        purpose: OneTimePurpose,
        now: Millis,
    ) -> Result<Option<String>, StoreError> {
        let user: Option<String> = sqlx::query_scalar(
            "UPDATE one_time_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 \
             AND used_at IS NULL AND expires_at > $4 RETURNING user_id",
        )
        .bind(now)
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        Ok(user)
    }

    /// Whether a one-time token could be used now (without using it).
    pub async fn one_time_token_valid(
        &self,
        token_hash: &str,
        purpose: OneTimePurpose,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM one_time_tokens WHERE token_hash = $1 AND purpose = $2 \
             AND used_at IS NULL AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&self.db)
        .await?;
        Ok(found.is_some())
    }

    /// Records a failed sign-in under each of `subjects` (the account, the address).
    pub async fn record_login_failure(
        &self,
        subjects: &[&str],
        now: Millis,
    ) -> Result<(), StoreError> {
        for subject in subjects {
            sqlx::query("INSERT INTO login_failures (subject, at) VALUES ($1, $2)")
                .bind(*subject)
                .bind(now)
                .execute(&self.writer)
                .await?;
        }
        Ok(())
    }

    /// Failed sign-ins under `subject` since `since`.
    pub async fn login_failures_since(
        &self,
        subject: &str,
        since: Millis,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM login_failures WHERE subject = $1 AND at >= $2",
        )
        .bind(subject)
        .bind(since)
        .fetch_one(&self.db)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Forgets the failures under `subject` (after a successful sign-in or a reset).
    pub async fn clear_login_failures(&self, subject: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE subject = $1")
            .bind(subject)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
