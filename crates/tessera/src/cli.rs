//! The command line: every subcommand and its flags, with their environment twins.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::{client_cmd, demo, login_cmd, portal_cmd, server_cmd, vendor_cmd};

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera license management: LAN license server, vendor tools and client"
)]
pub struct Cli {
    /// More detail in the log.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// The vendor's tools: keys, activation keys, and signatures of published packages.
    #[command(subcommand)]
    Vendor(VendorCmd),
    /// Runs the LAN license server, or manages its data folder.
    Server(ServerArgs),
    /// Shows the server's pools and, with an admin token, every seat in use.
    Status(StatusArgs),
    /// Takes a seat of PRODUCT (or uses the one borrowed here); with --hold keeps it
    /// until Ctrl-C or SIGTERM.
    Checkout(CheckoutArgs),
    /// Borrows a seat of PRODUCT for offline use: kept on this computer for --hours.
    Borrow(BorrowArgs),
    /// Returns the borrowed license of PRODUCT to the server early.
    Return(ReturnArgs),
    /// Signs a person in on this computer for their named-user licenses (the password
    /// from a prompt or TESSERA_PASSWORD); another computer signed in as them stops.
    Login(LoginArgs),
    /// Signs the person out of this computer.
    Logout(LogoutArgs),
    /// Reports a use of PRODUCT paid by the organization's tokens (the person signed in
    /// with `tessera login`): the first use in 24 hours charges the product's daily rate.
    UseTokens(UseTokensArgs),
    /// Runs the vendor's portal (shop, accounts, orders, back office) and the web
    /// license server.
    Portal(PortalArgs),
    /// Runs the whole system on this machine with sample data.
    Demo(DemoArgs),
}

#[derive(Args)]
pub struct PortalArgs {
    /// The portal's data folder (portal.toml, portal.db, outbox/, vendor.secret).
    #[arg(long, env = "TESSERA_DATA")]
    pub data: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080, or `listen` in portal.toml).
    #[arg(long)]
    pub listen: Option<String>,
    /// postgres://… for several portal nodes; SQLite in the data folder by default.
    #[arg(long, env = "TESSERA_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// smtp://host:port (or smtps://…); without it e-mail is written to DATA/outbox as .eml files.
    #[arg(long, env = "TESSERA_SMTP", hide_env_values = true)]
    pub smtp: Option<String>,
    /// The address customers use (links in e-mails; https makes cookies Secure).
    #[arg(long, env = "TESSERA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The vendor's secret key (k4.secret) that signs activation keys, relative to the
    /// current folder (default `vendor_secret_key_file` in portal.toml, relative to the
    /// data folder). A key that is not there stops the portal.
    #[arg(long, env = "TESSERA_VENDOR_SECRET_KEY")]
    pub vendor_secret_key: Option<PathBuf>,
    /// First start: make a new vendor key (and its .public beside it) where the vendor key
    /// should be, if none is there yet; LAN license servers must then trust its public key.
    #[arg(long)]
    pub new_vendor_key: bool,
    /// Web license server: requests per second one client address may send, twice that in
    /// a burst (default 200, or `web_rate_limits.per_client` in portal.toml; 0: no limit).
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Web license server: requests per second to one organization from all its clients,
    /// twice that in a burst (default 1000, or `web_rate_limits.per_organization`; 0: no limit).
    #[arg(long)]
    pub org_rate_limit: Option<u32>,
    /// Web license server: requests per second with one credential (a site key, a person's
    /// sign-in) from all its addresses, twice that in a burst (default 500, or
    /// `web_rate_limits.per_credential`; 0: no limit).
    #[arg(long)]
    pub credential_rate_limit: Option<u32>,
    /// A token for Prometheus to read /metrics with (default `metrics_token` in
    /// portal.toml; without one /metrics answers 401 to everyone).
    #[arg(long, env = "TESSERA_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// The folder of the packages on the Download page, each with its FILE.sig (default
    /// `downloads_dir` in portal.toml, or DATA/downloads).
    #[arg(long, env = "TESSERA_DOWNLOADS")]
    pub downloads: Option<PathBuf>,
    /// A reverse proxy or load balancer in front of the portal, whose X-Forwarded-For names
    /// the client (repeat for several; default `trusted_proxies` in portal.toml, none).
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<String>,
    /// For the benchmark (`tessera-bench --target web`): the web license server's lease
    /// TTL in seconds instead of the protocol's 120 (with --web-heartbeat).
    #[arg(long, hide = true, requires = "web_heartbeat")]
    pub web_lease_ttl: Option<u64>,
    /// For the benchmark: the heartbeat interval the web license server announces, in
    /// seconds, instead of 30 (with --web-lease-ttl).
    #[arg(long, hide = true, requires = "web_lease_ttl")]
    pub web_heartbeat: Option<u64>,
    #[command(subcommand)]
    pub command: Option<PortalCmd>,
}

#[derive(Subcommand)]
pub enum PortalCmd {
    /// For `tessera-bench --target web`: makes ORGANIZATIONS organizations in the
    /// portal's database, each with a Paid "Use Web License Server" order (placed with
    /// the portal's Checkout and marked Paid) and a site key; prints one JSON line per
    /// organization: `{"org": SLUG, "site_key": KEY}`.
    #[command(hide = true)]
    BenchSeed(BenchSeedArgs),
}

#[derive(Args)]
pub struct BenchSeedArgs {
    /// How many organizations to make.
    #[arg(long, default_value_t = 1000)]
    pub organizations: u32,
    /// Seats of each organization's order.
    #[arg(long, default_value_t = 1000)]
    pub seats: u32,
    /// The catalog's license option each order buys (its product is the pool's).
    #[arg(long, default_value = "autocad-1y")]
    pub option: String,
    /// Organizations set up at once.
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
}

#[derive(Subcommand)]
pub enum VendorCmd {
    /// Writes DIR/vendor.secret and DIR/vendor.public (PASERK).
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// Replace keys that already exist there.
        #[arg(long)]
        force: bool,
    },
    /// Prints an activation key for a license server.
    Issue(IssueArgs),
    /// Signs a package for publishing: writes FILE.sig, a detached signature (PASETO
    /// v4.public) over the file's name, size and SHA-256.
    Sign(SignArgs),
    /// Checks that FILE is the package the vendor signed in SIGNATURE (FILE.sig by
    /// default), with the vendor public key.
    Verify(VerifyArgs),
}

#[derive(Args)]
pub struct SignArgs {
    /// The file to sign (a .deb, a .tar.gz, …).
    pub file: PathBuf,
    /// The vendor's secret key file (k4.secret).
    #[arg(long, env = "TESSERA_VENDOR_SECRET_KEY")]
    pub secret_key: PathBuf,
    /// Where to write the signature (default: FILE.sig).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The downloaded file.
    pub file: PathBuf,
    /// Its signature file (default: FILE.sig).
    pub signature: Option<PathBuf>,
    #[command(flatten)]
    pub vendor: VendorKeyArg,
}

#[derive(Args)]
pub struct IssueArgs {
    /// The vendor's secret key file (k4.secret).
    #[arg(long)]
    pub secret_key: PathBuf,
    /// The server's registration key (from `tessera server registration-key`).
    #[arg(long)]
    pub registration_key: String,
    /// The organization the license is for.
    #[arg(long)]
    pub org: String,
    /// The product, or several separated by commas for a bundle.
    #[arg(long, value_delimiter = ',', required = true)]
    pub product: Vec<String>,
    /// Number of seats (users at the same time).
    #[arg(long)]
    pub seats: u32,
    /// Validity in days from the start.
    #[arg(long, conflicts_with = "end", required_unless_present = "end")]
    pub days: Option<u32>,
    /// Last day (YYYY-MM-DD, the license ends at the end of that day UTC) or an RFC 3339 time.
    #[arg(long)]
    pub end: Option<String>,
    /// Start (YYYY-MM-DD or RFC 3339); now by default.
    #[arg(long)]
    pub start: Option<String>,
    /// Longest borrow in hours; 0 (the default) forbids borrowing.
    #[arg(long, default_value_t = 0)]
    pub borrow_hours: u32,
    /// The pool's id; a later key with the same id replaces the pool (renewal). Random by default.
    #[arg(long)]
    pub pool_id: Option<String>,
    /// Write the key to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Clone)]
pub struct DataArg {
    /// The server's data folder.
    #[arg(long, env = "TESSERA_DATA")]
    pub data: Option<PathBuf>,
    /// postgres://… to keep the LAN server in PostgreSQL, where several nodes share it
    /// (see docs/admin-guide.md); SQLite in the data folder by default.
    #[arg(long, env = "TESSERA_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Args, Clone)]
pub struct VendorKeyArg {
    /// The vendor's public key (k4.public…) or a file holding it.
    #[arg(long, env = "TESSERA_VENDOR_PUBLIC_KEY")]
    pub vendor_public_key: Option<String>,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub command: Option<ServerCmd>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub data: DataArg,
    #[command(flatten)]
    pub vendor: VendorKeyArg,
    /// Address to listen on (default 0.0.0.0:27080).
    #[arg(long, env = "TESSERA_LISTEN")]
    pub listen: Option<String>,
    /// Seconds a lease lives without a heartbeat (default 120).
    #[arg(long)]
    pub lease_ttl: Option<u64>,
    /// Seconds between a client's heartbeats (default 30).
    #[arg(long)]
    pub heartbeat: Option<u64>,
    /// Longest borrow this server allows, in hours (default 168).
    #[arg(long)]
    pub max_borrow_hours: Option<u32>,
    /// Requests per second one client address may send, twice that in a burst (default 200; 0: no limit).
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Send this server's daily usage figures (no names) to the vendor's portal at URL, so
    /// the vendor's reports cover it too. Off unless set.
    #[arg(long, env = "TESSERA_REPORT_USAGE", value_name = "URL")]
    pub report_usage: Option<String>,
    /// Seconds between usage reports (default 3600).
    #[arg(long, value_name = "SECONDS")]
    pub report_usage_every: Option<u64>,
    /// A reverse proxy or load balancer in front of the server, whose X-Forwarded-For
    /// names the client (repeat for several; default: none, the header is ignored).
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<String>,
    /// Lend seats only to programs that send a site key (made with `tessera server
    /// site-key add NAME`); default: open to the office network, or `require_site_key`
    /// in tessera.toml.
    #[arg(long)]
    pub require_site_key: bool,
    /// A token for Prometheus to read /metrics with (besides the admin token); default:
    /// `metrics_token` in tessera.toml, or none.
    #[arg(long, env = "TESSERA_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// This node's name, shown by `tessera status` and the live page (default: the host
    /// name and port); useful with several nodes on one --database-url.
    #[arg(long, env = "TESSERA_NODE_NAME")]
    pub node_name: Option<String>,
}

#[derive(Subcommand)]
pub enum SiteKeyCmd {
    /// Makes a site key named NAME and prints it once (only its hash is kept).
    Add {
        #[command(flatten)]
        data: DataArg,
        name: String,
    },
    /// Lists the site keys: name, when made, last use and from where, revoked or not.
    List {
        #[command(flatten)]
        data: DataArg,
    },
    /// Revokes the site key named NAME (or with that id): its seats end at once and
    /// its programs learn at their next heartbeat.
    Revoke {
        #[command(flatten)]
        data: DataArg,
        name: String,
    },
}

#[derive(Subcommand)]
pub enum ServerCmd {
    /// Prints this server's registration key.
    RegistrationKey(DataArg),
    /// Imports an activation key from FILE, or from standard input with `-`.
    Activate {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        vendor: VendorKeyArg,
        file: String,
    },
    /// Prints the admin token for the admin API and the live page.
    AdminToken {
        #[command(flatten)]
        data: DataArg,
        /// Make a new token; the old one stops working.
        #[arg(long)]
        rotate: bool,
    },
    /// Writes a consistent backup of the data folder to DEST (a new folder), while the
    /// server runs: keys, admin token, settings, policy, activations, leases and borrows.
    Backup {
        #[command(flatten)]
        data: DataArg,
        dest: PathBuf,
    },
    /// Puts a backup back into the data folder; the server must be stopped.
    Restore {
        #[command(flatten)]
        data: DataArg,
        from: PathBuf,
    },
    /// Site keys, for a server started with `--require-site-key`: programs send one
    /// (TESSERA_SITE_KEY, or site_key in client.toml) to take a seat.
    #[command(subcommand)]
    SiteKey(SiteKeyCmd),
}

#[derive(Args, Clone)]
pub struct ServerUrlArg {
    /// The license server's URL (http://HOST:27080, or https://PORTAL/w/ORG); several
    /// nodes of one server separated by commas (http://a:27080,http://b:27080).
    #[arg(long, env = "TESSERA_SERVER")]
    pub server: Option<String>,
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub server: ServerUrlArg,
    /// The admin token, to list every seat in use.
    #[arg(long, env = "TESSERA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct CheckoutArgs {
    pub product: String,
    #[command(flatten)]
    pub server: ServerUrlArg,
    #[command(flatten)]
    pub vendor: VendorKeyArg,
    /// The user name (default: who you are logged in as).
    #[arg(long)]
    pub user: Option<String>,
    /// Keep the seat (heartbeating) until Ctrl-C or SIGTERM, then check in.
    #[arg(long)]
    pub hold: bool,
    /// Wait up to this many seconds for a seat to free.
    #[arg(long)]
    pub wait: Option<u64>,
}

#[derive(Args)]
pub struct BorrowArgs {
    pub product: String,
    /// How many hours to keep it (at most what the license allows; never past its end).
    #[arg(long)]
    pub hours: u32,
    #[command(flatten)]
    pub server: ServerUrlArg,
    #[command(flatten)]
    pub vendor: VendorKeyArg,
    /// The user name (default: who you are logged in as).
    #[arg(long)]
    pub user: Option<String>,
}

#[derive(Args)]
pub struct ReturnArgs {
    pub product: String,
    #[command(flatten)]
    pub server: ServerUrlArg,
}

#[derive(Args)]
pub struct LoginArgs {
    /// The vendor's portal (https://portal.example).
    #[arg(long, env = "TESSERA_PORTAL")]
    pub portal: String,
    /// The person's e-mail address (with the password, from a prompt or TESSERA_PASSWORD).
    #[arg(
        long,
        env = "TESSERA_EMAIL",
        required_unless_present = "browser",
        conflicts_with = "browser"
    )]
    pub email: Option<String>,
    /// Sign in through the browser instead: the portal's own sign-in and an approval of
    /// this computer there; no password passes through this command.
    #[arg(long)]
    pub browser: bool,
    /// With --browser: only print the address and code, open no browser.
    #[arg(long, requires = "browser")]
    pub no_open: bool,
    /// Sign in for this product (default: any the person holds a seat of).
    #[arg(long)]
    pub product: Option<String>,
    #[command(flatten)]
    pub vendor: VendorKeyArg,
}

#[derive(Args)]
pub struct UseTokensArgs {
    pub product: String,
    /// How long the program has run, in seconds (a use shorter than the portal's free
    /// minutes is not charged); absent: charged.
    #[arg(long)]
    pub used_seconds: Option<u64>,
    #[command(flatten)]
    pub vendor: VendorKeyArg,
}

#[derive(Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    pub vendor: VendorKeyArg,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Where the demo keeps its keys and database.
    #[arg(long, env = "TESSERA_DEMO_DATA")]
    pub data: Option<PathBuf>,
    /// Address of the demo's license server.
    #[arg(long, default_value = "127.0.0.1:27080")]
    pub listen: String,
    /// Address of the demo's portal.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub portal_listen: String,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Vendor(VendorCmd::Keygen { out, force }) => vendor_cmd::keygen(&out, force),
        Command::Vendor(VendorCmd::Issue(args)) => vendor_cmd::issue(args),
        Command::Vendor(VendorCmd::Sign(args)) => vendor_cmd::sign(args),
        Command::Vendor(VendorCmd::Verify(args)) => vendor_cmd::verify(args),
        Command::Server(args) => match args.command {
            None => server_cmd::run(args.run),
            Some(ServerCmd::RegistrationKey(data)) => server_cmd::registration_key(data),
            Some(ServerCmd::Activate { data, vendor, file }) => {
                server_cmd::activate(data, vendor, &file)
            }
            Some(ServerCmd::AdminToken { data, rotate }) => server_cmd::admin_token(data, rotate),
            Some(ServerCmd::Backup { data, dest }) => server_cmd::backup(data, &dest),
            Some(ServerCmd::Restore { data, from }) => server_cmd::restore(data, &from),
            Some(ServerCmd::SiteKey(cmd)) => server_cmd::site_key(cmd),
        },
        Command::Status(args) => client_cmd::status(args),
        Command::Checkout(args) => match login_cmd::checkout(&args)? {
            Some(code) => Ok(code),
            None => client_cmd::checkout(args),
        },
        Command::Login(args) => login_cmd::login(args),
        Command::Logout(args) => login_cmd::logout(args),
        Command::UseTokens(args) => login_cmd::use_tokens(args),
        Command::Borrow(args) => client_cmd::borrow(args),
        Command::Return(args) => client_cmd::return_borrow(args),
        Command::Portal(args) => portal_cmd::run(args),
        Command::Demo(args) => demo::run(args),
    }
}
