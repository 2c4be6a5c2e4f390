//! Token (consumption) licensing with the real binaries: `tessera portal`, `tessera
//! login` of a person whose organization holds a token pack (and no seat), and `tessera
//! use-tokens` through `tessera_client::named::NamedClient::use_tokens`: a short use is
//! free, the first use charges the daily rate, the next is already paid, and a product
//! the balance cannot pay for is refused with `tokens_exhausted`.

use crate::common;

use std::path::Path;

use common::named::{on, output, prepare_customer};
use common::{PortalProcess, Vendor};
use tessera_store::portal::NewTokenPack;

const EMAIL: &str = "tom@tokens.example";

/// The portal's data folder: Tom's account and a pack of 14 tokens for a month.
fn prepare_portal(data: &Path, vendor: &Vendor) {
    let config = tessera_portal::PortalConfig::load_or_create(data).unwrap();
    prepare_customer(
        config,
        vendor,
        EMAIL,
        "Token Office",
        async |portal, user| {
            let today = chrono::Utc::now().date_naive();
            portal
                .store
                .add_token_pack(
                    &NewTokenPack {
                        organization_id: &user.organization_id,
                        tokens: 14,
                        expires_on: &(today + chrono::Duration::days(30)).to_string(),
                        granted_by: "test",
                        note: "",
                    },
                    0,
                )
                .await
                .unwrap();
        },
    );
}

#[test]
fn use_tokens_charges_once_and_refuses_what_the_balance_cannot_pay() {
    let vendor = Vendor::new();
    let data = tempfile::tempdir().unwrap();
    prepare_portal(data.path(), &vendor);
    let portal = PortalProcess::start(data.path(), Some(&vendor), &[]);
    let url = portal.url.clone();
    let desk = tempfile::tempdir().unwrap();

    let (ok, text) = output(on(desk.path(), &vendor), &["use-tokens", "autocad"]);
    assert!(!ok && text.contains("tessera login"), "{text}");

    let (ok, text) = output(
        on(desk.path(), &vendor),
        &[
            "login",
            "--portal",
            &url,
            "--email",
            EMAIL,
            "--product",
            "autocad",
        ],
    );
    assert!(ok, "{text}");

    let (ok, text) = output(
        on(desk.path(), &vendor),
        &["use-tokens", "autocad", "--used-seconds", "30"],
    );
    assert!(
        ok && text.contains("not charged") && text.contains("balance 14"),
        "{text}"
    );
    let (ok, text) = output(on(desk.path(), &vendor), &["use-tokens", "autocad"]);
    assert!(
        ok && text.contains("charged 10 token(s)") && text.contains("balance 4"),
        "{text}"
    );
    let (ok, text) = output(on(desk.path(), &vendor), &["use-tokens", "autocad"]);
    assert!(
        ok && text.contains("already paid") && text.contains("balance 4"),
        "{text}"
    );
    let (ok, text) = output(on(desk.path(), &vendor), &["use-tokens", "revit"]);
    assert!(!ok && text.contains("tokens_exhausted"), "{text}");
}
