//! Detached signatures of the packages the vendor publishes (the LAN License Server's
//! `.deb`, `.tar.gz`, …): a PASETO v4.public token by the vendor key over the file's
//! name, size and SHA-256, so whoever downloads a package checks it with the vendor
//! public key they already trust (`tessera vendor verify FILE SIGNATURE`).
//! No I/O: callers read the file through a [`PackageDigest`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::documents::{check_kind, parse_untrusted, sign_json, verify_json};
use crate::{SigningKey, TokenError, VerifyingKey};

/// Claims of a package signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageClaims {
    /// Always `package`.
    pub kind: String,
    /// The file's name, without any folder.
    pub name: String,
    /// The file's size in bytes.
    pub size: u64,
    /// The file's SHA-256, 64 lowercase hexadecimal digits.
    pub sha256: String,
    /// When it was signed.
    pub iat: DateTime<Utc>,
}

/// A file's size and SHA-256, fed in pieces as the caller reads it.
#[derive(Default)]
pub struct PackageDigest {
    hasher: Sha256,
    size: u64,
}

/// What [`PackageDigest`] found: the size and the SHA-256 in lowercase hexadecimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub size: u64,
    pub sha256: String,
}

impl PackageDigest {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    pub fn finish(self) -> FileDigest {
        FileDigest {
            size: self.size,
            sha256: data_encoding::HEXLOWER.encode(&self.hasher.finalize()),
        }
    }
}

/// Signs the file `name` whose digest is `digest` with the vendor's key.
pub fn sign_package(
    vendor: &SigningKey,
    name: &str,
    digest: &FileDigest,
    now: DateTime<Utc>,
) -> Result<String, TokenError> {
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(TokenError::BadClaims(format!(
            "`{name}` is not a file name without a folder"
        )));
    }
    let claims = PackageClaims {
        kind: "package".into(),
        name: name.to_owned(),
        size: digest.size,
        sha256: digest.sha256.clone(),
        iat: now,
    };
    sign_json(vendor, &claims, None)
}

/// Checks a package signature against the vendor key, then that it is the signature of
/// this very file: the same SHA-256 and size (the content) and the same name (so that one
/// package's signature does not vouch for another's download).
pub fn verify_package(
    vendor: &VerifyingKey,
    signature: &str,
    name: &str,
    digest: &FileDigest,
) -> Result<PackageClaims, TokenError> {
    let token = parse_untrusted(signature)?;
    if !token.untrusted_footer().is_empty() {
        return Err(TokenError::Malformed);
    }
    let value = verify_json(vendor, &token)?;
    check_kind(&value, "package")?;
    let claims: PackageClaims =
        serde_json::from_value(value).map_err(|e| TokenError::BadClaims(e.to_string()))?;
    if claims.sha256 != digest.sha256 || claims.size != digest.size {
        return Err(TokenError::PackageMismatch(format!(
            "the file's SHA-256 is {} ({} bytes); the vendor signed {} ({} bytes): \
             the file is damaged or not the one the vendor published",
            digest.sha256, digest.size, claims.sha256, claims.size
        )));
    }
    if claims.name != name {
        return Err(TokenError::PackageMismatch(format!(
            "the signature is for `{}`, not `{name}`",
            claims.name
        )));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(bytes: &[u8]) -> FileDigest {
        let mut d = PackageDigest::new();
        let (a, b) = bytes.split_at(bytes.len() / 2);
        d.update(a);
        d.update(b);
        d.finish()
    }

    #[test]
    fn digest_is_the_sha256_of_the_whole_file() {
        let d = digest(b"abc");
        assert_eq!(d.size, 3);
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_signed_package_verifies_and_a_changed_one_does_not() {
        let vendor = SigningKey::generate();
        let file = b"the package's bytes".to_vec();
        let sig = sign_package(
            &vendor,
            "tessera_1.0.0_amd64.deb",
            &digest(&file),
            Utc::now(),
        )
        .unwrap();
        let claims = verify_package(
            vendor.verifying_key(),
            &sig,
            "tessera_1.0.0_amd64.deb",
            &digest(&file),
        )
        .unwrap();
        assert_eq!(claims.size, file.len() as u64);

        let mut tampered = file.clone();
        tampered[0] ^= 1;
        assert!(matches!(
            verify_package(vendor.verifying_key(), &sig, "tessera_1.0.0_amd64.deb", &digest(&tampered)),
            Err(TokenError::PackageMismatch(m)) if m.contains("damaged")
        ));
        assert!(matches!(
            verify_package(vendor.verifying_key(), &sig, "other.deb", &digest(&file)),
            Err(TokenError::PackageMismatch(m)) if m.contains("not `other.deb`")
        ));
        let stranger = SigningKey::generate();
        assert_eq!(
            verify_package(
                stranger.verifying_key(),
                &sig,
                "tessera_1.0.0_amd64.deb",
                &digest(&file)
            )
            .unwrap_err(),
            TokenError::InvalidSignature
        );
    }

    #[test]
    fn other_documents_are_not_package_signatures() {
        let vendor = SigningKey::generate();
        let claims = serde_json::json!({"kind": "activation", "name": "x", "size": 1});
        let token = sign_json(&vendor, &claims, None).unwrap();
        assert!(matches!(
            verify_package(vendor.verifying_key(), &token, "x", &digest(b"x")),
            Err(TokenError::WrongKind { .. })
        ));
        assert_eq!(
            verify_package(vendor.verifying_key(), "not a token", "x", &digest(b"x")).unwrap_err(),
            TokenError::Malformed
        );
        assert!(sign_package(&vendor, "../x", &digest(b"x"), Utc::now()).is_err());
    }
}
