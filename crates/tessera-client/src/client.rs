//! `Client`: the blocking HTTP side of the license protocol v1. Owns the calls, their
//! timeouts, and the rule that no granted token is accepted before it verifies back to
//! the vendor key and names exactly what was asked for. With several nodes listed
//! (`TESSERA_SERVER=http://a:27080,http://b:27080`) every call goes to the node that last
//! answered and moves on to the next when one does not answer (`send`), carrying the
//! same lease: the nodes share one database and one key.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use tessera_core::protocol::{
    ActivationImported, CheckoutRequest, LeaseGrant, LeaseList, ServerInfo,
};
use tessera_token::{SeatClaims, SeatKind, TokenError, verify_seat_token};
use ureq::Agent;
use ureq::http::Response;

use crate::borrow::BorrowedUse;
use crate::error::{from_error_response, from_transport};
use crate::{ClientConfig, ClientError, License};

/// How long establishing a connection may take; a LAN server answers in milliseconds,
/// so a longer wait only delays telling the engineer it is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a check-in on exit may take: a closing program should not hang on it.
const CHECK_IN_TIMEOUT: Duration = Duration::from_secs(3);
/// With several nodes listed, how long connecting to one may take before the next is
/// tried, and how long one call to one node may take: together with the heartbeat
/// loop's first retry, a node that stops answering is left for the next within 5 s.
pub const FAILOVER_CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);
/// See [`FAILOVER_CONNECT_TIMEOUT`].
pub const FAILOVER_CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection to one license server. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    agent: Agent,
    /// The index in `config.servers()` of the node that answered last; calls start there.
    current: AtomicUsize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server())
            .finish_non_exhaustive()
    }
}

/// What a seat is asked for; every token granted for it must name the same.
#[derive(Debug, Clone)]
pub(crate) struct SeatRequest {
    pub product: String,
    pub client_id: String,
}

/// A lease whose token verified.
#[derive(Debug, Clone)]
pub(crate) struct Granted {
    pub lease_id: String,
    pub token: String,
    pub claims: SeatClaims,
    pub heartbeat_interval: Duration,
    /// When the token stops being valid, on this machine's monotonic clock: its
    /// lifetime (`exp - iat`, both the server's clock) from when it arrived, so a skewed
    /// clock on either side does not matter.
    pub deadline: Instant,
}

impl Client {
    pub fn new(config: ClientConfig) -> Self {
        let (connect, call) = if config.servers().len() > 1 {
            (FAILOVER_CONNECT_TIMEOUT, FAILOVER_CALL_TIMEOUT)
        } else {
            (CONNECT_TIMEOUT, config.timeout())
        };
        let agent: Agent = Agent::config_builder()
            // Error answers carry the protocol's error body, which the caller needs.
            .http_status_as_error(false)
            .timeout_connect(Some(connect.min(config.timeout())))
            .timeout_global(Some(call.min(config.timeout())))
            .user_agent(format!("tessera-client/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            inner: Arc::new(Inner {
                config,
                agent,
                current: AtomicUsize::new(0),
            }),
        }
    }

    /// The node that answered last (the first one listed before any call): the one
    /// the next call goes to first.
    pub fn server(&self) -> &str {
        let servers = self.config().servers();
        &servers[self.inner.current.load(Ordering::Relaxed) % servers.len()]
    }

    /// Sends a call to `path` on the node that answered last, then on each other node in
    /// turn while they do not answer (no connection, no answer in time, or a proxy's
    /// 502/503/504), and returns the first answer, a 2xx passed on and anything else as
    /// its `ClientError`. The node that answered is the one the next call goes to.
    /// Every call is safe to repeat on another node: a checkout with the same client id
    /// gets the same lease, a heartbeat or check-in names its lease.
    pub(crate) fn send(
        &self,
        path: &str,
        call: impl Fn(&Agent, String) -> Result<Result<Response<ureq::Body>, ureq::Error>, ClientError>,
    ) -> Result<Response<ureq::Body>, ClientError> {
        let servers = self.config().servers();
        let first = self.inner.current.load(Ordering::Relaxed);
        let mut last = None;
        for k in 0..servers.len() {
            let i = (first + k) % servers.len();
            let server = &servers[i];
            let sent = call(&self.inner.agent, format!("{server}{path}"))?;
            match expect_ok(server, sent) {
                Err(e) if servers.len() > 1 && moves_on(&e) => {
                    tracing::warn!(node = %server, error = %e, "license server node not answering; trying the next");
                    last = Some(e);
                }
                answer => {
                    if i != first % servers.len() {
                        tracing::info!(node = %server, "license server node answered instead");
                    }
                    self.inner.current.store(i, Ordering::Relaxed);
                    return answer;
                }
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Config("no license server is configured".into())))
    }

    /// A client configured from the environment and config file (see
    /// [`ClientConfig::from_env`]).
    pub fn from_env() -> Result<Self, ClientError> {
        Ok(Self::new(ClientConfig::from_env()?))
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// `GET /api/v1/server`: the server's identity and its pools (with the credential,
    /// which the web license server asks for here too).
    pub fn server_info(&self) -> Result<ServerInfo, ClientError> {
        let answer = self.send("/api/v1/server", |agent, url| {
            Ok(self.with_credential(agent.get(url))?.call())
        })?;
        self.json(answer)
    }

    /// Puts the credential on a checkout, a borrow or a look at the pools: the site key
    /// if one is configured, else the sign-in kept on this computer when this server is
    /// the web license server of the portal it was made with (refreshed first when its
    /// token is near its end), else none.
    pub(crate) fn with_credential<B>(
        &self,
        request: ureq::RequestBuilder<B>,
    ) -> Result<ureq::RequestBuilder<B>, ClientError> {
        if let Some(key) = self.config().site_key() {
            return Ok(request.header("authorization", bearer(key)));
        }
        match self.sign_in()? {
            Some(login) => Ok(request.header("authorization", bearer(&login.token))),
            None => Ok(request),
        }
    }

    /// The sign-in kept on this computer, if it was made with the portal whose web
    /// license server this is.
    fn sign_in(&self) -> Result<Option<crate::named::StoredLogin>, ClientError> {
        let Some(dir) = self.config().cache_dir() else {
            return Ok(None);
        };
        let Some(login) = crate::named::stored_login(dir) else {
            return Ok(None);
        };
        let web = format!("{}/w/", login.portal.trim_end_matches('/'));
        if !self.config().server().starts_with(&web) {
            return Ok(None);
        }
        let named =
            crate::named::NamedClient::new(&login.portal, self.config().vendor_key()?.clone(), dir);
        named.fresh_login().map(Some)
    }

    /// Takes a seat of `product`, failing at once if none is free. A license of `product`
    /// borrowed from this server onto this computer (see [`borrow`](Self::borrow)) is
    /// used instead while it lasts, with or without the server; one the server has ended
    /// early, or that has run out, is dropped from the cache and a seat taken online.
    pub fn checkout(&self, product: &str) -> Result<License, ClientError> {
        self.checkout_inner(product, None)
    }

    /// Takes a seat of `product`, letting the server wait up to `wait_s` seconds for one
    /// to free.
    pub fn checkout_wait(&self, product: &str, wait_s: u64) -> Result<License, ClientError> {
        self.checkout_inner(product, Some(wait_s))
    }

    fn checkout_inner(&self, product: &str, wait_s: Option<u64>) -> Result<License, ClientError> {
        let not_offline = match self.use_borrowed(product)? {
            BorrowedUse::Use(license) => return Ok(license),
            BorrowedUse::None => None,
            BorrowedUse::Refused(why) => Some(why),
        };
        let license = self.checkout_online(product, wait_s);
        match (license, not_offline) {
            // Without the server, why the borrowed license could not be used is the news.
            (Err(e), Some(why)) if e.is_transient() => Err(why.with_online_error(e)),
            (license, _) => license,
        }
    }

    fn checkout_online(&self, product: &str, wait_s: Option<u64>) -> Result<License, ClientError> {
        let seat = SeatRequest {
            product: product.to_owned(),
            client_id: self
                .config()
                .client_id()
                .map(str::to_owned)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        };
        let granted = self.request_lease(&seat, wait_s)?;
        tracing::debug!(product, lease = %granted.lease_id, "license checked out");
        self.remember_now();
        License::start(self.clone(), seat, granted)
    }

    /// `GET /api/v1/admin/leases`: every lease and borrow the server holds.
    pub fn admin_leases(&self, admin_token: &str) -> Result<LeaseList, ClientError> {
        let auth = admin_bearer(admin_token)?;
        let answer = self.send("/api/v1/admin/leases", |agent, url| {
            Ok(agent.get(url).header("authorization", &auth).call())
        })?;
        self.json(answer)
    }

    /// `DELETE /api/v1/admin/leases/{id}`: frees someone's seat.
    pub fn admin_remove(&self, admin_token: &str, id: &str) -> Result<(), ClientError> {
        let auth = admin_bearer(admin_token)?;
        let path = format!("/api/v1/admin/leases/{}", path_segment(id));
        self.send(&path, |agent, url| {
            Ok(agent.delete(url).header("authorization", &auth).call())
        })
        .map(drop)
    }

    /// `POST /api/v1/admin/activations`: imports an activation key's text.
    pub fn import_activation(
        &self,
        admin_token: &str,
        text: &str,
    ) -> Result<ActivationImported, ClientError> {
        let auth = admin_bearer(admin_token)?;
        let answer = self.send("/api/v1/admin/activations", |agent, url| {
            Ok(agent
                .post(url)
                .header("authorization", &auth)
                .content_type("text/plain; charset=utf-8")
                .send(text.trim()))
        })?;
        self.json(answer)
    }

    /// `POST /api/v1/leases`, verified. Also how a lapsed license gets its seat back:
    /// the same client id and product make a retry return the same lease.
    pub(crate) fn request_lease(
        &self,
        seat: &SeatRequest,
        wait_s: Option<u64>,
    ) -> Result<Granted, ClientError> {
        let config = self.config();
        let body = CheckoutRequest {
            product: seat.product.clone(),
            user: config.user().to_owned(),
            host: config.host().to_owned(),
            client_id: seat.client_id.clone(),
            version: config.version().map(str::to_owned),
            email: config.email().map(str::to_owned),
            wait_s,
        };
        let answer = self.send("/api/v1/leases", |agent, url| {
            let mut request = self.with_credential(agent.post(url))?;
            if let Some(wait) = wait_s {
                // The server holds the answer back while it waits for a seat.
                request = request
                    .config()
                    .timeout_global(Some(config.timeout() + Duration::from_secs(wait)))
                    .build();
            }
            Ok(request.send_json(&body))
        })?;
        let grant: LeaseGrant = self.json(answer)?;
        self.verify(seat, grant, None)
    }

    /// `POST /api/v1/leases/{id}/heartbeat`, verified.
    pub(crate) fn heartbeat(
        &self,
        seat: &SeatRequest,
        lease_id: &str,
        token: &str,
    ) -> Result<Granted, ClientError> {
        let path = format!("/api/v1/leases/{}/heartbeat", path_segment(lease_id));
        let answer = self.send(&path, |agent, url| {
            Ok(agent
                .post(url)
                .header("authorization", bearer(token))
                .send_empty())
        })?;
        let grant: LeaseGrant = self.json(answer)?;
        self.verify(seat, grant, Some(lease_id))
    }

    /// `DELETE /api/v1/leases/{id}`; a lease the server no longer has counts as returned.
    pub(crate) fn check_in(&self, lease_id: &str, token: &str) -> Result<(), ClientError> {
        let path = format!("/api/v1/leases/{}", path_segment(lease_id));
        let sent = self.send(&path, |agent, url| {
            Ok(agent
                .delete(url)
                .header("authorization", bearer(token))
                .config()
                .timeout_global(Some(CHECK_IN_TIMEOUT.min(self.config().timeout())))
                .build()
                .call())
        });
        match sent {
            Ok(_) | Err(ClientError::LeaseNotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Checks a granted token's chain and that it is the lease that was asked for.
    fn verify(
        &self,
        seat: &SeatRequest,
        grant: LeaseGrant,
        lease_id: Option<&str>,
    ) -> Result<Granted, ClientError> {
        let arrived = Instant::now();
        if let Some(asked) = lease_id.filter(|asked| *asked != grant.lease_id) {
            return Err(mismatch("lease id", &grant.lease_id, asked));
        }
        let claims = self.verify_token(
            &grant.token,
            SeatKind::Lease,
            &grant.lease_id,
            &seat.product,
        )?;
        self.check_holder(&claims, Some(&seat.client_id))?;
        let lifetime = (claims.exp - claims.iat).to_std().unwrap_or(Duration::ZERO);
        Ok(Granted {
            lease_id: grant.lease_id,
            token: grant.token,
            claims,
            heartbeat_interval: Duration::from_secs(grant.heartbeat_interval_s),
            deadline: arrived + lifetime,
        })
    }

    /// Checks a seat token's chain back to the vendor key, and that it is the `kind` of
    /// seat `id` and covers `product`.
    pub(crate) fn verify_token(
        &self,
        token: &str,
        kind: SeatKind,
        id: &str,
        product: &str,
    ) -> Result<SeatClaims, ClientError> {
        let verified = verify_seat_token(self.config().vendor_key()?, token)
            .map_err(ClientError::Untrusted)?;
        let claims = verified.claims;
        if claims.kind != kind {
            return Err(mismatch("kind", kind_name(claims.kind), kind_name(kind)));
        }
        if claims.jti != id {
            return Err(mismatch("id", &claims.jti, id));
        }
        if !claims.products.iter().any(|p| p == product) {
            return Err(mismatch(
                "product list",
                &claims.products.join(","),
                product,
            ));
        }
        Ok(claims)
    }

    /// Checks that a seat token was issued to this user on this host (and, when given,
    /// to this client id).
    pub(crate) fn check_holder(
        &self,
        claims: &SeatClaims,
        client_id: Option<&str>,
    ) -> Result<(), ClientError> {
        let config = self.config();
        // A seat taken with a person's sign-in names them rather than the OS account.
        let signed_in = || {
            config
                .cache_dir()
                .and_then(crate::named::stored_login)
                .is_some_and(|login| login.email.eq_ignore_ascii_case(&claims.sub))
        };
        if claims.sub != config.user() && !signed_in() {
            return Err(mismatch("user", &claims.sub, config.user()));
        }
        if claims.host != config.host() {
            return Err(mismatch("host", &claims.host, config.host()));
        }
        if let Some(asked) = client_id.filter(|asked| claims.client_id != *asked) {
            return Err(mismatch("client id", &claims.client_id, asked));
        }
        Ok(())
    }

    pub(crate) fn json<T: DeserializeOwned>(
        &self,
        mut response: Response<ureq::Body>,
    ) -> Result<T, ClientError> {
        let server = self.server();
        response.body_mut().read_json::<T>().map_err(|e| match e {
            ureq::Error::Json(e) => ClientError::Protocol(format!(
                "{server} answered something that is not the license protocol: {e}"
            )),
            other => from_transport(server, other),
        })
    }
}

/// Passes a 2xx answer on and turns anything else into its `ClientError`.
fn expect_ok(
    server: &str,
    sent: Result<Response<ureq::Body>, ureq::Error>,
) -> Result<Response<ureq::Body>, ClientError> {
    let mut response = sent.map_err(|e| from_transport(server, e))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Err(from_error_response(status, &body, server))
}

/// Whether a call's failure says the node is away (so the next node is asked) rather
/// than answering: no connection or no answer, or a proxy in front of it saying so.
fn moves_on(e: &ClientError) -> bool {
    match e {
        ClientError::Unreachable { .. } => true,
        ClientError::Server { status, .. } => matches!(status, 502..=504),
        _ => false,
    }
}

fn mismatch(what: &str, found: &str, asked: &str) -> ClientError {
    ClientError::Untrusted(TokenError::BadClaims(format!(
        "the token's {what} is `{found}`, not `{asked}`"
    )))
}

fn kind_name(kind: SeatKind) -> &'static str {
    match kind {
        SeatKind::Lease => "lease",
        SeatKind::Borrow => "borrow",
    }
}

pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {}", token.trim())
}

/// The `Authorization` value for an admin token, refusing one that cannot be a token
/// (a line break or space pasted with it) with a message that says so.
fn admin_bearer(token: &str) -> Result<String, ClientError> {
    let token = token.trim();
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ClientError::Config(
            "the admin token is not valid: it is empty or has spaces or line breaks in it \
             (see `tessera server admin-token`)"
                .into(),
        ));
    }
    Ok(bearer(token))
}

/// Percent-encodes one path segment so an id can never change the path it is sent to.
pub(crate) fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert_eq!(path_segment("a1-b_c.d~"), "a1-b_c.d~");
        assert_eq!(path_segment("../x y/?"), "..%2Fx%20y%2F%3F");
    }
}

#[cfg(test)]
mod admin_token_tests {
    use super::admin_bearer;

    #[test]
    fn an_admin_token_with_a_line_break_in_it_is_refused_with_a_clear_message() {
        assert_eq!(admin_bearer("  tsa_abc\n").unwrap(), "Bearer tsa_abc");
        let err = admin_bearer("server\ntsa_abc").unwrap_err();
        assert_eq!(err.code(), "config");
        assert!(err.to_string().contains("line breaks"), "{err}");
        assert!(admin_bearer("").is_err());
    }
}
