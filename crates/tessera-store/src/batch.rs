//! Group commit for heartbeats, on SQLite and on PostgreSQL. Every acknowledged heartbeat
//! must be on disk (a lease survives a crash once acknowledged), and both make one fsync
//! per transaction; one transaction per heartbeat caps them at the disk's fsync rate. Here
//! the heartbeats that arrive while a batch is being written wait in a channel and go
//! into the next batch together: one transaction, one fsync, then each is answered. Under
//! light load a batch is one heartbeat and costs what it did; under heavy load a batch
//! holds everything that queued during the previous commit. (Most heartbeats do not
//! come here at all: see `behind.rs`. Those that do tell it the expiry now on disk.)

use std::sync::Arc;

use sqlx::{AnyPool, Connection, FromRow, Row};
use tokio::sync::{mpsc, oneshot};

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

struct Beat {
    realm: String,
    lease_id: String,
    now: Millis,
    ttl_ms: Millis,
    reply: oneshot::Sender<Result<Option<LeaseRecord>, StoreError>>,
}

/// The sending side; the writing task ends when the last clone is dropped.
#[derive(Clone, Debug)]
pub(crate) struct Heartbeats {
    queue: mpsc::Sender<Beat>,
}

impl Heartbeats {
    /// Starts the task that writes batches through `writer` (must be called inside a
    /// Tokio runtime).
    /// `behind` on SQLite (see `behind.rs`), none on PostgreSQL.
    pub(crate) fn start(writer: AnyPool, behind: Option<Arc<Behind>>) -> Self {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_batches(writer, behind, rx));
        Heartbeats { queue }
    }

    /// Extends a live lease; answers once the batch holding it is committed.
    pub(crate) async fn beat(
        &self,
        realm: &str,
        lease_id: &str,
        now: Millis,
        ttl_ms: Millis,
    ) -> Result<Option<LeaseRecord>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let beat = Beat {
            realm: realm.to_owned(),
            lease_id: lease_id.to_owned(),
            now,
            ttl_ms,
            reply,
        };
        let closed = || StoreError::Unsupported("the database is closed");
        self.queue.send(beat).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn write_batches(writer: AnyPool, behind: Option<Arc<Behind>>, mut rx: mpsc::Receiver<Beat>) {
    let behind = behind.as_deref();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // In one order, so that two nodes' batches on PostgreSQL lock their rows alike.
        batch.sort_by(|a, b| (&a.realm, &a.lease_id).cmp(&(&b.realm, &b.lease_id)));
        match write_batch(&writer, behind, &batch).await {
            Ok(leases) => {
                for (beat, lease) in batch.drain(..).zip(leases) {
                    let _ = beat.reply.send(Ok(lease));
                }
            }
            // The whole batch rolled back: each goes again on its own, so each gets
            // its own answer (and one bad row cannot fail the others).
            Err(_) => {
                for beat in batch.drain(..) {
                    let one = one(&writer, behind, &beat).await;
                    let _ = beat.reply.send(one);
                }
            }
        }
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
    behind: Option<&Behind>,
    batch: &[Beat],
) -> Result<Vec<Option<LeaseRecord>>, StoreError> {
    let sqlite = behind.is_some();
    let mut conn = writer.acquire().await?;
    let mut tx = if sqlite {
        conn.begin_with("BEGIN IMMEDIATE").await?
    } else {
        conn.begin().await?
    };
    let mut rows = Vec::with_capacity(batch.len());
    for beat in batch {
        rows.push(lease(
            update(beat, sqlite).fetch_optional(&mut *tx).await?,
            sqlite,
        )?);
    }
    tx.commit().await?;
    Ok(rows.into_iter().map(|row| known(behind, row)).collect())
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
