//! Lease TTL: a program that stops heartbeating loses its seat by itself within the TTL;
//! one that keeps heartbeating keeps it as long as it likes.

use crate::common;

use std::time::{Duration, Instant};

use common::*;

const TTL_S: u64 = 3;

#[test]
fn a_lease_that_stops_heartbeating_is_gone_within_the_ttl_and_its_seat_is_usable() {
    let (_vendor, server) = acad_server_with(ServerOpts::short_ttl(TTL_S), 1);
    let api = server.api();
    let (status, lease) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{lease}");
    let taken = Instant::now();
    assert_eq!(lease["heartbeat_interval_s"], 1);
    let (status, body) = api.checkout("acad", "bob", "pc2", "c2");
    assert_eq!((status, code(&body)), (409, "no_seat_available"), "{body}");

    // Anna's program crashed: no heartbeat, no check-in. Bob keeps trying.
    let mut bob = None;
    let freed = eventually(Duration::from_secs(TTL_S + 3), || {
        let (status, body) = api.checkout("acad", "bob", "pc2", "c2");
        if status == 201 {
            bob = Some(body);
            true
        } else {
            assert_eq!((status, code(&body)), (409, "no_seat_available"), "{body}");
            false
        }
    });
    assert!(freed, "the lapsed seat never returned");
    let waited = taken.elapsed();
    assert!(
        waited >= Duration::from_millis(TTL_S * 1000 - 500),
        "the seat returned before the TTL ran out ({waited:?})"
    );
    assert!(
        waited <= Duration::from_secs(TTL_S + 2),
        "the seat returned late ({waited:?})"
    );

    let (status, body) = api.heartbeat(&lease);
    assert_eq!((status, code(&body)), (404, "lease_not_found"), "{body}");
    let (status, body) = api.checkin(&lease);
    assert_eq!((status, code(&body)), (404, "lease_not_found"), "{body}");
    let p = api.pool("p");
    assert_eq!(p["in_use"], 1, "bob's seat: {p}");
    let leases = server.admin_leases();
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0]["user"], "bob");
    assert!(bob.is_some());
}

#[test]
fn a_lapsed_lease_leaves_the_live_view_within_the_ttl_even_with_nobody_waiting() {
    let (_vendor, server) = acad_server_with(ServerOpts::short_ttl(TTL_S), 2);
    let api = server.api();
    let admin = server.admin_token();
    let (status, _) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201);
    assert_eq!(api.pool("p")["in_use"], 1);
    assert!(
        eventually(Duration::from_secs(TTL_S + 3), || {
            let (_, list) = api.get("/api/v1/admin/leases", Some(&admin));
            api.pool("p")["in_use"] == 0 && list["leases"].as_array().unwrap().is_empty()
        }),
        "the lapsed lease is still shown: {:?}",
        api.get("/api/v1/admin/leases", Some(&admin)).1
    );
}

#[test]
fn a_lease_that_keeps_heartbeating_survives_well_past_the_ttl() {
    let (_vendor, server) = acad_server_with(ServerOpts::short_ttl(TTL_S), 1);
    let api = server.api();
    let (status, mut lease) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{lease}");
    let id = lease["lease_id"].clone();
    let start = Instant::now();
    // Two TTLs, heartbeating every second as the server asks.
    while start.elapsed() < Duration::from_secs(2 * TTL_S) {
        std::thread::sleep(Duration::from_secs(1));
        let (status, renewed) = api.heartbeat(&lease);
        assert_eq!(
            status,
            200,
            "heartbeat after {:?}: {renewed}",
            start.elapsed()
        );
        assert_eq!(renewed["lease_id"], id);
        lease = renewed;
        let (status, body) = api.checkout("acad", "bob", "pc2", "c2");
        assert_eq!((status, code(&body)), (409, "no_seat_available"), "{body}");
    }
    assert_eq!(api.pool("p")["in_use"], 1);
    assert_eq!(api.checkin(&lease).0, 204);
    assert_eq!(api.checkout("acad", "bob", "pc2", "c2").0, 201);
}
