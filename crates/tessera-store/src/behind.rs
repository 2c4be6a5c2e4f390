//! Heartbeats written behind, on SQLite. Most heartbeats need no write before their
//! answer: a lease whose expiry on disk is still far ahead (at least `min_left`: the
//! server asks for one heartbeat interval and a margin) is extended in memory, answered
//! at once, and written later by a background task. The promise stays: a crash loses at
//! most the extensions kept here, and the expiry on disk then still outlives the client's
//! next heartbeat, which finds its lease and writes again. A heartbeat for a lease whose
//! expiry on disk is near, or that this table does not know, goes through the durable
//! path (`batch.rs`) as before and is answered after its commit.
//!
//! The writer task (looking every `SCAN_EVERY`) writes an extension once the expiry on
//! disk comes within `horizon` of now (a margin past what the heartbeats ask), in
//! batches of one transaction and one statement each:
//! with long lease TTLs most extensions are never written separately, since a later one
//! replaces them first. On a clean shutdown everything kept is written.
//!
//! Consistency with the rest of the store: entries are made and changed (apart from a
//! heartbeat's extension) only by writers holding the one write connection, after their
//! commit; every statement that ends a lease forgets its entry in the same transaction
//! (an entry forgotten too early only sends the next heartbeat the durable way). So a
//! heartbeat answered from memory can only find a lease that is on disk, live, and
//! whose expiry there is ahead of every reader's `expires_at > now`: seat counts, the
//! sweeper and the live page's rows never see a live lease as lapsed.
//!
//! Another process may write the same file while the server runs (`tessera server
//! activate`, `site-key revoke`, which ends leases). SQLite's `PRAGMA data_version`, asked
//! on the write connection, changes when any other connection commits: the writer task
//! asks every tick, and inside each of its own write transactions before it writes, and
//! forgets every entry when it changed. A heartbeat answered meanwhile (within a tick of
//! that commit) counts as if it came just before it; the next one goes the durable way.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::{AnyPool, Connection};

use crate::StoreError;

type Millis = i64;

const SHARDS: usize = 32;
/// The most extensions written in one transaction.
const MAX_WRITE: usize = 10_000;
/// How often the writer task asks whether another process wrote the database.
const EVERY: Duration = Duration::from_millis(200);
/// How often it looks for extensions to write: well inside `HORIZON_MARGIN`, and seldom
/// enough that walking a million entries costs nothing worth measuring.
const SCAN_EVERY: Millis = 2_000;
/// Written this long before they would be needed, beyond what the heartbeats ask.
const HORIZON_MARGIN: Millis = 20_000;

/// Writes a batch of extensions, given as a JSON array of `[rowid, expires_at,
/// heartbeat_at]`; answers the rowids of the leases still there.
const WRITE_BEHIND: &str = "UPDATE leases SET heartbeat_at = j.heartbeat_at, expires_at = j.expires_at \
     FROM (SELECT json_extract(value, '$[0]') AS row_id, json_extract(value, '$[1]') AS expires_at, \
     json_extract(value, '$[2]') AS heartbeat_at FROM json_each($1)) AS j \
     WHERE leases.rowid = j.row_id AND leases.kind = 'lease' AND leases.expires_at < j.expires_at \
     RETURNING leases.rowid";

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// SQLite's `rowid` of the lease.
    rowid: i64,
    /// The expiry on disk.
    durable: Millis,
    /// An extension answered but not yet written (0: none); its heartbeat came one
    /// `ttl` (of [`Behind`]) before.
    pending: Millis,
}

/// The live leases' expiries as this process knows them, by (realm, lease id).
pub(crate) struct Behind {
    hashers: (std::hash::RandomState, std::hash::RandomState),
    shards: Vec<Mutex<HashMap<u128, Entry>>>,
    /// The largest `min_left` a heartbeat asked for: the writer task writes an extension
    /// before the expiry on disk comes this close (plus a margin).
    min_left: AtomicI64,
    /// SQLite's `data_version` on the write connection when last asked (-1: not yet).
    data_version: AtomicI64,
    /// The lease TTL of the heartbeats (the server's; one for all).
    ttl: AtomicI64,
    /// When the writer task last looked for extensions to write.
    scanned_at: AtomicI64,
}

impl std::fmt::Debug for Behind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Behind")
    }
}

/// An extension to write: the lease's rowid, its new expiry and heartbeat time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extension {
    key: u128,
    rowid: i64,
    expires_at: Millis,
    heartbeat_at: Millis,
}

impl Behind {
    pub(crate) fn new() -> Behind {
        Behind {
            hashers: Default::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            min_left: AtomicI64::new(0),
            data_version: AtomicI64::new(-1),
            ttl: AtomicI64::new(0),
            scanned_at: AtomicI64::new(0),
        }
    }

    fn key(&self, realm: &str, id: &str) -> u128 {
        let a = self.hashers.0.hash_one((realm, id));
        let b = self.hashers.1.hash_one((realm, id));
        (u128::from(a) << 64) | u128::from(b)
    }

    fn shard(&self, key: u128) -> std::sync::MutexGuard<'_, HashMap<u128, Entry>> {
        self.shards[(key as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// A lease is on disk with this expiry (the caller holds the write connection and has
    /// committed, or is inside the transaction that wrote it).
    pub(crate) fn known(&self, realm: &str, id: &str, rowid: i64, expires_at: Millis) {
        let key = self.key(realm, id);
        let mut shard = self.shard(key);
        let entry = shard.entry(key).or_insert(Entry {
            rowid,
            durable: expires_at,
            pending: 0,
        });
        entry.rowid = rowid;
        entry.durable = entry.durable.max(expires_at);
        if entry.pending <= entry.durable {
            entry.pending = 0;
        }
    }

    /// The lease ends (inside the transaction that ends it).
    pub(crate) fn forget(&self, realm: &str, id: &str) {
        let key = self.key(realm, id);
        self.shard(key).remove(&key);
    }

    /// Extends the lease in memory to `now + ttl` when its expiry on disk is at least
    /// `min_left` ahead; answers the new expiry, or `None` (the durable way, then).
    pub(crate) fn beat(
        &self,
        realm: &str,
        id: &str,
        now: Millis,
        ttl: Millis,
        min_left: Millis,
    ) -> Option<Millis> {
        // Written only when they change: every heartbeat writing the same cache line
        // would bounce it between the cores.
        if self.min_left.load(Ordering::Relaxed) < min_left {
            self.min_left.fetch_max(min_left, Ordering::Relaxed);
        }
        if self.ttl.load(Ordering::Relaxed) != ttl {
            self.ttl.store(ttl, Ordering::Relaxed);
        }
        let key = self.key(realm, id);
        let mut shard = self.shard(key);
        let entry = shard.get_mut(&key)?;
        if entry.durable - now < min_left {
            return None;
        }
        let expires_at = now + ttl;
        if expires_at > entry.pending.max(entry.durable) {
            entry.pending = expires_at;
        }
        Some(entry.pending.max(entry.durable))
    }

    /// The expiry and heartbeat time answered for a lease, when newer than on disk.
    pub(crate) fn pending(&self, realm: &str, id: &str) -> Option<(Millis, Millis)> {
        let key = self.key(realm, id);
        let ttl = self.ttl.load(Ordering::Relaxed);
        let shard = self.shard(key);
        shard
            .get(&key)
            .filter(|e| e.pending > e.durable)
            .map(|e| (e.pending, e.pending - ttl))
    }

    /// Extensions to write now: those whose expiry on disk is within the horizon (all of
    /// them when `all`). Entries of leases lapsed on disk with nothing kept are dropped
    /// (the sweeper ends those leases).
    fn due(&self, now: Millis, all: bool, max: usize) -> Vec<Extension> {
        let horizon = self.min_left.load(Ordering::Relaxed) + HORIZON_MARGIN;
        let ttl = self.ttl.load(Ordering::Relaxed);
        let mut out = Vec::new();
        // One pass over each shard: at a million leases every pass costs milliseconds.
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.retain(|key, e| {
                let waiting = e.pending > e.durable;
                if waiting && out.len() < max && (all || e.durable - now < horizon) {
                    out.push(Extension {
                        key: *key,
                        rowid: e.rowid,
                        expires_at: e.pending,
                        heartbeat_at: e.pending - ttl,
                    });
                }
                waiting || e.durable > now
            });
        }
        out
    }

    /// After the extensions are committed: they are on disk now. A lease that was gone
    /// from disk is forgotten.
    fn written(&self, done: &[(Extension, bool)]) {
        for (ext, found) in done {
            let mut shard = self.shard(ext.key);
            if !found {
                shard.remove(&ext.key);
                continue;
            }
            if let Some(e) = shard.get_mut(&ext.key)
                && e.rowid == ext.rowid
            {
                e.durable = e.durable.max(ext.expires_at);
                if e.pending <= e.durable {
                    e.pending = 0;
                }
            }
        }
    }

    /// Forgets every entry (another process wrote the database).
    fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// Compares SQLite's `data_version` of the write connection `conn` with the last one
    /// seen; when another connection committed in between, forgets everything and answers
    /// `true`.
    async fn changed_elsewhere(&self, conn: &mut sqlx::AnyConnection) -> Result<bool, StoreError> {
        let now: i64 = sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(&mut *conn)
            .await?;
        let before = self.data_version.swap(now, Ordering::Relaxed);
        if before != now && before != -1 {
            self.clear();
            return Ok(true);
        }
        Ok(false)
    }

    /// How many leases are known and how many extensions wait to be written.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let mut known = 0;
        let mut waiting = 0;
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            known += shard.len();
            waiting += shard.values().filter(|e| e.pending > e.durable).count();
        }
        (known, waiting)
    }
}

/// Starts the writer task (inside a Tokio runtime); it ends when the store is closed.
pub(crate) fn start(behind: Arc<Behind>, writer: AnyPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if writer.is_closed() {
                return;
            }
            if let Err(e) = write_due(&behind, &writer, now_ms(), false).await {
                if writer.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "writing heartbeats behind failed; retrying");
            }
        }
    });
}

fn now_ms() -> Millis {
    tessera_core::to_millis(chrono::Utc::now())
}

/// Writes what is due (everything, when `all`), a transaction per batch; answers how many.
/// Unless `all`, looks only every `SCAN_EVERY`, and off the runtime's threads: the walk
/// over every entry would stall the requests queued on the thread that made it.
pub(crate) async fn write_due(
    behind: &Arc<Behind>,
    writer: &AnyPool,
    now: Millis,
    all: bool,
) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        // The connection is held until the table is updated, so no other writer of this
        // process changes these leases in between (see the module's comment).
        let mut conn = writer.acquire().await?;
        if behind.changed_elsewhere(&mut conn).await? {
            return Ok(total);
        }
        let due = if all {
            behind.due(now, true, MAX_WRITE)
        } else {
            // A full batch last time: look again at once.
            if total == 0 && now - behind.scanned_at.load(Ordering::Relaxed) < SCAN_EVERY {
                return Ok(total);
            }
            behind.scanned_at.store(now, Ordering::Relaxed);
            let walker = behind.clone();
            tokio::task::spawn_blocking(move || walker.due(now, false, MAX_WRITE))
                .await
                .map_err(|e| StoreError::Commit(format!("looking for heartbeats to write: {e}")))?
        };
        if due.is_empty() {
            return Ok(total);
        }
        let n = due.len();
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        // With the write lock held no other process commits; one may have just before.
        if behind.changed_elsewhere(&mut tx).await? {
            tx.rollback().await?;
            return Ok(total);
        }
        // One statement for the whole batch: one hand-off to SQLite's thread instead of
        // one per lease, which at a million leases kept the write connection busy for
        // most of each tick.
        let rows: Vec<[i64; 3]> = due
            .iter()
            .map(|e| [e.rowid, e.expires_at, e.heartbeat_at])
            .collect();
        let rows = serde_json::to_string(&rows)
            .map_err(|e| StoreError::Corrupt(format!("heartbeats to write: {e}")))?;
        let updated: Vec<i64> = sqlx::query_scalar(WRITE_BEHIND)
            .bind(rows)
            .fetch_all(&mut *tx)
            .await?;
        let updated: std::collections::HashSet<i64> = updated.into_iter().collect();
        let done: Vec<(Extension, bool)> = due
            .into_iter()
            .map(|ext| {
                let found = updated.contains(&ext.rowid);
                (ext, found)
            })
            .collect();
        tx.commit().await?;
        behind.written(&done);
        drop(conn);
        total += n;
        if n < MAX_WRITE {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_is_kept_only_while_the_expiry_on_disk_is_far_enough_ahead() {
        let b = Behind::new();
        // Unknown: the durable way.
        assert_eq!(b.beat("r", "l1", 1_000, 120_000, 40_000), None);
        b.known("r", "l1", 7, 121_000);
        // 120 s on disk, 40 s asked: kept in memory.
        assert_eq!(b.beat("r", "l1", 31_000, 120_000, 40_000), Some(151_000));
        assert_eq!(b.pending("r", "l1"), Some((151_000, 31_000)));
        // Another realm's lease of the same id is not this one.
        assert_eq!(b.beat("s", "l1", 31_000, 120_000, 40_000), None);
        // 30 s left on disk: the durable way.
        assert_eq!(b.beat("r", "l1", 91_000, 120_000, 40_000), None);
        // Not due yet at 31 s (90 s left on disk, horizon 60 s), due at 70 s.
        assert!(b.due(31_000, false, 10).is_empty());
        let due = b.due(70_000, false, 10);
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].rowid, due[0].expires_at), (7, 151_000));
        b.written(&[(due[0], true)]);
        assert_eq!(b.pending("r", "l1"), None);
        assert_eq!(b.counts(), (1, 0));
        // Gone from disk when written: forgotten.
        assert_eq!(b.beat("r", "l1", 80_000, 120_000, 40_000), Some(200_000));
        let due = b.due(80_000, true, 10);
        b.written(&[(due[0], false)]);
        assert_eq!(b.beat("r", "l1", 81_000, 120_000, 40_000), None);
    }

    #[test]
    fn an_ended_lease_is_never_extended_from_memory() {
        let b = Behind::new();
        b.known("r", "l1", 1, 100_000);
        b.forget("r", "l1");
        assert_eq!(b.beat("r", "l1", 1_000, 120_000, 40_000), None);
        // Lapsed on disk with nothing kept: dropped by the writer's scan.
        b.known("r", "l2", 2, 5_000);
        assert_eq!(b.counts(), (1, 0));
        assert!(b.due(6_000, true, 10).is_empty());
        assert_eq!(b.counts(), (0, 0));
    }
}
