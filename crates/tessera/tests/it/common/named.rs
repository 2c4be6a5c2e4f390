//! Named-user licensing against a `tessera portal` process: the portal's data folder
//! prepared in-process with a customer's account, and the computers that person signs
//! in on with `tessera login`.

use std::path::Path;
use std::process::Command;

use tessera_portal::{Portal, PortalConfig};
use tessera_store::portal::{Role, UserRecord};

use super::{PASSWORD, Vendor, tessera};

/// Opens the portal of `config` in-process, makes the customer account `email` (with
/// [`PASSWORD`]) of `organization`, lets `fill` give that account what the test needs,
/// and closes the store so that a `tessera portal` process can open the folder next.
pub fn prepare_customer(
    config: PortalConfig,
    vendor: &Vendor,
    email: &str,
    organization: &str,
    fill: impl AsyncFnOnce(&Portal, &UserRecord),
) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let portal = tessera_portal::open(config, vendor.signing_key())
            .await
            .unwrap();
        let user = tessera_portal::accounts::ensure_account(
            &portal,
            email,
            PASSWORD,
            organization,
            Role::Customer,
        )
        .await
        .unwrap();
        fill(&portal, &user).await;
        portal.store.close().await;
    });
}

/// A command on one computer: its own cache folder (and so its own device id), the
/// vendor's public key, and [`PASSWORD`] for `tessera login`.
pub fn on(computer: &Path, vendor: &Vendor) -> Command {
    let mut c = tessera();
    c.env("TESSERA_CACHE_DIR", computer)
        .env("TESSERA_VENDOR_PUBLIC_KEY", vendor.public_path())
        .env("TESSERA_PASSWORD", PASSWORD)
        .env_remove("TESSERA_DEVICE_ID")
        .env_remove("TESSERA_PORTAL")
        .env_remove("TESSERA_EMAIL");
    c
}

/// Runs the command with `args`: whether it succeeded, and its stdout then its stderr.
pub fn output(mut c: Command, args: &[&str]) -> (bool, String) {
    let out = c.args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
