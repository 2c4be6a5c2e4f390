//! Limits: one client flooding the server is slowed with 429 `rate_limited` while every
//! other client keeps being answered.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;

/// A GET from a chosen loopback source address (127.0.0.2 and 127.0.0.3 are two clients).
fn get_from(source: &str, server: &str, path: &str) -> u16 {
    get_from_with(source, server, path, "")
}

/// The same with extra header lines (each ending in `\r\n`).
fn get_from_with(source: &str, server: &str, path: &str, headers: &str) -> u16 {
    let addr: SocketAddr = server.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&format!("{source}:0").parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket
        .connect_timeout(&addr.into(), Duration::from_secs(5))
        .unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A GET from `source` that says it forwards the request of `client` (`X-Forwarded-For`),
/// as a proxy does.
fn get_forwarded(source: &str, client: &str, server: &str, path: &str) -> u16 {
    get_from_with(
        source,
        server,
        path,
        &format!("X-Forwarded-For: {client}\r\n"),
    )
}

#[test]
fn a_flooding_client_is_slowed_while_others_are_answered() {
    let opts = ServerOpts::with_args(&["--rate-limit", "20"]);
    let (_vendor, server) = acad_server_with(opts, 5);
    let url = server.url.clone();
    let flood = std::thread::spawn(move || {
        let (mut ok, mut limited) = (0, 0);
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            match get_from("127.0.0.2", &url, "/api/v1/server") {
                200 => ok += 1,
                429 => limited += 1,
                other => panic!("unexpected status {other}"),
            }
        }
        (ok, limited)
    });
    // Meanwhile another client is answered every time.
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..15 {
        assert_eq!(get_from("127.0.0.3", &server.url, "/api/v1/server"), 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, limited) = flood.join().unwrap();
    assert!(limited > 0, "the flood was never limited ({ok} answered)");
    // 40 in the first burst, then about 20 a second for the rest of the 3 seconds.
    assert!(ok <= 40 + 3 * 20 + 10, "the flood got {ok} answers");
    let (status, body) = server.api().get("/api/v1/server", None);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn the_limit_answer_says_when_to_try_again() {
    let vendor = Vendor::new();
    let server = Server::start(&vendor, ServerOpts::with_args(&["--rate-limit", "1"]));
    let statuses: Vec<u16> = (0..4)
        .map(|_| get_from("127.0.0.4", &server.url, "/api/v1/server"))
        .collect();
    assert_eq!(&statuses[..2], &[200, 200], "a burst of twice the rate");
    assert!(statuses[2..].contains(&429), "{statuses:?}");
    let r = server.api().raw("GET", "/api/v1/server", &[], b"");
    // The test's own client is 127.0.0.1: its bucket is its own.
    assert_eq!(r.status, 200);
}

/// The portal's flag reaches its web license server: an organization's bucket, filled by
/// requests from every address, turns that organization's callers away while another
/// organization's path is answered (401 here: no credential came; the limit comes before
/// that answer, as before any other).
#[test]
fn the_portal_limits_each_organization_of_its_web_license_server() {
    let data = tempfile::tempdir().unwrap();
    let portal = PortalProcess::start(
        data.path(),
        None,
        &["--rate-limit", "0", "--org-rate-limit", "5"],
    );
    let url = &portal.url;
    let statuses: Vec<u16> = ["127.0.0.5", "127.0.0.6"]
        .iter()
        .cycle()
        .take(30)
        .map(|source| get_from(source, url, "/w/flooded/api/v1/server"))
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s != 429).count() <= 10 + 2,
        "a burst of 10 at most: {statuses:?}"
    );
    assert_eq!(get_from("127.0.0.5", url, "/w/other/api/v1/server"), 401);
}

/// Behind a trusted proxy each client is known by its `X-Forwarded-For` address: one
/// client flooding through the proxy is limited while another behind the same proxy is
/// answered. A peer that is not a trusted proxy cannot choose who it is with the header.
#[test]
fn behind_a_trusted_proxy_clients_are_told_apart_by_x_forwarded_for() {
    let vendor = Vendor::new();
    let opts = ServerOpts::with_args(&["--rate-limit", "1", "--trusted-proxy", "127.0.0.2"]);
    let server = Server::start(&vendor, opts);
    let via_proxy =
        |client: &str| get_forwarded("127.0.0.2", client, &server.url, "/api/v1/server");
    let flood: Vec<u16> = (0..10).map(|_| via_proxy("203.0.113.7")).collect();
    assert!(
        flood.contains(&429),
        "the flooding client is limited: {flood:?}"
    );
    assert_eq!(
        via_proxy("203.0.113.8"),
        200,
        "another client behind the proxy"
    );

    // Not a trusted proxy: its header changes nothing, it is limited as itself.
    let direct = |client: &str| get_forwarded("127.0.0.3", client, &server.url, "/api/v1/server");
    let flood: Vec<u16> = (0..10).map(|_| direct("198.51.100.1")).collect();
    assert!(flood.contains(&429), "{flood:?}");
    assert_eq!(
        direct("198.51.100.2"),
        429,
        "a new header is no new identity"
    );
}

/// The portal behind a trusted proxy: its web license server's per-client limit tells
/// clients apart by `X-Forwarded-For`.
#[test]
fn the_portal_behind_a_trusted_proxy_limits_each_client_by_x_forwarded_for() {
    let data = tempfile::tempdir().unwrap();
    let portal = PortalProcess::start(
        data.path(),
        None,
        &[
            "--rate-limit",
            "1",
            "--org-rate-limit",
            "0",
            "--trusted-proxy",
            "127.0.0.7",
        ],
    );
    let via_proxy =
        |client: &str| get_forwarded("127.0.0.7", client, &portal.url, "/w/someone/api/v1/server");
    let flood: Vec<u16> = (0..10).map(|_| via_proxy("203.0.113.70")).collect();
    assert!(flood.contains(&429), "{flood:?}");
    assert_eq!(
        via_proxy("203.0.113.71"),
        401,
        "another client behind the proxy is answered"
    );
}
