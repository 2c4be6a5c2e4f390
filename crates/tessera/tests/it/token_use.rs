//! Token (consumption) licensing with the real binaries: `tessera portal`, `tessera
//! login` of a person whose organization holds a token pack (and no seat), and `tessera
//! use-tokens` through `tessera_client::named::NamedClient::use_tokens`: a short use is
//! free, the first use charges the daily rate, the next is already paid, and a product
//! the balance cannot pay for is refused with `tokens_exhausted`.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{Vendor, tessera, wait_for_listening};
use tessera_store::portal::{NewTokenPack, Role};

const PASSWORD: &str = "a long enough password";
const EMAIL: &str = "tom@tokens.example";

/// The portal's data folder: Tom's account and a pack of 14 tokens for a month.
fn prepare_portal(data: &Path, vendor: &Vendor) {
    let config = tessera_portal::PortalConfig::load_or_create(data).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let portal = tessera_portal::open(config, vendor.signing_key())
            .await
            .unwrap();
        let user = tessera_portal::accounts::ensure_account(
            &portal,
            EMAIL,
            PASSWORD,
            "Token Office",
            Role::Customer,
        )
        .await
        .unwrap();
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
        portal.store.close().await;
    });
}

fn on(computer: &Path, vendor: &Vendor) -> Command {
    let mut c = tessera();
    c.env("TESSERA_CACHE_DIR", computer)
        .env("TESSERA_VENDOR_PUBLIC_KEY", vendor.public_path())
        .env("TESSERA_PASSWORD", PASSWORD)
        .env_remove("TESSERA_DEVICE_ID")
        .env_remove("TESSERA_PORTAL")
        .env_remove("TESSERA_EMAIL");
    c
}

fn output(mut c: Command, args: &[&str]) -> (bool, String) {
    let out = c.args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn use_tokens_charges_once_and_refuses_what_the_balance_cannot_pay() {
    let vendor = Vendor::new();
    let data = tempfile::tempdir().unwrap();
    prepare_portal(data.path(), &vendor);
    let mut portal = tessera()
        .args(["portal", "--data", data.path().to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .args([
            "--vendor-secret-key",
            vendor.secret_path().to_str().unwrap(),
        ])
        .env_remove("TESSERA_SMTP")
        .env_remove("TESSERA_PUBLIC_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = wait_for_listening(&mut portal);
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

    let _ = portal.kill();
    let _ = portal.wait();
}
