//! Lease and borrow tokens as a client library and a server read them: the chain back to
//! the vendor key (footer activation → server key → token), and a server checking its
//! own tokens. The first byte chooses what the rest is: a token's text, claims signed
//! by the vendor key (a web license server token), claims signed by the server key with
//! a valid activation in the footer (a LAN token), or a footer of the fuzzer's choosing
//! on a server-signed token.
#![no_main]

mod common;

use std::sync::OnceLock;

use chrono::{Duration, Utc};
use libfuzzer_sys::fuzz_target;
use tessera_core::{LicenseModel, PoolSpec};

fn activation() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let k = common::keys();
        let now = Utc::now();
        let pool = PoolSpec {
            id: "fuzz".into(),
            products: vec!["acad".into()],
            model: LicenseModel::Floating,
            seats: 5,
            start: now - Duration::days(1),
            end: now + Duration::days(365),
            borrow_max_hours: 24,
        };
        tessera_token::issue_activation(
            &k.vendor,
            &k.identity.registration_key,
            "Fuzz Office",
            vec![pool],
            now,
        )
        .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let k = common::keys();
    let token = match mode % 4 {
        0 => match std::str::from_utf8(rest) {
            Ok(t) => t.to_owned(),
            Err(_) => return,
        },
        1 => match common::sign_raw(&k.vendor, rest, None) {
            Some(t) => t,
            None => return,
        },
        2 => {
            let footer = serde_json::json!({ "activation": activation() }).to_string();
            match common::sign_raw(&k.server, rest, Some(footer.as_bytes())) {
                Some(t) => t,
                None => return,
            }
        }
        _ => {
            // The fuzzer's bytes split into claims and footer at the first 0xff.
            let at = rest.iter().position(|b| *b == 0xff).unwrap_or(rest.len());
            let (claims, footer) = rest.split_at(at);
            let footer = footer.get(1..).unwrap_or_default();
            match common::sign_raw(&k.server, claims, Some(footer)) {
                Some(t) => t,
                None => return,
            }
        }
    };
    if let Ok(seat) = tessera_token::verify_seat_token(k.vendor.verifying_key(), &token) {
        let _ = (seat.claims.products.len(), seat.activation.map(|a| a.pools.len()));
    }
    let _ = tessera_token::verify_own_seat_token(k.server.verifying_key(), &token);
});
