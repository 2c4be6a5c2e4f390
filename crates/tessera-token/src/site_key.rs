//! Site keys: the credential an office gives its programs instead of signing every
//! engineer in. A key is `tsk_` and 52 random base32 characters; the server keeps only
//! its SHA-256, so a copy of the database gives nobody a working key.

use sha2::{Digest, Sha256};

/// Every site key starts with this, so a program (and a person reading a config file)
/// can tell it from a sign-in token.
pub const SITE_KEY_PREFIX: &str = "tsk_";

/// A new site key, from the operating system's random source (two v4 UUIDs, 244 random
/// bits).
pub fn generate_site_key() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let text = data_encoding::BASE32_NOPAD
        .encode(&bytes)
        .to_ascii_lowercase();
    format!("{SITE_KEY_PREFIX}{text}")
}

/// What the server keeps of a key: the hex SHA-256 of its text (surrounding whitespace
/// ignored).
pub fn site_key_hash(key: &str) -> String {
    let digest = Sha256::digest(key.trim().as_bytes());
    data_encoding::HEXLOWER.encode(&digest)
}

/// Whether `text` has the shape of a site key (it may still be made up or revoked).
pub fn is_site_key(text: &str) -> bool {
    let text = text.trim();
    text.strip_prefix(SITE_KEY_PREFIX).is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 128 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_new_each_time_and_have_their_shape() {
        let (a, b) = (generate_site_key(), generate_site_key());
        assert_ne!(a, b);
        assert!(is_site_key(&a) && is_site_key(&b), "{a} {b}");
        assert_eq!(a.len(), SITE_KEY_PREFIX.len() + 52);
        assert!(!is_site_key("v4.public.abc"));
        assert!(!is_site_key("tsk_"));
        assert!(!is_site_key("tsk_a b"));
    }

    #[test]
    fn the_hash_is_stable_and_ignores_surrounding_space() {
        let key = generate_site_key();
        assert_eq!(site_key_hash(&key), site_key_hash(&format!(" {key}\n")));
        assert_ne!(site_key_hash(&key), site_key_hash(&generate_site_key()));
        assert_eq!(site_key_hash(&key).len(), 64);
    }
}
