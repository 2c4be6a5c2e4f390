//! Checkouts waiting for a seat are visible while they wait: in the admin API (who, for
//! what, since when, their place in the line), on the live page and in `tessera status`,
//! and gone once they got their seat. Real processes.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common;

use common::*;

#[test]
fn a_queued_checkout_is_listed_while_it_waits() {
    let (_vendor, server) = acad_server(1);
    let api = server.api();
    let (status, held) = api.checkout("acad", "anna", "pc-anna", "c-anna");
    assert_eq!(status, 201);

    // Bob and then carl ask to wait up to 20 s for the one seat.
    let waiters: Vec<_> = [("bob", "pc-bob"), ("carl", "pc-carl")]
        .into_iter()
        .map(|(user, host)| {
            let url = server.url.clone();
            let waiter = std::thread::spawn(move || {
                Api::new(&url).post_json(
                    "/api/v1/leases",
                    None,
                    &json!({"product": "acad", "user": user, "host": host,
                        "client_id": format!("c-{user}"), "wait_s": 20}),
                )
            });
            // One after the other, so their places are known.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (_, list) = api.get("/api/v1/admin/leases", Some(&server.admin_token()));
                if list["waiting"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|w| w["user"] == user)
                {
                    break;
                }
                assert!(Instant::now() < deadline, "{user} never showed as waiting");
                std::thread::sleep(Duration::from_millis(50));
            }
            waiter
        })
        .collect();

    let (_, list) = api.get("/api/v1/admin/leases", Some(&server.admin_token()));
    let waiting = list["waiting"].as_array().unwrap();
    assert_eq!(waiting.len(), 2, "{list}");
    assert_eq!(
        (
            &waiting[0]["user"],
            &waiting[0]["host"],
            &waiting[0]["product"],
            &waiting[0]["position"]
        ),
        (&json!("bob"), &json!("pc-bob"), &json!("acad"), &json!(1))
    );
    assert_eq!(
        (&waiting[1]["user"], &waiting[1]["position"]),
        (&json!("carl"), &json!(2))
    );
    assert!(waiting[0]["since"].as_str().is_some());

    let page = server.admin_page("/");
    assert!(page.contains("Waiting for a license"), "{page}");
    assert!(
        page.contains("<td>bob</td><td>pc-bob</td><td>acad</td>"),
        "{page}"
    );
    let status_text = server.admin_status();
    assert!(status_text.contains("WAITING SINCE"), "{status_text}");
    assert!(
        status_text
            .lines()
            .any(|l| l.starts_with("1 ") && l.contains("bob") && l.contains("acad")),
        "{status_text}"
    );

    // Anna checks in: bob, first in line, gets the seat and leaves the queue.
    assert_eq!(api.checkin(&held).0, 204);
    let mut waiters = waiters.into_iter();
    let (status, bob) = waiters.next().unwrap().join().unwrap();
    assert_eq!(status, 201, "bob got the seat");
    let (_, list) = api.get("/api/v1/admin/leases", Some(&server.admin_token()));
    let waiting = list["waiting"].as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{list}");
    assert_eq!(
        (&waiting[0]["user"], &waiting[0]["position"]),
        (&json!("carl"), &json!(1))
    );
    // Then carl's turn, and nobody waits any more.
    assert_eq!(api.checkin(&bob).0, 204);
    let (status, _) = waiters.next().unwrap().join().unwrap();
    assert_eq!(status, 201, "carl got the seat");
    let (_, list) = api.get("/api/v1/admin/leases", Some(&server.admin_token()));
    assert_eq!(list["waiting"], json!([]));
    assert!(server.admin_page("/").contains("Nobody is waiting."));
}
