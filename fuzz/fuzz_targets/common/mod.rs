//! What the targets share: fixed keys (made once for fuzzing only, in ../keys) so that
//! the seed corpus's keys and tokens verify, and a signer for arbitrary claims, so the
//! fuzzer also reaches the code that reads claims after a good signature.
#![allow(dead_code)]

use std::sync::OnceLock;

use pasetors::keys::AsymmetricSecretKey;
use pasetors::version4::{PublicToken, V4};
use tessera_server::identity::ServerIdentity;
use tessera_token::{RegistrationKey, SigningKey};

pub const MACHINE_ID: &str = "fuzz-machine";

pub struct Keys {
    pub vendor: SigningKey,
    pub server: SigningKey,
    pub identity: ServerIdentity,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let vendor = SigningKey::from_paserk(include_str!("../../keys/vendor.secret")).unwrap();
        let server = SigningKey::from_paserk(include_str!("../../keys/server.secret")).unwrap();
        let registration_key = RegistrationKey::derive(server.verifying_key(), MACHINE_ID);
        let identity = ServerIdentity {
            key: server.clone(),
            machine_id: MACHINE_ID.into(),
            registration_key,
            admin_token: "fuzz".into(),
            server_id: "fuzz".into(),
        };
        Keys {
            vendor,
            server,
            identity,
        }
    })
}

/// Signs `message` (and `footer`) as a PASETO v4.public token with `key`.
pub fn sign_raw(key: &SigningKey, message: &[u8], footer: Option<&[u8]>) -> Option<String> {
    let secret = AsymmetricSecretKey::<V4>::try_from(key.to_paserk().as_str()).ok()?;
    PublicToken::sign(&secret, message, footer, None).ok()
}

/// Milliseconds now, as the server reads its clock.
pub fn now() -> i64 {
    tessera_core::to_millis(chrono::Utc::now())
}
