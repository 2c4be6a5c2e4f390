//! The registration key: what an office sends the vendor to buy licenses for its server.
//!
//! It carries the server's public key (so the vendor can name it in the activation key)
//! and a tag bound to the machine the server runs on, with a checksum for typing errors:
//! `TSR1-` followed by Base32 of `public key (32) ‖ machine tag (8) ‖ check (2)`. A server
//! folder copied to another machine computes another tag, hence another registration key,
//! and refuses activations made for the old one.

use data_encoding::BASE32_NOPAD;
use sha2::{Digest, Sha256};

use crate::{TokenError, VerifyingKey};

const PREFIX: &str = "TSR1-";
const TAG_LEN: usize = 8;
const CHECK_LEN: usize = 2;
const GROUP: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationKey {
    public_key: [u8; 32],
    tag: [u8; TAG_LEN],
}

impl RegistrationKey {
    /// The registration key of a server with `public_key` running on `machine_id`.
    pub fn derive(public_key: &VerifyingKey, machine_id: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"tessera-registration-v1\0");
        h.update(public_key.as_bytes());
        h.update(machine_id.trim().as_bytes());
        let digest = h.finalize();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&digest[..TAG_LEN]);
        let mut pk = [0u8; 32];
        pk.copy_from_slice(public_key.as_bytes());
        RegistrationKey {
            public_key: pk,
            tag,
        }
    }

    /// Reads a registration key as a person may have typed or pasted it: case, spaces
    /// and dashes between groups do not matter; a wrong character fails the checksum.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let compact: String = text
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let body = compact
            .strip_prefix(PREFIX)
            .ok_or(TokenError::BadRegistrationKey("it must start with TSR1-"))?;
        let body: String = body.chars().filter(|c| *c != '-').collect();
        let bytes = BASE32_NOPAD.decode(body.as_bytes()).map_err(|e| {
            TokenError::BadRegistrationKey(match e.kind {
                data_encoding::DecodeKind::Symbol => "it contains characters outside A–Z and 2–7",
                data_encoding::DecodeKind::Length => "it has the wrong length",
                // The last character carries a bit of the checksum and 4 unused bits, which
                // are zero in a real key: a wrong last character is a typing error.
                _ => "its checksum does not match (a typing error?)",
            })
        })?;
        if bytes.len() != 32 + TAG_LEN + CHECK_LEN {
            return Err(TokenError::BadRegistrationKey("it has the wrong length"));
        }
        let (payload, check) = bytes.split_at(32 + TAG_LEN);
        if checksum(payload) != check {
            return Err(TokenError::BadRegistrationKey(
                "its checksum does not match (a typing error?)",
            ));
        }
        let mut public_key = [0u8; 32];
        public_key.copy_from_slice(&payload[..32]);
        VerifyingKey::from_bytes(&public_key)?;
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&payload[32..]);
        Ok(RegistrationKey { public_key, tag })
    }

    /// The server public key this registration key names.
    pub fn server_key(&self) -> VerifyingKey {
        VerifyingKey::from_bytes(&self.public_key).expect("checked when built")
    }
}

fn checksum(payload: &[u8]) -> [u8; CHECK_LEN] {
    let d = Sha256::digest(payload);
    [d[0], d[1]]
}

impl std::fmt::Display for RegistrationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes = Vec::with_capacity(32 + TAG_LEN + CHECK_LEN);
        bytes.extend_from_slice(&self.public_key);
        bytes.extend_from_slice(&self.tag);
        let check = checksum(&bytes);
        bytes.extend_from_slice(&check);
        let encoded = BASE32_NOPAD.encode(&bytes);
        f.write_str(PREFIX)?;
        for (i, chunk) in encoded.as_bytes().chunks(GROUP).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            f.write_str(std::str::from_utf8(chunk).expect("base32 is ASCII"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;

    #[test]
    fn registration_key_depends_on_key_and_machine_and_round_trips() {
        let key = SigningKey::generate();
        let here = RegistrationKey::derive(key.verifying_key(), "machine-a");
        let there = RegistrationKey::derive(key.verifying_key(), "machine-b");
        let other = RegistrationKey::derive(SigningKey::generate().verifying_key(), "machine-a");
        assert_ne!(here, there);
        assert_ne!(here, other);
        let text = here.to_string();
        assert!(text.starts_with("TSR1-"));
        assert_eq!(RegistrationKey::parse(&text).unwrap(), here);
        assert_eq!(
            RegistrationKey::parse(
                &text
                    .to_lowercase()
                    .replace('-', " ")
                    .replacen("tsr1 ", "TSR1-", 1)
            )
            .unwrap(),
            here
        );
        assert_eq!(&here.server_key(), key.verifying_key());
    }

    #[test]
    fn a_typing_error_is_caught_by_the_checksum() {
        let text = RegistrationKey::derive(SigningKey::generate().verifying_key(), "m").to_string();
        let mut chars: Vec<char> = text.chars().collect();
        let i = 10;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let typo: String = chars.into_iter().collect();
        assert!(RegistrationKey::parse(&typo).is_err());
        assert!(RegistrationKey::parse("hello").is_err());
    }

    /// Each wrong last character (of A–Z and 2–7) reads as a typing error caught by the
    /// checksum, never as a character outside A–Z and 2–7.
    #[test]
    fn a_wrong_last_character_is_a_checksum_error() {
        let text = RegistrationKey::derive(SigningKey::generate().verifying_key(), "m").to_string();
        let (head, last) = text.split_at(text.len() - 1);
        for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".chars() {
            if c.to_string() == last {
                continue;
            }
            let err = RegistrationKey::parse(&format!("{head}{c}")).unwrap_err();
            assert!(err.to_string().contains("checksum"), "{c}: {err}");
        }
        let err = RegistrationKey::parse(&format!("{head}1")).unwrap_err();
        assert!(err.to_string().contains("outside A–Z and 2–7"), "{err}");
        assert!(RegistrationKey::parse("TSR1-AAAA").is_err());
    }
}
