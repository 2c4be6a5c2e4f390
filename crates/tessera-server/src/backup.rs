//! Backups of a LAN server's data folder, made while the server runs, and restoring
//! them on the same machine (the registration key is tied to the machine, so a restore
//! elsewhere reports a new registration key and needs a new activation).
//!
//! A backup is a folder: the server's key, admin token, settings and policy, and a
//! consistent snapshot of the database (activations, pools, leases and borrows).

use std::fs::File;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::ServerConfig;

/// The files of a data folder besides the database, copied as they are.
const FILES: &[&str] = &[
    "server.secret",
    "server.public",
    "admin.token",
    "tessera.toml",
    "policy.toml",
];
const DATABASE: &str = "tessera.db";
const LOCK: &str = "server.lock";

#[derive(Debug, Error)]
pub enum BackupError {
    #[error("{0} already exists; choose a new folder for the backup")]
    DestinationExists(PathBuf),
    #[error("{0} is not a Tessera backup (no {DATABASE} or server.secret)")]
    NotABackup(PathBuf),
    #[error("a server is running on {0}; stop it before restoring")]
    ServerRunning(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Held by a running server: a second server, or a restore, on the same folder is refused.
pub struct DataLock {
    _file: File,
}

impl DataLock {
    /// Takes the data folder's lock; `None` when another process holds it.
    pub fn acquire(data: &Path) -> Result<Option<DataLock>, BackupError> {
        std::fs::create_dir_all(data).map_err(io(data))?;
        let path = data.join(LOCK);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(DataLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(io(&path)(e)),
        }
    }
}

/// What a backup holds.
#[derive(Debug)]
pub struct BackupSummary {
    pub files: Vec<String>,
    pub destination: PathBuf,
}

/// Writes a backup of the data folder to `dest` (a new folder), while the server may run.
pub async fn backup(config: &ServerConfig, dest: &Path) -> Result<BackupSummary, BackupError> {
    if dest.exists() {
        return Err(BackupError::DestinationExists(dest.to_owned()));
    }
    let data = &config.data_dir;
    if !data.join("server.secret").exists() {
        return Err(BackupError::NotABackup(data.clone()));
    }
    let tmp = dest.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut files = Vec::new();
    for name in FILES {
        let from = data.join(name);
        if from.exists() {
            std::fs::copy(&from, tmp.join(name)).map_err(io(&from))?;
            files.push((*name).to_owned());
        }
    }
    let store = tessera_store::Store::open_sqlite(&config.database_path()).await?;
    let result = store.backup_to(&tmp.join(DATABASE)).await;
    store.close().await;
    result?;
    files.push(DATABASE.to_owned());
    // Only a complete backup gets the name asked for.
    std::fs::rename(&tmp, dest).map_err(io(dest))?;
    Ok(BackupSummary {
        files,
        destination: dest.to_owned(),
    })
}

/// Puts a backup back into `data` (the server must be stopped). The database that was
/// there is kept beside it as `tessera.db.before-restore`.
pub fn restore(from: &Path, data: &Path) -> Result<Vec<String>, BackupError> {
    if !from.join(DATABASE).exists() || !from.join("server.secret").exists() {
        return Err(BackupError::NotABackup(from.to_owned()));
    }
    let Some(_lock) = DataLock::acquire(data)? else {
        return Err(BackupError::ServerRunning(data.to_owned()));
    };
    let db = data.join(DATABASE);
    if db.exists() {
        let aside = data.join(format!("{DATABASE}.before-restore"));
        std::fs::rename(&db, &aside).map_err(io(&db))?;
    }
    for stale in ["tessera.db-wal", "tessera.db-shm"] {
        let p = data.join(stale);
        if p.exists() {
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
    }
    let mut restored = Vec::new();
    for name in FILES.iter().chain(std::iter::once(&DATABASE)) {
        let src = from.join(name);
        if src.exists() {
            let dst = data.join(name);
            std::fs::copy(&src, &dst).map_err(io(&src))?;
            restored.push((*name).to_owned());
        }
    }
    Ok(restored)
}
