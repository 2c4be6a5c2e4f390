//! Every lease call of protocol v1 with its answers, and how seats are shared by
//! (pool, user, host).

use crate::common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use serde_json::{Value, json};

/// `n` checkouts of acad sent at the same moment (threads released together by a
/// barrier); `who(t)` is thread t's (user, host, client_id). The answers in thread order.
fn checkouts_at_once(
    server: &Server,
    n: usize,
    who: impl Fn(usize) -> (String, String, String),
) -> Vec<(u16, Value)> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|t| {
            let api = server.api();
            let barrier = barrier.clone();
            let (user, host, client_id) = who(t);
            std::thread::spawn(move || {
                barrier.wait();
                api.checkout("acad", &user, &host, &client_id)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn checkout_answers_201_with_lease_id_token_expiry_and_heartbeat_interval() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    let before = Utc::now();
    let (status, lease) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{lease}");
    assert!(
        lease["lease_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{lease}"
    );
    assert!(
        lease["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("v4.public.")),
        "{lease}"
    );
    assert_eq!(lease["heartbeat_interval_s"], 30);
    let expires = time(&lease["expires_at"]);
    let ttl = (expires - before).num_milliseconds();
    assert!(
        (119_000..=122_000).contains(&ttl),
        "expires one lease TTL (120 s) from now, got {ttl} ms"
    );
    assert_eq!(api.in_use("p"), 1);
    let p = api.pool("p");
    assert_eq!(p["available"], 1);
    assert_eq!(p["borrowed"], 0);
}

#[test]
fn a_full_pool_answers_409_no_seat_available() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    assert_eq!(api.checkout("acad", "anna", "pc1", "c1").0, 201);
    assert_eq!(api.checkout("acad", "bob", "pc2", "c2").0, 201);
    let (status, body) = api.checkout("acad", "carl", "pc3", "c3");
    assert_eq!((status, code(&body)), (409, "no_seat_available"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(api.in_use("p"), 2);
}

#[test]
fn a_product_no_pool_covers_answers_404_unknown_product() {
    let (_vendor, server) = acad_server(2);
    let (status, body) = server.api().checkout("civil3d", "anna", "pc1", "c1");
    assert_eq!((status, code(&body)), (404, "unknown_product"), "{body}");
    // Case matters: product ids are exact.
    let (status, body) = server.api().checkout("ACAD", "anna", "pc1", "c2");
    assert_eq!((status, code(&body)), (404, "unknown_product"), "{body}");
}

#[test]
fn a_product_whose_only_pool_ended_answers_410_license_expired() {
    let vendor = Vendor::new();
    let mut ended = pool("old", &["civil"], 5, 0);
    ended.start = Utc::now() - chrono::Duration::days(60);
    ended.end = Utc::now() - chrono::Duration::days(1);
    let server = server_with(
        &vendor,
        ServerOpts::default(),
        vec![pool("live", &["acad"], 1, 0), ended],
    );
    let api = server.api();
    let (status, body) = api.checkout("civil", "anna", "pc1", "c1");
    assert_eq!((status, code(&body)), (410, "license_expired"), "{body}");
    let (status, body) = api.checkout("acad", "anna", "pc1", "c2");
    assert_eq!(status, 201, "the live pool of the same key serves: {body}");
}

#[test]
fn bad_checkout_fields_answer_422_invalid_request() {
    let (_vendor, server) = acad_server(5);
    let api = server.api();
    let ok = json!({"product": "acad", "user": "anna", "host": "pc1", "client_id": "c1"});
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = ok.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let cases = vec![
        ("empty user", with("user", json!(""))),
        ("empty product", with("product", json!(""))),
        ("empty host", with("host", json!(""))),
        ("empty client_id", with("client_id", json!(""))),
        ("user of 129 chars", with("user", json!("u".repeat(129)))),
        ("host of 129 chars", with("host", json!("h".repeat(129)))),
        (
            "client_id of 129",
            with("client_id", json!("c".repeat(129))),
        ),
        ("product of 129", with("product", json!("p".repeat(129)))),
        ("control character", with("user", json!("an\nna"))),
        ("surrounding space", with("host", json!(" pc1"))),
        ("comma in product", with("product", json!("acad,revit"))),
        ("version of 65", with("version", json!("v".repeat(65)))),
        ("missing user", without("user")),
        ("missing product", without("product")),
        ("user is a number", with("user", json!(42))),
        ("host is null", with("host", Value::Null)),
    ];
    for (what, body) in cases {
        let (status, resp) = api.post_json("/api/v1/leases", None, &body);
        assert_eq!(
            (status, code(&resp)),
            (422, "invalid_request"),
            "{what}: {resp}"
        );
    }
    assert_eq!(api.in_use("p"), 0, "nothing was granted");
    // The limits themselves are accepted.
    let (status, body) = api.post_json(
        "/api/v1/leases",
        None,
        &with("user", json!("u".repeat(128))),
    );
    assert_eq!(status, 201, "a 128-character user is fine: {body}");
    let (status, body) = api.checkout("acad", "Łukasz Żółć", "biuro-3", "c-pl");
    assert_eq!(status, 201, "{body}");
}

#[test]
fn heartbeat_answers_a_later_expiry_and_a_new_token_once_the_old_is_past_half_its_life() {
    // TTL 4 s, heartbeat every 1 s: a token is answered again while it has more than 2 s.
    let (_vendor, server) = acad_server_with(ServerOpts::short_ttl(4), 1);
    let api = server.api();
    let (_, lease) = api.checkout("acad", "anna", "pc1", "c1");
    std::thread::sleep(Duration::from_millis(50));
    let (status, renewed) = api.heartbeat(&lease);
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(renewed["lease_id"], lease["lease_id"]);
    assert_eq!(
        renewed["token"], lease["token"],
        "the token is still fresh: no new signature"
    );
    assert!(
        time(&renewed["expires_at"]) > time(&lease["expires_at"]),
        "{} !> {}",
        renewed["expires_at"],
        lease["expires_at"]
    );
    assert_eq!(renewed["heartbeat_interval_s"], 1);
    // Past half its life the token is signed anew, with the lease's later expiry.
    std::thread::sleep(Duration::from_millis(2200));
    let (status, fresh) = api.heartbeat(&renewed);
    assert_eq!(status, 200, "{fresh}");
    assert_ne!(fresh["token"], lease["token"], "a new token");
    // The new token is good for the next heartbeat, and the old one too while the lease lives.
    let (status, body) = api.heartbeat(&fresh);
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.heartbeat(&lease);
    assert_eq!(status, 200, "{body}");
    assert_eq!(api.in_use("p"), 1);
}

#[test]
fn checkin_answers_204_then_404_lease_not_found() {
    let (_vendor, server) = acad_server(1);
    let api = server.api();
    let (_, lease) = api.checkout("acad", "anna", "pc1", "c1");
    let (status, body) = api.checkin(&lease);
    assert_eq!((status, &body), (204, &Value::Null));
    assert_eq!(api.in_use("p"), 0);
    let (status, body) = api.checkin(&lease);
    assert_eq!((status, code(&body)), (404, "lease_not_found"), "{body}");
    let (status, body) = api.heartbeat(&lease);
    assert_eq!((status, code(&body)), (404, "lease_not_found"), "{body}");
    let (status, _) = api.checkout("acad", "bob", "pc2", "c2");
    assert_eq!(status, 201, "the seat is free again");
}

#[test]
fn heartbeat_after_admin_removal_answers_404_lease_not_found() {
    let (_vendor, server) = acad_server(1);
    let api = server.api();
    let admin = server.admin_token();
    let (_, lease) = api.checkout("acad", "anna", "pc1", "c1");
    let id = lease["lease_id"].as_str().unwrap();
    let (status, body) = api.delete(&format!("/api/v1/admin/leases/{id}"), Some(&admin));
    assert_eq!(status, 204, "{body}");
    let (status, body) = api.heartbeat(&lease);
    assert_eq!((status, code(&body)), (404, "lease_not_found"), "{body}");
    let (status, body) = api.checkin(&lease);
    assert_eq!((status, code(&body)), (404, "lease_not_found"), "{body}");
}

#[test]
fn lease_calls_without_a_bearer_token_answer_401_and_with_another_leases_token_403() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    let (_, anna) = api.checkout("acad", "anna", "pc1", "c1");
    let (_, bob) = api.checkout("acad", "bob", "pc2", "c2");
    let anna_id = anna["lease_id"].as_str().unwrap();
    let hb = format!("/api/v1/leases/{anna_id}/heartbeat");
    let lease = format!("/api/v1/leases/{anna_id}");

    let (status, body) = api.post_empty(&hb, None);
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");
    let (status, body) = api.delete(&lease, None);
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");

    let (status, body) = api.post_empty(&hb, Some("not-a-token"));
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");
    let (status, body) = api.delete(&lease, Some("v4.public.AAAA"));
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");

    let bob_token = bob["token"].as_str();
    let (status, body) = api.post_empty(&hb, bob_token);
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");
    let (status, body) = api.delete(&lease, bob_token);
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");

    // A token from another server (same vendor, same user names) is not this server's.
    let (_other_vendor, other) = acad_server(1);
    let (_, foreign) = other.api().checkout("acad", "anna", "pc1", "c1");
    let (status, body) = api.post_empty(&hb, foreign["token"].as_str());
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");

    // The admin token is no lease token.
    let (status, body) = api.delete(&lease, Some(&server.admin_token()));
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");

    assert_eq!(api.in_use("p"), 2, "nobody's seat was touched");
    assert_eq!(api.heartbeat(&anna).0, 200);
}

#[test]
fn same_user_and_host_with_different_client_ids_share_one_seat() {
    let (_vendor, server) = acad_server(1);
    let api = server.api();
    let (s1, a) = api.checkout("acad", "anna", "pc1", "c1");
    let (s2, b) = api.checkout("acad", "anna", "pc1", "c2");
    let (s3, c) = api.checkout("acad", "anna", "pc1", "c3");
    assert_eq!((s1, s2, s3), (201, 201, 201), "{a}\n{b}\n{c}");
    assert_ne!(a["lease_id"], b["lease_id"]);
    assert_ne!(b["lease_id"], c["lease_id"]);
    assert_eq!(api.in_use("p"), 1, "three programs, one seat");

    // The seat frees only when the last of them ends.
    assert_eq!(api.checkin(&a).0, 204);
    assert_eq!(api.checkin(&b).0, 204);
    assert_eq!(api.in_use("p"), 1);
    let (status, body) = api.checkout("acad", "bob", "pc2", "cb");
    assert_eq!((status, code(&body)), (409, "no_seat_available"), "{body}");
    assert_eq!(api.checkin(&c).0, 204);
    assert_eq!(api.in_use("p"), 0);
    assert_eq!(api.checkout("acad", "bob", "pc2", "cb").0, 201);
}

#[test]
fn a_different_host_or_a_different_user_takes_another_seat() {
    let (_vendor, server) = acad_server(3);
    let api = server.api();
    assert_eq!(api.checkout("acad", "anna", "pc1", "c1").0, 201);
    assert_eq!(api.checkout("acad", "anna", "pc2", "c2").0, 201);
    assert_eq!(api.in_use("p"), 2, "same user on another host");
    assert_eq!(api.checkout("acad", "bob", "pc1", "c3").0, 201);
    assert_eq!(api.in_use("p"), 3, "another user on the same host");
    let (status, body) = api.checkout("acad", "carl", "pc1", "c4");
    assert_eq!((status, code(&body)), (409, "no_seat_available"), "{body}");
    // Sharing still works on a full pool.
    assert_eq!(api.checkout("acad", "anna", "pc2", "c5").0, 201);
    assert_eq!(api.in_use("p"), 3);
}

#[test]
fn retry_with_same_client_id_takes_no_second_seat() {
    let (_vendor, server) = acad_server(1);
    let api = server.api();
    let (status, first) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{first}");
    // The pool is full, yet the retry is answered with the same lease, not 409.
    let (status, again) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 200, "a retry finds the lease it made: {again}");
    assert_eq!(again["lease_id"], first["lease_id"]);
    assert_eq!(api.in_use("p"), 1);
    let leases = server.admin_leases();
    assert_eq!(leases.len(), 1, "one lease, not two: {leases:?}");
    // Its token works for the same lease.
    assert_eq!(api.heartbeat(&again).0, 200);
    assert_eq!(api.checkin(&again).0, 204);
    assert_eq!(api.heartbeat(&first).0, 404);
}

#[test]
fn a_bundle_pool_serves_each_of_its_products() {
    let vendor = Vendor::new();
    let server = server_with_pool(&vendor, pool("bundle", &["acad", "revit"], 2, 0));
    let api = server.api();
    let p = api.pool("bundle");
    assert_eq!(p["products"], json!(["acad", "revit"]));
    assert!(p.get("product").is_none(), "{p}");

    let (status, body) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{body}");
    let (status, body) = api.checkout("revit", "bob", "pc2", "c2");
    assert_eq!(status, 201, "{body}");
    assert_eq!(api.in_use("bundle"), 2);
    // A third person, for either product, finds the bundle full.
    let (status, body) = api.checkout("revit", "carl", "pc3", "c3");
    assert_eq!((status, code(&body)), (409, "no_seat_available"), "{body}");
    // One person running both programs of the bundle holds one seat of it.
    let (status, body) = api.checkout("revit", "anna", "pc1", "c4");
    assert_eq!(status, 201, "{body}");
    assert_eq!(api.in_use("bundle"), 2);
    let (status, body) = api.checkout("civil", "anna", "pc1", "c5");
    assert_eq!((status, code(&body)), (404, "unknown_product"), "{body}");
}

#[test]
fn admin_lease_list_shows_who_where_what_and_when() {
    let (_vendor, server) = acad_server(3);
    let api = server.api();
    let before = Utc::now() - chrono::Duration::seconds(1);
    let (status, lease) = api.post_json(
        "/api/v1/leases",
        None,
        &json!({"product": "acad", "user": "anna", "host": "pc-anna", "client_id": "c1", "version": "2026.1"}),
    );
    assert_eq!(status, 201, "{lease}");
    std::thread::sleep(Duration::from_millis(50));
    let (_, renewed) = api.heartbeat(&lease);

    let leases = server.admin_leases();
    assert_eq!(leases.len(), 1, "{leases:?}");
    let l = &leases[0];
    assert_eq!(l["id"], lease["lease_id"]);
    assert_eq!(l["kind"], "lease");
    assert_eq!(l["user"], "anna");
    assert_eq!(l["host"], "pc-anna");
    assert_eq!(l["product"], "acad");
    assert_eq!(l["pool_id"], "p");
    assert_eq!(l["client_id"], "c1");
    assert_eq!(l["version"], "2026.1");
    let since = time(&l["since"]);
    let last = time(&l["last_heartbeat"]);
    let until = time(&l["until"]);
    assert!(since >= before && since <= Utc::now(), "since {since}");
    assert!(last > since, "the heartbeat moved last_heartbeat: {l}");
    assert_eq!(until, time(&renewed["expires_at"]));

    let (status, body) = api.get("/api/v1/admin/leases", None);
    assert_eq!((status, code(&body)), (401, "unauthorized"));
    let (status, body) = api.get("/api/v1/admin/leases", lease["token"].as_str());
    assert_eq!((status, code(&body)), (401, "unauthorized"));
}

#[test]
fn admin_removal_frees_the_seat() {
    let (_vendor, server) = acad_server(1);
    let api = server.api();
    let admin = server.admin_token();
    let (_, lease) = api.checkout("acad", "anna", "pc1", "c1");
    let path = format!(
        "/api/v1/admin/leases/{}",
        lease["lease_id"].as_str().unwrap()
    );

    let (status, body) = api.delete(&path, None);
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");
    let (status, body) = api.delete(&path, lease["token"].as_str());
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");
    assert_eq!(api.in_use("p"), 1);

    let (status, body) = api.delete(&path, Some(&admin));
    assert_eq!(status, 204, "{body}");
    assert_eq!(api.in_use("p"), 0);
    assert!(server.admin_leases().is_empty());
    let (status, body) = api.checkout("acad", "bob", "pc2", "c2");
    assert_eq!(status, 201, "{body}");

    let (status, body) = api.delete(&path, Some(&admin));
    assert_eq!((status, code(&body)), (404, "lease_not_found"), "{body}");
}

#[test]
fn concurrent_checkouts_never_take_more_seats_than_the_pool_has() {
    let (_vendor, server) = acad_server(5);
    let answers = checkouts_at_once(&server, 16, |t| {
        (format!("user{t}"), format!("pc{t}"), format!("c{t}"))
    });
    let granted = answers.iter().filter(|(s, _)| *s == 201).count();
    for (status, body) in &answers {
        assert!(
            *status == 201 || (*status, code(body)) == (409, "no_seat_available"),
            "{status} {body}"
        );
    }
    assert_eq!(granted, 5, "exactly the pool's seats are granted");
    assert_eq!(server.api().in_use("p"), 5);
}

#[test]
fn concurrent_retries_with_one_client_id_take_one_seat_and_one_lease() {
    let (_vendor, server) = acad_server(3);
    let answers = checkouts_at_once(&server, 8, |_| {
        ("anna".into(), "pc1".into(), "the-one-client".into())
    });
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "one new lease: {answers:?}");
    for (status, body) in &answers {
        assert!(*status == 201 || *status == 200, "{status} {body}");
        assert_eq!(body["lease_id"], answers[0].1["lease_id"], "{answers:?}");
    }
    assert_eq!(server.api().in_use("p"), 1);
    let leases = server.admin_leases();
    assert_eq!(leases.len(), 1, "{leases:?}");
}

#[test]
fn a_client_id_reused_by_someone_else_never_ends_their_lease() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    let (status, anna) = api.checkout("acad", "anna", "pc1", "same-id");
    assert_eq!(status, 201);
    let (status, mallory) = api.checkout("acad", "mallory", "pc2", "same-id");
    assert_eq!(status, 201, "a new lease of mallory's own: {mallory}");
    assert_ne!(anna["lease_id"], mallory["lease_id"]);
    assert_eq!(api.heartbeat(&anna).0, 200, "anna's lease is untouched");
    assert_eq!(api.pool("p")["in_use"], 2);
}
