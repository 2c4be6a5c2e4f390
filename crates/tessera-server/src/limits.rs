//! Rate limits: a token bucket per client address, so that one client flooding the
//! server (a loop gone wrong, or an attack) is slowed while every other keeps being
//! answered; and on the web license server a bucket per organization too, so that one
//! organization's clients together (many machines, or a fleet gone wrong) cannot starve
//! the others. Beyond a bucket a client gets 429 `rate_limited` with `Retry-After`.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tessera_core::ErrorCode;

use crate::SharedState;
use crate::error::ApiError;

/// Requests per second one client address may send, by default.
pub const DEFAULT_RATE_LIMIT: u32 = 200;
/// Requests per second to one organization of the web license server, by default: room
/// for a few thousand seats' heartbeats and checkouts at once.
pub const DEFAULT_ORG_RATE_LIMIT: u32 = 1000;

/// Requests per second one credential (a site key, a person's sign-in) may send from all
/// its addresses together, by default: a leaked site key used from many machines is
/// slowed as one client would be, with room for an office's checkouts at nine o'clock.
pub const DEFAULT_CREDENTIAL_RATE_LIMIT: u32 = 500;

/// The most clients (or organizations) tracked at once; the idlest are forgotten first.
const MAX_CLIENTS: usize = 100_000;

/// The longest organization name a bucket is kept under; longer ones share the bucket of
/// their first bytes (no organization's name is that long).
const MAX_ORG_KEY: usize = 128;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Requests per second and burst per key (a client address, an organization);
/// `rate == 0` turns limits off.
pub struct RateLimiter<K = IpAddr> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            rate: f64::from(per_second),
            burst: f64::from(burst.max(per_second)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; `Err(seconds to wait)` when it has none.
    pub fn take(&self, key: &K) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(key) {
            // Forget keys whose buckets are full again: they are idle.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * self.rate)
            .min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// Every bucket of a server: per client address, per organization (web license
/// server; a LAN server serves one organization and has no such bucket), and per
/// credential (counted once the credential is known to be good, in `credential.rs` and
/// for a seat's own calls in `api.rs`).
pub struct Limits {
    pub clients: RateLimiter<IpAddr>,
    pub organizations: RateLimiter<String>,
    pub credentials: RateLimiter<String>,
}

impl Limits {
    /// The rates of `config`, in requests per second (0: no limit), twice each in a burst.
    pub fn new(config: &crate::ServerConfig) -> Self {
        fn bucket<K: Hash + Eq + Clone>(rate: u32) -> RateLimiter<K> {
            RateLimiter::new(rate, rate.saturating_mul(2))
        }
        Limits {
            clients: bucket(config.rate_limit),
            organizations: bucket(config.org_rate_limit),
            credentials: bucket(config.credential_rate_limit),
        }
    }
}

/// The answer to a credential over its limit.
pub fn too_many_for_credential(wait: u64) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests with this credential; try again in {wait} s"),
    )
    .retry_after(wait)
}

/// The organization a web license server request is for: `{org}` of `/w/{org}/…`.
fn organization_of(path: &str) -> Option<&str> {
    let org = path.strip_prefix("/w/")?.split('/').next()?;
    if org.is_empty() {
        return None;
    }
    let mut end = org.len().min(MAX_ORG_KEY);
    while !org.is_char_boundary(end) {
        end -= 1;
    }
    Some(&org[..end])
}

fn rate_limited(message: String, wait: u64) -> Response {
    ApiError::new(ErrorCode::RateLimited, message)
        .retry_after(wait)
        .into_response()
}

/// The middleware: the client's bucket first (requests without a known peer, in-process
/// tests, have none), then the organization's, so that a client already over its own
/// limit spends nothing of its organization's.
pub async fn limit(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // A request turned away here leaves its body unread: the connection closes after
    // the answer, and the answer says so.
    let has_body = request
        .headers()
        .contains_key(axum::http::header::TRANSFER_ENCODING)
        || request
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let refused = |response: Response| {
        if has_body {
            closing(response)
        } else {
            response
        }
    };
    if let Some(ip) = peer
        && let Err(wait) = state.limiter.clients.take(&ip)
    {
        return refused(rate_limited(
            format!("too many requests from {ip}; try again in {wait} s"),
            wait,
        ));
    }
    if let Some(org) = organization_of(request.uri().path())
        && let Err(wait) = state.limiter.organizations.take(&org.to_owned())
    {
        return refused(rate_limited(
            format!(
                "too many requests for this organization's web license server; try again in {wait} s"
            ),
            wait,
        ));
    }
    next.run(request).await
}

/// Bodies larger than this are refused without being read (the connection closes).
const DRAIN_LIMIT: u64 = 1024 * 1024;

/// Reads each request's body whole (up to the limit) before anything answers it. An
/// answer given while the body is still unread (a 401 of a missing token, a 404, the 415
/// of a wrong content type) makes the server close the connection without saying so,
/// and a keep-alive client then fails on its next request. A body over the limit but not
/// absurdly so is read and thrown away before the 413, so the client, still sending it,
/// gets the answer instead of a reset connection, and its connection stays usable; a
/// larger one is refused unread, with `Connection: close`.
pub async fn read_body(request: Request, next: Next) -> Response {
    let length = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (parts, body) = request.into_parts();
    match length {
        Some(n) if n > crate::MAX_BODY_BYTES as u64 && n <= DRAIN_LIMIT => {
            let _ = axum::body::to_bytes(body, DRAIN_LIMIT as usize).await;
            too_large()
        }
        Some(n) if n > DRAIN_LIMIT => closing(too_large()),
        _ => match axum::body::to_bytes(body, crate::MAX_BODY_BYTES).await {
            Ok(bytes) => {
                next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                    .await
            }
            // Over the limit without a length given (chunked), or the client went away.
            Err(_) => closing(too_large()),
        },
    }
}

fn too_large() -> Response {
    ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large").into_response()
}

/// Tells the client the connection ends with this answer (its body was not read).
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_waits_while_others_go_on() {
        let limiter = RateLimiter::new(10, 20);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..20 {
            assert!(limiter.take(&a).is_ok());
        }
        assert_eq!(limiter.take(&a), Err(1));
        assert!(limiter.take(&b).is_ok(), "another client is not slowed");
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert!(limiter.take(&a).is_ok(), "tokens come back at the rate");
        assert!(
            RateLimiter::new(0, 0).take(&a).is_ok(),
            "0 turns limits off"
        );
    }

    #[test]
    fn the_organization_is_read_from_the_web_license_servers_path() {
        assert_eq!(
            organization_of("/w/kowalski/api/v1/leases"),
            Some("kowalski")
        );
        assert_eq!(organization_of("/w/kowalski"), Some("kowalski"));
        assert_eq!(
            organization_of("/api/v1/leases"),
            None,
            "a LAN server's path"
        );
        assert_eq!(organization_of("/w//api/v1/server"), None);
        let long = format!("/w/{}/api/v1/server", "ż".repeat(100));
        let org = organization_of(&long).unwrap();
        assert!(org.len() <= MAX_ORG_KEY && org.starts_with('ż'));
    }
}
