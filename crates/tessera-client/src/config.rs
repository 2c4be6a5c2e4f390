//! `ClientConfig`: which license server to ask, which vendor key to trust, and who is
//! asking (user, host, client id). Owns the resolution order: explicit arguments, then
//! the environment (`TESSERA_SERVER`, `TESSERA_VENDOR_PUBLIC_KEY`), then the config file
//! `$XDG_CONFIG_HOME/tessera/client.toml` (or `~/.config/tessera/client.toml`). Also
//! where borrowed licenses are kept: `TESSERA_CACHE_DIR`, else `$XDG_CACHE_HOME/tessera`
//! (or `~/.cache/tessera`). The credential a checkout carries: a site key
//! (`TESSERA_SITE_KEY`, or `site_key` in the config file), else the person signed in on
//! this computer with `tessera login` when the server is that portal's web license server.
//! A server setting may list several nodes of one license server, separated by commas
//! (`http://a:27080,http://b:27080`): the client asks them in turn (see `Client`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tessera_core::protocol::DEFAULT_PORT;
use tessera_core::validate::MAX_NAME_LEN;
use tessera_token::VerifyingKey;

use crate::ClientError;

/// The environment variable naming the license server's base URL.
pub const ENV_SERVER: &str = "TESSERA_SERVER";
/// The environment variable holding the vendor's `k4.public…` key or a path to it.
pub const ENV_VENDOR_PUBLIC_KEY: &str = "TESSERA_VENDOR_PUBLIC_KEY";
/// The environment variable naming the folder that keeps borrowed licenses.
pub const ENV_CACHE_DIR: &str = "TESSERA_CACHE_DIR";
/// The environment variable holding the person's e-mail address, sent with checkouts
/// (a LAN server's live page shows it; the web license server trusts only sign-ins).
pub const ENV_EMAIL: &str = "TESSERA_EMAIL";
/// The environment variable holding a site key (`tsk_…`), the credential that lets a
/// program take seats without a person signing in.
pub const ENV_SITE_KEY: &str = "TESSERA_SITE_KEY";
/// How long one call may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A resolved client configuration; build it with [`ClientConfig::builder`] or
/// [`ClientConfig::from_env`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Every node of the license server, in the order given; never empty.
    servers: Vec<String>,
    /// Absent is fine for calls that verify nothing (status, admin); a checkout needs it.
    vendor_key: Option<VerifyingKey>,
    user: String,
    host: String,
    client_id: Option<String>,
    version: Option<String>,
    email: Option<String>,
    /// A site key sent with checkouts, borrows and looks at the pools.
    site_key: Option<String>,
    timeout: Duration,
    /// Absent only when no home folder is known; borrowing then needs one set explicitly.
    cache_dir: Option<PathBuf>,
}

impl ClientConfig {
    pub fn builder() -> ClientConfigBuilder {
        ClientConfigBuilder::default()
    }

    /// Server and vendor key from the environment, then the config file; user and host
    /// from the operating system.
    pub fn from_env() -> Result<Self, ClientError> {
        Self::builder().resolve()
    }

    /// The config file read when the environment does not say, if a home is known.
    pub fn default_config_file() -> Option<PathBuf> {
        default_config_file_with(&process_env)
    }

    /// The server's base URL without a trailing slash, e.g. `http://licsrv:27080` or
    /// `https://portal.example/w/acme`; the first one when several nodes are listed.
    pub fn server(&self) -> &str {
        &self.servers[0]
    }

    /// Every node listed (`TESSERA_SERVER=http://a:27080,http://b:27080`), in order; one
    /// address when a single server is configured.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    /// The vendor key, or the error that says how to configure one.
    pub fn vendor_key(&self) -> Result<&VerifyingKey, ClientError> {
        self.vendor_key.as_ref().ok_or_else(|| {
            ClientError::Config(format!(
                "no vendor public key is configured: pass it, set {ENV_VENDOR_PUBLIC_KEY} \
                 (a `k4.public.…` key or a file holding one), or set `vendor_public_key` \
                 in the config file"
            ))
        })
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The fixed client id, if one was set; otherwise every checkout makes its own.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The program version sent with checkouts.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The person's e-mail address sent with checkouts and borrows, if known.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }

    /// The site key sent as the credential, if one is configured.
    pub fn site_key(&self) -> Option<&str> {
        self.site_key.as_deref()
    }

    /// The longest one call may take (a checkout that waits for a seat adds its wait).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The folder that keeps borrowed licenses and the latest time this client has seen.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    /// The cache folder, or the error that says how to configure one.
    pub(crate) fn require_cache_dir(&self) -> Result<&Path, ClientError> {
        self.cache_dir().ok_or_else(|| {
            ClientError::Config(format!(
                "no folder for borrowed licenses is known: set {ENV_CACHE_DIR}, \
                 XDG_CACHE_HOME or HOME"
            ))
        })
    }
}

/// Collects explicit settings; [`build`](Self::build) uses only those, and
/// [`resolve`](Self::resolve) fills what is missing from the environment and config file.
#[derive(Debug, Clone, Default)]
pub struct ClientConfigBuilder {
    server: Option<String>,
    vendor_key: Option<KeySource>,
    user: Option<String>,
    host: Option<String>,
    client_id: Option<String>,
    version: Option<String>,
    email: Option<String>,
    site_key: Option<String>,
    timeout: Option<Duration>,
    config_file: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
}

/// Where an explicitly given server address came from, for error messages.
const ARGUMENT: &str = "the given server address";
/// Where an explicitly given site key came from, for error messages.
const ARGUMENT_KEY: &str = "the given site key";

#[derive(Debug, Clone)]
enum KeySource {
    Key(VerifyingKey),
    Text(String),
}

impl ClientConfigBuilder {
    /// The server's base URL. `HOST` or `HOST:PORT` without a scheme means
    /// `http://HOST:27080` or `http://HOST:PORT`. Several nodes of one license server
    /// are given separated by commas: `http://a:27080,http://b:27080`.
    pub fn server(mut self, url: impl Into<String>) -> Self {
        self.server = Some(url.into());
        self
    }

    pub fn vendor_key(mut self, key: VerifyingKey) -> Self {
        self.vendor_key = Some(KeySource::Key(key));
        self
    }

    /// The vendor key as a `k4.public…` string or a path to a file holding one.
    pub fn vendor_public_key(mut self, key_or_path: impl Into<String>) -> Self {
        self.vendor_key = Some(KeySource::Text(key_or_path.into()));
        self
    }

    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Uses one client id for every checkout instead of a fresh one per license. A
    /// program that restarts with the same id gets its previous lease back; two licenses
    /// of one product with the same id share one lease, so checking in one returns both.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The person's e-mail address (else `TESSERA_EMAIL`, else none).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// The site key to take seats with (else `TESSERA_SITE_KEY`, else `site_key` in the
    /// config file, else none).
    pub fn site_key(mut self, key: impl Into<String>) -> Self {
        self.site_key = Some(key.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Keeps borrowed licenses in this folder instead of the default one (see
    /// [`ClientConfig::cache_dir`]).
    pub fn cache_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(path.into());
        self
    }

    /// Reads this file instead of the default config file in [`resolve`](Self::resolve).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// Builds from explicit settings alone (user, host and cache folder default to the
    /// OS user's).
    pub fn build(self) -> Result<ClientConfig, ClientError> {
        let server = self.server.clone().map(|s| (s, ARGUMENT.to_owned()));
        let key = self.vendor_key.clone().map(|k| (k, None));
        let site_key = self.site_key.clone().map(|k| (k, ARGUMENT_KEY.to_owned()));
        self.finish(server, key, site_key, &process_env)
    }

    /// Fills a missing server and vendor key from the environment, then the config file.
    pub fn resolve(self) -> Result<ClientConfig, ClientError> {
        self.resolve_with(&process_env)
    }

    /// [`resolve`](Self::resolve) with the environment given as a lookup, so resolution
    /// is testable without touching the process environment.
    pub(crate) fn resolve_with(
        self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClientConfig, ClientError> {
        let mut server = self.server.clone().map(|s| (s, ARGUMENT.to_owned()));
        let mut key = self.vendor_key.clone().map(|k| (k, None));
        let mut site_key = self.site_key.clone().map(|k| (k, ARGUMENT_KEY.to_owned()));
        if server.is_none() {
            server = env(ENV_SERVER).map(|s| (s, ENV_SERVER.to_owned()));
        }
        if key.is_none() {
            key = env(ENV_VENDOR_PUBLIC_KEY).map(|v| (KeySource::Text(v), None));
        }
        if site_key.is_none() {
            site_key = env(ENV_SITE_KEY).map(|k| (k, ENV_SITE_KEY.to_owned()));
        }
        let file = self
            .config_file
            .clone()
            .or_else(|| default_config_file_with(env));
        // The file is read only when needed, so a broken one cannot stop a program whose
        // environment already says everything.
        let from_file = match file.as_deref() {
            Some(path) if server.is_none() || key.is_none() => {
                read_config_file(path)?.map(|values| (path, values))
            }
            // Only a site key is sought: a file that cannot be read just has none.
            Some(path) if site_key.is_none() => read_config_file(path)
                .ok()
                .flatten()
                .map(|values| (path, values)),
            _ => None,
        };
        if let Some((path, values)) = from_file {
            if server.is_none() {
                server = values.server.map(|s| (s, path.display().to_string()));
            }
            if key.is_none() {
                let dir = path.parent().map(Path::to_path_buf);
                key = values.vendor_public_key.map(|v| (KeySource::Text(v), dir));
            }
            if site_key.is_none() {
                site_key = values.site_key.map(|k| (k, path.display().to_string()));
            }
        }
        let file_hint = file
            .map(|p| format!("`{}`", p.display()))
            .unwrap_or_else(|| "the config file".to_owned());
        let server = server.ok_or_else(|| {
            ClientError::Config(format!(
                "no license server is configured: pass its address, set {ENV_SERVER} \
                 (e.g. http://licsrv:{DEFAULT_PORT}), or set `server` in {file_hint}"
            ))
        })?;
        self.finish(Some(server), key, site_key, env)
    }

    fn finish(
        self,
        server: Option<(String, String)>,
        key: Option<(KeySource, Option<PathBuf>)>,
        site_key: Option<(String, String)>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClientConfig, ClientError> {
        let site_key = match site_key {
            None => None,
            Some((k, _)) if tessera_token::is_site_key(&k) => Some(k.trim().to_owned()),
            Some((_, origin)) => {
                return Err(ClientError::Config(format!(
                    "{origin}: the site key is not one (a site key starts with `tsk_`; ask your \
                     admin for the one made in the web license server's panel or with \
                     `tessera server site-key add`)"
                )));
            }
        };
        let (server, server_origin) = server
            .ok_or_else(|| ClientError::Config("no license server address was given".into()))?;
        let servers = normalize_servers(&server)
            .map_err(|why| ClientError::Config(format!("{server_origin}: {why}")))?;
        let vendor_key = match key {
            None => None,
            Some((KeySource::Key(k), _)) => Some(k),
            Some((KeySource::Text(text), base)) => Some(load_vendor_key(&text, base.as_deref())?),
        };
        Ok(ClientConfig {
            servers,
            vendor_key,
            user: self.user.unwrap_or_else(|| default_user(env)),
            host: self.host.unwrap_or_else(|| default_host(env)),
            client_id: self.client_id,
            version: self.version,
            email: self.email.or_else(|| env(ENV_EMAIL)),
            site_key,
            timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
            cache_dir: self.cache_dir.or_else(|| default_cache_dir(env)),
        })
    }
}

/// The process environment; empty values count as unset so `VAR=` clears a setting.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn default_config_file_with(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config")))
        .or_else(|| env("APPDATA").map(PathBuf::from))?;
    Some(base.join("tessera").join("client.toml"))
}

/// `TESSERA_CACHE_DIR`, else `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera` (on
/// Windows `%LOCALAPPDATA%\tessera`).
/// The cache folder by the environment: `TESSERA_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`.
pub fn default_cache_dir_from_env() -> Option<PathBuf> {
    default_cache_dir(&process_env)
}

fn default_cache_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = env(ENV_CACHE_DIR) {
        return Some(PathBuf::from(dir));
    }
    let base = env("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .or_else(|| env("LOCALAPPDATA").map(PathBuf::from))?;
    Some(base.join("tessera"))
}

#[derive(Debug, Default)]
struct FileValues {
    server: Option<String>,
    vendor_public_key: Option<String>,
    site_key: Option<String>,
}

/// Reads the config file; a missing file is no error, a broken one is.
fn read_config_file(path: &Path) -> Result<Option<FileValues>, ClientError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ClientError::Config(format!(
                "cannot read the config file `{}`: {e}",
                path.display()
            )));
        }
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ClientError::Config(format!(
            "the config file `{}` is not valid TOML: {}",
            path.display(),
            e.message()
        ))
    })?;
    let mut values = FileValues::default();
    for (key, value) in table {
        let slot = match key.as_str() {
            "server" => &mut values.server,
            "vendor_public_key" => &mut values.vendor_public_key,
            "site_key" => &mut values.site_key,
            // Ignored rather than refused so that a file written for a newer client still
            // works here.
            other => {
                tracing::warn!(file = %path.display(), key = other, "unknown key in the client config file");
                continue;
            }
        };
        match value {
            toml::Value::String(s) if !s.trim().is_empty() => *slot = Some(s),
            toml::Value::String(_) => {}
            _ => {
                return Err(ClientError::Config(format!(
                    "`{key}` in the config file `{}` must be a string",
                    path.display()
                )));
            }
        }
    }
    Ok(Some(values))
}

/// Reads a vendor key given as `k4.public…` text or as a path to a file holding one;
/// relative paths are taken from `base` (the config file's folder) when given.
pub fn load_vendor_key(
    key_or_path: &str,
    base: Option<&Path>,
) -> Result<VerifyingKey, ClientError> {
    let value = key_or_path.trim();
    if value.starts_with("k4.") {
        return VerifyingKey::from_paserk(value)
            .map_err(|e| ClientError::Config(format!("the vendor public key is not valid: {e}")));
    }
    let mut path = PathBuf::from(value);
    if let Some(base) = base.filter(|_| path.is_relative()) {
        path = base.join(path);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ClientError::Config(format!(
            "the vendor public key `{value}` is neither a `k4.public.…` key nor a readable file: {e}"
        ))
    })?;
    VerifyingKey::from_paserk(&text).map_err(|e| {
        ClientError::Config(format!(
            "the file `{}` does not hold a vendor public key: {e}",
            path.display()
        ))
    })
}

/// Splits a comma-separated list of nodes and normalizes each (see [`normalize_server`]);
/// an empty entry or the same node twice is refused.
pub(crate) fn normalize_servers(raw: &str) -> Result<Vec<String>, String> {
    let mut servers: Vec<String> = Vec::new();
    for part in raw.split(',') {
        if part.trim().is_empty() && raw.contains(',') {
            return Err(format!(
                "`{}` has an empty entry: list the nodes as `http://a:{DEFAULT_PORT},http://b:{DEFAULT_PORT}`",
                raw.trim()
            ));
        }
        let url = normalize_server(part)?;
        if servers.contains(&url) {
            return Err(format!("`{url}` is listed twice"));
        }
        servers.push(url);
    }
    Ok(servers)
}

/// Brings a server address into the form `scheme://authority[/path]` with no trailing
/// slash, adding `http://` and the default port to a bare host name.
pub(crate) fn normalize_server(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("the license server address is empty".into());
    }
    if raw.contains(['?', '#']) || raw.chars().any(char::is_whitespace) {
        return Err(format!("`{raw}` is not a server base URL"));
    }
    let url = match raw.split_once("://") {
        Some((scheme, rest)) => {
            let scheme = scheme.to_ascii_lowercase();
            if scheme != "http" && scheme != "https" {
                return Err(format!("`{raw}` must start with http:// or https://"));
            }
            if rest.is_empty() || rest.starts_with('/') {
                return Err(format!("`{raw}` names no host"));
            }
            format!("{scheme}://{rest}")
        }
        None => {
            let authority = raw.split('/').next().unwrap_or(raw);
            let has_port = if authority.starts_with('[') {
                authority.contains("]:")
            } else {
                authority.contains(':')
            };
            if has_port {
                format!("http://{raw}")
            } else {
                let rest = &raw[authority.len()..];
                format!("http://{authority}:{DEFAULT_PORT}{rest}")
            }
        }
    };
    Ok(url.trim_end_matches('/').to_owned())
}

/// The user's name: `USER`, `USERNAME` or `LOGNAME`, else (a service, `sudo`, a
/// container, where none is set) the operating system's account of this process.
fn default_user(env: &dyn Fn(&str) -> Option<String>) -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|name| env(name).and_then(|v| clean_name(&v)))
        .or_else(os_account_name)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The name of the account this process runs as, from the system's user database.
#[cfg(unix)]
fn os_account_name() -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: getpwuid_r writes into `pwd` and `buf` (whose length it is given) and sets
    // `found` to `&pwd` or null; the name is read only when found, before `buf` goes.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            libc::geteuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        );
        if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(pwd.pw_name).to_string_lossy();
        clean_name(&name)
    }
}

/// The name of the account this process runs as: `whoami`'s answer without its domain.
#[cfg(not(unix))]
fn os_account_name() -> Option<String> {
    let out = std::process::Command::new("whoami")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    clean_name(text.trim().rsplit('\\').next().unwrap_or_default())
}

fn default_host(env: &dyn Fn(&str) -> Option<String>) -> String {
    let from_file = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| clean_name(&t))
    };
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| env("HOSTNAME").and_then(|v| clean_name(&v)))
        .or_else(|| env("COMPUTERNAME").and_then(|v| clean_name(&v)))
        .or_else(hostname_command)
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The last resort on systems without `/proc` or `/etc/hostname` (macOS): the
/// `hostname` command exists on every desktop OS.
fn hostname_command() -> Option<String> {
    let out = std::process::Command::new("hostname")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        .and_then(|s| clean_name(&s))
}

/// Makes an OS-provided name acceptable to the server (printable, trimmed, bounded).
fn clean_name(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_LEN)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tessera_token::SigningKey;

    use super::*;

    struct Fixture {
        dir: tempfile::TempDir,
        vars: HashMap<String, String>,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let mut vars = HashMap::new();
            vars.insert(
                "XDG_CONFIG_HOME".to_owned(),
                dir.path().display().to_string(),
            );
            vars.insert("USER".to_owned(), "anna".to_owned());
            vars.insert("HOSTNAME".to_owned(), "ignored-if-proc-exists".to_owned());
            Fixture { dir, vars }
        }

        fn set(&mut self, name: &str, value: &str) {
            self.vars.insert(name.to_owned(), value.to_owned());
        }

        fn write_file(&self, text: &str) -> PathBuf {
            let path = self.dir.path().join("tessera").join("client.toml");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }

        fn resolve(&self, builder: ClientConfigBuilder) -> Result<ClientConfig, ClientError> {
            let vars = self.vars.clone();
            builder.resolve_with(&move |n| vars.get(n).cloned())
        }
    }

    fn key() -> VerifyingKey {
        SigningKey::generate().verifying_key().clone()
    }

    #[test]
    fn the_config_file_is_used_when_nothing_else_says() {
        let fx = Fixture::new();
        let k = key();
        fx.write_file(&format!(
            "server = \"http://file:1\"\nvendor_public_key = \"{}\"\n",
            k.to_paserk()
        ));
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(config.server(), "http://file:1");
        assert_eq!(config.vendor_key().unwrap(), &k);
        assert_eq!(config.user(), "anna");
        assert!(!config.host().is_empty());
        assert_eq!(config.client_id(), None);
        assert_eq!(config.timeout(), DEFAULT_TIMEOUT);
    }

    #[test]
    fn a_site_key_comes_from_the_argument_the_environment_or_the_file_and_must_be_one() {
        let mut fx = Fixture::new();
        let (file_key, env_key) = (
            tessera_token::generate_site_key(),
            tessera_token::generate_site_key(),
        );
        fx.set(ENV_SERVER, "http://env:2");
        fx.set(ENV_VENDOR_PUBLIC_KEY, &key().to_paserk());
        fx.write_file(&format!("site_key = \"{file_key}\"\n"));
        // The environment says the rest: the file is read for the site key alone.
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(config.site_key(), Some(file_key.as_str()));
        fx.set(ENV_SITE_KEY, &format!(" {env_key}\n"));
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(config.site_key(), Some(env_key.as_str()));
        let config = fx
            .resolve(ClientConfig::builder().site_key(file_key.clone()))
            .unwrap();
        assert_eq!(config.site_key(), Some(file_key.as_str()));
        fx.set(ENV_SITE_KEY, "k4.public.not-a-site-key");
        let err = fx.resolve(ClientConfig::builder()).unwrap_err();
        assert_eq!(err.code(), "config");
        assert!(err.to_string().contains(ENV_SITE_KEY), "{err}");
        assert!(err.to_string().contains("tsk_"), "{err}");
        // Only a site key is sought from a broken file: it just has none.
        let mut fx = Fixture::new();
        fx.set(ENV_SERVER, "http://env:2");
        fx.set(ENV_VENDOR_PUBLIC_KEY, &key().to_paserk());
        fx.write_file("this is = = not toml");
        assert_eq!(
            fx.resolve(ClientConfig::builder()).unwrap().site_key(),
            None
        );
    }

    #[test]
    fn the_environment_overrides_the_file_and_arguments_override_both() {
        let mut fx = Fixture::new();
        let (file_key, env_key, arg_key) = (key(), key(), key());
        fx.write_file(&format!(
            "server = \"http://file:1\"\nvendor_public_key = \"{}\"\n",
            file_key.to_paserk()
        ));
        fx.set(ENV_SERVER, "http://env:2/");
        fx.set(ENV_VENDOR_PUBLIC_KEY, &env_key.to_paserk());
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(config.server(), "http://env:2");
        assert_eq!(config.vendor_key().unwrap(), &env_key);

        let config = fx
            .resolve(
                ClientConfig::builder()
                    .server("https://portal.example/w/acme/")
                    .vendor_key(arg_key.clone())
                    .user("bob")
                    .host("pc7")
                    .client_id("c-1"),
            )
            .unwrap();
        assert_eq!(config.server(), "https://portal.example/w/acme");
        assert_eq!(config.vendor_key().unwrap(), &arg_key);
        assert_eq!(config.user(), "bob");
        assert_eq!(config.host(), "pc7");
        assert_eq!(config.client_id(), Some("c-1"));
    }

    #[test]
    fn each_setting_falls_back_on_its_own() {
        let mut fx = Fixture::new();
        let file_key = key();
        fx.write_file(&format!(
            "server = \"http://file:1\"\nvendor_public_key = \"{}\"\n",
            file_key.to_paserk()
        ));
        fx.set(ENV_SERVER, "http://env:2");
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(config.server(), "http://env:2");
        assert_eq!(config.vendor_key().unwrap(), &file_key);
    }

    #[test]
    fn the_vendor_key_may_be_a_file_relative_to_the_config_file_or_given_by_path() {
        let mut fx = Fixture::new();
        let k = key();
        let path = fx.write_file("server = \"licsrv\"\nvendor_public_key = \"vendor.public\"\n");
        std::fs::write(
            path.parent().unwrap().join("vendor.public"),
            format!("{}\n", k.to_paserk()),
        )
        .unwrap();
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(config.vendor_key().unwrap(), &k);
        assert_eq!(config.server(), "http://licsrv:27080");

        let other = key();
        let key_file = fx.dir.path().join("other.public");
        std::fs::write(&key_file, other.to_paserk()).unwrap();
        fx.set(ENV_VENDOR_PUBLIC_KEY, &key_file.display().to_string());
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(config.vendor_key().unwrap(), &other);
    }

    #[test]
    fn missing_settings_say_how_to_configure_them() {
        let mut fx = Fixture::new();
        let err = fx.resolve(ClientConfig::builder()).unwrap_err();
        assert_eq!(err.code(), "config");
        let text = err.to_string();
        assert!(text.contains("no license server is configured"), "{text}");
        assert!(text.contains(ENV_SERVER), "{text}");
        assert!(text.contains("client.toml"), "{text}");

        fx.set(ENV_SERVER, "http://env:2");
        // Without a vendor key the config resolves, but asking for the key says how to set it.
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        let text = config.vendor_key().unwrap_err().to_string();
        assert!(
            text.contains("no vendor public key is configured"),
            "{text}"
        );
        assert!(text.contains(ENV_VENDOR_PUBLIC_KEY), "{text}");

        fx.set(ENV_VENDOR_PUBLIC_KEY, "/no/such/file");
        let text = fx.resolve(ClientConfig::builder()).unwrap_err().to_string();
        assert!(text.contains("/no/such/file"), "{text}");

        fx.set(ENV_VENDOR_PUBLIC_KEY, "k4.public.garbage");
        let text = fx.resolve(ClientConfig::builder()).unwrap_err().to_string();
        assert!(text.contains("not valid"), "{text}");
    }

    #[test]
    fn a_broken_config_file_is_reported_with_its_path() {
        let mut fx = Fixture::new();
        let path = fx.write_file("server = [1, 2]\n");
        fx.set(ENV_VENDOR_PUBLIC_KEY, &key().to_paserk());
        let text = fx.resolve(ClientConfig::builder()).unwrap_err().to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("must be a string"), "{text}");

        fx.write_file("server = \n");
        let text = fx.resolve(ClientConfig::builder()).unwrap_err().to_string();
        assert!(text.contains("not valid TOML"), "{text}");

        // Not read at all when the environment already says everything.
        fx.set(ENV_SERVER, "http://env:2");
        assert!(fx.resolve(ClientConfig::builder()).is_ok());
    }

    #[test]
    fn an_explicit_config_file_replaces_the_default_one() {
        let fx = Fixture::new();
        let k = key();
        let other = fx.dir.path().join("elsewhere.toml");
        std::fs::write(
            &other,
            format!(
                "server = \"http://x:3\"\nvendor_public_key = \"{}\"\nfuture_key = 1\n",
                k.to_paserk()
            ),
        )
        .unwrap();
        let config = fx
            .resolve(ClientConfig::builder().config_file(&other))
            .unwrap();
        assert_eq!(config.server(), "http://x:3");
    }

    #[test]
    fn build_uses_explicit_settings_only() {
        let err = ClientConfig::builder().build().unwrap_err();
        assert_eq!(err.code(), "config");
        let k = key();
        let config = ClientConfig::builder()
            .server("127.0.0.1:9")
            .vendor_public_key(k.to_paserk())
            .build()
            .unwrap();
        assert_eq!(config.server(), "http://127.0.0.1:9");
        assert_eq!(config.vendor_key().unwrap(), &k);
    }

    #[test]
    fn server_addresses_are_normalized() {
        assert_eq!(normalize_server("licsrv").unwrap(), "http://licsrv:27080");
        assert_eq!(
            normalize_server("licsrv:8080").unwrap(),
            "http://licsrv:8080"
        );
        assert_eq!(normalize_server("[::1]").unwrap(), "http://[::1]:27080");
        assert_eq!(normalize_server("[::1]:9").unwrap(), "http://[::1]:9");
        assert_eq!(
            normalize_server(" HTTPS://portal.example/w/acme/ ").unwrap(),
            "https://portal.example/w/acme"
        );
        assert_eq!(
            normalize_server("portal.example/w/acme").unwrap(),
            "http://portal.example:27080/w/acme"
        );
        assert!(normalize_server("").is_err());
        assert!(normalize_server("ftp://x").is_err());
        assert!(normalize_server("http://").is_err());
        assert!(normalize_server("http://x/?a=1").is_err());
    }

    #[test]
    fn a_server_list_is_split_on_commas_and_each_node_normalized() {
        assert_eq!(
            normalize_servers(" http://a:27080, b ,c:9").unwrap(),
            ["http://a:27080", "http://b:27080", "http://c:9"]
        );
        assert_eq!(
            normalize_servers("licsrv").unwrap(),
            ["http://licsrv:27080"]
        );
        assert!(
            normalize_servers("http://a:1,")
                .unwrap_err()
                .contains("empty entry")
        );
        assert!(normalize_servers("a,,b").is_err());
        assert!(
            normalize_servers("a,http://a:27080")
                .unwrap_err()
                .contains("twice")
        );
        let mut fx = Fixture::new();
        fx.set(ENV_SERVER, "http://a:1,http://b:2");
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(config.server(), "http://a:1");
        assert_eq!(config.servers(), ["http://a:1", "http://b:2"]);
        fx.set(ENV_SERVER, "http://a:1,");
        let err = fx.resolve(ClientConfig::builder()).unwrap_err();
        assert!(err.to_string().contains(ENV_SERVER), "{err}");
        // The same list in client.toml.
        let mut fx = Fixture::new();
        fx.set(ENV_VENDOR_PUBLIC_KEY, &key().to_paserk());
        fx.write_file("server = \"lic-a, lic-b:9\"\n");
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(config.servers(), ["http://lic-a:27080", "http://lic-b:9"]);
    }

    #[test]
    fn the_cache_folder_comes_from_the_builder_then_the_environment_then_home() {
        let mut fx = Fixture::new();
        fx.set(ENV_SERVER, "http://env:2");
        fx.vars.remove("XDG_CONFIG_HOME");
        assert_eq!(
            fx.resolve(ClientConfig::builder()).unwrap().cache_dir(),
            None
        );
        fx.set("HOME", "/home/anna");
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(
            config.cache_dir(),
            Some(Path::new("/home/anna/.cache/tessera"))
        );
        fx.set("XDG_CACHE_HOME", "relative/is/ignored");
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(
            config.cache_dir(),
            Some(Path::new("/home/anna/.cache/tessera"))
        );
        fx.set("XDG_CACHE_HOME", "/var/cache/anna");
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(
            config.cache_dir(),
            Some(Path::new("/var/cache/anna/tessera"))
        );
        fx.set(ENV_CACHE_DIR, "/tmp/borrows");
        let config = fx.resolve(ClientConfig::builder()).unwrap();
        assert_eq!(config.cache_dir(), Some(Path::new("/tmp/borrows")));
        let config = fx
            .resolve(ClientConfig::builder().cache_dir("/explicit"))
            .unwrap();
        assert_eq!(config.cache_dir(), Some(Path::new("/explicit")));
    }

    #[test]
    fn os_names_are_cleaned() {
        assert_eq!(clean_name(" pc1\n").as_deref(), Some("pc1"));
        assert_eq!(clean_name("\n"), None);
        assert_eq!(clean_name(&"x".repeat(300)).unwrap().len(), MAX_NAME_LEN);
        let env = |n: &str| (n == "USERNAME").then(|| "WinUser".to_owned());
        assert_eq!(default_user(&env), "WinUser");
        // Without the variables: the account the process runs as.
        let account = os_account_name().expect("the test runs as an account");
        assert_ne!(account, "unknown");
        assert_eq!(default_user(&|_| None), account);
    }
}
