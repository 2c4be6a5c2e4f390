//! The local cache of borrowed licenses: one file per (server, product) holding the
//! borrow token, and the `clock` file with the latest time this client has seen, which is
//! how a clock turned back is noticed while the server cannot be asked. Every file is
//! written whole (a temporary file renamed over it) and readable by its owner only.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ClientError;

/// How far the clock may seem to go back before a borrowed license is refused: clocks
/// are set by hand and by time servers, and a few minutes either way change nothing.
pub const CLOCK_TOLERANCE: chrono::Duration = chrono::Duration::minutes(5);

/// A borrowed license as the cache keeps it. The token is what counts; the other fields
/// say what it is without decoding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BorrowInfo {
    /// The base URL of the server it was borrowed from.
    pub server: String,
    pub product: String,
    pub borrow_id: String,
    /// The borrow token, verifiable offline back to the vendor key.
    pub token: String,
    /// When the borrow ends (the token's `exp`).
    pub until: DateTime<Utc>,
}

/// The cache folder.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: PathBuf,
}

const BORROWS: &str = "borrows";
const CLOCK: &str = "clock";

impl Cache {
    pub fn new(dir: &Path) -> Self {
        Cache {
            dir: dir.to_owned(),
        }
    }

    /// The file of the borrow of `product` from `server`. The name is readable but the
    /// hash is what makes it unique: a URL does not fit a file name on every system.
    pub fn borrow_path(&self, server: &str, product: &str) -> PathBuf {
        let readable: String = product
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let hash = fnv1a(format!("{server}\n{product}").as_bytes());
        self.dir
            .join(BORROWS)
            .join(format!("{readable}-{hash:016x}.json"))
    }

    /// Makes sure a borrow can be stored before one is taken.
    pub fn prepare(&self) -> Result<(), ClientError> {
        create_private_dir(&self.dir.join(BORROWS)).map_err(|e| self.error(&self.dir, e))
    }

    /// The borrow of `product` from `server`, if one is stored. A file that cannot be
    /// read as one is useless and removed.
    pub fn load(&self, server: &str, product: &str) -> Option<BorrowInfo> {
        let path = self.borrow_path(server, product);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read a borrowed license");
                return None;
            }
        };
        match serde_json::from_slice::<BorrowInfo>(&bytes) {
            Ok(info) if info.server == server && info.product == product => Some(info),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "removing a damaged borrowed license file");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    pub fn store(&self, info: &BorrowInfo) -> Result<(), ClientError> {
        let path = self.borrow_path(&info.server, &info.product);
        let text = serde_json::to_vec_pretty(info).map_err(|e| self.error(&path, e.into()))?;
        write_atomic(&path, &text).map_err(|e| self.error(&path, e))
    }

    pub fn remove(&self, server: &str, product: &str) -> Result<(), ClientError> {
        let path = self.borrow_path(server, product);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.error(&path, e)),
        }
    }

    /// The latest time this client has seen, if it remembers one. A damaged file is
    /// ignored: deleting it would have the same effect.
    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        let text = std::fs::read_to_string(self.dir.join(CLOCK)).ok()?;
        DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Remembers `now` unless a later time is remembered already; the clock only moves on.
    pub fn remember(&self, now: DateTime<Utc>) -> Result<(), ClientError> {
        match self.last_seen() {
            Some(last) if last >= now => Ok(()),
            _ => self.set_clock(now),
        }
    }

    /// Remembers `now` whatever was remembered: for when the license server has just
    /// vouched that this computer's clock is right.
    pub fn set_clock(&self, now: DateTime<Utc>) -> Result<(), ClientError> {
        let path = self.dir.join(CLOCK);
        let text = format!("{}\n", now.to_rfc3339());
        write_atomic(&path, text.as_bytes()).map_err(|e| self.error(&path, e))
    }

    fn error(&self, path: &Path, e: std::io::Error) -> ClientError {
        ClientError::Config(format!(
            "cannot keep borrowed licenses in `{}`: {e}",
            path.display()
        ))
    }
}

/// Refuses to use a borrowed license issued at `issued_at` when this computer's clock
/// (`now`) is clearly earlier than that or than the latest time seen before.
pub(crate) fn check_clock(
    now: DateTime<Utc>,
    issued_at: DateTime<Utc>,
    last_seen: Option<DateTime<Utc>>,
) -> Result<(), ClientError> {
    let earlier = |then: DateTime<Utc>, what: &str| ClientError::ClockTurnedBack {
        message: format!(
            "this computer's clock is earlier than {} ({what}; the clock says {}); set the \
             clock right and try again",
            format_time(then),
            format_time(now)
        ),
    };
    if now < issued_at - CLOCK_TOLERANCE {
        return Err(earlier(issued_at, "when the borrowed license was issued"));
    }
    match last_seen {
        Some(last) if now < last - CLOCK_TOLERANCE => {
            Err(earlier(last, "a time this computer has already seen"))
        }
        _ => Ok(()),
    }
}

pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// 64-bit FNV-1a: stable across versions and platforms, which a file name must be.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes `bytes` to a temporary file beside `path` (mode 0600) and renames it over
/// `path`, so a crash or a second process never leaves half a file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn info(server: &str, product: &str) -> BorrowInfo {
        BorrowInfo {
            server: server.into(),
            product: product.into(),
            borrow_id: "b1".into(),
            token: "v4.public.x".into(),
            until: Utc::now() + Duration::hours(8),
        }
    }

    #[test]
    fn a_borrow_is_stored_per_server_and_product_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        assert_eq!(cache.load("http://a:1", "acad"), None);
        let a = info("http://a:1", "acad");
        let b = info("http://b:1", "acad");
        let c = info("http://a:1", "acad/../x");
        for i in [&a, &b, &c] {
            cache.store(i).unwrap();
        }
        assert_eq!(cache.load("http://a:1", "acad"), Some(a.clone()));
        assert_eq!(cache.load("http://b:1", "acad"), Some(b.clone()));
        assert_eq!(cache.load("http://a:1", "acad/../x"), Some(c.clone()));
        let files: Vec<_> = std::fs::read_dir(dir.path().join(BORROWS))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files.len(), 3, "{files:?}");
        assert!(
            files
                .iter()
                .all(|f| f.ends_with(".json") && !f.starts_with('.'))
        );
        assert!(
            files.iter().any(|f| f.starts_with("acad____x-")),
            "{files:?}"
        );

        cache.remove("http://a:1", "acad").unwrap();
        cache.remove("http://a:1", "acad").unwrap();
        assert_eq!(cache.load("http://a:1", "acad"), None);
        assert_eq!(cache.load("http://b:1", "acad"), Some(b));
    }

    #[cfg(unix)]
    #[test]
    fn cache_files_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(&dir.path().join("cache"));
        cache.prepare().unwrap();
        cache.store(&info("http://a:1", "acad")).unwrap();
        cache.remember(Utc::now()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&cache.borrow_path("http://a:1", "acad")), 0o600);
        assert_eq!(mode(&dir.path().join("cache").join(CLOCK)), 0o600);
        assert_eq!(mode(&dir.path().join("cache").join(BORROWS)), 0o700);
    }

    #[test]
    fn a_damaged_borrow_file_is_removed_and_a_foreign_one_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        cache.prepare().unwrap();
        let path = cache.borrow_path("http://a:1", "acad");
        std::fs::write(&path, "{half").unwrap();
        assert_eq!(cache.load("http://a:1", "acad"), None);
        assert!(!path.exists());
        // A file that names another server (a hash collision, or copied by hand).
        let text = serde_json::to_string(&info("http://b:1", "acad")).unwrap();
        std::fs::write(&path, text).unwrap();
        assert_eq!(cache.load("http://a:1", "acad"), None);
    }

    #[test]
    fn the_remembered_time_only_moves_forward_unless_set() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        assert_eq!(cache.last_seen(), None);
        let now = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        cache.remember(now).unwrap();
        assert_eq!(cache.last_seen(), Some(now));
        cache.remember(now - Duration::days(1)).unwrap();
        assert_eq!(cache.last_seen(), Some(now));
        cache.remember(now + Duration::hours(1)).unwrap();
        assert_eq!(cache.last_seen(), Some(now + Duration::hours(1)));
        cache.set_clock(now).unwrap();
        assert_eq!(cache.last_seen(), Some(now));
        std::fs::write(dir.path().join(CLOCK), "not a time").unwrap();
        assert_eq!(cache.last_seen(), None);
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn the_clock_guard_allows_a_few_minutes_and_refuses_more() {
        let iat = Utc::now();
        let ok = |now, last| check_clock(now, iat, last).is_ok();
        assert!(ok(iat, None));
        assert!(ok(iat + Duration::days(3), None));
        assert!(ok(iat - Duration::minutes(4), None));
        assert!(!ok(iat - Duration::minutes(6), None));
        assert!(ok(iat + Duration::hours(1), Some(iat + Duration::hours(1))));
        assert!(ok(
            iat + Duration::hours(1),
            Some(iat + Duration::hours(1) + Duration::minutes(4))
        ));
        assert!(!ok(
            iat + Duration::hours(1),
            Some(iat + Duration::hours(2))
        ));

        let err = check_clock(iat - Duration::days(2), iat, None).unwrap_err();
        assert_eq!(err.code(), "clock_turned_back");
        let text = err.to_string();
        assert!(
            text.contains("this computer's clock is earlier than"),
            "{text}"
        );
        assert!(text.contains("set the clock right and try again"), "{text}");
        assert!(text.contains("issued"), "{text}");

        let err = check_clock(iat, iat, Some(iat + Duration::days(1))).unwrap_err();
        assert!(err.to_string().contains("already seen"), "{err}");
    }
}
