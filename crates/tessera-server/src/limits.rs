//! Rate limits: a token bucket per client address, so that one client flooding the
//! server (a loop gone wrong, or an attack) is slowed while every other keeps being
//! answered. Beyond its bucket a client gets 429 `rate_limited` with `Retry-After`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tessera_core::ErrorCode;

use crate::SharedState;
use crate::error::ApiError;

/// The most addresses tracked at once; the idlest are forgotten first.
const MAX_CLIENTS: usize = 100_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Requests per second and burst per client address; `rate == 0` turns limits off.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            rate: f64::from(per_second),
            burst: f64::from(burst.max(per_second)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`; `Err(seconds to wait)` when it has none.
    pub fn take(&self, ip: IpAddr) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&ip) {
            // Forget clients whose buckets are full again: they are idle.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
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

/// The middleware: requests without a known peer (in-process tests) are not limited.
pub async fn limit(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = peer
        && let Err(wait) = state.limiter.take(ip)
    {
        let mut response = ApiError::new(
            ErrorCode::RateLimited,
            format!("too many requests from {ip}; try again in {wait} s"),
        )
        .into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string()) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        return response;
    }
    next.run(request).await
}

/// Bodies larger than this are refused without being read (the connection closes).
const DRAIN_LIMIT: u64 = 1024 * 1024;

/// A body over the limit but not absurdly so is read and thrown away before the 413, so
/// the client, still sending it, gets the answer instead of a reset connection, and its
/// connection stays usable.
pub async fn drain_oversized(request: Request, next: Next) -> Response {
    let length = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) if n > crate::MAX_BODY_BYTES as u64 && n <= DRAIN_LIMIT => {
            let _ = axum::body::to_bytes(request.into_body(), DRAIN_LIMIT as usize).await;
            ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
                .into_response()
        }
        _ => next.run(request).await,
    }
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
            assert!(limiter.take(a).is_ok());
        }
        assert_eq!(limiter.take(a), Err(1));
        assert!(limiter.take(b).is_ok(), "another client is not slowed");
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert!(limiter.take(a).is_ok(), "tokens come back at the rate");
        assert!(RateLimiter::new(0, 0).take(a).is_ok(), "0 turns limits off");
    }
}
