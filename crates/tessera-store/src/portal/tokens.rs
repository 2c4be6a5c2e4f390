//! Token (consumption) licensing: an organization's prepaid token packs, and the charges
//! made when its people use products. One charge per person, product and 24 hours; the
//! packs are drawn earliest expiry first; a product is refused when the balance is below
//! its daily rate. Charges of one organization are serialised (the write lock on SQLite,
//! a row lock on its packs on PostgreSQL), so that concurrent uses of the same product by
//! the same person charge once, and two charges never draw the same tokens.

use sqlx::Row;
use tessera_core::Millis;

use crate::{Backend, Store, StoreError};

/// A charge's window: 24 hours from the first use.
pub const TOKEN_WINDOW_MS: Millis = 24 * 3600 * 1000;

/// A pack of prepaid tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPackRecord {
    pub id: String,
    pub organization_id: String,
    pub tokens: i64,
    pub remaining: i64,
    /// The last day it can be drawn (YYYY-MM-DD, UTC).
    pub expires_on: String,
    pub granted_by: String,
    pub note: String,
    pub created_at: Millis,
}

/// A charge: a person's use of a product for 24 hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenChargeRecord {
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    pub email: String,
    pub product: String,
    pub day: String,
    pub window_start: Millis,
    pub window_end: Millis,
    pub tokens: i64,
}

/// A pack to add.
#[derive(Debug, Clone)]
pub struct NewTokenPack<'a> {
    pub organization_id: &'a str,
    pub tokens: i64,
    pub expires_on: &'a str,
    pub granted_by: &'a str,
    pub note: &'a str,
}

/// A use to charge.
#[derive(Debug, Clone)]
pub struct TokenUse<'a> {
    pub organization_id: &'a str,
    pub user_id: &'a str,
    pub email: &'a str,
    pub product: &'a str,
    /// The product's daily rate.
    pub rate: i64,
    /// A use too short to charge (it is still refused when the balance is too low).
    pub free: bool,
    /// Today (UTC), YYYY-MM-DD: packs that expired before it are not drawn.
    pub today: &'a str,
    pub now: Millis,
    /// Below this balance, the low-balance e-mail goes out (once).
    pub low_balance: i64,
}

/// What a use came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOutcome {
    /// Charged now.
    Charged {
        charge: TokenChargeRecord,
        balance: i64,
        /// The balance fell below the threshold and nobody was told yet.
        mail_low_balance: bool,
    },
    /// This person's use of this product is paid until the window's end.
    AlreadyPaid {
        charge: TokenChargeRecord,
        balance: i64,
    },
    /// Not charged: too short a use.
    Free { balance: i64 },
    /// The balance (of packs still valid) is below the rate.
    Exhausted { balance: i64 },
    /// Nothing left but tokens of expired packs.
    Expired { expired_on: String },
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub(super) const PACK_COLUMNS: &str =
    "id, organization_id, tokens, remaining, expires_on, granted_by, note, created_at";
const CHARGE_COLUMNS: &str =
    "id, organization_id, user_id, email, product, day, window_start, window_end, tokens";

pub(super) fn pack_from_row(r: &sqlx::any::AnyRow) -> Result<TokenPackRecord, StoreError> {
    Ok(TokenPackRecord {
        id: r.try_get("id")?,
        organization_id: r.try_get("organization_id")?,
        tokens: r.try_get("tokens")?,
        remaining: r.try_get("remaining")?,
        expires_on: r.try_get("expires_on")?,
        granted_by: r.try_get("granted_by")?,
        note: r.try_get("note")?,
        created_at: r.try_get("created_at")?,
    })
}

fn charge_from_row(r: &sqlx::any::AnyRow) -> Result<TokenChargeRecord, StoreError> {
    Ok(TokenChargeRecord {
        id: r.try_get("id")?,
        organization_id: r.try_get("organization_id")?,
        user_id: r.try_get("user_id")?,
        email: r.try_get("email")?,
        product: r.try_get("product")?,
        day: r.try_get("day")?,
        window_start: r.try_get("window_start")?,
        window_end: r.try_get("window_end")?,
        tokens: r.try_get("tokens")?,
    })
}

fn day_of(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

impl Store {
    /// Adds a pack; the next low balance is e-mailed again.
    pub async fn add_token_pack(
        &self,
        new: &NewTokenPack<'_>,
        now: Millis,
    ) -> Result<TokenPackRecord, StoreError> {
        let pack = TokenPackRecord {
            id: new_id(),
            organization_id: new.organization_id.to_owned(),
            tokens: new.tokens,
            remaining: new.tokens,
            expires_on: new.expires_on.to_owned(),
            granted_by: new.granted_by.to_owned(),
            note: new.note.to_owned(),
            created_at: now,
        };
        let mut tx = self.portal_write_tx().await?;
        sqlx::query(&format!(
            "INSERT INTO token_packs ({PACK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&pack.id)
        .bind(&pack.organization_id)
        .bind(pack.tokens)
        .bind(pack.remaining)
        .bind(&pack.expires_on)
        .bind(&pack.granted_by)
        .bind(&pack.note)
        .bind(pack.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM token_alerts WHERE organization_id = $1")
            .bind(new.organization_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(pack)
    }

    /// An organization's packs, earliest expiry first.
    pub async fn token_packs(
        &self,
        organization_id: &str,
    ) -> Result<Vec<TokenPackRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PACK_COLUMNS} FROM token_packs WHERE organization_id = $1 \
             ORDER BY expires_on, created_at, id"
        ))
        .bind(organization_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(pack_from_row).collect()
    }

    /// Tokens left in the packs valid on `today`.
    pub async fn token_balance(
        &self,
        organization_id: &str,
        today: &str,
    ) -> Result<i64, StoreError> {
        let sum: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(remaining) AS BIGINT) FROM token_packs \
             WHERE organization_id = $1 AND expires_on >= $2",
        )
        .bind(organization_id)
        .bind(today)
        .fetch_one(&self.db)
        .await?;
        Ok(sum.unwrap_or(0))
    }

    /// Whether an organization has ever had tokens.
    pub async fn has_token_packs(&self, organization_id: &str) -> Result<bool, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM token_packs WHERE organization_id = $1")
                .bind(organization_id)
                .fetch_one(&self.db)
                .await?;
        Ok(n > 0)
    }

    /// Charges a use (or finds it paid, or refuses it), in one transaction.
    pub async fn use_tokens(&self, u: &TokenUse<'_>) -> Result<TokenOutcome, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let packs: Vec<TokenPackRecord> = sqlx::query(&format!(
            "SELECT {PACK_COLUMNS} FROM token_packs WHERE organization_id = $1 \
             ORDER BY expires_on, created_at, id{lock}"
        ))
        .bind(u.organization_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(pack_from_row)
        .collect::<Result<_, _>>()?;
        let valid: Vec<&TokenPackRecord> = packs
            .iter()
            .filter(|p| p.expires_on.as_str() >= u.today && p.remaining > 0)
            .collect();
        let balance: i64 = valid.iter().map(|p| p.remaining).sum();
        let paid = sqlx::query(&format!(
            "SELECT {CHARGE_COLUMNS} FROM token_charges WHERE user_id = $1 AND product = $2 \
             AND window_end > $3 ORDER BY window_start DESC LIMIT 1"
        ))
        .bind(u.user_id)
        .bind(u.product)
        .bind(u.now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = paid {
            let charge = charge_from_row(&row)?;
            tx.commit().await?;
            return Ok(TokenOutcome::AlreadyPaid { charge, balance });
        }
        if balance < u.rate {
            let expired = packs
                .iter()
                .filter(|p| p.expires_on.as_str() < u.today && p.remaining > 0)
                .map(|p| p.expires_on.clone())
                .max();
            tx.commit().await?;
            return Ok(match expired {
                Some(expired_on) if balance == 0 => TokenOutcome::Expired { expired_on },
                _ => TokenOutcome::Exhausted { balance },
            });
        }
        if u.free {
            tx.commit().await?;
            return Ok(TokenOutcome::Free { balance });
        }
        let charge = TokenChargeRecord {
            id: new_id(),
            organization_id: u.organization_id.to_owned(),
            user_id: u.user_id.to_owned(),
            email: u.email.to_owned(),
            product: u.product.to_owned(),
            day: day_of(u.now),
            window_start: u.now,
            window_end: u.now + TOKEN_WINDOW_MS,
            tokens: u.rate,
        };
        sqlx::query(&format!(
            "INSERT INTO token_charges ({CHARGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&charge.id)
        .bind(&charge.organization_id)
        .bind(&charge.user_id)
        .bind(&charge.email)
        .bind(&charge.product)
        .bind(&charge.day)
        .bind(charge.window_start)
        .bind(charge.window_end)
        .bind(charge.tokens)
        .execute(&mut *tx)
        .await?;
        let mut left = u.rate;
        for pack in valid {
            if left == 0 {
                break;
            }
            let take = left.min(pack.remaining);
            let done = sqlx::query(
                "UPDATE token_packs SET remaining = remaining - $1 WHERE id = $2 AND remaining >= $3",
            )
            .bind(take)
            .bind(&pack.id)
            .bind(take)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done != 1 {
                return Err(StoreError::Corrupt(format!(
                    "token pack {} changed under a charge",
                    pack.id
                )));
            }
            sqlx::query("INSERT INTO token_draws (charge_id, pack_id, tokens) VALUES ($1, $2, $3)")
                .bind(&charge.id)
                .bind(&pack.id)
                .bind(take)
                .execute(&mut *tx)
                .await?;
            left -= take;
        }
        let balance = balance - u.rate;
        let mut mail_low_balance = false;
        if balance < u.low_balance {
            mail_low_balance = sqlx::query(
                "INSERT INTO token_alerts (organization_id, mailed_at) VALUES ($1, $2) \
                 ON CONFLICT (organization_id) DO NOTHING",
            )
            .bind(u.organization_id)
            .bind(u.now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        }
        tx.commit().await?;
        Ok(TokenOutcome::Charged {
            charge,
            balance,
            mail_low_balance,
        })
    }

    /// How many tokens each pack gave to each charge: `(charge id, pack id, tokens)`.
    pub async fn token_draws(
        &self,
        organization_id: &str,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.charge_id, d.pack_id, d.tokens FROM token_draws d \
             JOIN token_charges c ON c.id = d.charge_id WHERE c.organization_id = $1 \
             ORDER BY c.window_start, d.pack_id",
        )
        .bind(organization_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("charge_id")?,
                    r.try_get("pack_id")?,
                    r.try_get("tokens")?,
                ))
            })
            .collect()
    }

    /// An organization's charges whose window starts on a day in `[from_day, to_day]`.
    pub async fn token_charges(
        &self,
        organization_id: &str,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<TokenChargeRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CHARGE_COLUMNS} FROM token_charges WHERE organization_id = $1 \
             AND day >= $2 AND day <= $3 ORDER BY day, email, product"
        ))
        .bind(organization_id)
        .bind(from_day)
        .bind(to_day)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(charge_from_row).collect()
    }

    /// The e-mails of an organization's contract managers (its teams' owners); with no
    /// team yet, the person who made the account (the buyer).
    pub async fn contract_manager_emails(
        &self,
        organization_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let owners: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT u.email FROM teams t JOIN users u ON u.id = t.owner_user_id \
             WHERE t.organization_id = $1 ORDER BY u.email",
        )
        .bind(organization_id)
        .fetch_all(&self.db)
        .await?;
        if !owners.is_empty() {
            return Ok(owners);
        }
        Ok(sqlx::query_scalar(
            "SELECT email FROM users WHERE organization_id = $1 AND role = 'customer' \
             ORDER BY created_at, id LIMIT 1",
        )
        .bind(organization_id)
        .fetch_all(&self.db)
        .await?)
    }

    /// Records that a person used products on `day` through a named-user sign-in.
    pub async fn record_seat_use(
        &self,
        organization_id: &str,
        user_id: &str,
        email: &str,
        products: &[String],
        day: &str,
    ) -> Result<(), StoreError> {
        for product in products {
            sqlx::query(
                "INSERT INTO seat_use_days (organization_id, user_id, email, product, day) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, product, day) DO NOTHING",
            )
            .bind(organization_id)
            .bind(user_id)
            .bind(email)
            .bind(product)
            .bind(day)
            .execute(&self.writer)
            .await?;
        }
        Ok(())
    }

    /// Named-user use days of an organization in `[from_day, to_day]`: `(email,
    /// product, day)`.
    pub async fn seat_use_days(
        &self,
        organization_id: &str,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT email, product, day FROM seat_use_days WHERE organization_id = $1 \
             AND day >= $2 AND day <= $3 ORDER BY email, product, day",
        )
        .bind(organization_id)
        .bind(from_day)
        .bind(to_day)
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("email")?,
                    r.try_get("product")?,
                    r.try_get("day")?,
                ))
            })
            .collect()
    }

    /// An organization's teams, by name.
    pub async fn organization_teams(
        &self,
        organization_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name FROM teams WHERE organization_id = $1 ORDER BY name")
                .bind(organization_id)
                .fetch_all(&self.db)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
            .collect()
    }
}
