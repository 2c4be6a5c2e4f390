//! Carts, kept on the server: a visitor's cart belongs to their session and moves to
//! their user when they sign in. Each item is one license as chosen on the Corporate
//! subscription page.

use sqlx::Row;
use tessera_core::Millis;

use super::count;
use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartItemRecord {
    pub id: String,
    pub owner: String,
    pub option_id: String,
    /// Start of the subscription period, `YYYY-MM-DD`.
    pub start_date: String,
    pub seats: u32,
    /// `lan` (with a registration key) or `web`.
    pub server_kind: String,
    pub registration_key: Option<String>,
    pub created_at: Millis,
    /// The team a named-user subscription goes to (the default team when none).
    pub team_id: Option<String>,
}

/// An item as the subscription page sends it (already checked).
#[derive(Debug, Clone)]
pub struct NewCartItem<'a> {
    pub option_id: &'a str,
    pub start_date: &'a str,
    pub seats: u32,
    pub server_kind: &'a str,
    pub registration_key: Option<&'a str>,
    pub team_id: Option<&'a str>,
}

fn item_from_row(row: &sqlx::any::AnyRow) -> Result<CartItemRecord, StoreError> {
    Ok(CartItemRecord {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        option_id: row.try_get("option_id")?,
        start_date: row.try_get("start_date")?,
        seats: count(row.try_get("seats")?),
        server_kind: row.try_get("server_kind")?,
        registration_key: row.try_get("registration_key")?,
        created_at: row.try_get("created_at")?,
        team_id: row.try_get("team_id")?,
    })
}

impl Store {
    pub async fn add_cart_item(
        &self,
        owner: &str,
        item: &NewCartItem<'_>,
        now: Millis,
    ) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        sqlx::query(
            "INSERT INTO cart_items (id, owner, option_id, start_date, seats, server_kind, registration_key, created_at, team_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(owner)
        .bind(item.option_id)
        .bind(item.start_date)
        .bind(i64::from(item.seats))
        .bind(item.server_kind)
        .bind(item.registration_key)
        .bind(now)
        .bind(item.team_id)
        .execute(&self.writer)
        .await?;
        Ok(id)
    }

    /// Changes an item of `owner`'s cart; `false` when it has no such item.
    pub async fn update_cart_item(
        &self,
        owner: &str,
        id: &str,
        item: &NewCartItem<'_>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE cart_items SET option_id = $1, start_date = $2, seats = $3, server_kind = $4, \
             registration_key = $5, team_id = $6 WHERE owner = $7 AND id = $8",
        )
        .bind(item.option_id)
        .bind(item.start_date)
        .bind(i64::from(item.seats))
        .bind(item.server_kind)
        .bind(item.registration_key)
        .bind(item.team_id)
        .bind(owner)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn remove_cart_item(&self, owner: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM cart_items WHERE owner = $1 AND id = $2")
            .bind(owner)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The cart's items, oldest first.
    pub async fn cart_items(&self, owner: &str) -> Result<Vec<CartItemRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM cart_items WHERE owner = $1 ORDER BY created_at, id")
            .bind(owner)
            .fetch_all(&self.db)
            .await?;
        rows.iter().map(item_from_row).collect()
    }

    /// Moves a visitor's cart to the user they signed in as.
    pub async fn move_cart(&self, from: &str, to: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE cart_items SET owner = $1 WHERE owner = $2")
            .bind(to)
            .bind(from)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
