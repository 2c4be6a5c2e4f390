//! Named-user licenses: a person signs in on this computer (through the browser, with the
//! portal's own sign-in, or with an e-mail and password sent to the vendor's portal once)
//! and gets a short-lived token bound to this device, which
//! is kept in the cache folder and refreshed in the background. Signing in on another
//! computer makes this one's next refresh fail with `superseded`, and the license stops
//! until the person signs in here again; a seat taken away stops it with
//! `seat_unassigned`. With no connection to the portal the license keeps working for
//! the offline period (30 days by default) from the last time the portal vouched for it,
//! unless the computer's clock was turned back (as for borrowed licenses).
//!
//! ```no_run
//! use tessera_client::named::NamedClient;
//! # let vendor: tessera_client::VerifyingKey = unimplemented!();
//! let client = NamedClient::new("https://portal.example", vendor, "/home/me/.cache/tessera");
//! client.sign_in("anna@office.example", "password", "share")?;   // once per computer
//! let license = client.license("share")?;                         // every program start
//! assert!(license.is_valid());
//! # Ok::<(), tessera_client::ClientError>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::ErrorCode;
use tessera_core::named::{
    BrowserSignInPoll, BrowserSignInRequest, BrowserSignInStart, NamedActivationRequest,
    NamedGrant, NamedRefreshRequest, NamedSignOutRequest,
};
use tessera_token::{NamedClaims, VerifyingKey, verify_named};
use ureq::Agent;

use crate::ClientError;
use crate::cache::{Cache, check_clock, write_atomic};
use crate::error::{from_error_response, from_transport};

/// Overrides this computer's device id (otherwise made once and kept in the cache folder).
pub const ENV_DEVICE_ID: &str = "TESSERA_DEVICE_ID";
const LOGIN_FILE: &str = "named-login.json";
const DEVICE_FILE: &str = "device-id";

/// A sign-in through the browser, started by [`NamedClient::start_browser_sign_in`].
#[derive(Debug, Clone)]
pub struct BrowserSignIn {
    start: BrowserSignInStart,
    device: String,
    /// How long to wait between asks (grows after `slow_down`).
    pub interval: Duration,
    /// When the code ends.
    pub ends: std::time::Instant,
}

impl BrowserSignIn {
    /// What the person types at [`verification_uri`](Self::verification_uri).
    pub fn user_code(&self) -> &str {
        &self.start.user_code
    }

    /// The portal's page where the person signs in and approves.
    pub fn verification_uri(&self) -> &str {
        &self.start.verification_uri
    }

    /// The same page with the code filled in (for a link or a browser opened for them).
    pub fn verification_uri_complete(&self) -> &str {
        &self.start.verification_uri_complete
    }
}

/// This computer's name as people know it, for "Sign in Tessera on <computer>".
fn computer_name() -> String {
    std::env::var("COMPUTERNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this computer".into())
}

/// What is kept on this computer after a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLogin {
    pub portal: String,
    pub email: String,
    pub device: String,
    pub token: String,
    pub refresh_interval_s: u64,
    pub offline_days: u32,
    /// The products the person held seats of at the last sign-in or refresh.
    #[serde(default)]
    pub products: Vec<String>,
}

/// The portal's calls for named-user licenses, and the sign-in kept on this computer.
#[derive(Clone)]
pub struct NamedClient {
    portal: String,
    vendor: VerifyingKey,
    cache_dir: PathBuf,
    agent: Agent,
}

impl std::fmt::Debug for NamedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedClient")
            .field("portal", &self.portal)
            .finish_non_exhaustive()
    }
}

/// Where a named license stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedStatus {
    /// The portal vouched for it at the last refresh.
    Valid,
    /// The portal cannot be reached; it works until `until`.
    Offline { until: DateTime<Utc> },
    /// It stopped: the person signed in elsewhere, lost the seat, signed out, or was
    /// offline for too long. `code` is the protocol's code (`superseded`, …).
    Stopped { code: String, message: String },
}

struct Shared {
    status: NamedStatus,
    claims: NamedClaims,
}

/// A named-user license held by a running program; refreshed in a background thread
/// until dropped.
pub struct NamedLicense {
    product: String,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for NamedLicense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedLicense")
            .field("product", &self.product)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl NamedLicense {
    pub fn product(&self) -> &str {
        &self.product
    }

    /// The person it is licensed to (their e-mail).
    pub fn email(&self) -> String {
        self.shared.lock().expect("named state").claims.sub.clone()
    }

    pub fn status(&self) -> NamedStatus {
        self.shared.lock().expect("named state").status.clone()
    }

    /// Whether the program may run now.
    pub fn is_valid(&self) -> bool {
        match self.status() {
            NamedStatus::Valid => true,
            NamedStatus::Offline { until } => Utc::now() < until,
            NamedStatus::Stopped { .. } => false,
        }
    }

    /// Refreshes now, as the background thread does; answers the new status.
    pub fn refresh_now(&self, client: &NamedClient) -> NamedStatus {
        refresh_once(client, &self.product, &self.shared)
    }
}

impl Drop for NamedLicense {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        if let Ok(mut stop) = lock.lock() {
            *stop = true;
            cv.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// This computer's device id: `TESSERA_DEVICE_ID`, or one made once and kept in the
/// cache folder.
pub fn device_id(cache_dir: &Path) -> Result<String, ClientError> {
    if let Ok(id) = std::env::var(ENV_DEVICE_ID)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_owned());
    }
    let path = cache_dir.join(DEVICE_FILE);
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_owned());
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "device".into());
    let id = format!("{host}-{}", uuid::Uuid::new_v4().simple());
    write_atomic(&path, id.as_bytes()).map_err(|e| {
        ClientError::Config(format!(
            "cannot keep the device id in {}: {e}",
            path.display()
        ))
    })?;
    Ok(id)
}

impl NamedClient {
    /// A client of the portal at `portal` (`https://portal.example`), trusting tokens
    /// signed by `vendor`, keeping its sign-in in `cache_dir`.
    pub fn new(portal: &str, vendor: VerifyingKey, cache_dir: impl Into<PathBuf>) -> Self {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(20)))
            .user_agent(format!("tessera-client/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        NamedClient {
            portal: portal.trim().trim_end_matches('/').to_owned(),
            vendor,
            cache_dir: cache_dir.into(),
            agent,
        }
    }

    /// The client for the sign-in kept on this computer, if there is one.
    pub fn from_stored(vendor: VerifyingKey, cache_dir: &Path) -> Option<(Self, StoredLogin)> {
        let login = read_login(cache_dir)?;
        Some((Self::new(&login.portal, vendor, cache_dir), login))
    }

    pub fn portal(&self) -> &str {
        &self.portal
    }

    fn post<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<ureq::http::Response<ureq::Body>, ClientError> {
        let url = format!("{}{path}", self.portal);
        let sent = self.agent.post(&url).send_json(body);
        let mut response = sent.map_err(|e| from_transport(&self.portal, e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let body = response.body_mut().read_to_string().unwrap_or_default();
        Err(from_error_response(status, &body, &self.portal))
    }

    fn grant(
        &self,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<(NamedGrant, NamedClaims), ClientError> {
        let grant: NamedGrant = response.body_mut().read_json().map_err(|e| {
            ClientError::Protocol(format!(
                "{} answered something that is not a named-user grant: {e}",
                self.portal
            ))
        })?;
        let claims = verify_named(&self.vendor, &grant.token).map_err(ClientError::Untrusted)?;
        Ok((grant, claims))
    }

    /// Signs `email` in on this computer for `product`: any other computer they were
    /// signed in on stops at its next refresh. Keeps the sign-in in the cache folder.
    pub fn sign_in(
        &self,
        email: &str,
        password: &str,
        product: &str,
    ) -> Result<StoredLogin, ClientError> {
        let device = device_id(&self.cache_dir)?;
        let response = self.post(
            "/api/v1/named/activations",
            &NamedActivationRequest {
                email: email.trim().to_owned(),
                password: password.to_owned(),
                device: device.clone(),
                product: product.to_owned(),
            },
        )?;
        let (grant, claims) = self.grant(response)?;
        self.keep(&device, grant, claims)
    }

    /// Keeps a new sign-in of this device on this computer, once its token is checked to
    /// be bound to this device.
    fn keep(
        &self,
        device: &str,
        grant: NamedGrant,
        claims: NamedClaims,
    ) -> Result<StoredLogin, ClientError> {
        if claims.device != device {
            return Err(ClientError::Untrusted(
                tessera_token::TokenError::BadClaims(format!(
                    "the token is bound to device `{}`, not this one",
                    claims.device
                )),
            ));
        }
        let login = StoredLogin {
            portal: self.portal.clone(),
            email: claims.sub.clone(),
            device: device.to_owned(),
            token: grant.token,
            refresh_interval_s: grant.refresh_interval_s,
            offline_days: grant.offline_days,
            products: grant.products,
        };
        store_login(&self.cache_dir, &login)?;
        Ok(login)
    }

    /// Starts a sign-in through the browser for `product` (empty: any): show the person
    /// [`BrowserSignIn::user_code`] and [`BrowserSignIn::verification_uri`] (or open
    /// [`BrowserSignIn::verification_uri_complete`]), then [`poll_browser_sign_in`]
    /// (Self::poll_browser_sign_in) every [`BrowserSignIn::interval`] until it answers.
    /// No password passes through the program.
    pub fn start_browser_sign_in(&self, product: &str) -> Result<BrowserSignIn, ClientError> {
        let device = device_id(&self.cache_dir)?;
        let response = self.post(
            "/api/v1/named/browser",
            &BrowserSignInRequest {
                device: device.clone(),
                computer: computer_name(),
                product: product.to_owned(),
            },
        )?;
        let mut response = response;
        let start: BrowserSignInStart = response.body_mut().read_json().map_err(|e| {
            ClientError::Protocol(format!(
                "{} answered something that is not a browser sign-in: {e}",
                self.portal
            ))
        })?;
        Ok(BrowserSignIn {
            interval: Duration::from_secs(start.interval.clamp(1, 60)),
            ends: std::time::Instant::now() + Duration::from_secs(start.expires_in.min(3600)),
            device,
            start,
        })
    }

    /// Asks once whether the person approved: `Ok(None)` while they have not (after a
    /// `slow_down` the interval grows by 5 s, as RFC 8628 says), the kept sign-in once they
    /// did; `access_denied` or `expired_token` when they denied it or the code ended.
    pub fn poll_browser_sign_in(
        &self,
        sign_in: &mut BrowserSignIn,
    ) -> Result<Option<StoredLogin>, ClientError> {
        let sent = self.post(
            "/api/v1/named/browser/token",
            &BrowserSignInPoll {
                device_code: sign_in.start.device_code.clone(),
            },
        );
        match sent {
            Ok(response) => {
                let (grant, claims) = self.grant(response)?;
                self.keep(&sign_in.device, grant, claims).map(Some)
            }
            Err(ClientError::Server { code, .. })
                if code == ErrorCode::AuthorizationPending.as_str() =>
            {
                Ok(None)
            }
            Err(ClientError::Server { code, .. }) if code == ErrorCode::SlowDown.as_str() => {
                sign_in.interval += Duration::from_secs(5);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Polls until the person approves or denies, or the code ends.
    pub fn wait_browser_sign_in(
        &self,
        sign_in: &mut BrowserSignIn,
    ) -> Result<StoredLogin, ClientError> {
        loop {
            std::thread::sleep(sign_in.interval);
            match self.poll_browser_sign_in(sign_in) {
                Ok(Some(login)) => return Ok(login),
                Ok(None) => {}
                // A portal briefly out of reach is asked again while the code lasts.
                Err(e) if e.is_transient() && std::time::Instant::now() < sign_in.ends => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends this computer's sign-in at the portal (when it can be reached) and forgets it.
    pub fn sign_out(&self) -> Result<(), ClientError> {
        let result = match read_login(&self.cache_dir) {
            Some(login) => self
                .post(
                    "/api/v1/named/sign-out",
                    &NamedSignOutRequest { token: login.token },
                )
                .map(|_| ()),
            None => Ok(()),
        };
        let _ = std::fs::remove_file(self.cache_dir.join(LOGIN_FILE));
        match result {
            Err(e) if !e.is_transient() => Err(e),
            _ => Ok(()),
        }
    }

    /// The sign-in kept on this computer with a token that is good now: refreshed with
    /// the portal first when less than a tenth of its life (or under ten minutes) is left.
    /// A portal that cannot be reached leaves the kept token in use while it lasts.
    pub fn fresh_login(&self) -> Result<StoredLogin, ClientError> {
        let login = read_login(&self.cache_dir).ok_or_else(|| {
            ClientError::Config(
                "no one is signed in on this computer: run `tessera login` first".into(),
            )
        })?;
        let claims = verify_named(&self.vendor, &login.token).map_err(ClientError::Untrusted)?;
        let now = Utc::now();
        let margin = ((claims.exp - claims.iat) / 10).max(chrono::Duration::minutes(10));
        if claims.exp - margin > now {
            return Ok(login);
        }
        match self.renew(&login, None) {
            Ok((kept, _)) => {
                store_login(&self.cache_dir, &kept)?;
                Ok(kept)
            }
            Err(e) if e.is_transient() && claims.exp > now => Ok(login),
            Err(e) => Err(e),
        }
    }

    /// Asks the portal for a new token of the sign-in `login` (for `product`, when given):
    /// the sign-in with it, to keep, and the token's claims.
    fn renew(
        &self,
        login: &StoredLogin,
        product: Option<&str>,
    ) -> Result<(StoredLogin, NamedClaims), ClientError> {
        let response = self.post(
            "/api/v1/named/refresh",
            &NamedRefreshRequest {
                token: login.token.clone(),
                product: product.map(str::to_owned),
            },
        )?;
        let (grant, claims) = self.grant(response)?;
        let renewed = StoredLogin {
            token: grant.token,
            refresh_interval_s: grant.refresh_interval_s,
            offline_days: grant.offline_days,
            products: grant.products,
            ..login.clone()
        };
        Ok((renewed, claims))
    }

    /// Reports that the person signed in on this computer uses `product`, licensed by
    /// their organization's tokens (`POST /api/v1/tokens/use`): the first use in 24
    /// hours charges the product's daily rate, later ones answer `already_paid`, and a
    /// use shorter than the portal's free minutes (`used_seconds`) is not charged. Refused
    /// with `tokens_exhausted` or `tokens_expired` (and as a refresh would be).
    pub fn use_tokens(
        &self,
        product: &str,
        used_seconds: Option<u64>,
    ) -> Result<tessera_core::tokens::TokenUseGrant, ClientError> {
        let login = read_login(&self.cache_dir).ok_or_else(|| {
            ClientError::Config(
                "no one is signed in on this computer: run `tessera login` first".into(),
            )
        })?;
        let url = format!("{}/api/v1/tokens/use", self.portal);
        let sent = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", login.token))
            .send_json(&tessera_core::tokens::TokenUseRequest {
                product: product.to_owned(),
                used_seconds,
            });
        let mut response = sent.map_err(|e| from_transport(&self.portal, e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            return Err(from_error_response(status, &body, &self.portal));
        }
        response.body_mut().read_json().map_err(|e| {
            ClientError::Protocol(format!(
                "{} answered something that is not a token use: {e}",
                self.portal
            ))
        })
    }

    /// The named license of `product` for the person signed in on this computer:
    /// refreshed with the portal now, or, when it cannot be reached, granted from the
    /// kept token for the offline period. Refused with `superseded`, `seat_unassigned`
    /// or `unauthorized` (signed out) by the portal.
    pub fn license(&self, product: &str) -> Result<NamedLicense, ClientError> {
        let login = read_login(&self.cache_dir).ok_or_else(|| {
            ClientError::Config(
                "no one is signed in on this computer: run `tessera login` first".into(),
            )
        })?;
        let claims = verify_named(&self.vendor, &login.token).map_err(ClientError::Untrusted)?;
        let shared = Arc::new(Mutex::new(Shared {
            status: NamedStatus::Valid,
            claims,
        }));
        match refresh_once(self, product, &shared) {
            NamedStatus::Stopped { code, message } => {
                return Err(match ErrorCode::parse(&code) {
                    Some(c) => from_error_response(
                        c.http_status(),
                        &serde_json::json!({"error": {"code": code, "message": message}})
                            .to_string(),
                        &self.portal,
                    ),
                    None if code == "clock_turned_back" => ClientError::ClockTurnedBack { message },
                    None => ClientError::Config(message),
                });
            }
            NamedStatus::Valid | NamedStatus::Offline { .. } => {}
        }
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = {
            let client = self.clone();
            let product = product.to_owned();
            let shared = shared.clone();
            let stop = stop.clone();
            let interval = Duration::from_secs(login.refresh_interval_s.clamp(1, 24 * 3600));
            std::thread::Builder::new()
                .name("tessera-named-refresh".into())
                .spawn(move || {
                    let (lock, cv) = &*stop;
                    loop {
                        let guard = lock.lock().expect("stop flag");
                        let (guard, _) = cv
                            .wait_timeout_while(guard, interval, |stop| !*stop)
                            .expect("stop flag");
                        if *guard {
                            return;
                        }
                        drop(guard);
                        if let NamedStatus::Stopped { .. } =
                            refresh_once(&client, &product, &shared)
                        {
                            return;
                        }
                    }
                })
                .map_err(|e| ClientError::Config(format!("cannot start the refresh thread: {e}")))?
        };
        Ok(NamedLicense {
            product: product.to_owned(),
            shared,
            stop,
            thread: Some(thread),
        })
    }
}

/// One refresh: a new token kept on disk, the offline period when the portal cannot be
/// reached, or the reason the license stopped.
fn refresh_once(client: &NamedClient, product: &str, shared: &Arc<Mutex<Shared>>) -> NamedStatus {
    let status = match read_login(&client.cache_dir) {
        None => NamedStatus::Stopped {
            code: ErrorCode::Unauthorized.as_str().into(),
            message: "signed out on this computer: run `tessera login` again".into(),
        },
        Some(login) => {
            match client.renew(&login, Some(product)) {
                Ok((kept, claims)) => {
                    let _ = store_login(&client.cache_dir, &kept);
                    // The portal has just vouched for this time: the offline period is
                    // measured from here, and a clock turned back later is noticed.
                    let _ = Cache::new(&client.cache_dir).remember(claims.iat.max(Utc::now()));
                    shared.lock().expect("named state").claims = claims;
                    NamedStatus::Valid
                }
                Err(e) if e.is_transient() => {
                    let iat = shared.lock().expect("named state").claims.iat;
                    let until = iat + chrono::Duration::days(i64::from(login.offline_days));
                    let products = shared.lock().expect("named state").claims.products.clone();
                    let cache = Cache::new(&client.cache_dir);
                    let now = Utc::now();
                    if let Err(e) = check_clock(now, iat, cache.last_seen()) {
                        NamedStatus::Stopped {
                            code: e.code().to_owned(),
                            message: e.to_string(),
                        }
                    } else if now >= until {
                        NamedStatus::Stopped {
                            code: "offline_too_long".into(),
                            message: format!(
                                "the portal at {} could not be reached for {} days; connect and sign in again",
                                client.portal, login.offline_days
                            ),
                        }
                    } else if !products.iter().any(|p| p == product) {
                        NamedStatus::Stopped {
                            code: ErrorCode::SeatUnassigned.as_str().into(),
                            message: format!(
                                "no seat of `{product}` is assigned to {}",
                                login.email
                            ),
                        }
                    } else {
                        let _ = cache.remember(now);
                        NamedStatus::Offline { until }
                    }
                }
                Err(e) => NamedStatus::Stopped {
                    code: e.code().to_owned(),
                    message: e.to_string(),
                },
            }
        }
    };
    shared.lock().expect("named state").status = status.clone();
    status
}

fn read_login(cache_dir: &Path) -> Option<StoredLogin> {
    let text = std::fs::read_to_string(cache_dir.join(LOGIN_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

fn store_login(cache_dir: &Path, login: &StoredLogin) -> Result<(), ClientError> {
    let path = cache_dir.join(LOGIN_FILE);
    let text =
        serde_json::to_vec_pretty(login).map_err(|e| ClientError::Protocol(e.to_string()))?;
    write_atomic(&path, &text).map_err(|e| {
        ClientError::Config(format!(
            "cannot keep the sign-in in {}: {e}",
            path.display()
        ))
    })
}

/// The sign-in kept in `cache_dir`, if any.
pub fn stored_login(cache_dir: &Path) -> Option<StoredLogin> {
    read_login(cache_dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_token::{SigningKey, sign_named};

    /// A sign-in kept on disk whose token was issued `age` ago, for a portal that is
    /// not there (nothing listens on port 9 of loopback).
    fn offline(age: chrono::Duration) -> (NamedClient, tempfile::TempDir) {
        let vendor = SigningKey::generate();
        let dir = tempfile::tempdir().unwrap();
        let iat = Utc::now() - age;
        let token = sign_named(
            &vendor,
            &NamedClaims {
                kind: "named".into(),
                jti: "s1".into(),
                sub: "anna@office.example".into(),
                device: "dev".into(),
                products: vec!["share".into()],
                iat,
                exp: iat + chrono::Duration::hours(24),
            },
        )
        .unwrap();
        store_login(
            dir.path(),
            &StoredLogin {
                portal: "http://127.0.0.1:9".into(),
                email: "anna@office.example".into(),
                device: "dev".into(),
                token,
                refresh_interval_s: 3600,
                offline_days: 30,
                products: vec!["share".into()],
            },
        )
        .unwrap();
        let client = NamedClient::new(
            "http://127.0.0.1:9",
            vendor.verifying_key().clone(),
            dir.path(),
        );
        (client, dir)
    }

    #[test]
    fn without_the_portal_a_sign_in_works_for_its_offline_period_and_not_after() {
        let (client, _dir) = offline(chrono::Duration::days(29));
        let license = client.license("share").unwrap();
        assert!(license.is_valid());
        assert!(matches!(license.status(), NamedStatus::Offline { .. }));
        assert_eq!(license.email(), "anna@office.example");
        // A product it does not cover is refused, offline too.
        assert_eq!(
            client.license("revit").unwrap_err().code(),
            "seat_unassigned"
        );

        let (client, _dir) = offline(chrono::Duration::days(31));
        let err = client.license("share").unwrap_err();
        assert!(
            err.to_string().contains("could not be reached for 30 days"),
            "{err}"
        );
    }

    #[test]
    fn a_clock_turned_back_stops_offline_use() {
        let (client, dir) = offline(chrono::Duration::days(1));
        Cache::new(dir.path())
            .set_clock(Utc::now() + chrono::Duration::days(3))
            .unwrap();
        let err = client.license("share").unwrap_err();
        assert_eq!(err.code(), "clock_turned_back", "{err}");
    }

    #[test]
    fn no_sign_in_no_license_and_a_token_of_another_vendor_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let client = NamedClient::new(
            "http://127.0.0.1:9",
            SigningKey::generate().verifying_key().clone(),
            dir.path(),
        );
        assert_eq!(client.license("share").unwrap_err().code(), "config");
        let (stored, other) = offline(chrono::Duration::days(1));
        let _ = stored;
        let foreign = NamedClient::new(
            "http://127.0.0.1:9",
            SigningKey::generate().verifying_key().clone(),
            other.path(),
        );
        assert_eq!(
            foreign.license("share").unwrap_err().code(),
            "untrusted_token"
        );
    }
}
