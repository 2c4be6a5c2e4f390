//! Group commit for heartbeats on SQLite. Every acknowledged heartbeat must be on disk
//! (a lease survives a crash once acknowledged), and SQLite makes one fsync per
//! transaction; one transaction per heartbeat caps them at the disk's fsync rate. Here
//! the heartbeats that arrive while a batch is being written wait in a channel and go
//! into the next batch together: one transaction, one fsync, then each is answered. Under
//! light load a batch is one heartbeat and costs what it did; under heavy load a batch
//! holds everything that queued during the previous commit.

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::seats::LeaseRecord;

type Millis = i64;

/// The most heartbeats written in one transaction.
const MAX_BATCH: usize = 512;

const HEARTBEAT_SQL: &str = "UPDATE leases SET heartbeat_at = $1, expires_at = $2 \
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
    pub(crate) fn start(writer: AnyPool) -> Self {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_batches(writer, rx));
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

async fn write_batches(writer: AnyPool, mut rx: mpsc::Receiver<Beat>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match write_batch(&writer, &batch).await {
            Ok(leases) => {
                for (beat, lease) in batch.drain(..).zip(leases) {
                    let _ = beat.reply.send(Ok(lease));
                }
            }
            // The whole batch rolled back: each goes again on its own, so each gets
            // its own answer (and one bad row cannot fail the others).
            Err(_) => {
                for beat in batch.drain(..) {
                    let one = one(&writer, &beat).await;
                    let _ = beat.reply.send(one);
                }
            }
        }
    }
}

fn update(
    beat: &Beat,
) -> sqlx::query::QueryAs<'_, sqlx::Any, LeaseRecord, sqlx::any::AnyArguments<'_>> {
    sqlx::query_as(HEARTBEAT_SQL)
        .bind(beat.now)
        .bind(beat.now + beat.ttl_ms)
        .bind(beat.realm.as_str())
        .bind(beat.lease_id.as_str())
        .bind(beat.now)
}

async fn write_batch(
    writer: &AnyPool,
    batch: &[Beat],
) -> Result<Vec<Option<LeaseRecord>>, StoreError> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut out = Vec::with_capacity(batch.len());
    for beat in batch {
        out.push(update(beat).fetch_optional(&mut *tx).await?);
    }
    tx.commit().await?;
    Ok(out)
}

async fn one(writer: &AnyPool, beat: &Beat) -> Result<Option<LeaseRecord>, StoreError> {
    Ok(update(beat).fetch_optional(writer).await?)
}
