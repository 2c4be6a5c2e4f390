//! The portal's forms as it reads them (URL-encoded bodies): the Corporate subscription
//! form with its registration key, number of users and start date; Add company info;
//! e-mail addresses; the organization's name made into its web license server's path;
//! and the `next` page after a form, which must stay on the portal. (Money is never
//! parsed from text: prices come from the settings as integers.)
#![no_main]

use axum::response::IntoResponse;
use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use tessera_portal::pages::account::CompanyForm;
use tessera_portal::shop::SubscriptionForm;

/// How a browser reads a Location: tabs and line breaks are dropped before parsing.
fn as_browser_reads(path: &str) -> String {
    path.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    match mode % 5 {
        0 => {
            if let Ok(form) = serde_urlencoded::from_bytes::<SubscriptionForm>(body) {
                let today = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
                if let Ok((start, seats, _, key)) = tessera_portal::shop::check_fields(&form, today) {
                    assert!(start >= today);
                    assert!((1..=tessera_portal::shop::MAX_USERS).contains(&seats));
                    if let Some(key) = key {
                        assert!(tessera_token::RegistrationKey::parse(&key).is_ok());
                    }
                }
            }
        }
        1 => {
            if let Ok(form) = serde_urlencoded::from_bytes::<CompanyForm>(body) {
                match tessera_portal::pages::account::check_company(&form) {
                    Ok(company) => assert!(!company.name.is_empty()),
                    Err(e) => assert!(e.into_response().status().is_client_error()),
                }
            }
        }
        2 => {
            if let Ok(text) = std::str::from_utf8(body) {
                if let Err(e) = tessera_portal::accounts::check_email(text) {
                    assert!(e.into_response().status().is_client_error());
                }
            }
        }
        3 => {
            if let Ok(text) = std::str::from_utf8(body) {
                let slug = tessera_portal::accounts::slugify(text);
                assert!(!slug.is_empty() && slug.len() <= 40, "{slug:?}");
                assert!(slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                assert!(!slug.starts_with('-') && !slug.ends_with('-'), "{slug:?}");
            }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(body) {
                let next = tessera_portal::pages::local_path(Some(text), "/checkout");
                let read = as_browser_reads(&next);
                assert!(read.starts_with('/'), "{next:?}");
                assert!(
                    !read.starts_with("//") && !read.starts_with("/\\"),
                    "`next` leaves the portal: {next:?}"
                );
                // It goes into a Location header.
                assert!(axum::http::HeaderValue::from_str(&next).is_ok(), "{next:?}");
            }
        }
    }
});
