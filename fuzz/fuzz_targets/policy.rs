//! The policy file (`policy.toml`, the admin API's PUT body, the live page's editor):
//! parsing and checking never panic, errors name a line of the text, and a policy that
//! parses can decide on any seat request.
#![no_main]

use chrono::{Duration, Utc};
use libfuzzer_sys::fuzz_target;
use tessera_core::policy::{Holder, Policy};
use tessera_core::{LicenseModel, PoolSpec};

fuzz_target!(|text: &str| {
    match Policy::parse(text) {
        Ok(policy) => {
            let _ = policy.summary();
            let now = Utc::now();
            let pool = PoolSpec {
                id: "p1".into(),
                products: vec!["acad".into()],
                model: LicenseModel::Floating,
                seats: 3,
                start: now - Duration::days(1),
                end: now + Duration::days(1),
                borrow_max_hours: 24,
            };
            let holders = [
                Holder {
                    user: "anna".into(),
                    host: "pc1".into(),
                    borrowed: false,
                },
                Holder {
                    user: "ben".into(),
                    host: "pc2".into(),
                    borrowed: true,
                },
            ];
            for (user, host) in [("anna", "pc1"), ("carl", "pc3")] {
                for borrow in [false, true] {
                    let _ = policy.admit(&pool, user, host, borrow, false, &holders);
                }
            }
        }
        Err(e) => {
            let lines = text.matches('\n').count() + 1;
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            let _ = e.to_string();
        }
    }
});
