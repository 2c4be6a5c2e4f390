//! Seat accounting against a real SQLite file and, when reachable, a real PostgreSQL
//! database: the same tests on both backends.

use chrono::{Duration, Utc};
use tessera_core::policy::Policy;
use tessera_core::protocol::LeaseKind;
use tessera_core::{LicenseModel, PoolSpec, to_millis};
use tessera_store::testing::TestDatabase;
use tessera_store::{ActivationRecord, EndReason, SeatError, SeatRequest, Store};

const REALM: &str = "lan";
static OPEN: Policy = Policy::EMPTY;

/// Keeps a test's database alive: a SQLite folder or a PostgreSQL database.
#[allow(dead_code)]
enum Keep {
    Dir(tempfile::TempDir),
    Pg(TestDatabase),
}

/// The same pools on every backend there is: SQLite always, PostgreSQL when reachable.
async fn stores_with(pools: Vec<PoolSpec>) -> Vec<(Store, Keep)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open_sqlite(&dir.path().join("t.db")).await.unwrap();
    let mut out = vec![(sqlite, Keep::Dir(dir))];
    if let Some(db) = TestDatabase::create().await {
        let pg = Store::open_url(&db.url).await.unwrap();
        out.push((pg, Keep::Pg(db)));
    }
    for (store, _) in &out {
        activate(store, pools.clone()).await;
    }
    out
}

async fn activate(store: &Store, pools: Vec<PoolSpec>) {
    let now = Utc::now();
    store
        .import_activation(
            REALM,
            &ActivationRecord {
                id: "a1".into(),
                org: "Office".into(),
                token: "v4.public.x".into(),
                issued_at: to_millis(now),
                expires_at: to_millis(now + Duration::days(30)),
                pools,
            },
            to_millis(now),
        )
        .await
        .unwrap();
}

fn pool(id: &str, products: &[&str], seats: u32, borrow: u32) -> PoolSpec {
    let now = Utc::now();
    PoolSpec {
        id: id.into(),
        products: products.iter().map(|s| s.to_string()).collect(),
        model: LicenseModel::Floating,
        seats,
        start: now - Duration::days(1),
        end: now + Duration::days(30),
        borrow_max_hours: borrow,
    }
}

fn req<'a>(product: &'a str, user: &'a str, host: &'a str, client: &'a str) -> SeatRequest<'a> {
    SeatRequest {
        realm: REALM,
        kind: LeaseKind::Lease,
        product,
        user,
        host,
        client_id: client,
        version: None,
        email: None,
        address: None,
        signed_in: None,
        site_key_id: None,
        duration_ms: 120_000,
    }
}

fn now() -> i64 {
    to_millis(Utc::now())
}

#[tokio::test]
async fn retry_with_same_client_id_takes_no_second_seat() {
    for (store, _keep) in stores_with(vec![pool("p", &["acad"], 2, 0)]).await {
        let (a, new_a) = store
            .take_seat(&req("acad", "anna", "pc1", "c1"), &OPEN, now())
            .await
            .unwrap();
        let (b, new_b) = store
            .take_seat(&req("acad", "anna", "pc1", "c1"), &OPEN, now())
            .await
            .unwrap();
        assert!(new_a && !new_b);
        assert_eq!(a.id, b.id);
        let usage = store.pool_usage(REALM, now()).await.unwrap();
        assert_eq!(usage[0].in_use, 1);
    }
}

#[tokio::test]
async fn same_user_and_host_share_one_seat_others_take_their_own() {
    for (store, _keep) in stores_with(vec![pool("p", &["acad", "revit"], 2, 0)]).await {
        store
            .take_seat(&req("acad", "anna", "pc1", "c1"), &OPEN, now())
            .await
            .unwrap();
        store
            .take_seat(&req("revit", "anna", "pc1", "c2"), &OPEN, now())
            .await
            .unwrap();
        store
            .take_seat(&req("acad", "anna", "pc1", "c3"), &OPEN, now())
            .await
            .unwrap();
        assert_eq!(store.pool_usage(REALM, now()).await.unwrap()[0].in_use, 1);
        store
            .take_seat(&req("acad", "anna", "pc2", "c4"), &OPEN, now())
            .await
            .unwrap();
        assert_eq!(store.pool_usage(REALM, now()).await.unwrap()[0].in_use, 2);
        let err = store
            .take_seat(&req("acad", "bob", "pc3", "c5"), &OPEN, now())
            .await
            .unwrap_err();
        assert!(matches!(err, SeatError::NoSeat { seats: 2, .. }), "{err:?}");
    }
}

#[tokio::test]
async fn a_shared_seat_frees_when_its_last_lease_ends() {
    for (store, _keep) in stores_with(vec![pool("p", &["acad"], 1, 0)]).await {
        let (l1, _) = store
            .take_seat(&req("acad", "anna", "pc1", "c1"), &OPEN, now())
            .await
            .unwrap();
        let (l2, _) = store
            .take_seat(&req("acad", "anna", "pc1", "c2"), &OPEN, now())
            .await
            .unwrap();
        store
            .end(
                REALM,
                &l1.id,
                Some(LeaseKind::Lease),
                now(),
                EndReason::CheckedIn,
            )
            .await
            .unwrap();
        assert!(
            store
                .take_seat(&req("acad", "bob", "pc2", "c3"), &OPEN, now())
                .await
                .is_err()
        );
        store
            .end(
                REALM,
                &l2.id,
                Some(LeaseKind::Lease),
                now(),
                EndReason::CheckedIn,
            )
            .await
            .unwrap();
        store
            .take_seat(&req("acad", "bob", "pc2", "c3"), &OPEN, now())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_lapsed_lease_holds_no_seat_and_cannot_heartbeat() {
    for (store, _keep) in stores_with(vec![pool("p", &["acad"], 1, 0)]).await {
        let t0 = now();
        let (l1, _) = store
            .take_seat(&req("acad", "anna", "pc1", "c1"), &OPEN, t0)
            .await
            .unwrap();
        let later = t0 + 121_000;
        assert!(
            store
                .heartbeat(REALM, &l1.id, later, 120_000, 40_000)
                .await
                .unwrap()
                .is_none()
        );
        store
            .take_seat(&req("acad", "bob", "pc2", "c2"), &OPEN, later)
            .await
            .unwrap();
        assert_eq!(store.sweep_expired(later).await.unwrap(), 1);
        let sessions = store.sessions(REALM, t0 - 1, later + 1).await.unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].end_reason, "expired");
    }
}

#[tokio::test]
async fn unknown_expired_and_borrow_rules_are_told_apart() {
    let mut old = pool("old", &["civil"], 1, 0);
    old.end = Utc::now() - Duration::days(1);
    for (store, _keep) in stores_with(vec![
        pool("p", &["acad"], 1, 0),
        pool("b", &["revit"], 1, 24),
        old,
    ])
    .await
    {
        assert!(matches!(
            store
                .take_seat(&req("nope", "a", "h", "c"), &OPEN, now())
                .await,
            Err(SeatError::UnknownProduct(_))
        ));
        assert!(matches!(
            store
                .take_seat(&req("civil", "a", "h", "c"), &OPEN, now())
                .await,
            Err(SeatError::Expired(_))
        ));
        let mut borrow = req("acad", "a", "h", "c");
        borrow.kind = LeaseKind::Borrow;
        borrow.duration_ms = 3_600_000;
        assert!(matches!(
            store.take_seat(&borrow, &OPEN, now()).await,
            Err(SeatError::BorrowNotAllowed(_))
        ));
        borrow.product = "revit";
        borrow.duration_ms = 25 * 3_600_000;
        assert!(matches!(
            store.take_seat(&borrow, &OPEN, now()).await,
            Err(SeatError::BorrowTooLong { max_hours: 24, .. })
        ));
        borrow.duration_ms = 24 * 3_600_000;
        store.take_seat(&borrow, &OPEN, now()).await.unwrap();
        let usage = store.pool_usage(REALM, now()).await.unwrap();
        let b = usage.iter().find(|u| u.pool.id == "b").unwrap();
        assert_eq!((b.in_use, b.borrowed, b.available()), (0, 1, 0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checkouts_never_exceed_the_pool() {
    for (store, _keep) in stores_with(vec![pool("p", &["acad"], 5, 0)]).await {
        let mut tasks = Vec::new();
        for i in 0..60 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let user = format!("u{i}");
                let client = format!("c{i}");
                store
                    .take_seat(&req("acad", &user, "pc", &client), &OPEN, now())
                    .await
                    .is_ok()
            }));
        }
        let mut granted = 0;
        for t in tasks {
            if t.await.unwrap() {
                granted += 1;
            }
        }
        assert_eq!(granted, 5);
        assert_eq!(store.live_leases(REALM, now()).await.unwrap().len(), 5);
    }
}

/// Many heartbeats at once (written in shared transactions; on PostgreSQL a batch is one
/// statement): each is answered for its own lease, one sent twice at once gets both, an unknown or lapsed lease gets none without failing the
/// others, and every extension is really stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_heartbeats_each_extend_their_own_lease() {
    for (store, _keep) in stores_with(vec![pool("p", &["acad"], 300, 0)]).await {
        let t0 = now();
        let mut ids = Vec::new();
        for i in 0..200 {
            let (lease, _) = store
                .take_seat(
                    &req("acad", &format!("u{i}"), "pc", &format!("c{i}")),
                    &OPEN,
                    t0,
                )
                .await
                .unwrap();
            ids.push(lease.id);
        }
        let t1 = t0 + 1_000;
        let mut tasks = Vec::new();
        for (i, id) in ids.iter().cloned().enumerate() {
            let store = store.clone();
            // Every fourth one also sends a heartbeat for a lease that does not exist.
            tasks.push(tokio::spawn(async move {
                let ttl = 60_000 + i as i64;
                let mine = store.heartbeat(REALM, &id, t1, ttl, 40_000).await.unwrap();
                // Every fifth one twice at once: two in one batch, both answered.
                let again = if i % 5 == 0 {
                    let store = store.clone();
                    let id = id.clone();
                    Some(tokio::spawn(async move {
                        store.heartbeat(REALM, &id, t1, ttl, 40_000).await.unwrap()
                    }))
                } else {
                    None
                };
                let nobody = if i % 4 == 0 {
                    store
                        .heartbeat(REALM, &format!("missing{i}"), t1, ttl, 40_000)
                        .await
                        .unwrap()
                } else {
                    None
                };
                let again = match again {
                    Some(task) => Some(task.await.unwrap().expect("both are answered")),
                    None => None,
                };
                (id, ttl, mine, nobody, again)
            }));
        }
        for t in tasks {
            let (id, ttl, mine, nobody, again) = t.await.unwrap();
            if let Some(again) = again {
                assert_eq!(
                    (again.id.as_str(), again.expires_at),
                    (id.as_str(), t1 + ttl)
                );
            }
            let mine = mine.expect("a live lease is extended");
            assert_eq!(mine.id, id);
            assert_eq!(mine.expires_at, t1 + ttl);
            assert!(nobody.is_none());
        }
        let live = store.live_leases(REALM, t1).await.unwrap();
        assert_eq!(live.len(), 200);
        for lease in &live {
            assert_eq!(lease.heartbeat_at, t1, "stored, not only answered");
        }
        // Past its expiry a lease is not extended any more.
        let late = t1 + 200_000;
        assert!(
            store
                .heartbeat(REALM, &ids[0], late, 60_000, 40_000)
                .await
                .unwrap()
                .is_none()
        );
    }
}

/// Checkouts and checkins share transactions on SQLite: checkouts cancelled half-way
/// (their requests dropped) undo only themselves, every answered checkout is stored,
/// the pool is never exceeded, and the store goes on working.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelled_checkouts_leave_the_others_and_the_store_intact() {
    for (store, _keep) in stores_with(vec![pool("p", &["acad"], 40, 0)]).await {
        for round in 0..5 {
            let mut tasks = Vec::new();
            for i in 0..30 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    let user = format!("u{round}-{i}");
                    let client = format!("c{round}-{i}");
                    store
                        .take_seat(&req("acad", &user, "pc", &client), &OPEN, now())
                        .await
                        .ok()
                        .map(|(lease, _)| lease.id)
                }));
            }
            // Cancel every third request, at whatever point it has reached.
            tokio::task::yield_now().await;
            for t in tasks.iter().step_by(3) {
                t.abort();
            }
            let mut answered = Vec::new();
            for t in tasks {
                if let Ok(Some(id)) = t.await {
                    answered.push(id);
                }
            }
            let live = store.live_leases(REALM, now()).await.unwrap();
            assert!(live.len() <= 40, "never more than the pool: {}", live.len());
            for id in &answered {
                assert!(
                    live.iter().any(|l| &l.id == id),
                    "answered lease {id} stored"
                );
            }
            // Check every one in again, so the next round starts from an empty pool.
            for l in &live {
                store
                    .end(REALM, &l.id, None, now(), EndReason::CheckedIn)
                    .await
                    .unwrap();
            }
            assert!(store.live_leases(REALM, now()).await.unwrap().is_empty());
        }
        let (lease, new) = store
            .take_seat(&req("acad", "after", "pc", "c-after"), &OPEN, now())
            .await
            .unwrap();
        assert!(new);
        assert_eq!(
            store.live_leases(REALM, now()).await.unwrap()[0].id,
            lease.id
        );
    }
}

/// A checkout grants without counting the holders while the pool has fewer lease rows
/// than seats (`pool_lease_rows`): after check-ins, lapses and sweeps that count must
/// still never be below the seats held, or a full pool would be oversold.
#[tokio::test]
async fn the_pools_row_count_follows_check_ins_lapses_and_sweeps() {
    for (store, _keep) in stores_with(vec![pool("p", &["acad"], 3, 0)]).await {
        let t0 = now();
        for round in 0..4 {
            let t = t0 + round * 200_000;
            let mut held = Vec::new();
            for i in 0..3 {
                let (lease, new) = store
                    .take_seat(
                        &req(
                            "acad",
                            &format!("u{round}-{i}"),
                            "pc",
                            &format!("c{round}-{i}"),
                        ),
                        &OPEN,
                        t,
                    )
                    .await
                    .unwrap_or_else(|e| panic!("round {round}, seat {i}: {e}"));
                assert!(new);
                held.push(lease);
            }
            // A second lease of the same user and host shares the seat.
            store
                .take_seat(
                    &req(
                        "acad",
                        &format!("u{round}-0"),
                        "pc",
                        &format!("again{round}"),
                    ),
                    &OPEN,
                    t,
                )
                .await
                .unwrap();
            assert!(
                matches!(
                    store
                        .take_seat(&req("acad", "extra", "pc", &format!("x{round}")), &OPEN, t)
                        .await,
                    Err(SeatError::NoSeat { .. })
                ),
                "round {round}: a full pool is not oversold"
            );
            // One checked in, the rest left to lapse; every other round they are swept.
            store
                .end(REALM, &held[1].id, None, t, EndReason::CheckedIn)
                .await
                .unwrap();
            if round % 2 == 1 {
                store.sweep_expired(t + 150_000).await.unwrap();
            }
        }
    }
}
