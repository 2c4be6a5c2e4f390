//! Ed25519 key pairs in PASERK form (`k4.secret.…`, `k4.public.…`).

use pasetors::keys::{AsymmetricKeyPair, AsymmetricPublicKey, AsymmetricSecretKey, Generate};
use pasetors::paserk::FormatAsPaserk;
use pasetors::version4::V4;

use crate::TokenError;

/// A secret key that signs documents, with its public half.
#[derive(Clone)]
pub struct SigningKey {
    secret: AsymmetricSecretKey<V4>,
    public: VerifyingKey,
}

/// A public key that verifies documents.
#[derive(Clone)]
pub struct VerifyingKey {
    key: AsymmetricPublicKey<V4>,
}

impl SigningKey {
    /// A fresh key pair from the operating system's random source.
    pub fn generate() -> Self {
        let pair = AsymmetricKeyPair::<V4>::generate().expect("the OS random source works");
        SigningKey {
            secret: pair.secret,
            public: VerifyingKey { key: pair.public },
        }
    }

    /// Reads `k4.secret.…` (surrounding whitespace ignored).
    pub fn from_paserk(text: &str) -> Result<Self, TokenError> {
        let secret = AsymmetricSecretKey::<V4>::try_from(text.trim())
            .map_err(|_| TokenError::BadKey("k4.secret"))?;
        let public = AsymmetricPublicKey::<V4>::try_from(&secret)
            .map_err(|_| TokenError::BadKey("k4.secret"))?;
        Ok(SigningKey {
            secret,
            public: VerifyingKey { key: public },
        })
    }

    pub fn to_paserk(&self) -> String {
        let mut out = String::new();
        self.secret
            .fmt(&mut out)
            .expect("formatting into a String never fails");
        out
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    pub(crate) fn inner(&self) -> &AsymmetricSecretKey<V4> {
        &self.secret
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public.to_paserk())
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Reads `k4.public.…` (surrounding whitespace ignored).
    pub fn from_paserk(text: &str) -> Result<Self, TokenError> {
        let key = AsymmetricPublicKey::<V4>::try_from(text.trim())
            .map_err(|_| TokenError::BadKey("k4.public"))?;
        Ok(VerifyingKey { key })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenError> {
        let key =
            AsymmetricPublicKey::<V4>::from(bytes).map_err(|_| TokenError::BadKey("k4.public"))?;
        Ok(VerifyingKey { key })
    }

    pub fn to_paserk(&self) -> String {
        let mut out = String::new();
        self.key
            .fmt(&mut out)
            .expect("formatting into a String never fails");
        out
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.key.as_bytes()
    }

    pub(crate) fn inner(&self) -> &AsymmetricPublicKey<V4> {
        &self.key
    }
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for VerifyingKey {}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_paserk())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_paserk() {
        let key = SigningKey::generate();
        let secret = key.to_paserk();
        assert!(secret.starts_with("k4.secret."));
        let back = SigningKey::from_paserk(&format!("  {secret}\n")).unwrap();
        assert_eq!(back.verifying_key(), key.verifying_key());
        let public = key.verifying_key().to_paserk();
        assert!(public.starts_with("k4.public."));
        assert_eq!(
            &VerifyingKey::from_paserk(&public).unwrap(),
            key.verifying_key()
        );
        assert!(VerifyingKey::from_paserk(&secret).is_err());
        assert!(SigningKey::from_paserk("k4.secret.AAAA").is_err());
    }
}
