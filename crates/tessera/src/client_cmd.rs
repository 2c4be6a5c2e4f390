//! `tessera status`, `tessera checkout`, `tessera borrow` and `tessera return`: the client
//! side, through tessera-client.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tessera_client::{Client, ClientConfig, LicenseStatus};

use crate::cli::{BorrowArgs, CheckoutArgs, ReturnArgs, ServerUrlArg, StatusArgs, VendorKeyArg};

fn client(
    server: &ServerUrlArg,
    vendor: Option<&VendorKeyArg>,
    user: Option<&str>,
) -> anyhow::Result<Client> {
    let mut builder = ClientConfig::builder();
    if let Some(s) = &server.server {
        builder = builder.server(s.clone());
    }
    if let Some(k) = vendor.and_then(|v| v.vendor_public_key.clone()) {
        builder = builder.vendor_public_key(k);
    }
    if let Some(u) = user {
        builder = builder.user(u);
    }
    Ok(Client::new(builder.resolve()?))
}

fn date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A borrow's end: to the second, since a borrow can end minutes after it began.
fn until(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.server, None, None)?;
    let info = client.server_info()?;
    let leases = match &args.admin_token {
        Some(t) => Some(client.admin_leases(t).context("listing seats in use")?),
        None => None,
    };
    if args.json {
        let out = serde_json::json!({ "server": info, "answered_by": client.server(), "leases": leases.as_ref().map(|l| &l.leases), "waiting": leases.as_ref().map(|l| &l.waiting) });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("License server {} at {}", info.server_id, client.server());
    if let Some(node) = &info.node {
        println!("node {node} answered");
    }
    if client.config().servers().len() > 1 {
        println!("nodes listed: {}", client.config().servers().join(", "));
    }
    println!("registration key {}", info.registration_key);
    println!();
    if info.products.is_empty() {
        println!("No licenses: import an activation key with `tessera server activate FILE`.");
    } else {
        println!(
            "{:<28} {:>6} {:>7} {:>8} {:>5}  {:<10}  BORROW",
            "PRODUCT", "SEATS", "IN USE", "OFFLINE", "FREE", "UNTIL"
        );
        for p in &info.products {
            let borrow = if p.borrow_max_hours > 0 {
                format!("{} h", p.borrow_max_hours)
            } else {
                "no".into()
            };
            println!(
                "{:<28} {:>6} {:>7} {:>8} {:>5}  {:<10}  {}",
                p.product_list().join(" + "),
                p.seats,
                p.in_use,
                p.borrowed,
                p.available,
                p.end.format("%Y-%m-%d"),
                borrow
            );
        }
    }
    match &leases {
        None => {
            println!();
            println!("(pass --admin-token or set TESSERA_ADMIN_TOKEN to see who uses each seat)");
        }
        Some(list) if list.leases.is_empty() => {
            println!();
            println!("Nobody holds a seat right now.");
        }
        Some(list) => {
            println!();
            println!(
                "{:<16} {:<16} {:<14} {:<9} {:<16}  UNTIL",
                "USER", "HOST", "PRODUCT", "HOW", "SINCE"
            );
            for l in &list.leases {
                let how = match l.kind {
                    tessera_core::protocol::LeaseKind::Lease => "online",
                    tessera_core::protocol::LeaseKind::Borrow => "borrowed",
                };
                println!(
                    "{:<16} {:<16} {:<14} {:<9} {:<16}  {}",
                    l.user,
                    l.host,
                    l.product,
                    how,
                    date(l.since),
                    date(l.until)
                );
            }
        }
    }
    if let Some(list) = &leases
        && !list.waiting.is_empty()
    {
        println!();
        println!(
            "{:<6} {:<16} {:<16} {:<14} WAITING SINCE",
            "PLACE", "USER", "HOST", "PRODUCT"
        );
        for w in &list.waiting {
            println!(
                "{:<6} {:<16} {:<16} {:<14} {}",
                w.position,
                w.user,
                w.host,
                w.product,
                date(w.since)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn checkout(args: CheckoutArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.server, Some(&args.vendor), args.user.as_deref())?;
    let license = match args.wait {
        Some(s) => client.checkout_wait(&args.product, s)?,
        None => client.checkout(&args.product)?,
    };
    let borrowed = license.until();
    if let Some(end) = borrowed {
        println!(
            "using the borrowed license of {} until {} (borrow {})",
            args.product,
            until(end),
            license.lease_id()
        );
    } else {
        println!(
            "checked out {} for {} on {} (lease {}, valid until {})",
            args.product,
            client.config().user(),
            client.config().host(),
            license.lease_id(),
            date(license.expires_at())
        );
    }
    let claims = license.claims();
    if claims.site_key.is_some() {
        println!("  taken with the site key (TESSERA_SITE_KEY or site_key in client.toml)");
    } else if claims.sub != client.config().user() {
        println!("  taken as {} (signed in on this computer)", claims.sub);
    }
    if !args.hold {
        if borrowed.is_none() {
            license.check_in()?;
            println!("checked in again (use --hold to keep the seat)");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut signal = std::pin::pin!(crate::server_cmd::shutdown_signal());
    // Polled once so the signal handlers are in place before anyone is told the license
    // is held: a Ctrl-C or SIGTERM right after that line must not kill the process.
    let stopped = rt.block_on(async {
        tokio::select! {
            biased;
            () = &mut signal => true,
            () = tokio::task::yield_now() => false,
        }
    });
    if borrowed.is_some() {
        println!("holding the borrowed license; press Ctrl-C to stop");
    } else {
        println!("holding the seat; press Ctrl-C to check in");
    }
    let license = std::sync::Arc::new(license);
    // The watcher holds only a weak reference, so the license can be taken back for check-in.
    let watched = std::sync::Arc::downgrade(&license);
    std::thread::spawn(move || {
        let mut last = String::new();
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let Some(license) = watched.upgrade() else {
                return;
            };
            let now = match license.status() {
                LicenseStatus::Held => "held".to_owned(),
                LicenseStatus::Reconnecting { since } => {
                    format!("reconnecting to the server since {}", date(since))
                }
                LicenseStatus::Lost(e) => {
                    eprintln!("the license was lost: {e}");
                    std::process::exit(3);
                }
            };
            if now != last {
                if !last.is_empty() {
                    println!("license {now}");
                }
                last = now;
            }
        }
    });
    if !stopped {
        rt.block_on(signal);
    }
    let mut license = license;
    loop {
        match std::sync::Arc::try_unwrap(license) {
            Ok(l) => break l.check_in()?,
            // The watcher is looking at it this instant; it lets go within microseconds.
            Err(shared) => {
                license = shared;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    match borrowed {
        Some(end) => println!(
            "stopped using {}; it stays borrowed until {} (`tessera return {}` returns it)",
            args.product,
            until(end),
            args.product
        ),
        None => println!("checked in {}", args.product),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn borrow(args: BorrowArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.server, Some(&args.vendor), args.user.as_deref())?;
    let borrow = client.borrow(&args.product, args.hours)?;
    let config = client.config();
    let what = if borrow.new {
        "borrowed"
    } else {
        "already borrowed"
    };
    println!(
        "{what} {} for {} on {} until {} (borrow {})",
        borrow.product,
        config.user(),
        config.host(),
        until(borrow.until),
        borrow.borrow_id
    );
    let asked = borrow.claims.iat + chrono::Duration::hours(i64::from(args.hours));
    if borrow.new && borrow.until + chrono::Duration::minutes(1) < asked {
        println!("(the license itself ends then, so the borrow ends with it)");
    }
    println!(
        "it works without the license server until then; `tessera return {}` returns it early",
        borrow.product
    );
    Ok(ExitCode::SUCCESS)
}

pub fn return_borrow(args: ReturnArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.server, None, None)?;
    client.return_borrow(&args.product)?;
    println!(
        "returned the borrowed license of {} to {}",
        args.product,
        client.server()
    );
    Ok(ExitCode::SUCCESS)
}
