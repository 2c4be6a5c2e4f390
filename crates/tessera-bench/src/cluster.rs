//! The `lan-cluster` target: two LAN server nodes on one PostgreSQL database, simulated
//! programs holding leases taken on node A and heartbeating with the client library's
//! failover rule (a call that gets no answer from a node goes to the next one at once,
//! and later calls stay there; with every node away, retry after 1 s then 2 s), and node
//! A killed with `kill -9` in the middle. It measures the failover time: from a program's
//! call that found A gone to B's answer, and from the kill to each program's first answer
//! from B; and the longest time any program went without an answered heartbeat, which
//! must stay under one heartbeat interval plus 5 s. Then A is started again and serves,
//! and B, which every program is on by then, is frozen with SIGSTOP (a machine that
//! stops answering without closing its connections): the programs' calls time out after
//! the library's 3 s and go to A, which is measured the same way.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::http::Conn;
use crate::load::{self, Lease, Recorder, ms};
use crate::report::{Check, Report, Row};
use crate::sut::{self, SetupOpts};

/// How one simulated program fared.
#[derive(Default)]
struct Program {
    /// Each failover: when the next node answered, and how long after the call that
    /// found a node gone.
    failovers: Vec<(Instant, Duration)>,
    /// When the first heartbeat answered after the kill came.
    first_after_kill: Option<Instant>,
    /// The longest time between two answered heartbeats.
    longest_gap: Duration,
    /// Answers that were not 200 (a lease the other node did not know, say).
    refused: Vec<String>,
    answered: u64,
}

/// What the kill and the heartbeats share.
struct Shared {
    nodes: Vec<SocketAddr>,
    interval: Duration,
    killed_at: Mutex<Option<Instant>>,
    stop: std::sync::atomic::AtomicBool,
}

/// How long the client library lets one call to one node of several take
/// (`tessera_client::FAILOVER_CALL_TIMEOUT`; the bench does not link the library).
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// `POST /api/v1/leases/{id}/heartbeat` on one node: `Ok(true)` answered 200,
/// `Ok(false)` answered something else, `Err` no answer in time (the node is away).
async fn beat(conn: &mut Conn, lease: &Lease, refused: &mut Vec<String>) -> Result<bool, ()> {
    let path = format!("/api/v1/leases/{}/heartbeat", lease.id);
    let answer = tokio::time::timeout(
        CALL_TIMEOUT,
        conn.request("POST", &path, &lease.bearer(), None),
    )
    .await
    .map_err(|_| ())?;
    match answer {
        Ok(r) if r.status == 200 => Ok(true),
        Ok(r) if matches!(r.status, 502..=504) => Err(()),
        Ok(r) => {
            if refused.len() < 3 {
                refused.push(format!("HTTP {} {}", r.status, r.snippet()));
            }
            Ok(false)
        }
        Err(_) => Err(()),
    }
}

/// One program's heartbeat loop, as the client library runs it.
async fn program(shared: Arc<Shared>, lease: Lease, offset: Duration) -> Program {
    let mut conns: Vec<Conn> = shared.nodes.iter().map(|a| Conn::new(*a)).collect();
    let mut current = 0usize;
    let mut me = Program::default();
    let mut last_ok = Instant::now();
    let mut due = Instant::now() + offset;
    let mut failures = 0usize;
    while !shared.stop.load(std::sync::atomic::Ordering::Relaxed) {
        tokio::time::sleep_until(due.into()).await;
        let mut answered = None;
        let mut gone_at = None;
        for k in 0..conns.len() {
            let n = (current + k) % conns.len();
            let asked = Instant::now();
            match beat(&mut conns[n], &lease, &mut me.refused).await {
                Ok(ok) => {
                    answered = Some(ok);
                    if let Some(at) = gone_at {
                        let now = Instant::now();
                        me.failovers.push((now, now.duration_since(at)));
                    }
                    current = n;
                    break;
                }
                Err(()) => {
                    // From when the call that found the node gone was sent.
                    gone_at.get_or_insert(asked);
                    // A call given up half-way leaves its connection unusable.
                    conns[n] = Conn::new(shared.nodes[n]);
                }
            }
        }
        let now = Instant::now();
        match answered {
            Some(true) => {
                me.answered += 1;
                me.longest_gap = me.longest_gap.max(now - last_ok);
                last_ok = now;
                let killed = *shared.killed_at.lock().expect("kill time");
                if me.first_after_kill.is_none() && killed.is_some_and(|k| now > k) {
                    me.first_after_kill = Some(now);
                }
                failures = 0;
                due = now + shared.interval;
            }
            Some(false) => due = now + shared.interval,
            None => {
                let delay = [Duration::from_secs(1), Duration::from_secs(2)][failures.min(1)];
                failures += 1;
                due = now + delay.min(shared.interval);
            }
        }
    }
    me.longest_gap = me.longest_gap.max(Instant::now() - last_ok);
    me
}

/// Sets up the cluster, runs the failover phase and fills the report.
pub async fn run(
    opts: &SetupOpts,
    admin_url: &str,
    programs: u64,
    conc: usize,
    hold: Duration,
    rep: &mut Report,
) -> anyhow::Result<()> {
    println!("setting up: two nodes on a fresh database in {admin_url} …");
    let mut cluster = sut::start_cluster(opts, admin_url)?;
    let (a, b) = (cluster.nodes[0].addr, cluster.nodes[1].addr);
    println!(
        "node A pid {} on {a}, node B pid {} on {b}",
        cluster.nodes[0].pid(),
        cluster.nodes[1].pid()
    );
    let interval = Duration::from_secs(opts.heartbeat_s);

    println!("taking {programs} leases on node A …");
    let (leases, out, _) = load::make_leases(
        &load::Dest::lan(a),
        conc,
        programs,
        Duration::from_secs(120),
        "fo",
        &[],
    )
    .await;
    if leases.len() as u64 != programs {
        anyhow::bail!(
            "only {} of {programs} leases taken on node A: {:?}",
            leases.len(),
            out.rec.samples
        );
    }
    let shared = Arc::new(Shared {
        nodes: vec![a, b],
        interval,
        killed_at: Mutex::new(None),
        stop: Default::default(),
    });
    // Heartbeats spread over the interval, as programs started at different times.
    let step = interval / (programs.max(1) as u32);
    let tasks: Vec<_> = leases
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, l)| tokio::spawn(program(shared.clone(), l, step * i as u32)))
        .collect();

    println!(
        "phase: failover: {programs} programs heartbeating every {} s; kill -9 node A after {} s …",
        interval.as_secs(),
        hold.as_secs()
    );
    tokio::time::sleep(hold).await;
    let held_before = load::in_use(&load::Dest::lan(b))
        .await
        .map_err(anyhow::Error::msg)?;
    let a_pid = cluster.nodes[0].pid();
    cluster.nodes[0].kill9();
    let killed = Instant::now();
    *shared.killed_at.lock().expect("kill time") = Some(killed);
    println!("  killed node A (pid {a_pid}); the programs go on …");
    // Long enough for every program to find A gone and its retries to settle.
    tokio::time::sleep(interval * 2 + Duration::from_secs(6)).await;
    let held_after = load::in_use(&load::Dest::lan(b))
        .await
        .map_err(anyhow::Error::msg)?;

    println!("  starting node A again …");
    let startup = cluster.nodes[0].restart_timed().await?;
    // A serves the leases again, whichever node they heartbeat on now.
    let sample: Vec<Lease> = leases
        .iter()
        .step_by((leases.len() / 50).max(1))
        .cloned()
        .collect();
    let mut on_a = load::heartbeat_each(&load::Dest::lan(a), conc, Arc::new(sample.clone())).await;

    // Every program is on B now; B stops answering without closing anything.
    let b_pid = cluster.nodes[1].pid();
    println!("  freezing node B (SIGSTOP, pid {b_pid}): calls to it time out …");
    signal(b_pid, "-STOP")?;
    let frozen = Instant::now();
    tokio::time::sleep(interval * 2 + Duration::from_secs(6)).await;
    signal(b_pid, "-CONT")?;
    shared
        .stop
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await?);
    }

    // Figures.
    let of = |from: Instant, to: Instant| -> Vec<Duration> {
        let mut v: Vec<Duration> = all
            .iter()
            .flat_map(|p| p.failovers.iter())
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, d)| *d)
            .collect();
        v.sort();
        v
    };
    let failovers = of(killed, frozen);
    let hangs = of(frozen, Instant::now());
    let pct = |v: &[Duration], q: f64| -> Duration {
        if v.is_empty() {
            return Duration::ZERO;
        }
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    let mut after_kill: Vec<Duration> = all
        .iter()
        .filter_map(|p| p.first_after_kill.map(|t| t - killed))
        .collect();
    after_kill.sort();
    let reached = after_kill.len();
    let longest_gap = all.iter().map(|p| p.longest_gap).max().unwrap_or_default();
    let refused: Vec<String> = all.iter().flat_map(|p| p.refused.clone()).collect();
    let answered: u64 = all.iter().map(|p| p.answered).sum();

    let mut rec = Recorder::default();
    for f in failovers.iter().chain(&hangs) {
        rec.ok(*f);
    }
    let mut row = Row {
        name: format!("failover: {programs} programs, node A killed"),
        requests: answered,
        errors: refused.len() as u64,
        rate: 0.0,
        lat: rec.percentiles(),
        usage: None,
        detail: vec![
            format!(
                "failover time (the call that found A gone to B's answer): p50 {} p99 {} max {} over {} failovers",
                ms_of(pct(&failovers, 0.5)),
                ms_of(pct(&failovers, 0.99)),
                ms_of(failovers.last().copied().unwrap_or_default()),
                failovers.len()
            ),
            format!(
                "failover time from a frozen node (B after SIGSTOP; the call timed out after {} s): p50 {} max {} over {} failovers",
                CALL_TIMEOUT.as_secs(),
                ms_of(pct(&hangs, 0.5)),
                ms_of(hangs.last().copied().unwrap_or_default()),
                hangs.len()
            ),
            format!(
                "kill to each program's first answer from B: p50 {} max {} ({reached} of {programs} programs)",
                ms_of(pct(&after_kill, 0.5)),
                ms_of(after_kill.last().copied().unwrap_or_default())
            ),
            format!(
                "longest time without an answered heartbeat: {} (heartbeat every {} s)",
                ms_of(longest_gap),
                interval.as_secs()
            ),
            format!("seats in use: {held_before} before the kill, {held_after} after"),
            format!(
                "node A back in {:.3} s; {} of {} sampled leases heartbeat on it",
                startup.as_secs_f64(),
                on_a.count(),
                sample.len()
            ),
        ],
    };
    row.detail
        .extend(refused.iter().take(3).map(|r| format!("refused: {r}")));
    for line in &row.detail {
        println!("  {line}");
    }
    let max_after_kill = after_kill.last().copied().unwrap_or_default();
    rep.checks.push(Check::new(
        failovers
            .last()
            .is_some_and(|f| *f < Duration::from_secs(5)),
        "failover: a program whose node is gone is answered by the next within 5 s",
        format!(
            "max {} over {} failovers",
            ms_of(failovers.last().copied().unwrap_or_default()),
            failovers.len()
        ),
    ));
    rep.checks.push(Check::new(
        hangs.len() as u64 >= programs && hangs.last().is_some_and(|f| *f < Duration::from_secs(5)),
        "failover: a program whose node stops answering is answered by the next within 5 s",
        format!(
            "max {} over {} failovers from the frozen node",
            ms_of(hangs.last().copied().unwrap_or_default()),
            hangs.len()
        ),
    ));
    rep.checks.push(Check::new(
        reached == all.len() && refused.is_empty() && longest_gap <= interval + Duration::from_secs(5),
        "failover: every program keeps its lease, no gap over one heartbeat interval + 5 s",
        format!(
            "{reached} of {programs} answered by B within {} of the kill, {} refused, longest gap {}",
            ms_of(max_after_kill),
            refused.len(),
            ms_of(longest_gap)
        ),
    ));
    rep.checks.push(Check::new(
        held_after == held_before && on_a.errors == 0,
        "failover: seats held stay the same; the restarted node serves them",
        format!(
            "{held_before} before, {held_after} after; {} of {} heartbeats on the restarted A answered",
            on_a.count(),
            sample.len()
        ),
    ));
    let _ = on_a.percentiles();
    rep.rows.push(row);
    Ok(())
}

/// Sends a signal with `kill` (`-STOP`, `-CONT`).
fn signal(pid: u32, which: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill {which} {pid} failed");
    Ok(())
}

fn ms_of(d: Duration) -> String {
    ms(u32::try_from(d.as_micros()).unwrap_or(u32::MAX))
}
