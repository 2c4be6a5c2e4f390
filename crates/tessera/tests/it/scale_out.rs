//! Scale-out: two `tessera portal` processes on one PostgreSQL database serve the same
//! organization's web license server. Many programs (distinct users and hosts) hammer
//! both nodes with checkouts of one pool and never hold more seats than it has; a lease
//! taken on one node heartbeats and checks in on the other; and after `kill -9` of one
//! node in the middle of the traffic, every acknowledged lease goes on on the other and
//! the seats stay consistent. Needs PostgreSQL: skipped with a message without one,
//! required when `TESSERA_REQUIRE_POSTGRES` is set (CI).

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Api, PortalProcess, Vendor};
use serde_json::{Value, json};
use tessera_core::{LicenseModel, PoolSpec};
use tessera_store::Store;
use tessera_store::testing::TestDatabase;

const REALM: &str = "acme";
const SEATS: usize = 6;
const PRODUCT: &str = "autocad";

/// A portal node on the shared database, and its organization's web license server.
struct Node {
    portal: PortalProcess,
    api: Api,
    _data: tempfile::TempDir,
}

impl Node {
    fn start(vendor: &Vendor, database_url: &str) -> Node {
        let data = tempfile::tempdir().unwrap();
        let portal = PortalProcess::start(
            data.path(),
            Some(vendor),
            &[
                "--database-url",
                database_url,
                // Every request of this test comes from 127.0.0.1: no per-address limit.
                "--rate-limit",
                "0",
                "--org-rate-limit",
                "0",
            ],
        );
        Node {
            api: Api::new(&format!("{}/w/{REALM}", portal.url)),
            portal,
            _data: data,
        }
    }

    fn kill9(&mut self) {
        self.portal.kill9();
    }
}

/// A lease as granted: its id and seat token.
#[derive(Clone, Debug)]
struct Lease {
    id: String,
    token: String,
}

/// The organization's site key, the credential every checkout carries.
static SITE_KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn checkout(api: &Api, user: &str, host: &str) -> Result<Result<Lease, u16>, ureq::Error> {
    let (status, v) = api.try_post_json(
        "/api/v1/leases",
        SITE_KEY.get().map(String::as_str),
        &json!({"product": PRODUCT, "user": user, "host": host, "client_id": format!("{user}@{host}")}),
    )?;
    Ok(match status {
        200 | 201 => Ok(Lease {
            id: v["lease_id"].as_str().unwrap().to_owned(),
            token: v["token"].as_str().unwrap().to_owned(),
        }),
        409 => Err(409),
        other => panic!("checkout: {other} {v}"),
    })
}

fn heartbeat(api: &Api, lease: &Lease) -> Result<(u16, Value), ureq::Error> {
    api.try_post_json(
        &format!("/api/v1/leases/{}/heartbeat", lease.id),
        Some(&lease.token),
        &json!({}),
    )
}

fn checkin(api: &Api, lease: &Lease) -> Result<(u16, Value), ureq::Error> {
    api.try_checkin(&json!({"lease_id": lease.id, "token": lease.token}))
}

fn live_seats(rt: &tokio::runtime::Runtime, store: &Store) -> usize {
    rt.block_on(async {
        let now = tessera_core::to_millis(Utc::now());
        let usage = store.pool_usage(REALM, now).await.unwrap();
        usage.iter().map(|u| (u.in_use + u.borrowed) as usize).sum()
    })
}

#[test]
fn two_portal_nodes_on_one_postgresql_never_over_allocate_and_lose_nothing_when_one_dies() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestDatabase::create()) else {
        eprintln!(
            "skipped: the scale-out test needs PostgreSQL (set TESSERA_TEST_POSTGRES, or TESSERA_REQUIRE_POSTGRES=1 to make it required)"
        );
        return;
    };
    // The organization's web license server with one pool of SEATS seats, as a paid
    // order leaves it (the schema is made here, before the nodes start).
    let store = rt.block_on(Store::open_url(&db.url)).unwrap();
    let now = Utc::now();
    rt.block_on(tessera_server::grant_web_pools(
        &store,
        REALM,
        "Acme",
        "order-1",
        vec![PoolSpec {
            id: "acme-autocad".into(),
            products: vec![PRODUCT.into()],
            model: LicenseModel::Floating,
            seats: SEATS as u32,
            start: now - chrono::Duration::days(1),
            end: now + chrono::Duration::days(30),
            borrow_max_hours: 0,
        }],
        tessera_core::to_millis(now),
    ))
    .unwrap();
    let (_, key) = rt
        .block_on(tessera_server::credential::add_site_key(
            &store,
            REALM,
            "Acme PCs",
            "test",
            tessera_core::to_millis(now),
        ))
        .unwrap();
    SITE_KEY.set(key).unwrap();

    let vendor = Vendor::new();
    let mut a = Node::start(&vendor, &db.url);
    let b = Node::start(&vendor, &db.url);

    // A lease taken on A heartbeats and checks in on B; A then knows it is gone.
    let lease = checkout(&a.api, "anna", "pc-anna").unwrap().unwrap();
    let (status, v) = heartbeat(&b.api, &lease).unwrap();
    assert_eq!(status, 200, "a heartbeat on the other node: {v}");
    assert_eq!(v["lease_id"], lease.id.as_str());
    assert_eq!(
        v["token"],
        lease.token.as_str(),
        "B verifies A's fresh token and answers it again instead of signing a new one"
    );
    assert_eq!(live_seats(&rt, &store), 1);
    assert_eq!(checkin(&b.api, &lease).unwrap().0, 204);
    let (status, v) = heartbeat(&a.api, &lease).unwrap();
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("lease_not_found"))
    );
    assert_eq!(live_seats(&rt, &store), 0);

    // Phase 1: both nodes alive, 4×SEATS programs race for SEATS seats.
    let stats = hammer(&[&a.api, &b.api], None, &rt, &store, Duration::from_secs(4));
    eprintln!(
        "both nodes: {} granted, {} refused, at most {} held and {} in the database",
        stats.granted, stats.refused, stats.max_held, stats.max_db
    );
    assert!(stats.granted >= SEATS, "seats were taken: {stats:?}");
    assert!(stats.refused > 0, "the pool was contended: {stats:?}");
    assert!(
        stats.max_db <= SEATS,
        "the database never held more: {stats:?}"
    );
    release(&b.api, &stats.held);
    assert_eq!(live_seats(&rt, &store), 0);

    // Phase 2: the same, and A is killed with -9 in the middle of it.
    let dead = Arc::new(AtomicBool::new(false));
    let killer = {
        let dead = dead.clone();
        move |a: &mut Node| {
            std::thread::sleep(Duration::from_millis(1500));
            a.kill9();
            dead.store(true, Ordering::SeqCst);
        }
    };
    let stats = std::thread::scope(|s| {
        let a_api = Api::new(&a.api.base);
        let kill = s.spawn(|| killer(&mut a));
        let stats = hammer(
            &[&a_api, &b.api],
            Some(&dead),
            &rt,
            &store,
            Duration::from_secs(4),
        );
        kill.join().unwrap();
        stats
    });
    assert!(dead.load(Ordering::SeqCst));
    eprintln!(
        "A killed: {} granted ({} by A), {} refused, at most {} held and {} in the database, {} held at the end",
        stats.granted,
        stats.granted_by_a,
        stats.refused,
        stats.max_held,
        stats.max_db,
        stats.held.len()
    );
    assert!(stats.max_db <= SEATS, "never more than the pool: {stats:?}");
    assert!(
        stats.granted_by_a > 0,
        "some leases were acknowledged by A before it died: {stats:?}"
    );
    // Every lease acknowledged and not checked in is still held: it heartbeats on B.
    for lease in &stats.held {
        let (status, v) = heartbeat(&b.api, lease).unwrap();
        assert_eq!(status, 200, "an acknowledged lease was lost: {v}");
    }
    let live = live_seats(&rt, &store);
    assert!(
        live >= stats.held.len() && live <= SEATS,
        "seats in the database ({live}) match the acknowledged leases ({})",
        stats.held.len()
    );
    // And the pool still counts right on the survivor: fill it, the next one is refused.
    let mut extra = Vec::new();
    for i in 0..SEATS {
        match checkout(&b.api, &format!("late{i}"), &format!("late-pc{i}")).unwrap() {
            Ok(l) => extra.push(l),
            Err(409) => break,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(
        live_seats(&rt, &store),
        SEATS,
        "the pool fills up to its seats"
    );
    assert_eq!(
        checkout(&b.api, "one-too-many", "pc-x").unwrap().err(),
        Some(409)
    );
    release(&b.api, &stats.held);
    release(&b.api, &extra);
    // Seats taken by checkouts A committed but could not answer lapse with their TTL;
    // every acknowledged one was returned.
    assert!(live_seats(&rt, &store) <= SEATS - stats.held.len().min(SEATS));
    drop(b);
    rt.block_on(store.close());
}

/// One protocol call on a node: its status and body, or a failed connection.
type Call<'a> = dyn Fn(&Api) -> Result<(u16, Value), ureq::Error> + 'a;

#[derive(Debug, Default)]
struct Stats {
    granted: usize,
    granted_by_a: usize,
    refused: usize,
    /// The most seats held at once by acknowledged leases, as the programs counted them.
    max_held: usize,
    /// The most seats the database showed in use at once.
    max_db: usize,
    /// Leases acknowledged and not checked in at the end.
    held: Vec<Lease>,
}

/// 4×SEATS programs, each its own user and host, for `run`: each takes a seat on one
/// node, heartbeats it on the other, checks in on either, and again. A program counts
/// itself holding from the grant until just before its check-in, so the count may only
/// be below the seats really held; it must never pass the pool's seats. While it runs,
/// the database is sampled and must never show more either. `dead` marks node 0 as
/// killed: calls to it may fail, and are then made on node 1.
fn hammer(
    nodes: &[&Api; 2],
    dead: Option<&AtomicBool>,
    rt: &tokio::runtime::Runtime,
    store: &Store,
    run: Duration,
) -> Stats {
    let holding = AtomicUsize::new(0);
    let stats = Mutex::new(Stats::default());
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + run;
    let (held, max_db) = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut max = 0;
            while !stop.load(Ordering::SeqCst) {
                max = max.max(live_seats(rt, store));
                std::thread::sleep(Duration::from_millis(15));
            }
            max
        });
        let workers: Vec<_> = (0..4 * SEATS)
            .map(|w| {
                let holding = &holding;
                let stats = &stats;
                s.spawn(move || {
                    let user = format!("user{w}");
                    let host = format!("pc{w}");
                    let mut held: Option<Lease> = None;
                    let mut round = 0usize;
                    // Calls `f` on node `n`, or on node 1 when node 0 is down.
                    let on = |n: usize, f: &Call<'_>| match f(nodes[n]) {
                        Ok(r) => r,
                        Err(e) => {
                            assert!(n == 0 && dead.is_some(), "node {n} failed while alive: {e}");
                            f(nodes[1]).expect("node 1 is up")
                        }
                    };
                    while Instant::now() < deadline {
                        round += 1;
                        let n = (w + round) % 2;
                        match &held {
                            None => {
                                let got = match checkout(nodes[n], &user, &host) {
                                    Ok(r) => Some((r, n)),
                                    Err(_) if n == 0 && dead.is_some() => None,
                                    Err(e) => panic!("node {n} failed while alive: {e}"),
                                };
                                match got {
                                    Some((Ok(lease), by)) => {
                                        let now_holding =
                                            holding.fetch_add(1, Ordering::SeqCst) + 1;
                                        let mut st = stats.lock().unwrap();
                                        st.granted += 1;
                                        if by == 0 {
                                            st.granted_by_a += 1;
                                        }
                                        st.max_held = st.max_held.max(now_holding);
                                        assert!(
                                            now_holding <= SEATS,
                                            "{now_holding} acknowledged leases for {SEATS} seats"
                                        );
                                        held = Some(lease);
                                    }
                                    Some((Err(_), _)) => {
                                        stats.lock().unwrap().refused += 1;
                                        std::thread::sleep(Duration::from_millis(5));
                                    }
                                    None => {}
                                }
                            }
                            Some(lease) if round.is_multiple_of(4) => {
                                holding.fetch_sub(1, Ordering::SeqCst);
                                let (status, v) = on(n, &|api| checkin(api, lease));
                                // 404: a node that died after checking it in did not answer.
                                assert!(status == 204 || status == 404, "check-in: {status} {v}");
                                held = None;
                            }
                            Some(lease) => {
                                let (status, v) = on(n, &|api| heartbeat(api, lease));
                                assert_eq!(status, 200, "a held lease heartbeats on node {n}: {v}");
                                std::thread::sleep(Duration::from_millis(10));
                            }
                        }
                    }
                    held
                })
            })
            .collect();
        let held: Vec<Lease> = workers
            .into_iter()
            .filter_map(|w| w.join().unwrap())
            .collect();
        stop.store(true, Ordering::SeqCst);
        (held, sampler.join().unwrap())
    });
    let mut st = stats.into_inner().unwrap();
    st.max_db = max_db;
    st.held = held;
    st
}

fn release(api: &Api, leases: &[Lease]) {
    for l in leases {
        let (status, v) = checkin(api, l).unwrap();
        assert!(status == 204 || status == 404, "{status} {v}");
    }
}
