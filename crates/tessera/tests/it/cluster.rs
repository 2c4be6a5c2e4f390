//! An office that keeps working when its license server machine stops: clients given a
//! list of nodes (`TESSERA_SERVER=http://a:27080,http://b:27080`) move to the next one
//! that answers, and `tessera server --database-url postgres://…` runs a LAN server as
//! several nodes on one PostgreSQL database, all serving: one identity, one set of
//! activations, one policy, site keys and seats shared. With real processes on loopback:
//! a list whose first node is down or hangs; two nodes sharing seats, leases and policy;
//! `kill -9` of one node under 30 programs holding and cycling seats through the client
//! library; and a database dumped into another cluster refused. The PostgreSQL tests
//! are skipped with a message without a server, required when `TESSERA_REQUIRE_POSTGRES`
//! is set (CI).

use crate::common;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use serde_json::Value;
use tessera_client::{Client, ClientConfig, ClientError, LicenseStatus};
use tessera_store::Store;
use tessera_store::testing::TestDatabase;

fn client_for(servers: &str, vendor: &Vendor, user: &str) -> Client {
    Client::new(
        ClientConfig::builder()
            .server(servers)
            .vendor_key(vendor.verifying_key())
            .user(user)
            .host(format!("{user}-pc"))
            .build()
            .unwrap(),
    )
}

/// An address where nothing listens: connecting is refused at once.
fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn a_client_given_a_list_uses_the_next_node_when_the_first_is_down_or_hangs() {
    let (vendor, server) = acad_server(2);
    // Down: the connection is refused.
    let down = dead_url();
    let client = client_for(&format!("{down},{}", server.url), &vendor, "anna");
    let started = Instant::now();
    let license = client.checkout("acad").unwrap();
    eprintln!("checkout past a stopped node: {:?}", started.elapsed());
    assert_eq!(client.server(), server.url, "the node that answered");
    assert_eq!(server.api().in_use("p"), 1);
    license.check_in().unwrap();
    assert_eq!(server.api().in_use("p"), 0);

    // Hangs: it takes the connection (the listener's backlog) and never answers. The
    // next node answers within 5 s.
    let hanging = TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging_url = format!("http://{}", hanging.local_addr().unwrap());
    let client = client_for(&format!("{hanging_url},{}", server.url), &vendor, "bob");
    let started = Instant::now();
    let license = client.checkout("acad").unwrap();
    let failover = started.elapsed();
    eprintln!("checkout past a node that does not answer: {failover:?}");
    assert!(
        failover < Duration::from_secs(5),
        "the next node is asked within 5 s, took {failover:?}"
    );
    assert_eq!(client.server(), server.url);
    // Later calls go straight to the node that answered.
    let started = Instant::now();
    license.check_in().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.api().in_use("p"), 0);
    drop(hanging);

    // Every node down: the error names the last one tried, and is transient.
    let client = client_for(&format!("{},{}", dead_url(), dead_url()), &vendor, "cleo");
    let err = client.checkout("acad").unwrap_err();
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");

    // `tessera status` with the list says which node answered.
    let list = format!("{down},{}", server.url);
    let (out, stdout, stderr) = texts(
        tessera()
            .args(["status", "--server", &list])
            .output()
            .unwrap(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(" at {}", server.url)),
        "status names the node that answered:\n{stdout}"
    );
    assert!(
        stdout.contains("node ") && stdout.contains(" answered"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("nodes listed: {down}, {}", server.url)),
        "{stdout}"
    );
    // A list with an empty entry is a mistake the user is told about.
    let (out, _, stderr) = texts(
        tessera()
            .args(["status", "--server", &format!("{},", server.url)])
            .output()
            .unwrap(),
    );
    assert!(!out.status.success());
    assert!(stderr.contains("empty entry"), "{stderr}");
}

/// One LAN server node on the shared database.
fn node(vendor: &Vendor, url: &str, name: &str, port: Option<u16>, env: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap().keep();
    let opts = ServerOpts {
        lease_ttl: 20,
        heartbeat: 2,
        extra: [
            "--database-url",
            url,
            "--node-name",
            name,
            // Every request of these tests comes from 127.0.0.1: no per-address limit.
            "--rate-limit",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    Server::start_in(&dir.join(name), &vendor.public_path(), opts, port)
}

/// `tessera server SUB --database-url URL …` as the node's admin runs it.
fn db_cli(node: &Server, url: &str, sub: &str, args: &[&str]) -> String {
    let mut all = vec!["--database-url", url];
    all.extend_from_slice(args);
    let (out, stdout, stderr) = node.cli(sub, &all);
    assert!(out.status.success(), "{sub}: {stdout}\n{stderr}");
    stdout.trim().to_owned()
}

fn activate_in(node: &Server, url: &str, key: &str) {
    let file = node.data.with_extension("key");
    std::fs::write(&file, key).unwrap();
    db_cli(node, url, "activate", &[file.to_str().unwrap()]);
}

fn live_seats(rt: &tokio::runtime::Runtime, store: &Store) -> (u32, u32) {
    rt.block_on(async {
        let now = tessera_core::to_millis(Utc::now());
        let usage = store.pool_usage("lan", now).await.unwrap();
        let held = usage.iter().map(|u| u.in_use + u.borrowed).sum();
        let seats = usage.iter().map(|u| u.pool.seats).sum();
        (held, seats)
    })
}

/// Waits (up to `limit`) for `check` to hold.
fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    check()
}

#[test]
fn two_lan_nodes_on_one_postgresql_share_identity_seats_leases_and_policy() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestDatabase::create()) else {
        eprintln!("skipped: needs PostgreSQL (TESSERA_REQUIRE_POSTGRES=1 makes it required)");
        return;
    };
    let vendor = Vendor::new();
    let a = node(&vendor, &db.url, "node-a", None, &[]);
    let b = node(&vendor, &db.url, "node-b", None, &[]);
    let reg = db_cli(&a, &db.url, "registration-key", &[]);
    assert_eq!(
        reg,
        db_cli(&b, &db.url, "registration-key", &[]),
        "one identity"
    );
    let token = db_cli(&a, &db.url, "admin-token", &[]);
    activate_in(
        &a,
        &db.url,
        &vendor.activation(&reg, vec![pool("p", &["acad"], 2, 0)]),
    );

    // Both nodes serve the pool at once, with one server key and one registration key.
    let (_, info_a) = a.api().get("/api/v1/server", None);
    let (_, info_b) = b.api().get("/api/v1/server", None);
    assert_eq!(info_a["registration_key"], info_b["registration_key"]);
    assert_eq!(info_a["public_key"], info_b["public_key"]);
    assert_eq!(info_a["node"], "node-a");
    assert_eq!(info_b["node"], "node-b");

    // A lease taken on A heartbeats and checks in on B; seats are counted across both.
    let (status, lease) = a.api().checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{lease}");
    let (status, beat) = b.api().heartbeat(&lease);
    assert_eq!(status, 200, "a lease made on A heartbeats on B: {beat}");
    let (status, second) = b.api().checkout("acad", "bob", "pc2", "c2");
    assert_eq!(status, 201, "{second}");
    let (status, full) = a.api().checkout("acad", "cleo", "pc3", "c3");
    assert_eq!(
        status, 409,
        "two seats, both taken through either node: {full}"
    );
    assert_eq!(code(&full), "no_seat_available");
    let (status, _) = a.api().checkin(&second);
    assert_eq!(status, 204, "a lease made on B checks in on A");
    assert_eq!(b.api().in_use("p"), 1);

    // Admin calls on either node: the lease list, with the same token.
    let (status, list) = b.api().get("/api/v1/admin/leases", Some(&token));
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["leases"].as_array().unwrap().len(), 1);
    let page = b.admin_page("/");
    assert!(page.contains("node-b"), "the live page names its node");

    // The policy lives in the database: set on A, in force on B within a sweep.
    let policy = "[[rule]]\nproduct = \"acad\"\nexclude = [\"user:mallory\"]\n";
    let (status, body) = a.api().post_raw_method(
        "PUT",
        "/api/v1/admin/policy",
        Some(&token),
        "application/toml",
        policy.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        eventually(Duration::from_secs(20), || {
            let (_, p) = b.api().get("/api/v1/admin/policy", Some(&token));
            p["policy"].as_str() == Some(policy)
        }),
        "node B takes the policy set on node A"
    );
    let (status, refused) = b.api().checkout("acad", "mallory", "pc9", "c9");
    assert_eq!(status, 403, "{refused}");

    // Site keys made with the CLI on the database apply on every node.
    let site_key = |args: &[&str]| {
        let (out, stdout, stderr) = texts(
            tessera()
                .args(["server", "site-key"])
                .args(args)
                .args(["--database-url", &db.url])
                .output()
                .unwrap(),
        );
        assert!(out.status.success(), "{stdout}\n{stderr}");
        stdout.trim().to_owned()
    };
    let key = site_key(&["add", "office"]);
    assert!(key.starts_with("tsk_"), "{key}");
    assert!(site_key(&["list"]).contains("office"));
    // The key is good on either node.
    let (status, body) = b.api().get("/api/v1/server", Some(&key));
    assert_eq!(status, 200, "{body}");

    // A node started with another vendor's key refuses to start, and leaves the
    // activations in service for the others.
    let stranger = Vendor::new();
    let mut c = tessera()
        .args([
            "server",
            "--database-url",
            &db.url,
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--vendor-public-key")
        .arg(stranger.public_path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while c.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = c.kill();
            let _ = c.wait();
            panic!("a node with another vendor key started");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = c.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("same vendor key"), "{stderr}");
    assert_eq!(a.api().in_use("p"), 1, "the pool is still in service");

    // `tessera status` against B names it.
    let (out, stdout, stderr) = texts(
        tessera()
            .args(["status", "--server", &format!("{},{}", dead_url(), b.url)])
            .output()
            .unwrap(),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("node node-b answered"), "{stdout}");

    // Backups of a database are PostgreSQL's business, and the CLI says so.
    let (out, _, stderr) = a.cli("backup", &["--database-url", &db.url, "/tmp/nowhere"]);
    assert!(!out.status.success());
    assert!(stderr.contains("pg_dump"), "{stderr}");
    // A URL that is not PostgreSQL is refused with a clear message, not a panic.
    let (out, _, stderr) = a.cli("registration-key", &["--database-url", "mysql://x@y/z"]);
    assert!(!out.status.success());
    assert!(stderr.contains("must be a PostgreSQL URL"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn thirty_programs_keep_their_licenses_when_a_node_is_killed_and_it_rejoins() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestDatabase::create()) else {
        eprintln!("skipped: needs PostgreSQL (TESSERA_REQUIRE_POSTGRES=1 makes it required)");
        return;
    };
    const PROGRAMS: usize = 30;
    const SEATS: u32 = 20;
    let vendor = Vendor::new();
    let mut a = node(&vendor, &db.url, "node-a", None, &[]);
    let b = node(&vendor, &db.url, "node-b", None, &[]);
    let reg = db_cli(&a, &db.url, "registration-key", &[]);
    activate_in(
        &a,
        &db.url,
        &vendor.activation(&reg, vec![pool("p", &["acad"], SEATS, 0)]),
    );
    let store = rt.block_on(Store::open_url(&db.url)).unwrap();
    // Half the programs list A first, half B: both nodes hand out seats of the one pool
    // at once before the kill; after it, A's programs move to B.
    let lists = [
        format!("{},{}", a.url, b.url),
        format!("{},{}", b.url, a.url),
    ];
    let heartbeat = Duration::from_secs(a.opts.heartbeat);

    let stop = Arc::new(AtomicBool::new(false));
    let worst_gap = Arc::new(Mutex::new(Duration::ZERO));
    let problems = Arc::new(Mutex::new(Vec::<String>::new()));
    let cycles = Arc::new(AtomicUsize::new(0));
    let over = Arc::new(AtomicUsize::new(0));

    // Watches the seat count in the database the whole time.
    let watcher = {
        let (stop, over) = (stop.clone(), over.clone());
        let url = db.url.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            let store = rt.block_on(Store::open_url(&url)).unwrap();
            let mut most = 0;
            while !stop.load(Ordering::Relaxed) {
                let (held, seats) = live_seats(&rt, &store);
                if held > seats {
                    over.fetch_add(1, Ordering::Relaxed);
                }
                most = most.max(held);
                std::thread::sleep(Duration::from_millis(100));
            }
            rt.block_on(store.close());
            most
        })
    };

    let programs: Vec<_> = (0..PROGRAMS)
        .map(|i| {
            let client = client_for(&lists[i % 2], &vendor, &format!("user{i}"));
            let (stop, worst_gap, problems, cycles) = (
                stop.clone(),
                worst_gap.clone(),
                problems.clone(),
                cycles.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let license = match client.checkout("acad") {
                        Ok(l) => l,
                        Err(ClientError::NoSeatAvailable { .. }) => {
                            std::thread::sleep(Duration::from_millis(300));
                            continue;
                        }
                        Err(e) => {
                            problems
                                .lock()
                                .unwrap()
                                .push(format!("user{i} checkout: {e}"));
                            std::thread::sleep(Duration::from_millis(300));
                            continue;
                        }
                    };
                    let id = license.lease_id();
                    // Holds the seat for a few heartbeats, watching each fresh token.
                    let hold = Duration::from_millis(4000 + (i as u64 % 7) * 500);
                    let held_since = Instant::now();
                    let mut token = license.token();
                    let mut last_fresh = Instant::now();
                    while held_since.elapsed() < hold && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(100));
                        let now = license.token();
                        if now != token {
                            let gap = last_fresh.elapsed();
                            let mut worst = worst_gap.lock().unwrap();
                            *worst = (*worst).max(gap);
                            token = now;
                            last_fresh = Instant::now();
                        }
                        if let LicenseStatus::Lost(e) = license.status() {
                            problems.lock().unwrap().push(format!("user{i} lost: {e}"));
                            break;
                        }
                        if !license.is_valid() {
                            problems
                                .lock()
                                .unwrap()
                                .push(format!("user{i}: license not valid"));
                            break;
                        }
                    }
                    // The time since the last fresh token counts too.
                    let gap = last_fresh.elapsed();
                    if gap > heartbeat {
                        let mut worst = worst_gap.lock().unwrap();
                        *worst = (*worst).max(gap.saturating_sub(Duration::from_millis(100)));
                    }
                    if license.lease_id() != id {
                        problems
                            .lock()
                            .unwrap()
                            .push(format!("user{i}: the lease was taken again ({id} lapsed)"));
                    }
                    if let Err(e) = license.check_in() {
                        problems
                            .lock()
                            .unwrap()
                            .push(format!("user{i} check-in: {e}"));
                    }
                    cycles.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    // Traffic on both, then node A dies without a word.
    std::thread::sleep(Duration::from_secs(10));
    let before_kill = cycles.load(Ordering::Relaxed);
    let a_port = a.port();
    a.kill9();
    let killed_at = Instant::now();
    std::thread::sleep(Duration::from_secs(15));
    let after_kill = cycles.load(Ordering::Relaxed) - before_kill;

    // A comes back on its port and serves again, for leases made on B too.
    let mut a2 = node(&vendor, &db.url, "node-a", Some(a_port), &[]);
    assert_eq!(a2.url, a.url);
    std::thread::sleep(Duration::from_secs(8));
    stop.store(true, Ordering::Relaxed);
    for p in programs {
        p.join().unwrap();
    }
    let most = watcher.join().unwrap();

    let worst = *worst_gap.lock().unwrap();
    let problems = problems.lock().unwrap().clone();
    eprintln!(
        "{PROGRAMS} programs, {} cycles ({before_kill} before the kill, {after_kill} in the {:?} after), \
         at most {most} of {SEATS} seats held, longest time without a fresh token {worst:?} \
         (heartbeat every {heartbeat:?})",
        cycles.load(Ordering::Relaxed),
        Duration::from_secs(15).min(killed_at.elapsed()),
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(
        over.load(Ordering::Relaxed),
        0,
        "never more seats held than the pool has"
    );
    assert!(most <= SEATS);
    assert!(after_kill > 0, "programs kept cycling seats after the kill");
    assert!(
        worst <= heartbeat + Duration::from_secs(5),
        "no gap longer than a heartbeat interval plus 5 s: {worst:?}"
    );
    // Every program checked in: nothing is left held.
    assert!(
        eventually(Duration::from_secs(10), || live_seats(&rt, &store).0 == 0),
        "{:?} seats still held",
        live_seats(&rt, &store)
    );
    // The restarted A serves a lease made on B.
    let (status, lease) = b.api().checkout("acad", "zoe", "pcz", "cz");
    assert_eq!(status, 201, "{lease}");
    let (status, _) = a2.api().heartbeat(&lease);
    assert_eq!(status, 200);
    let (status, info) = a2.api().get("/api/v1/server", None);
    assert_eq!(status, 200);
    assert_eq!(info["node"], "node-a");
    a2.terminate();
    rt.block_on(store.close());
}

#[test]
fn a_database_restored_into_another_cluster_gets_a_new_registration_key_and_no_activations() {
    // One PostgreSQL cannot be two clusters: the restored copy goes into a second database
    // of the same server, and the node on it is told another cluster's system identifier
    // (TESSERA_TEST_PG_SYSTEM_IDENTIFIER, read where pg_control_system() is read).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(original) = rt.block_on(TestDatabase::create()) else {
        eprintln!("skipped: needs PostgreSQL (TESSERA_REQUIRE_POSTGRES=1 makes it required)");
        return;
    };
    let copy = rt.block_on(TestDatabase::create()).unwrap();
    let vendor = Vendor::new();
    let mut a = node(&vendor, &original.url, "node-a", None, &[]);
    let reg = db_cli(&a, &original.url, "registration-key", &[]);
    activate_in(
        &a,
        &original.url,
        &vendor.activation(&reg, vec![pool("p", &["acad"], 3, 0)]),
    );
    let (status, lease) = a.api().checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{lease}");
    a.terminate();

    // pg_dump of the original restored into the copy.
    let dump = std::process::Command::new("pg_dump")
        .args(["--no-owner", "--dbname", &original.url])
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let mut psql = std::process::Command::new("psql")
        .args(["--quiet", "-v", "ON_ERROR_STOP=1", "--dbname", &copy.url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("psql runs");
    {
        use std::io::Write;
        psql.stdin.take().unwrap().write_all(&dump.stdout).unwrap();
    }
    assert!(psql.wait().unwrap().success());

    // In the same cluster (as a promoted physical replica would be) the copy is the
    // same server: same registration key, pools in service.
    let same = node(&vendor, &copy.url, "node-same", None, &[]);
    assert_eq!(db_cli(&same, &copy.url, "registration-key", &[]), reg);
    let (status, body) = same.api().checkout("acad", "bob", "pc2", "c2");
    assert_eq!(status, 201, "{body}");
    drop(same);

    // In another cluster it is another server: a new registration key, and the old
    // activations out of service.
    let other = [(
        tessera_store::SYSTEM_IDENTIFIER_OVERRIDE_ENV,
        "1234567890123456789",
    )];
    let moved = node(&vendor, &copy.url, "node-moved", None, &other);
    let new_reg = db_cli(&moved, &copy.url, "registration-key", &[]);
    assert_ne!(new_reg, reg, "another cluster, another registration key");
    let (_, info) = moved.api().get("/api/v1/server", None);
    assert_eq!(info["registration_key"], Value::String(new_reg));
    assert_eq!(info["products"].as_array().unwrap().len(), 0, "{info}");
    let (status, body) = moved.api().checkout("acad", "cleo", "pc3", "c3");
    assert_eq!(status, 404, "{body}");
    assert_eq!(code(&body), "unknown_product");
}
