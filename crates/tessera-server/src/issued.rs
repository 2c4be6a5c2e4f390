//! The seat tokens this node signed, remembered by a hash, so that a heartbeat or a
//! check-in that presents the token it was last given needs no Ed25519 verify: a SHA-256
//! of the bearer compared with what was kept when it was signed proves the same (this
//! node made exactly that token, for exactly that lease). Anything else, a token signed
//! by another node or before a restart, is verified the slow way and works as before.
//!
//! The memory is bounded: each shard forgets everything it holds when it grows past its
//! share of [`CAPACITY`] (those tokens are then verified once more, and remembered again).
//! The first 16 bytes of the SHA-256 are kept (a token made to match them would take
//! 2^128 tries): a million live leases fit in about 100 MB.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tessera_token::SeatKind;

/// The most tokens remembered (about 50 bytes each, and the hash table's slack).
pub const CAPACITY: usize = 2_000_000;
const SHARDS: usize = 16;

struct Issued {
    digest: [u8; 16],
    /// The token's `exp`, in ms.
    exp: i64,
    /// The credential the seat's calls count against (`key:…` or `person:…`).
    credential: Option<Arc<str>>,
}

/// Tokens signed by this node, by lease.
pub struct IssuedTokens {
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<Mutex<HashMap<u64, Issued>>>,
}

impl Default for IssuedTokens {
    fn default() -> Self {
        IssuedTokens {
            hasher: Default::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

/// What a presented token turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Known {
    /// The token this node last signed for the seat: its credential and its `exp` (ms).
    Issued(Option<Arc<str>>, i64),
    /// Not known here: verify it.
    Unknown,
}

/// The first half of the token's SHA-256.
fn digest(token: &str) -> [u8; 16] {
    let full = Sha256::digest(token.as_bytes());
    let mut half = [0u8; 16];
    half.copy_from_slice(&full[..16]);
    half
}

impl IssuedTokens {
    fn key(&self, id: &str, kind: SeatKind) -> u64 {
        self.hasher.hash_one((id, matches!(kind, SeatKind::Lease)))
    }

    fn shard(&self, key: u64) -> &Mutex<HashMap<u64, Issued>> {
        &self.shards[(key as usize) % SHARDS]
    }

    /// Remembers `token`, just signed for the seat `id` of `kind`.
    pub fn remember(
        &self,
        id: &str,
        kind: SeatKind,
        token: &str,
        exp: i64,
        credential: Option<String>,
    ) {
        let key = self.key(id, kind);
        let issued = Issued {
            digest: digest(token),
            exp,
            credential: credential.map(Arc::from),
        };
        let mut shard = self.shard(key).lock().expect("issued tokens");
        if shard.len() >= CAPACITY / SHARDS {
            shard.clear();
        }
        shard.insert(key, issued);
    }

    /// Whether `token` is the one this node last signed for the seat `id` of `kind`.
    pub fn check(&self, id: &str, kind: SeatKind, token: &str) -> Known {
        let key = self.key(id, kind);
        let digest = digest(token);
        let shard = self.shard(key).lock().expect("issued tokens");
        match shard.get(&key) {
            Some(issued)
                if bool::from(subtle::ConstantTimeEq::ct_eq(
                    &issued.digest[..],
                    &digest[..],
                )) =>
            {
                Known::Issued(issued.credential.clone(), issued.exp)
            }
            _ => Known::Unknown,
        }
    }

    /// Forgets the seat's token (it was checked in or removed).
    pub fn forget(&self, id: &str, kind: SeatKind) {
        let key = self.key(id, kind);
        self.shard(key).lock().expect("issued tokens").remove(&key);
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().expect("issued tokens").len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_signed_for_that_seat_is_known() {
        let issued = IssuedTokens::default();
        issued.remember(
            "l1",
            SeatKind::Lease,
            "v4.public.one",
            7,
            Some("key:k1".into()),
        );
        assert_eq!(
            issued.check("l1", SeatKind::Lease, "v4.public.one"),
            Known::Issued(Some(Arc::from("key:k1")), 7)
        );
        // Another token, another seat, or the same id as a borrow: verify it.
        assert_eq!(
            issued.check("l1", SeatKind::Lease, "v4.public.two"),
            Known::Unknown
        );
        assert_eq!(
            issued.check("l2", SeatKind::Lease, "v4.public.one"),
            Known::Unknown
        );
        assert_eq!(
            issued.check("l1", SeatKind::Borrow, "v4.public.one"),
            Known::Unknown
        );
        // A new token replaces the old one.
        issued.remember("l1", SeatKind::Lease, "v4.public.two", 9, None);
        assert_eq!(
            issued.check("l1", SeatKind::Lease, "v4.public.one"),
            Known::Unknown
        );
        assert_eq!(
            issued.check("l1", SeatKind::Lease, "v4.public.two"),
            Known::Issued(None, 9)
        );
        issued.forget("l1", SeatKind::Lease);
        assert_eq!(
            issued.check("l1", SeatKind::Lease, "v4.public.two"),
            Known::Unknown
        );
        assert!(issued.is_empty());
    }
}
