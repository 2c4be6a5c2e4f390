//! `tessera login`, `tessera logout`, and `tessera checkout` of a named-user product:
//! the person signs in on this computer with the vendor's portal, through
//! `tessera_client::named`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tessera_client::named::{NamedClient, NamedStatus, stored_login};
use tessera_client::{ClientConfig, VerifyingKey, default_cache_dir_from_env, load_vendor_key};

use crate::cli::{CheckoutArgs, LoginArgs, LogoutArgs, UseTokensArgs, VendorKeyArg};

/// The environment variable that gives the password without a prompt.
pub const ENV_PASSWORD: &str = "TESSERA_PASSWORD";

fn cache_dir() -> anyhow::Result<std::path::PathBuf> {
    default_cache_dir_from_env()
        .context("no cache folder is known: set TESSERA_CACHE_DIR, XDG_CACHE_HOME or HOME")
}

/// The vendor key from the flag or its variable, else from the client's config file.
fn vendor_key(vendor: &VendorKeyArg, portal: &str) -> anyhow::Result<VerifyingKey> {
    if let Some(k) = &vendor.vendor_public_key {
        return Ok(load_vendor_key(k, None)?);
    }
    let config = ClientConfig::builder().server(portal).resolve()?;
    Ok(config
        .vendor_key()
        .context("the vendor's public key is needed: pass --vendor-public-key or set TESSERA_VENDOR_PUBLIC_KEY")?
        .clone())
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(ENV_PASSWORD) {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        eprint!("Password: ");
        std::io::stderr().flush().ok();
        // No echo while the password is typed.
        let _ = std::process::Command::new("stty").arg("-echo").status();
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if tty {
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
    }
    read.context("reading the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let key = vendor_key(&args.vendor, &args.portal)?;
    let client = NamedClient::new(&args.portal, key, cache_dir()?);
    let product = args.product.as_deref().unwrap_or_default();
    let login = match &args.email {
        Some(email) if !args.browser => {
            let password = read_password()?;
            client.sign_in(email, &password, product)?
        }
        _ => browser_sign_in(&client, product, !args.no_open)?,
    };
    println!(
        "signed in as {} on this computer ({}); any other computer signed in as {} stops at its next check",
        login.email, login.device, login.email
    );
    Ok(ExitCode::SUCCESS)
}

/// `tessera login --browser`: shows the portal's address and the code (and opens the
/// browser when there is a desktop to open it on), then waits for the approval.
fn browser_sign_in(
    client: &NamedClient,
    product: &str,
    open: bool,
) -> anyhow::Result<tessera_client::named::StoredLogin> {
    let mut sign_in = client.start_browser_sign_in(product)?;
    println!(
        "To sign in, open {} and enter the code {}",
        sign_in.verification_uri(),
        sign_in.user_code()
    );
    println!("  (or open {})", sign_in.verification_uri_complete());
    if open && open_browser(sign_in.verification_uri_complete()) {
        println!("  a browser was opened for you");
    }
    println!("waiting for the approval in the browser…");
    std::io::stdout().flush().ok();
    Ok(client.wait_browser_sign_in(&mut sign_in)?)
}

/// Opens `url` in the person's browser, where there is a desktop; whether it was tried.
fn open_browser(url: &str) -> bool {
    let (program, args): (&str, Vec<&str>) = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        ("cmd", vec!["/C", "start", "", url])
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        ("xdg-open", vec![url])
    } else {
        return false;
    };
    std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

pub fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let dir = cache_dir()?;
    let Some(login) = stored_login(&dir) else {
        println!("no one is signed in on this computer");
        return Ok(ExitCode::SUCCESS);
    };
    let key = vendor_key(&args.vendor, &login.portal)?;
    NamedClient::new(&login.portal, key, dir).sign_out()?;
    println!("signed {} out of this computer", login.email);
    Ok(ExitCode::SUCCESS)
}

/// `tessera checkout PRODUCT` with a named-user sign-in on this computer: used when no
/// license server is given, or when the sign-in covers the product. `None`: not named.
pub fn checkout(args: &CheckoutArgs) -> anyhow::Result<Option<ExitCode>> {
    let Ok(dir) = cache_dir() else {
        return Ok(None);
    };
    let Some(login) = stored_login(&dir) else {
        return Ok(None);
    };
    let covers = login.products.contains(&args.product);
    if args.server.server.is_some() && !covers {
        return Ok(None);
    }
    if std::env::var_os("TESSERA_SERVER").is_some() && !covers {
        return Ok(None);
    }
    let key = vendor_key(&args.vendor, &login.portal)?;
    let client = NamedClient::new(&login.portal, key, dir);
    let license = client.license(&args.product)?;
    match license.status() {
        NamedStatus::Offline { until } => println!(
            "{} is licensed to {} on this computer (named user), offline until {}",
            args.product,
            license.email(),
            until.format("%Y-%m-%d %H:%M UTC")
        ),
        _ => println!(
            "{} is licensed to {} on this computer (named user)",
            args.product,
            license.email()
        ),
    }
    if !args.hold {
        return Ok(Some(ExitCode::SUCCESS));
    }
    println!("holding the license; press Ctrl-C to stop");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stopped = rt.block_on(async {
        let mut signal = std::pin::pin!(crate::server_cmd::shutdown_signal());
        loop {
            tokio::select! {
                () = &mut signal => return None,
                () = tokio::time::sleep(Duration::from_millis(300)) => {
                    if let NamedStatus::Stopped { code, message } = license.status() {
                        return Some((code, message));
                    }
                }
            }
        }
    });
    if let Some((code, message)) = stopped {
        eprintln!("the license stopped ({code}): {message}");
        return Ok(Some(ExitCode::from(3)));
    }
    Ok(Some(ExitCode::SUCCESS))
}

/// `tessera use-tokens PRODUCT`: reports a use to the portal the person signed in with.
pub fn use_tokens(args: UseTokensArgs) -> anyhow::Result<ExitCode> {
    use tessera_core::tokens::TokenUseStatus;
    let dir = cache_dir()?;
    let login = stored_login(&dir)
        .context("no one is signed in on this computer: run `tessera login` first")?;
    let key = vendor_key(&args.vendor, &login.portal)?;
    let client = NamedClient::new(&login.portal, key, dir);
    let used = client.use_tokens(&args.product, args.used_seconds)?;
    let until = used
        .paid_until
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    match used.status {
        TokenUseStatus::Charged => println!(
            "{}: charged {} token(s), paid until {until}; balance {}",
            used.product, used.charged, used.balance
        ),
        TokenUseStatus::AlreadyPaid => println!(
            "{}: already paid until {until}; balance {}",
            used.product, used.balance
        ),
        TokenUseStatus::Free => println!(
            "{}: not charged (a short use); balance {}",
            used.product, used.balance
        ),
    }
    Ok(ExitCode::SUCCESS)
}
