//! Importing activation keys: by `tessera server activate FILE|-` and by
//! `POST /api/v1/admin/activations`; what is refused and why, and that imported pools
//! are in service at once, while the server runs.

use crate::common;

use chrono::{Duration, Utc};
use common::*;
use serde_json::Value;

fn import_api(server: &Server, token: Option<&str>, body: &[u8]) -> (u16, Value) {
    server
        .api()
        .post_raw("/api/v1/admin/activations", token, "text/plain", body)
}

/// Both ways of importing refuse `key`: `tessera server activate` with a message that
/// contains `says`, and the admin API with `status` and `code_`; no pool is imported.
#[track_caller]
fn assert_refused(server: &Server, key: &str, says: &str, status: u16, code_: &str) {
    let (out, _, stderr) = server.try_activate(key);
    assert!(!out.status.success());
    assert!(stderr.contains(says), "{stderr}");

    let (got, body) = import_api(server, Some(&server.admin_token()), key.as_bytes());
    assert_eq!((got, code(&body)), (status, code_), "{body}");
    assert!(server.api().pools().is_empty());
}

fn pool_ids(server: &Server) -> Vec<String> {
    let mut ids: Vec<String> = server
        .api()
        .pools()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn activate_from_a_file_while_the_server_runs_serves_the_pool_at_once() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let api = server.api();
    let (status, body) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!((status, code(&body)), (404, "unknown_product"), "{body}");

    let key = vendor.issue(
        &server.registration_key(),
        "acad",
        2,
        &["--pool-id", "acad-2"],
    );
    let (out, stdout, stderr) = server.try_activate(&key);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Test Office") && stdout.contains("acad-2"),
        "{stdout}"
    );

    let (status, body) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "no restart needed: {body}");
    let p = api.pool("acad-2");
    assert_eq!(p["product"], "acad");
    assert_eq!(p["seats"], 2);
    assert_eq!(p["in_use"], 1);
    assert_eq!(p["available"], 1);
    assert_eq!(p["org"], "Test Office");
}

#[test]
fn activate_reads_the_key_from_stdin_with_a_dash() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let key = vendor.issue(
        &server.registration_key(),
        "revit",
        1,
        &["--pool-id", "revit-1"],
    );
    let (out, stdout, stderr) = server.activate_stdin(&format!("{key}\n"));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(pool_ids(&server), ["revit-1"]);
    let (status, body) = server.api().checkout("revit", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{body}");

    // Nothing useful on stdin: refused, nothing imported.
    let (out, _, stderr) = server.activate_stdin("");
    assert!(!out.status.success());
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(pool_ids(&server), ["revit-1"]);
}

#[test]
fn admin_api_imports_an_activation_and_several_activations_add_pools() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let reg = server.registration_key();
    let admin = server.admin_token();

    let first = vendor.issue(&reg, "acad", 2, &["--pool-id", "acad-pool"]);
    let (status, body) = import_api(&server, Some(&admin), first.as_bytes());
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["org"], "Test Office");
    assert_eq!(body["pools"], serde_json::json!(["acad-pool"]));
    assert!(
        body["activation_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );

    let second = vendor.issue(&reg, "revit,civil", 3, &["--pool-id", "bundle-pool"]);
    let (status, body) = import_api(&server, Some(&admin), second.as_bytes());
    assert_eq!(status, 201, "{body}");

    assert_eq!(pool_ids(&server), ["acad-pool", "bundle-pool"]);
    let bundle = server.api().pool("bundle-pool");
    assert_eq!(bundle["products"], serde_json::json!(["revit", "civil"]));
    assert_eq!(bundle["seats"], 3);
    for product in ["acad", "revit", "civil"] {
        let (status, body) = server.api().checkout(product, "anna", "pc1", product);
        assert_eq!(status, 201, "{product} is served at once: {body}");
    }

    // The same key again changes nothing.
    let (status, body) = import_api(&server, Some(&admin), first.as_bytes());
    assert!(status == 200 || status == 201, "{status} {body}");
    assert_eq!(pool_ids(&server), ["acad-pool", "bundle-pool"]);
    assert_eq!(server.api().pool("acad-pool")["in_use"], 1);
}

#[test]
fn a_key_signed_by_another_vendor_is_refused_with_invalid_signature() {
    let vendor = Vendor::new();
    let rogue = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let key = rogue.issue(&server.registration_key(), "acad", 100, &[]);
    assert_refused(&server, &key, "signature", 400, "invalid_signature");
    let (status, body) = server.api().checkout("acad", "anna", "pc1", "c1");
    assert_eq!((status, code(&body)), (404, "unknown_product"));
}

#[test]
fn a_key_for_another_servers_registration_key_is_refused_with_wrong_server() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let other = Server::start(&vendor, ServerOpts::default());
    let key = vendor.issue(&other.registration_key(), "acad", 5, &[]);
    assert_refused(&server, &key, "another server", 409, "wrong_server");
}

#[test]
fn an_expired_key_is_refused_with_expired() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let key = vendor.issue(
        &server.registration_key(),
        "acad",
        5,
        &["--start", "2020-01-01", "--end", "2020-06-30"],
    );
    assert_refused(&server, &key, "expired", 410, "expired");
}

#[test]
fn a_garbage_activation_body_is_refused_with_invalid_request() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let admin = server.admin_token();
    let valid = vendor.issue(&server.registration_key(), "acad", 1, &[]);
    let garbage: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        Vec::new(),
        b"v4.public.!!!not-base64!!!".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x80],
        // A valid key as JSON instead of the bare text.
        serde_json::to_vec(&serde_json::json!({ "key": valid })).unwrap(),
        // A lease token is not an activation key.
        {
            let server2 = server_with_pool(&vendor, pool("x", &["acad"], 1, 0));
            let (_, lease) = server2.api().checkout("acad", "a", "b", "c");
            lease["token"].as_str().unwrap().as_bytes().to_vec()
        },
    ];
    for body in garbage {
        let (status, resp) = import_api(&server, Some(&admin), &body);
        assert_eq!(
            (status, code(&resp)),
            (422, "invalid_request"),
            "body {:?}: {resp}",
            String::from_utf8_lossy(&body)
        );
    }
    assert!(server.api().pools().is_empty());

    let (out, _, stderr) = server.try_activate("hello");
    assert!(!out.status.success());
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_activation_with_one_pool_ended_still_imports_and_serves_the_live_pool() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let mut ended = pool("old", &["civil"], 1, 0);
    ended.start = Utc::now() - Duration::days(60);
    ended.end = Utc::now() - Duration::days(30);
    let key = vendor.activation(
        &server.registration_key(),
        vec![pool("live", &["acad"], 1, 0), ended],
    );
    let (status, body) = import_api(&server, Some(&server.admin_token()), key.as_bytes());
    assert_eq!(status, 201, "{body}");
    assert_eq!(pool_ids(&server), ["live", "old"]);
}

#[test]
fn the_admin_activation_call_needs_the_admin_token() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let key = vendor.issue(&server.registration_key(), "acad", 1, &[]);

    let (status, body) = import_api(&server, None, key.as_bytes());
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");
    let (status, body) = import_api(&server, Some("tsa_not_the_token"), key.as_bytes());
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");
    // A lease token is no admin token either.
    let other = server_with_pool(&vendor, pool("x", &["acad"], 1, 0));
    let (_, lease) = other.api().checkout("acad", "a", "b", "c");
    let (status, body) = import_api(&server, lease["token"].as_str(), key.as_bytes());
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");
    assert!(server.api().pools().is_empty(), "nothing was imported");

    let (status, body) = import_api(&server, Some(&server.admin_token()), key.as_bytes());
    assert_eq!(status, 201, "{body}");
}

#[test]
fn a_key_naming_this_registration_key_but_another_server_key_is_refused_with_wrong_server() {
    use tessera_token::{ActivationClaims, SigningKey, sign_activation};
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let now = Utc::now();
    let claims = ActivationClaims {
        kind: "activation".into(),
        jti: "forged-1".into(),
        registration_key: server.registration_key(),
        // Someone else's key: tokens it signs would pass as this server's.
        server_key: SigningKey::generate().verifying_key().to_paserk(),
        org: "Test Office".into(),
        iat: now,
        exp: now + Duration::days(30),
        pools: vec![pool("p", &["acad"], 5, 0)],
    };
    let key = sign_activation(&vendor.signing_key(), &claims).unwrap();
    let (status, body) = import_api(&server, Some(&server.admin_token()), key.as_bytes());
    assert_eq!((status, code(&body)), (409, "wrong_server"), "{body}");
    let (out, _, _) = server.try_activate(&key);
    assert!(!out.status.success());
    assert!(server.api().pools().is_empty());
}

#[test]
fn a_pool_with_no_seats_is_refused() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::default());
    let key = vendor.activation(
        &server.registration_key(),
        vec![pool("empty", &["acad"], 0, 0)],
    );
    let (status, body) = import_api(&server, Some(&server.admin_token()), key.as_bytes());
    assert_eq!((status, code(&body)), (422, "invalid_request"), "{body}");
}
