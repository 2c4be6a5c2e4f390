//! Group commit for heartbeats, on SQLite and on PostgreSQL. Every acknowledged heartbeat
//! must be on disk (a lease survives a crash once acknowledged), and both make one fsync
//! per transaction; one transaction per heartbeat caps them at the disk's fsync rate. Here
//! the heartbeats that arrive while a batch is being written wait in a channel and go
//! into the next batch together: one transaction, one fsync, then each is answered. Under
//! light load a batch is one heartbeat and costs what it did; under heavy load a batch
//! holds everything that queued during the previous commit. (On SQLite most heartbeats do
//! not come here at all: see `behind.rs`. Those that do tell it the expiry now on disk.
//! On PostgreSQL a batch is one statement, and its commit waits for the disk only when a
//! lease was near its expiry: see [`write_batch_postgres`].)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{AnyPool, Connection, FromRow, Row};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::StoreError;
use crate::behind::Behind;
use crate::seats::LeaseRecord;

type Millis = i64;

/// The most heartbeats written in one transaction.
const MAX_BATCH: usize = 512;

/// On SQLite with the row's rowid, for `behind.rs`.
const HEARTBEAT_SQLITE: &str = "UPDATE leases SET heartbeat_at = $1, expires_at = $2 \
     WHERE realm = $3 AND id = $4 AND kind = 'lease' AND expires_at > $5 \
     RETURNING rowid AS row_id, *";
const HEARTBEAT_POSTGRES: &str = "UPDATE leases SET heartbeat_at = $1, expires_at = $2 \
     WHERE realm = $3 AND id = $4 AND kind = 'lease' AND expires_at > $5 RETURNING *";
/// A whole batch in one statement on PostgreSQL: one round trip instead of one per
/// heartbeat, which was what capped a node at about 5,000 heartbeats a second. (The Any
/// driver binds no arrays, so the batch goes as one JSON text.)
/// `before` (the row as the statement found it) gives each lease's expiry before the
/// heartbeat. The ids go to the index as an array: joined with the function's rows, the
/// planner (which guesses a hundred of them) scanned the whole table instead.
const BATCH_POSTGRES: &str = "WITH b AS MATERIALIZED (SELECT * FROM json_to_recordset($1::json) \
     AS x(realm text, id text, now bigint, expires_at bigint)) \
     UPDATE leases AS l SET heartbeat_at = b.now, expires_at = b.expires_at \
     FROM b JOIN leases AS before ON before.id = b.id AND before.realm = b.realm \
     WHERE l.id = ANY (ARRAY(SELECT id FROM b)) AND l.id = b.id AND l.realm = b.realm \
     AND l.kind = 'lease' AND l.expires_at > b.now \
     RETURNING l.*, before.expires_at AS expired_at_before";

struct Beat {
    realm: String,
    lease_id: String,
    now: Millis,
    ttl_ms: Millis,
    min_left: Millis,
    reply: oneshot::Sender<Result<Option<LeaseRecord>, StoreError>>,
}

/// The sending side; the writing task ends when the last clone is dropped.
#[derive(Clone, Debug)]
pub(crate) struct Heartbeats {
    queue: mpsc::Sender<Beat>,
    commits: Arc<Commits>,
    target: Target,
}

/// What a batch is written with besides the store's writer, by backend.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// SQLite, whose heartbeats kept in memory are told the expiries written.
    Sqlite(Arc<Behind>),
    /// PostgreSQL, with the connections the batches are written on ([`deferred_pool`]).
    Postgres(AnyPool),
}

impl Target {
    fn behind(&self) -> Option<&Behind> {
        match self {
            Target::Sqlite(behind) => Some(behind),
            Target::Postgres(_) => None,
        }
    }
}

/// On PostgreSQL, connections whose commits do not wait for the disk
/// (`synchronous_commit = off` for the session), one per batch written at once.
pub(crate) async fn deferred_pool(url: &str) -> Result<AnyPool, StoreError> {
    sqlx::any::AnyPoolOptions::new()
        .max_connections(POSTGRES_BATCHES as u32)
        .acquire_timeout(std::time::Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::Executor::execute(&mut *conn, "SET synchronous_commit = off").await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(StoreError::Database)
}

/// Batches committed on PostgreSQL, by whether their commit waited for the disk.
#[derive(Debug, Default)]
struct Commits {
    flushed: AtomicU64,
    deferred: AtomicU64,
}

impl Heartbeats {
    /// Starts the task that writes batches through `writer` and `target` (must be called
    /// inside a Tokio runtime).
    pub(crate) fn start(writer: AnyPool, target: Target) -> Self {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        let commits = Arc::new(Commits::default());
        tokio::spawn(write_batches(writer, target.clone(), rx, commits.clone()));
        Heartbeats {
            queue,
            commits,
            target,
        }
    }

    pub(crate) async fn close(&self) {
        if let Target::Postgres(deferred) = &self.target {
            deferred.close().await;
        }
    }

    /// Batches committed on PostgreSQL so far: (waited for the disk, did not).
    pub(crate) fn commits(&self) -> (u64, u64) {
        (
            self.commits.flushed.load(Ordering::Relaxed),
            self.commits.deferred.load(Ordering::Relaxed),
        )
    }

    /// Extends a live lease; answers once the batch holding it is committed.
    pub(crate) async fn beat(
        &self,
        realm: &str,
        lease_id: &str,
        now: Millis,
        ttl_ms: Millis,
        min_left: Millis,
    ) -> Result<Option<LeaseRecord>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let beat = Beat {
            realm: realm.to_owned(),
            lease_id: lease_id.to_owned(),
            now,
            ttl_ms,
            min_left,
            reply,
        };
        let closed = || StoreError::Unsupported("the database is closed");
        self.queue.send(beat).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

/// Batches written at once on PostgreSQL, each on a connection of its own: a batch
/// spends most of its time waiting on round trips, so one at a time left the database
/// and the node idle. (SQLite has one write connection: one at a time there.)
const POSTGRES_BATCHES: usize = 4;

async fn write_batches(
    writer: AnyPool,
    target: Target,
    mut rx: mpsc::Receiver<Beat>,
    commits: Arc<Commits>,
) {
    let at_once = match target {
        Target::Sqlite(_) => 1,
        Target::Postgres(_) => POSTGRES_BATCHES,
    };
    let turns = Arc::new(Semaphore::new(at_once));
    loop {
        let Ok(turn) = turns.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(MAX_BATCH);
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        // In one order, so that two batches on PostgreSQL lock their rows alike.
        batch.sort_by(|a, b| (&a.realm, &a.lease_id).cmp(&(&b.realm, &b.lease_id)));
        let (writer, target, commits) = (writer.clone(), target.clone(), commits.clone());
        tokio::spawn(async move {
            let written = match &target {
                Target::Sqlite(behind) => write_batch(&writer, behind, &batch).await,
                Target::Postgres(deferred) => {
                    write_batch_postgres(&writer, deferred, &batch, &commits).await
                }
            };
            match written {
                Ok(leases) => {
                    for (beat, lease) in batch.drain(..).zip(leases) {
                        let _ = beat.reply.send(Ok(lease));
                    }
                }
                // The whole batch rolled back: each goes again on its own, so each gets
                // its own answer (and one bad row cannot fail the others).
                Err(_) => {
                    for beat in batch.drain(..) {
                        let one = one(&writer, target.behind(), &beat).await;
                        let _ = beat.reply.send(one);
                    }
                }
            }
            drop(turn);
        });
    }
}

fn update(
    beat: &Beat,
    sqlite: bool,
) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query(if sqlite {
        HEARTBEAT_SQLITE
    } else {
        HEARTBEAT_POSTGRES
    })
    .bind(beat.now)
    .bind(beat.now + beat.ttl_ms)
    .bind(beat.realm.as_str())
    .bind(beat.lease_id.as_str())
    .bind(beat.now)
}

/// The lease from an updated row, with its rowid on SQLite.
fn lease(
    row: Option<sqlx::any::AnyRow>,
    sqlite: bool,
) -> Result<Option<(i64, LeaseRecord)>, StoreError> {
    let Some(row) = row else { return Ok(None) };
    let rowid = if sqlite { row.try_get("row_id")? } else { 0 };
    Ok(Some((rowid, LeaseRecord::from_row(&row)?)))
}

/// Tells `behind` the expiry now on disk, and answers the lease.
fn known(behind: Option<&Behind>, row: Option<(i64, LeaseRecord)>) -> Option<LeaseRecord> {
    row.map(|(rowid, lease)| {
        if let Some(behind) = behind {
            behind.known(&lease.realm, &lease.id, rowid, lease.expires_at);
        }
        lease
    })
}

/// Runs the batch in one transaction; the connection is held until `behind` knows the
/// new expiries, so no other writer comes between (see `behind.rs`).
async fn write_batch(
    writer: &AnyPool,
    behind: &Behind,
    batch: &[Beat],
) -> Result<Vec<Option<LeaseRecord>>, StoreError> {
    let mut conn = writer.acquire().await?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let mut rows = Vec::with_capacity(batch.len());
    for beat in batch {
        rows.push(lease(
            update(beat, true).fetch_optional(&mut *tx).await?,
            true,
        )?);
    }
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|row| known(Some(behind), row))
        .collect())
}

/// The batch as one statement on a `deferred` connection: its commit does not wait for
/// the disk. Every node sees it at once and a node killed loses nothing; a crash of
/// PostgreSQL itself loses at most the last fraction of a second of such commits, and a
/// lease whose expiry before the heartbeat was at least the heartbeat's `min_left` ahead
/// then still outlives its client's next heartbeat (what `behind.rs` promises on
/// SQLite). When some lease was nearer its expiry than that, the same rows are written
/// again through `writer`, whose commit waits for the disk: WAL is written in order, so
/// that flushes the first commit too. (One round trip for a batch, not four: under load
/// a round trip waits for the scheduler, and that, not the disk, capped a node at about
/// 5,000 heartbeats a second.)
async fn write_batch_postgres(
    writer: &AnyPool,
    deferred: &AnyPool,
    batch: &[Beat],
    commits: &Commits,
) -> Result<Vec<Option<LeaseRecord>>, StoreError> {
    let all: Vec<&Beat> = batch.iter().collect();
    let updated = sqlx::query(BATCH_POSTGRES)
        .bind(batch_json(&all))
        .fetch_all(deferred)
        .await?;
    let mut leases = std::collections::HashMap::with_capacity(updated.len());
    for row in &updated {
        let lease = LeaseRecord::from_row(row)?;
        let before: Millis = row.try_get("expired_at_before")?;
        leases.insert(lease.id.clone(), (lease, before));
    }
    // A lease twice in one batch is updated once; both are answered with it.
    let answers: Vec<Option<&(LeaseRecord, Millis)>> = batch
        .iter()
        // By id (the primary key), then its realm: no strings made per heartbeat.
        .map(|b| {
            leases
                .get(b.lease_id.as_str())
                .filter(|(lease, _)| lease.realm == b.realm)
        })
        .collect();
    let mut near: Vec<&Beat> = Vec::new();
    for (b, found) in batch.iter().zip(&answers) {
        if let Some((_, before)) = found
            && before - b.now < b.min_left
        {
            near.push(b);
        }
    }
    let counter = if near.is_empty() {
        &commits.deferred
    } else {
        sqlx::query(BATCH_POSTGRES)
            .bind(batch_json(&near))
            .execute(writer)
            .await?;
        &commits.flushed
    };
    counter.fetch_add(1, Ordering::Relaxed);
    Ok(answers
        .into_iter()
        .map(|found| found.map(|(lease, _)| lease.clone()))
        .collect())
}

/// The heartbeats as `BATCH_POSTGRES` takes them.
fn batch_json(beats: &[&Beat]) -> String {
    let rows: Vec<serde_json::Value> = beats
        .iter()
        .map(|b| {
            serde_json::json!({
                "realm": b.realm,
                "id": b.lease_id,
                "now": b.now,
                "expires_at": b.now + b.ttl_ms,
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

async fn one(
    writer: &AnyPool,
    behind: Option<&Behind>,
    beat: &Beat,
) -> Result<Option<LeaseRecord>, StoreError> {
    let sqlite = behind.is_some();
    let mut conn = writer.acquire().await?;
    let row = lease(
        update(beat, sqlite).fetch_optional(&mut *conn).await?,
        sqlite,
    )?;
    Ok(known(behind, row))
}
