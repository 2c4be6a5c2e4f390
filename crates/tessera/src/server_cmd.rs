//! `tessera server …`: run the LAN license server, and manage its data folder (or, with
//! `--database-url`, its PostgreSQL database, shared by several nodes).

use std::process::ExitCode;

use anyhow::Context;
use tessera_server::audit::{self, Actor};
use tessera_server::identity::ServerIdentity;
use tessera_server::{LAN_REALM, ServerConfig, activation};
use tessera_store::{AuditAction, Store};

use crate::cli::{DataArg, RunArgs, SiteKeyCmd, VendorKeyArg};
use crate::config::{FileConfig, data_dir, database_url, server_config, vendor_key};

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let (mut config, vendor) = server_config(&args)?;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (is another server running there?)",
                    config.listen
                )
            })?;
        let addr = listener.local_addr()?;
        if config.node_name.is_none() {
            config.node_name = Some(format!("{}:{}", host_name(), addr.port()));
        }
        let state = tessera_server::open(config.clone(), vendor).await?;
        let identity = state.identity().context("a LAN server has an identity")?;
        print_banner(&config, identity, addr);
        tessera_server::serve(state, listener, shutdown_signal()).await?;
        println!("tessera server stopped");
        Ok(ExitCode::SUCCESS)
    })
}

fn print_banner(config: &ServerConfig, identity: &ServerIdentity, addr: std::net::SocketAddr) {
    println!("Tessera license server {}", env!("CARGO_PKG_VERSION"));
    match &config.database_url {
        Some(url) => println!(
            "  database:         {} (PostgreSQL; every node on it serves)",
            tessera_server::redact_url(url)
        ),
        None => println!("  data folder:      {}", config.data_dir.display()),
    }
    if let Some(node) = &config.node_name {
        println!("  node:             {node}");
    }
    println!("  registration key: {}", identity.registration_key);
    println!(
        "  lease TTL {} s, heartbeat every {} s, borrow up to {} h",
        config.lease_ttl.as_secs(),
        config.heartbeat.as_secs(),
        config.max_borrow_hours
    );
    println!("  live page:        http://{addr}/ (sign in with `tessera server admin-token`)");
    if config.require_site_key {
        println!("  seats only for programs with a site key (`tessera server site-key add NAME`)");
    }
    // Tests and scripts wait for this line.
    println!("listening on http://{addr}");
}

/// This computer's name, for the default node name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A LAN server's database on PostgreSQL and its identity (made if this is the first use).
async fn cluster_store(url: &str) -> anyhow::Result<(Store, ServerIdentity)> {
    let store = Store::open_url(url).await.with_context(|| {
        format!(
            "cannot open the database {}",
            tessera_server::redact_url(url)
        )
    })?;
    let now = tessera_core::to_millis(chrono::Utc::now());
    let identity = ServerIdentity::load_or_create_in(&store, now).await?;
    Ok((store, identity))
}

pub fn registration_key(data: DataArg) -> anyhow::Result<ExitCode> {
    if let Some(url) = database_url(&data)? {
        return runtime()?.block_on(async move {
            let (store, identity) = cluster_store(&url).await?;
            store.close().await;
            println!("{}", identity.registration_key);
            Ok(ExitCode::SUCCESS)
        });
    }
    let identity = ServerIdentity::load_or_create(&data_dir(&data))?;
    println!("{}", identity.registration_key);
    Ok(ExitCode::SUCCESS)
}

pub fn admin_token(data: DataArg, rotate: bool) -> anyhow::Result<ExitCode> {
    if let Some(url) = database_url(&data)? {
        return runtime()?.block_on(async move {
            let (store, identity) = cluster_store(&url).await?;
            let result = if rotate {
                ServerIdentity::rotate_admin_token_in(&store).await
            } else {
                Ok(identity.admin_token)
            };
            store.close().await;
            println!("{}", result?);
            if rotate {
                eprintln!("the old admin token works on each node until that node restarts");
            }
            Ok(ExitCode::SUCCESS)
        });
    }
    let dir = data_dir(&data);
    let identity = ServerIdentity::load_or_create(&dir)?;
    if rotate {
        let token = ServerIdentity::rotate_admin_token(&dir)?;
        let config = ServerConfig::new(dir);
        runtime()?.block_on(async move {
            let store = Store::open_sqlite(&config.database_path()).await?;
            let now = tessera_core::to_millis(chrono::Utc::now());
            let by = Actor::local(LAN_REALM, "tessera server admin-token --rotate");
            audit::record(
                &store,
                &by,
                AuditAction::AdminTokenRotated,
                "admin token",
                "the old token works until the server restarts",
                now,
            )
            .await;
            store.close().await;
            anyhow::Ok(())
        })?;
        println!("{token}");
        eprintln!("the old admin token no longer works once the server restarts");
    } else {
        println!("{}", identity.admin_token);
    }
    Ok(ExitCode::SUCCESS)
}

/// Imports straight into the data folder's database, so it works whether or not the
/// server is running (SQLite in WAL mode takes both); a running server uses the new
/// pools from its next checkout.
pub fn activate(data: DataArg, vendor: VendorKeyArg, file: &str) -> anyhow::Result<ExitCode> {
    let dir = data_dir(&data);
    let file_config = FileConfig::load(&dir)?;
    let vendor = vendor_key(&vendor, Some(&file_config))?;
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin())
            .context("cannot read the activation key from standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?
    };
    let url = database_url(&data)?;
    let config = ServerConfig::new(dir);
    runtime()?.block_on(async move {
        let (store, identity) = match url {
            Some(url) => cluster_store(&url).await?,
            None => (
                Store::open_sqlite(&config.database_path()).await?,
                ServerIdentity::load_or_create(&config.data_dir)?,
            ),
        };
        let now = tessera_core::to_millis(chrono::Utc::now());
        let result = activation::import(&store, LAN_REALM, &identity, &vendor, &text, now).await;
        if let Ok(imported) = &result {
            let by = Actor::local(LAN_REALM, "tessera server activate");
            let detail = tessera_server::api::activation_detail(imported);
            audit::record(
                &store,
                &by,
                AuditAction::ActivationImported,
                &imported.activation_id,
                &detail,
                now,
            )
            .await;
        }
        store.close().await;
        let imported = result?;
        println!(
            "activated: {} pool(s) for {} ({}), valid until {}",
            imported.pools.len(),
            imported.org,
            imported.pools.join(", "),
            imported.exp.format("%Y-%m-%d")
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Refuses `backup` and `restore` on PostgreSQL, saying what to use instead.
fn no_folder_backup(data: &DataArg) -> anyhow::Result<()> {
    if database_url(data)?.is_some() {
        anyhow::bail!(
            "a LAN server on PostgreSQL is backed up with PostgreSQL's own tools (pg_dump and \
             pg_restore, or a replica); see `When one machine is not enough` in \
             docs/admin-guide.md"
        );
    }
    Ok(())
}

pub fn backup(data: DataArg, dest: &std::path::Path) -> anyhow::Result<ExitCode> {
    no_folder_backup(&data)?;
    let config = ServerConfig::new(data_dir(&data));
    let summary = runtime()?.block_on(tessera_server::backup::backup(&config, dest))?;
    println!(
        "backup written to {} ({})",
        summary.destination.display(),
        summary.files.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

pub fn restore(data: DataArg, from: &std::path::Path) -> anyhow::Result<ExitCode> {
    no_folder_backup(&data)?;
    let dir = data_dir(&data);
    let restored = tessera_server::backup::restore(from, &dir)?;
    println!("restored {} into {}", restored.join(", "), dir.display());
    println!(
        "start the server again; on this machine its activations, leases and borrows are back"
    );
    Ok(ExitCode::SUCCESS)
}

/// `tessera server site-key …`: straight on the data folder's database, like `activate`,
/// so it works whether or not the server is running; a revoked key's seats end at once.
pub fn site_key(cmd: SiteKeyCmd) -> anyhow::Result<ExitCode> {
    let data = match &cmd {
        SiteKeyCmd::Add { data, .. }
        | SiteKeyCmd::List { data }
        | SiteKeyCmd::Revoke { data, .. } => data,
    };
    let config = ServerConfig::new(data_dir(data));
    let url = database_url(data)?;
    if url.is_none() {
        // Makes the data folder (and its identity) as any first command does.
        ServerIdentity::load_or_create(&config.data_dir)?;
    }
    runtime()?.block_on(async move {
        let store = match url {
            Some(url) => cluster_store(&url).await?.0,
            None => Store::open_sqlite(&config.database_path()).await?,
        };
        let now = tessera_core::to_millis(chrono::Utc::now());
        let result = match cmd {
            SiteKeyCmd::Add { name, .. } => {
                let made =
                    tessera_server::credential::add_site_key(&store, LAN_REALM, &name, "cli", now)
                        .await;
                if let Ok((key, _)) = &made {
                    let by = Actor::local(LAN_REALM, "tessera server site-key add");
                    let detail = format!("site key {}", key.id);
                    audit::record(&store, &by, AuditAction::SiteKeyMade, &key.name, &detail, now)
                        .await;
                }
                made.map(|(key, text)| {
                        eprintln!(
                            "site key `{}` made; it is shown only now. Give it to the programs as \
                             TESSERA_SITE_KEY, or as site_key in client.toml:",
                            key.name
                        );
                        println!("{text}");
                    })
                    .map_err(anyhow::Error::from)
            }
            SiteKeyCmd::List { .. } => list_site_keys(&store).await,
            SiteKeyCmd::Revoke { name, .. } => match store.revoke_site_key(LAN_REALM, &name, now).await {
                Ok(Some((key, ended))) => {
                    let by = Actor::local(LAN_REALM, "tessera server site-key revoke");
                    let detail =
                        format!("site key {}; {} seat(s) it held ended", key.id, ended.len());
                    audit::record(&store, &by, AuditAction::SiteKeyRevoked, &key.name, &detail, now)
                        .await;
                    println!(
                        "site key `{}` revoked; {} seat(s) it held ended",
                        key.name,
                        ended.len()
                    );
                    Ok(())
                }
                Ok(None) => Err(anyhow::anyhow!(
                    "there is no active site key named `{name}` (see `tessera server site-key list`)"
                )),
                Err(e) => Err(e.into()),
            },
        };
        store.close().await;
        result.map(|()| ExitCode::SUCCESS)
    })
}

async fn list_site_keys(store: &Store) -> anyhow::Result<()> {
    let keys = store.site_keys(LAN_REALM).await?;
    if keys.is_empty() {
        println!("no site keys (make one with `tessera server site-key add NAME`)");
        return Ok(());
    }
    let time = |ms: Option<i64>| {
        ms.map(|m| {
            tessera_core::from_millis(m)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|| "-".into())
    };
    println!(
        "{:<24} {:<20} {:<20} {:<16} STATE",
        "NAME", "MADE", "LAST USED", "FROM"
    );
    for k in keys {
        println!(
            "{:<24} {:<20} {:<20} {:<16} {}",
            k.name,
            time(Some(k.created_at)),
            time(k.last_used_at),
            k.last_address.as_deref().unwrap_or("-"),
            match k.revoked_at {
                Some(at) => format!("revoked {}", time(Some(at))),
                None => "active".into(),
            }
        );
    }
    Ok(())
}
