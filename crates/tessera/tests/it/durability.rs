//! Leases are durable: a restart, even after kill -9 in the middle of a rush of checkouts,
//! is invisible to clients whose leases are within their TTL, and never hands out more
//! seats than a pool has.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn live_ids(server: &Server) -> HashSet<String> {
    server
        .admin_leases()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn leases_survive_a_kill_9_restart_and_their_tokens_still_heartbeat() {
    let (_vendor, mut server) = acad_server(3);
    let api = server.api();
    let (_, a1) = api.checkout("acad", "anna", "pc1", "c1");
    let (_, a2) = api.checkout("acad", "anna", "pc1", "c2");
    let (_, b) = api.checkout("acad", "bob", "pc2", "c3");
    for l in [&a1, &a2, &b] {
        assert!(l["token"].is_string(), "{l}");
    }
    assert_eq!(api.in_use("p"), 2);
    let ids_before = live_ids(&server);
    assert_eq!(ids_before.len(), 3);
    let (_, info_before) = api.get("/api/v1/server", None);

    server.restart();
    let api = server.api();

    let (_, info_after) = api.get("/api/v1/server", None);
    assert_eq!(info_after["public_key"], info_before["public_key"]);
    assert_eq!(api.in_use("p"), 2, "the same seats are held");
    assert_eq!(live_ids(&server), ids_before, "the same leases are live");
    for l in [&a1, &a2, &b] {
        let (status, body) = api.heartbeat(l);
        assert_eq!(status, 200, "a token from before the restart: {body}");
        assert_eq!(body["lease_id"], l["lease_id"]);
    }
    // A client retrying its checkout after the restart finds its lease.
    let (status, again) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["lease_id"], a1["lease_id"]);
    // Seat accounting goes on from where it was: one seat left.
    assert_eq!(api.checkout("acad", "carl", "pc3", "c4").0, 201);
    let (status, body) = api.checkout("acad", "dora", "pc4", "c5");
    assert_eq!((status, code(&body)), (409, "no_seat_available"), "{body}");
    assert_eq!(api.checkin(&b).0, 204);
    assert_eq!(api.in_use("p"), 2);
}

/// What one client thread learned: leases it was granted (201) and still holds, and any
/// answer that no checkout may ever give.
#[derive(Default)]
struct Outcome {
    held: Vec<Value>,
    unexpected: Vec<String>,
}

/// Checkouts for ever new users, with check-ins in between, until the server is gone.
fn rush(api: Api, round: usize, thread: usize, stop: Arc<AtomicBool>) -> Outcome {
    let mut out = Outcome::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in 0.. {
        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
            break;
        }
        let user = format!("u{round}-{thread}-{i}");
        let client = format!("c{round}-{thread}-{i}");
        match api.try_checkout("acad", &user, &format!("h{thread}"), &client) {
            Ok((201, lease)) => out.held.push(lease),
            Ok((409, body)) if code(&body) == "no_seat_available" => {}
            Ok((status, body)) => out.unexpected.push(format!("checkout {status}: {body}")),
            Err(_) => break, // the server is gone
        }
        // Give a seat back now and then. Once the check-in is sent its outcome is
        // uncertain (the kill may land before or after it), so the lease is no longer
        // counted as held either way.
        if i % 3 == 2 && !out.held.is_empty() {
            let lease = out.held.remove(0);
            match api.try_checkin(&lease) {
                Ok((204, _)) => {}
                Ok((status, body)) => out.unexpected.push(format!("check-in {status}: {body}")),
                Err(_) => break,
            }
        }
    }
    out
}

#[test]
fn kill_9_during_concurrent_checkouts_never_loses_a_granted_lease_nor_oversells_seats() {
    const SEATS: u64 = 5;
    const THREADS: usize = 16;
    // The default TTL, 120 s: nothing lapses during the test.
    let (_vendor, mut server) = acad_server(SEATS as u32);
    let admin = server.admin_token();
    let mut total_granted = 0;
    for round in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let api = server.api();
                let stop = stop.clone();
                std::thread::spawn(move || rush(api, round, t, stop))
            })
            .collect();
        // Let the rush run, then pull the plug in the middle of it.
        std::thread::sleep(Duration::from_millis(300 + 150 * round as u64));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let outcomes: Vec<Outcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let unexpected: Vec<&String> = outcomes.iter().flat_map(|o| &o.unexpected).collect();
        assert!(unexpected.is_empty(), "round {round}: {unexpected:?}");
        let held: Vec<&Value> = outcomes.iter().flat_map(|o| &o.held).collect();
        total_granted += held.len();
        eprintln!(
            "round {round}: {} leases held by the clients at the kill",
            held.len()
        );

        server.restart();
        let api = server.api();
        let used = api.in_use("p");
        assert!(
            used <= SEATS,
            "round {round}: {used} seats in use of {SEATS}"
        );
        // Every lease a client was told it has is still there (each user is distinct,
        // so each is a seat of its own).
        for lease in &held {
            let (status, body) = api.heartbeat(lease);
            assert_eq!(
                status, 200,
                "round {round}: lease {} granted before the kill: {body}",
                lease["lease_id"]
            );
        }
        assert!(
            held.len() as u64 <= SEATS,
            "round {round}: {} working leases granted for {SEATS} seats",
            held.len()
        );
        assert!(
            held.len() as u64 <= used,
            "round {round}: {} leases held by clients but only {used} seats in use",
            held.len()
        );
        // Seats the server shows as used are real leases; topping up stops at the seat count.
        let live = live_ids(&server).len() as u64;
        assert_eq!(live, used, "round {round}: one lease per distinct user");
        let mut extra = 0;
        for i in 0..SEATS + 1 {
            let (status, body) = api.checkout(
                "acad",
                &format!("top-{round}-{i}"),
                "ht",
                &format!("ct-{round}-{i}"),
            );
            match status {
                201 => extra += 1,
                409 => assert_eq!(code(&body), "no_seat_available"),
                _ => panic!("round {round}: {status} {body}"),
            }
        }
        assert_eq!(
            used + extra,
            SEATS,
            "round {round}: the pool fills exactly to its seats after the crash"
        );
        assert_eq!(api.in_use("p"), SEATS);

        // The office admin clears every seat before the next round.
        for id in live_ids(&server) {
            let (status, body) = api.delete(&format!("/api/v1/admin/leases/{id}"), Some(&admin));
            assert_eq!(status, 204, "{body}");
        }
        assert_eq!(api.in_use("p"), 0);
    }
    assert!(
        total_granted > 0,
        "the rush never got a seat before the kill: the test proved nothing"
    );
}

#[test]
fn sigterm_stops_the_server_gracefully_with_status_0_and_keeps_leases() {
    let (_vendor, mut server) = acad_server(2);
    let api = server.api();
    let (status, lease) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{lease}");
    // The agent keeps an idle keep-alive connection open; shutdown must not wait for it.
    assert_eq!(api.heartbeat(&lease).0, 200);

    sigterm(&server.child);
    let asked = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "the server did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        api.try_checkout("acad", "bob", "pc2", "c2").is_err(),
        "the server no longer answers"
    );

    server.restart();
    let api = server.api();
    let (status, body) = api.heartbeat(&lease);
    assert_eq!(status, 200, "the lease outlives a graceful stop: {body}");
    assert_eq!(api.in_use("p"), 1);
}

#[test]
fn sigterm_stops_the_server_promptly_even_while_a_checkout_waits_for_a_seat() {
    let (_vendor, mut server) = acad_server(1);
    let api = server.api();
    assert_eq!(api.checkout("acad", "anna", "pc1", "c1").0, 201);
    // Bob queues for the full pool for up to ten minutes.
    let waiter = {
        let api = server.api();
        std::thread::spawn(move || {
            api.try_post_json(
                "/api/v1/leases",
                None,
                &serde_json::json!({"product": "acad", "user": "bob", "host": "pc2", "client_id": "c2", "wait_s": 600}),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(!waiter.is_finished(), "the checkout waits for a seat");

    sigterm(&server.child);
    let asked = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break Some(status);
        }
        if asked.elapsed() > Duration::from_secs(5) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let Some(status) = status else {
        server.kill9();
        panic!("the server was still running 5 s after SIGTERM, held by a waiting checkout");
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
    // The waiting checkout is told the server is going away, or its connection closes
    // (the client then retries later); it is never left hanging.
    if let Ok((status, body)) = waiter.join().unwrap() {
        assert_eq!((status, code(&body)), (503, "unavailable"), "{body}");
    }
}

/// The admin view's expiry of the one live lease.
fn only_expiry(server: &Server) -> chrono::DateTime<chrono::Utc> {
    let leases = server.admin_leases();
    assert_eq!(leases.len(), 1, "{leases:?}");
    time(&leases[0]["until"])
}

/// A lease grant's expiry.
fn expiry(grant: &Value) -> chrono::DateTime<chrono::Utc> {
    time(&grant["expires_at"])
}

fn time(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap()
}

/// With the default TTL (120 s) and heartbeat (30 s) a heartbeat is answered before it is
/// written: shown at once, written on a graceful stop; after kill -9 it is lost, but the
/// expiry on disk still outlives the client's next heartbeat, which finds the lease.
#[test]
fn a_heartbeat_answered_before_it_is_written_is_kept_by_a_graceful_stop_and_a_kill_9_loses_no_lease()
 {
    let (_vendor, mut server) = acad_server(2);
    let api = server.api();
    let (status, lease) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{lease}");
    let taken = expiry(&lease);
    // The first heartbeat may go the durable way (the activation came from another
    // process, so the server may have just forgotten what it kept); the second one is
    // answered from memory.
    std::thread::sleep(Duration::from_millis(1100));
    let (status, first) = api.heartbeat(&lease);
    assert_eq!(status, 200, "{first}");
    std::thread::sleep(Duration::from_millis(1100));
    let (status, beat) = api.heartbeat(&first);
    assert_eq!(status, 200, "{beat}");
    assert!(expiry(&beat) > expiry(&first), "{beat}");
    assert_eq!(only_expiry(&server), expiry(&beat), "shown at once");

    server.restart();
    let api = server.api();
    let on_disk = only_expiry(&server);
    assert!(
        on_disk >= taken && on_disk <= expiry(&first),
        "the last heartbeat was not written yet: {on_disk} on disk, {} answered",
        expiry(&beat)
    );
    assert!(on_disk > chrono::Utc::now() + chrono::Duration::seconds(30 + 5));
    let (status, after) = api.heartbeat(&beat);
    assert_eq!(status, 200, "the next heartbeat finds the lease: {after}");
    std::thread::sleep(Duration::from_millis(1100));
    let (status, second) = api.heartbeat(&after);
    assert_eq!(status, 200, "{second}");
    assert!(expiry(&second) > expiry(&after));

    server.terminate();
    server.restart();
    assert_eq!(
        only_expiry(&server),
        expiry(&second),
        "a graceful stop writes what was answered"
    );
    assert_eq!(server.api().heartbeat(&second).0, 200);
}
