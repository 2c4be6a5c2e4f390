//! Browser sign-ins of programs (RFC 8628's device authorization): a pending code, the
//! person's decision in the portal, and the program taking its token once. Every change
//! is a conditional update, so two nodes, two tabs or two polls can never both decide
//! or both take the same sign-in.

use sqlx::Row;
use tessera_core::Millis;

use crate::{Store, StoreError};

/// Where a browser sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserSignInState {
    /// Waiting for the person to approve or deny it.
    Pending,
    Approved,
    Denied,
    /// The program took its token: the code is spent.
    Used,
}

impl BrowserSignInState {
    fn parse(s: &str) -> Self {
        match s {
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            "used" => Self::Used,
            _ => Self::Pending,
        }
    }
}

/// A browser sign-in as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSignInRecord {
    /// The SHA-256 of the program's device code.
    pub id: String,
    /// What the person types or finds in the link (`BCDF-GHJK`).
    pub user_code: String,
    pub device: String,
    /// The computer's name as the program reports it, shown to the person.
    pub computer: String,
    /// The product the program asks for; empty for any.
    pub product: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub state: BrowserSignInState,
    pub user_id: Option<String>,
    pub polled_at: Option<Millis>,
}

const COLUMNS: &str =
    "id, user_code, device, computer, product, created_at, expires_at, state, user_id, polled_at";

fn record(r: &sqlx::any::AnyRow) -> Result<BrowserSignInRecord, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(BrowserSignInRecord {
        id: r.try_get("id")?,
        user_code: r.try_get("user_code")?,
        device: r.try_get("device")?,
        computer: r.try_get("computer")?,
        product: r.try_get("product")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        state: BrowserSignInState::parse(&state),
        user_id: r.try_get("user_id")?,
        polled_at: r.try_get("polled_at")?,
    })
}

impl Store {
    /// Keeps a new pending browser sign-in.
    pub async fn add_browser_sign_in(&self, s: &BrowserSignInRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO browser_sign_ins (id, user_code, device, computer, product, created_at, expires_at, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')",
        )
        .bind(&s.id)
        .bind(&s.user_code)
        .bind(&s.device)
        .bind(&s.computer)
        .bind(&s.product)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The pending, unexpired sign-in with this user code, if any.
    pub async fn pending_browser_sign_in(
        &self,
        user_code: &str,
        now: Millis,
    ) -> Result<Option<BrowserSignInRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM browser_sign_ins WHERE user_code = $1 AND state = 'pending' \
             AND expires_at > $2"
        ))
        .bind(user_code)
        .bind(now)
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// Approves (for `user_id`) or denies a pending, unexpired sign-in; `false` when it
    /// was not pending any more (decided elsewhere, or expired).
    pub async fn decide_browser_sign_in(
        &self,
        id: &str,
        user_id: &str,
        approve: bool,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE browser_sign_ins SET state = $1, user_id = $2, decided_at = $3 \
             WHERE id = $4 AND state = 'pending' AND expires_at > $5",
        )
        .bind(if approve { "approved" } else { "denied" })
        .bind(user_id)
        .bind(now)
        .bind(id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The program's poll: the sign-in as it was, with the time of the poll before this
    /// one (for `slow_down`), and this poll's time noted.
    pub async fn poll_browser_sign_in(
        &self,
        id: &str,
        now: Millis,
    ) -> Result<Option<BrowserSignInRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM browser_sign_ins WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db)
        .await?;
        let Some(found) = row.as_ref().map(record).transpose()? else {
            return Ok(None);
        };
        sqlx::query("UPDATE browser_sign_ins SET polled_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(Some(found))
    }

    /// Spends an approved sign-in: `true` for the one poll that takes it.
    pub async fn take_browser_sign_in(&self, id: &str, now: Millis) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE browser_sign_ins SET state = 'used' WHERE id = $1 AND state = 'approved' \
             AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets browser sign-ins that ended before `before`; returns how many.
    pub async fn purge_browser_sign_ins(&self, before: Millis) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM browser_sign_ins WHERE expires_at < $1")
                .bind(before)
                .execute(&self.writer)
                .await?
                .rows_affected(),
        )
    }
}
