//! Named-user subscriptions (made by a Paid order, renewed) and their seats:
//! assigning and unassigning one, who holds them, and a person's seats. Seat counts
//! are checked under the subscription's lock (see the `teams` module).

use sqlx::Row;
use tessera_core::Millis;

use super::roles::member_role_in;
use super::{SUB_COLUMNS, TeamError, new_id, sub_from_row};
use crate::portal::{Tx, count, json_list, to_json};
use crate::{Backend, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSubscriptionRecord {
    pub id: String,
    pub organization_id: String,
    pub team_id: String,
    pub order_id: Option<String>,
    pub product_id: String,
    pub product_name: String,
    pub licensed: Vec<String>,
    pub seats: u32,
    pub assigned: u32,
    pub start_date: String,
    pub end_date: String,
    pub created_at: Millis,
}

/// A subscription to make (a Paid order of a named-user product).
#[derive(Debug, Clone)]
pub struct NewNamedSubscription<'a> {
    pub organization_id: &'a str,
    pub team_id: &'a str,
    pub order_id: Option<&'a str>,
    pub product_id: &'a str,
    pub product_name: &'a str,
    pub licensed: &'a [String],
    pub seats: u32,
    pub start_date: &'a str,
    pub end_date: &'a str,
    /// The contract manager, who is assigned a seat at once.
    pub buyer_user_id: &'a str,
}

/// A person's seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatRecord {
    pub subscription_id: String,
    pub team_id: String,
    pub product_id: String,
    pub product_name: String,
    pub licensed: Vec<String>,
    pub start_date: String,
    pub end_date: String,
    pub assigned_at: Millis,
}

/// Who holds a seat of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssigneeRecord {
    pub user_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub assigned_at: Millis,
}

/// Locks a subscription for the rest of the transaction and reads its seats and how
/// many are assigned.
pub(super) async fn lock_subscription(
    backend: Backend,
    tx: &mut Tx<'_>,
    subscription_id: &str,
) -> Result<Option<(String, String, u32, u32)>, StoreError> {
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
    };
    let row = sqlx::query(&format!(
        "SELECT team_id, product_name, seats FROM named_subscriptions WHERE id = $1{lock}"
    ))
    .bind(subscription_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let assigned: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM seat_assignments WHERE subscription_id = $1")
            .bind(subscription_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(Some((
        row.try_get("team_id")?,
        row.try_get("product_name")?,
        count(row.try_get("seats")?),
        count(assigned),
    )))
}

/// The team's first over-assigned subscription (more people hold its seats than it has,
/// after a partial renewal): its product, seats and assigned count.
pub(super) async fn over_assignment_in(
    tx: &mut Tx<'_>,
    team_id: &str,
) -> Result<Option<(String, u32, u32)>, StoreError> {
    let row = sqlx::query(
        "SELECT s.product_name, s.seats, \
         (SELECT COUNT(*) FROM seat_assignments a WHERE a.subscription_id = s.id) AS assigned \
         FROM named_subscriptions s WHERE s.team_id = $1 AND \
         (SELECT COUNT(*) FROM seat_assignments a WHERE a.subscription_id = s.id) > s.seats \
         ORDER BY s.product_name",
    )
    .bind(team_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("product_name")?,
            count(r.try_get("seats")?),
            count(r.try_get("assigned")?),
        ))
    })
    .transpose()
}

/// Whether the person holds a seat of any subscription of the team that covers one of
/// `licensed` (a person who has the product takes no second seat).
pub(super) async fn has_product(
    tx: &mut Tx<'_>,
    team_id: &str,
    user_id: &str,
    licensed: &[String],
) -> Result<bool, StoreError> {
    let rows = sqlx::query(
        "SELECT s.licensed FROM seat_assignments a JOIN named_subscriptions s ON s.id = a.subscription_id \
         WHERE s.team_id = $1 AND a.user_id = $2",
    )
    .bind(team_id)
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows {
        let held = json_list(&row.try_get::<String, _>("licensed")?, "licensed")?;
        if held.iter().any(|p| licensed.contains(p)) {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(super) async fn insert_assignment(
    tx: &mut Tx<'_>,
    subscription_id: &str,
    user_id: &str,
    by: &str,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO seat_assignments (subscription_id, user_id, assigned_by, assigned_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (subscription_id, user_id) DO NOTHING",
    )
    .bind(subscription_id)
    .bind(user_id)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Makes a named-user subscription and assigns its buyer (the contract manager) a
    /// seat. Made once per order: again for the same order answers the one made.
    pub async fn create_named_subscription(
        &self,
        new: &NewNamedSubscription<'_>,
        now: Millis,
    ) -> Result<NamedSubscriptionRecord, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        let existing: Option<String> = match new.order_id {
            Some(order) => {
                sqlx::query_scalar("SELECT id FROM named_subscriptions WHERE order_id = $1")
                    .bind(order)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let id = match existing {
            Some(id) => id,
            None => {
                let id = new_id();
                sqlx::query(
                    "INSERT INTO named_subscriptions (id, organization_id, team_id, order_id, product_id, \
                     product_name, licensed, seats, start_date, end_date, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&id)
                .bind(new.organization_id)
                .bind(new.team_id)
                .bind(new.order_id)
                .bind(new.product_id)
                .bind(new.product_name)
                .bind(to_json(new.licensed))
                .bind(i64::from(new.seats))
                .bind(new.start_date)
                .bind(new.end_date)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // The contract manager holds a seat from the start, unless they already
                // hold one of the product in this team (a second order for the team).
                if new.seats > 0
                    && !has_product(&mut tx, new.team_id, new.buyer_user_id, new.licensed).await?
                {
                    insert_assignment(&mut tx, &id, new.buyer_user_id, new.buyer_user_id, now)
                        .await?;
                }
                id
            }
        };
        tx.commit().await?;
        self.named_subscription(&id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("subscription {id} vanished")))
    }

    pub async fn named_subscription(
        &self,
        id: &str,
    ) -> Result<Option<NamedSubscriptionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM named_subscriptions s WHERE s.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(sub_from_row).transpose()
    }

    /// Carries a named-user subscription into its renewal's term: the renewal order
    /// becomes its order and its period ends on `end_date`; its team and seats stay.
    pub async fn renew_named_subscription(
        &self,
        id: &str,
        renewal_order_id: &str,
        end_date: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE named_subscriptions SET order_id = $1, end_date = $2 WHERE id = $3")
            .bind(renewal_order_id)
            .bind(end_date)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The subscription a Paid order made.
    pub async fn named_subscription_of_order(
        &self,
        order_id: &str,
    ) -> Result<Option<NamedSubscriptionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM named_subscriptions s WHERE s.order_id = $1"
        ))
        .bind(order_id)
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(sub_from_row).transpose()
    }

    pub async fn team_subscriptions(
        &self,
        team_id: &str,
    ) -> Result<Vec<NamedSubscriptionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM named_subscriptions s WHERE s.team_id = $1 \
             ORDER BY s.product_name, s.created_at"
        ))
        .bind(team_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(sub_from_row).collect()
    }

    /// Who holds the subscription's seats, by e-mail.
    pub async fn assignees(
        &self,
        subscription_id: &str,
    ) -> Result<Vec<AssigneeRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.user_id, u.email, COALESCE(m.first_name, '') AS first_name, \
             COALESCE(m.last_name, '') AS last_name, a.assigned_at \
             FROM seat_assignments a JOIN users u ON u.id = a.user_id \
             JOIN named_subscriptions s ON s.id = a.subscription_id \
             LEFT JOIN team_members m ON m.team_id = s.team_id AND m.user_id = a.user_id \
             WHERE a.subscription_id = $1 ORDER BY u.email_key",
        )
        .bind(subscription_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AssigneeRecord {
                    user_id: row.try_get("user_id")?,
                    email: row.try_get("email")?,
                    first_name: row.try_get("first_name")?,
                    last_name: row.try_get("last_name")?,
                    assigned_at: row.try_get("assigned_at")?,
                })
            })
            .collect()
    }

    /// Assigns seats of one subscription to members of its team, all or none: refused
    /// whole when they would exceed its seats. People who already hold the product take
    /// no second seat. Answers, per person, whether a seat was newly assigned.
    pub async fn assign_seats(
        &self,
        subscription_id: &str,
        user_ids: &[&str],
        by: &str,
        now: Millis,
    ) -> Result<Vec<bool>, TeamError> {
        let mut tx = self.portal_write_tx().await?;
        let (team_id, product, seats, assigned) =
            lock_subscription(self.backend, &mut tx, subscription_id)
                .await?
                .ok_or(TeamError::NotFound)?;
        if let Some((product, seats, assigned)) = over_assignment_in(&mut tx, &team_id).await? {
            return Err(TeamError::OverAssigned {
                product,
                seats,
                assigned,
            });
        }
        let licensed: String =
            sqlx::query_scalar("SELECT licensed FROM named_subscriptions WHERE id = $1")
                .bind(subscription_id)
                .fetch_one(&mut *tx)
                .await?;
        let licensed = json_list(&licensed, "licensed")?;
        let mut out = Vec::new();
        let mut wanted = 0u32;
        let mut seen: Vec<&str> = Vec::new();
        for user in user_ids {
            if member_role_in(&mut tx, &team_id, user).await?.is_none() {
                return Err(TeamError::NotMember((*user).to_owned()));
            }
            let new =
                !seen.contains(user) && !has_product(&mut tx, &team_id, user, &licensed).await?;
            seen.push(user);
            if new {
                wanted += 1;
            }
            out.push(new);
        }
        if assigned + wanted > seats {
            return Err(TeamError::NotEnoughSeats {
                product,
                seats,
                assigned,
                wanted,
            });
        }
        for (user, new) in user_ids.iter().zip(&out) {
            if *new {
                insert_assignment(&mut tx, subscription_id, user, by, now).await?;
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Frees a person's seat of a subscription; `false` when they had none.
    pub async fn unassign_seat(
        &self,
        subscription_id: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM seat_assignments WHERE subscription_id = $1 AND user_id = $2")
                .bind(subscription_id)
                .bind(user_id)
                .execute(&self.db)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A person's seats in one team.
    pub async fn seats_in_team(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<Vec<NamedSubscriptionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM named_subscriptions s JOIN seat_assignments x \
             ON x.subscription_id = s.id WHERE s.team_id = $1 AND x.user_id = $2"
        ))
        .bind(team_id)
        .bind(user_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(sub_from_row).collect()
    }

    /// Every seat a person holds, in any team.
    pub async fn seats_of_user(&self, user_id: &str) -> Result<Vec<SeatRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.team_id, s.product_id, s.product_name, s.licensed, s.start_date, \
             s.end_date, a.assigned_at FROM seat_assignments a \
             JOIN named_subscriptions s ON s.id = a.subscription_id WHERE a.user_id = $1 \
             ORDER BY s.product_name",
        )
        .bind(user_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SeatRecord {
                    subscription_id: row.try_get("id")?,
                    team_id: row.try_get("team_id")?,
                    product_id: row.try_get("product_id")?,
                    product_name: row.try_get("product_name")?,
                    licensed: json_list(&row.try_get::<String, _>("licensed")?, "licensed")?,
                    start_date: row.try_get("start_date")?,
                    end_date: row.try_get("end_date")?,
                    assigned_at: row.try_get("assigned_at")?,
                })
            })
            .collect()
    }
}
