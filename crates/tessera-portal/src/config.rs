//! The portal's settings: `portal.toml` in the data folder, written with sample values
//! on first start (the vendor edits it: details, bank account, prices, catalog), then
//! overridden by the command line's flags.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::documents::VendorDetails;

pub const CONFIG_FILE: &str = "portal.toml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// One volume license option: a validity period and its price per user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OptionConfig {
    pub id: String,
    /// As shown: "1 year".
    pub name: String,
    pub months: u32,
    /// Net price of one user for the whole period, in minor units of `currency`.
    pub price: i64,
    /// Longest borrow for offline work, in hours (0: no borrowing).
    #[serde(default)]
    pub borrow_max_hours: u32,
}

/// Tokens in one pack of a token product: its "number of users" is a number of packs.
pub const TOKEN_PACK: i64 = 100;

/// A product on sale.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProductConfig {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The product ids its license pools cover, as licensed programs ask for them.
    pub licensed: Vec<String>,
    /// `floating` (seats on a license server, the default), `named` (seats assigned
    /// to people in a team, who sign in) or `tokens` (packs of prepaid tokens).
    #[serde(default, skip_serializing_if = "is_floating")]
    pub model: tessera_core::LicenseModel,
    pub options: Vec<OptionConfig>,
}

fn is_empty_path(path: &Path) -> bool {
    path.as_os_str().is_empty()
}

fn is_floating(model: &tessera_core::LicenseModel) -> bool {
    *model == tessera_core::LicenseModel::Floating
}

/// Named-user sign-ins: how long a token lives, how often a running program refreshes
/// it, and how long it keeps working with no connection to the portal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct NamedSettings {
    /// A token's life (at most 24 hours: a program re-checks at least daily).
    pub token_minutes: u32,
    /// How often a running program asks for a new token.
    pub refresh_seconds: u32,
    /// How long a program keeps working offline after the portal last vouched for it.
    pub offline_days: u32,
    /// How long the code of a sign-in through the browser lasts.
    pub browser_code_seconds: u32,
    /// How often a program may ask whether its browser sign-in was approved.
    pub browser_poll_seconds: u32,
}

impl Default for NamedSettings {
    fn default() -> Self {
        NamedSettings {
            token_minutes: 24 * 60,
            refresh_seconds: 3600,
            offline_days: 30,
            browser_code_seconds: 600,
            browser_poll_seconds: 5,
        }
    }
}

/// Token (consumption) licensing: each product's daily rate, in tokens, by the product
/// id programs ask for; the balance below which the organization's contract managers are
/// e-mailed (once, until a new pack arrives); and how short a use is free.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSettings {
    pub low_balance: i64,
    pub free_minutes: u32,
    /// Product id → tokens per person and 24 hours. A product not here cannot be used
    /// with tokens.
    pub rates: std::collections::BTreeMap<String, i64>,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            low_balance: 100,
            free_minutes: 5,
            rates: [("autocad", 10), ("revit", 10), ("share", 5)]
                .into_iter()
                .map(|(p, r)| (p.to_owned(), r))
                .collect(),
        }
    }
}

/// Limits on failed sign-ins (shared by every node through the database).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SignInLimits {
    /// Failures for one account within the window before further attempts are refused.
    pub per_account: u64,
    /// Failures from one address within the window before further attempts are refused.
    pub per_address: u64,
    pub window_minutes: i64,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            per_account: 5,
            per_address: 20,
            window_minutes: 15,
        }
    }
}

/// Rate limits of the web license server, in requests per second (0: no limit); twice
/// that in a burst. Beyond them a client gets 429 `rate_limited` with `Retry-After`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WebRateLimits {
    /// From one client address.
    pub per_client: u32,
    /// To one organization, from all its clients together: one organization cannot
    /// starve the others.
    pub per_organization: u32,
    /// With one credential (a site key, a person's sign-in) from all its addresses
    /// together: a leaked key used from many machines is slowed as one client.
    pub per_credential: u32,
}

impl Default for WebRateLimits {
    fn default() -> Self {
        WebRateLimits {
            per_client: tessera_server::limits::DEFAULT_RATE_LIMIT,
            per_organization: tessera_server::limits::DEFAULT_ORG_RATE_LIMIT,
            per_credential: tessera_server::limits::DEFAULT_CREDENTIAL_RATE_LIMIT,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// The data folder (not in the file: it is where the file is).
    #[serde(skip)]
    pub data_dir: PathBuf,
    /// The web license server's lease TTL and heartbeat interval in seconds, when not the
    /// protocol's defaults: set only by `tessera portal`'s hidden `--web-lease-ttl` and
    /// `--web-heartbeat` for the benchmark (`tessera-bench --target web`), never from
    /// the file.
    #[serde(skip)]
    pub web_lease_timing: Option<(u64, u64)>,
    /// Address to listen on.
    pub listen: String,
    /// The address customers reach the portal at (links in e-mails; `https://…` makes
    /// the session cookie `Secure`); empty: `http://` and the address it listens on.
    #[serde(default)]
    pub public_url: String,
    /// `sqlite://…` or `postgres://…`; empty: `portal.db` in the data folder.
    #[serde(default)]
    pub database_url: String,
    /// `smtp://host:port`; empty: messages are written to the outbox folder.
    #[serde(default)]
    pub smtp: String,
    /// The vendor's signing key (k4.secret) for activation keys; relative to the data
    /// folder. The portal does not start without it (`tessera portal --new-vendor-key`
    /// makes one on a first start).
    pub vendor_secret_key_file: PathBuf,
    /// The folder of the packages on the Download page (the LAN License Server's `.deb`,
    /// `.tar.gz`, … each with its `.sig` from `tessera vendor sign`); relative to the data
    /// folder. Empty: `downloads` in the data folder, made on first start. A folder named
    /// here must exist.
    #[serde(default, skip_serializing_if = "is_empty_path")]
    pub downloads_dir: PathBuf,
    /// The sender of the portal's e-mail.
    pub mail_from: String,
    /// Where new orders are announced to the vendor's staff.
    pub staff_notification_email: String,
    /// Accounts with these e-mails are the vendor's staff (back office).
    #[serde(default)]
    pub staff_accounts: Vec<String>,
    /// Accounts with these e-mails are resellers: they order named-user seats for a
    /// customer's team, given by its name and its owner's e-mail.
    #[serde(default)]
    pub reseller_accounts: Vec<String>,
    pub currency: String,
    /// Tax rate in basis points (2300 = 23 %).
    pub tax_rate_bp: i64,
    /// Days between the invoice and its due date.
    pub payment_days: i64,
    #[serde(default)]
    pub sign_in: SignInLimits,
    #[serde(default)]
    pub named: NamedSettings,
    #[serde(default)]
    pub web_rate_limits: WebRateLimits,
    /// Reverse proxies or load balancers whose `X-Forwarded-For` names the client (IP
    /// addresses); none by default, and the header is then ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
    /// The token Prometheus reads `/metrics` with; empty: `/metrics` answers 401.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metrics_token: String,
    #[serde(default)]
    pub tokens: TokenSettings,
    pub vendor: VendorDetails,
    pub products: Vec<ProductConfig>,
}

impl PortalConfig {
    /// Sample settings for a data folder: the sample catalog (AutoCAD plugins, Revit
    /// plugins, and all at once) and a fictitious vendor.
    pub fn sample(data_dir: &Path) -> Self {
        let options = |id: &str, prices: [i64; 3], borrow: u32| {
            vec![
                OptionConfig {
                    id: format!("{id}-3m"),
                    name: "3 months".into(),
                    months: 3,
                    price: prices[0],
                    borrow_max_hours: borrow,
                },
                OptionConfig {
                    id: format!("{id}-1y"),
                    name: "1 year".into(),
                    months: 12,
                    price: prices[1],
                    borrow_max_hours: borrow,
                },
                OptionConfig {
                    id: format!("{id}-3y"),
                    name: "3 years".into(),
                    months: 36,
                    price: prices[2],
                    borrow_max_hours: borrow,
                },
            ]
        };
        PortalConfig {
            data_dir: data_dir.to_owned(),
            web_lease_timing: None,
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            database_url: String::new(),
            smtp: String::new(),
            vendor_secret_key_file: PathBuf::from("vendor.secret"),
            downloads_dir: PathBuf::new(),
            mail_from: "Tessera Shop <shop@tessera.example>".into(),
            staff_notification_email: "sales@tessera.example".into(),
            staff_accounts: vec!["staff@tessera.example".into()],
            reseller_accounts: vec!["reseller@partner.example".into()],
            currency: "EUR".into(),
            tax_rate_bp: 2300,
            payment_days: 14,
            sign_in: SignInLimits::default(),
            named: NamedSettings::default(),
            web_rate_limits: WebRateLimits::default(),
            trusted_proxies: Vec::new(),
            metrics_token: String::new(),
            tokens: TokenSettings::default(),
            vendor: VendorDetails {
                name: "Tessera Software Ltd.".into(),
                address: vec!["12 Example Street".into(), "00-001 Warsaw, Poland".into()],
                tax_id: "PL0000000000".into(),
                email: "billing@tessera.example".into(),
                bank_name: "Example Bank S.A.".into(),
                iban: "PL00 0000 0000 0000 0000 0000 0000".into(),
                swift: "EXAMPLPW".into(),
            },
            products: vec![
                ProductConfig {
                    id: "autocad".into(),
                    name: "AutoCAD plugins".into(),
                    description: "Every plugin for AutoCAD.".into(),
                    licensed: vec!["autocad".into()],
                    model: Default::default(),
                    options: options("autocad", [9_000, 30_000, 80_000], 72),
                },
                ProductConfig {
                    id: "revit".into(),
                    name: "Revit plugins".into(),
                    description: "Every plugin for Revit.".into(),
                    licensed: vec!["revit".into()],
                    model: Default::default(),
                    options: options("revit", [9_000, 30_000, 80_000], 72),
                },
                ProductConfig {
                    id: "all".into(),
                    name: "AutoCAD and Revit plugins (all at once)".into(),
                    description: "Every plugin for AutoCAD and for Revit, one seat for both."
                        .into(),
                    licensed: vec!["autocad".into(), "revit".into()],
                    model: Default::default(),
                    options: options("all", [15_000, 50_000, 130_000], 72),
                },
                ProductConfig {
                    id: "share".into(),
                    name: "Share (named user)".into(),
                    description: "Share licenses for named people in your team: assign them to anyone in the office at any time; each person signs in on the computer they work at.".into(),
                    licensed: vec!["share".into()],
                    model: tessera_core::LicenseModel::Named,
                    options: options("share", [6_000, 20_000, 54_000], 0),
                },
                ProductConfig {
                    id: "tokens".into(),
                    name: "Flex tokens".into(),
                    description: format!("Prepaid tokens for occasional use: each product a person uses in a day costs its daily rate once. Sold in packs of {TOKEN_PACK} tokens, used until the end of the period."),
                    licensed: vec!["autocad".into(), "revit".into(), "share".into()],
                    model: tessera_core::LicenseModel::Tokens,
                    options: options("tokens", [4_000, 3_500, 3_000], 0),
                },
            ],
        }
    }

    /// Reads `portal.toml` from the data folder, writing the sample there first when
    /// there is none.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, ConfigError> {
        let path = data_dir.join(CONFIG_FILE);
        let io = |source| ConfigError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let mut config: PortalConfig =
                    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                config.data_dir = data_dir.to_owned();
                config.check().map_err(|message| ConfigError::Invalid {
                    path: path.clone(),
                    message,
                })?;
                Ok(config)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(io)?;
                let config = PortalConfig::sample(data_dir);
                let text = toml::to_string_pretty(&config).map_err(|e| ConfigError::Invalid {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                let header = "# Tessera portal settings. Prices are net, per user, in minor units \
                              (cents) of `currency`;\n# the tax rate is in basis points \
                              (2300 = 23 %). Flags on the command line win over this file.\n# The Download page \
                              offers the packages in `downloads_dir` (default: the `downloads` \
                              folder here).\n\n";
                std::fs::write(&path, format!("{header}{text}")).map_err(io)?;
                Ok(config)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// What makes no sense in a configuration, said plainly.
    pub fn check(&self) -> Result<(), String> {
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "currency `{}` is not an ISO 4217 code like EUR",
                self.currency
            ));
        }
        if !(0..=10_000).contains(&self.tax_rate_bp) {
            return Err("tax_rate_bp must be between 0 and 10000".into());
        }
        if let Some((p, r)) = self.tokens.rates.iter().find(|(_, r)| **r <= 0) {
            return Err(format!(
                "the token rate of `{p}` is {r}; it must be above 0"
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for p in &self.products {
            if p.licensed.is_empty() {
                return Err(format!("product `{}` licenses no product id", p.id));
            }
            if !ids.insert(format!("p:{}", p.id)) {
                return Err(format!("product id `{}` appears twice", p.id));
            }
            for o in &p.options {
                if o.months == 0 || o.price < 0 {
                    return Err(format!(
                        "option `{}` needs months > 0 and a price ≥ 0",
                        o.id
                    ));
                }
                if !ids.insert(format!("o:{}", o.id)) {
                    return Err(format!("option id `{}` appears twice", o.id));
                }
            }
        }
        Ok(())
    }

    /// The database URL: the setting, or `portal.db` in the data folder.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("portal.db")
    }

    /// Where `.eml` files go without SMTP.
    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    pub fn vendor_secret_key_path(&self) -> PathBuf {
        if self.vendor_secret_key_file.is_absolute() {
            self.vendor_secret_key_file.clone()
        } else {
            self.data_dir.join(&self.vendor_secret_key_file)
        }
    }

    /// The folder of the Download page's packages.
    pub fn downloads_path(&self) -> PathBuf {
        if is_empty_path(&self.downloads_dir) {
            self.data_dir.join("downloads")
        } else if self.downloads_dir.is_absolute() {
            self.downloads_dir.clone()
        } else {
            self.data_dir.join(&self.downloads_dir)
        }
    }

    /// Makes the default downloads folder; a folder the settings name must exist.
    pub fn prepare_downloads(&self) -> Result<PathBuf, ConfigError> {
        let path = self.downloads_path();
        if is_empty_path(&self.downloads_dir) {
            std::fs::create_dir_all(&path).map_err(|source| ConfigError::Io {
                path: path.clone(),
                source,
            })?;
        } else if !path.is_dir() {
            return Err(ConfigError::Invalid {
                path: path.clone(),
                message: "the downloads folder (downloads_dir, --downloads) does not exist or \
                          is not a folder"
                    .into(),
            });
        }
        Ok(path)
    }

    /// Whether cookies must be `Secure` (the portal is reached over https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Fills in an empty public URL from the address the portal listens on.
    pub fn listening_on(&mut self, addr: std::net::SocketAddr) {
        if self.public_url.trim().is_empty() {
            self.public_url = format!("http://{addr}");
        }
    }

    /// The public URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}
