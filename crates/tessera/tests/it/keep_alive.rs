//! A keep-alive connection stays usable after an early answer: the server reads each
//! request's body before it answers, even when the answer needs none of it (a wrong
//! content type, a missing token, an unknown path). Otherwise it closes the connection
//! without saying so, and a client that sent its body a moment after the headers (as
//! clients on a real network do) fails on its next request. Raw HTTP/1.1 over one socket,
//! with the body sent 50 ms after the headers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::{ServerOpts, Vendor, pool, server_with};

/// Reads one response (its head and a `Content-Length` body); `None` when the server
/// closed the connection instead.
fn read_response(stream: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if got.len() >= end + 4 + length {
                return Some(String::from_utf8_lossy(&got[..end + 4 + length]).into_owned());
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Connects and sends a request's head only (its body is up to the caller).
fn send_head(address: &str, request: &str, headers: &str, length: usize) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{request} HTTP/1.1\r\nHost: test\r\n{headers}Content-Length: {length}\r\n\r\n"
    )
    .unwrap();
    stream.flush().unwrap();
    stream
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

fn status_of(response: &str) -> u16 {
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Sends `request` with `body` 50 ms after its head, expects `want`, and asks
/// `GET again` on the same connection, which must answer 200.
fn early_answer_then_again(
    address: &str,
    (request, headers, want): (&str, &str, u16),
    again: &str,
) {
    let body = br#"{"product":"acad","user":"u","host":"h","client_id":"c"}"#;
    let mut stream = send_head(address, request, headers, body.len());
    std::thread::sleep(Duration::from_millis(50));
    stream.write_all(body).unwrap();
    let first = read_response(&mut stream).expect("an answer");
    assert_eq!(status_of(&first), want, "{request}: {first}");
    assert!(
        !first.to_lowercase().contains("connection: close"),
        "{request}: {first}"
    );
    std::thread::sleep(Duration::from_millis(50));
    write!(stream, "GET {again} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let second = read_response(&mut stream)
        .unwrap_or_else(|| panic!("{request}: the server closed the connection after {want}"));
    assert_eq!(status_of(&second), 200, "{request}: {second}");
}

#[test]
fn the_portals_calls_for_programs_leave_the_connection_usable_after_an_early_answer() {
    let data = tempfile::tempdir().unwrap();
    let portal = crate::common::PortalProcess::start(data.path(), None, &[]);
    let address = host_port(&portal.url);
    for case in [
        (
            "POST /api/v1/tokens/use",
            "Content-Type: application/json\r\n",
            401,
        ),
        (
            "POST /api/v1/named/refresh",
            "Content-Type: text/plain\r\n",
            415,
        ),
        (
            "POST /api/v1/named/activations",
            "Content-Type: text/plain\r\n",
            415,
        ),
    ] {
        early_answer_then_again(&address, case, "/healthz");
    }
}

#[test]
fn an_early_answer_leaves_the_connection_usable_for_the_next_request() {
    let vendor = Vendor::new();
    let server = server_with(
        &vendor,
        ServerOpts::default(),
        vec![pool("p", &["acad"], 2, 0)],
    );
    let address = host_port(&server.url);
    for case in [
        ("POST /api/v1/leases", "Content-Type: text/plain\r\n", 415),
        (
            "POST /api/v1/leases/nope/heartbeat",
            "Content-Type: application/json\r\n",
            401,
        ),
        (
            "POST /api/v1/nothing",
            "Content-Type: application/json\r\n",
            404,
        ),
        ("DELETE /api/v1/borrows/nope", "", 401),
    ] {
        early_answer_then_again(&address, case, "/api/v1/server");
    }

    // A body far over the limit is refused unread, and the answer says the connection
    // closes.
    let mut stream = send_head(
        &address,
        "POST /api/v1/leases",
        "Content-Type: application/json\r\n",
        10 * 1024 * 1024,
    );
    let refused = read_response(&mut stream).expect("an answer");
    assert_eq!(status_of(&refused), 413, "{refused}");
    assert!(
        refused.to_lowercase().contains("connection: close"),
        "{refused}"
    );
}
