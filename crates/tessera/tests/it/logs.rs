//! Logs an admin can match to a user's error: with `TESSERA_LOG_FORMAT=json` every line is
//! a JSON object, and a request's lines carry its id, which its answer names in
//! `X-Request-Id` and, for an error, in the body (`error.request_id`). A real process.

use std::process::Stdio;

use crate::common;

use common::*;

#[test]
fn json_logs_and_answers_carry_the_same_request_id() {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let mut child = tessera()
        .args([
            "server",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--vendor-public-key")
        .arg(vendor.public_path())
        .env("TESSERA_LOG_FORMAT", "json")
        .env("TESSERA_MACHINE_ID", "logs-test")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let url = wait_for_listening(&mut child);
    let api = Api::new(&url);
    let admin = {
        let out = tessera()
            .args(["server", "admin-token", "--data", data.to_str().unwrap()])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };

    // A request with a proxy's id keeps it; its log line ("policy replaced") carries it.
    let bearer = format!("Bearer {admin}");
    let r = api.raw(
        "PUT",
        "/api/v1/admin/policy",
        &[("authorization", &bearer), ("x-request-id", "proxy-req-42")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.headers["x-request-id"], "proxy-req-42");

    // An error answer names the id made for it, the same as its header.
    let r = api.raw("POST", "/api/v1/leases/nothing/heartbeat", &[], b"");
    assert_eq!(r.status, 401);
    let made = r.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 32, "{made}");
    assert_eq!(r.json()["error"]["request_id"], made.as_str());
    // A header that is no sane id is not taken.
    let r = api.raw("GET", "/api/v1/nothing", &[("x-request-id", "a b")], b"");
    assert_ne!(r.headers["x-request-id"], "a b");

    child.kill().unwrap();
    child.wait().unwrap();
    let logs = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let replaced = lines
        .iter()
        .find(|l| l["fields"]["message"] == "policy replaced")
        .unwrap_or_else(|| panic!("no policy line in {logs}"));
    assert_eq!(replaced["span"]["request_id"], "proxy-req-42", "{replaced}");
}
