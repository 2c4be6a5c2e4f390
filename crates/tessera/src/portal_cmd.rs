//! `tessera portal`: the vendor's portal and the web license server, on a data folder
//! with `portal.toml` (written with sample settings on first start).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tessera_portal::PortalConfig;

use crate::cli::PortalArgs;
use crate::config::user_data_home;
use crate::server_cmd::shutdown_signal;

/// The portal's data folder: `--data`, `TESSERA_DATA`, or the user's data folder.
pub fn portal_data_dir(data: Option<PathBuf>) -> PathBuf {
    data.unwrap_or_else(|| user_data_home().join("tessera").join("portal"))
}

/// The settings from `portal.toml` with the flags (and their variables) on top.
fn portal_config(args: &PortalArgs) -> anyhow::Result<PortalConfig> {
    let data = portal_data_dir(args.data.clone());
    let mut config = PortalConfig::load_or_create(&data)?;
    if let Some(listen) = &args.listen {
        config.listen = listen.clone();
    }
    if let Some(url) = &args.database_url {
        config.database_url = url.clone();
    }
    if let Some(smtp) = &args.smtp {
        config.smtp = smtp.clone();
    }
    if let Some(url) = &args.public_url {
        config.public_url = url.clone();
    }
    if let Some(key) = &args.vendor_secret_key {
        // A path typed on the command line or in the environment is relative to the
        // folder the command runs in, not to the data folder.
        config.vendor_secret_key_file = std::path::absolute(key)
            .with_context(|| format!("cannot resolve the path {}", key.display()))?;
    }
    if let Some(dir) = &args.downloads {
        // A folder typed on the command line is relative to where the command runs.
        config.downloads_dir = std::path::absolute(dir)
            .with_context(|| format!("`{}` is not a usable path", dir.display()))?;
    }
    if let Some(rate) = args.rate_limit {
        config.web_rate_limits.per_client = rate;
    }
    if !args.trusted_proxies.is_empty() {
        config.trusted_proxies = args.trusted_proxies.clone();
    }
    crate::config::parse_proxies(&config.trusted_proxies)?;
    if let Some(rate) = args.org_rate_limit {
        config.web_rate_limits.per_organization = rate;
    }
    if let Some(rate) = args.credential_rate_limit {
        config.web_rate_limits.per_credential = rate;
    }
    if let (Some(ttl), Some(heartbeat)) = (args.web_lease_ttl, args.web_heartbeat) {
        config.web_lease_timing = Some((ttl, heartbeat));
    }
    if let Some(token) = &args.metrics_token {
        config.metrics_token = token.trim().to_owned();
    }
    Ok(config)
}

pub fn run(mut args: PortalArgs) -> anyhow::Result<ExitCode> {
    let mut config = portal_config(&args)?;
    if let Some(crate::cli::PortalCmd::BenchSeed(seed)) = args.command.take() {
        return crate::bench_seed::run(config, args.new_vendor_key, &seed);
    }
    let key = config.vendor_secret_key_path();
    let vendor = if args.new_vendor_key {
        tessera_portal::load_or_create_vendor_key(&key)?
    } else {
        tessera_portal::load_vendor_key(&key)?
    };
    let listen: std::net::SocketAddr = config
        .listen
        .parse()
        .with_context(|| format!("`{}` is not an address like 127.0.0.1:8080", config.listen))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen} (is a portal running there?)"))?;
        let addr = listener.local_addr()?;
        config.listening_on(addr);
        let portal = tessera_portal::open(config, vendor).await?;
        print_banner(&portal, addr);
        tessera_portal::serve(portal, listener, shutdown_signal()).await?;
        println!("tessera portal stopped");
        Ok(ExitCode::SUCCESS)
    })
}

fn print_banner(portal: &tessera_portal::Portal, addr: std::net::SocketAddr) {
    let c = &portal.config;
    println!("Tessera portal {}", env!("CARGO_PKG_VERSION"));
    println!("  data folder:   {}", c.data_dir.display());
    println!(
        "  settings:      {}",
        c.data_dir
            .join(tessera_portal::config::CONFIG_FILE)
            .display()
    );
    println!("  public URL:    {}", c.base_url());
    println!(
        "  e-mail:        {}",
        if c.smtp.trim().is_empty() {
            format!("written to {}", c.outbox_dir().display())
        } else {
            "SMTP".to_owned()
        }
    );
    println!(
        "  vendor key:    {} (public key {})",
        c.vendor_secret_key_path().display(),
        portal.vendor.verifying_key().to_paserk()
    );
    println!("  downloads:     {}", c.downloads_path().display());
    println!("  web license server: {}/w/ORG", c.base_url());
    // Tests and scripts wait for this line.
    println!("listening on http://{addr}");
}
