//! Orders and their documents. An order is placed Pending with its order number and
//! invoice number taken from counters in the same transaction as its row, so numbers
//! are sequential per year with no gaps (a rolled back order gives its numbers back).
//! Marking an order Paid or Cancelled is a conditional update from Pending: two staff
//! members, on two nodes, cannot both do it.

use chrono::Datelike;
use sqlx::Row;
use tessera_core::Millis;

use super::accounts::{join_lines, split_lines};
use super::{Tx, count, json_list, to_json};
use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Paid,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "Pending",
            OrderStatus::Paid => "Paid",
            OrderStatus::Cancelled => "Cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Pending" => Some(OrderStatus::Pending),
            "Paid" => Some(OrderStatus::Paid),
            "Cancelled" => Some(OrderStatus::Cancelled),
            _ => None,
        }
    }
}

/// Which license server an order's licenses go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// The office's LAN License Server, named by its registration key.
    Lan,
    /// The vendor's Web License Server.
    Web,
}

impl ServerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::Lan => "lan",
            ServerKind::Web => "web",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "lan" => Some(ServerKind::Lan),
            "web" => Some(ServerKind::Web),
            _ => None,
        }
    }
}

/// An order to place, with everything computed (prices, dates) by the caller.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// The cart item it comes from: taken out of the cart in the same transaction.
    pub cart_item_id: Option<String>,
    pub user_id: String,
    pub organization_id: String,
    pub customer_email: String,
    pub company: super::CompanyInfo,
    pub option_id: String,
    pub product_name: String,
    pub option_name: String,
    pub licensed: Vec<String>,
    pub months: u32,
    pub borrow_max_hours: u32,
    pub seats: u32,
    pub currency: String,
    pub unit_price_minor: i64,
    pub tax_rate_bp: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
    pub contract_and_acts: bool,
    pub server_kind: ServerKind,
    pub registration_key: Option<String>,
    pub start_date: String,
    pub end_date: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub id: String,
    /// `ORD-2026-000001`.
    pub number: String,
    /// `INV-2026-000001`.
    pub invoice_number: String,
    pub status: OrderStatus,
    pub user_id: String,
    pub organization_id: String,
    pub customer_email: String,
    /// The company as the invoice shows it.
    pub company: super::CompanyInfo,
    pub option_id: String,
    pub product_name: String,
    pub option_name: String,
    pub licensed: Vec<String>,
    pub months: u32,
    pub borrow_max_hours: u32,
    pub seats: u32,
    pub currency: String,
    pub unit_price_minor: i64,
    pub tax_rate_bp: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
    pub contract_and_acts: bool,
    pub server_kind: ServerKind,
    pub registration_key: Option<String>,
    pub start_date: String,
    pub end_date: String,
    /// The pool's id in the activation key: stable for the order.
    pub pool_id: String,
    pub activation_key: Option<String>,
    pub created_at: Millis,
    pub paid_at: Option<Millis>,
    pub cancelled_at: Option<Millis>,
    /// Renews by itself at the end of the period (a new Pending order and invoice).
    pub auto_renew: bool,
    /// The number of the order this one renews.
    pub renews: Option<String>,
    /// The number of the renewal order placed for this one.
    pub renewed_by: Option<String>,
    /// Bought through this reseller (their e-mail); `None`: bought online.
    pub reseller_email: Option<String>,
    /// The team a named-user order's seats go to; `None`: the buyer's default team.
    pub team_id: Option<String>,
    /// The subscription this order adds seats to; `None`: a new contract.
    pub adds_to: Option<String>,
}

/// The seats and prices of a renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewalSeats {
    pub seats: u32,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
}

/// Which of an order's e-mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announcement {
    /// The invoice to the customer and the note to staff.
    Placed,
    /// The Paid e-mail (with the activation key for a LAN server).
    Paid,
}

/// What marking an order Paid sets.
#[derive(Debug, Clone)]
pub struct PaidOrder<'a> {
    pub start_date: &'a str,
    pub end_date: &'a str,
    /// The activation key for a LAN server.
    pub activation_key: Option<&'a str>,
}

/// The documents an order has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Invoice,
    Agreement,
    Act,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "invoice",
            DocumentKind::Agreement => "agreement",
            DocumentKind::Act => "act",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "invoice" => Some(DocumentKind::Invoice),
            "agreement" => Some(DocumentKind::Agreement),
            "act" => Some(DocumentKind::Act),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    pub kind: DocumentKind,
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
    pub created_at: Millis,
}

pub(super) fn order_from_row(row: &sqlx::any::AnyRow) -> Result<OrderRecord, StoreError> {
    let status: String = row.try_get("status")?;
    let kind: String = row.try_get("server_kind")?;
    Ok(OrderRecord {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        invoice_number: row.try_get("invoice_number")?,
        status: OrderStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("order status `{status}`")))?,
        user_id: row.try_get("user_id")?,
        organization_id: row.try_get("organization_id")?,
        customer_email: row.try_get("customer_email")?,
        company: super::CompanyInfo {
            name: row.try_get("company_name")?,
            address: split_lines(&row.try_get::<String, _>("company_address")?),
            tax_id: row.try_get("company_tax_id")?,
            billing_email: row.try_get("company_email")?,
        },
        option_id: row.try_get("option_id")?,
        product_name: row.try_get("product_name")?,
        option_name: row.try_get("option_name")?,
        licensed: json_list(&row.try_get::<String, _>("licensed")?, "order licensed")?,
        months: count(row.try_get("months")?),
        borrow_max_hours: count(row.try_get("borrow_max_hours")?),
        seats: count(row.try_get("seats")?),
        currency: row.try_get("currency")?,
        unit_price_minor: row.try_get("unit_price_minor")?,
        tax_rate_bp: row.try_get("tax_rate_bp")?,
        net_minor: row.try_get("net_minor")?,
        tax_minor: row.try_get("tax_minor")?,
        gross_minor: row.try_get("gross_minor")?,
        contract_and_acts: row.try_get::<i64, _>("contract_and_acts")? != 0,
        server_kind: ServerKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("server kind `{kind}`")))?,
        registration_key: row.try_get("registration_key")?,
        start_date: row.try_get("start_date")?,
        end_date: row.try_get("end_date")?,
        pool_id: row.try_get("pool_id")?,
        activation_key: row.try_get("activation_key")?,
        created_at: row.try_get("created_at")?,
        paid_at: row.try_get("paid_at")?,
        cancelled_at: row.try_get("cancelled_at")?,
        auto_renew: row.try_get::<i64, _>("auto_renew")? != 0,
        renews: row.try_get("renews")?,
        renewed_by: row.try_get("renewed_by")?,
        reseller_email: row.try_get("reseller_email")?,
        team_id: row.try_get("team_id")?,
        adds_to: row.try_get("adds_to")?,
    })
}

/// The next order and invoice numbers of `year` (`ORD-2026-000001`, `INV-2026-000001`),
/// inside the caller's transaction.
pub(super) async fn next_numbers(
    tx: &mut Tx<'_>,
    year: i32,
) -> Result<(String, String), StoreError> {
    let order_no = next_number(tx, &format!("order-{year}")).await?;
    let invoice_no = next_number(tx, &format!("invoice-{year}")).await?;
    Ok((
        format!("ORD-{year}-{order_no:06}"),
        format!("INV-{year}-{invoice_no:06}"),
    ))
}

/// The next value of a counter, inside the caller's transaction: the upsert locks the
/// counter's row until the transaction ends, so concurrent orders number one by one.
pub(super) async fn next_number(tx: &mut Tx<'_>, name: &str) -> Result<i64, StoreError> {
    let value: i64 = sqlx::query_scalar(
        "INSERT INTO counters (name, value) VALUES ($1, 1) \
         ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
    )
    .bind(name)
    .fetch_one(&mut **tx)
    .await?;
    Ok(value)
}

pub(super) async fn insert_order(
    tx: &mut Tx<'_>,
    o: &NewOrder,
    number: &str,
    invoice_number: &str,
    now: Millis,
) -> Result<OrderRecord, StoreError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let pool_id = number.to_lowercase();
    sqlx::query(
        "INSERT INTO orders (id, number, invoice_number, status, user_id, organization_id, customer_email, \
         company_name, company_address, company_tax_id, company_email, option_id, product_name, option_name, \
         licensed, months, borrow_max_hours, seats, currency, unit_price_minor, tax_rate_bp, net_minor, \
         tax_minor, gross_minor, contract_and_acts, server_kind, registration_key, start_date, end_date, \
         pool_id, created_at) VALUES ($1, $2, $3, 'Pending', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)",
    )
    .bind(&id)
    .bind(number)
    .bind(invoice_number)
    .bind(&o.user_id)
    .bind(&o.organization_id)
    .bind(&o.customer_email)
    .bind(&o.company.name)
    .bind(join_lines(&o.company.address))
    .bind(&o.company.tax_id)
    .bind(&o.company.billing_email)
    .bind(&o.option_id)
    .bind(&o.product_name)
    .bind(&o.option_name)
    .bind(to_json(&o.licensed))
    .bind(i64::from(o.months))
    .bind(i64::from(o.borrow_max_hours))
    .bind(i64::from(o.seats))
    .bind(&o.currency)
    .bind(o.unit_price_minor)
    .bind(o.tax_rate_bp)
    .bind(o.net_minor)
    .bind(o.tax_minor)
    .bind(o.gross_minor)
    .bind(i64::from(o.contract_and_acts))
    .bind(o.server_kind.as_str())
    .bind(o.registration_key.as_deref())
    .bind(&o.start_date)
    .bind(&o.end_date)
    .bind(&pool_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(OrderRecord {
        id,
        number: number.to_owned(),
        invoice_number: invoice_number.to_owned(),
        status: OrderStatus::Pending,
        user_id: o.user_id.clone(),
        organization_id: o.organization_id.clone(),
        customer_email: o.customer_email.clone(),
        company: super::CompanyInfo {
            name: o.company.name.clone(),
            address: split_lines(&join_lines(&o.company.address)),
            tax_id: o.company.tax_id.clone(),
            billing_email: o.company.billing_email.clone(),
        },
        option_id: o.option_id.clone(),
        product_name: o.product_name.clone(),
        option_name: o.option_name.clone(),
        licensed: o.licensed.clone(),
        months: o.months,
        borrow_max_hours: o.borrow_max_hours,
        seats: o.seats,
        currency: o.currency.clone(),
        unit_price_minor: o.unit_price_minor,
        tax_rate_bp: o.tax_rate_bp,
        net_minor: o.net_minor,
        tax_minor: o.tax_minor,
        gross_minor: o.gross_minor,
        contract_and_acts: o.contract_and_acts,
        server_kind: o.server_kind,
        registration_key: o.registration_key.clone(),
        start_date: o.start_date.clone(),
        end_date: o.end_date.clone(),
        pool_id,
        activation_key: None,
        created_at: now,
        paid_at: None,
        cancelled_at: None,
        auto_renew: true,
        renews: None,
        renewed_by: None,
        reseller_email: None,
        team_id: None,
        adds_to: None,
    })
}

impl Store {
    /// Places orders in one transaction: each takes the next order and invoice number
    /// of the year and leaves `cart_owner`'s cart. `None` (and nothing placed) when one
    /// of their cart items is no longer there, e.g. the same Checkout sent twice.
    pub async fn place_orders(
        &self,
        orders: &[NewOrder],
        cart_owner: &str,
        now: Millis,
    ) -> Result<Option<Vec<OrderRecord>>, StoreError> {
        let year = tessera_core::from_millis(now).year();
        let mut tx = self.portal_write_tx().await?;
        let mut placed = Vec::with_capacity(orders.len());
        for o in orders {
            // The item leaves the cart; the team chosen for it goes with the order.
            let mut team_id: Option<String> = None;
            if let Some(item) = &o.cart_item_id {
                let taken: Option<Option<String>> = sqlx::query_scalar(
                    "DELETE FROM cart_items WHERE owner = $1 AND id = $2 RETURNING team_id",
                )
                .bind(cart_owner)
                .bind(item)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(team) = taken else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                team_id = team;
            }
            let (number, invoice_number) = next_numbers(&mut tx, year).await?;
            let mut order = insert_order(&mut tx, o, &number, &invoice_number, now).await?;
            if let Some(team) = team_id {
                sqlx::query("UPDATE orders SET team_id = $1 WHERE id = $2")
                    .bind(&team)
                    .bind(&order.id)
                    .execute(&mut *tx)
                    .await?;
                order.team_id = Some(team);
            }
            placed.push(order);
        }
        tx.commit().await?;
        Ok(Some(placed))
    }

    pub async fn order_by_number(&self, number: &str) -> Result<Option<OrderRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM orders WHERE number = $1")
            .bind(number)
            .fetch_optional(&self.db)
            .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    /// An organization's orders, newest first.
    pub async fn orders_of_organization(
        &self,
        organization_id: &str,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE organization_id = $1 ORDER BY created_at DESC, number DESC",
        )
        .bind(organization_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(order_from_row).collect()
    }

    /// Orders for the back office, newest first: all of them, or those whose number,
    /// invoice number, company or customer e-mail contains `query` (any case).
    pub async fn search_orders(
        &self,
        query: &str,
        status: Option<OrderStatus>,
        limit: u32,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let pattern = format!(
            "%{}%",
            query
                .trim()
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE (LOWER(number) LIKE $1 ESCAPE '\\' \
             OR LOWER(invoice_number) LIKE $2 ESCAPE '\\' OR LOWER(company_name) LIKE $3 ESCAPE '\\' \
             OR LOWER(customer_email) LIKE $4 ESCAPE '\\' OR LOWER(company_email) LIKE $5 ESCAPE '\\') \
             AND ($6 = '' OR status = $7) ORDER BY created_at DESC, number DESC LIMIT $8",
        )
        .bind(&pattern)
        .bind(&pattern)
        .bind(&pattern)
        .bind(&pattern)
        .bind(&pattern)
        .bind(status.map(|s| s.as_str()).unwrap_or(""))
        .bind(status.map(|s| s.as_str()).unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(order_from_row).collect()
    }

    /// Pending → Paid, with the period and (for a LAN server) the activation key;
    /// `false` when the order is not Pending (any more).
    pub async fn mark_order_paid(
        &self,
        order_id: &str,
        paid: &PaidOrder<'_>,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE orders SET status = 'Paid', start_date = $1, end_date = $2, activation_key = $3, \
             paid_at = $4 WHERE id = $5 AND status = 'Pending'",
        )
        .bind(paid.start_date)
        .bind(paid.end_date)
        .bind(paid.activation_key)
        .bind(now)
        .bind(order_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Places the renewal of a Paid order for the period `start`..`end`: a new Pending
    /// order with the next order and invoice numbers, the same products, seats and
    /// prices, and the same pool id (the new term's activation key replaces the pool).
    /// `None` when the order is not Paid or was renewed already (by anyone).
    pub async fn place_renewal(
        &self,
        original: &OrderRecord,
        start_date: &str,
        end_date: &str,
        now: Millis,
    ) -> Result<Option<OrderRecord>, StoreError> {
        let same = RenewalSeats {
            seats: original.seats,
            net_minor: original.net_minor,
            tax_minor: original.tax_minor,
            gross_minor: original.gross_minor,
        };
        self.place_renewal_of_seats(original, &same, start_date, end_date, now)
            .await
    }

    /// [`Store::place_renewal`] for another number of seats (a partial renewal, or a
    /// subscription that gained seats), at those prices. The renewal keeps the order's
    /// reseller and team.
    pub async fn place_renewal_of_seats(
        &self,
        original: &OrderRecord,
        seats: &RenewalSeats,
        start_date: &str,
        end_date: &str,
        now: Millis,
    ) -> Result<Option<OrderRecord>, StoreError> {
        let year = tessera_core::from_millis(now).year();
        let mut tx = self.portal_write_tx().await?;
        let (number, invoice_number) = next_numbers(&mut tx, year).await?;
        let claimed = sqlx::query(
            "UPDATE orders SET renewed_by = $1 WHERE id = $2 AND status = 'Paid' AND renewed_by IS NULL",
        )
        .bind(&number)
        .bind(&original.id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let o = original;
        let new = NewOrder {
            cart_item_id: None,
            user_id: o.user_id.clone(),
            organization_id: o.organization_id.clone(),
            customer_email: o.customer_email.clone(),
            company: o.company.clone(),
            option_id: o.option_id.clone(),
            product_name: o.product_name.clone(),
            option_name: o.option_name.clone(),
            licensed: o.licensed.clone(),
            months: o.months,
            borrow_max_hours: o.borrow_max_hours,
            seats: seats.seats,
            currency: o.currency.clone(),
            unit_price_minor: o.unit_price_minor,
            tax_rate_bp: o.tax_rate_bp,
            net_minor: seats.net_minor,
            tax_minor: seats.tax_minor,
            gross_minor: seats.gross_minor,
            contract_and_acts: o.contract_and_acts,
            server_kind: o.server_kind,
            registration_key: o.registration_key.clone(),
            start_date: start_date.to_owned(),
            end_date: end_date.to_owned(),
        };
        let placed = insert_order(&mut tx, &new, &number, &invoice_number, now).await?;
        sqlx::query(
            "UPDATE orders SET pool_id = $1, renews = $2, reseller_email = $3, team_id = $4, \
             auto_renew = $5 WHERE id = $6",
        )
        .bind(&o.pool_id)
        .bind(&o.number)
        .bind(o.reseller_email.as_deref())
        .bind(o.team_id.as_deref())
        .bind(i64::from(o.reseller_email.is_none()))
        .bind(&placed.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(OrderRecord {
            pool_id: o.pool_id.clone(),
            renews: Some(o.number.clone()),
            reseller_email: o.reseller_email.clone(),
            team_id: o.team_id.clone(),
            auto_renew: o.reseller_email.is_none(),
            ..placed
        }))
    }

    /// Turns an order's auto-renew on or off; `false` when there is no such order.
    pub async fn set_auto_renew(&self, order_id: &str, on: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE orders SET auto_renew = $1 WHERE id = $2")
            .bind(i64::from(on))
            .bind(order_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Paid, auto-renewing orders not yet renewed whose period ended on or before `day`
    /// and after `since` (YYYY-MM-DD): the renewals due. Orders bought through a reseller
    /// renew only through the reseller, and added seats renew with their subscription.
    pub async fn renewals_due(
        &self,
        since: &str,
        day: &str,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE status = 'Paid' AND auto_renew <> 0 AND renewed_by IS NULL \
             AND reseller_email IS NULL AND adds_to IS NULL AND end_date > $1 AND end_date <= $2 ORDER BY end_date, number",
        )
        .bind(since)
        .bind(day)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(order_from_row).collect()
    }

    /// Records that an order's e-mails for `which` are in the outbox.
    pub async fn mark_order_announced(
        &self,
        order_id: &str,
        which: Announcement,
        now: Millis,
    ) -> Result<(), StoreError> {
        let sql = match which {
            Announcement::Placed => "UPDATE orders SET announced_at = $1 WHERE id = $2",
            Announcement::Paid => "UPDATE orders SET paid_announced_at = $1 WHERE id = $2",
        };
        sqlx::query(sql)
            .bind(now)
            .bind(order_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Orders placed (or marked Paid) before `before` whose e-mails were never stored:
    /// what a crash between the order's commit and its e-mails left behind. Oldest first.
    pub async fn unannounced_orders(
        &self,
        before: Millis,
    ) -> Result<Vec<(OrderRecord, Announcement)>, StoreError> {
        let mut out = Vec::new();
        let placed = sqlx::query(
            "SELECT * FROM orders WHERE announced_at IS NULL AND created_at < $1 \
             ORDER BY created_at, number LIMIT 100",
        )
        .bind(before)
        .fetch_all(&self.db)
        .await?;
        for row in &placed {
            out.push((order_from_row(row)?, Announcement::Placed));
        }
        let paid = sqlx::query(
            "SELECT * FROM orders WHERE status = 'Paid' AND paid_announced_at IS NULL \
             AND paid_at < $1 ORDER BY paid_at, number LIMIT 100",
        )
        .bind(before)
        .fetch_all(&self.db)
        .await?;
        for row in &paid {
            out.push((order_from_row(row)?, Announcement::Paid));
        }
        Ok(out)
    }

    /// Pending → Cancelled; `false` when the order is not Pending (any more).
    pub async fn cancel_order(&self, order_id: &str, now: Millis) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE orders SET status = 'Cancelled', cancelled_at = $1 WHERE id = $2 AND status = 'Pending'",
        )
        .bind(now)
        .bind(order_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores (or replaces) one of an order's documents.
    pub async fn put_document(
        &self,
        order_id: &str,
        doc: &DocumentRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO order_documents (order_id, kind, filename, content_type, content, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (order_id, kind) DO UPDATE SET \
             filename = excluded.filename, content_type = excluded.content_type, \
             content = excluded.content, created_at = excluded.created_at",
        )
        .bind(order_id)
        .bind(doc.kind.as_str())
        .bind(&doc.filename)
        .bind(&doc.content_type)
        .bind(doc.content.clone())
        .bind(doc.created_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn document(
        &self,
        order_id: &str,
        kind: DocumentKind,
    ) -> Result<Option<DocumentRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT filename, content_type, content, created_at FROM order_documents \
             WHERE order_id = $1 AND kind = $2",
        )
        .bind(order_id)
        .bind(kind.as_str())
        .fetch_optional(&self.db)
        .await?;
        row.map(|r| {
            Ok(DocumentRecord {
                kind,
                filename: r.try_get("filename")?,
                content_type: r.try_get("content_type")?,
                content: r.try_get("content")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// Which documents an order has (without their content).
    pub async fn document_kinds(&self, order_id: &str) -> Result<Vec<DocumentKind>, StoreError> {
        let kinds: Vec<String> =
            sqlx::query_scalar("SELECT kind FROM order_documents WHERE order_id = $1")
                .bind(order_id)
                .fetch_all(&self.db)
                .await?;
        let mut out: Vec<DocumentKind> = kinds
            .iter()
            .filter_map(|k| DocumentKind::parse(k))
            .collect();
        out.sort_by_key(|k| *k as u8);
        Ok(out)
    }
}
