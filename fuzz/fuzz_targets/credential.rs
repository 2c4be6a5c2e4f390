//! The credential a checkout carries, as the server reads it: an `Authorization` header
//! of any bytes, its bearer token taken out (`extract::bearer_of`), then read as a site
//! key (shape and hash) or as a person's sign-in token (verified against the vendor key).
//! Whatever is sent, nothing panics, a hash is always 64 hex digits, and only a token the
//! vendor key signed is ever taken as a sign-in.
#![no_main]

mod common;

use axum::http::{HeaderValue, Request, header};
use libfuzzer_sys::fuzz_target;
use tessera_server::extract::bearer_of;
use tessera_token::{is_site_key, site_key_hash, verify_named};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let request = Request::builder()
        .header(header::AUTHORIZATION, value)
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let Some(token) = bearer_of(&parts) else {
        return;
    };
    if is_site_key(token) {
        assert!(token.trim().starts_with("tsk_"));
        let hash = site_key_hash(token);
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        return;
    }
    let vendor = common::keys().vendor.verifying_key();
    if let Ok(claims) = verify_named(vendor, token) {
        // Only the vendor signs sign-ins: the fuzzer reaches here with the seed's token.
        assert_eq!(claims.kind, "named");
    }
});
