//! What every request shares: the store, the mailer, the settings, the vendor's signing
//! key, and the web license server mounted beside the pages.

use std::sync::Arc;

use chrono::NaiveDate;
use tessera_core::Millis;
use tessera_store::Store;
use tessera_store::portal::{CatalogProduct, LicenseOptionRecord, ProductRecord, Role};
use tessera_token::SigningKey;
use thiserror::Error;

use crate::config::PortalConfig;
use crate::mail::{MailConfig, MailError, Mailer};

pub struct PortalState {
    pub store: Store,
    pub mailer: Mailer,
    pub config: PortalConfig,
    /// Signs activation keys (and the web license server's tokens).
    pub vendor: SigningKey,
    /// The web license server at `/w/{org}/api/v1`.
    pub web: tessera_server::SharedState,
    /// Rate limits of sign-ins through the browser.
    pub browser_throttle: crate::browser_sign_in::Throttle,
    /// The daily jobs' turns by `job` and `outcome` (`done`, `failed`, or `skipped`
    /// when another node or an earlier turn had it), for `/metrics`.
    pub jobs: tessera_server::metrics::LabeledCounter,
}

pub type Portal = Arc<PortalState>;

#[derive(Debug, Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("the vendor key {path}: {message}")]
    VendorKey { path: String, message: String },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl PortalState {
    pub fn now(&self) -> Millis {
        tessera_core::to_millis(chrono::Utc::now())
    }

    /// Today (UTC): the calendar the portal's dates are in.
    pub fn today(&self) -> NaiveDate {
        chrono::Utc::now().date_naive()
    }

    /// An absolute URL of the portal, for e-mails.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url())
    }

    /// Whether an e-mail belongs to the vendor's staff by the settings.
    pub fn is_staff_email(&self, email: &str) -> bool {
        self.config
            .staff_accounts
            .iter()
            .any(|s| s.trim().eq_ignore_ascii_case(email.trim()))
    }

    /// Whether an account is a reseller's (by the settings' `reseller_accounts`).
    pub fn is_reseller_email(&self, email: &str) -> bool {
        self.config
            .reseller_accounts
            .iter()
            .any(|s| s.trim().eq_ignore_ascii_case(email.trim()))
    }
}

/// Reads the vendor's signing key; a key that is not there is an error (the portal never
/// signs activation keys with a key that LAN license servers do not trust).
pub fn load_vendor_key(path: &std::path::Path) -> Result<SigningKey, OpenError> {
    read_vendor_key(path, false)
}

/// Reads the vendor's signing key, making one (and its public half beside it) when the
/// file does not exist yet: a first run's explicit choice, or the demo's.
pub fn load_or_create_vendor_key(path: &std::path::Path) -> Result<SigningKey, OpenError> {
    read_vendor_key(path, true)
}

fn read_vendor_key(path: &std::path::Path, create: bool) -> Result<SigningKey, OpenError> {
    let fail = |message: String| OpenError::VendorKey {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => SigningKey::from_paserk(&text).map_err(|e| fail(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => Err(fail(
            "no such file; name the key `tessera vendor keygen` made with --vendor-secret-key \
             (a path relative to the current folder), or make a new one there with \
             --new-vendor-key (LAN license servers must then trust its public key)"
                .into(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
            }
            write_private(path, &format!("{}\n", key.to_paserk()))
                .map_err(|e| fail(e.to_string()))?;
            let public = path.with_extension("public");
            std::fs::write(&public, format!("{}\n", key.verifying_key().to_paserk()))
                .map_err(|e| fail(e.to_string()))?;
            tracing::warn!(
                secret = %path.display(),
                public = %public.display(),
                "made a new vendor key; LAN license servers must trust its public key"
            );
            Ok(key)
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// The catalog as the settings describe it.
pub fn catalog_from(config: &PortalConfig) -> Vec<CatalogProduct> {
    config
        .products
        .iter()
        .map(|p| CatalogProduct {
            product: ProductRecord {
                id: p.id.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                licensed: p.licensed.clone(),
            },
            options: p
                .options
                .iter()
                .map(|o| LicenseOptionRecord {
                    id: o.id.clone(),
                    product_id: p.id.clone(),
                    name: o.name.clone(),
                    months: o.months,
                    price_minor: o.price,
                    currency: config.currency.clone(),
                    borrow_max_hours: o.borrow_max_hours,
                })
                .collect(),
        })
        .collect()
}

/// Opens the portal: database (migrated), catalog from the settings, staff roles, the
/// mailer (which delivers what an earlier run left pending) and the web license server.
pub async fn open(config: PortalConfig, vendor: SigningKey) -> Result<Portal, OpenError> {
    let store = if config.database_url.trim().is_empty() {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| OpenError::VendorKey {
            path: config.data_dir.display().to_string(),
            message: e.to_string(),
        })?;
        Store::open_sqlite(&config.database_path()).await?
    } else {
        Store::open_url(config.database_url.trim()).await?
    };
    config.prepare_downloads()?;
    store.sync_catalog(&catalog_from(&config)).await?;
    for email in &config.staff_accounts {
        if let Some(user) = store.user_by_email(email).await?
            && user.role != Role::Staff
        {
            store.set_role(&user.id, Role::Staff).await?;
        }
    }
    let mailer = Mailer::start(
        store.clone(),
        MailConfig {
            smtp_url: Some(config.smtp.trim().to_owned()).filter(|s| !s.is_empty()),
            outbox_dir: config.outbox_dir(),
            from: config.mail_from.clone(),
        },
    )
    .await?;
    let mut web_config = tessera_server::ServerConfig::new(config.data_dir.clone());
    web_config.rate_limit = config.web_rate_limits.per_client;
    web_config.org_rate_limit = config.web_rate_limits.per_organization;
    web_config.credential_rate_limit = config.web_rate_limits.per_credential;
    if let Some((ttl, heartbeat)) = config.web_lease_timing {
        web_config.lease_ttl = std::time::Duration::from_secs(ttl);
        web_config.heartbeat = std::time::Duration::from_secs(heartbeat);
    }
    web_config.metrics_token =
        Some(config.metrics_token.trim().to_owned()).filter(|t| !t.is_empty());
    // Unreadable entries were refused when the settings were read (`tessera portal`).
    web_config.trusted_proxies = config
        .trusted_proxies
        .iter()
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    let web = tessera_server::web_state(
        store.clone(),
        vendor.clone(),
        web_config,
        Arc::new(crate::web::PortalGate {
            store: store.clone(),
            vendor: vendor.verifying_key().clone(),
            offline_days: config.named.offline_days,
        }),
    );
    let jobs = tessera_server::metrics::LabeledCounter::default();
    web.metrics.register_counter(
        "mail_messages",
        "E-mails by outcome: queued (stored in the outbox), sent, failed (an attempt that failed; it is tried again)",
        mailer.counts(),
    );
    web.metrics.register_counter(
        "scheduler_job_runs",
        "Turns of the daily jobs by job and outcome: done, failed, skipped (another node or an earlier turn had it)",
        &jobs,
    );
    Ok(Arc::new(PortalState {
        store,
        mailer,
        config,
        vendor,
        web,
        browser_throttle: Default::default(),
        jobs,
    }))
}
