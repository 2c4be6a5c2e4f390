//! The office's policy and waiting for a seat, through the real server process.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn put_policy(server: &Server, text: &str) -> (u16, Value) {
    server.api().post_raw_method(
        "PUT",
        "/api/v1/admin/policy",
        Some(&server.admin_token()),
        "application/toml",
        text.as_bytes(),
    )
}

/// Puts a policy the server must accept.
#[track_caller]
fn set_policy(server: &Server, text: &str) {
    let (status, body) = put_policy(server, text);
    assert_eq!(status, 200, "{body}");
}

/// `POST /api/v1/leases` that waits up to `wait_s` seconds for a seat of acad.
fn checkout_waiting(
    api: &Api,
    user: &str,
    host: &str,
    client_id: &str,
    wait_s: u64,
) -> (u16, Value) {
    api.post_json(
        "/api/v1/leases",
        None,
        &json!({"product": "acad", "user": user, "host": host, "client_id": client_id, "wait_s": wait_s}),
    )
}

const GROUPS: &str = r#"
[user_groups]
engineers = ["anna", "bob"]
students = ["sam", "sue"]

[host_groups]
lab = ["lab-1", "lab-2"]
"#;

#[test]
fn a_policy_file_in_the_data_folder_applies_from_the_start_and_exclude_wins_over_include() {
    let vendor = Vendor::new();
    let server = Server::start_with_file(
        &vendor,
        "policy.toml",
        &format!(
            "{GROUPS}\n[[rule]]\nproduct = \"acad\"\ninclude = [\"group:engineers\", \"host_group:lab\"]\nexclude = [\"user:bob\"]\n"
        ),
    );
    server.activate(&vendor.activation(
        &server.registration_key(),
        vec![pool("p", &["acad"], 10, 0)],
    ));
    let api = server.api();
    assert_eq!(
        api.checkout("acad", "anna", "pc1", "c1").0,
        201,
        "on the include list"
    );
    assert_eq!(
        api.checkout("acad", "zoe", "lab-2", "c2").0,
        201,
        "included by host group"
    );
    let (status, body) = api.checkout("acad", "bob", "pc2", "c3");
    assert_eq!((status, code(&body)), (403, "denied_by_policy"));
    let denial = message(&body);
    assert!(
        denial.contains("exclude user:bob"),
        "the denial names the rule: {denial}"
    );
    let (status, body) = api.checkout("acad", "zoe", "home-pc", "c4");
    assert_eq!((status, code(&body)), (403, "denied_by_policy"));
    assert!(message(&body).contains("include"), "{body}");
}

#[test]
fn a_bad_policy_is_refused_with_its_line_and_the_running_policy_stays() {
    let (_vendor, server) = acad_server(10);
    let good = "[[rule]]\npool = \"p\"\nexclude = [\"user:mallory\"]\n";
    set_policy(&server, good);
    let bad = "[[rule]]\npool = \"p\"\n\nexclude = [\"crowd:everyone\"]\n";
    let (status, body) = put_policy(&server, bad);
    assert_eq!((status, code(&body)), (422, "invalid_policy"));
    let refusal = message(&body);
    assert!(
        refusal.contains("line 1") && refusal.contains("crowd"),
        "{refusal}"
    );
    let (status, body) = put_policy(&server, "[[rule]]\npool = \"p\"\nexclude = [\"user:x\"\n");
    assert_eq!((status, code(&body)), (422, "invalid_policy"));
    // An unclosed array is found where the input ends.
    assert!(message(&body).starts_with("line 4"), "{body}");
    let (_, current) = server
        .api()
        .get("/api/v1/admin/policy", Some(&server.admin_token()));
    assert_eq!(current["policy"], good);
    assert_eq!(
        std::fs::read_to_string(server.data.join("policy.toml")).unwrap(),
        good
    );
    let (status, _) = server.api().checkout("acad", "mallory", "pc", "c1");
    assert_eq!(status, 403, "the running policy still applies");
    let (status, _) = server.api().get("/api/v1/admin/policy", None);
    assert_eq!(status, 401);
}

#[test]
fn a_new_policy_applies_to_the_next_checkout_without_restart() {
    let (_vendor, server) = acad_server(10);
    assert_eq!(server.api().checkout("acad", "mallory", "pc1", "c1").0, 201);
    set_policy(
        &server,
        "[[rule]]\nproduct = \"acad\"\nexclude = [\"user:mallory\"]\n",
    );
    assert_eq!(server.api().checkout("acad", "mallory", "pc2", "c2").0, 403);
    set_policy(&server, "");
    assert_eq!(server.api().checkout("acad", "mallory", "pc2", "c2").0, 201);
}

#[test]
fn a_hand_edit_of_the_policy_file_is_picked_up_and_a_broken_one_ignored() {
    let (_vendor, server) = acad_server_with(ServerOpts::short_ttl(3), 10);
    let file = server.data.join("policy.toml");
    std::fs::write(
        &file,
        "[[rule]]\npool = \"p\"\nexclude = [\"user:mallory\"]\n",
    )
    .unwrap();
    let mut attempt = 0;
    assert!(eventually(Duration::from_secs(5), || {
        attempt += 1;
        server
            .api()
            .checkout(
                "acad",
                "mallory",
                &format!("pc{attempt}"),
                &format!("c{attempt}"),
            )
            .0
            == 403
    }));
    std::fs::write(&file, "this is not toml = = =").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        server.api().checkout("acad", "mallory", "pc-x", "c-x").0,
        403,
        "the broken edit left the running policy"
    );
}

#[test]
fn reserved_seats_go_to_their_owners_and_others_wait_for_unreserved_ones() {
    let (_vendor, server) = acad_server(3);
    let policy = format!(
        "{GROUPS}\n[[rule]]\npool = \"p\"\nreserve = [{{ for = \"group:engineers\", seats = 2 }}]\n"
    );
    set_policy(&server, &policy);
    let api = server.api();
    assert_eq!(
        api.checkout("acad", "carol", "pc1", "c1").0,
        201,
        "one seat is not reserved"
    );
    let (status, body) = api.checkout("acad", "dave", "pc2", "c2");
    assert_eq!((status, code(&body)), (409, "no_seat_available"));
    assert!(
        message(&body).contains("reserved for group:engineers"),
        "{body}"
    );
    assert_eq!(api.checkout("acad", "anna", "pc3", "c3").0, 201);
    assert_eq!(api.checkout("acad", "bob", "pc4", "c4").0, 201);
    assert_eq!(api.pool("p")["in_use"], 3);
}

#[test]
fn maximums_per_user_and_group_count_every_seat_they_hold() {
    let vendor = Vendor::new();
    let server = server_with_pool(&vendor, pool("p", &["acad", "revit"], 10, 0));
    let policy = format!(
        "{GROUPS}\n[[rule]]\npool = \"p\"\nmax = [{{ for = \"user:anna\", seats = 1 }}, {{ for = \"group:students\", seats = 1 }}]\n"
    );
    set_policy(&server, &policy);
    let api = server.api();
    assert_eq!(api.checkout("acad", "anna", "pc1", "c1").0, 201);
    assert_eq!(
        api.checkout("revit", "anna", "pc1", "c2").0,
        201,
        "the same seat is shared, not a second one"
    );
    let (status, body) = api.checkout("acad", "anna", "pc2", "c3");
    assert_eq!((status, code(&body)), (403, "denied_by_policy"));
    assert!(message(&body).contains("max 1 for user:anna"), "{body}");
    assert_eq!(api.checkout("acad", "sam", "lab-1", "c4").0, 201);
    let (status, _) = api.checkout("acad", "sue", "lab-2", "c5");
    assert_eq!(status, 403, "the group's maximum counts sam's seat");
    assert_eq!(
        api.checkout("acad", "zoe", "pc9", "c6").0,
        201,
        "others are not limited"
    );
}

#[test]
fn the_borrow_low_water_mark_keeps_seats_in_the_office() {
    let vendor = Vendor::new();
    let server = server_with_pool(&vendor, pool("p", &["acad"], 3, 48));
    set_policy(&server, "[[rule]]\npool = \"p\"\nborrow_low_water = 2\n");
    let api = server.api();
    let borrow = |user: &str| api.borrow("acad", user, user, user, 8);
    assert_eq!(borrow("anna").0, 201);
    let (status, body) = borrow("bob");
    assert_eq!((status, code(&body)), (403, "denied_by_policy"));
    assert!(message(&body).contains("borrow_low_water"), "{body}");
    assert_eq!(
        api.checkout("acad", "bob", "pc", "c1").0,
        201,
        "online use of the kept seats is fine"
    );
}

#[test]
fn denials_are_logged_for_the_reports() {
    let (_vendor, server) = acad_server(1);
    set_policy(
        &server,
        "[[rule]]\npool = \"p\"\nexclude = [\"user:mallory\"]\n",
    );
    let api = server.api();
    api.checkout("acad", "mallory", "pc", "c1");
    api.checkout("acad", "anna", "pc", "c2");
    api.checkout("acad", "bob", "pc2", "c3");
    let (status, usage) = api.get("/api/v1/admin/usage", Some(&server.admin_token()));
    assert_eq!(status, 200);
    let denials = usage["denials"].as_array().unwrap();
    let codes: Vec<(&str, &str)> = denials
        .iter()
        .map(|d| (d["user"].as_str().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            ("mallory", "denied_by_policy"),
            ("bob", "no_seat_available")
        ]
    );
    assert!(
        denials[0]["message"]
            .as_str()
            .unwrap()
            .contains("exclude user:mallory")
    );
}

#[test]
fn the_policy_page_saves_a_good_policy_and_shows_the_line_of_a_bad_one() {
    let (_vendor, server) = acad_server(1);
    let cookie = format!("tessera_admin={}", server.admin_token());
    let form = |text: &str| {
        let body: String = format!("policy={}", urlencode(text));
        server.api().post_raw_with_cookie(
            "/policy",
            &cookie,
            "application/x-www-form-urlencoded",
            body.as_bytes(),
        )
    };
    let (status, page) = form("[[rule]]\r\npool = \"p\"\r\nexclude = [\"user:eve\"]\r\n");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Saved: 1 rule(s) in force"), "{page}");
    assert_eq!(server.api().checkout("acad", "eve", "pc", "c1").0, 403);
    let (status, page) = form("[[rule]]\npool = \"p\"\nexclude = [\"user:eve\"]\nmax = 3\n");
    assert_eq!(status, 422);
    assert!(
        page.contains("line 4") && page.contains("running policy stays"),
        "{page}"
    );
    assert_eq!(server.api().checkout("acad", "eve", "pc", "c1").0, 403);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_waiting_checkout_gets_the_seat_the_moment_one_frees() {
    let (_vendor, server) = acad_server(1);
    let (_, held) = server.api().checkout("acad", "anna", "pc1", "c1");
    let url = server.url.clone();
    let waiter = std::thread::spawn(move || {
        let (status, body) = checkout_waiting(&Api::new(&url), "bob", "pc2", "c2", 20);
        (status, body, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(500));
    let freed_at = Instant::now();
    assert_eq!(server.api().checkin(&held).0, 204);
    let (status, body, granted_at) = waiter.join().unwrap();
    assert_eq!(status, 201, "{body}");
    assert!(
        granted_at.duration_since(freed_at) < Duration::from_millis(500),
        "granted at once"
    );
}

#[test]
fn a_wait_that_runs_out_answers_no_seat_available() {
    let (_vendor, server) = acad_server(1);
    server.api().checkout("acad", "anna", "pc1", "c1");
    let start = Instant::now();
    let (status, body) = checkout_waiting(&server.api(), "bob", "pc2", "c2", 2);
    assert_eq!((status, code(&body)), (409, "no_seat_available"));
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    let (status, body) = checkout_waiting(&server.api(), "bob", "pc2", "c2", 100000);
    assert_eq!((status, code(&body)), (422, "invalid_request"));
}

#[test]
fn waiting_checkouts_are_served_first_come_first_served_and_newcomers_do_not_pass() {
    let (_vendor, server) = acad_server(1);
    let (_, held) = server.api().checkout("acad", "holder", "pc0", "c0");
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for i in 0..5 {
        let url = server.url.clone();
        let order = order.clone();
        waiters.push(std::thread::spawn(move || {
            let api = Api::new(&url);
            let user = format!("w{i}");
            let (status, lease) = checkout_waiting(&api, &user, &user, &user, 30);
            assert_eq!(status, 201, "{lease}");
            order.lock().unwrap().push(i);
            // Hold the seat briefly, then hand it on.
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(api.checkin(&lease).0, 204);
        }));
        // Arrive in a known order.
        std::thread::sleep(Duration::from_millis(150));
    }
    assert_eq!(server.api().checkin(&held).0, 204);
    // While the queue is served, a newcomer who does not wait gets no seat.
    std::thread::sleep(Duration::from_millis(100));
    let (status, body) = server.api().checkout("acad", "newcomer", "pcx", "cx");
    assert_eq!((status, code(&body)), (409, "no_seat_available"), "{body}");
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn checkout_wait_on_the_command_line_waits_for_a_seat() {
    let (vendor, server) = acad_server(1);
    let (_, held) = server.api().checkout("acad", "anna", "pc1", "c1");
    let mut child = tessera()
        .args([
            "checkout",
            "acad",
            "--wait",
            "20",
            "--user",
            "bob",
            "--server",
            &server.url,
        ])
        .env("TESSERA_VENDOR_PUBLIC_KEY", vendor.public_path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(child.try_wait().unwrap().is_none(), "still waiting");
    server.api().checkin(&held);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("checked out acad for bob"));
}
