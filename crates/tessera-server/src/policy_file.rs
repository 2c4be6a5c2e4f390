//! The running policy and its file, `policy.toml` in the data folder. A new policy from
//! the admin API, the page or a hand edit of the file replaces the running one only when
//! it parses and checks; otherwise the running policy stays and the error names the line.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tessera_core::policy::{Policy, PolicyError};
use thiserror::Error;

pub const POLICY_FILE: &str = "policy.toml";

#[derive(Debug, Error)]
pub enum PolicyFileError {
    #[error("the policy is not valid: {0}")]
    Invalid(#[from] PolicyError),
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

struct Loaded {
    policy: Arc<Policy>,
    text: String,
    modified: Option<SystemTime>,
}

/// The policy in force and where it lives.
pub struct PolicyFile {
    path: Option<PathBuf>,
    loaded: RwLock<Loaded>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl PolicyFile {
    /// Reads `DATA/policy.toml`; no file is the empty policy.
    pub fn load(data: &Path) -> Result<Self, PolicyFileError> {
        let path = data.join(POLICY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(PolicyFileError::Io { path, source }),
        };
        let policy = Policy::parse(&text)?;
        Ok(PolicyFile {
            loaded: RwLock::new(Loaded {
                policy: Arc::new(policy),
                text,
                modified: modified(&path),
            }),
            path: Some(path),
        })
    }

    /// A policy held in memory only (tests, servers without a data folder).
    pub fn in_memory(policy: Policy) -> Self {
        PolicyFile {
            path: None,
            loaded: RwLock::new(Loaded {
                policy: Arc::new(policy),
                text: String::new(),
                modified: None,
            }),
        }
    }

    pub fn current(&self) -> Arc<Policy> {
        self.loaded.read().expect("policy lock").policy.clone()
    }

    pub fn text(&self) -> String {
        self.loaded.read().expect("policy lock").text.clone()
    }

    /// Checks `text` and, when it is valid, writes it (atomically) and puts it in force.
    pub fn replace(&self, text: &str) -> Result<Arc<Policy>, PolicyFileError> {
        let policy = Arc::new(Policy::parse(text)?);
        let mut loaded = self.loaded.write().expect("policy lock");
        if let Some(path) = &self.path {
            let tmp = path.with_extension("toml.tmp");
            let io = |source| PolicyFileError::Io {
                path: path.clone(),
                source,
            };
            std::fs::write(&tmp, text).map_err(io)?;
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(io)?;
            std::fs::rename(&tmp, path).map_err(io)?;
            loaded.modified = modified(path);
        }
        loaded.policy = policy.clone();
        loaded.text = text.to_owned();
        Ok(policy)
    }

    /// Picks up a hand edit of the file. A broken edit is logged and the running policy
    /// stays; the next valid edit is picked up.
    pub fn reload_if_changed(&self) {
        let Some(path) = &self.path else { return };
        let now = modified(path);
        if now == self.loaded.read().expect("policy lock").modified {
            return;
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut loaded = self.loaded.write().expect("policy lock");
        loaded.modified = now;
        if text == loaded.text {
            return;
        }
        match Policy::parse(&text) {
            Ok(p) => {
                tracing::info!(
                    rules = p.rules.len(),
                    "policy file changed; the new policy is in force"
                );
                loaded.policy = Arc::new(p);
                loaded.text = text;
            }
            Err(e) => {
                tracing::warn!(error = %e, "policy file changed but is not valid; the running policy stays")
            }
        }
    }
}
