//! Subscriptions and contracts: orders placed for an organization by someone else (a
//! reseller, for a team named by its owner), the organization's named-user
//! subscriptions, seats added to a subscription, a renewal with another number of seats,
//! and moving a subscription to another team (which unassigns its people).

use chrono::Datelike;
use sqlx::Row;
use tessera_core::Millis;

use super::orders::{OrderRecord, insert_order, next_numbers};
use super::teams::{NamedSubscriptionRecord, TeamError, TeamRecord};
use super::{NewOrder, count};
use crate::{Backend, Store, StoreError};

/// How an order placed outside the cart is bought and where its seats go.
#[derive(Debug, Clone, Default)]
pub struct OrderChannel {
    /// Bought through this reseller: no auto-renew, renewed only through them.
    pub reseller_email: Option<String>,
    /// The team its named-user seats go to.
    pub team_id: Option<String>,
    /// The subscription it adds seats to.
    pub adds_to: Option<String>,
}

/// One move of a subscription to another team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionMove {
    pub from_team_id: String,
    pub to_team_id: String,
    /// The people whose seats the move took away.
    pub unassigned: Vec<String>,
}

const SUB_COLUMNS: &str = "s.id, s.organization_id, s.team_id, s.order_id, s.product_id, \
     s.product_name, s.licensed, s.seats, s.start_date, s.end_date, s.created_at, \
     (SELECT COUNT(*) FROM seat_assignments a WHERE a.subscription_id = s.id) AS assigned";

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Store {
    /// Places one order outside the cart (a reseller's order, or seats added to a
    /// subscription) with the next order and invoice numbers; how it is bought and
    /// where its seats go are stored with it in the same transaction. An order bought
    /// through a reseller does not auto-renew.
    pub async fn place_channel_order(
        &self,
        order: &NewOrder,
        channel: &OrderChannel,
        now: Millis,
    ) -> Result<OrderRecord, StoreError> {
        let year = tessera_core::from_millis(now).year();
        let mut tx = self.portal_write_tx().await?;
        let (number, invoice_number) = next_numbers(&mut tx, year).await?;
        let placed = insert_order(&mut tx, order, &number, &invoice_number, now).await?;
        // Added seats renew with their subscription, a reseller's order through the reseller.
        let auto_renew = channel.reseller_email.is_none() && channel.adds_to.is_none();
        sqlx::query(
            "UPDATE orders SET reseller_email = $1, team_id = $2, adds_to = $3, auto_renew = $4 \
             WHERE id = $5",
        )
        .bind(channel.reseller_email.as_deref())
        .bind(channel.team_id.as_deref())
        .bind(channel.adds_to.as_deref())
        .bind(i64::from(auto_renew))
        .bind(&placed.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(OrderRecord {
            reseller_email: channel.reseller_email.clone(),
            team_id: channel.team_id.clone(),
            adds_to: channel.adds_to.clone(),
            auto_renew,
            ..placed
        })
    }

    /// The orders a reseller placed, newest first.
    pub async fn orders_of_reseller(&self, email: &str) -> Result<Vec<OrderRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE LOWER(reseller_email) = $1 ORDER BY created_at DESC, number DESC",
        )
        .bind(email.trim().to_lowercase())
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(super::orders::order_from_row).collect()
    }

    /// An organization's team by its name (any case).
    pub async fn team_by_name(
        &self,
        organization_id: &str,
        name: &str,
    ) -> Result<Option<TeamRecord>, StoreError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM teams WHERE organization_id = $1 AND LOWER(name) = $2",
        )
        .bind(organization_id)
        .bind(name.trim().to_lowercase())
        .fetch_optional(&self.db)
        .await?;
        match id {
            Some(id) => self.team(&id).await,
            None => Ok(None),
        }
    }

    /// The organization's teams, by name.
    pub async fn teams_of_organization(
        &self,
        organization_id: &str,
    ) -> Result<Vec<TeamRecord>, StoreError> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM teams WHERE organization_id = $1 ORDER BY name")
                .bind(organization_id)
                .fetch_all(&self.db)
                .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(t) = self.team(&id).await? {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Every named-user subscription of the organization, by product.
    pub async fn organization_subscriptions(
        &self,
        organization_id: &str,
    ) -> Result<Vec<NamedSubscriptionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM named_subscriptions s WHERE s.organization_id = $1 \
             ORDER BY s.product_name, s.created_at"
        ))
        .bind(organization_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(super::teams::sub_from_row).collect()
    }

    /// Adds a Paid order's seats to its subscription, once per order (again: nothing).
    /// Answers whether they were added now.
    pub async fn add_seats(
        &self,
        order_id: &str,
        subscription_id: &str,
        seats: u32,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        let done = sqlx::query(
            "INSERT INTO seat_additions (order_id, subscription_id, seats, added_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_id)
        .bind(subscription_id)
        .bind(i64::from(seats))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE named_subscriptions SET seats = seats + $1 WHERE id = $2")
            .bind(i64::from(seats))
            .bind(subscription_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sets a subscription's seats (a renewal for another number of seats). Fewer seats
    /// than people assigned leave the team over-assigned until an admin unassigns some.
    pub async fn set_subscription_seats(&self, id: &str, seats: u32) -> Result<(), StoreError> {
        sqlx::query("UPDATE named_subscriptions SET seats = $1 WHERE id = $2")
            .bind(i64::from(seats))
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The team's over-assigned subscriptions: more people hold seats than it has.
    pub async fn over_assigned(
        &self,
        team_id: &str,
    ) -> Result<Vec<NamedSubscriptionRecord>, StoreError> {
        let subs = self.team_subscriptions(team_id).await?;
        Ok(subs.into_iter().filter(|s| s.assigned > s.seats).collect())
    }

    /// Moves a subscription to another team of its organization, unassigning every
    /// seat (its people were the old team's), and records the move.
    pub async fn move_subscription(
        &self,
        subscription_id: &str,
        to_team_id: &str,
        by: &str,
        now: Millis,
    ) -> Result<SubscriptionMove, TeamError> {
        let mut tx = self.portal_write_tx().await?;
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let row = sqlx::query(&format!(
            "SELECT organization_id, team_id FROM named_subscriptions WHERE id = $1{lock}"
        ))
        .bind(subscription_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(TeamError::NotFound)?;
        let organization: String = row.try_get("organization_id").map_err(StoreError::from)?;
        let from: String = row.try_get("team_id").map_err(StoreError::from)?;
        let target: Option<String> =
            sqlx::query_scalar("SELECT organization_id FROM teams WHERE id = $1")
                .bind(to_team_id)
                .fetch_optional(&mut *tx)
                .await?;
        if target.as_deref() != Some(organization.as_str()) {
            return Err(TeamError::NotFound);
        }
        let unassigned: Vec<String> = sqlx::query_scalar(
            "SELECT user_id FROM seat_assignments WHERE subscription_id = $1 ORDER BY user_id",
        )
        .bind(subscription_id)
        .fetch_all(&mut *tx)
        .await?;
        if from == to_team_id {
            tx.rollback().await?;
            return Ok(SubscriptionMove {
                from_team_id: from,
                to_team_id: to_team_id.to_owned(),
                unassigned: Vec::new(),
            });
        }
        sqlx::query("DELETE FROM seat_assignments WHERE subscription_id = $1")
            .bind(subscription_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE named_subscriptions SET team_id = $1 WHERE id = $2")
            .bind(to_team_id)
            .bind(subscription_id)
            .execute(&mut *tx)
            .await?;
        // Later renewals and added seats of this contract go to the new team too.
        sqlx::query(
            "UPDATE orders SET team_id = $1 WHERE id IN \
             (SELECT order_id FROM named_subscriptions WHERE id = $2)",
        )
        .bind(to_team_id)
        .bind(subscription_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO subscription_moves (id, subscription_id, from_team_id, to_team_id, \
             unassigned, moved_by, moved_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new_id())
        .bind(subscription_id)
        .bind(&from)
        .bind(to_team_id)
        .bind(i64::try_from(unassigned.len()).unwrap_or(i64::MAX))
        .bind(by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(SubscriptionMove {
            from_team_id: from,
            to_team_id: to_team_id.to_owned(),
            unassigned,
        })
    }

    /// Whether a team has an over-assigned subscription (no new assignment until an
    /// admin chooses who loses access).
    pub async fn team_over_assigned(&self, team_id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM named_subscriptions s WHERE s.team_id = $1 AND \
             (SELECT COUNT(*) FROM seat_assignments a WHERE a.subscription_id = s.id) > s.seats",
        )
        .bind(team_id)
        .fetch_one(&self.db)
        .await?;
        Ok(count(n) > 0)
    }
}
