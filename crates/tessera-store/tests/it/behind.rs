//! Heartbeats answered from memory and written behind (SQLite): shown at once, written
//! before the expiry on disk comes near and on close, never for a lease that ended; on
//! PostgreSQL every heartbeat is committed before its answer.

use std::time::Duration;

use chrono::Utc;
use tessera_core::policy::Policy;
use tessera_core::protocol::LeaseKind;
use tessera_core::{LicenseModel, PoolSpec, to_millis};
use tessera_store::testing::TestDatabase;
use tessera_store::{ActivationRecord, EndReason, SeatRequest, Store};

const REALM: &str = "lan";
static OPEN: Policy = Policy::EMPTY;

async fn activated(store: &Store) {
    let now = Utc::now();
    let pool = PoolSpec {
        id: "p".into(),
        products: vec!["acad".into()],
        model: LicenseModel::Floating,
        seats: 10,
        start: now - chrono::Duration::days(1),
        end: now + chrono::Duration::days(30),
        borrow_max_hours: 0,
    };
    let act = ActivationRecord {
        id: "a1".into(),
        org: "Office".into(),
        token: "v4.public.x".into(),
        issued_at: to_millis(now),
        expires_at: to_millis(now + chrono::Duration::days(30)),
        pools: vec![pool],
    };
    store
        .import_activation(REALM, &act, to_millis(now))
        .await
        .unwrap();
}

fn seat(user: &str, duration_ms: i64) -> SeatRequest<'_> {
    SeatRequest {
        realm: REALM,
        kind: LeaseKind::Lease,
        product: "acad",
        user,
        host: "pc",
        client_id: user,
        version: None,
        email: None,
        address: None,
        signed_in: None,
        site_key_id: None,
        duration_ms,
    }
}

fn now() -> i64 {
    to_millis(Utc::now())
}

/// A fresh SQLite store with the pool, and anna's lease taken at `t0` for 120 s.
async fn with_a_lease(dir: &tempfile::TempDir, t0: i64) -> (Store, std::path::PathBuf, String) {
    let path = dir.path().join("t.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    activated(&store).await;
    let (lease, _) = store
        .take_seat(&seat("anna", 120_000), &OPEN, t0)
        .await
        .unwrap();
    (store, path, lease.id)
}

/// The expiry on disk, read by a second store on the same file (it knows nothing in memory).
async fn on_disk(path: &std::path::Path, id: &str) -> Option<i64> {
    let other = Store::open_sqlite(path).await.unwrap();
    let live = other.live_leases(REALM, 0).await.unwrap();
    other.close().await;
    live.into_iter().find(|l| l.id == id).map(|l| l.expires_at)
}

#[tokio::test]
async fn a_heartbeat_kept_in_memory_is_shown_at_once_and_written_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = now();
    let (store, path, id) = with_a_lease(&dir, t0).await;
    let (ended, _) = store
        .take_seat(&seat("bob", 120_000), &OPEN, t0)
        .await
        .unwrap();

    // 120 s on disk, 40 s asked for: answered from memory.
    let t1 = t0 + 1_000;
    let answered = store.heartbeat_in_memory(REALM, &id, t1, 120_000, 40_000);
    assert_eq!(answered, Some(t1 + 120_000));
    assert_eq!(store.heartbeats_in_memory(), (2, 1));
    let live = store.live_leases(REALM, t1).await.unwrap();
    let shown = live.iter().find(|l| l.id == id).unwrap();
    assert_eq!((shown.expires_at, shown.heartbeat_at), (t1 + 120_000, t1));
    assert_eq!(
        store
            .lease(REALM, &id, t1)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        t1 + 120_000
    );
    // Not written yet: the expiry on disk is far from now.
    assert_eq!(on_disk(&path, &id).await, Some(t0 + 120_000));

    // Asking for more than is left on disk: the durable way.
    assert_eq!(
        store.heartbeat_in_memory(REALM, &id, t1, 120_000, 130_000),
        None
    );
    // An ended lease is never extended from memory.
    store
        .end(REALM, &ended.id, None, t1, EndReason::CheckedIn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.heartbeat_in_memory(REALM, &ended.id, t1, 120_000, 40_000),
        None
    );
    assert_eq!(
        store
            .heartbeat(REALM, &ended.id, t1, 120_000, 40_000)
            .await
            .unwrap(),
        None
    );

    store.close().await;
    assert_eq!(on_disk(&path, &id).await, Some(t1 + 120_000));
}

#[tokio::test]
async fn a_heartbeat_kept_in_memory_is_written_before_the_expiry_on_disk_comes_near() {
    let dir = tempfile::tempdir().unwrap();
    // Taken 100 s ago for 120 s: 20 s left on disk, within the writer's horizon (10 s
    // asked + its 20 s margin), so the extension is written within a second or so.
    let (store, path, id) = with_a_lease(&dir, now() - 100_000).await;
    let t1 = now();
    assert_eq!(
        store.heartbeat_in_memory(REALM, &id, t1, 120_000, 10_000),
        Some(t1 + 120_000)
    );
    let mut waited = Duration::ZERO;
    while store.heartbeats_in_memory().1 > 0 {
        assert!(waited < Duration::from_secs(10), "never written");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    assert_eq!(on_disk(&path, &id).await, Some(t1 + 120_000));
    store.close().await;
}

/// On PostgreSQL no heartbeat is kept in memory (another node may end the lease): each is
/// committed before it is answered, and every node sees it. The commit waits for the
/// disk only when the lease was near its expiry.
#[tokio::test]
async fn on_postgresql_every_heartbeat_is_committed_and_waits_for_the_disk_only_near_the_expiry() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let store = Store::open_url(&db.url).await.unwrap();
    let other_node = Store::open_url(&db.url).await.unwrap();
    activated(&store).await;
    let t0 = now();
    let (lease, _) = store
        .take_seat(&seat("anna", 120_000), &OPEN, t0)
        .await
        .unwrap();
    assert_eq!(
        store.heartbeat_in_memory(REALM, &lease.id, t0 + 1_000, 120_000, 40_000),
        None
    );
    assert_eq!(store.heartbeats_in_memory(), (0, 0));

    // 119 s left, 40 s asked: committed without waiting for the disk.
    let t1 = t0 + 1_000;
    let beat = store.heartbeat(REALM, &lease.id, t1, 120_000, 40_000).await;
    assert_eq!(beat.unwrap().unwrap().expires_at, t1 + 120_000);
    assert_eq!(store.heartbeat_commits(), (0, 1));
    let seen = other_node
        .lease(REALM, &lease.id, t1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        seen.expires_at,
        t1 + 120_000,
        "another node sees it at once"
    );

    // 30 s left: this one waits for the disk.
    let t2 = t1 + 90_000;
    let beat = store.heartbeat(REALM, &lease.id, t2, 120_000, 40_000).await;
    assert_eq!(beat.unwrap().unwrap().expires_at, t2 + 120_000);
    assert_eq!(store.heartbeat_commits(), (1, 1));

    // Ended on the other node: no heartbeat finds it.
    other_node
        .end(REALM, &lease.id, None, t2 + 1_000, EndReason::CheckedIn)
        .await
        .unwrap()
        .unwrap();
    let beat = store
        .heartbeat(REALM, &lease.id, t2 + 2_000, 120_000, 40_000)
        .await;
    assert!(beat.unwrap().is_none());
    other_node.close().await;
    store.close().await;
}

/// Another process writing the same file (`tessera server site-key revoke` ends leases
/// while the server runs): the server's memory is forgotten within a tick, so the next
/// heartbeat goes the durable way and finds the lease gone.
#[tokio::test]
async fn a_lease_ended_by_another_process_is_not_extended_from_memory_for_long() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = now();
    let (store, path, id) = with_a_lease(&dir, t0).await;
    assert!(
        store
            .heartbeat_in_memory(REALM, &id, t0 + 1, 120_000, 40_000)
            .is_some()
    );
    // Let the writer task see the file's version once before the other process writes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let other = Store::open_sqlite(&path).await.unwrap();
    other
        .end(REALM, &id, None, now(), EndReason::Removed)
        .await
        .unwrap()
        .unwrap();
    other.close().await;
    let mut waited = Duration::ZERO;
    while store
        .heartbeat_in_memory(REALM, &id, now(), 120_000, 40_000)
        .is_some()
    {
        assert!(
            waited < Duration::from_secs(3),
            "still extended from memory"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    assert_eq!(
        store
            .heartbeat(REALM, &id, now(), 120_000, 40_000)
            .await
            .unwrap(),
        None
    );
    store.close().await;
}
