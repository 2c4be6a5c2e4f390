//! The LAN server's audit log with a real `tessera server`: each audited change made
//! through the admin API, the live page and the command line (an activation imported
//! both ways, seats removed, the policy changed with its diff, a borrow returned early,
//! a site key made and revoked, the admin token rotated) appears once, with who did it
//! and from where, on the admin API, on the `/audit` page and in `/audit.csv`, with
//! working filters; a refused change is not recorded, and bad filters get a clear message.

use crate::common;

use common::*;
use serde_json::Value;

/// `policy=TEXT` as a browser sends the live page's form.
fn form_encoded(text: &str) -> String {
    let mut out = String::from("policy=");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /api/v1/admin/audit?QUERY` with `token`: the entries, which must answer 200.
fn entries(server: &Server, token: &str, query: &str) -> Vec<Value> {
    let (status, body) = server
        .api()
        .get(&format!("/api/v1/admin/audit?{query}"), Some(token));
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().unwrap().clone()
}

/// The one entry of `action`: there must be exactly one.
#[track_caller]
fn one(all: &[Value], action: &str) -> Value {
    let found: Vec<&Value> = all.iter().filter(|e| e["action"] == action).collect();
    assert_eq!(found.len(), 1, "{action}: {all:#?}");
    found[0].clone()
}

#[test]
fn every_audited_lan_change_is_recorded_once_with_its_actor() {
    let vendor = Vendor::new();
    // Imported with `tessera server activate`.
    let server = server_with(
        &vendor,
        ServerOpts::default(),
        vec![pool("p", &["acad"], 3, 24)],
    );
    let token = server.admin_token();
    let api = server.api();

    // A second activation through the admin API.
    let key = vendor.activation(
        &server.registration_key(),
        vec![pool("q", &["revit"], 1, 0)],
    );
    let (status, body) = api.post_raw(
        "/api/v1/admin/activations",
        Some(&token),
        "text/plain",
        key.as_bytes(),
    );
    assert_eq!(status, 201, "{body}");

    // A seat removed through the API, another on the live page.
    let (status, lease) = api.checkout("acad", "anna", "pc1", "c1");
    assert_eq!(status, 201, "{lease}");
    let id = lease["lease_id"].as_str().unwrap();
    assert_eq!(
        api.delete(&format!("/api/v1/admin/leases/{id}"), Some(&token))
            .0,
        204
    );
    let (status, lease2) = api.checkout("acad", "ben", "pc2", "c2");
    assert_eq!(status, 201, "{lease2}");
    let id2 = lease2["lease_id"].as_str().unwrap();
    let cookie = format!("tessera_admin={token}");
    let (status, _) = api.post_raw_with_cookie(
        &format!("/leases/{id2}/remove"),
        &cookie,
        "application/x-www-form-urlencoded",
        b"",
    );
    assert!(status == 303 || status == 200, "{status}");

    // The policy: a good one through the API, a bad one refused (not recorded), another
    // good one on the live page.
    let good = "[[rule]]\nproduct = \"acad\"\nexclude = [\"user:zed\"]\n";
    let (status, body) = api.post_raw_method(
        "PUT",
        "/api/v1/admin/policy",
        Some(&token),
        "application/toml",
        good.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = api.post_raw_method(
        "PUT",
        "/api/v1/admin/policy",
        Some(&token),
        "application/toml",
        b"[[rule]\n",
    );
    assert_eq!(status, 422);
    let (status, page) = api.post_raw_with_cookie(
        "/policy",
        &cookie,
        "application/x-www-form-urlencoded",
        form_encoded("[[rule]]\r\nproduct = \"acad\"\r\nexclude = [\"user:zoe\"]\r\n").as_bytes(),
    );
    assert_eq!(status, 200, "{page}");

    // A borrow returned early with its own token.
    let (status, borrow) = api.borrow("acad", "carl", "laptop3", "c3", 8);
    assert_eq!(status, 201, "{borrow}");
    let bid = borrow["borrow_id"].as_str().unwrap();
    assert_eq!(
        api.delete(&format!("/api/v1/borrows/{bid}"), borrow["token"].as_str())
            .0,
        204
    );

    // A site key made and revoked on the command line.
    let site_key = |args: &[&str]| {
        texts(
            tessera()
                .args(["server", "site-key"])
                .args(args)
                .arg("--data")
                .arg(&server.data)
                .output()
                .unwrap(),
        )
    };
    let (out, _, said) = site_key(&["add", "Drawing office"]);
    assert!(out.status.success(), "{said}");
    let (out, _, said) = site_key(&["revoke", "Drawing office"]);
    assert!(out.status.success(), "{said}");
    let (out, _, said) = site_key(&["revoke", "Drawing office"]);
    assert!(!out.status.success(), "revoked twice? {said}");

    // The admin token rotated last: the running server still takes the old one.
    let (out, _, said) = server.cli("admin-token", &["--rotate"]);
    assert!(out.status.success(), "{said}");

    let all = entries(&server, &token, "");
    assert_eq!(all.len(), 10, "{all:#?}");
    let imports: Vec<&Value> = all
        .iter()
        .filter(|e| e["action"] == "activation_imported")
        .collect();
    assert_eq!(imports.len(), 2, "{all:#?}");
    assert!(
        imports
            .iter()
            .any(|e| e["actor"] == "tessera server activate (local)" && e["address"] == "")
    );
    assert!(imports.iter().any(|e| e["actor"] == "admin token"
        && e["address"] == "127.0.0.1"
        && e["detail"].as_str().unwrap().contains('q')));
    let removed: Vec<&Value> = all
        .iter()
        .filter(|e| e["action"] == "seat_removed")
        .collect();
    assert_eq!(removed.len(), 2, "{all:#?}");
    assert!(
        removed
            .iter()
            .any(|e| e["target"].as_str().unwrap().contains("anna@pc1")
                && e["actor"] == "admin token")
    );
    assert!(
        removed
            .iter()
            .any(|e| e["target"].as_str().unwrap().contains("ben@pc2")
                && e["address"] == "127.0.0.1")
    );
    let policies: Vec<&Value> = all
        .iter()
        .filter(|e| e["action"] == "policy_changed")
        .collect();
    assert_eq!(
        policies.len(),
        2,
        "the refused policy is not recorded: {all:#?}"
    );
    // Newest first: the live page's change, zed's exclusion made zoe's.
    assert_eq!(
        policies[0]["detail"],
        "- exclude = [\"user:zed\"]\n+ exclude = [\"user:zoe\"]\n"
    );
    assert!(
        policies[1]["detail"]
            .as_str()
            .unwrap()
            .contains("+ exclude = [\"user:zed\"]")
    );
    let returned = one(&all, "borrow_returned_early");
    assert_eq!(returned["actor"], "carl@laptop3");
    assert_eq!(returned["address"], "127.0.0.1");
    assert_eq!(
        one(&all, "site_key_made")["actor"],
        "tessera server site-key add (local)"
    );
    let revoked = one(&all, "site_key_revoked");
    assert_eq!(revoked["actor"], "tessera server site-key revoke (local)");
    assert_eq!(revoked["target"], "Drawing office");
    assert_eq!(
        one(&all, "admin_token_rotated")["actor"],
        "tessera server admin-token --rotate (local)"
    );
    for e in &all {
        assert!(e["at"].as_str().unwrap().ends_with('Z'), "{e}");
    }

    // Filters.
    assert_eq!(entries(&server, &token, "action=seat_removed").len(), 2);
    assert_eq!(entries(&server, &token, "actor=LOCAL").len(), 4);
    assert_eq!(entries(&server, &token, "target=drawing").len(), 2);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        entries(&server, &token, &format!("from={today}&to={today}")).len(),
        10
    );
    assert!(entries(&server, &token, "to=2001-01-01").is_empty());
    let (status, page1) = api.get("/api/v1/admin/audit?limit=5", Some(&token));
    assert_eq!(status, 200);
    let before = page1["next_before"].as_i64().unwrap();
    assert_eq!(
        entries(&server, &token, &format!("before={before}")).len(),
        5
    );
    for (query, says) in [
        ("from=yesterday", "`from` must be a date"),
        ("from=2026-02-01&to=2026-01-01", "must not be after"),
        ("action=everything", "`action` is one of"),
        ("limit=0", "`limit`"),
    ] {
        let (status, body) = api.get(&format!("/api/v1/admin/audit?{query}"), Some(&token));
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    assert_eq!(api.get("/api/v1/admin/audit", None).0, 401);
    assert_eq!(api.get("/api/v1/admin/audit", Some("tsa_wrong")).0, 401);

    // The page, behind the sign-in (with the token the running server knows: the
    // rotated one applies from its restart), with its filters and the link to it.
    let admin_page = |path: &str| {
        let page = api.raw("GET", path, &[("Cookie", &cookie)], b"");
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        page.text
    };
    assert!(admin_page("/").contains("href=\"/audit\""));
    let page = admin_page("/audit");
    for text in [
        "<td>Activation imported</td>",
        "<td>Seat removed</td>",
        "<td>Policy changed</td>",
        "<td>Borrow returned early</td>",
        "<td>Site key made</td>",
        "<td>Site key revoked</td>",
        "<td>Admin token rotated</td>",
        "carl@laptop3",
        "user:zoe",
    ] {
        assert!(page.contains(text), "{text} not on the page");
    }
    let page = admin_page("/audit?action=borrow_returned_early");
    assert!(
        page.contains("carl@laptop3") && !page.contains("anna@pc1"),
        "{page}"
    );
    let bad = api.raw("GET", "/audit?from=31.01.2026", &[("Cookie", &cookie)], b"");
    assert_eq!(bad.status, 422);
    assert!(bad.text.contains("`from` must be a date"), "{}", bad.text);
    let stranger = api.raw("GET", "/audit", &[], b"");
    assert!(!stranger.text.contains("carl@laptop3"), "{}", stranger.text);

    // The CSV, with the same filters; not without the admin token.
    let csv = api.raw(
        "GET",
        "/audit.csv?action=seat_removed",
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines[0], "at,actor,address,action,target,detail");
    assert_eq!(lines.len(), 3, "{}", csv.text);
    assert!(
        lines[1..].iter().all(|l| l.contains(",seat_removed,")),
        "{}",
        csv.text
    );
    let all_csv = api.raw("GET", "/audit.csv", &[("Cookie", &cookie)], b"");
    assert!(
        all_csv
            .text
            .contains("tessera server admin-token --rotate (local)"),
        "{}",
        all_csv.text
    );
    assert_eq!(api.raw("GET", "/audit.csv", &[], b"").status, 401);
    let api_csv = api.raw(
        "GET",
        "/api/v1/admin/audit?format=csv&action=policy_changed",
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    );
    assert_eq!(api_csv.status, 200);
    assert!(api_csv.text.contains("policy_changed"), "{}", api_csv.text);

    // The OpenAPI document has the call.
    let (_, doc) = api.get("/api/v1/openapi.json", None);
    assert!(doc["paths"]["/api/v1/admin/audit"]["get"].is_object());
}
