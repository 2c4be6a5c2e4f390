//! Activations, pools, leases and borrows: every change of who holds a seat.
//!
//! A seat is (pool, user, host): leases and borrows with the same three share one seat,
//! which frees when the last of them ends. Leases that passed their expiry hold nothing,
//! whether or not the sweeper has moved them to the usage record yet.

use sqlx::{Any, Row, Transaction};
use tessera_core::policy::{Holder, Refusal, SeatPolicy};
use tessera_core::pool::{PoolUnavailable, candidate_pools};
use tessera_core::protocol::LeaseKind;
use tessera_core::{LicenseModel, Millis, PoolSpec, from_millis, to_millis};

use crate::behind::Behind;
use crate::{Backend, SeatError, Store, StoreError};

/// An activation key as imported: its id, organization, text and pools.
#[derive(Debug, Clone)]
pub struct ActivationRecord {
    pub id: String,
    pub org: String,
    pub token: String,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub pools: Vec<PoolSpec>,
}

/// A lease or a borrow as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LeaseRecord {
    pub id: String,
    pub realm: String,
    pub pool_id: String,
    pub kind: String,
    pub product: String,
    pub user_name: String,
    pub host: String,
    pub client_id: String,
    pub version: Option<String>,
    pub created_at: Millis,
    pub heartbeat_at: Millis,
    pub expires_at: Millis,
    /// The e-mail address the program sent, if any.
    pub email: Option<String>,
    /// The client's address as the server saw it (none on rows from before it was kept).
    pub address: Option<String>,
    /// The verified e-mail of the person whose sign-in took the seat, if one did.
    pub signed_in: Option<String>,
    /// The site key the seat was taken with, if one was.
    pub site_key_id: Option<String>,
}

impl LeaseRecord {
    pub fn kind(&self) -> LeaseKind {
        LeaseKind::parse(&self.kind).unwrap_or(LeaseKind::Lease)
    }
}

/// What a client asks for when it takes a seat.
#[derive(Debug, Clone)]
pub struct SeatRequest<'a> {
    pub realm: &'a str,
    pub kind: LeaseKind,
    pub product: &'a str,
    pub user: &'a str,
    pub host: &'a str,
    pub client_id: &'a str,
    pub version: Option<&'a str>,
    pub email: Option<&'a str>,
    /// The client's address as the server saw it.
    pub address: Option<&'a str>,
    /// The verified e-mail of the sign-in that asks, if a person's sign-in does.
    pub signed_in: Option<&'a str>,
    /// The site key that asks, if one does.
    pub site_key_id: Option<&'a str>,
    /// For a lease: how long it lives without a heartbeat. For a borrow: its length.
    pub duration_ms: Millis,
}

/// A pool with how many of its seats are held right now.
#[derive(Debug, Clone)]
pub struct PoolUsage {
    pub pool: PoolSpec,
    pub org: String,
    pub activation_id: String,
    /// Seats held online only.
    pub in_use: u32,
    /// Seats held by a borrow.
    pub borrowed: u32,
}

impl PoolUsage {
    pub fn available(&self) -> u32 {
        self.pool.seats.saturating_sub(self.in_use + self.borrowed)
    }
}

/// Why a lease or a borrow ended, as the usage record keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    CheckedIn,
    Expired,
    Removed,
    Returned,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::CheckedIn => "checked_in",
            EndReason::Expired => "expired",
            EndReason::Removed => "removed",
            EndReason::Returned => "returned",
        }
    }
}

/// One ended (or, in reports, still running) use of a seat.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRecord {
    pub lease_id: String,
    pub pool_id: String,
    pub kind: String,
    pub product: String,
    pub user_name: String,
    pub host: String,
    pub start_at: Millis,
    pub end_at: Millis,
    pub end_reason: String,
}

/// One refused checkout.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DenialRecord {
    pub at: Millis,
    pub product: String,
    pub user_name: String,
    pub host: String,
    pub code: String,
    pub detail: String,
}

type Tx<'a> = Transaction<'a, Any>;

fn pool_from_row(row: &sqlx::any::AnyRow) -> Result<(PoolSpec, String, String), StoreError> {
    let products: String = row.try_get("products")?;
    let products: Vec<String> = serde_json::from_str(&products)
        .map_err(|e| StoreError::Corrupt(format!("pool products: {e}")))?;
    let model: String = row.try_get("model")?;
    let seats: i64 = row.try_get("seats")?;
    let borrow: i64 = row.try_get("borrow_max_hours")?;
    let spec = PoolSpec {
        id: row.try_get("id")?,
        products,
        model: LicenseModel::parse(&model).unwrap_or_default(),
        seats: u32::try_from(seats).unwrap_or(0),
        start: from_millis(row.try_get("start_at")?),
        end: from_millis(row.try_get("end_at")?),
        borrow_max_hours: u32::try_from(borrow).unwrap_or(0),
    };
    Ok((spec, row.try_get("org")?, row.try_get("activation_id")?))
}

/// A pool that may cover the product, with what a checkout asks of it.
struct Candidate {
    spec: PoolSpec,
    /// The requesting user holds a seat of it on this host now.
    held: bool,
    /// Its lease rows (`pool_lease_rows`, kept by triggers, never fewer than the seats
    /// held).
    rows: i64,
}

/// The realm's pools that may cover `product`: those whose product list holds its JSON
/// text (a substring test that can only match more, never less; the caller checks
/// exactly). On SQLite `instr`, not `LIKE`: a statement with `LIKE` and a bound pattern
/// is compiled anew at every execution (SQLite plans `LIKE` for its pattern).
/// With a hundred pools on a server, reading them all was most of a checkout's reads.
/// Whether the user holds a seat of each and how many lease rows it has come in the same
/// statement: on SQLite each statement is a hand-off to the database's thread.
async fn pools_for(
    tx: &mut Tx<'_>,
    backend: Backend,
    req: &SeatRequest<'_>,
    now: Millis,
) -> Result<Vec<Candidate>, StoreError> {
    let product = serde_json::to_string(req.product)
        .map_err(|e| StoreError::Corrupt(format!("product name: {e}")))?;
    let (holds, pattern) = match backend {
        Backend::Sqlite => ("instr(p.products, $2) > 0", product),
        Backend::Postgres => ("p.products LIKE $2", format!("%{product}%")),
    };
    // `+ 0` keeps SQLite on the (pool, user, host) index: on the expiry index it would
    // walk every live lease of the pool.
    let sql = format!(
        "SELECT p.*, \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM leases l WHERE l.realm = p.realm AND l.pool_id = p.id \
         AND l.user_name = $3 AND l.host = $4 AND l.expires_at + 0 > $5) THEN 1 ELSE 0 END AS BIGINT) AS held, \
         COALESCE((SELECT r.n FROM pool_lease_rows r WHERE r.realm = p.realm AND r.pool_id = p.id), 0) AS lease_rows \
         FROM pools p WHERE p.realm = $1 AND {holds} ORDER BY p.id"
    );
    let rows = sqlx::query(&sql)
        .bind(req.realm)
        .bind(pattern)
        .bind(req.user)
        .bind(req.host)
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Candidate {
                spec: pool_from_row(r)?.0,
                held: r.try_get::<i64, _>("held")? != 0,
                rows: r.try_get("lease_rows")?,
            })
        })
        .collect()
}

async fn holders(
    tx: &mut Tx<'_>,
    realm: &str,
    pool_id: &str,
    now: Millis,
) -> Result<Vec<Holder>, StoreError> {
    let rows = sqlx::query(
        "SELECT user_name, host, CAST(MAX(CASE WHEN kind = 'borrow' THEN 1 ELSE 0 END) AS BIGINT) AS borrowed FROM leases \
         WHERE realm = $1 AND pool_id = $2 AND expires_at > $3 GROUP BY user_name, host",
    )
    .bind(realm)
    .bind(pool_id)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Holder {
                user: r.try_get("user_name")?,
                host: r.try_get("host")?,
                borrowed: r.try_get::<i64, _>("borrowed")? != 0,
            })
        })
        .collect()
}

const INSERT_LEASE: &str = "INSERT INTO leases (id, realm, pool_id, kind, product, user_name, host, \
     client_id, version, created_at, heartbeat_at, expires_at, email, address, signed_in, site_key_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";

/// Whether every seat of the pool is held now. Its lease rows answer at once while below
/// its seats; only a pool that may be full has its distinct (user, host) counted.
async fn pool_is_full(
    tx: &mut Tx<'_>,
    realm: &str,
    pool: &Candidate,
    now: Millis,
) -> Result<bool, StoreError> {
    if pool.rows < i64::from(pool.spec.seats) {
        return Ok(false);
    }
    Ok(seats_taken(tx, realm, &pool.spec.id, now).await? >= pool.spec.seats)
}

/// How many distinct (user, host) hold a seat of the pool now.
async fn seats_taken(
    tx: &mut Tx<'_>,
    realm: &str,
    pool_id: &str,
    now: Millis,
) -> Result<u32, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 AS one FROM leases \
         WHERE realm = $1 AND pool_id = $2 AND expires_at > $3 GROUP BY user_name, host) AS seats",
    )
    .bind(realm)
    .bind(pool_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

async fn record_end(
    tx: &mut Tx<'_>,
    lease: &LeaseRecord,
    end_at: Millis,
    reason: EndReason,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO usage_sessions (realm, lease_id, pool_id, kind, product, user_name, host, start_at, end_at, end_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&lease.realm)
    .bind(&lease.id)
    .bind(&lease.pool_id)
    .bind(&lease.kind)
    .bind(&lease.product)
    .bind(&lease.user_name)
    .bind(&lease.host)
    .bind(lease.created_at)
    .bind(end_at.max(lease.created_at))
    .bind(reason.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Ends a lease inside `tx`. `behind` (the store's `behind` field) forgets it in the
/// same step, so that no heartbeat is answered from memory for it after.
pub(crate) async fn end_lease(
    tx: &mut Tx<'_>,
    behind: Option<&Behind>,
    lease: &LeaseRecord,
    end_at: Millis,
    reason: EndReason,
) -> Result<(), StoreError> {
    if let Some(behind) = behind {
        behind.forget(&lease.realm, &lease.id);
    }
    sqlx::query("DELETE FROM leases WHERE id = $1")
        .bind(&lease.id)
        .execute(&mut **tx)
        .await?;
    record_end(tx, lease, end_at, reason).await
}

/// Ends a lease inside the caller's write transaction (see [`Store::end`]).
async fn end_in(
    tx: &mut Tx<'static>,
    behind: Option<&Behind>,
    realm: &str,
    id: &str,
    kind: Option<LeaseKind>,
    now: Millis,
    reason: EndReason,
) -> Result<Option<LeaseRecord>, StoreError> {
    // Found and deleted in one statement (on SQLite each is a hand-off to its thread).
    let lease: Option<LeaseRecord> = sqlx::query_as(
        "DELETE FROM leases WHERE realm = $1 AND id = $2 AND kind = COALESCE($3, kind) RETURNING *",
    )
    .bind(realm)
    .bind(id)
    .bind(kind.map(LeaseKind::as_str))
    .fetch_optional(&mut **tx)
    .await?;
    let Some(lease) = lease else {
        return Ok(None);
    };
    if let Some(behind) = behind {
        behind.forget(&lease.realm, &lease.id);
    }
    if lease.expires_at <= now {
        record_end(tx, &lease, lease.expires_at, EndReason::Expired).await?;
        return Ok(None);
    }
    record_end(tx, &lease, now, reason).await?;
    Ok(Some(lease))
}

/// A write transaction of its own, or a job in the shared one of the group commit.
enum Writing {
    Own(Tx<'static>),
    Job(crate::group::Job),
}

impl Writing {
    fn tx(&mut self) -> &mut Tx<'static> {
        match self {
            Writing::Own(tx) => tx,
            Writing::Job(job) => job.tx(),
        }
    }

    /// Keeps the writes on `Ok` (answering once they are on disk) and undoes them on
    /// `Err` (in the group commit, only this job's).
    async fn finish<T, E: From<StoreError>>(self, result: Result<T, E>) -> Result<T, E> {
        match (self, result) {
            (Writing::Own(tx), Ok(done)) => {
                tx.commit().await.map_err(StoreError::from)?;
                Ok(done)
            }
            (Writing::Own(tx), Err(e)) => {
                let _ = tx.rollback().await;
                Err(e)
            }
            (Writing::Job(job), Ok(done)) => {
                job.keep().await?;
                Ok(done)
            }
            (Writing::Job(job), Err(e)) => {
                job.undo().await?;
                Err(e)
            }
        }
    }
}

impl Store {
    pub(crate) async fn write_tx(&self) -> Result<Tx<'static>, StoreError> {
        Ok(match self.backend {
            // IMMEDIATE takes the write lock up front, so two checkouts never both read
            // the same count and then both insert.
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// A write transaction for a checkout or a checkin: on SQLite a job of the group
    /// commit (`group.rs`), sharing its commit with the others queued meanwhile.
    async fn begin_write(&self) -> Result<Writing, StoreError> {
        Ok(match &self.group {
            Some(group) => Writing::Job(group.job().await?),
            None => Writing::Own(self.write_tx().await?),
        })
    }

    /// On PostgreSQL, locks the realm's pools for the rest of the transaction, so that
    /// checkouts on any number of nodes count and take seats one after the other. On
    /// SQLite the transaction already holds the database's write lock.
    async fn lock_realm(&self, tx: &mut Tx<'_>, realm: &str) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM pools WHERE realm = $1 ORDER BY id FOR UPDATE")
                .bind(realm)
                .fetch_all(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Imports a verified activation: keeps its text and adds or replaces its pools.
    /// Importing the same activation again changes nothing.
    pub async fn import_activation(
        &self,
        realm: &str,
        act: &ActivationRecord,
        now: Millis,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO activations (realm, id, org, token, issued_at, expires_at, imported_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (realm, id) DO UPDATE SET token = excluded.token, org = excluded.org, \
             issued_at = excluded.issued_at, expires_at = excluded.expires_at",
        )
        .bind(realm)
        .bind(&act.id)
        .bind(&act.org)
        .bind(&act.token)
        .bind(act.issued_at)
        .bind(act.expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for pool in &act.pools {
            let products = serde_json::to_string(&pool.products)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO pools (realm, id, activation_id, org, products, model, seats, start_at, end_at, borrow_max_hours) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (realm, id) DO UPDATE SET activation_id = excluded.activation_id, org = excluded.org, \
                 products = excluded.products, model = excluded.model, seats = excluded.seats, \
                 start_at = excluded.start_at, end_at = excluded.end_at, borrow_max_hours = excluded.borrow_max_hours",
            )
            .bind(realm)
            .bind(&pool.id)
            .bind(&act.id)
            .bind(&act.org)
            .bind(products)
            .bind(pool.model.as_str())
            .bind(i64::from(pool.seats))
            .bind(to_millis(pool.start))
            .bind(to_millis(pool.end))
            .bind(i64::from(pool.borrow_max_hours))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes an activation and its pools out of service. Live leases of its pools end.
    pub async fn remove_activation(&self, realm: &str, id: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let leases: Vec<LeaseRecord> = sqlx::query_as(
            "SELECT l.* FROM leases l JOIN pools p ON p.realm = l.realm AND p.id = l.pool_id \
             WHERE l.realm = $1 AND p.activation_id = $2",
        )
        .bind(realm)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let now = to_millis(chrono::Utc::now());
        for lease in &leases {
            end_lease(
                &mut tx,
                self.behind.as_deref(),
                lease,
                now.min(lease.expires_at),
                EndReason::Removed,
            )
            .await?;
        }
        sqlx::query("DELETE FROM pools WHERE realm = $1 AND activation_id = $2")
            .bind(realm)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM activations WHERE realm = $1 AND id = $2")
            .bind(realm)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// What a seat token of `pool_id` carries: the pool's products, and the text of the
    /// activation key that granted it (for the footer). `None` when there is no such pool.
    pub async fn pool_signing(
        &self,
        realm: &str,
        pool_id: &str,
    ) -> Result<Option<(Vec<String>, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT p.products, a.token FROM pools p \
             LEFT JOIN activations a ON a.realm = p.realm AND a.id = p.activation_id \
             WHERE p.realm = $1 AND p.id = $2",
        )
        .bind(realm)
        .bind(pool_id)
        .fetch_optional(&self.db)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let products: String = row.try_get("products")?;
        let products = serde_json::from_str(&products)
            .map_err(|e| StoreError::Corrupt(format!("pool products: {e}")))?;
        Ok(Some((products, row.try_get("token")?)))
    }

    /// Every activation's key text, oldest import first.
    pub async fn activations(&self, realm: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, token FROM activations WHERE realm = $1 ORDER BY imported_at, id",
        )
        .bind(realm)
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("token")?)))
            .collect()
    }

    /// Every pool with its current use.
    pub async fn pool_usage(&self, realm: &str, now: Millis) -> Result<Vec<PoolUsage>, StoreError> {
        let rows = sqlx::query("SELECT * FROM pools WHERE realm = $1 ORDER BY id")
            .bind(realm)
            .fetch_all(&self.db)
            .await?;
        let counts = sqlx::query(
            "SELECT pool_id, \
               CAST(COUNT(*) AS BIGINT) AS held, \
               CAST(SUM(borrowed) AS BIGINT) AS borrowed \
             FROM (SELECT pool_id, user_name, host, CAST(MAX(CASE WHEN kind = 'borrow' THEN 1 ELSE 0 END) AS BIGINT) AS borrowed \
                   FROM leases WHERE realm = $1 AND expires_at > $2 GROUP BY pool_id, user_name, host) AS seats \
             GROUP BY pool_id",
        )
        .bind(realm)
        .bind(now)
        .fetch_all(&self.db)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let (pool, org, activation_id) = pool_from_row(row)?;
            let (mut held, mut borrowed) = (0i64, 0i64);
            for c in &counts {
                if c.try_get::<String, _>("pool_id")? == pool.id {
                    held = c.try_get("held")?;
                    borrowed = c.try_get("borrowed")?;
                }
            }
            out.push(PoolUsage {
                pool,
                org,
                activation_id,
                in_use: (held - borrowed) as u32,
                borrowed: borrowed as u32,
            });
        }
        Ok(out)
    }

    /// Takes a seat for a lease or a borrow, or returns the live one this client already
    /// holds for the product (a retry never takes a second seat). `policy` is asked, inside
    /// the same transaction, before any new or shared seat is granted. The flag says
    /// whether the lease is new.
    pub async fn take_seat(
        &self,
        req: &SeatRequest<'_>,
        policy: &dyn SeatPolicy,
        now: Millis,
    ) -> Result<(LeaseRecord, bool), SeatError> {
        let mut write = self.begin_write().await?;
        let taken = self.take_seat_in(write.tx(), req, policy, now).await;
        let made = taken
            .as_ref()
            .ok()
            .map(|(l, _)| (l.realm.clone(), l.id.clone()));
        let result = write.finish(taken).await;
        if let (Err(_), Some((realm, id)), Some(behind)) = (&result, made, self.behind.as_deref()) {
            // Not committed after all: the lease is not on disk.
            behind.forget(&realm, &id);
        }
        result
    }

    /// The checkout inside the caller's write transaction (committed only on `Ok`).
    async fn take_seat_in(
        &self,
        tx: &mut Tx<'static>,
        req: &SeatRequest<'_>,
        policy: &dyn SeatPolicy,
        now: Millis,
    ) -> Result<(LeaseRecord, bool), SeatError> {
        self.lock_realm(tx, req.realm).await?;
        let kind = req.kind.as_str();

        let existing: Option<LeaseRecord> = sqlx::query_as(
            "SELECT * FROM leases WHERE realm = $1 AND kind = $2 AND client_id = $3 AND product = $4 \
             AND user_name = $5 AND host = $6",
        )
        .bind(req.realm)
        .bind(kind)
        .bind(req.client_id)
        .bind(req.product)
        .bind(req.user)
        .bind(req.host)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(old) = existing {
            if old.expires_at > now {
                let lease = if req.kind == LeaseKind::Lease {
                    let expires_at = now + req.duration_ms;
                    sqlx::query(
                        "UPDATE leases SET heartbeat_at = $1, expires_at = $2 WHERE id = $3",
                    )
                    .bind(now)
                    .bind(expires_at)
                    .bind(&old.id)
                    .execute(&mut **tx)
                    .await?;
                    if let Some(behind) = self.behind.as_deref() {
                        // Known again at its next heartbeat.
                        behind.forget(&old.realm, &old.id);
                    }
                    LeaseRecord {
                        heartbeat_at: now,
                        expires_at,
                        ..old
                    }
                } else {
                    old
                };
                return Ok((lease, false));
            }
            // Lapsed: it ends here and the checkout goes on as a new one. (Another user's or
            // host's lease with the same client id is never found, so never ended: a
            // guessed client id cannot take someone's seat away.)
            end_lease(
                tx,
                self.behind.as_deref(),
                &old,
                old.expires_at,
                EndReason::Expired,
            )
            .await?;
        }

        let found = pools_for(tx, self.backend, req, now).await?;
        let pools: Vec<PoolSpec> = found.iter().map(|c| c.spec.clone()).collect();
        let of = |pool: &PoolSpec| found.iter().find(|c| c.spec.id == pool.id);
        let candidates =
            candidate_pools(&pools, req.product, from_millis(now)).map_err(|e| match e {
                PoolUnavailable::Unknown => SeatError::UnknownProduct(req.product.to_owned()),
                PoolUnavailable::Expired => SeatError::Expired(req.product.to_owned()),
                PoolUnavailable::NotStarted => SeatError::NotStarted(req.product.to_owned()),
            })?;
        let mut candidates: Vec<&PoolSpec> = candidates
            .into_iter()
            .filter(|p| p.model == LicenseModel::Floating)
            .collect();
        if candidates.is_empty() {
            return Err(SeatError::UnknownProduct(req.product.to_owned()));
        }
        let mut duration = req.duration_ms;
        if req.kind == LeaseKind::Borrow {
            let borrowable: Vec<&PoolSpec> = candidates
                .iter()
                .copied()
                .filter(|p| p.borrow_max_hours > 0)
                .collect();
            if borrowable.is_empty() {
                return Err(SeatError::BorrowNotAllowed(req.product.to_owned()));
            }
            let max_hours = borrowable
                .iter()
                .map(|p| p.borrow_max_hours)
                .max()
                .unwrap_or(0);
            let long_enough: Vec<&PoolSpec> = borrowable
                .into_iter()
                .filter(|p| i64::from(p.borrow_max_hours) * 3_600_000 >= req.duration_ms)
                .collect();
            if long_enough.is_empty() {
                return Err(SeatError::BorrowTooLong {
                    product: req.product.to_owned(),
                    max_hours,
                });
            }
            candidates = long_enough;
        }

        // A seat this user already holds on this host is shared, in whichever pool it is;
        // otherwise the first pool with a free seat that the policy admits.
        let borrow = req.kind == LeaseKind::Borrow;
        let mut chosen: Option<&PoolSpec> = None;
        let mut refusal: Option<Refusal> = None;
        let remember = |r: Refusal, refusal: &mut Option<Refusal>| {
            if !matches!(refusal, Some(Refusal::Denied { .. })) {
                *refusal = Some(r);
            }
        };
        for pool in &candidates {
            if of(pool).is_some_and(|c| c.held) {
                let held = if policy.needs_holders(pool) {
                    holders(tx, req.realm, &pool.id, now).await?
                } else {
                    Vec::new()
                };
                match policy.admit(pool, req.user, req.host, borrow, true, &held) {
                    Ok(()) => {
                        chosen = Some(pool);
                        break;
                    }
                    Err(r) => remember(r, &mut refusal),
                }
            }
        }
        if chosen.is_none() {
            for pool in &candidates {
                let held = if policy.needs_holders(pool) {
                    let held = holders(tx, req.realm, &pool.id, now).await?;
                    if held.len() as u32 >= pool.seats {
                        continue;
                    }
                    held
                } else {
                    let Some(found) = of(pool) else { continue };
                    if pool_is_full(tx, req.realm, found, now).await? {
                        continue;
                    }
                    Vec::new()
                };
                match policy.admit(pool, req.user, req.host, borrow, false, &held) {
                    Ok(()) => {
                        chosen = Some(pool);
                        break;
                    }
                    Err(r) => remember(r, &mut refusal),
                }
            }
        }
        let Some(pool) = chosen else {
            return Err(match refusal {
                Some(Refusal::Denied { rule, message }) => SeatError::Denied { rule, message },
                Some(Refusal::Reserved { message }) => SeatError::Reserved(message),
                None => SeatError::NoSeat {
                    product: req.product.to_owned(),
                    seats: candidates.iter().map(|p| p.seats).sum(),
                },
            });
        };
        if req.kind == LeaseKind::Borrow {
            // A borrow never outlives the pool it came from.
            duration = duration.min(to_millis(pool.end) - now);
        }
        let lease = LeaseRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            realm: req.realm.to_owned(),
            pool_id: pool.id.clone(),
            kind: kind.to_owned(),
            product: req.product.to_owned(),
            user_name: req.user.to_owned(),
            host: req.host.to_owned(),
            client_id: req.client_id.to_owned(),
            version: req.version.map(str::to_owned),
            created_at: now,
            heartbeat_at: now,
            expires_at: now + duration,
            email: req.email.map(str::to_owned),
            address: req.address.map(str::to_owned),
            signed_in: req.signed_in.map(str::to_owned),
            site_key_id: req.site_key_id.map(str::to_owned),
        };
        // On SQLite the row's rowid too, for `behind.rs` (PostgreSQL has none).
        let returning = if self.behind.is_some() {
            " RETURNING rowid"
        } else {
            ""
        };
        let insert = format!("{INSERT_LEASE}{returning}");
        let rowid: Option<i64> = sqlx::query_scalar(&insert)
            .bind(&lease.id)
            .bind(&lease.realm)
            .bind(&lease.pool_id)
            .bind(&lease.kind)
            .bind(&lease.product)
            .bind(&lease.user_name)
            .bind(&lease.host)
            .bind(&lease.client_id)
            .bind(&lease.version)
            .bind(lease.created_at)
            .bind(lease.heartbeat_at)
            .bind(lease.expires_at)
            .bind(&lease.email)
            .bind(&lease.address)
            .bind(&lease.signed_in)
            .bind(&lease.site_key_id)
            .fetch_optional(&mut **tx)
            .await?;
        if let (Some(behind), Some(rowid)) = (self.behind.as_deref(), rowid)
            && req.kind == LeaseKind::Lease
        {
            behind.known(&lease.realm, &lease.id, rowid, lease.expires_at);
        }
        Ok((lease, true))
    }

    /// Extends a live lease by `ttl_ms` from `now` in memory, to be written behind, when
    /// its expiry on disk is at least `min_left_ms` ahead (see `behind.rs`); answers the
    /// lease's expiry, or `None` when it must go the durable way ([`Store::heartbeat`]):
    /// on PostgreSQL, for a lease this process has not seen yet, or one near its expiry.
    pub fn heartbeat_in_memory(
        &self,
        realm: &str,
        lease_id: &str,
        now: Millis,
        ttl_ms: Millis,
        min_left_ms: Millis,
    ) -> Option<Millis> {
        self.behind
            .as_deref()?
            .beat(realm, lease_id, now, ttl_ms, min_left_ms)
    }

    /// How many live leases this process knows the expiry of, and how many heartbeats
    /// answered from memory wait to be written (zeros on PostgreSQL).
    pub fn heartbeats_in_memory(&self) -> (usize, usize) {
        self.behind.as_deref().map_or((0, 0), |b| b.counts())
    }

    /// The lease as answered: with a heartbeat kept in memory applied.
    fn as_answered(&self, mut lease: LeaseRecord) -> LeaseRecord {
        if let Some((expires_at, heartbeat_at)) = self
            .behind
            .as_deref()
            .and_then(|b| b.pending(&lease.realm, &lease.id))
        {
            lease.expires_at = expires_at;
            lease.heartbeat_at = heartbeat_at;
        }
        lease
    }

    /// Extends a live lease by `ttl_ms` from `now`; `None` when it is gone or lapsed.
    /// Answered once committed. On PostgreSQL, when the lease's expiry before was at
    /// least `min_left_ms` ahead, the commit does not wait for the disk (`batch.rs`).
    pub async fn heartbeat(
        &self,
        realm: &str,
        lease_id: &str,
        now: Millis,
        ttl_ms: Millis,
        min_left_ms: Millis,
    ) -> Result<Option<LeaseRecord>, StoreError> {
        self.heartbeats
            .beat(realm, lease_id, now, ttl_ms, min_left_ms)
            .await
    }

    /// Heartbeat batches committed on PostgreSQL so far: (waited for the disk, did not).
    pub fn heartbeat_commits(&self) -> (u64, u64) {
        self.heartbeats.commits()
    }

    /// One live lease or borrow.
    pub async fn lease(
        &self,
        realm: &str,
        id: &str,
        now: Millis,
    ) -> Result<Option<LeaseRecord>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM leases WHERE realm = $1 AND id = $2 AND expires_at > $3")
                .bind(realm)
                .bind(id)
                .bind(now)
                .fetch_optional(&self.db)
                .await?
                .map(|l| self.as_answered(l)),
        )
    }

    /// Ends a live lease or borrow of the given kind (any kind when `None`); returns it,
    /// or `None` when there was none.
    pub async fn end(
        &self,
        realm: &str,
        id: &str,
        kind: Option<LeaseKind>,
        now: Millis,
        reason: EndReason,
    ) -> Result<Option<LeaseRecord>, StoreError> {
        let mut write = self.begin_write().await?;
        let ended = end_in(
            write.tx(),
            self.behind.as_deref(),
            realm,
            id,
            kind,
            now,
            reason,
        )
        .await;
        write.finish(ended).await
    }

    /// Every live lease and borrow, oldest first.
    pub async fn live_leases(
        &self,
        realm: &str,
        now: Millis,
    ) -> Result<Vec<LeaseRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM leases WHERE realm = $1 AND expires_at > $2 ORDER BY created_at, id",
        )
        .bind(realm)
        .bind(now)
        .fetch_all(&self.db)
        .await?
        .into_iter()
        .map(|l| self.as_answered(l))
        .collect())
    }

    /// Moves every lapsed lease and ended borrow to the usage record; returns how many.
    pub async fn sweep_expired(&self, now: Millis) -> Result<usize, StoreError> {
        let mut tx = self.write_tx().await?;
        let lapsed: Vec<LeaseRecord> =
            sqlx::query_as("SELECT * FROM leases WHERE expires_at <= $1 LIMIT 5000")
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
        for lease in &lapsed {
            end_lease(
                &mut tx,
                self.behind.as_deref(),
                lease,
                lease.expires_at,
                EndReason::Expired,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(lapsed.len())
    }

    /// Keeps a refused checkout for the reports.
    pub async fn record_denial(&self, realm: &str, d: &DenialRecord) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO denials (realm, at, product, user_name, host, code, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(realm)
            .bind(d.at)
            .bind(&d.product)
            .bind(&d.user_name)
            .bind(&d.host)
            .bind(&d.code)
            .bind(&d.detail)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Ended sessions that overlap `[from, to)`, oldest first.
    pub async fn sessions(
        &self,
        realm: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT lease_id, pool_id, kind, product, user_name, host, start_at, end_at, end_reason \
             FROM usage_sessions WHERE realm = $1 AND start_at < $2 AND end_at >= $3 ORDER BY start_at, id",
        )
        .bind(realm)
        .bind(to)
        .bind(from)
        .fetch_all(&self.db)
        .await?)
    }

    /// Records a finished session as it happened (imports of usage from elsewhere).
    pub async fn record_session(&self, realm: &str, s: &SessionRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO usage_sessions (realm, lease_id, pool_id, kind, product, user_name, host, start_at, end_at, end_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(realm)
        .bind(&s.lease_id)
        .bind(&s.pool_id)
        .bind(&s.kind)
        .bind(&s.product)
        .bind(&s.user_name)
        .bind(&s.host)
        .bind(s.start_at)
        .bind(s.end_at)
        .bind(&s.end_reason)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Forgets usage records that ended before `before` (retention), and audit entries
    /// older than that (they are kept exactly as long); returns how many.
    pub async fn prune_usage(&self, before: Millis) -> Result<u64, StoreError> {
        let sessions = sqlx::query("DELETE FROM usage_sessions WHERE end_at < $1")
            .bind(before)
            .execute(&self.writer)
            .await?
            .rows_affected();
        let denials = sqlx::query("DELETE FROM denials WHERE at < $1")
            .bind(before)
            .execute(&self.writer)
            .await?
            .rows_affected();
        let audit = self.prune_audit(before).await?;
        Ok(sessions + denials + audit)
    }

    /// Denials in `[from, to)`, oldest first.
    pub async fn denials(
        &self,
        realm: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<DenialRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT at, product, user_name, host, code, detail FROM denials \
             WHERE realm = $1 AND at >= $2 AND at < $3 ORDER BY at, id",
        )
        .bind(realm)
        .bind(from)
        .bind(to)
        .fetch_all(&self.db)
        .await?)
    }
}
