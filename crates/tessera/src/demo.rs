//! `tessera demo`: the whole system on this machine with sample data — a vendor key, a
//! LAN license server activated with sample pools, the portal with the sample catalog
//! and a staff and a customer sign-in — and how to try it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Duration, Utc};
use tessera_core::{LicenseModel, PoolSpec};
use tessera_server::identity::ServerIdentity;
use tessera_server::{LAN_REALM, ServerConfig, activation};
use tessera_token::{SigningKey, issue_activation};

use crate::cli::DemoArgs;
use crate::config::user_data_home;
use crate::server_cmd::shutdown_signal;
use crate::vendor_cmd::write_secret;

/// The sample catalogue: AutoCAD plugins, Revit plugins, and both at once.
fn sample_pools() -> Vec<PoolSpec> {
    let start = Utc::now() - Duration::minutes(1);
    let end = start + Duration::days(365);
    let pool = |id: &str, products: &[&str], seats, borrow| PoolSpec {
        id: id.into(),
        products: products.iter().map(|s| s.to_string()).collect(),
        model: LicenseModel::Floating,
        seats,
        start,
        end,
        borrow_max_hours: borrow,
    };
    vec![
        pool("demo-autocad", &["autocad"], 5, 72),
        pool("demo-revit", &["revit"], 3, 0),
        pool("demo-suite", &["autocad", "revit"], 2, 24),
    ]
}

fn vendor_key(dir: &Path) -> anyhow::Result<SigningKey> {
    let secret = dir.join("vendor.secret");
    if let Ok(text) = std::fs::read_to_string(&secret) {
        return SigningKey::from_paserk(&text)
            .context("the demo's vendor key is damaged; delete the demo folder");
    }
    std::fs::create_dir_all(dir)?;
    let key = SigningKey::generate();
    write_secret(&secret, &key.to_paserk())?;
    std::fs::write(
        dir.join("vendor.public"),
        format!("{}\n", key.verifying_key().to_paserk()),
    )?;
    Ok(key)
}

/// The demo portal's sign-ins: (e-mail, password).
const DEMO_STAFF: (&str, &str) = ("staff@tessera.example", "staff-demo-password");
const DEMO_CUSTOMER: (&str, &str) = ("buyer@office.example", "buyer-demo-password");

struct DemoPortal {
    url: String,
    /// The demo's own program, offered on the Download page.
    published: String,
    outbox: std::path::PathBuf,
    /// The demo customer's organization, which has a web license server.
    web_slug: String,
    /// A site key of that web license server, made at this start.
    site_key: String,
}

/// Puts this very program into the portal's downloads folder, signed by the demo's vendor
/// key, so that the Download page always offers something real: `tessera-VERSION-OS-ARCH`
/// (copied again when the program changed). Returns its file name.
fn publish_own_build(downloads: &Path, vendor: &SigningKey) -> anyhow::Result<String> {
    let name = format!(
        "tessera-{}-{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    let exe = std::env::current_exe().context("cannot tell where this program is")?;
    std::fs::create_dir_all(downloads)
        .with_context(|| format!("cannot create {}", downloads.display()))?;
    let target = downloads.join(&name);
    let (source, current) = (std::fs::metadata(&exe)?, std::fs::metadata(&target).ok());
    let fresh = current.is_some_and(|c| {
        c.len() == source.len()
            && matches!((c.modified(), source.modified()), (Ok(c), Ok(s)) if c >= s)
    });
    if !fresh {
        std::fs::copy(&exe, &target)
            .with_context(|| format!("cannot copy this program to {}", target.display()))?;
    }
    let digest = crate::vendor_cmd::file_digest(&target)?;
    let signature = tessera_token::sign_package(vendor, &name, &digest, Utc::now())?;
    let sig = downloads.join(format!("{name}.sig"));
    std::fs::write(&sig, format!("{signature}\n"))
        .with_context(|| format!("cannot write {}", sig.display()))?;
    Ok(name)
}

/// Starts the portal on `root/portal` with the sample catalog, the demo's vendor key,
/// its two accounts and the customer's orders (for the LAN server with
/// `registration_key`); it serves in the background until Ctrl-C.
async fn start_portal(
    root: &Path,
    vendor_dir: &Path,
    vendor: &SigningKey,
    listen: &str,
    registration_key: &str,
) -> anyhow::Result<DemoPortal> {
    let mut config = tessera_portal::PortalConfig::load_or_create(&root.join("portal"))?;
    config.vendor_secret_key_file = vendor_dir.join("vendor.secret");
    config.listen = listen.to_owned();
    if !config.staff_accounts.iter().any(|s| s == DEMO_STAFF.0) {
        config.staff_accounts.push(DEMO_STAFF.0.to_owned());
    }
    let listen: std::net::SocketAddr = listen
        .parse()
        .with_context(|| format!("`{listen}` is not an address like 127.0.0.1:8080"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("cannot listen on {listen} for the portal (pass --portal-listen ADDR)")
        })?;
    let addr = listener.local_addr()?;
    config.public_url = format!("http://{addr}");
    let outbox = config.outbox_dir();
    let published = publish_own_build(&config.downloads_path(), vendor)?;
    let portal = tessera_portal::open(config, vendor.clone()).await?;
    let staff_role = tessera_store::portal::Role::Staff;
    let customer_role = tessera_store::portal::Role::Customer;
    let (staff, customer) = (DEMO_STAFF, DEMO_CUSTOMER);
    tessera_portal::accounts::ensure_account(
        &portal,
        staff.0,
        staff.1,
        "Tessera Software",
        staff_role,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let buyer = tessera_portal::accounts::ensure_account(
        &portal,
        customer.0,
        customer.1,
        "Demo Office",
        customer_role,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let org = portal
        .store
        .organization(&buyer.organization_id)
        .await?
        .context("the demo customer has no organization")?;
    if !org.company_saved {
        portal
            .store
            .save_company(
                &buyer.organization_id,
                &tessera_store::portal::CompanyInfo {
                    name: "Demo Office Sp. z o.o.".into(),
                    address: vec!["ul. Przykładowa 1".into(), "00-001 Warszawa, Poland".into()],
                    tax_id: "PL1234567890".into(),
                    billing_email: customer.0.into(),
                },
            )
            .await?;
    }
    // The customer's orders: Paid for the demo's LAN server (with its activation key),
    // for the web license server and for Share seats in the customer's team (the
    // customer holds one, so `tessera login` works at once), and one Pending.
    crate::demo_orders::seed(&portal, &buyer, registration_key).await?;
    // A web license server whose pools are gone or about to end (a demo folder used
    // long ago) gets a fresh pool, so its panel has something to show.
    let now = Utc::now();
    let web = portal
        .store
        .pool_usage(&org.slug, tessera_core::to_millis(now))
        .await?;
    if web.is_empty() || web.iter().any(|u| u.pool.end < now + Duration::days(30)) {
        let pool = PoolSpec {
            id: "demo-web-autocad".into(),
            products: vec!["autocad".into()],
            model: LicenseModel::Floating,
            seats: 3,
            start: now - Duration::minutes(1),
            end: now + Duration::days(365),
            borrow_max_hours: 24,
        };
        tessera_server::grant_web_pools(
            &portal.store,
            &org.slug,
            &org.name,
            "demo-web",
            vec![pool],
            tessera_core::to_millis(now),
        )
        .await?;
    }
    let today = now.date_naive();
    // And a pack of tokens (consumption licensing) for a year, granted once.
    if !portal.store.has_token_packs(&org.id).await? {
        portal
            .store
            .add_token_pack(
                &tessera_store::portal::NewTokenPack {
                    organization_id: &org.id,
                    tokens: 500,
                    expires_on: &(today + Duration::days(365)).to_string(),
                    granted_by: DEMO_STAFF.0,
                    note: "demo",
                },
                tessera_core::to_millis(now),
            )
            .await?;
    }
    // A site key for the web license server's programs, made anew at each start (the
    // text of a key is shown only when it is made); the last start's key is revoked.
    const DEMO_KEY: &str = "Demo office PCs";
    let made_at = tessera_core::to_millis(now);
    portal
        .store
        .revoke_site_key(&org.slug, DEMO_KEY, made_at)
        .await?;
    let (_, site_key) = tessera_server::credential::add_site_key(
        &portal.store,
        &org.slug,
        DEMO_KEY,
        "demo",
        made_at,
    )
    .await?;
    let web_slug = org.slug.clone();
    tokio::spawn(async move {
        if let Err(e) = tessera_portal::serve(portal, listener, shutdown_signal()).await {
            tracing::error!(error = %e, "the demo portal stopped");
        }
    });
    Ok(DemoPortal {
        url: format!("http://{addr}"),
        published,
        outbox,
        web_slug,
        site_key,
    })
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let root = args
        .data
        .unwrap_or_else(|| user_data_home().join("tessera").join("demo"));
    let vendor_dir = root.join("vendor");
    let server_dir = root.join("server");
    let vendor = vendor_key(&vendor_dir)?;
    std::fs::create_dir_all(&server_dir)?;
    // So that `tessera server … --data DEMO/server` works by hand too.
    std::fs::write(
        server_dir.join("tessera.toml"),
        format!(
            "vendor_public_key = \"{}\"\n",
            vendor.verifying_key().to_paserk()
        ),
    )?;
    let mut config = ServerConfig::new(server_dir.clone());
    config.listen = args
        .listen
        .parse()
        .with_context(|| format!("`{}` is not an address like 127.0.0.1:27080", args.listen))?;
    let identity = ServerIdentity::load_or_create(&server_dir)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (is the demo already running? pass --listen ADDR)",
                    config.listen
                )
            })?;
        let addr = listener.local_addr()?;
        let state = tessera_server::open(config, vendor.verifying_key().clone()).await?;
        let now = Utc::now();
        let fresh = state
            .store
            .pool_usage(LAN_REALM, tessera_core::to_millis(now))
            .await?;
        if fresh.len() < sample_pools().len()
            || fresh.iter().any(|u| u.pool.end < now + Duration::days(30))
        {
            let key = issue_activation(
                &vendor,
                &identity.registration_key,
                "Demo Office",
                sample_pools(),
                now,
            )?;
            std::fs::write(root.join("activation.key"), format!("{key}\n"))?;
            activation::import(
                &state.store,
                LAN_REALM,
                &identity,
                vendor.verifying_key(),
                &key,
                tessera_core::to_millis(now),
            )
            .await?;
        }
        let portal = start_portal(
            &root,
            &vendor_dir,
            &vendor,
            &args.portal_listen,
            &identity.registration_key.to_string(),
        )
        .await?;
        let url = format!("http://{addr}");
        let public = vendor_dir.join("vendor.public");
        println!("Tessera demo is running.");
        println!();
        println!("  LAN license server  {url}/   (live page: sign in with the admin token)");
        println!("  admin token         {}", identity.admin_token);
        println!("  registration key    {}", identity.registration_key);
        println!("  sample licenses     autocad: 5 seats, borrowable 72 h");
        println!("                      revit: 3 seats, not borrowable");
        println!("                      autocad + revit bundle: 2 seats, borrowable 24 h");
        println!(
            "  portal              {}/   (shop, Orders, back office)",
            portal.url
        );
        println!("  staff sign-in       {} / {}", DEMO_STAFF.0, DEMO_STAFF.1);
        println!(
            "  customer sign-in    {} / {}",
            DEMO_CUSTOMER.0, DEMO_CUSTOMER.1
        );
        println!(
            "  web license server  {}/w/{}/   (the customer's panel; autocad: 3 seats)",
            portal.url, portal.web_slug
        );
        println!(
            "  site key            {}   (the web license server lends seats only with a credential)",
            portal.site_key
        );
        println!(
            "  named users         Share: 3 seats in the customer's team (Teams); the customer holds one"
        );
        println!(
            "  orders              Paid: this LAN server's (activation key under Orders), the web license server's, Share's; one Pending for the back office"
        );
        println!(
            "  tokens              500 for a year (Reporting → Token Usage; POST /api/v1/tokens/use)"
        );
        println!(
            "  download page       {}/download   ({}, signed by the demo's vendor key)",
            portal.url, portal.published
        );
        println!("  portal e-mail       {}", portal.outbox.display());
        println!("  demo data           {}", root.display());
        println!();
        println!("Try it from another terminal:");
        println!("  export TESSERA_SERVER={url}");
        println!("  export TESSERA_VENDOR_PUBLIC_KEY={}", public.display());
        println!("  export TESSERA_ADMIN_TOKEN={}", identity.admin_token);
        println!(
            "  cargo run --release -- checkout autocad --hold     # holds a seat until Ctrl-C"
        );
        println!("  cargo run --release -- status                      # who uses what");
        println!(
            "  TESSERA_PASSWORD={} cargo run --release -- login --portal {} --email {}",
            DEMO_CUSTOMER.1, portal.url, DEMO_CUSTOMER.0
        );
        println!(
            "  cargo run --release -- checkout share              # a named-user license on this computer"
        );
        println!(
            "  TESSERA_SERVER={}/w/{} TESSERA_SITE_KEY={} cargo run --release -- checkout autocad",
            portal.url, portal.web_slug, portal.site_key
        );
        println!();
        println!("Press Ctrl-C to stop.");
        println!("listening on {url}");
        tessera_server::serve(state, listener, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}
