//! `tessera vendor keygen` and `tessera vendor issue`: the vendor's keys and offline
//! activation keys, checked by verifying what the binary printed.

use crate::common;

use chrono::{DateTime, TimeZone, Utc};
use common::*;
use tessera_core::LicenseModel;
use tessera_token::{SigningKey, VerifyingKey, verify_activation};

fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

#[test]
fn keygen_writes_a_paserk_secret_and_public_key_pair() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keys");
    run_ok(&["vendor", "keygen", "--out", out.to_str().unwrap()]);
    let secret = std::fs::read_to_string(out.join("vendor.secret")).unwrap();
    let public = std::fs::read_to_string(out.join("vendor.public")).unwrap();
    assert!(secret.trim().starts_with("k4.secret."), "{secret}");
    assert!(public.trim().starts_with("k4.public."), "{public}");
    let key = SigningKey::from_paserk(&secret).expect("a valid k4.secret");
    assert_eq!(
        key.verifying_key(),
        &VerifyingKey::from_paserk(&public).expect("a valid k4.public"),
        "the public file is the secret's public half"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("vendor.secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the secret key is readable by others");
    }

    // A second keygen never silently replaces the keys.
    let (res, _, stderr) = run(&["vendor", "keygen", "--out", out.to_str().unwrap()]);
    assert!(!res.status.success());
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(out.join("vendor.secret")).unwrap(),
        secret
    );
}

#[test]
fn issue_prints_an_activation_key_with_every_claim_given_on_the_command_line() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let reg = server.registration_key();
    let before = Utc::now();
    let key = vendor.issue(
        &reg,
        "acad,revit",
        7,
        &[
            "--start",
            "2026-01-01",
            "--end",
            "2030-12-31",
            "--borrow-hours",
            "72",
            "--pool-id",
            "bundle-2026",
        ],
    );
    let after = Utc::now();
    assert!(key.starts_with("v4.public."), "{key}");

    let act = verify_activation(&vendor.verifying_key(), &key)
        .expect("the key verifies against the vendor's public key");
    let c = &act.claims;
    assert_eq!(c.kind, "activation");
    assert_eq!(c.registration_key, reg);
    let (_, info) = server.api().get("/api/v1/server", None);
    assert_eq!(c.server_key, info["public_key"].as_str().unwrap());
    assert_eq!(
        c.registration_key,
        info["registration_key"].as_str().unwrap()
    );
    assert_eq!(c.org, "Test Office");
    assert!(
        c.iat >= before - chrono::Duration::seconds(1) && c.iat <= after,
        "iat {} is the time of issue",
        c.iat
    );
    assert_eq!(c.pools.len(), 1);
    let p = &c.pools[0];
    assert_eq!(p.id, "bundle-2026");
    assert_eq!(p.products, ["acad", "revit"]);
    assert_eq!(p.model, LicenseModel::Floating);
    assert_eq!(p.seats, 7);
    assert_eq!(p.start, utc(2026, 1, 1));
    assert_eq!(
        p.end,
        utc(2031, 1, 1),
        "--end names the last day: the license ends at its end"
    );
    assert_eq!(p.borrow_max_hours, 72);
    assert_eq!(c.exp, p.end, "the key expires with its pool");

    // The key is signed by the vendor alone: another vendor's key refuses it.
    assert!(verify_activation(&Vendor::new().verifying_key(), &key).is_err());
}

#[test]
fn issue_with_days_and_no_start_runs_from_now_and_forbids_borrowing_by_default() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let key = vendor.issue(&server.registration_key(), "civil", 3, &["--days", "10"]);
    let c = verify_activation(&vendor.verifying_key(), &key)
        .unwrap()
        .claims;
    let p = &c.pools[0];
    assert_eq!(p.products, ["civil"]);
    assert_eq!(p.seats, 3);
    assert_eq!(p.borrow_max_hours, 0);
    assert!(
        (Utc::now() - p.start).num_seconds().abs() < 60,
        "{}",
        p.start
    );
    assert_eq!(p.end - p.start, chrono::Duration::days(10));
    assert!(p.id.starts_with("pool-"), "a pool id is made up: {}", p.id);
}

/// Runs `vendor issue` of acad with the given registration key and extra flags; expects
/// a clean refusal (exit 1, a message, no panic, nothing on stdout) and returns the message.
fn refused_issue(vendor: &Vendor, registration_key: &str, extra: &[&str]) -> String {
    let (out, stdout, stderr) = vendor.try_issue(registration_key, "acad", extra);
    assert_eq!(
        out.status.code(),
        Some(1),
        "tessera vendor issue {extra:?} should fail cleanly:\n{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.trim().is_empty(), "no key printed: {stdout}");
    stderr
}

#[test]
fn issue_refuses_bad_input_with_a_clear_message() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let reg = server.registration_key();

    // One character changed: the checksum catches the typing error.
    let mut chars: Vec<char> = reg.chars().collect();
    let i = 12;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let mangled: String = chars.into_iter().collect();
    let msg = refused_issue(&vendor, &mangled, &["--seats", "5", "--days", "30"]);
    assert!(msg.contains("registration key"), "{msg}");
    let msg = refused_issue(&vendor, "hello", &["--seats", "5", "--days", "30"]);
    assert!(msg.contains("registration key"), "{msg}");

    let msg = refused_issue(&vendor, &reg, &["--seats", "0", "--days", "30"]);
    assert!(msg.contains("--seats"), "{msg}");

    let msg = refused_issue(
        &vendor,
        &reg,
        &[
            "--seats",
            "5",
            "--start",
            "2027-06-01",
            "--end",
            "2027-01-01",
        ],
    );
    assert!(msg.contains("before it starts"), "{msg}");

    let msg = refused_issue(&vendor, &reg, &["--seats", "5", "--end", "31.12.2027"]);
    assert!(msg.contains("31.12.2027"), "{msg}");

    let msg = refused_issue(&vendor, &reg, &["--seats", "5", "--days", "0"]);
    assert!(msg.contains("--days"), "{msg}");

    // The public key is not a secret key.
    let (out, _, stderr) = run(&[
        "vendor",
        "issue",
        "--secret-key",
        vendor.public_path().to_str().unwrap(),
        "--registration-key",
        &reg,
        "--org",
        "Test Office",
        "--product",
        "acad",
        "--seats",
        "1",
        "--days",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("k4.secret"), "{stderr}");
}
