//! Behind a reverse proxy or load balancer every connection comes from the proxy, so
//! per-client rate limits, sign-in limits and the address shown for each seat would all
//! see the proxy. For connections from a trusted proxy (`--trusted-proxy IP`, repeatable)
//! the client is the right-most address of `X-Forwarded-For` that is not itself a
//! trusted proxy; for any other connection the header is ignored (a client could write
//! anything in it). The middleware puts that address where the rest of the server looks
//! for the peer, so every limit and record uses it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<Vec<IpAddr>>);

impl TrustedProxies {
    pub fn new(ips: Vec<IpAddr>) -> Self {
        TrustedProxies(Arc::new(ips))
    }

    fn trusts(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|t| t == ip)
    }

    /// The client of a connection from `peer` that carried `forwarded` headers.
    pub fn client(&self, peer: IpAddr, forwarded: &[&str]) -> IpAddr {
        if !self.trusts(&peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded
            .iter()
            .flat_map(|h| h.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusts(&ip) => continue,
                Ok(ip) => return ip,
                // Garbage from further out: the last good hop is what the proxies vouch for.
                Err(_) => break,
            }
        }
        peer
    }
}

/// The middleware: for a connection from a trusted proxy, the client's address from
/// `X-Forwarded-For` replaces the peer's.
pub async fn real_client(
    State(trusted): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    if !trusted.0.is_empty()
        && let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
    {
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let client = trusted.client(peer.ip(), &forwarded);
        if client != peer.ip() {
            let addr = SocketAddr::new(client, 0);
            request.extensions_mut().insert(ConnectInfo(addr));
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_proxy_is_believed_and_only_as_far_as_trusted_hops_go() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("10.0.0.1"), &["203.0.113.7"]),
            ip("10.0.0.1")
        );
        let lb = TrustedProxies::new(vec![ip("10.0.0.1"), ip("10.0.0.2")]);
        // An untrusted peer's header is ignored.
        assert_eq!(
            lb.client(ip("198.51.100.9"), &["203.0.113.7"]),
            ip("198.51.100.9")
        );
        assert_eq!(
            lb.client(ip("10.0.0.1"), &["203.0.113.7"]),
            ip("203.0.113.7")
        );
        // A client that forged a hop is still seen as itself: the right-most untrusted hop.
        assert_eq!(
            lb.client(ip("10.0.0.1"), &["1.2.3.4, 203.0.113.7, 10.0.0.2"]),
            ip("203.0.113.7")
        );
        assert_eq!(
            lb.client(ip("10.0.0.1"), &["1.2.3.4", "203.0.113.8"]),
            ip("203.0.113.8")
        );
        // Nothing usable: the proxy itself.
        assert_eq!(lb.client(ip("10.0.0.1"), &[]), ip("10.0.0.1"));
        assert_eq!(
            lb.client(ip("10.0.0.1"), &["not an address"]),
            ip("10.0.0.1")
        );
        assert_eq!(lb.client(ip("10.0.0.1"), &["10.0.0.2"]), ip("10.0.0.1"));
    }
}
