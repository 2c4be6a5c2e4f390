//! Where settings come from: flags, then their environment twins (clap reads both),
//! then `tessera.toml` in the data folder, then defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tessera_server::ServerConfig;
use tessera_token::VerifyingKey;

use crate::cli::{DataArg, RunArgs, VendorKeyArg};

/// The vendor key built into this binary, when the vendor's release build sets it.
const BUILTIN_VENDOR_KEY: Option<&str> = option_env!("TESSERA_BUILTIN_VENDOR_PUBLIC_KEY");

/// `DATA/tessera.toml`: the server's settings when no flag or variable gives them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub vendor_public_key: Option<String>,
    pub lease_ttl_s: Option<u64>,
    pub heartbeat_s: Option<u64>,
    pub max_borrow_hours: Option<u32>,
    pub usage_retention_days: Option<u32>,
    pub rate_limit: Option<u32>,
    /// The portal's URL to send usage reports to; absent: never sent.
    pub report_usage: Option<String>,
    pub report_usage_every_s: Option<u64>,
    pub trusted_proxies: Option<Vec<String>>,
    /// Lend seats only to programs with a site key.
    pub require_site_key: Option<bool>,
    /// A token for Prometheus to read /metrics with.
    pub metrics_token: Option<String>,
}

impl FileConfig {
    pub fn load(data: &Path) -> anyhow::Result<Self> {
        let path = data.join("tessera.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// `--database-url` (or `TESSERA_DATABASE_URL`), checked: a LAN server keeps SQLite in
/// its data folder unless it is given a PostgreSQL URL.
pub fn database_url(arg: &DataArg) -> anyhow::Result<Option<String>> {
    let Some(url) = arg
        .database_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        return Ok(None);
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!(
            "--database-url must be a PostgreSQL URL like postgres://user@host/tessera, not `{}` \
             (without it the server keeps SQLite in its data folder)",
            tessera_server::redact_url(url)
        );
    }
    Ok(Some(url.to_owned()))
}

/// The data folder: `--data`, `TESSERA_DATA`, or the user's data folder.
pub fn data_dir(arg: &DataArg) -> PathBuf {
    if let Some(d) = &arg.data {
        return d.clone();
    }
    user_data_home().join("tessera").join("server")
}

pub fn user_data_home() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x);
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".local").join("share");
    }
    PathBuf::from(".")
}

/// Reads a key given as text or as a path to a file that holds it.
pub fn key_text(value: &str) -> anyhow::Result<String> {
    let v = value.trim();
    if v.starts_with("k4.") {
        return Ok(v.to_owned());
    }
    std::fs::read_to_string(v)
        .map(|s| s.trim().to_owned())
        .with_context(|| format!("`{v}` is neither a k4 key nor a readable file"))
}

/// The vendor public key: the flag or variable, the data folder's config, or the built-in one.
pub fn vendor_key(arg: &VendorKeyArg, file: Option<&FileConfig>) -> anyhow::Result<VerifyingKey> {
    let given = arg
        .vendor_public_key
        .clone()
        .or_else(|| file.and_then(|f| f.vendor_public_key.clone()))
        .or_else(|| BUILTIN_VENDOR_KEY.map(str::to_owned));
    let Some(given) = given else {
        bail!(
            "no vendor public key: pass --vendor-public-key KEY|FILE, set TESSERA_VENDOR_PUBLIC_KEY, \
             or put vendor_public_key in tessera.toml in the data folder"
        );
    };
    let text = key_text(&given)?;
    VerifyingKey::from_paserk(&text).context("the vendor public key is not a k4.public key")
}

/// The server's settings from flags, environment, file and defaults.
pub fn server_config(run: &RunArgs) -> anyhow::Result<(ServerConfig, VerifyingKey)> {
    let data = data_dir(&run.data);
    let file = FileConfig::load(&data)?;
    let vendor = vendor_key(&run.vendor, Some(&file))?;
    let mut config = ServerConfig::new(data);
    if let Some(listen) = run.listen.clone().or(file.listen.clone()) {
        config.listen = listen
            .parse()
            .with_context(|| format!("`{listen}` is not an address like 0.0.0.0:27080"))?;
    }
    if let Some(s) = run.lease_ttl.or(file.lease_ttl_s) {
        config.lease_ttl = Duration::from_secs(s);
    }
    if let Some(s) = run.heartbeat.or(file.heartbeat_s) {
        config.heartbeat = Duration::from_secs(s);
    }
    if let Some(h) = run.max_borrow_hours.or(file.max_borrow_hours) {
        config.max_borrow_hours = h;
    }
    if let Some(r) = run.rate_limit.or(file.rate_limit) {
        config.rate_limit = r;
    }
    if let Some(url) = run.report_usage.clone().or(file.report_usage.clone()) {
        let url = url.trim().trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!(
                "the portal's URL for usage reports must start with http:// or https://, not `{url}`"
            );
        }
        config.report_usage = Some(url);
    }
    if let Some(s) = run.report_usage_every.or(file.report_usage_every_s) {
        if s == 0 {
            bail!("--report-usage-every must be at least 1 second");
        }
        config.report_every = Duration::from_secs(s);
    }
    let proxies = if run.trusted_proxies.is_empty() {
        file.trusted_proxies.clone().unwrap_or_default()
    } else {
        run.trusted_proxies.clone()
    };
    config.trusted_proxies = parse_proxies(&proxies)?;
    if let Some(d) = file.usage_retention_days {
        config.usage_retention_days = d;
    }
    config.require_site_key = run.require_site_key || file.require_site_key.unwrap_or(false);
    config.metrics_token = run
        .metrics_token
        .clone()
        .or(file.metrics_token.clone())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    config.database_url = database_url(&run.data)?;
    config.node_name = run
        .node_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if config.heartbeat.is_zero() || config.heartbeat >= config.lease_ttl {
        bail!(
            "the heartbeat ({} s) must be at least 1 s and shorter than the lease TTL ({} s)",
            config.heartbeat.as_secs(),
            config.lease_ttl.as_secs()
        );
    }
    Ok((config, vendor))
}

/// The trusted proxies' addresses, each an IP address.
pub fn parse_proxies(list: &[String]) -> anyhow::Result<Vec<std::net::IpAddr>> {
    list.iter()
        .map(|p| {
            p.trim()
                .parse()
                .with_context(|| format!("trusted proxy `{p}` is not an IP address like 10.0.0.2"))
        })
        .collect()
}
