//! The packages offered on the Download page: the files of the folder the portal is
//! configured with (`downloads_dir`), each with its platform and version (read from the
//! file's name as `scripts/package` writes it), size, date, SHA-256, and whether its
//! detached signature (`FILE.sig`, by `tessera vendor sign`) verifies with the vendor key.
//!
//! The folder is read on each visit, so a package the vendor copies in appears at once;
//! digests are kept by path, size and modification time, so a large file is hashed once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use tessera_token::{FileDigest, PackageDigest, VerifyingKey, verify_package};

/// A published package.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub platform: Platform,
    /// The version from the file's name; empty when it has none.
    pub version: String,
    pub size: u64,
    pub modified: DateTime<Utc>,
    pub sha256: String,
    pub signature: Signature,
}

/// What a package is for, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Platform {
    /// `tessera_VERSION_ARCH.deb`.
    Debian,
    /// `tessera-VERSION-linux-ARCH.tar.gz`.
    LinuxArchive,
    /// `tessera-VERSION-linux-ARCH`: the program alone.
    LinuxProgram,
    Other,
}

/// The state of a package's detached signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// Verified with the vendor key: the file is the one the vendor signed.
    Verified { signed: DateTime<Utc> },
    /// No `FILE.sig` beside the file.
    Missing,
    /// A `FILE.sig` that does not vouch for this file, and why.
    Invalid(String),
}

impl Package {
    /// The platform as the page shows it, with the processor when the name gives it.
    pub fn platform_text(&self) -> String {
        let arch = self.arch();
        let arch = if arch.is_empty() {
            String::new()
        } else {
            format!(" ({arch})")
        };
        match self.platform {
            Platform::Debian => format!("Debian, Ubuntu{arch}: .deb package"),
            Platform::LinuxArchive => format!("Other Linux{arch}: .tar.gz archive"),
            Platform::LinuxProgram => format!("Linux{arch}: the program alone"),
            Platform::Other => "Other".into(),
        }
    }

    /// The processor architecture in the file's name (`amd64`, `x86_64`, …).
    pub fn arch(&self) -> String {
        let stem = self
            .name
            .trim_end_matches(".deb")
            .trim_end_matches(".tar.gz");
        match self.platform {
            Platform::Debian => stem.rsplit('_').next().unwrap_or("").to_owned(),
            Platform::LinuxArchive | Platform::LinuxProgram => {
                stem.rsplit("-linux-").next().unwrap_or("").to_owned()
            }
            Platform::Other => String::new(),
        }
    }

    pub fn is_verified(&self) -> bool {
        matches!(self.signature, Signature::Verified { .. })
    }
}

/// Reads a published file's name: its platform and version.
pub fn classify(name: &str) -> (Platform, String) {
    if let Some(stem) = name.strip_suffix(".deb")
        && let Some(rest) = stem.strip_prefix("tessera_")
        && let Some((version, _arch)) = rest.rsplit_once('_')
    {
        return (Platform::Debian, version.to_owned());
    }
    if let Some(stem) = name.strip_suffix(".tar.gz")
        && let Some(rest) = stem.strip_prefix("tessera-")
        && let Some((version, _arch)) = rest.rsplit_once("-linux-")
    {
        return (Platform::LinuxArchive, version.to_owned());
    }
    if let Some(rest) = name.strip_prefix("tessera-")
        && let Some((version, arch)) = rest.rsplit_once("-linux-")
        && !arch.is_empty()
        && !arch.contains('.')
    {
        return (Platform::LinuxProgram, version.to_owned());
    }
    (Platform::Other, String::new())
}

/// Whether `name` may be a published file: a plain name, no folder, not hidden.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && name.chars().all(|c| !c.is_control())
}

/// The path of a published file (or its `.sig`), when `name` is one in `dir`.
pub fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    if !is_plain_name(name) {
        return None;
    }
    let path = dir.join(name);
    // As the listing does, a link the vendor made in the folder counts as its target.
    let meta = std::fs::metadata(&path).ok()?;
    meta.is_file().then_some(path)
}

/// Every package in `dir`, newest first within each platform; `.sig` files and hidden
/// ones are not packages.
pub fn list(dir: &Path, vendor: &VerifyingKey) -> std::io::Result<Vec<Package>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !is_plain_name(&name) || name.ends_with(".sig") {
            continue;
        }
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        let path = entry.path();
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let digest = digest_of(&path, meta.len(), modified)?;
        let signature = signature_of(&path, &name, &digest, vendor);
        let (platform, version) = classify(&name);
        out.push(Package {
            name,
            platform,
            version,
            size: digest.size,
            modified: modified.into(),
            sha256: digest.sha256,
            signature,
        });
    }
    out.sort_by(|a, b| {
        a.platform
            .cmp(&b.platform)
            .then(b.modified.cmp(&a.modified))
            .then(a.name.cmp(&b.name))
    });
    Ok(out)
}

fn signature_of(path: &Path, name: &str, digest: &FileDigest, vendor: &VerifyingKey) -> Signature {
    let mut sig_path = path.as_os_str().to_owned();
    sig_path.push(".sig");
    match std::fs::read_to_string(PathBuf::from(sig_path)) {
        Ok(text) => match verify_package(vendor, &text, name, digest) {
            Ok(claims) => Signature::Verified { signed: claims.iat },
            Err(e) => Signature::Invalid(e.to_string()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Signature::Missing,
        Err(e) => Signature::Invalid(format!("the signature cannot be read: {e}")),
    }
}

type DigestCache = HashMap<PathBuf, (u64, SystemTime, FileDigest)>;

static DIGESTS: LazyLock<Mutex<DigestCache>> = LazyLock::new(Default::default);

/// The file's digest, computed once for each size and modification time.
fn digest_of(path: &Path, size: u64, modified: SystemTime) -> std::io::Result<FileDigest> {
    if let Some((s, m, d)) = DIGESTS.lock().expect("not poisoned").get(path)
        && *s == size
        && *m == modified
    {
        return Ok(d.clone());
    }
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut digest = PackageDigest::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
    }
    let digest = digest.finish();
    DIGESTS
        .lock()
        .expect("not poisoned")
        .insert(path.to_owned(), (size, modified, digest.clone()));
    Ok(digest)
}

/// A size for people: "12.3 MB".
pub fn size_text(bytes: u64) -> String {
    const MB: f64 = 1_000_000.0;
    if bytes >= 1_000_000 {
        format!("{:.1} MB", bytes as f64 / MB)
    } else if bytes >= 1000 {
        format!("{:.1} kB", bytes as f64 / 1000.0)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_platform_and_version() {
        assert_eq!(
            classify("tessera_0.2.0-1_amd64.deb"),
            (Platform::Debian, "0.2.0-1".into())
        );
        assert_eq!(
            classify("tessera-0.2.0-linux-x86_64.tar.gz"),
            (Platform::LinuxArchive, "0.2.0".into())
        );
        assert_eq!(
            classify("tessera-0.2.0-linux-x86_64"),
            (Platform::LinuxProgram, "0.2.0".into())
        );
        assert_eq!(classify("notes.txt"), (Platform::Other, String::new()));
        assert!(!is_plain_name("../portal.toml"));
        assert!(!is_plain_name(".hidden"));
        assert_eq!(size_text(12_345_678), "12.3 MB");
    }
}
