//! `tessera-bench`: drives a real license server over loopback with many simulated
//! clients and prints what it sustains (checkouts and heartbeats per second, latency,
//! the server's memory and CPU, start-up after a crash) next to a trivial HTTP handler
//! on the same machine in the same run, the ceiling. `--target web` runs the same phases
//! against the portal's web license server on PostgreSQL, over many organizations'
//! realms, on one or two portal nodes. `--target lan-cluster` measures instead how
//! programs fail over when one of two nodes on PostgreSQL is killed.

mod cluster;
mod http;
mod load;
mod procstat;
mod report;
mod sut;
mod trivial;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::load::{Job, Outcome, ms};
use crate::procstat::{Sampler, Usage};
use crate::report::{Check, Report, Row};
use crate::sut::{SetupOpts, Target};

#[derive(Parser)]
#[command(
    name = "tessera-bench",
    version,
    about = "Load generator for the Tessera license server (loopback only)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serves a trivial JSON answer to every request (the ceiling the benchmark compares
    /// with); prints `listening on http://ADDR`.
    TrivialServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Phase {
    /// The trivial handler's request rate.
    Ceiling,
    /// Checkout + checkin cycles, closed loop.
    Cycles,
    /// Heartbeats on pre-made leases, closed loop.
    Heartbeats,
    /// Cycles and heartbeats at half their peak rate, open loop.
    Latency,
    /// One pool filling up with live leases: how checkout cost grows with them.
    Growth,
    /// Many live leases heartbeating: memory; then kill -9 and start-up time.
    Scale,
}

#[derive(Args, Clone)]
struct RunArgs {
    /// The system under test.
    #[arg(long, value_enum, default_value = "lan")]
    target: Target,
    /// The `tessera` binary (default: next to this program).
    #[arg(long)]
    tessera: Option<PathBuf>,
    /// Small numbers for a smoke run: 2 s phases, 5,000 leases in the scale phase (2,000
    /// over 20 organizations with `--target web`).
    #[arg(long)]
    quick: bool,
    /// Connections at once in the closed-loop phases.
    #[arg(long, short = 'c', default_value_t = 32)]
    concurrency: usize,
    /// Seconds of each throughput and latency phase [default: 10, quick 2].
    #[arg(long)]
    duration: Option<u64>,
    /// Leases heartbeated in the heartbeat phase [default: 2000, quick 200].
    #[arg(long)]
    heartbeat_leases: Option<u64>,
    /// Live leases in the scale phase [default: 1000000, web 100000; quick 5000, web 2000].
    #[arg(long)]
    scale_leases: Option<u64>,
    /// Pools (one product each) the scale phase's leases are spread over, as many
    /// offices' or products' pools on one server [default: 100, quick 10].
    #[arg(long)]
    scale_pools: Option<u64>,
    /// Live leases the growth phase puts in one pool [default: 5000, quick 1000].
    #[arg(long)]
    growth_leases: Option<u64>,
    /// Seconds the scale phase heartbeats its leases [default: 30, quick 3].
    #[arg(long)]
    scale_duration: Option<u64>,
    /// Longest time to spend taking the scale phase's leases, in seconds [default: 1200,
    /// quick 120]; the phase goes on with those made by then.
    #[arg(long)]
    scale_create_limit: Option<u64>,
    /// The heartbeat interval the server announces; the scale phase heartbeats every
    /// lease once per interval.
    #[arg(long, default_value_t = 30)]
    heartbeat_interval: u64,
    /// The lease TTL of the server: long, so that no lease lapses during the run.
    #[arg(long, default_value_t = 3600)]
    lease_ttl: u64,
    /// Connections of the open-loop phases (requests wait for a free one).
    #[arg(long, default_value_t = 64)]
    open_connections: usize,
    /// Threads of the load generator's runtime. One leaves the most CPU to the server
    /// on a small machine; the ceiling is measured with the same setting.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Where to make the temporary data folder (default: the system's temp folder). It
    /// should be on the disk the server would use: fsync speed decides durable writes.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// With `--target lan-cluster` or `web`: a PostgreSQL server to make the run's
    /// database in (dropped at the end; needs `psql`).
    #[arg(
        long,
        env = "TESSERA_BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// With `--target lan-cluster`: programs holding a lease through the kill [default:
    /// 300, quick 30].
    #[arg(long)]
    programs: Option<u64>,
    /// With `--target web`: organizations, each with its web license server (a realm at
    /// `/w/ORG`), a Paid order and a site key; each phase's leases are spread over them
    /// [default: 1000, quick 20].
    #[arg(long)]
    organizations: Option<u64>,
    /// With `--target web`: portal processes on the one database; the load's connections
    /// are spread over them, and the scale phase kills and restarts the first.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// With `--target web`: run the LAN license server first with the same phases and
    /// numbers, and print its req/s and p99 beside each web figure (and its targets).
    #[arg(long)]
    compare_lan: bool,
    /// Phases to run, comma-separated [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    phases: Vec<Phase>,
}

/// The settings of one run, with the mode's defaults filled in.
struct Plan {
    args: RunArgs,
    dur: Duration,
    hb_leases: u64,
    scale_leases: u64,
    scale_pools: u64,
    growth_leases: u64,
    scale_dur: Duration,
    scale_limit: Duration,
    organizations: u64,
    phases: Vec<Phase>,
}

impl Plan {
    fn new(args: RunArgs) -> Plan {
        let q = args.quick;
        let pick =
            |v: Option<u64>, full: u64, quick: u64| v.unwrap_or(if q { quick } else { full });
        let phases = if args.phases.is_empty() {
            Phase::value_variants().to_vec()
        } else {
            args.phases.clone()
        };
        let web = args.target == Target::Web;
        Plan {
            dur: Duration::from_secs(pick(args.duration, 10, 2)),
            hb_leases: pick(args.heartbeat_leases, 2000, 200),
            // A million live leases on one LAN node; the web target's figure is 100,000
            // over its organizations.
            scale_leases: pick(
                args.scale_leases,
                if web { 100_000 } else { 1_000_000 },
                if web { 2000 } else { 5000 },
            ),
            scale_pools: pick(args.scale_pools, 100, 10).max(1),
            growth_leases: pick(args.growth_leases, 5000, 1000),
            scale_dur: Duration::from_secs(pick(args.scale_duration, 30, 3)),
            scale_limit: Duration::from_secs(pick(args.scale_create_limit, 1200, 120)),
            organizations: pick(args.organizations, 1000, 20).max(1),
            phases,
            args,
        }
    }

    fn runs(&self, p: Phase) -> bool {
        self.phases.contains(&p)
    }

    fn web(&self) -> bool {
        self.args.target == Target::Web
    }

    /// The products of the pools a phase's leases are spread over: the LAN server's own
    /// pool of `product`; on the web license server every organization's one pool.
    fn pools(&self, product: &str) -> Vec<String> {
        if self.web() {
            Vec::new()
        } else {
            vec![product.to_owned()]
        }
    }

    /// The p99 latency target: 5 ms on the LAN server, 10 ms on the web license server.
    fn p99_target_ms(&self) -> u32 {
        if self.web() { 10 } else { 5 }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Cmd::TrivialServer { listen }) => trivial::serve(&listen),
        None => run(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let plan = Plan::new(args);
    runtime.block_on(bench(plan))
}

/// Prints a progress line at once (the table comes at the end).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write;
        println!($($t)*);
        let _ = std::io::stdout().flush();
    }};
}

/// The product of the heartbeat phases' pool (apart, so the main pool stays empty for
/// the cycles).
const HB_PRODUCT: &str = "bench-hb";

/// The product of the leases taken while the server is killed (an empty pool, so that
/// checkouts are quick and many are in flight at the kill).
const CRASH_PRODUCT: &str = "bench-crash";

/// The products of the scale phase's pools.
fn scale_products(plan: &Plan) -> Vec<String> {
    (0..plan.scale_pools)
        .map(|i| format!("bench-p{i:03}"))
        .collect()
}

fn row(name: String, out: &mut Outcome, usage: Usage) -> Row {
    Row {
        name,
        requests: out.rec.count(),
        errors: out.rec.errors,
        rate: out.rec.count() as f64 / out.wall.as_secs_f64().max(1e-9),
        lat: out.rec.percentiles(),
        usage: Some(usage),
        detail: std::mem::take(&mut out.detail)
            .into_iter()
            .chain(out.rec.samples.iter().map(|s| format!("error: {s}")))
            .collect(),
    }
}

async fn bench(plan: Plan) -> anyhow::Result<()> {
    let a = &plan.args;
    let c = a.concurrency.max(1);
    let tessera = sut::find_tessera(a.tessera.clone())?;
    let mut rep = Report::new(plan.args.quick);
    rep.header
        .push(format!("target:       {}", a.target.describe()));
    rep.header
        .push(format!("tessera:      {}", tessera.display()));
    rep.header.push(format!(
        "machine:      {} CPUs; load average at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        procstat::loadavg()
    ));
    if a.target == Target::LanCluster {
        rep.header.push(format!(
            "settings:     {} programs, heartbeat every {} s, lease TTL {} s, node A killed after {} s, concurrency {c} for the checkouts",
            a.programs.unwrap_or(if a.quick { 30 } else { 300 }),
            a.heartbeat_interval,
            a.lease_ttl,
            plan.dur.as_secs(),
        ));
    } else {
        if a.target == Target::Web {
            rep.header.push(format!(
                "web:          {} organizations (a realm, a Paid web order and a site key each), {} portal node(s) on one PostgreSQL database",
                plan.organizations,
                a.nodes.max(1)
            ));
            rep.header.push(
                "measured:     server RSS and CPU are the portal processes' (added up), not PostgreSQL's".into(),
            );
        }
        rep.header.push(format!(
        "settings:     concurrency {c}, phases of {} s, {} heartbeat leases, {} growth leases in one pool, {} scale leases over {}, heartbeat every {} s, lease TTL {} s, {} client thread(s), {} open-loop connections",
        plan.dur.as_secs(),
        plan.hb_leases,
        plan.growth_leases,
        plan.scale_leases,
        if plan.web() {
            format!("{} organizations", plan.organizations)
        } else {
            format!("{} pools", plan.scale_pools)
        },
        a.heartbeat_interval,
        a.lease_ttl,
        a.client_threads,
        a.open_connections,
    ));
    }
    for line in &rep.header {
        say!("{line}");
    }
    if a.target == Target::LanCluster {
        let programs = a.programs.unwrap_or(if a.quick { 30 } else { 300 });
        let opts = SetupOpts {
            tessera: tessera.clone(),
            work_dir: a.work_dir.clone(),
            seats: u32::try_from(programs + 100).unwrap_or(u32::MAX),
            extra_pools: Vec::new(),
            lease_ttl_s: a.lease_ttl,
            // The failover is measured at a heartbeat interval an office would use with
            // several nodes; --heartbeat-interval sets it.
            heartbeat_s: a.heartbeat_interval,
            database_url: a.database_url.clone(),
            organizations: 1,
            nodes: 2,
        };
        cluster::run(&opts, &a.database_url, programs, c, plan.dur, &mut rep).await?;
        rep.header
            .push(format!("load average at end: {}", procstat::loadavg()));
        say!("");
        say!("{}", rep.render());
        return Ok(());
    }

    if a.compare_lan && a.target == Target::Web {
        say!("--compare-lan: the LAN license server first, with the same phases and numbers …");
        let mut lan_args = a.clone();
        lan_args.target = Target::Lan;
        let mut lan_plan = Plan::new(lan_args);
        lan_plan.scale_leases = plan.scale_leases;
        let mut lan = Report::new(a.quick);
        phases(&lan_plan, &tessera, &mut lan).await?;
        rep.compare = Some(Box::new(lan));
        say!("--compare-lan: now the web license server …");
    }
    phases(&plan, &tessera, &mut rep).await?;
    rep.header
        .push(format!("load average at end: {}", procstat::loadavg()));
    say!("");
    say!("{}", rep.render());
    Ok(())
}

/// Runs the phases against a fresh instance of `plan`'s target, into `rep`.
async fn phases(plan: &Plan, tessera: &std::path::Path, rep: &mut Report) -> anyhow::Result<()> {
    let a = &plan.args;
    let c = a.concurrency.max(1);
    // (1) The ceiling, in its own process.
    let scratch = tempfile::tempdir()?;
    if plan.runs(Phase::Ceiling) {
        say!(
            "phase: ceiling (trivial handler), {} s …",
            plan.dur.as_secs()
        );
        let trivial = sut::start_trivial(&scratch.path().join("trivial.log"))?;
        let sampler = Sampler::start(vec![trivial.pid()], None);
        let mut out = load::ceiling(trivial.addr, c, plan.dur).await;
        let r = row(
            format!("ceiling: trivial handler (C={c})"),
            &mut out,
            sampler.finish().await,
        );
        rep.ceiling = Some(r.rate);
        rep.rows.push(r);
        drop(trivial);
    }

    // The system under test, set up from scratch.
    say!("setting up: {} …", a.target.describe());
    let seats = if plan.web() {
        // Each organization's one pool holds its share of every phase's leases, and the
        // first organization's the growth phase's too.
        let share = |n: u64| n.div_ceil(plan.organizations);
        share(plan.hb_leases) + share(plan.scale_leases) + plan.growth_leases + 10 * c as u64 + 1000
    } else {
        (200_000u64).max(plan.hb_leases + plan.growth_leases + 10 * c as u64 + 100_000)
    };
    let per_pool = plan.scale_leases.div_ceil(plan.scale_pools) + 10;
    let mut extra_pools: Vec<(String, u32)> = vec![(
        HB_PRODUCT.to_owned(),
        u32::try_from(plan.hb_leases + 100).unwrap_or(u32::MAX),
    )];
    if plan.runs(Phase::Scale) {
        extra_pools.push((CRASH_PRODUCT.to_owned(), 100_000));
        extra_pools.extend(
            scale_products(plan)
                .into_iter()
                .map(|p| (p, u32::try_from(per_pool).unwrap_or(u32::MAX))),
        );
    }
    let mut sut = sut::start(
        a.target,
        &SetupOpts {
            tessera: tessera.to_path_buf(),
            work_dir: a.work_dir.clone(),
            seats: u32::try_from(seats).unwrap_or(u32::MAX),
            extra_pools,
            lease_ttl_s: a.lease_ttl,
            heartbeat_s: a.heartbeat_interval,
            database_url: a.database_url.clone(),
            organizations: plan.organizations,
            nodes: a.nodes.max(1),
        },
    )?;
    for node in &sut.nodes {
        say!("server pid {} listening on {}", node.pid(), node.addr);
    }
    let dest = sut.dest.clone();

    // (2) checkout + checkin cycles.
    let mut peak_cycle_rate = None;
    if plan.runs(Phase::Cycles) {
        say!("phase: checkout+checkin cycles, {} s …", plan.dur.as_secs());
        let sampler = Sampler::start(sut.pids(), sut.wal());
        let mut out = load::cycles(&dest, c, plan.dur, "cyc").await;
        let r = row(
            format!("checkout+checkin cycles (C={c})"),
            &mut out,
            sampler.finish().await,
        );
        peak_cycle_rate = Some(r.rate / 2.0);
        rep.check_ratio(&r, "checkout+checkin cycles", 0.12);
        rep.rows.push(r);
    }

    // (4a) latency of cycles at half their peak rate, open loop, in the same state.
    if plan.runs(Phase::Latency) {
        match peak_cycle_rate {
            Some(peak) => {
                let rate = peak / 2.0;
                say!(
                    "phase: cycles at half peak ({rate:.0} cycles/s, open loop), {} s …",
                    plan.dur.as_secs()
                );
                let sampler = Sampler::start(sut.pids(), sut.wal());
                let (mut out, _) = load::open_loop(
                    &dest,
                    a.open_connections,
                    rate,
                    plan.dur,
                    Job::Cycle { tag: "lat".into() },
                )
                .await;
                let r = row(
                    format!("cycles at half peak ({rate:.0}/s open loop)"),
                    &mut out,
                    sampler.finish().await,
                );
                rep.check_p99(&r, "cycles at half the peak rate", plan.p99_target_ms());
                rep.rows.push(r);
            }
            None => rep.notes.push(
                "latency of cycles: skipped (needs the cycles phase for the peak rate)".into(),
            ),
        }
    }

    // (3) heartbeats on pre-made leases, in a pool of their own.
    let mut hb_leases = Arc::new(Vec::new());
    let mut peak_hb_rate = None;
    if plan.runs(Phase::Heartbeats) || plan.runs(Phase::Latency) {
        say!(
            "taking {} leases for the heartbeat phases …",
            plan.hb_leases
        );
        let (leases, out, _) = load::make_leases(
            &dest,
            c,
            plan.hb_leases,
            Duration::from_secs(300),
            "hb",
            &plan.pools(HB_PRODUCT),
        )
        .await;
        if out.rec.errors > 0 {
            say!(
                "  {} checkouts failed: {:?}",
                out.rec.errors,
                out.rec.samples
            );
        }
        hb_leases = Arc::new(leases);
    }
    if plan.runs(Phase::Heartbeats) {
        say!("phase: heartbeats, {} s …", plan.dur.as_secs());
        let sampler = Sampler::start(sut.pids(), sut.wal());
        let mut out = load::heartbeats(&dest, c, hb_leases.clone(), plan.dur).await;
        let r = row(
            format!("heartbeats (C={c}, {} leases)", hb_leases.len()),
            &mut out,
            sampler.finish().await,
        );
        peak_hb_rate = Some(r.rate);
        rep.check_ratio(&r, "heartbeats", 0.35);
        rep.rows.push(r);
    }

    // (4b) latency of heartbeats at half their peak rate, open loop.
    if plan.runs(Phase::Latency) {
        match peak_hb_rate {
            Some(peak) if !hb_leases.is_empty() => {
                let rate = peak / 2.0;
                say!(
                    "phase: heartbeats at half peak ({rate:.0}/s, open loop), {} s …",
                    plan.dur.as_secs()
                );
                let sampler = Sampler::start(sut.pids(), sut.wal());
                let (mut out, _) = load::open_loop(
                    &dest,
                    a.open_connections,
                    rate,
                    plan.dur,
                    Job::Heartbeat(hb_leases.clone()),
                )
                .await;
                let r = row(
                    format!("heartbeats at half peak ({rate:.0}/s open loop)"),
                    &mut out,
                    sampler.finish().await,
                );
                rep.check_p99(&r, "heartbeats at half the peak rate", plan.p99_target_ms());
                rep.rows.push(r);
            }
            _ => rep.notes.push(
                "latency of heartbeats: skipped (needs the heartbeat phase for the peak rate)"
                    .into(),
            ),
        }
    }

    // One pool filling up: checkout cost against the number of live leases in the pool.
    let mut live = hb_leases.len() as u32;
    if plan.runs(Phase::Growth) {
        let n = plan.growth_leases;
        say!(
            "phase: growth: taking {n} leases in one pool (at most {} s) …",
            plan.scale_limit.as_secs()
        );
        let sampler = Sampler::start(sut.pids(), sut.wal());
        // One pool: the LAN server's main pool, or the first organization's.
        let one = dest.only(0);
        let (leases, mut out, tenths) =
            load::make_leases(&one, c, n, plan.scale_limit, "grow", &[]).await;
        let mut r = row(
            format!("growth: take {n} leases in one pool (C={c})"),
            &mut out,
            sampler.finish().await,
        );
        if let Some((first, last)) = tenths {
            r.detail.insert(
                0,
                format!(
                    "took {:.1} s; first tenth at {first:.0}/s, last tenth at {last:.0}/s",
                    out.wall.as_secs_f64()
                ),
            );
        }
        rep.rows.push(r);
        live += leases.len() as u32;
        say!(
            "phase: growth: checkout+checkin cycles with {} live leases in the pool, {} s …",
            leases.len(),
            plan.dur.as_secs()
        );
        let sampler = Sampler::start(sut.pids(), sut.wal());
        let mut out = load::cycles(&one, c, plan.dur, "big").await;
        let r = row(
            format!(
                "growth: cycles, {} live leases in the pool (C={c})",
                leases.len()
            ),
            &mut out,
            sampler.finish().await,
        );
        rep.rows.push(r);
    }

    // (5) scale: many live leases, memory, crash and start-up.
    if plan.runs(Phase::Scale) {
        scale(plan, &mut sut, rep, live).await?;
    }

    for (n, node) in sut.nodes.iter().enumerate() {
        for problem in node.log_problems(5) {
            if sut.nodes.len() > 1 {
                rep.notes.push(format!("node {n}'s log: {problem}"));
            } else {
                rep.notes.push(format!("server log: {problem}"));
            }
        }
    }
    Ok(())
}

async fn scale(
    plan: &Plan,
    sut: &mut sut::Sut,
    rep: &mut Report,
    already_live: u32,
) -> anyhow::Result<()> {
    let a = &plan.args;
    let c = a.concurrency.max(1);
    let n = plan.scale_leases;
    let dest = sut.dest.clone();

    // The LAN server's scale pools, or every organization's one pool.
    let (products, pools) = if plan.web() {
        (Vec::new(), format!("{} organizations", dest.realms.len()))
    } else {
        let p = scale_products(plan);
        let pools = format!("{} pools", p.len());
        (p, pools)
    };
    say!(
        "phase: scale: taking {n} leases for distinct users and hosts over {pools} (at most {} s) …",
        plan.scale_limit.as_secs()
    );
    let sampler = Sampler::start(sut.pids(), sut.wal());
    let (leases, mut out, tenths) =
        load::make_leases(&dest, c, n, plan.scale_limit, "scale", &products).await;
    let mut r = row(
        format!("scale: take {n} leases over {pools} (C={c})"),
        &mut out,
        sampler.finish().await,
    );
    if let Some((first, last)) = tenths {
        r.detail.insert(
            0,
            format!(
                "took {:.1} s; first tenth at {first:.0}/s, last tenth at {last:.0}/s",
                out.wall.as_secs_f64()
            ),
        );
    }
    rep.rows.push(r);
    let made = leases.len() as u64;
    let leases = Arc::new(leases);
    if made < n {
        rep.checks.push(Check::miss(
            format!("{n} live leases"),
            format!(
                "only {made} leases taken within the {} s limit",
                plan.scale_limit.as_secs()
            ),
        ));
    }

    let rate = made as f64 / a.heartbeat_interval as f64;
    say!(
        "phase: scale: heartbeating {made} leases at {rate:.0}/s (each every {} s, open loop), {} s …",
        a.heartbeat_interval,
        plan.scale_dur.as_secs()
    );
    // As many connections as a hundred heartbeats a second each: a million programs
    // would each have their own, and 64 connections at 33,333/s leave each request under
    // 2 ms for its whole round trip before the schedule queues.
    let conns = a.open_connections.max((rate / 100.0) as usize);
    let sampler = Sampler::start(sut.pids(), sut.wal());
    let (mut out, _) = load::open_loop(
        &dest,
        conns,
        rate,
        plan.scale_dur,
        Job::Heartbeat(leases.clone()),
    )
    .await;
    let usage = sampler.finish().await;
    let mut r = row(
        format!("scale: heartbeats of {made} leases ({rate:.0}/s open loop, {conns} connections)"),
        &mut out,
        usage,
    );
    if sut.wal().is_some() {
        r.detail.push(format!(
            "the database's write-ahead log grew to {:.0} MB",
            usage.peak_file as f64 / 1e6
        ));
    }
    let rss_mb = usage.peak_rss as f64 / 1e6;
    let kept_up = r.errors == 0 && r.rate >= rate * 0.95;
    rep.checks.push(Check::new(
        rss_mb < 300.0 && made >= n,
        format!("{n} live leases heartbeating: RSS under 300 MB"),
        format!("peak RSS {rss_mb:.0} MB with {made} live leases being heartbeated"),
    ));
    {
        // The bound for the scale phase on both targets.
        const SCALE_P99_MS: u32 = 10;
        rep.checks.push(Check::new(
            kept_up && made >= n && r.lat.p99_us < SCALE_P99_MS * 1000,
            format!(
                "{n} live leases over {pools} heartbeated at {rate:.0}/s: p99 under {SCALE_P99_MS} ms"
            ),
            format!(
                "{:.0}/s answered of {rate:.0}/s scheduled, p99 {} (p50 {}, max {}), {} errors",
                r.rate,
                ms(r.lat.p99_us),
                ms(r.lat.p50_us),
                ms(r.lat.max_us),
                r.errors
            ),
        ));
    }
    rep.checks.push(Check::new(
        kept_up && made >= n,
        format!(
            "{n} live leases heartbeating: keeps up with one heartbeat per lease every {} s",
            a.heartbeat_interval
        ),
        format!(
            "{:.0}/s answered of {rate:.0}/s scheduled, p50 {} p99 {}",
            r.rate,
            ms(r.lat.p50_us),
            ms(r.lat.p99_us)
        ),
    ));
    rep.rows.push(r);

    // Crash under load: the leases keep heartbeating and new checkouts keep coming while
    // the server is killed; every checkout it acknowledged must be there after the restart.
    let before = load::in_use(&dest).await.map_err(anyhow::Error::msg)?;
    let expected_before = already_live + made as u32;
    say!(
        "phase: scale: kill -9 during heartbeats and checkouts, then restart ({before} seats in use) …"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let crash_product = if plan.web() {
        dest.product.to_string()
    } else {
        CRASH_PRODUCT.to_owned()
    };
    let probe = tokio::spawn({
        let (dest, stop) = (dest.clone(), stop.clone());
        async move { load::checkout_until(&dest, c, stop, "crash", &crash_product).await }
    });
    let beats = tokio::spawn({
        let (dest, leases, conns) = (dest.clone(), leases.clone(), a.open_connections);
        async move {
            load::open_loop(
                &dest,
                conns,
                rate,
                Duration::from_secs(3),
                Job::Heartbeat(leases),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let wal_at_kill = procstat::file_size(sut.wal().as_deref());
    let server = &mut sut.nodes[0];
    let pid = server.pid();
    server.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acked, sent) = probe.await?;
    let _ = beats.await?;
    let acked = Arc::new(acked);
    say!(
        "  killed pid {pid} with a {:.0} MB write-ahead log; {} checkouts acknowledged of {sent} sent",
        wal_at_kill as f64 / 1e6,
        acked.len()
    );
    let startup = server.restart_timed().await?;
    let probe_path = server.probe_path().to_owned();
    let after = load::in_use(&dest).await.map_err(anyhow::Error::msg)?;
    say!(
        "  back in {:.3} s, pid {}; {after} seats in use",
        startup.as_secs_f64(),
        server.pid()
    );
    rep.checks.push(Check::new(
        startup < Duration::from_secs(2),
        format!("start-up after a crash with {made} live leases under 2 s"),
        format!(
            "{:.3} s from spawn until GET {probe_path} answered 200{}",
            startup.as_secs_f64(),
            if sut.wal().is_some() {
                format!(
                    " (write-ahead log at the kill: {:.0} MB)",
                    wal_at_kill as f64 / 1e6
                )
            } else if sut.nodes.len() > 1 {
                " (node 0 of {}, the others serving meanwhile)"
                    .replace("{}", &sut.nodes.len().to_string())
            } else {
                String::new()
            }
        ),
    ));

    // Every acknowledged lease from before the crash still heartbeats: those taken in the
    // last second before the kill, and a sample across the scale phase's leases.
    let sample: Vec<load::Lease> = leases
        .iter()
        .step_by((leases.len() / 1000).max(1))
        .cloned()
        .chain(acked.iter().cloned())
        .collect();
    let checked = sample.len();
    let mut rec = load::heartbeat_each(&dest, c, Arc::new(sample)).await;
    let lost = rec.errors;
    let low = before + acked.len() as u32;
    let high = before + sent as u32;
    rep.checks.push(Check::new(
        lost == 0 && after >= low && after <= high,
        "durability: acknowledged leases survive kill -9".to_owned(),
        format!(
            "{} of {checked} leases heartbeat after the restart ({} taken in the 2 s before the kill); seats in use {before} before (expected {expected_before}), {after} after (acknowledged {low}, sent {high}){}",
            rec.count(),
            acked.len(),
            rec.samples.first().map(|s| format!("; first failure: {s}")).unwrap_or_default()
        ),
    ));
    let _ = rec.percentiles();
    Ok(())
}
