//! The portal's daily jobs: claims that make each job run once per day across nodes,
//! and what the renewal reminders have sent.

use tessera_core::Millis;

use super::tokens::{PACK_COLUMNS, pack_from_row};
use super::{OrderRecord, TokenPackRecord, orders::order_from_row};
use crate::{Store, StoreError};

impl Store {
    /// Claims `job` for `day` for `node` until `until`; `false` when it is done already
    /// or another node's claim still holds.
    pub async fn claim_daily_run(
        &self,
        job: &str,
        day: &str,
        node: &str,
        now: Millis,
        until: Millis,
    ) -> Result<bool, StoreError> {
        // One statement on both backends: a new claim, or the takeover of a claim whose
        // node stopped before finishing.
        let done = sqlx::query(
            "INSERT INTO daily_runs (job, day, node, claimed_until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (job, day) DO UPDATE SET node = excluded.node, \
             claimed_until = excluded.claimed_until \
             WHERE daily_runs.finished_at IS NULL AND daily_runs.claimed_until < $5",
        )
        .bind(job)
        .bind(day)
        .bind(node)
        .bind(until)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks `job` done for `day`.
    pub async fn finish_daily_run(
        &self,
        job: &str,
        day: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE daily_runs SET finished_at = $1 WHERE job = $2 AND day = $3")
            .bind(now)
            .bind(job)
            .bind(day)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Paid orders whose period ends after `from_day` and on or before `to_day`
    /// (YYYY-MM-DD), soonest first.
    pub async fn orders_ending_between(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE status = 'Paid' AND end_date > $1 AND end_date <= $2 \
             ORDER BY end_date, number",
        )
        .bind(from_day)
        .bind(to_day)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(order_from_row).collect()
    }

    /// The thresholds (days before the end) already reminded of for an order.
    pub async fn reminders_sent(&self, order_id: &str) -> Result<Vec<u32>, StoreError> {
        let days: Vec<i64> =
            sqlx::query_scalar("SELECT days_before FROM renewal_reminders WHERE order_id = $1")
                .bind(order_id)
                .fetch_all(&self.db)
                .await?;
        Ok(days
            .into_iter()
            .filter_map(|d| u32::try_from(d).ok())
            .collect())
    }

    /// Records a reminder as sent.
    pub async fn record_reminder(
        &self,
        order_id: &str,
        days_before: u32,
        now: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO renewal_reminders (order_id, days_before, sent_at) VALUES ($1, $2, $3) \
             ON CONFLICT (order_id, days_before) DO NOTHING",
        )
        .bind(order_id)
        .bind(i64::from(days_before))
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Token packs with tokens left whose last day is from `from_day` to `to_day`
    /// (YYYY-MM-DD), soonest first: the balances about to expire.
    pub async fn token_packs_expiring(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<TokenPackRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PACK_COLUMNS} FROM token_packs WHERE remaining > 0 \
             AND expires_on >= $1 AND expires_on <= $2 ORDER BY expires_on, id"
        ))
        .bind(from_day)
        .bind(to_day)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(pack_from_row).collect()
    }
}
