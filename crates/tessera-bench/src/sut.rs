//! The systems under test: server processes started from the real binaries, on loopback,
//! each with what the load needs (an activated pool for the license server).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::http::Conn;
use crate::load::{Dest, Realm};

/// Which license server the load is driven against. Each variant knows how to set up a
/// fresh instance with one large pool of `PRODUCT` and how to crash and restart it; the
/// phases only see the resulting [`Server`] (an address, a process and a product).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The LAN license server (`tessera server`) on its embedded SQLite database, in a
    /// fresh data folder.
    Lan,
    /// Two LAN license server nodes (`tessera server --database-url`) on one fresh
    /// PostgreSQL database: the failover phase only (see `cluster.rs`).
    LanCluster,
    /// The portal's web license server (`tessera portal --database-url`) on a fresh
    /// PostgreSQL database, with `--organizations` organizations, each with a Paid "Use
    /// Web License Server" order and a site key, on `--nodes` portal processes.
    Web,
}

impl Target {
    pub fn describe(self) -> &'static str {
        match self {
            Target::Lan => "LAN license server (tessera server, SQLite, synchronous=FULL)",
            Target::LanCluster => {
                "two LAN license server nodes (tessera server --database-url, PostgreSQL)"
            }
            Target::Web => {
                "web license server (tessera portal --database-url, PostgreSQL), one realm per organization"
            }
        }
    }
}

/// The product of the benchmark's pool.
pub const PRODUCT: &str = "bench-cad";

/// How to start the system under test.
pub struct SetupOpts {
    pub tessera: PathBuf,
    pub work_dir: Option<PathBuf>,
    pub seats: u32,
    /// More pools, one product each (product, seats), each from its own activation key.
    pub extra_pools: Vec<(String, u32)>,
    pub lease_ttl_s: u64,
    pub heartbeat_s: u64,
    /// With `Target::Web`: the PostgreSQL server to make the run's database in, the
    /// organizations and the portal nodes.
    pub database_url: String,
    pub organizations: u64,
    pub nodes: usize,
}

/// A server process on a loopback port: what the phases drive and measure.
pub struct Server {
    pub addr: SocketAddr,
    child: Child,
    restart: RestartSpec,
    /// What says the server is up: `GET` of this path with this bearer answers 200.
    probe: (String, Option<String>),
    /// The server's standard error, kept for when something goes wrong.
    pub log: PathBuf,
    /// The database's write-ahead log, when the server has one.
    pub wal: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

/// How a server is started again on the same state and port after a crash: the
/// program and its arguments (`tessera` with no Tessera settings from the environment).
struct RestartSpec {
    program: PathBuf,
    args: Vec<String>,
    tessera: bool,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server log's warnings and errors, grouped by what they say (without their
    /// timestamps and details), most frequent first, with how often each came.
    pub fn log_problems(&self, max: usize) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut counts: Vec<(String, usize)> = Vec::new();
        for line in text.lines() {
            let line = strip_ansi(line);
            if !(line.contains("ERROR") || line.contains("WARN")) {
                continue;
            }
            let rest = line
                .split_once(' ')
                .map_or(line.as_str(), |(_, r)| r)
                .trim();
            let key: String = rest
                .split(" db.statement=")
                .next()
                .unwrap_or(rest)
                .chars()
                .take(160)
                .collect();
            match counts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => counts.push((key, 1)),
            }
        }
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        counts
            .into_iter()
            .take(max)
            .map(|(k, n)| format!("{n} × {k}"))
            .collect()
    }

    /// Stops the server with SIGKILL: no chance to tidy up, as in a crash or a power cut
    /// (for the process; the disk keeps what was synced).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The path whose answer says the server is up (`/api/v1/server`, or a realm's).
    pub fn probe_path(&self) -> &str {
        &self.probe.0
    }

    /// Starts the server again on the same state and port; returns how long it took
    /// until `GET /api/v1/server` (of a realm, on the web license server) answered 200.
    pub async fn restart_timed(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let RestartSpec {
            program,
            args,
            tessera,
        } = &self.restart;
        let mut cmd = if *tessera {
            tessera_cmd(program)
        } else {
            Command::new(program)
        };
        cmd.args(args);
        let (child, addr) = spawn_listening(cmd, &self.log)?;
        if addr != self.addr {
            bail!("the server came back on {addr}, not {}", self.addr);
        }
        self.child = child;
        let deadline = started + Duration::from_secs(60);
        let mut conn = Conn::new(self.addr);
        let (path, bearer) = &self.probe;
        let bearer: Vec<&str> = bearer.as_deref().into_iter().collect();
        loop {
            if let Ok(r) = conn.request("GET", path, &bearer, None).await
                && r.status == 200
            {
                return Ok(started.elapsed());
            }
            if Instant::now() > deadline {
                bail!("the server did not answer within 60 s of its restart");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finds the `tessera` binary: `--tessera`, else next to this program (the same target
/// folder), else one folder up (for test binaries in `deps/`).
pub fn find_tessera(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    let me = std::env::current_exe().context("cannot find this program's path")?;
    let name = format!("tessera{}", std::env::consts::EXE_SUFFIX);
    for dir in me.ancestors().skip(1).take(2) {
        let candidate = dir.join(&name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "no `tessera` binary next to {}; build it (cargo build --release -p tessera) or pass --tessera PATH",
        me.display()
    )
}

/// A command of the tessera binary with no Tessera settings from the environment.
fn tessera_cmd(bin: &Path) -> Command {
    let mut c = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TESSERA_") {
            c.env_remove(k);
        }
    }
    c.env("TESSERA_MACHINE_ID", MACHINE_ID);
    c
}

const MACHINE_ID: &str = "tessera-bench-machine";

fn run_ok(mut cmd: Command, what: &str) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A system under test as the phases see it: its server processes (node 0 is the one
/// killed), and where the load goes.
pub struct Sut {
    pub nodes: Vec<Server>,
    pub dest: Dest,
    /// Dropped after the nodes (fields drop in order): the database goes last.
    _db: Option<Database>,
}

impl Sut {
    /// The server processes now.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(Server::pid).collect()
    }

    /// The database's write-ahead log, when the server has one of its own.
    pub fn wal(&self) -> Option<PathBuf> {
        self.nodes[0].wal.clone()
    }
}

/// Sets up and starts a fresh instance of `target`.
pub fn start(target: Target, opts: &SetupOpts) -> anyhow::Result<Sut> {
    match target {
        Target::Lan => {
            let server = start_lan(opts)?;
            Ok(Sut {
                dest: Dest::lan(server.addr),
                nodes: vec![server],
                _db: None,
            })
        }
        Target::Web => start_web(opts),
        Target::LanCluster => bail!("the lan-cluster target is started by `start_cluster`"),
    }
}

/// A work folder for one run: in `work_dir` when given, else the system's temp folder.
fn work_folder(work_dir: Option<&Path>) -> anyhow::Result<tempfile::TempDir> {
    Ok(match work_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            tempfile::Builder::new()
                .prefix("tessera-bench-")
                .tempdir_in(d)?
        }
        None => tempfile::Builder::new()
            .prefix("tessera-bench-")
            .tempdir()?,
    })
}

/// Starts one node of `tessera` (the LAN server, a cluster's node, a portal) with `args`
/// and `--listen 127.0.0.1:0`, its standard error to `log`, and waits until it listens;
/// it is restarted on the port it got.
fn start_node(
    bin: &Path,
    mut args: Vec<String>,
    log: PathBuf,
    probe: (String, Option<String>),
    wal: Option<PathBuf>,
) -> anyhow::Result<Server> {
    args.push("--listen".into());
    let mut first = tessera_cmd(bin);
    first.args(&args).arg("127.0.0.1:0");
    let (child, addr) = spawn_listening(first, &log)?;
    args.push(addr.to_string());
    Ok(Server {
        addr,
        child,
        restart: RestartSpec {
            program: bin.to_owned(),
            args,
            tessera: true,
        },
        probe,
        log,
        wal,
        _dir: None,
    })
}

/// The LAN server's probe: `GET /api/v1/server` needs no credential there.
fn lan_probe() -> (String, Option<String>) {
    ("/api/v1/server".into(), None)
}

/// One organization as `tessera portal bench-seed` prints it.
#[derive(serde::Deserialize)]
struct SeededOrg {
    org: String,
    site_key: String,
}

/// The web license server: a fresh database in the PostgreSQL server at
/// `opts.database_url`; `opts.organizations` organizations set up by `tessera portal
/// bench-seed` (accounts, Paid "Use Web License Server" orders of `opts.seats` seats of
/// the sample catalog's `autocad`, a site key each, all through the portal's own code);
/// then `opts.nodes` `tessera portal` processes on it, each on a free loopback port.
fn start_web(opts: &SetupOpts) -> anyhow::Result<Sut> {
    let db = Database::create(&opts.database_url)?;
    let dir = work_folder(opts.work_dir.as_deref())?;
    let bin = &opts.tessera;
    let seed_dir = dir.path().join("seed");
    let started = Instant::now();
    let mut c = tessera_cmd(bin);
    c.arg("portal")
        .arg("--data")
        .arg(&seed_dir)
        .args(["--database-url", &db.url, "--new-vendor-key", "bench-seed"])
        .args(["--organizations", &opts.organizations.to_string()])
        .args(["--seats", &opts.seats.to_string()]);
    let out = run_ok(c, "tessera portal bench-seed")?;
    let mut realms = Vec::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let org: SeededOrg = serde_json::from_str(line)
            .with_context(|| format!("tessera portal bench-seed printed `{line}`"))?;
        realms.push(Realm::new(&format!("/w/{}", org.org), Some(&org.site_key)));
    }
    if realms.len() as u64 != opts.organizations {
        bail!(
            "tessera portal bench-seed made {} organizations of {}",
            realms.len(),
            opts.organizations
        );
    }
    // In order of slug (bench-org-00000, …): the first is the growth phase's.
    realms.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    println!(
        "  {} organizations with a Paid web order of {} seats and a site key each, in {:.1} s",
        realms.len(),
        opts.seats,
        started.elapsed().as_secs_f64()
    );
    let probe = (
        format!("{}/api/v1/server", realms[0].prefix),
        realms[0].bearer.as_deref().map(str::to_owned),
    );
    let vendor_secret = seed_dir.join("vendor.secret");
    let mut nodes = Vec::new();
    for n in 0..opts.nodes.max(1) {
        let data = dir.path().join(format!("node-{n}"));
        let args: Vec<String> = vec![
            "portal".into(),
            "--data".into(),
            data.to_string_lossy().into_owned(),
            "--database-url".into(),
            db.url.clone(),
            "--vendor-secret-key".into(),
            vendor_secret.to_string_lossy().into_owned(),
            "--web-lease-ttl".into(),
            opts.lease_ttl_s.to_string(),
            "--web-heartbeat".into(),
            opts.heartbeat_s.to_string(),
            // Every simulated client comes from 127.0.0.1 with its organization's one
            // site key: no per-address, per-organization or per-credential limits.
            "--rate-limit".into(),
            "0".into(),
            "--org-rate-limit".into(),
            "0".into(),
            "--credential-rate-limit".into(),
            "0".into(),
        ];
        let log = dir.path().join(format!("node-{n}.log"));
        nodes.push(start_node(bin, args, log, probe.clone(), None)?);
    }
    // The folder with the keys, data folders and logs lives as long as the first node.
    nodes[0]._dir = Some(dir);
    let dest = Dest {
        nodes: nodes.iter().map(|n| n.addr).collect(),
        realms: realms.into(),
        product: WEB_PRODUCT.into(),
    };
    Ok(Sut {
        nodes,
        dest,
        _db: Some(db),
    })
}

/// The product of the sample catalog's `autocad-1y` option, which `bench-seed` orders.
pub const WEB_PRODUCT: &str = "autocad";

/// A database made for one run in a PostgreSQL server, dropped (with `psql`) at the end.
pub struct Database {
    admin_url: String,
    name: String,
    pub url: String,
}

impl Database {
    /// Makes a fresh database in the server at `admin_url` with `psql`.
    pub fn create(admin_url: &str) -> anyhow::Result<Database> {
        let name = format!(
            "tessera_bench_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        psql(admin_url, &format!("CREATE DATABASE {name}"))?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(base, _)| base);
        Ok(Database {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let mut c = Command::new("psql");
    c.args([
        "--quiet",
        "--no-psqlrc",
        "-v",
        "ON_ERROR_STOP=1",
        "--dbname",
        url,
        "-c",
        sql,
    ]);
    run_ok(
        c,
        "psql (the lan-cluster and web targets need PostgreSQL's psql)",
    )
    .map(drop)
}

/// Two nodes of a LAN server on one PostgreSQL database, each a [`Server`] that can be
/// killed and restarted on its port.
pub struct Cluster {
    pub nodes: Vec<Server>,
    /// Dropped after the nodes (fields drop in order): the database goes last.
    _db: Database,
}

/// Sets up a LAN server on a fresh database in the PostgreSQL server at `admin_url`:
/// vendor keys, the registration key, an activation key with one pool of `seats` seats
/// imported with `tessera server activate --database-url`, then two `tessera server`
/// nodes on it, each on a free loopback port.
pub fn start_cluster(opts: &SetupOpts, admin_url: &str) -> anyhow::Result<Cluster> {
    let db = Database::create(admin_url)?;
    let dir = tempfile::Builder::new()
        .prefix("tessera-bench-")
        .tempdir()?;
    let vendor = dir.path().join("vendor");
    let bin = &opts.tessera;
    let mut c = tessera_cmd(bin);
    c.args(["vendor", "keygen", "--out"]).arg(&vendor);
    run_ok(c, "tessera vendor keygen")?;
    let vendor_public = vendor.join("vendor.public");
    let mut c = tessera_cmd(bin);
    c.args(["server", "registration-key", "--database-url", &db.url]);
    let registration_key = run_ok(c, "tessera server registration-key")?;
    let key_file = dir.path().join("activation.key");
    let mut c = tessera_cmd(bin);
    c.args(["vendor", "issue", "--secret-key"])
        .arg(vendor.join("vendor.secret"))
        .args(["--registration-key", &registration_key])
        .args(["--org", "Benchmark Office", "--product", PRODUCT])
        .args(["--pool-id", &format!("pool-{PRODUCT}")])
        .args(["--seats", &opts.seats.to_string(), "--days", "30", "--out"])
        .arg(&key_file);
    run_ok(c, "tessera vendor issue")?;
    let mut c = tessera_cmd(bin);
    c.args(["server", "activate", "--database-url", &db.url])
        .arg("--vendor-public-key")
        .arg(&vendor_public)
        .arg(&key_file);
    run_ok(c, "tessera server activate")?;

    let mut nodes = Vec::new();
    for name in ["node-a", "node-b"] {
        let log = dir.path().join(format!("{name}.log"));
        let args: Vec<String> = vec![
            "server".into(),
            "--database-url".into(),
            db.url.clone(),
            "--node-name".into(),
            name.into(),
            "--vendor-public-key".into(),
            vendor_public.to_string_lossy().into_owned(),
            "--lease-ttl".into(),
            opts.lease_ttl_s.to_string(),
            "--heartbeat".into(),
            opts.heartbeat_s.to_string(),
            "--rate-limit".into(),
            "0".into(),
        ];
        nodes.push(start_node(bin, args, log, lan_probe(), None)?);
    }
    // The folder with the keys and logs lives as long as the first node.
    nodes[0]._dir = Some(dir);
    Ok(Cluster { nodes, _db: db })
}

/// A LAN server as an office sets one up: vendor keys, the server's registration key,
/// an activation key with one pool of `seats` seats, imported with `tessera server
/// activate`, then `tessera server` on 127.0.0.1 with a free port.
fn start_lan(opts: &SetupOpts) -> anyhow::Result<Server> {
    let dir = work_folder(opts.work_dir.as_deref())?;
    let vendor = dir.path().join("vendor");
    let data = dir.path().join("server");
    let bin = &opts.tessera;

    let mut c = tessera_cmd(bin);
    c.args(["vendor", "keygen", "--out"]).arg(&vendor);
    run_ok(c, "tessera vendor keygen")?;
    let vendor_public = vendor.join("vendor.public");

    let mut c = tessera_cmd(bin);
    c.args(["server", "registration-key", "--data"]).arg(&data);
    let registration_key = run_ok(c, "tessera server registration-key")?;

    let pools = std::iter::once((PRODUCT.to_owned(), opts.seats)).chain(opts.extra_pools.clone());
    for (n, (product, seats)) in pools.enumerate() {
        let key_file = dir.path().join(format!("activation-{n}.key"));
        let mut c = tessera_cmd(bin);
        c.args(["vendor", "issue", "--secret-key"])
            .arg(vendor.join("vendor.secret"))
            .args(["--registration-key", &registration_key])
            .args(["--org", "Benchmark Office", "--product", &product])
            .args(["--pool-id", &format!("pool-{product}")])
            .args(["--seats", &seats.to_string(), "--days", "30", "--out"])
            .arg(&key_file);
        run_ok(c, "tessera vendor issue")?;

        let mut c = tessera_cmd(bin);
        c.args(["server", "activate", "--data"])
            .arg(&data)
            .arg("--vendor-public-key")
            .arg(&vendor_public)
            .arg(&key_file);
        run_ok(c, "tessera server activate")?;
    }

    let log = dir.path().join("server.log");
    let args: Vec<String> = vec![
        "server".into(),
        "--data".into(),
        data.to_string_lossy().into_owned(),
        "--vendor-public-key".into(),
        vendor_public.to_string_lossy().into_owned(),
        "--lease-ttl".into(),
        opts.lease_ttl_s.to_string(),
        "--heartbeat".into(),
        opts.heartbeat_s.to_string(),
        // Every simulated client comes from 127.0.0.1: the per-address limit is for
        // offices' networks, not for one load generator standing in for thousands.
        "--rate-limit".into(),
        "0".into(),
    ];
    let mut server = start_node(
        bin,
        args,
        log,
        lan_probe(),
        Some(data.join("tessera.db-wal")),
    )?;
    server._dir = Some(dir);
    Ok(server)
}

/// Starts the trivial HTTP server (`tessera-bench trivial-server`), the ceiling.
pub fn start_trivial(log: &Path) -> anyhow::Result<Server> {
    let me = std::env::current_exe()?;
    let mut cmd = Command::new(&me);
    cmd.args(["trivial-server", "--listen", "127.0.0.1:0"]);
    let (child, addr) = spawn_listening(cmd, log)?;
    Ok(Server {
        addr,
        child,
        restart: RestartSpec {
            program: me,
            args: vec!["trivial-server".into(), "--listen".into(), addr.to_string()],
            tessera: false,
        },
        probe: lan_probe(),
        log: log.to_owned(),
        wal: None,
        _dir: None,
    })
}

/// Spawns `cmd` with its standard error appended to `log`, and waits for its
/// `listening on http://ADDR` line; keeps draining its standard output after.
fn spawn_listening(mut cmd: Command, log: &Path) -> anyhow::Result<(Child, SocketAddr)> {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file));
    let mut child = cmd.spawn().context("cannot start the server process")?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && let Some(url) = line.strip_prefix("listening on http://") {
                let _ = tx.send(url.trim().parse::<SocketAddr>().ok());
                sent = true;
            }
        }
        if !sent {
            let _ = tx.send(None);
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Some(addr)) => Ok((child, addr)),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            bail!(
                "the server did not start listening; its log ends:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        }
    }
}

/// The text of a log line without its terminal colours.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ … final byte in @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
