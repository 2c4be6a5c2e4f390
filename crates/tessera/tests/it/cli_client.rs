//! `tessera status` and `tessera checkout --hold` as an office would use them.

use crate::common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::*;

/// A server whose leases lapse after 3 s with one seat of acad, and `tessera checkout
/// acad --hold` holding that seat for anna.
fn a_held_seat() -> (Vendor, Server, Child) {
    use std::io::{BufRead, BufReader};
    let (vendor, server) = acad_server_with(ServerOpts::short_ttl(3), 1);
    let mut child = tessera()
        .args(["checkout", "acad", "--hold", "--user", "anna"])
        .env("TESSERA_SERVER", &server.url)
        .env("TESSERA_VENDOR_PUBLIC_KEY", vendor.public_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("holding the seat") => break,
            Some(Ok(_)) => continue,
            _ => panic!("checkout --hold ended before holding a seat"),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (vendor, server, child)
}

#[test]
fn checkout_hold_keeps_a_seat_until_sigterm_then_checks_in() {
    let (_vendor, server, mut child) = a_held_seat();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        server.api().pool("p")["in_use"],
        1,
        "held past the TTL by heartbeats"
    );
    sigterm(&child);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(server.api().pool("p")["in_use"], 0, "checked in on SIGTERM");
}

#[test]
fn a_killed_clients_seat_returns_by_itself_within_the_ttl() {
    let (_vendor, server, mut child) = a_held_seat();
    child.kill().unwrap(); // SIGKILL: no check-in
    child.wait().unwrap();
    let killed_at = std::time::Instant::now();
    assert_eq!(server.api().pool("p")["in_use"], 1);
    assert!(eventually(Duration::from_secs(8), || server
        .api()
        .pool("p")["in_use"]
        == 0));
    assert!(
        killed_at.elapsed() <= Duration::from_secs(5),
        "returned within TTL + a heartbeat"
    );
    let (status, _) = server.api().checkout("acad", "bob", "pc2", "c2");
    assert_eq!(status, 201);
}

#[test]
fn status_shows_pools_and_with_the_admin_token_who_uses_what() {
    let vendor = Vendor::new();
    let server = server_with_pool(&vendor, pool("p", &["acad", "revit"], 3, 0));
    let (status, _) = server.api().checkout("revit", "anna", "pc-anna", "c1");
    assert_eq!(status, 201);
    let out = tessera()
        .args(["status", "--server", &server.url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("acad + revit"), "{text}");
    assert!(
        !text.contains("pc-anna"),
        "no seat list without the admin token: {text}"
    );

    let text = server.admin_status();
    assert!(
        text.contains("anna") && text.contains("pc-anna") && text.contains("online"),
        "{text}"
    );

    let out = tessera()
        .args([
            "status",
            "--json",
            "--server",
            &server.url,
            "--admin-token",
            &server.admin_token(),
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["server"]["products"][0]["in_use"], 1);
    assert_eq!(json["leases"][0]["user"], "anna");
    assert_eq!(json["leases"][0]["host"], "pc-anna");
}

#[test]
fn checkout_of_a_missing_product_or_with_no_server_fails_with_a_clear_message() {
    let (vendor, server) = acad_server(1);
    let out = tessera()
        .args(["checkout", "civil3d", "--server", &server.url])
        .env("TESSERA_VENDOR_PUBLIC_KEY", vendor.public_path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("civil3d"), "{err}");
    let out = tessera()
        .args(["checkout", "acad"])
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TESSERA_SERVER"));
}

/// Started without `USER` (a service, `sudo`, a container), a program checks out as the
/// operating system's account it runs as, not as "unknown", and `tessera checkout` says
/// which name it used.
#[test]
fn checkout_without_user_set_uses_the_accounts_name_and_says_so() {
    let (vendor, server) = acad_server(1);
    let id = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let account = String::from_utf8(id.stdout).unwrap().trim().to_owned();
    let out = tessera()
        .args(["checkout", "acad", "--server", &server.url])
        .env("TESSERA_VENDOR_PUBLIC_KEY", vendor.public_path())
        .env_remove("USER")
        .env_remove("USERNAME")
        .env_remove("LOGNAME")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("checked out acad for {account} on ")),
        "{stdout}"
    );
}
