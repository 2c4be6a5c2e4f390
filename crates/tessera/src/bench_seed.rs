//! `tessera portal bench-seed` (hidden): sets up many organizations for
//! `tessera-bench --target web` through the portal's own code, as customers would
//! through its pages: an account and its organization with company info, a cart with
//! one "Use Web License Server" line, the portal's Checkout, the back office's Mark Paid
//! (which grants the organization's web license server its pool), and a site key made as
//! the panel makes one. The order e-mails are set aside unsent. Prints one JSON line per
//! organization with its slug (the realm
//! at `/w/SLUG`) and the site key's text, for the bench's simulated programs.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tessera_portal::{Portal, PortalConfig};
use tessera_store::portal::{CompanyInfo, NewAccount, NewCartItem, Role, ServerKind};

use crate::cli::BenchSeedArgs;

pub fn run(
    config: PortalConfig,
    new_vendor_key: bool,
    args: &BenchSeedArgs,
) -> anyhow::Result<ExitCode> {
    let key = config.vendor_secret_key_path();
    let vendor = if new_vendor_key {
        tessera_portal::load_or_create_vendor_key(&key)?
    } else {
        tessera_portal::load_vendor_key(&key)?
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let portal = tessera_portal::open(config, vendor).await?;
        // One password hash for every account: the accounts are never signed in to, and
        // hashing a thousand passwords would be most of the set-up's time.
        let hash = Arc::new(
            tessera_portal::security::hash_password("bench-password-not-used")
                .await
                .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?,
        );
        let option = Arc::new(args.option.clone());
        let mut next = 0u32;
        let mut running = tokio::task::JoinSet::new();
        let mut out = std::io::stdout().lock();
        loop {
            while next < args.organizations && running.len() < args.parallel.max(1) {
                running.spawn(organization(
                    portal.clone(),
                    next,
                    args.seats,
                    option.clone(),
                    hash.clone(),
                ));
                next += 1;
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            let (slug, site_key) = done??;
            writeln!(
                out,
                "{}",
                serde_json::json!({"org": slug, "site_key": site_key})
            )?;
        }
        // Nobody reads the made-up buyers' mail, and sending it would load the portal
        // and the database while the bench measures.
        portal
            .store
            .outbox_set_aside(portal.now(), "bench-seed (not sent)")
            .await?;
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Sets up organization `i`; its slug and site key.
async fn organization(
    portal: Portal,
    i: u32,
    seats: u32,
    option: Arc<String>,
    hash: Arc<String>,
) -> anyhow::Result<(String, String)> {
    let email = format!("buyer-{i:05}@bench.example");
    let name = format!("Bench Org {i:05}");
    let (user, organization) = portal
        .store
        .create_account(
            &NewAccount {
                email: &email,
                password_hash: &hash,
                role: Role::Customer,
                organization_name: &name,
                slug: &tessera_portal::accounts::slugify(&name),
                confirmed_at: Some(portal.now()),
            },
            portal.now(),
        )
        .await?
        .with_context(|| format!("the account {email} exists already"))?;
    portal
        .store
        .save_company(
            &organization.id,
            &CompanyInfo {
                name: format!("{name} Ltd."),
                address: vec!["1 Bench Street".into(), "00-001 Warsaw, Poland".into()],
                tax_id: format!("PL{i:010}"),
                billing_email: email.clone(),
            },
        )
        .await?;
    let organization = portal
        .store
        .organization(&organization.id)
        .await?
        .context("the new organization is gone")?;
    let cart = format!("bench:{i}");
    let today = portal.today().format("%Y-%m-%d").to_string();
    portal
        .store
        .add_cart_item(
            &cart,
            &NewCartItem {
                option_id: &option,
                start_date: &today,
                seats,
                server_kind: ServerKind::Web.as_str(),
                registration_key: None,
                team_id: None,
            },
            portal.now(),
        )
        .await?;
    let orders = tessera_portal::ordering::checkout(&portal, &user, &organization, &cart, false)
        .await
        .map_err(|e| anyhow::anyhow!("{name}: the order was not placed: {e}"))?;
    for order in &orders {
        tessera_portal::ordering::mark_paid(&portal, &order.number, &today)
            .await
            .map_err(|e| anyhow::anyhow!("{name}: order {} not marked Paid: {e}", order.number))?;
    }
    let (_, site_key) = tessera_server::credential::add_site_key(
        &portal.store,
        &organization.slug,
        "Bench PCs",
        &email,
        portal.now(),
    )
    .await?;
    Ok((organization.slug, site_key))
}
