//! Daily usage figures reported by LAN servers (see tessera-server's `report.rs`).

use sqlx::Row;
use tessera_core::Millis;
use tessera_core::usage::DailyUsage;

use crate::{Store, StoreError};

/// One reported day of one pool of one LAN server.
#[derive(Debug, Clone, PartialEq)]
pub struct LanUsageRecord {
    pub server_id: String,
    pub pool_id: String,
    pub day: String,
    pub organization_id: Option<String>,
    pub org_name: String,
    pub products: String,
    pub seats: u32,
    pub peak: u32,
    pub sessions: u32,
    pub users: u32,
    pub seat_hours: f64,
    pub denials: u32,
    pub received_at: Millis,
}

fn record_from_row(r: &sqlx::any::AnyRow) -> Result<LanUsageRecord, StoreError> {
    let n = |c: &str| -> Result<u32, StoreError> {
        Ok(u32::try_from(r.try_get::<i64, _>(c)?).unwrap_or(0))
    };
    Ok(LanUsageRecord {
        server_id: r.try_get("server_id")?,
        pool_id: r.try_get("pool_id")?,
        day: r.try_get("day")?,
        organization_id: r.try_get("organization_id")?,
        org_name: r.try_get("org_name")?,
        products: r.try_get("products")?,
        seats: n("seats")?,
        peak: n("peak")?,
        sessions: n("sessions")?,
        users: n("users")?,
        seat_hours: r.try_get::<i64, _>("centi_hours")? as f64 / 100.0,
        denials: n("denials")?,
        received_at: r.try_get("received_at")?,
    })
}

/// Who sent a report.
pub struct LanReporter<'a> {
    pub server_key: &'a str,
    pub server_id: &'a str,
    pub org_name: &'a str,
}

impl Store {
    /// Stores a report's days (a day already reported is replaced: the newer figures
    /// cover more of it). Each pool is put with the organization whose order made it,
    /// when there is one. Returns how many days were stored.
    pub async fn record_lan_usage(
        &self,
        from: &LanReporter<'_>,
        days: &[DailyUsage],
        now: Millis,
    ) -> Result<usize, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        for d in days {
            let organization_id: Option<String> =
                sqlx::query_scalar("SELECT organization_id FROM orders WHERE pool_id = $1 LIMIT 1")
                    .bind(&d.pool_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            sqlx::query(
                "INSERT INTO lan_usage (server_key, server_id, pool_id, day, organization_id, org_name, \
                 products, seats, peak, sessions, users, centi_hours, denials, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (server_key, pool_id, day) DO UPDATE SET server_id = excluded.server_id, \
                 organization_id = excluded.organization_id, org_name = excluded.org_name, \
                 products = excluded.products, seats = excluded.seats, peak = excluded.peak, \
                 sessions = excluded.sessions, users = excluded.users, \
                 centi_hours = excluded.centi_hours, denials = excluded.denials, \
                 received_at = excluded.received_at",
            )
            .bind(from.server_key)
            .bind(from.server_id)
            .bind(&d.pool_id)
            .bind(&d.day)
            .bind(organization_id)
            .bind(from.org_name)
            .bind(d.products.join(" + "))
            .bind(i64::from(d.seats))
            .bind(i64::from(d.peak))
            .bind(i64::from(d.sessions))
            .bind(i64::from(d.users))
            .bind((d.seat_hours * 100.0).round() as i64)
            .bind(i64::from(d.denials))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(days.len())
    }

    /// Reported days from `from_day` (YYYY-MM-DD) on: one organization's, or every one
    /// (`None`, for the vendor's staff). By organization, server, pool and day.
    pub async fn lan_usage(
        &self,
        organization_id: Option<&str>,
        from_day: &str,
    ) -> Result<Vec<LanUsageRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM lan_usage WHERE day >= $1 AND ($2 = '' OR organization_id = $3) \
             ORDER BY org_name, server_id, pool_id, day",
        )
        .bind(from_day)
        .bind(organization_id.unwrap_or(""))
        .bind(organization_id.unwrap_or(""))
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(record_from_row).collect()
    }
}
