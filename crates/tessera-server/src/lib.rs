//! The license server: the v1 protocol over HTTP, the live page, and the background
//! work that returns lapsed seats. The LAN server runs it on one data folder; the portal
//! mounts the same protocol for each organization.

pub mod activation;
pub mod api;
pub mod backup;
pub mod error;
pub mod extract;
pub mod identity;
mod live;
pub mod policy_file;
pub mod queue;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use tessera_core::protocol::{DEFAULT_HEARTBEAT_S, DEFAULT_LEASE_TTL_S, DEFAULT_MAX_BORROW_HOURS};
use tessera_core::{ErrorCode, Millis};
use tessera_store::Store;
use tessera_token::VerifyingKey;
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
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        ServerConfig {
            data_dir,
            listen: SocketAddr::from(([0, 0, 0, 0], tessera_core::protocol::DEFAULT_PORT)),
            lease_ttl: Duration::from_secs(DEFAULT_LEASE_TTL_S),
            heartbeat: Duration::from_secs(DEFAULT_HEARTBEAT_S),
            max_borrow_hours: DEFAULT_MAX_BORROW_HOURS,
        }
    }

    /// The SQLite database of a LAN server.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("tessera.db")
    }
}

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    pub identity: ServerIdentity,
    pub vendor_key: VerifyingKey,
    pub realm: String,
    pub config: ServerConfig,
    /// Woken whenever a seat may have freed.
    pub seats_changed: Notify,
    pub policy: PolicyFile,
    pub queue: WaitQueue,
    /// Per pool, what its seat tokens carry; kept briefly so that a checkout or a
    /// heartbeat costs no extra query (an import clears it; a renewal imported by the
    /// CLI into a running server shows in tokens within `POOL_CACHE_TTL`).
    pool_cache: std::sync::Mutex<HashMap<String, (std::time::Instant, Arc<PoolSigning>)>>,
    shutting_down: std::sync::atomic::AtomicBool,
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
    /// The products and activation text of `pool_id`, cached for a few seconds.
    pub async fn pool_signing(
        &self,
        pool_id: &str,
    ) -> Result<Option<Arc<PoolSigning>>, tessera_store::StoreError> {
        if let Some((at, info)) = self.pool_cache.lock().expect("pool cache").get(pool_id)
            && at.elapsed() < POOL_CACHE_TTL
        {
            return Ok(Some(info.clone()));
        }
        let Some((products, activation)) = self.store.pool_signing(&self.realm, pool_id).await?
        else {
            return Ok(None);
        };
        let info = Arc::new(PoolSigning {
            products,
            activation,
        });
        self.pool_cache.lock().expect("pool cache").insert(
            pool_id.to_owned(),
            (std::time::Instant::now(), info.clone()),
        );
        Ok(Some(info))
    }

    /// Forgets cached pool details (after an activation changed them).
    pub fn pools_changed(&self) {
        self.pool_cache.lock().expect("pool cache").clear();
        self.seat_freed();
    }

    pub fn now(&self) -> Millis {
        tessera_core::to_millis(chrono::Utc::now())
    }

    /// Tells waiting checkouts that the server is stopping.
    pub fn begin_shutdown(&self) {
        self.shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.seats_changed.notify_waiters();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn seat_freed(&self) {
        self.seats_changed.notify_waiters();
    }
}

/// The protocol's routes and the live page.
pub fn router(state: SharedState) -> Router {
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
        .route("/admin/activations", post(api::admin_activate))
        .route("/admin/usage", get(api::admin_usage))
        .route(
            "/admin/policy",
            get(api::admin_policy).put(api::admin_put_policy),
        )
        .fallback(|| async {
            ApiError::new(ErrorCode::NotFound, "no such call in the v1 protocol")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this call does not take that method",
            )
        });
    Router::new()
        .nest("/api/v1", api)
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
        })
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            error::json_errors_for_api,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal("a handler panicked"))
        }))
        .with_state(state)
}

/// Returns lapsed leases and ended borrows to their pools, and records them, forever.
pub async fn sweep_forever(state: SharedState) {
    let every =
        (state.config.heartbeat / 2).clamp(Duration::from_millis(500), Duration::from_secs(5));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.policy.reload_if_changed();
        match state.store.sweep_expired(state.now()).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(count = n, "lapsed seats returned to their pools");
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
    let lock = backup::DataLock::acquire(&config.data_dir)?
        .ok_or_else(|| OpenError::Locked(config.data_dir.clone()))?;
    let identity = ServerIdentity::load_or_create(&config.data_dir)?;
    let policy = PolicyFile::load(&config.data_dir)?;
    let store = Store::open_sqlite(&config.database_path()).await?;
    let now = tessera_core::to_millis(chrono::Utc::now());
    activation::revalidate(&store, LAN_REALM, &identity, &vendor_key, now).await?;
    Ok(Arc::new(AppState {
        store,
        identity,
        vendor_key,
        realm: LAN_REALM.to_owned(),
        config,
        seats_changed: Notify::new(),
        policy,
        queue: WaitQueue::default(),
        pool_cache: Default::default(),
        shutting_down: Default::default(),
        _lock: Some(lock),
    }))
}

/// Serves until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    state: SharedState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep_forever(state.clone()));
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
}
