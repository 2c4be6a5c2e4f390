//! A LAN server started with `--require-site-key` lends seats only to programs that send
//! a site key made with `tessera server site-key add`; `tessera checkout` without one is
//! told how to get one, a revoked key's seat ends and it takes no more. Real processes.

use crate::common;

use common::*;

/// `tessera server site-key …` on the server's data folder: (succeeded, stdout, stderr).
fn site_key(server: &Server, args: &[&str]) -> (bool, String, String) {
    let out = tessera()
        .args(["server", "site-key"])
        .args(args)
        .arg("--data")
        .arg(&server.data)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tessera checkout acad` for `user` with `key` (none: no TESSERA_SITE_KEY at all).
fn checkout(server: &Server, vendor: &Vendor, user: &str, key: Option<&str>) -> (bool, String) {
    let mut c = tessera();
    c.args(["checkout", "acad", "--user", user])
        .env("TESSERA_SERVER", &server.url)
        .env("TESSERA_VENDOR_PUBLIC_KEY", vendor.public_path())
        .env_remove("TESSERA_SITE_KEY");
    if let Some(k) = key {
        c.env("TESSERA_SITE_KEY", k);
    }
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_lan_server_that_requires_site_keys_lends_only_to_them() {
    let (vendor, server) = acad_server_with(ServerOpts::with_args(&["--require-site-key"]), 2);
    let (ok, text) = checkout(&server, &vendor, "anna", None);
    assert!(!ok, "{text}");
    assert!(text.contains("authentication_required"), "{text}");
    assert!(text.contains("TESSERA_SITE_KEY"), "{text}");

    let (ok, key, said) = site_key(&server, &["add", "Drawing office"]);
    assert!(ok, "{said}");
    let key = key.trim().to_owned();
    assert!(key.starts_with("tsk_"), "{key}");
    assert!(said.contains("shown only now"), "{said}");
    let (ok, _, said) = site_key(&server, &["add", "Drawing office"]);
    assert!(!ok && said.contains("in use already"), "{said}");

    let (ok, text) = checkout(&server, &vendor, "anna", Some(&key));
    assert!(ok, "{text}");
    assert!(text.contains("taken with the site key"), "{text}");
    let made_up = format!("tsk_{}", "x".repeat(52));
    let (ok, text) = checkout(&server, &vendor, "anna", Some(&made_up));
    assert!(!ok && text.contains("invalid_credential"), "{text}");
    let (ok, text) = checkout(&server, &vendor, "anna", Some("not-a-key"));
    assert!(!ok && text.contains("starts with `tsk_`"), "{text}");

    let (ok, list, _) = site_key(&server, &["list"]);
    assert!(ok);
    assert!(
        list.contains("Drawing office") && list.contains("active"),
        "{list}"
    );
    assert!(list.contains("127.0.0.1"), "the last use's address: {list}");

    // A seat held with the key ends when it is revoked, and the key takes no more.
    let api = server.api();
    let (status, lease) = api.post_json(
        "/api/v1/leases",
        Some(&key),
        &serde_json::json!({"product": "acad", "user": "bob", "host": "pc-7", "client_id": "c-bob"}),
    );
    assert_eq!(status, 201, "{lease}");
    let held = server.admin_leases();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["site_key"], "Drawing office", "{held:?}");
    let (ok, said, err) = site_key(&server, &["revoke", "Drawing office"]);
    assert!(ok, "{err}");
    assert!(said.contains("1 seat(s)"), "{said}");
    assert!(server.admin_leases().is_empty());
    // The revoke came from another process: the server, which may answer a heartbeat
    // from memory, notices that process's write within a fraction of a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let (status, body) = loop {
        let (status, body) = api.heartbeat(&lease);
        if status != 200 || std::time::Instant::now() > deadline {
            break (status, body);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "lease_not_found");
    // The pools are for programs with a key, and for the admin.
    assert_eq!(api.get("/api/v1/server", None).0, 401);
    assert_eq!(
        api.get("/api/v1/server", Some(&server.admin_token())).0,
        200
    );
    let (ok, text) = checkout(&server, &vendor, "anna", Some(&key));
    assert!(!ok && text.contains("invalid_credential"), "{text}");
    let (ok, _, said) = site_key(&server, &["revoke", "Drawing office"]);
    assert!(!ok && said.contains("no active site key"), "{said}");
}

#[test]
fn an_open_lan_server_still_checks_a_site_key_it_is_sent() {
    let (vendor, server) = acad_server(1);
    let (ok, text) = checkout(&server, &vendor, "anna", None);
    assert!(ok, "open to its own network: {text}");
    let made_up = format!("tsk_{}", "y".repeat(52));
    let (ok, text) = checkout(&server, &vendor, "anna", Some(&made_up));
    assert!(!ok && text.contains("invalid_credential"), "{text}");
}
