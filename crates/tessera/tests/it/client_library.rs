//! tessera-client against the real server process: a license is a value that
//! heartbeats in the background, survives a server restart, and checks in when dropped.

use crate::common;

use std::time::Duration;

use common::*;
use tessera_client::{Client, ClientConfig, ClientError, LicenseStatus};

fn client_for(server: &Server, vendor: &Vendor, user: &str) -> Client {
    let config = ClientConfig::builder()
        .server(server.url.clone())
        .vendor_key(vendor.verifying_key())
        .user(user)
        .host("workstation-1")
        .build()
        .unwrap();
    Client::new(config)
}

#[test]
fn a_license_heartbeats_in_the_background_and_checks_in_when_dropped() {
    let (vendor, server) = acad_server_with(ServerOpts::short_ttl(3), 1);
    let client = client_for(&server, &vendor, "anna");
    let license = client.checkout("acad").unwrap();
    let first_token = license.token();
    // Three TTLs later the lease is still there because the library heartbeats.
    std::thread::sleep(Duration::from_secs(9));
    assert!(license.is_valid());
    assert!(matches!(license.status(), LicenseStatus::Held));
    assert_ne!(
        license.token(),
        first_token,
        "each heartbeat answers a fresh token"
    );
    assert_eq!(server.api().in_use("p"), 1);
    drop(license);
    assert_eq!(
        server.api().in_use("p"),
        0,
        "dropping the license checks in at once"
    );
}

#[test]
fn a_license_reconnects_after_a_server_restart_without_the_user_noticing() {
    // A TTL of 6 s leaves a loaded machine (a test run beside a build) room to restart
    // the server before the lease lapses; at 4 s a slow restart lost it once.
    let (vendor, mut server) = acad_server_with(ServerOpts::short_ttl(6), 1);
    let client = client_for(&server, &vendor, "anna");
    let license = client.checkout("acad").unwrap();
    let id = license.lease_id();
    server.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(license.is_valid(), "a short outage keeps the license valid");
    server.restart();
    // Well past the TTL: the library kept the lease alive once the server was back.
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        matches!(license.status(), LicenseStatus::Held),
        "{:?}",
        license.status()
    );
    assert_eq!(license.lease_id(), id, "the same lease carried on");
    assert_eq!(server.api().in_use("p"), 1);
    // Someone else still cannot take the seat.
    let other = client_for(&server, &vendor, "bob");
    assert!(matches!(
        other.checkout("acad"),
        Err(ClientError::NoSeatAvailable { .. })
    ));
    license.check_in().unwrap();
    assert_eq!(server.api().in_use("p"), 0);
}

#[test]
fn a_removed_lease_is_taken_again_by_the_library_when_a_seat_is_free() {
    let (vendor, server) = acad_server_with(ServerOpts::short_ttl(4), 1);
    let client = client_for(&server, &vendor, "anna");
    let license = client.checkout("acad").unwrap();
    let old = license.lease_id();
    let admin = server.admin_token();
    client.admin_remove(&admin, &old).unwrap();
    assert!(eventually(Duration::from_secs(5), || license.lease_id() != old));
    assert!(license.is_valid());
    assert_eq!(server.api().in_use("p"), 1);
}

#[test]
fn errors_say_no_seat_unknown_product_and_unreachable_server() {
    let (vendor, server) = acad_server(1);
    let anna = client_for(&server, &vendor, "anna");
    let _held = anna.checkout("acad").unwrap();
    let bob = client_for(&server, &vendor, "bob");
    let err = bob.checkout("acad").unwrap_err();
    assert_eq!(err.code(), "no_seat_available");
    assert!(err.to_string().contains("acad"), "{err}");
    let err = bob.checkout("civil3d").unwrap_err();
    assert_eq!(err.code(), "unknown_product");

    let nowhere = ClientConfig::builder()
        .server("http://127.0.0.1:9")
        .vendor_key(vendor.verifying_key())
        .build()
        .unwrap();
    let err = Client::new(nowhere).checkout("acad").unwrap_err();
    assert_eq!(err.code(), "unreachable");
    assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
}

#[test]
fn a_lease_from_a_server_the_vendor_never_activated_is_not_trusted() {
    let (_vendor, server) = acad_server(1);
    let other_vendor = Vendor::new();
    let config = ClientConfig::builder()
        .server(server.url.clone())
        .vendor_key(other_vendor.verifying_key())
        .build()
        .unwrap();
    let err = Client::new(config).checkout("acad").unwrap_err();
    assert_eq!(err.code(), "untrusted_token");
}
