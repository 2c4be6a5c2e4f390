//! `tessera`: one binary for the vendor's tools, the LAN license server, the client
//! commands and the demo. Parsing and wiring only; the work happens in the library crates.

mod bench_seed;
mod cli;
mod client_cmd;
mod config;
mod demo;
mod demo_orders;
mod login_cmd;
mod portal_cmd;
mod server_cmd;
mod vendor_cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if cli.verbose {
            "debug"
        } else {
            // PostgreSQL's notices ("relation … already exists, skipping") are not news.
            "info,sqlx::postgres::notice=warn"
        })
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // TESSERA_LOG_FORMAT=json: one JSON object a line for log collectors, each with the
    // request's id (the span `request`) where there is one.
    match std::env::var("TESSERA_LOG_FORMAT").as_deref() {
        Ok("json") => logs.json().init(),
        Ok("text") | Err(_) => logs.init(),
        Ok(other) => {
            logs.init();
            tracing::warn!(
                format = other,
                "TESSERA_LOG_FORMAT is `json` or `text`; writing text"
            );
        }
    }
    match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
