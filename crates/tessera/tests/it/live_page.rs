//! The live page at `/`: sign-in with the admin token, who holds which seat, and removing
//! a stuck seat, as an office admin's browser sees it.

use crate::common;

use common::*;

const FORM: &str = "application/x-www-form-urlencoded";

fn sign_in(api: &Api, token: &str) -> Raw {
    api.raw(
        "POST",
        "/login",
        &[("content-type", FORM)],
        format!("token={token}").as_bytes(),
    )
}

/// Signs in and returns the `Cookie` header value a browser would send back.
fn session_cookie(server: &Server) -> String {
    let r = sign_in(&server.api(), &server.admin_token());
    assert_eq!(r.status, 303, "{}", r.text);
    let set = r.header("set-cookie").expect("a session cookie");
    set.split(';').next().unwrap().trim().to_owned()
}

fn page(api: &Api, cookie: Option<&str>) -> Raw {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
    let r = api.raw("GET", "/", &headers, b"");
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        r.header("content-type")
    );
    r
}

fn office() -> (Vendor, Server) {
    let vendor = Vendor::new();
    let server = server_with(
        &vendor,
        ServerOpts::default(),
        vec![
            pool("cad", &["acad"], 3, 48),
            pool("bim", &["revit", "navis"], 2, 0),
        ],
    );
    (vendor, server)
}

/// Whether the page has a sign-in form: an admin token input with a label tied to it.
fn has_sign_in_form(html: &str) -> bool {
    let Some(at) = html.find("<label for=\"") else {
        return false;
    };
    let rest = &html[at + "<label for=\"".len()..];
    let id = &rest[..rest.find('"').unwrap()];
    let label_text = &rest[rest.find('>').unwrap() + 1..rest.find("</label>").unwrap()];
    let Some(input_at) = html.find(&format!("id=\"{id}\"")) else {
        return false;
    };
    let input_start = html[..input_at].rfind('<').unwrap();
    let input = &html[input_start..input_start + html[input_start..].find('>').unwrap()];
    input.starts_with("<input")
        && input.contains("name=\"token\"")
        && input.contains("type=\"password\"")
        && label_text.to_lowercase().contains("admin token")
        && html.contains("action=\"/login\"")
}

#[test]
fn without_a_cookie_the_page_shows_only_the_sign_in_form() {
    let (_vendor, server) = office();
    let api = server.api();
    let (status, _) = api.checkout("acad", "anna", "pc-anna", "c1");
    assert_eq!(status, 201);

    let html = page(&api, None).text;
    assert!(has_sign_in_form(&html), "{html}");
    assert!(
        !html.contains("pc-anna") && !html.contains("anna"),
        "who uses what is for the admin only: {html}"
    );
    // A forged or stale cookie is no sign-in.
    let html = page(&api, Some("tessera_admin=tsa_forged")).text;
    assert!(has_sign_in_form(&html));
    assert!(!html.contains("pc-anna"));
}

#[test]
fn sign_in_with_a_wrong_token_answers_401_and_sets_no_cookie() {
    let (_vendor, server) = office();
    let r = sign_in(&server.api(), "tsa_wrong");
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.header_all("set-cookie").is_empty(), "{:?}", r.headers);
    assert!(has_sign_in_form(&r.text), "the form is shown again");
    assert!(r.text.contains("not this server"), "an error is shown");
    // An empty token neither.
    let r = sign_in(&server.api(), "");
    assert!(r.status >= 400 && r.status < 500, "{}", r.status);
    assert!(r.header_all("set-cookie").is_empty());
}

#[test]
fn sign_in_with_the_admin_token_redirects_with_an_http_only_same_site_strict_cookie() {
    let (_vendor, server) = office();
    let r = sign_in(&server.api(), &server.admin_token());
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.header("location"), Some("/"));
    let cookies = r.header_all("set-cookie");
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with("tessera_admin="), "{cookie}");
    let attrs: Vec<String> = cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(attrs.iter().any(|a| a == "httponly"), "{cookie}");
    assert!(attrs.iter().any(|a| a == "samesite=strict"), "{cookie}");
    assert!(attrs.iter().any(|a| a == "path=/"), "{cookie}");

    // The cookie signs the browser in.
    let html = page(&server.api(), Some(cookie.split(';').next().unwrap())).text;
    assert!(!has_sign_in_form(&html), "{html}");
    assert!(html.contains("Sign out"), "{html}");
}

#[test]
fn signed_in_the_page_lists_each_pool_in_use_offline_and_who_holds_a_seat() {
    let (_vendor, server) = office();
    let api = server.api();
    assert_eq!(api.checkout("acad", "anna", "pc-anna", "c1").0, 201);
    let (status, borrow) = api.borrow("acad", "bob", "laptop-bob", "b1", 8);
    assert_eq!(status, 201, "{borrow}");
    assert_eq!(api.checkout("navis", "carl", "pc-carl", "c3").0, 201);

    let html = page(&api, Some(&session_cookie(&server))).text;
    for text in [
        "acad",
        "revit",
        "navis",
        "in use",
        "offline",
        "anna",
        "pc-anna",
        "bob",
        "laptop-bob",
        "carl",
        "pc-carl",
    ] {
        assert!(html.contains(text), "the page lacks {text:?}:\n{html}");
    }
    // The counts per pool: cad has one seat online and one offline, bim one online.
    assert!(
        html.contains("<strong>1</strong> in use · <strong>1</strong> offline"),
        "{html}"
    );
    assert!(
        html.contains("<strong>1</strong> in use · <strong>0</strong> offline"),
        "{html}"
    );
    assert!(
        html.contains("offline (borrowed)"),
        "bob's seat is marked offline"
    );
}

#[test]
fn user_names_on_the_page_are_escaped() {
    let (_vendor, server) = office();
    let api = server.api();
    let (status, _) = api.checkout("acad", "<script>alert(1)</script>", "<b>pc</b>", "c1");
    assert_eq!(status, 201);
    let html = page(&api, Some(&session_cookie(&server))).text;
    assert!(!html.contains("<script>alert(1)</script>"), "{html}");
    assert!(!html.contains("<b>pc</b>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
        "the name is shown, escaped: {html}"
    );
}

#[test]
fn removing_a_seat_from_the_page_frees_it() {
    let (_vendor, server) = office();
    let api = server.api();
    let (_, lease) = api.checkout("acad", "anna", "pc-anna", "c1");
    let id = lease["lease_id"].as_str().unwrap();
    let remove = format!("/leases/{id}/remove");
    let cookie = session_cookie(&server);
    assert!(
        page(&api, Some(&cookie)).text.contains(&remove),
        "each seat has a remove button"
    );

    // Not signed in: refused, the seat stays.
    let r = api.raw("POST", &remove, &[("content-type", FORM)], b"");
    assert_eq!(r.status, 401, "{}", r.text);
    // Signed in, but the form comes from another site: refused, the seat stays.
    let r = api.raw(
        "POST",
        &remove,
        &[
            ("content-type", FORM),
            ("cookie", &cookie),
            ("origin", "http://evil.example"),
        ],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(api.pool("cad")["in_use"], 1);
    assert_eq!(api.heartbeat(&lease).0, 200);

    let r = api.raw(
        "POST",
        &remove,
        &[("content-type", FORM), ("cookie", &cookie)],
        b"",
    );
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.header("location"), Some("/"));
    assert_eq!(api.pool("cad")["in_use"], 0);
    let (status, body) = api.heartbeat(&lease);
    assert_eq!((status, code(&body)), (404, "lease_not_found"), "{body}");
    let html = page(&api, Some(&cookie)).text;
    assert!(!html.contains("pc-anna"), "{html}");
}

#[test]
fn signing_out_clears_the_cookie() {
    let (_vendor, server) = office();
    let cookie = session_cookie(&server);
    let r = server
        .api()
        .raw("POST", "/logout", &[("cookie", &cookie)], b"");
    assert_eq!(r.status, 303, "{}", r.text);
    let set = r.header("set-cookie").expect("the cookie is cleared");
    assert!(set.starts_with("tessera_admin=;"), "{set}");
    assert!(set.to_ascii_lowercase().contains("max-age=0"), "{set}");
}

/// Reads an open event stream until `want` shows, or panics after `within`.
fn read_until(stream: &mut std::net::TcpStream, want: &str, within: std::time::Duration) -> String {
    use std::io::Read;
    let deadline = std::time::Instant::now() + within;
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains(want) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(!left.is_zero(), "no {want:?} in {seen:?}");
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => panic!("the stream ended before {want:?}: {seen:?}"),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) => panic!("no {want:?} ({e}): {seen:?}"),
        }
    }
    seen
}

#[test]
fn the_live_pages_event_stream_tells_of_a_seat_taken_and_ends_when_the_server_stops() {
    use std::io::{Read, Write};
    let (_vendor, mut server) = office();
    let api = server.api();
    // Without the admin's cookie there is no stream.
    let r = api.raw("GET", "/events", &[], b"");
    assert_eq!(r.status, 401, "{}", r.text);

    let cookie = session_cookie(&server);
    let html = page(&api, Some(&cookie)).text;
    let version = html
        .split("data-live-version=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the page names its version")
        .to_owned();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    write!(
        stream,
        "GET /events?since={version} HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let head = read_until(&mut stream, "\r\n\r\n", std::time::Duration::from_secs(10));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");

    let started = std::time::Instant::now();
    assert_eq!(api.checkout("acad", "anna", "pc-anna", "c1").0, 201);
    read_until(
        &mut stream,
        "event: change",
        std::time::Duration::from_secs(10),
    );
    // Told at once by this node, not at the next look every 5 s.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A page still listening does not hold the server's shutdown.
    let stopping = std::time::Instant::now();
    let status = server.terminate_status();
    assert!(status.success(), "{status:?}");
    assert!(
        stopping.elapsed() < std::time::Duration::from_secs(4),
        "the server took {:?} to stop",
        stopping.elapsed()
    );
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
}
