//! Activation keys as a LAN server imports them (`tessera server activate`, the admin
//! API's body): parse and verify against the vendor key, then every check of
//! `activation::check`. The first byte chooses: the input as the key's text, or the
//! input as claims signed by the vendor key (so the checks after the signature run on
//! arbitrary claims too).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tessera_server::activation;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let k = common::keys();
    let text = if mode & 1 == 0 {
        match std::str::from_utf8(rest) {
            Ok(t) => t.to_owned(),
            Err(_) => return,
        }
    } else {
        match common::sign_raw(&k.vendor, rest, None) {
            Some(t) => t,
            None => return,
        }
    };
    let verified = tessera_token::verify_activation(k.vendor.verifying_key(), &text);
    let checked = activation::check(&k.identity, k.vendor.verifying_key(), &text, common::now());
    if checked.is_ok() {
        assert!(verified.is_ok(), "a key that passes the checks verifies");
    }
    if let Ok(key) = verified {
        // What the server reads from a verified key must not panic either.
        let _ = key.server_key();
        let _ = key.claims.pools.iter().map(|p| p.products.len()).sum::<usize>();
    }
});
