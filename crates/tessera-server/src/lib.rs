//! The license server: the v1 protocol over HTTP, the live page, and the background
//! work that returns lapsed seats. The LAN server runs it on one data folder, in one
//! realm, signing with its own key; the portal mounts the same protocol as the web
//! license server at `/w/{org}/api/v1`, one realm per organization, signing with the
//! vendor's key. A LAN server may also run on PostgreSQL (`database_url`), as several
//! nodes on one database that all serve: identity, activations, policy, site keys and
//! seats are in the database, so any node answers for any lease.

pub mod activation;
pub mod api;
pub mod audit;
pub mod backup;
pub mod credential;
pub mod error;
pub mod extract;
pub mod identity;
pub mod issued;
pub mod limits;
mod live;
pub mod live_events;
pub mod metrics;
pub mod openapi;
pub mod policy_file;
pub mod proxy;
pub mod queue;
pub mod report;
pub mod request_id;
mod usage_page;

pub use usage_page::{PoolUsageView, usage_views};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use tessera_core::access::{AccessLists, parse_list};
use tessera_core::policy::Policy;
use tessera_core::protocol::{DEFAULT_HEARTBEAT_S, DEFAULT_LEASE_TTL_S, DEFAULT_MAX_BORROW_HOURS};
use tessera_core::{ErrorCode, Millis};
use tessera_store::Store;
use tessera_token::{SigningKey, VerifyingKey};
use tokio::sync::Notify;

use crate::error::ApiError;
use crate::identity::ServerIdentity;
use crate::policy_file::{PolicyFile, PolicyFileError};
use crate::queue::WaitQueue;

/// The realm of a LAN server's rows in the store.
pub const LAN_REALM: &str = "lan";
/// The largest request body accepted (an activation key with many pools fits easily).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How a license server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub lease_ttl: Duration,
    pub heartbeat: Duration,
    pub max_borrow_hours: u32,
    /// Days that usage sessions and denials are kept for the reports.
    pub usage_retention_days: u32,
    /// Requests per second one client address may send (0: no limit); twice that in a burst.
    pub rate_limit: u32,
    /// Requests per second to one organization of the web license server, from all its
    /// clients together (0: no limit); twice that in a burst. A LAN server has no use for it.
    pub org_rate_limit: u32,
    /// The portal to send usage reports to (`--report-usage URL`); none: never sent.
    pub report_usage: Option<String>,
    /// How often the usage reports are sent.
    pub report_every: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`proxy.rs`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// A LAN server that lends seats only to programs with a site key
    /// (`--require-site-key`). The web license server always asks for a credential.
    pub require_site_key: bool,
    /// Requests per second one credential (a site key, a person) may send from all its
    /// addresses together (0: no limit); twice that in a burst.
    pub credential_rate_limit: u32,
    /// A token that lets a scraper read `/metrics` (besides the LAN server's admin token).
    pub metrics_token: Option<String>,
    /// A LAN server on PostgreSQL (`postgres://…`): everything in that database, shared
    /// by every node started on it; none: SQLite in the data folder, one node.
    pub database_url: Option<String>,
    /// This node's name, shown by `GET /api/v1/server`, `tessera status` and the live
    /// page, so an admin can tell which node answered (default: host name and port).
    pub node_name: Option<String>,
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        ServerConfig {
            data_dir,
            listen: SocketAddr::from(([0, 0, 0, 0], tessera_core::protocol::DEFAULT_PORT)),
            lease_ttl: Duration::from_secs(DEFAULT_LEASE_TTL_S),
            heartbeat: Duration::from_secs(DEFAULT_HEARTBEAT_S),
            max_borrow_hours: DEFAULT_MAX_BORROW_HOURS,
            usage_retention_days: 400,
            rate_limit: limits::DEFAULT_RATE_LIMIT,
            org_rate_limit: limits::DEFAULT_ORG_RATE_LIMIT,
            report_usage: None,
            report_every: Duration::from_secs(3600),
            trusted_proxies: Vec::new(),
            require_site_key: false,
            credential_rate_limit: limits::DEFAULT_CREDENTIAL_RATE_LIMIT,
            metrics_token: None,
            database_url: None,
            node_name: None,
        }
    }

    /// The SQLite database of a LAN server.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("tessera.db")
    }
}

/// Who signs the seat tokens, and so what kind of server this is.
pub enum Authority {
    /// A LAN server: its own key; its tokens carry their activation in the footer.
    Lan(ServerIdentity),
    /// The web license server: tokens are signed by the vendor key itself.
    Web { vendor: SigningKey },
}

/// What the web license server asks the portal, which knows its organizations and
/// people: who may make admin calls on a realm, and whose sign-in a checkout carries. A
/// LAN server checks its admin token and site keys itself.
pub trait WebGate: Send + Sync {
    /// Whether the request's caller administers `realm`; who they are (for the audit
    /// log: their e-mail) when they do.
    fn authorize<'a>(
        &'a self,
        parts: &'a axum::http::request::Parts,
        realm: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, ApiError>> + Send + 'a>>;

    /// The person a sign-in token belongs to, if it is a live sign-in; whether they
    /// belong to the organization of `realm`. Any failure answers as
    /// [`credential::refused`] does, the same for every organization.
    fn person<'a>(
        &'a self,
        realm: &'a str,
        token: &'a str,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<credential::Person, ApiError>> + Send + 'a>,
    >;
}

/// A realm's switch, policy and access lists, cached briefly.
struct RealmCached {
    at: std::time::Instant,
    now: RealmNow,
}

/// What a realm allows now: whether it takes checkouts, its policy, and (on the web
/// license server) the panel's allow and deny lists.
#[derive(Clone)]
pub struct RealmNow {
    pub enabled: bool,
    pub policy: Arc<Policy>,
    pub access: Arc<AccessLists>,
}

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    pub authority: Authority,
    pub vendor_key: VerifyingKey,
    pub realm: String,
    pub config: ServerConfig,
    /// Woken whenever a seat may have freed.
    pub seats_changed: Notify,
    /// Bumped whenever what the live page shows may have changed (a seat taken, freed or
    /// borrowed, the wait queue, the policy); the live page's events listen to it.
    pub changes: tokio::sync::watch::Sender<u64>,
    pub policy: PolicyFile,
    pub queue: WaitQueue,
    /// Per pool, what its seat tokens carry; kept briefly so that a checkout or a
    /// heartbeat costs no extra query (an import clears it; a renewal imported by the
    /// CLI into a running server shows in tokens within `POOL_CACHE_TTL`).
    pool_cache: std::sync::Mutex<HashMap<String, (std::time::Instant, Arc<PoolSigning>)>>,
    shutting_down: std::sync::atomic::AtomicBool,
    pub limiter: limits::Limits,
    /// The web license server's admin and sign-in checks (absent on a LAN server).
    pub admin_gate: Option<Arc<dyn WebGate>>,
    realms: std::sync::Mutex<HashMap<String, RealmCached>>,
    /// What the server counts, for `/metrics`.
    pub metrics: metrics::Metrics,
    /// The seat tokens this node signed, so their heartbeats skip the signature check.
    pub issued: issued::IssuedTokens,
    /// Held for the server's life: one server per data folder.
    _lock: Option<backup::DataLock>,
}

pub type SharedState = Arc<AppState>;

/// What the seat tokens of one pool carry.
#[derive(Debug)]
pub struct PoolSigning {
    pub products: Vec<String>,
    pub activation: Option<String>,
}

const POOL_CACHE_TTL: Duration = Duration::from_secs(5);

impl AppState {
    /// A server's state with nothing waiting, counted or cached yet. A web license server
    /// (with its `admin_gate`) serves every organization's realm; a LAN server the one
    /// realm `lan`, holding `lock` on its data folder when it has one.
    fn new(
        store: Store,
        authority: Authority,
        vendor_key: VerifyingKey,
        config: ServerConfig,
        policy: PolicyFile,
        admin_gate: Option<Arc<dyn WebGate>>,
        lock: Option<backup::DataLock>,
    ) -> SharedState {
        let realm = if admin_gate.is_some() {
            String::new()
        } else {
            LAN_REALM.to_owned()
        };
        Arc::new(AppState {
            store,
            authority,
            vendor_key,
            realm,
            limiter: limits::Limits::new(&config),
            config,
            seats_changed: Notify::new(),
            changes: tokio::sync::watch::channel(0).0,
            policy,
            queue: WaitQueue::default(),
            pool_cache: Default::default(),
            shutting_down: Default::default(),
            admin_gate,
            realms: Default::default(),
            metrics: Default::default(),
            issued: Default::default(),
            _lock: lock,
        })
    }

    /// The products and activation text of `pool_id`, cached for a few seconds.
    pub async fn pool_signing(
        &self,
        realm: &str,
        pool_id: &str,
    ) -> Result<Option<Arc<PoolSigning>>, tessera_store::StoreError> {
        let key = format!("{realm}\n{pool_id}");
        if let Some((at, info)) = self.pool_cache.lock().expect("pool cache").get(&key)
            && at.elapsed() < POOL_CACHE_TTL
        {
            return Ok(Some(info.clone()));
        }
        let Some((products, activation)) = self.store.pool_signing(realm, pool_id).await? else {
            return Ok(None);
        };
        let info = Arc::new(PoolSigning {
            products,
            // Web license server tokens carry no activation: the vendor key signs them.
            activation: activation.filter(|a| !a.is_empty() && self.identity().is_some()),
        });
        self.pool_cache
            .lock()
            .expect("pool cache")
            .insert(key, (std::time::Instant::now(), info.clone()));
        Ok(Some(info))
    }

    /// Forgets cached pool and realm details (after an activation or a setting changed).
    pub fn pools_changed(&self) {
        self.pool_cache.lock().expect("pool cache").clear();
        self.realms.lock().expect("realm cache").clear();
        self.seat_freed();
    }

    /// The LAN server's identity; `None` on the web license server.
    pub fn identity(&self) -> Option<&ServerIdentity> {
        match &self.authority {
            Authority::Lan(identity) => Some(identity),
            Authority::Web { .. } => None,
        }
    }

    /// The key that signs this server's seat tokens.
    pub fn signing_key(&self) -> &SigningKey {
        match &self.authority {
            Authority::Lan(identity) => &identity.key,
            Authority::Web { vendor } => vendor,
        }
    }

    /// Whether a realm takes checkouts, its policy and access lists; `None` when there is
    /// no such realm. A LAN server has one realm, always on, with the policy of its data
    /// folder and no lists. On the web license server each node caches this for up to
    /// `POOL_CACHE_TTL`, so a change made through another node applies within that time.
    pub async fn realm_state(
        &self,
        realm: &str,
    ) -> Result<Option<RealmNow>, tessera_store::StoreError> {
        if self.identity().is_some() {
            return Ok((realm == self.realm).then(|| RealmNow {
                enabled: true,
                policy: self.policy.current(),
                access: Arc::new(AccessLists::default()),
            }));
        }
        if let Some(c) = self.realms.lock().expect("realm cache").get(realm)
            && c.at.elapsed() < POOL_CACHE_TTL
        {
            return Ok(Some(c.now.clone()));
        }
        let Some(record) = self.store.realm(realm).await? else {
            return Ok(None);
        };
        // A stored policy was checked when it was saved, so it parses.
        let policy = Arc::new(Policy::parse(&record.policy).unwrap_or_else(|e| {
            tracing::error!(realm, error = %e, "stored realm policy does not parse; none applies");
            Policy::default()
        }));
        let now = RealmNow {
            enabled: record.enabled,
            policy,
            access: Arc::new(AccessLists {
                allow_domains: parse_list(&record.allow_domains),
                allow: parse_list(&record.allow_list),
                deny: parse_list(&record.deny_list),
            }),
        };
        self.realms.lock().expect("realm cache").insert(
            realm.to_owned(),
            RealmCached {
                at: std::time::Instant::now(),
                now: now.clone(),
            },
        );
        Ok(Some(now))
    }

    pub fn now(&self) -> Millis {
        tessera_core::to_millis(chrono::Utc::now())
    }

    /// Tells waiting checkouts that the server is stopping.
    pub fn begin_shutdown(&self) {
        self.shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.seats_changed.notify_waiters();
        // Ends the live page's event streams, which would otherwise hold the shutdown.
        self.changed();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn seat_freed(&self) {
        self.seats_changed.notify_waiters();
        self.changed();
    }

    /// Tells the live page's event streams that what they show may have changed.
    pub fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Whether this is a LAN server on PostgreSQL, possibly one node of several.
    pub fn is_cluster(&self) -> bool {
        self.identity().is_some() && self.config.database_url.is_some()
    }

    /// Replaces the LAN server's policy when `text` is valid: in the policy file, or on
    /// PostgreSQL in the database, where the other nodes pick it up within a sweep.
    pub async fn replace_lan_policy(&self, text: &str) -> Result<Arc<Policy>, PolicyFileError> {
        if self.is_cluster() {
            Policy::parse(text)?;
            self.store.set_realm_policy(LAN_REALM, text).await?;
        }
        self.policy.replace(text)
    }

    /// Picks up a policy changed by hand in the file or, on PostgreSQL, by another node.
    pub async fn refresh_policy(&self) {
        if !self.is_cluster() {
            self.policy.reload_if_changed();
            return;
        }
        match self.store.realm(LAN_REALM).await {
            Ok(Some(stored)) if stored.policy != self.policy.text() => {
                match self.policy.replace(&stored.policy) {
                    Ok(p) => {
                        tracing::info!(
                            rules = p.rules.len(),
                            "policy changed on another node; the new policy is in force"
                        );
                        self.seat_freed();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the stored policy is not valid; the running policy stays")
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "reading the policy from the database failed; will retry")
            }
        }
    }
}

/// The v1 protocol's calls. The LAN server adds the import of activation keys; the web
/// license server's pools come from the portal's paid orders instead.
fn protocol_routes(lan: bool) -> Router<SharedState> {
    let api = Router::new()
        .route("/server", get(api::server_info))
        .route("/leases", post(api::checkout))
        .route("/leases/{id}/heartbeat", post(api::heartbeat))
        .route("/leases/{id}", delete(api::checkin))
        .route("/borrows", post(api::borrow))
        .route(
            "/borrows/{id}",
            get(api::borrow_status).delete(api::return_borrow),
        )
        .route("/admin/leases", get(api::admin_leases))
        .route("/admin/leases/{id}", delete(api::admin_remove))
        .route("/admin/usage", get(api::admin_usage))
        .route(
            "/admin/policy",
            get(api::admin_policy).put(api::admin_put_policy),
        )
        .route("/admin/audit", get(audit::admin_audit))
        .route("/openapi.json", get(openapi_json));
    let api = if lan {
        api.route("/admin/activations", post(api::admin_activate))
    } else {
        api
    };
    api.fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such call in the v1 protocol") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this call does not take that method",
            )
        })
}

fn with_edges(router: Router<SharedState>, state: SharedState) -> Router {
    router
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            error::json_errors_for_api,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(limits::read_body))
        // Outermost, so a flooding client is turned away before any of its body is read.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::limit,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal("a handler panicked"))
        }))
        // Outermost of all: every answer, a 429 or a panic's included, names its request.
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(state)
}

/// The protocol's OpenAPI document; on the web license server, the organization's.
async fn openapi_json(
    axum::extract::State(state): axum::extract::State<SharedState>,
    extract::Realm(realm): extract::Realm,
) -> axum::response::Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = if state.identity().is_some() {
        DOC.get_or_init(openapi::document).clone()
    } else {
        openapi::web_document(&realm)
    };
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        doc,
    )
        .into_response()
}

/// `GET /metrics`: the server's figures in the Prometheus text format, for the admin
/// token (LAN server) or the metrics token.
pub async fn metrics_page(
    axum::extract::State(state): axum::extract::State<SharedState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let allowed = presented.is_some_and(|t| {
        extract::admin_token_matches(&state, t)
            || state
                .config
                .metrics_token
                .as_deref()
                .is_some_and(|m| extract::same_secret(m, t))
    });
    if !allowed {
        return ApiError::unauthorized(
            "/metrics needs `Authorization: Bearer <admin token or metrics token>`",
        )
        .into_response();
    }
    match state.metrics.render(&state).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The LAN server: the protocol at `/api/v1` and the live page at `/`.
pub fn router(state: SharedState) -> Router {
    let routes = Router::new()
        .nest("/api/v1", protocol_routes(true))
        .route("/metrics", get(metrics_page))
        .merge(live::routes())
        .fallback(|uri: axum::http::Uri| async move {
            if uri.path().starts_with("/api") {
                ApiError::new(
                    ErrorCode::NotFound,
                    "no such call; the protocol lives under /api/v1",
                )
                .into_response()
            } else {
                (axum::http::StatusCode::NOT_FOUND, "not found").into_response()
            }
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this path does not take that method",
            )
        });
    let trusted = proxy::TrustedProxies::new(state.config.trusted_proxies.clone());
    with_edges(routes, state).layer(axum::middleware::from_fn_with_state(
        trusted,
        proxy::real_client,
    ))
}

/// The web license server: the same protocol for each organization at `/w/{org}/api/v1`,
/// to be merged into the portal's router.
pub fn web_router(state: SharedState) -> Router {
    with_edges(
        Router::new().nest("/w/{org}/api/v1", protocol_routes(false)),
        state,
    )
}

/// The web license server's state: the vendor key signs; `gate` decides who administers
/// each organization's realm and whose sign-in a checkout carries.
pub fn web_state(
    store: Store,
    vendor: SigningKey,
    config: ServerConfig,
    gate: Arc<dyn WebGate>,
) -> SharedState {
    let vendor_key = vendor.verifying_key().clone();
    AppState::new(
        store,
        Authority::Web { vendor },
        vendor_key,
        config,
        PolicyFile::in_memory(Policy::default()),
        Some(gate),
        None,
    )
}

/// Puts an organization's pools on the web license server (a paid order): the realm is
/// made (switched on) if new, and pools with the same ids are replaced (a renewal).
pub async fn grant_web_pools(
    store: &Store,
    realm: &str,
    org_name: &str,
    grant_id: &str,
    pools: Vec<tessera_core::PoolSpec>,
    now: Millis,
) -> Result<(), tessera_store::StoreError> {
    store.upsert_realm(realm, org_name, now).await?;
    let expires_at = pools
        .iter()
        .map(|p| tessera_core::to_millis(p.end))
        .max()
        .unwrap_or(now);
    store
        .import_activation(
            realm,
            &tessera_store::ActivationRecord {
                id: grant_id.to_owned(),
                org: org_name.to_owned(),
                token: String::new(),
                issued_at: now,
                expires_at,
                pools,
            },
            now,
        )
        .await
}

/// Returns lapsed leases and ended borrows to their pools, and records them, forever.
pub async fn sweep_forever(state: SharedState) {
    let every =
        (state.config.heartbeat / 2).clamp(Duration::from_millis(500), Duration::from_secs(5));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_prune: Option<std::time::Instant> = None;
    loop {
        tick.tick().await;
        if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            last_prune = Some(std::time::Instant::now());
            let before = state.now() - i64::from(state.config.usage_retention_days) * 86_400_000;
            match state.store.prune_usage(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(records = n, "usage records past their retention removed"),
                Err(e) => tracing::warn!(error = %e, "removing old usage records failed"),
            }
        }
        state.refresh_policy().await;
        if state.is_cluster() {
            // Seats taken and freed on other nodes change the live page too; its event
            // streams hear of them at each sweep.
            state.changed();
        }
        match state.store.sweep_expired(state.now()).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(count = n, "lapsed seats returned to their pools");
                state.metrics.expired.inc_by(n as u64);
                state.seat_freed();
            }
            Err(e) => tracing::warn!(error = %e, "sweeping lapsed leases failed; will retry"),
        }
    }
}

/// Opens the data folder: identity, database, and activations re-checked for this machine.
pub async fn open(
    config: ServerConfig,
    vendor_key: VerifyingKey,
) -> Result<SharedState, OpenError> {
    if let Some(url) = config.database_url.clone() {
        return open_cluster(config, vendor_key, &url).await;
    }
    let lock = backup::DataLock::acquire(&config.data_dir)?
        .ok_or_else(|| OpenError::Locked(config.data_dir.clone()))?;
    let identity = ServerIdentity::load_or_create(&config.data_dir)?;
    let policy = PolicyFile::load(&config.data_dir)?;
    let store = Store::open_sqlite(&config.database_path()).await?;
    let now = tessera_core::to_millis(chrono::Utc::now());
    activation::revalidate(&store, LAN_REALM, &identity, &vendor_key, now).await?;
    Ok(AppState::new(
        store,
        Authority::Lan(identity),
        vendor_key,
        config,
        policy,
        None,
        Some(lock),
    ))
}

/// Opens a LAN server on PostgreSQL, one node of any number on that database: the
/// identity the first node made (or makes it), the policy stored in the `lan` realm, and
/// activations re-checked for this cluster. No data folder is locked: every node serves.
async fn open_cluster(
    config: ServerConfig,
    vendor_key: VerifyingKey,
    url: &str,
) -> Result<SharedState, OpenError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(OpenError::DatabaseUrl(
            "--database-url must be a postgres://… URL (a LAN server without it keeps SQLite in its data folder)".into(),
        ));
    }
    let store = Store::open_url(url)
        .await
        .map_err(|e| OpenError::Database(redact_url(url), e))?;
    let now = tessera_core::to_millis(chrono::Utc::now());
    let identity = ServerIdentity::load_or_create_in(&store, now).await?;
    store
        .upsert_realm(LAN_REALM, "LAN license server", now)
        .await?;
    let text = store
        .realm(LAN_REALM)
        .await?
        .map(|r| r.policy)
        .unwrap_or_default();
    let policy = PolicyFile::in_memory(Policy::default());
    if let Err(e) = policy.replace(&text) {
        tracing::warn!(error = %e, "the stored policy is not valid; none applies until it is replaced");
    }
    // A node started with another vendor key must not take the activations out of
    // service for every node: it refuses to start instead.
    for (id, text) in store.activations(LAN_REALM).await? {
        if let Err(activation::ActivationError::InvalidSignature) =
            activation::check(&identity, &vendor_key, &text, now)
        {
            return Err(OpenError::VendorKey(id));
        }
    }
    activation::revalidate(&store, LAN_REALM, &identity, &vendor_key, now).await?;
    Ok(AppState::new(
        store,
        Authority::Lan(identity),
        vendor_key,
        config,
        policy,
        None,
        None,
    ))
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}

/// Serves until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    state: SharedState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep_forever(state.clone()));
    let reporter = state.config.report_usage.clone().map(|portal| {
        tokio::spawn(report::report_forever(
            state.clone(),
            portal,
            state.config.report_every,
        ))
    });
    let app = router(state.clone());
    let stopping = state.clone();
    let shutdown = async move {
        shutdown.await;
        // Checkouts waiting for a seat answer now instead of holding the shutdown up.
        stopping.begin_shutdown();
    };
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    sweeper.abort();
    if let Some(reporter) = reporter {
        reporter.abort();
    }
    state.store.close().await;
    result
}

/// Why a server's data folder could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
    #[error("policy.toml: {0}")]
    Policy(#[from] PolicyFileError),
    #[error("another Tessera server is already running on the data folder {0}")]
    Locked(PathBuf),
    #[error(transparent)]
    Backup(#[from] backup::BackupError),
    #[error("{0}")]
    DatabaseUrl(String),
    #[error(
        "the activation {0} in the database does not verify against this node's vendor public key: \
         every node must be started with the same vendor key (--vendor-public-key)"
    )]
    VendorKey(String),
    #[error("cannot open the database {0}: {1}")]
    Database(String, #[source] tessera_store::StoreError),
}
