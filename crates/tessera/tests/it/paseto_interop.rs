//! Lease tokens checked from outside our own code: pyseto (an independent PASETO
//! implementation, in Python) verifies the whole chain back to the vendor key, as any
//! client in another language would. See `paseto_check.py`.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use serde_json::Value;

/// The Python to use: `TESSERA_TEST_PYTHON` (scripts/test sets a venv), else `python3`.
fn python() -> String {
    std::env::var("TESSERA_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Whether pyseto can be imported. Missing pyseto fails the test in CI (where it is
/// required) and skips it elsewhere, saying how to install it.
fn pyseto_available() -> bool {
    let ok = Command::new(python())
        .args(["-c", "import pyseto"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!(
                "pyseto is required in CI but `{} -c \"import pyseto\"` fails (pip install pyseto)",
                python()
            );
        }
        eprintln!("skipped: pyseto not installed (pip install pyseto)");
    }
    ok
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/paseto_check.py")
}

/// Runs the checker; `Ok(JSON)` when pyseto verified the chain, `Err(stderr)` when not.
fn pyseto_check(token: &str, vendor_public: &str) -> Result<Value, String> {
    let out = Command::new(python())
        .arg(script())
        .args([token, vendor_public])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok(serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("the checker printed no JSON ({e}): {stdout}\n{stderr}")))
    } else {
        Err(stderr)
    }
}

/// Changes one character in the middle of `part` (0 = version … 3 = footer) of a token.
fn tamper(token: &str, part: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut chars: Vec<char> = parts[part].chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    parts[part] = chars.into_iter().collect();
    parts.join(".")
}

#[test]
fn pyseto_verifies_a_lease_token_back_to_the_vendor_key() {
    if !pyseto_available() {
        return;
    }
    let vendor = Vendor::new();
    // TTL 4 s, heartbeat 1 s: a heartbeat past 2 s is answered with a newly signed token.
    let server = server_with(
        &vendor,
        ServerOpts::short_ttl(4),
        vec![pool("p1", &["acad"], 2, 0)],
    );
    let api = server.api();
    let (status, lease) = api.checkout("acad", "anna", "pc-anna", "client-42");
    assert_eq!(status, 201, "{lease}");
    let token = lease["token"].as_str().unwrap();

    let checked = pyseto_check(token, &vendor.public_key())
        .unwrap_or_else(|e| panic!("pyseto refused a genuine lease token: {e}"));
    let claims = &checked["claims"];
    assert_eq!(claims["kind"], "lease");
    assert_eq!(claims["sub"], "anna");
    assert_eq!(claims["host"], "pc-anna");
    assert_eq!(claims["client_id"], "client-42");
    assert_eq!(claims["jti"], lease["lease_id"]);
    assert_eq!(claims["products"], serde_json::json!(["acad"]));
    assert_eq!(time(&claims["exp"]), time(&lease["expires_at"]));
    assert!(time(&claims["iat"]) <= time(&claims["exp"]));

    let (_, info) = api.get("/api/v1/server", None);
    let activation = &checked["activation"];
    assert_eq!(activation["kind"], "activation");
    assert_eq!(activation["server_key"], info["public_key"]);
    assert_eq!(activation["registration_key"], info["registration_key"]);

    // A heartbeat's fresh token (past half the old one's life) verifies the same way.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let (status, renewed) = api.heartbeat(&lease);
    assert_eq!(status, 200, "{renewed}");
    assert_ne!(renewed["token"], lease["token"], "a newly signed token");
    let checked = pyseto_check(renewed["token"].as_str().unwrap(), &vendor.public_key())
        .unwrap_or_else(|e| panic!("pyseto refused a heartbeat's token: {e}"));
    assert_eq!(checked["claims"]["jti"], lease["lease_id"]);
    assert_eq!(
        time(&checked["claims"]["exp"]),
        time(&renewed["expires_at"])
    );
}

#[test]
fn pyseto_refuses_a_lease_token_tampered_by_one_character() {
    if !pyseto_available() {
        return;
    }
    let vendor = Vendor::new();
    let server = server_with_pool(&vendor, pool("p1", &["acad"], 2, 0));
    let (status, lease) = server.api().checkout("acad", "anna", "pc-anna", "c1");
    assert_eq!(status, 201, "{lease}");
    let token = lease["token"].as_str().unwrap();
    assert!(pyseto_check(token, &vendor.public_key()).is_ok());

    // One character of the signed claims.
    let tampered = tamper(token, 2);
    assert_ne!(tampered, token);
    let err = pyseto_check(&tampered, &vendor.public_key())
        .expect_err("a token changed in its claims must not verify");
    assert!(err.contains("paseto_check:"), "{err}");

    // One character of the footer (which the signature also covers).
    let tampered = tamper(token, 3);
    assert!(
        pyseto_check(&tampered, &vendor.public_key()).is_err(),
        "a token changed in its footer must not verify"
    );

    // The genuine token against another vendor's key.
    let other = Vendor::new();
    let err = pyseto_check(token, &other.public_key())
        .expect_err("a token must not verify against another vendor's key");
    assert!(err.contains("vendor key"), "{err}");
}
