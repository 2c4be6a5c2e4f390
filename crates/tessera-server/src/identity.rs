//! The server's identity in its data folder: its Ed25519 key pair (made on first start),
//! the machine it runs on, the registration key derived from both, and the admin token.
//! On PostgreSQL (several nodes, `--database-url`) the key pair and admin token live in
//! the database instead, and the registration key is bound to the PostgreSQL cluster's
//! system identifier rather than to one machine (`load_or_create_in`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tessera_token::{RegistrationKey, SigningKey};
use thiserror::Error;

const SECRET_FILE: &str = "server.secret";
const PUBLIC_FILE: &str = "server.public";
const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Environment variable that overrides the machine id (containers, tests).
pub const MACHINE_ID_ENV: &str = "TESSERA_MACHINE_ID";

#[derive(Debug, Error)]
pub enum IdentityError {
    #[error("cannot use the data folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the server key in {0} is damaged; restore it from a backup")]
    BadKey(PathBuf),
    #[error("cannot tell which machine this is: no /etc/machine-id; set {MACHINE_ID_ENV}")]
    NoMachineId,
    #[error("the server key stored in the database is damaged; restore the database from a backup")]
    BadStoredKey,
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Everything that makes this server this server.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    pub key: SigningKey,
    pub machine_id: String,
    pub registration_key: RegistrationKey,
    pub admin_token: String,
    /// A short, stable id for display: the start of the public key's fingerprint.
    pub server_id: String,
}

impl ServerIdentity {
    /// Loads the identity from `data`, making the key pair and admin token on first use.
    pub fn load_or_create(data: &Path) -> Result<Self, IdentityError> {
        fs::create_dir_all(data).map_err(io_err(data))?;
        let secret_path = data.join(SECRET_FILE);
        let key = if secret_path.exists() {
            let text = fs::read_to_string(&secret_path).map_err(io_err(&secret_path))?;
            SigningKey::from_paserk(&text)
                .map_err(|_| IdentityError::BadKey(secret_path.clone()))?
        } else {
            let key = SigningKey::generate();
            write_private(&secret_path, &key.to_paserk())?;
            key
        };
        let public_path = data.join(PUBLIC_FILE);
        let public = key.verifying_key().to_paserk();
        if fs::read_to_string(&public_path)
            .ok()
            .as_deref()
            .map(str::trim)
            != Some(public.as_str())
        {
            fs::write(&public_path, format!("{public}\n")).map_err(io_err(&public_path))?;
        }
        let token_path = data.join(ADMIN_TOKEN_FILE);
        let admin_token = match fs::read_to_string(&token_path) {
            Ok(t) if t.trim().len() >= 32 => t.trim().to_owned(),
            _ => {
                let token = new_admin_token();
                write_private(&token_path, &token)?;
                token
            }
        };
        let machine_id = machine_id()?;
        let registration_key = RegistrationKey::derive(key.verifying_key(), &machine_id);
        let server_id = server_id_of(key.verifying_key().as_bytes());
        Ok(ServerIdentity {
            key,
            machine_id,
            registration_key,
            admin_token,
            server_id,
        })
    }

    /// Loads the identity of a LAN server on PostgreSQL from its database; the first node
    /// to start makes the key pair and admin token. The registration key is derived from
    /// the key and the cluster's system identifier: a promoted physical replica keeps it,
    /// a dump restored into another cluster gets a new one.
    pub async fn load_or_create_in(
        store: &tessera_store::Store,
        now: tessera_core::Millis,
    ) -> Result<Self, IdentityError> {
        let made = tessera_store::LanSecrets {
            secret_key: SigningKey::generate().to_paserk(),
            admin_token: new_admin_token(),
        };
        let stored = store.lan_secrets_or_insert(&made, now).await?;
        let key =
            SigningKey::from_paserk(&stored.secret_key).map_err(|_| IdentityError::BadStoredKey)?;
        let machine_id = format!("pg-cluster:{}", store.cluster_system_identifier().await?);
        let registration_key = RegistrationKey::derive(key.verifying_key(), &machine_id);
        let server_id = server_id_of(key.verifying_key().as_bytes());
        Ok(ServerIdentity {
            key,
            machine_id,
            registration_key,
            admin_token: stored.admin_token,
            server_id,
        })
    }

    /// Replaces the admin token in a PostgreSQL server's database and returns it.
    pub async fn rotate_admin_token_in(
        store: &tessera_store::Store,
    ) -> Result<String, IdentityError> {
        let token = new_admin_token();
        store.set_lan_admin_token(&token).await?;
        Ok(token)
    }

    /// Replaces the admin token with a new one and returns it.
    pub fn rotate_admin_token(data: &Path) -> Result<String, IdentityError> {
        let token = new_admin_token();
        write_private(&data.join(ADMIN_TOKEN_FILE), &token)?;
        Ok(token)
    }
}

fn server_id_of(public: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(public);
    data_encoding::HEXLOWER.encode(&d[..6])
}

fn new_admin_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "tsa_{}",
        data_encoding::BASE32_NOPAD
            .encode(&bytes)
            .to_ascii_lowercase()
    )
}

/// Writes a secret so that only the owner can read it, atomically (temp file + rename),
/// so a crash never leaves half a key.
fn write_private(path: &Path, content: &str) -> Result<(), IdentityError> {
    let tmp = path.with_extension("tmp");
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io_err(&tmp))?;
    f.write_all(content.as_bytes()).map_err(io_err(&tmp))?;
    f.write_all(b"\n").map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(())
}

/// The stable id of the machine: `TESSERA_MACHINE_ID`, else the OS machine id.
pub fn machine_id() -> Result<String, IdentityError> {
    if let Ok(id) = std::env::var(MACHINE_ID_ENV)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_owned());
    }
    for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
        if let Ok(id) = fs::read_to_string(path)
            && !id.trim().is_empty()
        {
            return Ok(id.trim().to_owned());
        }
    }
    Err(IdentityError::NoMachineId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = ServerIdentity::load_or_create(dir.path()).unwrap();
        let b = ServerIdentity::load_or_create(dir.path()).unwrap();
        assert_eq!(a.key.verifying_key(), b.key.verifying_key());
        assert_eq!(a.registration_key, b.registration_key);
        assert_eq!(a.admin_token, b.admin_token);
        assert!(a.admin_token.starts_with("tsa_"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "the secret key must not be readable by others"
            );
        }
    }
}
