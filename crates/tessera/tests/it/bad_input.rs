//! Bad input of every kind gets a typed error in the protocol's JSON format, with its
//! fitting status and never a 500, and the server goes on serving.

use crate::common;

use common::*;
use serde_json::{Value, json};

fn valid_checkout() -> Value {
    json!({"product": "acad", "user": "anna", "host": "pc1", "client_id": "c1"})
}

/// Asserts an error answer: exact status and code, a message, never a 500.
#[track_caller]
fn assert_error(what: &str, got: (u16, Value), status: u16, code_: &str) {
    let (s, body) = got;
    assert_ne!(s, 500, "{what}: a 500 for bad input: {body}");
    assert_eq!(
        (s, code(&body)),
        (status, code_),
        "{what}: expected {status} {code_}, got {s}: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: no message: {body}"
    );
}

#[track_caller]
fn raw_json(r: Raw) -> (u16, Value) {
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "expected an error in JSON, got {} with content type {:?}: {:?}",
        r.status,
        r.header("content-type"),
        r.text
    );
    (r.status, r.json())
}

fn still_serves(server: &Server) {
    let api = server.api();
    let (status, lease) = api.checkout("acad", "zoe", "pc-zoe", "c-zoe");
    assert_eq!(status, 201, "after the bad input: {lease}");
    assert_eq!(api.heartbeat(&lease).0, 200);
    assert_eq!(api.pool("p")["in_use"], 1, "no bad request took a seat");
}

#[test]
fn oversized_fields_answer_422() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    for field in ["user", "host", "client_id", "product"] {
        let mut body = valid_checkout();
        body[field] = json!("x".repeat(129));
        assert_error(
            &format!("{field} of 129 chars"),
            api.post_json("/api/v1/leases", None, &body),
            422,
            "invalid_request",
        );
        // A long multi-byte name counts characters, and 10 000 is far too long.
        body[field] = json!("ż".repeat(10_000));
        assert_error(
            &format!("{field} of 10 000 chars"),
            api.post_json("/api/v1/leases", None, &body),
            422,
            "invalid_request",
        );
    }
    still_serves(&server);
}

#[test]
fn a_body_over_64_kib_answers_413_payload_too_large() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    let mut body = valid_checkout();
    body["user"] = json!("x".repeat(70 * 1024));
    let bytes = serde_json::to_vec(&body).unwrap();
    assert!(bytes.len() > 64 * 1024);
    assert_error(
        "checkout of 70 KiB",
        raw_json(api.raw(
            "POST",
            "/api/v1/leases",
            &[("content-type", "application/json")],
            &bytes,
        )),
        413,
        "payload_too_large",
    );
    // Valid JSON padded past the limit, sent chunked (no Content-Length to go by).
    let mut padded = serde_json::to_vec(&valid_checkout()).unwrap();
    padded.extend(std::iter::repeat_n(b' ', 66 * 1024));
    assert_error(
        "chunked checkout of 66 KiB",
        raw_json(api.raw_chunked(
            "POST",
            "/api/v1/leases",
            &[("content-type", "application/json")],
            padded,
        )),
        413,
        "payload_too_large",
    );
    still_serves(&server);
}

#[test]
fn an_activation_body_over_64_kib_answers_413_payload_too_large_in_json() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    let admin = format!("Bearer {}", server.admin_token());
    let big = vec![b'k'; 70 * 1024];
    assert_error(
        "activation of 70 KiB",
        raw_json(api.raw(
            "POST",
            "/api/v1/admin/activations",
            &[("authorization", &admin), ("content-type", "text/plain")],
            &big,
        )),
        413,
        "payload_too_large",
    );
    assert_error(
        "policy of 70 KiB",
        raw_json(api.raw(
            "PUT",
            "/api/v1/admin/policy",
            &[("authorization", &admin), ("content-type", "text/plain")],
            &big,
        )),
        413,
        "payload_too_large",
    );
    still_serves(&server);
}

#[test]
fn wrong_json_types_answer_422_invalid_request() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    let mut cases: Vec<(&str, Value)> = vec![
        ("an array", json!([valid_checkout()])),
        ("a string", json!("acad")),
        ("a number", json!(42)),
        ("null", Value::Null),
        ("an empty object", json!({})),
    ];
    for (field, value) in [
        ("product", json!(1)),
        ("user", json!(true)),
        ("host", json!(["pc1"])),
        ("client_id", json!({"id": 1})),
        ("version", json!(3)),
        ("wait_s", json!("ten")),
        ("wait_s", json!(-1)),
        ("wait_s", json!(1.5)),
    ] {
        let mut body = valid_checkout();
        body[field] = value;
        cases.push((field, body));
    }
    for (what, body) in cases {
        assert_error(
            what,
            api.post_json("/api/v1/leases", None, &body),
            422,
            "invalid_request",
        );
    }
    still_serves(&server);
}

#[test]
fn broken_json_answers_400_invalid_json() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    for body in [
        &b"{\"product\": "[..],
        b"{product: acad}",
        b"{\"product\": \"acad\",}",
        b"not json at all",
        br#"{"product": "acad", "user": "a", "host": "h", "client_id": "c"} trailing"#,
    ] {
        assert_error(
            &String::from_utf8_lossy(body),
            api.post_raw("/api/v1/leases", None, "application/json", body),
            400,
            "invalid_json",
        );
    }
    // Not UTF-8 either.
    let r = api.post_raw(
        "/api/v1/leases",
        None,
        "application/json",
        &[0xff, 0xfe, 0x7b],
    );
    assert_ne!(r.0, 500, "{}", r.1);
    assert!(
        (r.0, code(&r.1)) == (400, "invalid_json"),
        "bytes that are not UTF-8: {} {}",
        r.0,
        r.1
    );
    still_serves(&server);
}

#[test]
fn a_non_json_content_type_answers_415_unsupported_media_type() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    let body = serde_json::to_vec(&valid_checkout()).unwrap();
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        assert_error(
            ct,
            api.post_raw("/api/v1/leases", None, ct, &body),
            415,
            "unsupported_media_type",
        );
    }
    assert_error(
        "no content type",
        raw_json(api.raw("POST", "/api/v1/leases", &[], &body)),
        415,
        "unsupported_media_type",
    );
    // JSON with a charset is still JSON.
    let (status, lease) = api.post_raw(
        "/api/v1/leases",
        None,
        "application/json; charset=utf-8",
        &body,
    );
    assert_eq!(status, 201, "{lease}");
}

#[test]
fn unknown_fields_answer_422_invalid_request() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    let mut body = valid_checkout();
    body["seats"] = json!(100);
    assert_error(
        "unknown field `seats`",
        api.post_json("/api/v1/leases", None, &body),
        422,
        "invalid_request",
    );
    let mut body = valid_checkout();
    body["User"] = json!("anna");
    assert_error(
        "field name in the wrong case",
        api.post_json("/api/v1/leases", None, &body),
        422,
        "invalid_request",
    );
    still_serves(&server);
}

#[test]
fn an_unknown_path_answers_404_not_found_in_json() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    for path in ["/api/v1/nope", "/api/v1/leases/x/y/z", "/api/v1/admin"] {
        assert_error(
            path,
            raw_json(api.raw("GET", path, &[], b"")),
            404,
            "not_found",
        );
    }
    assert_error(
        "POST to an unknown call",
        raw_json(api.raw(
            "POST",
            "/api/v1/licenses",
            &[("content-type", "application/json")],
            b"{}",
        )),
        404,
        "not_found",
    );
    still_serves(&server);
}

#[test]
fn api_paths_outside_the_v1_calls_also_answer_404_not_found_in_json() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    // A trailing slash, a newer client asking for a protocol this server does not
    // speak, and a mistyped prefix: each is a protocol client that reads JSON errors.
    for path in ["/api/v1/", "/api/v2/server", "/api/leases"] {
        assert_error(
            path,
            raw_json(api.raw("GET", path, &[], b"")),
            404,
            "not_found",
        );
    }
    still_serves(&server);
}

#[test]
fn a_wrong_method_answers_405_method_not_allowed_in_json() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    for (method, path) in [
        ("GET", "/api/v1/leases"),
        ("PUT", "/api/v1/leases"),
        ("DELETE", "/api/v1/server"),
        ("POST", "/api/v1/server"),
        ("GET", "/api/v1/leases/abc/heartbeat"),
        ("PATCH", "/api/v1/leases/abc"),
        ("POST", "/api/v1/admin/leases"),
        ("GET", "/api/v1/admin/activations"),
    ] {
        assert_error(
            &format!("{method} {path}"),
            raw_json(api.raw(method, path, &[], b"")),
            405,
            "method_not_allowed",
        );
    }
    still_serves(&server);
}

#[test]
fn odd_lease_ids_and_tokens_never_cause_a_500() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    let (_, lease) = api.checkout("acad", "anna", "pc1", "c1");
    let token = lease["token"].as_str().unwrap();
    let long_id = "a".repeat(10_000);
    for id in [
        "does-not-exist",
        "%00",
        "..%2F..%2Fetc%2Fpasswd",
        "'%20OR%201=1--",
        long_id.as_str(),
    ] {
        let (status, body) = api.post_empty(&format!("/api/v1/leases/{id}/heartbeat"), Some(token));
        assert_error(&format!("heartbeat {id}"), (status, body), 403, "forbidden");
        let (status, body) = api.delete(
            &format!("/api/v1/admin/leases/{id}"),
            Some(&server.admin_token()),
        );
        assert_error(
            &format!("admin remove {id}"),
            (status, body),
            404,
            "lease_not_found",
        );
    }
    // A bearer token far too long, and a token that is a token in name only.
    let huge = "v4.public.".to_owned() + &"A".repeat(20_000);
    let id = lease["lease_id"].as_str().unwrap();
    for bad in [huge.as_str(), "v4.public.", "v4.local.AAAA", "Bearer"] {
        let (status, body) = api.post_empty(&format!("/api/v1/leases/{id}/heartbeat"), Some(bad));
        assert_error("bad bearer", (status, body), 401, "unauthorized");
    }
    let r = api.raw(
        "POST",
        &format!("/api/v1/leases/{id}/heartbeat"),
        &[("authorization", "Basic YWRtaW46YWRtaW4=")],
        b"",
    );
    assert_error("basic auth", raw_json(r), 401, "unauthorized");
    assert_eq!(api.heartbeat(&lease).0, 200, "the real lease is untouched");
}

#[test]
fn after_a_barrage_of_bad_input_the_server_still_serves_a_normal_checkout() {
    let (_vendor, server) = acad_server(2);
    let api = server.api();
    let mut big = valid_checkout();
    big["host"] = json!("h".repeat(100 * 1024));
    let big = serde_json::to_vec(&big).unwrap();
    let barrage: Vec<(&str, &str, &[u8])> = vec![
        ("POST", "application/json", b"{"),
        ("POST", "application/json", b"[]"),
        ("POST", "text/plain", b"{}"),
        ("POST", "application/json", &big),
        (
            "POST",
            "application/json",
            b"{\"product\":\"acad\",\"user\":\"\\u0000\",\"host\":\"h\",\"client_id\":\"c\"}",
        ),
    ];
    for _ in 0..20 {
        for (method, ct, body) in &barrage {
            let r = api.raw(method, "/api/v1/leases", &[("content-type", ct)], body);
            assert!(
                (400..500).contains(&r.status),
                "{} {}: {}",
                r.status,
                String::from_utf8_lossy(&body[..body.len().min(40)]),
                r.text
            );
        }
    }
    still_serves(&server);
    let (_, info) = api.get("/api/v1/server", None);
    assert_eq!(info["products"][0]["in_use"], 1);
}
