//! Tests of the client against a small in-process fake license server (plain HTTP/1.1
//! on std sockets) that signs tokens like the web license server does, so the heartbeat
//! loop, re-checkout, check-in and token checks run end to end without the real server.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use tessera_core::protocol::{BorrowGrant, BorrowRequest, CheckoutRequest, LeaseGrant};
use tessera_token::{SeatClaims, SeatKind, SigningKey, sign_seat, verify_own_seat_token};

use crate::{Client, ClientConfig, ClientError, License, LicenseStatus};

const ADMIN: &str = "admin-secret";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// Answers every call with 503, like a server that is restarting.
    Down,
    /// Signs tokens with a key the vendor never trusted.
    Rogue,
    /// Signs tokens for another user than asked.
    WrongUser,
}

#[derive(Clone)]
struct FakeLease {
    id: String,
    client_id: String,
    product: String,
    user: String,
    host: String,
}

struct FakeState {
    seats: usize,
    interval_s: u64,
    mode: Mode,
    leases: Vec<FakeLease>,
    borrows: Vec<FakeLease>,
    /// The pool's longest borrow; 0 forbids borrowing.
    borrow_max_hours: u32,
    /// When set, every borrow lasts this long instead of the hours asked (negative: it
    /// has ended already).
    borrow_length: Option<chrono::Duration>,
    /// How far the server's clock is ahead of this computer's.
    skew: chrono::Duration,
    log: Vec<String>,
}

struct Fake {
    vendor: SigningKey,
    rogue: SigningKey,
    url: String,
    /// The cache folder of the clients made by `client` and `client_with`.
    cache: tempfile::TempDir,
    state: Mutex<FakeState>,
}

struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Fake {
    fn start(seats: usize, interval_s: u64) -> Arc<Fake> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let fake = Arc::new(Fake {
            vendor: SigningKey::generate(),
            rogue: SigningKey::generate(),
            url: format!("http://{}", listener.local_addr().unwrap()),
            cache: tempfile::tempdir().unwrap(),
            state: Mutex::new(FakeState {
                seats,
                interval_s,
                mode: Mode::Normal,
                leases: Vec::new(),
                borrows: Vec::new(),
                borrow_max_hours: 24,
                borrow_length: None,
                skew: chrono::Duration::zero(),
                log: Vec::new(),
            }),
        });
        let weak = Arc::downgrade(&fake);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Some(fake) = weak.upgrade() else { return };
                if let Ok(stream) = stream {
                    std::thread::spawn(move || fake.serve(stream));
                }
            }
        });
        fake
    }

    fn client(&self) -> Client {
        self.client_with(ClientConfig::builder())
    }

    fn client_with(&self, builder: crate::ClientConfigBuilder) -> Client {
        Client::new(
            builder
                .server(&self.url)
                .vendor_key(self.vendor.verifying_key().clone())
                .user("anna")
                .host("pc1")
                .cache_dir(self.cache.path())
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        )
    }

    fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    fn leases(&self) -> Vec<FakeLease> {
        self.state.lock().unwrap().leases.clone()
    }

    fn borrows(&self) -> Vec<FakeLease> {
        self.state.lock().unwrap().borrows.clone()
    }

    fn with_state(&self, change: impl FnOnce(&mut FakeState)) {
        change(&mut self.state.lock().unwrap());
    }

    fn count(&self, prefix: &str) -> usize {
        let state = self.state.lock().unwrap();
        state.log.iter().filter(|l| l.starts_with(prefix)).count()
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let request = Request {
            method,
            path,
            headers,
            body: String::from_utf8(body).unwrap(),
        };
        let (status, body) = self.handle(&request);
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.flush();
    }

    fn error(status: u16, code: &str, message: &str) -> (u16, String) {
        (
            status,
            json!({"error": {"code": code, "message": message}}).to_string(),
        )
    }

    fn grant(&self, state: &FakeState, lease: &FakeLease) -> String {
        let now = Utc::now();
        let claims = SeatClaims {
            kind: SeatKind::Lease,
            jti: lease.id.clone(),
            sub: if state.mode == Mode::WrongUser {
                "mallory".into()
            } else {
                lease.user.clone()
            },
            host: lease.host.clone(),
            client_id: lease.client_id.clone(),
            products: vec![lease.product.clone()],
            pool: "p1".into(),
            site_key: None,
            iat: now,
            exp: now + chrono::Duration::seconds(120),
        };
        let key = if state.mode == Mode::Rogue {
            &self.rogue
        } else {
            &self.vendor
        };
        let grant = LeaseGrant {
            lease_id: lease.id.clone(),
            token: sign_seat(key, &claims, None).unwrap(),
            expires_at: claims.exp,
            heartbeat_interval_s: state.interval_s,
        };
        serde_json::to_string(&grant).unwrap()
    }

    fn borrow_grant(&self, state: &FakeState, borrow: &FakeLease, until: DateTime<Utc>) -> String {
        let now = Utc::now() + state.skew;
        let claims = SeatClaims {
            kind: SeatKind::Borrow,
            jti: borrow.id.clone(),
            sub: borrow.user.clone(),
            host: borrow.host.clone(),
            client_id: borrow.client_id.clone(),
            products: vec![borrow.product.clone()],
            pool: "p1".into(),
            site_key: None,
            iat: now,
            exp: until,
        };
        let key = if state.mode == Mode::Rogue {
            &self.rogue
        } else {
            &self.vendor
        };
        let grant = BorrowGrant {
            borrow_id: borrow.id.clone(),
            token: sign_seat(key, &claims, None).unwrap(),
            until,
        };
        serde_json::to_string(&grant).unwrap()
    }

    fn bearer_lease(&self, request: &Request) -> Option<String> {
        let token = request
            .headers
            .get("authorization")?
            .strip_prefix("Bearer ")?;
        verify_own_seat_token(self.vendor.verifying_key(), token)
            .ok()
            .map(|c| c.jti)
    }

    fn handle(&self, request: &Request) -> (u16, String) {
        let mut state = self.state.lock().unwrap();
        state
            .log
            .push(format!("{} {}", request.method, request.path));
        if state.mode == Mode::Down {
            return Self::error(503, "unavailable", "restarting");
        }
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        let admin_ok = request.headers.get("authorization").map(String::as_str)
            == Some(&format!("Bearer {ADMIN}"));
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["api", "v1", "server"]) => (
                200,
                json!({
                    "server_id": "s1", "registration_key": "TSR1-X", "public_key": "k4.public.x",
                    "version": "0.1.0", "heartbeat_interval_s": state.interval_s,
                    "lease_ttl_s": 120, "products": []
                })
                .to_string(),
            ),
            ("POST", ["api", "v1", "leases"]) => {
                let asked: CheckoutRequest = serde_json::from_str(&request.body).unwrap();
                if asked.product != "acad" {
                    return Self::error(404, "unknown_product", "no pool covers `x`");
                }
                if let Some(lease) = state
                    .leases
                    .iter()
                    .find(|l| l.client_id == asked.client_id && l.product == asked.product)
                    .cloned()
                {
                    return (200, self.grant(&state, &lease));
                }
                if state.leases.len() + state.borrows.len() >= state.seats {
                    let message = format!("all {} seats of `acad` are in use", state.seats);
                    return Self::error(409, "no_seat_available", &message);
                }
                let lease = FakeLease {
                    id: uuid::Uuid::new_v4().to_string(),
                    client_id: asked.client_id,
                    product: asked.product,
                    user: asked.user,
                    host: asked.host,
                };
                state.leases.push(lease.clone());
                (201, self.grant(&state, &lease))
            }
            ("POST", ["api", "v1", "leases", id, "heartbeat"]) => {
                if self.bearer_lease(request).as_deref() != Some(*id) {
                    return Self::error(401, "unauthorized", "bad token");
                }
                match state.leases.iter().find(|l| l.id == *id).cloned() {
                    Some(lease) => (200, self.grant(&state, &lease)),
                    None => Self::error(404, "lease_not_found", "the lease has expired"),
                }
            }
            ("DELETE", ["api", "v1", "leases", id]) => {
                if self.bearer_lease(request).as_deref() != Some(*id) {
                    return Self::error(401, "unauthorized", "bad token");
                }
                let before = state.leases.len();
                state.leases.retain(|l| l.id != *id);
                if state.leases.len() == before {
                    Self::error(404, "lease_not_found", "no such lease")
                } else {
                    (200, "{}".into())
                }
            }
            ("POST", ["api", "v1", "borrows"]) => {
                let asked: BorrowRequest = serde_json::from_str(&request.body).unwrap();
                if asked.product != "acad" {
                    return Self::error(404, "unknown_product", "no pool covers `x`");
                }
                if state.borrow_max_hours == 0 {
                    return Self::error(403, "borrow_not_allowed", "`acad` is not lent");
                }
                if asked.hours > state.borrow_max_hours {
                    let message = format!(
                        "`acad` is lent for at most {} hours",
                        state.borrow_max_hours
                    );
                    return Self::error(422, "borrow_too_long", &message);
                }
                let length = state
                    .borrow_length
                    .unwrap_or(chrono::Duration::hours(i64::from(asked.hours)));
                let until = Utc::now() + state.skew + length;
                if let Some(borrow) = state
                    .borrows
                    .iter()
                    .find(|b| b.client_id == asked.client_id && b.product == asked.product)
                    .cloned()
                {
                    return (200, self.borrow_grant(&state, &borrow, until));
                }
                if state.leases.len() + state.borrows.len() >= state.seats {
                    return Self::error(409, "no_seat_available", "all seats are in use");
                }
                let borrow = FakeLease {
                    id: uuid::Uuid::new_v4().to_string(),
                    client_id: asked.client_id,
                    product: asked.product,
                    user: asked.user,
                    host: asked.host,
                };
                state.borrows.push(borrow.clone());
                (201, self.borrow_grant(&state, &borrow, until))
            }
            (method @ ("GET" | "DELETE"), ["api", "v1", "borrows", id]) => {
                if self.bearer_lease(request).as_deref() != Some(*id) {
                    return Self::error(401, "unauthorized", "bad token");
                }
                let Some(borrow) = state.borrows.iter().find(|b| b.id == *id).cloned() else {
                    return Self::error(404, "borrow_not_found", "the borrow has ended");
                };
                if method == "DELETE" {
                    state.borrows.retain(|b| b.id != *id);
                    return (204, String::new());
                }
                let until = Utc::now() + chrono::Duration::hours(1);
                (200, self.borrow_grant(&state, &borrow, until))
            }
            (_, ["api", "v1", "admin", ..]) if !admin_ok => {
                Self::error(401, "unauthorized", "the admin token is not valid")
            }
            ("GET", ["api", "v1", "admin", "leases"]) => {
                let now = Utc::now();
                let leases: Vec<_> = state
                    .leases
                    .iter()
                    .map(|l| {
                        json!({
                            "id": l.id, "kind": "lease", "pool_id": "p1", "product": l.product,
                            "user": l.user, "host": l.host, "client_id": l.client_id,
                            "since": now, "last_heartbeat": now, "until": now
                        })
                    })
                    .collect();
                (200, json!({ "leases": leases }).to_string())
            }
            ("DELETE", ["api", "v1", "admin", "leases", id]) => {
                state.leases.retain(|l| l.id != *id);
                state.borrows.retain(|b| b.id != *id);
                (200, "{}".into())
            }
            ("POST", ["api", "v1", "admin", "activations"]) => {
                let content_type = request.headers.get("content-type").cloned();
                if !content_type.unwrap_or_default().starts_with("text/plain") {
                    return Self::error(415, "unsupported_media_type", "text please");
                }
                if request.body != "v4.public.key" {
                    return Self::error(400, "invalid_signature", "does not verify");
                }
                (
                    201,
                    json!({"activation_id": "a1", "org": "Office", "pools": ["p1"], "exp": Utc::now()})
                        .to_string(),
                )
            }
            _ => Self::error(404, "not_found", "no such path"),
        }
    }
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn license_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<License>();
    assert_send_sync::<Client>();
    assert_send_sync::<ClientError>();
}

#[test]
fn checkout_heartbeats_and_checks_in() {
    let fake = Fake::start(1, 1);
    let client = fake.client();
    let license = client.checkout("acad").unwrap();
    assert!(license.is_valid());
    assert!(matches!(license.status(), LicenseStatus::Held));
    assert_eq!(license.product(), "acad");
    assert_eq!(fake.leases()[0].id, license.lease_id());
    assert_eq!(license.claims().sub, "anna");
    assert!(license.expires_at() > Utc::now());
    let first_token = license.token();

    wait_until("two heartbeats", Duration::from_secs(5), || {
        fake.count("POST /api/v1/leases/") >= 2
    });
    assert_ne!(license.token(), first_token);
    assert!(matches!(license.status(), LicenseStatus::Held));

    // The only seat is taken: another program is told so in the server's words.
    let err = fake.client().checkout("acad").unwrap_err();
    assert!(
        matches!(err, ClientError::NoSeatAvailable { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "no_seat_available");
    assert!(err.to_string().contains("all 1 seats of `acad` are in use"));

    license.check_in().unwrap();
    assert!(fake.leases().is_empty());
    assert_eq!(fake.count("DELETE /api/v1/leases/"), 1);
}

#[test]
fn dropping_a_license_returns_the_seat_without_waiting_for_the_interval() {
    let fake = Fake::start(2, 30);
    let license = fake.client().checkout("acad").unwrap();
    assert_eq!(license.heartbeat_interval(), Duration::from_secs(30));
    let start = Instant::now();
    drop(license);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(fake.leases().is_empty());
}

#[test]
fn a_fixed_client_id_makes_a_retry_return_the_same_lease() {
    let fake = Fake::start(1, 30);
    let client = fake.client_with(ClientConfig::builder().client_id("prog-1"));
    let a = client.checkout("acad").unwrap();
    let b = client.checkout("acad").unwrap();
    assert_eq!(a.lease_id(), b.lease_id());
    assert_eq!(a.client_id(), "prog-1");
    assert_eq!(fake.leases().len(), 1);
    drop(a);
    drop(b);
    assert!(fake.leases().is_empty());
}

#[test]
fn a_lapsed_lease_is_taken_again_with_the_same_client_id() {
    let fake = Fake::start(1, 1);
    let admin = fake.client();
    let license = fake.client().checkout("acad").unwrap();
    let old = license.lease_id();
    admin.admin_remove(ADMIN, &old).unwrap();
    assert!(fake.leases().is_empty());

    wait_until("a new lease", Duration::from_secs(5), || {
        license.lease_id() != old
    });
    assert!(matches!(license.status(), LicenseStatus::Held));
    assert!(license.is_valid());
    let leases = fake.leases();
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].client_id, license.client_id());
    assert_eq!(leases[0].id, license.lease_id());
}

#[test]
fn a_lapsed_lease_whose_seat_was_taken_meanwhile_is_lost() {
    let fake = Fake::start(1, 1);
    let admin = fake.client();
    let license = fake.client().checkout("acad").unwrap();
    admin.admin_remove(ADMIN, &license.lease_id()).unwrap();
    let other = fake.client().checkout("acad").unwrap();

    wait_until("the license to be lost", Duration::from_secs(5), || {
        matches!(license.status(), LicenseStatus::Lost(_))
    });
    let LicenseStatus::Lost(err) = license.status() else {
        unreachable!()
    };
    assert_eq!(err.code(), "no_seat_available");
    assert!(!license.is_valid());
    license.check_in().unwrap();
    assert_eq!(fake.leases()[0].id, other.lease_id());
}

#[test]
fn a_server_that_is_away_for_a_while_goes_unnoticed() {
    let fake = Fake::start(1, 1);
    let license = fake.client().checkout("acad").unwrap();
    let id = license.lease_id();
    fake.set_mode(Mode::Down);
    wait_until("reconnecting", Duration::from_secs(5), || {
        matches!(license.status(), LicenseStatus::Reconnecting { .. })
    });
    // The token is still within its lifetime, so the program keeps running.
    assert!(license.is_valid());
    fake.set_mode(Mode::Normal);
    wait_until("held again", Duration::from_secs(5), || {
        matches!(license.status(), LicenseStatus::Held)
    });
    assert_eq!(license.lease_id(), id);
}

#[test]
fn tokens_that_do_not_verify_or_name_someone_else_are_refused() {
    let fake = Fake::start(5, 1);
    fake.set_mode(Mode::Rogue);
    let err = fake.client().checkout("acad").unwrap_err();
    assert!(matches!(err, ClientError::Untrusted(_)), "{err:?}");
    assert_eq!(err.code(), "untrusted_token");

    fake.set_mode(Mode::WrongUser);
    let err = fake.client().checkout("acad").unwrap_err();
    assert!(err.to_string().contains("mallory"), "{err}");

    fake.set_mode(Mode::Normal);
    let license = fake.client().checkout("acad").unwrap();
    fake.set_mode(Mode::Rogue);
    wait_until("the license to be lost", Duration::from_secs(5), || {
        matches!(license.status(), LicenseStatus::Lost(_))
    });
    assert!(!license.is_valid());
}

#[test]
fn errors_of_the_server_come_back_typed() {
    let fake = Fake::start(1, 30);
    let err = fake.client().checkout("revit").unwrap_err();
    assert!(matches!(err, ClientError::UnknownProduct { .. }), "{err:?}");

    let err = fake.client().admin_leases("wrong").unwrap_err();
    assert!(
        matches!(&err, ClientError::Server { status: 401, code, .. } if code == "unauthorized"),
        "{err:?}"
    );
}

#[test]
fn admin_calls_and_server_info() {
    let fake = Fake::start(2, 30);
    let client = fake.client();
    let info = client.server_info().unwrap();
    assert_eq!(info.server_id, "s1");
    let license = client.checkout("acad").unwrap();
    let list = client.admin_leases(ADMIN).unwrap();
    assert_eq!(list.leases.len(), 1);
    assert_eq!(list.leases[0].id, license.lease_id());
    assert_eq!(list.leases[0].user, "anna");

    let imported = client
        .import_activation(ADMIN, "  v4.public.key\n")
        .unwrap();
    assert_eq!(imported.org, "Office");
    let err = client.import_activation(ADMIN, "other").unwrap_err();
    assert_eq!(err.code(), "invalid_signature");
}

#[test]
fn an_unreachable_server_is_named_in_the_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let client = Client::new(
        ClientConfig::builder()
            .server(&url)
            .vendor_key(SigningKey::generate().verifying_key().clone())
            .build()
            .unwrap(),
    );
    let err = client.checkout("acad").unwrap_err();
    assert_eq!(err.code(), "unreachable");
    assert!(err.is_transient());
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot reach the license server at {url}: ")),
        "{text}"
    );
}

#[test]
fn a_borrowed_license_is_kept_and_used_while_the_server_is_away() {
    let fake = Fake::start(1, 30);
    let client = fake.client();
    let borrow = client.borrow("acad", 8).unwrap();
    assert!(borrow.new);
    assert_eq!(borrow.product, "acad");
    assert_eq!(borrow.claims.kind, SeatKind::Borrow);
    let hours = (borrow.until - Utc::now()).num_minutes();
    assert!((7 * 60..=8 * 60).contains(&hours), "{hours}");
    let kept = client.borrowed("acad").unwrap();
    assert_eq!(kept.borrow_id, borrow.borrow_id);
    assert_eq!(kept.server, fake.url);
    assert_eq!(kept.until, borrow.until);
    assert_eq!(fake.borrows().len(), 1);

    // The server answers, but only with errors: the borrowed license is used as it is.
    fake.set_mode(Mode::Down);
    let license = client.checkout("acad").unwrap();
    assert!(license.is_borrowed());
    assert!(license.is_valid());
    assert!(matches!(license.status(), LicenseStatus::Held));
    assert_eq!(license.until(), Some(borrow.until));
    assert_eq!(license.lease_id(), borrow.borrow_id);
    assert_eq!(license.product(), "acad");
    assert_eq!(license.heartbeat_interval(), Duration::ZERO);
    license.check_in().unwrap();
    let license = client.checkout("acad").unwrap();
    drop(license);
    assert_eq!(
        fake.count("DELETE"),
        0,
        "a borrowed license checks nothing in"
    );
    fake.set_mode(Mode::Normal);
    assert_eq!(fake.borrows().len(), 1);
    assert!(client.borrowed("acad").is_some());

    // With the server there, it is still the borrowed license, and no second seat.
    let license = client.checkout("acad").unwrap();
    assert!(license.is_borrowed());
    assert!(fake.leases().is_empty());
    // The same cache on another computer (a shared home folder) does not lend it there.
    let other = Client::new(
        ClientConfig::builder()
            .server(&fake.url)
            .vendor_key(fake.vendor.verifying_key().clone())
            .user("anna")
            .host("pc2")
            .cache_dir(fake.cache.path())
            .build()
            .unwrap(),
    );
    let err = other.checkout("acad").unwrap_err();
    assert_eq!(err.code(), "no_seat_available", "pc1's borrow is not pc2's");
}

#[test]
fn borrowing_again_returns_the_same_borrow() {
    let fake = Fake::start(3, 30);
    let client = fake.client();
    let first = client.borrow("acad", 8).unwrap();
    let again = client.borrow("acad", 8).unwrap();
    assert_eq!(first.borrow_id, again.borrow_id);
    assert!(!again.new);
    assert_eq!(fake.borrows().len(), 1);
}

#[test]
fn returning_a_borrow_frees_its_seat_and_clears_the_cache() {
    let fake = Fake::start(1, 30);
    let client = fake.client();
    client.borrow("acad", 8).unwrap();

    fake.set_mode(Mode::Down);
    let err = client.return_borrow("acad").unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(
        client.borrowed("acad").is_some(),
        "kept while the server is away"
    );

    fake.set_mode(Mode::Normal);
    client.return_borrow("acad").unwrap();
    assert!(fake.borrows().is_empty());
    assert!(client.borrowed("acad").is_none());
    let err = client.return_borrow("acad").unwrap_err();
    assert!(matches!(err, ClientError::NotBorrowed { .. }), "{err:?}");
    assert_eq!(err.code(), "not_borrowed");

    // One the server no longer has is removed from the cache all the same.
    let borrow = client.borrow("acad", 8).unwrap();
    client.admin_remove(ADMIN, &borrow.borrow_id).unwrap();
    client.return_borrow("acad").unwrap();
    assert!(client.borrowed("acad").is_none());
}

#[test]
fn a_borrow_the_admin_ended_is_dropped_at_the_next_checkout_for_a_lease() {
    let fake = Fake::start(1, 30);
    let client = fake.client();
    let borrow = client.borrow("acad", 8).unwrap();
    client.admin_remove(ADMIN, &borrow.borrow_id).unwrap();
    let license = client.checkout("acad").unwrap();
    assert!(!license.is_borrowed());
    assert_eq!(license.until(), None);
    assert!(client.borrowed("acad").is_none());
    assert_eq!(fake.leases().len(), 1);
}

#[test]
fn borrow_refusals_come_back_typed() {
    let fake = Fake::start(1, 30);
    let client = fake.client();
    let err = client.borrow("acad", 25).unwrap_err();
    assert!(matches!(err, ClientError::BorrowTooLong { .. }), "{err:?}");
    assert!(err.to_string().contains("at most 24 hours"), "{err}");
    fake.with_state(|s| s.borrow_max_hours = 0);
    let err = client.borrow("acad", 1).unwrap_err();
    assert_eq!(err.code(), "borrow_not_allowed");
    assert!(client.borrowed("acad").is_none());

    let nowhere = Client::new(
        ClientConfig::builder()
            .server(&fake.url)
            .vendor_key(fake.vendor.verifying_key().clone())
            .cache_dir(fake.cache.path())
            .build()
            .unwrap(),
    );
    fake.set_mode(Mode::Rogue);
    let err = nowhere.return_borrow("acad").unwrap_err();
    assert_eq!(err.code(), "not_borrowed");
}

#[test]
fn an_ended_borrow_is_removed_and_without_the_server_the_error_says_it_ended() {
    let fake = Fake::start(1, 30);
    let client = fake.client();
    fake.with_state(|s| s.borrow_length = Some(chrono::Duration::seconds(-1)));
    client.borrow("acad", 1).unwrap();
    fake.set_mode(Mode::Down);
    let err = client.checkout("acad").unwrap_err();
    assert!(matches!(err, ClientError::BorrowExpired { .. }), "{err:?}");
    assert_eq!(err.code(), "borrow_expired");
    assert!(
        err.to_string().contains("borrowed license of `acad` ended"),
        "{err}"
    );
    assert!(client.borrowed("acad").is_none());
    // Then it is an ordinary checkout without a server.
    let err = client.checkout("acad").unwrap_err();
    assert_eq!(err.code(), "unavailable");
}

#[test]
fn a_clock_turned_back_refuses_the_borrowed_license_offline_but_not_a_lease_online() {
    let fake = Fake::start(2, 30);
    let client = fake.client();
    client.borrow("acad", 8).unwrap();
    let later = Utc::now() + chrono::Duration::days(1);
    std::fs::write(fake.cache.path().join("clock"), later.to_rfc3339()).unwrap();

    fake.set_mode(Mode::Down);
    let err = client.checkout("acad").unwrap_err();
    assert!(
        matches!(err, ClientError::ClockTurnedBack { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "clock_turned_back");
    assert!(err.to_string().contains("set the clock right"), "{err}");
    assert!(
        client.borrowed("acad").is_some(),
        "kept for when the clock is right"
    );

    fake.set_mode(Mode::Normal);
    let license = client.checkout("acad").unwrap();
    assert!(!license.is_borrowed(), "online the clock does not matter");
    drop(license);

    // Borrowing again, the server vouches for the clock and the remembered time heals.
    client.borrow("acad", 8).unwrap();
    fake.set_mode(Mode::Down);
    assert!(client.checkout("acad").unwrap().is_borrowed());
}

#[test]
fn a_borrow_issued_ahead_of_this_computers_clock_is_given_back_at_once() {
    let fake = Fake::start(1, 30);
    let client = fake.client();
    fake.with_state(|s| s.skew = chrono::Duration::days(2));
    let err = client.borrow("acad", 8).unwrap_err();
    assert_eq!(err.code(), "clock_turned_back");
    assert!(err.to_string().contains("clock"), "{err}");
    assert!(fake.borrows().is_empty(), "the seat went back");
    assert!(client.borrowed("acad").is_none());
}

#[test]
fn an_untrusted_borrow_token_is_refused_and_given_back() {
    let fake = Fake::start(1, 30);
    let client = fake.client();
    fake.set_mode(Mode::Rogue);
    let err = client.borrow("acad", 8).unwrap_err();
    assert_eq!(err.code(), "untrusted_token");
    assert!(client.borrowed("acad").is_none());
}
