//! The registration key (`TSR1-…`) as typed or pasted into `tessera vendor issue`, the
//! portal's Corporate subscription form and an activation key's claims: parsing never
//! panics, and what parses prints back to a key that parses to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_token::RegistrationKey;

fuzz_target!(|text: &str| {
    if let Ok(key) = RegistrationKey::parse(text) {
        let printed = key.to_string();
        assert_eq!(RegistrationKey::parse(&printed).ok(), Some(key.clone()));
        let _ = key.server_key();
    }
    // The portal's form check wraps the same parser with its own messages.
    let _ = tessera_portal::shop::check_registration_key(text);
});
