//! Simulated clients: checkouts, heartbeats and checkins over keep-alive connections,
//! closed-loop (each connection sends its next request as soon as the last is answered:
//! the peak rate) or open-loop (requests start on a fixed schedule whether or not the
//! earlier ones were answered, so a slow answer delays nobody's start and the latency
//! seen is the latency a client would see at that rate).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tessera_core::protocol::{CheckoutRequest, LeaseGrant};

use crate::http::{Conn, Response};
use crate::sut::PRODUCT;

/// A license server's realm: the LAN server's one, or one organization's web license
/// server at `/w/SLUG`.
pub struct Realm {
    /// Before `/api/v1/…`: empty on the LAN server, `/w/SLUG` on the web license server.
    pub prefix: Arc<str>,
    /// The credential a checkout carries (a site key); none on the LAN server.
    pub bearer: Option<Box<str>>,
    /// `{prefix}/api/v1/leases`.
    leases_path: Box<str>,
}

impl Realm {
    pub fn new(prefix: &str, bearer: Option<&str>) -> Realm {
        Realm {
            prefix: prefix.into(),
            bearer: bearer.map(Into::into),
            leases_path: format!("{prefix}/api/v1/leases").into(),
        }
    }

    fn bearer(&self) -> Vec<&str> {
        self.bearer.as_deref().into_iter().collect()
    }
}

/// Where the simulated programs send their requests: the nodes (worker `w` keeps its
/// connection to node `w % nodes`) and the realms (request `i` of a phase goes to realm
/// `i % realms`), with the product of the pool every realm has.
#[derive(Clone)]
pub struct Dest {
    pub nodes: Arc<[SocketAddr]>,
    pub realms: Arc<[Realm]>,
    pub product: Arc<str>,
}

impl Dest {
    /// The LAN server at `addr`: one node, one realm, the benchmark's main product.
    pub fn lan(addr: SocketAddr) -> Dest {
        Dest {
            nodes: Arc::new([addr]),
            realms: Arc::new([Realm::new("", None)]),
            product: PRODUCT.into(),
        }
    }

    /// Worker `w`'s node.
    pub fn node(&self, w: usize) -> SocketAddr {
        self.nodes[w % self.nodes.len()]
    }

    /// Request `i`'s realm.
    pub fn realm(&self, i: u64) -> &Realm {
        &self.realms[(i % self.realms.len() as u64) as usize]
    }

    /// The same nodes with realm `i` only (one pool filling up).
    pub fn only(&self, i: usize) -> Dest {
        let r = &self.realms[i % self.realms.len()];
        Dest {
            nodes: self.nodes.clone(),
            realms: Arc::new([Realm::new(&r.prefix, r.bearer.as_deref())]),
            product: self.product.clone(),
        }
    }
}

/// What one worker saw: latencies of answered requests, and failures.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Microseconds, one per successful request.
    pub lat_us: Vec<u32>,
    pub errors: u64,
    /// The first few failures, for the report.
    pub samples: Vec<String>,
}

impl Recorder {
    pub fn ok(&mut self, took: Duration) {
        self.lat_us
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn fail(&mut self, what: String) {
        self.errors += 1;
        if self.samples.len() < 3 {
            self.samples.push(what);
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.lat_us.extend(other.lat_us);
        self.errors += other.errors;
        for s in other.samples {
            if self.samples.len() < 3 {
                self.samples.push(s);
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.lat_us.len() as u64
    }

    /// p50, p99 and max in microseconds (zeros when nothing was answered).
    pub fn percentiles(&mut self) -> Latency {
        if self.lat_us.is_empty() {
            return Latency::default();
        }
        self.lat_us.sort_unstable();
        let at = |q: f64| {
            let i = ((self.lat_us.len() as f64 * q).ceil() as usize).clamp(1, self.lat_us.len());
            self.lat_us[i - 1]
        };
        Latency {
            p50_us: at(0.50),
            p99_us: at(0.99),
            max_us: *self.lat_us.last().expect("not empty"),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Latency {
    pub p50_us: u32,
    pub p99_us: u32,
    pub max_us: u32,
}

/// A lease a simulated client holds: its id and its bearer token. The token's footer
/// (the server's activation key, the same in every token of the pool) is kept once.
#[derive(Debug, Clone)]
pub struct Lease {
    pub id: Box<str>,
    head: Box<str>,
    footer: Option<Arc<str>>,
    /// Its realm's path prefix (shared by the realm's leases).
    pub prefix: Arc<str>,
}

impl Lease {
    fn from_grant(grant: LeaseGrant, footers: &mut Option<Arc<str>>, prefix: Arc<str>) -> Lease {
        let token = grant.token;
        // v4.public.PAYLOAD.FOOTER
        let split = token.match_indices('.').nth(2).map(|(i, _)| i);
        let (head, footer) = match split {
            Some(i) => {
                let footer = &token[i + 1..];
                let shared = match footers {
                    Some(f) if &**f == footer => f.clone(),
                    _ => {
                        let f = intern(footer);
                        *footers = Some(f.clone());
                        f
                    }
                };
                (token[..i].into(), Some(shared))
            }
            None => (token.into_boxed_str(), None),
        };
        Lease {
            id: grant.lease_id.into_boxed_str(),
            head,
            footer,
            prefix,
        }
    }

    /// The bearer token in parts.
    pub fn bearer(&self) -> Vec<&str> {
        match &self.footer {
            Some(f) => vec![&self.head, ".", f],
            None => vec![&self.head],
        }
    }
}

/// One token footer (an activation key) per pool, shared by all its leases.
fn intern(footer: &str) -> Arc<str> {
    static FOOTERS: std::sync::OnceLock<std::sync::Mutex<HashSet<Arc<str>>>> =
        std::sync::OnceLock::new();
    let mut set = FOOTERS
        .get_or_init(Default::default)
        .lock()
        .expect("footers");
    if let Some(f) = set.get(footer) {
        return f.clone();
    }
    let f: Arc<str> = footer.into();
    set.insert(f.clone());
    f
}

/// One simulated program of `product`: who it is.
pub fn checkout_body_of(product: &str, user: &str, host: &str, client_id: &str) -> Vec<u8> {
    serde_json::to_vec(&CheckoutRequest {
        product: product.to_owned(),
        user: user.to_owned(),
        host: host.to_owned(),
        client_id: client_id.to_owned(),
        version: Some("bench-1.0".to_owned()),
        email: None,
        wait_s: None,
    })
    .expect("serializable")
}

fn describe(what: &str, r: &Response) -> String {
    format!("{what}: HTTP {} {}", r.status, r.snippet())
}

/// `POST /api/v1/leases` in `realm`: the lease on 200/201.
pub async fn checkout(
    conn: &mut Conn,
    realm: &Realm,
    body: &[u8],
    footers: &mut Option<Arc<str>>,
) -> Result<Lease, String> {
    let r = conn
        .request("POST", &realm.leases_path, &realm.bearer(), Some(body))
        .await
        .map_err(|e| format!("checkout: {e}"))?;
    if r.status != 201 && r.status != 200 {
        return Err(describe("checkout", &r));
    }
    let grant: LeaseGrant =
        serde_json::from_slice(&r.body).map_err(|e| format!("checkout answer: {e}"))?;
    Ok(Lease::from_grant(grant, footers, realm.prefix.clone()))
}

/// `DELETE /api/v1/leases/{id}`: 204.
pub async fn checkin(conn: &mut Conn, lease: &Lease) -> Result<(), String> {
    let path = format!("{}/api/v1/leases/{}", lease.prefix, lease.id);
    let r = conn
        .request("DELETE", &path, &lease.bearer(), None)
        .await
        .map_err(|e| format!("checkin: {e}"))?;
    if r.status != 204 {
        return Err(describe("checkin", &r));
    }
    Ok(())
}

/// `POST /api/v1/leases/{id}/heartbeat` with no body, as the client library sends it:
/// 200. (The answer's new token is not read: the first stays valid for the whole run.)
pub async fn heartbeat(conn: &mut Conn, lease: &Lease) -> Result<(), String> {
    let path = format!("{}/api/v1/leases/{}/heartbeat", lease.prefix, lease.id);
    let r = conn
        .request("POST", &path, &lease.bearer(), None)
        .await
        .map_err(|e| format!("heartbeat: {e}"))?;
    if r.status != 200 {
        return Err(describe("heartbeat", &r));
    }
    Ok(())
}

/// Runs `n` workers to the end and merges what they saw.
async fn workers<F, Fut>(n: usize, f: F) -> Recorder
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Recorder> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|w| tokio::spawn(f(w))).collect();
    let mut all = Recorder::default();
    for t in tasks {
        match t.await {
            Ok(r) => all.merge(r),
            Err(e) => all.fail(format!("worker failed: {e}")),
        }
    }
    all
}

/// The outcome of one phase's load.
pub struct Outcome {
    pub rec: Recorder,
    pub wall: Duration,
    /// Extra detail for the report (e.g. checkout and checkin latencies apart).
    pub detail: Vec<String>,
}

/// Closed loop against the trivial handler: the same request shape as a checkout.
pub async fn ceiling(addr: SocketAddr, conc: usize, dur: Duration) -> Outcome {
    let start = Instant::now();
    let end = start + dur;
    let rec = workers(conc, |w| async move {
        let mut conn = Conn::new(addr);
        let body = checkout_body_of(
            PRODUCT,
            &format!("user{w}"),
            &format!("host{w}"),
            &format!("c{w}"),
        );
        let mut rec = Recorder::default();
        while Instant::now() < end {
            let t = Instant::now();
            match conn
                .request("POST", "/api/v1/leases", &[], Some(&body))
                .await
            {
                Ok(r) if r.status == 200 => rec.ok(t.elapsed()),
                Ok(r) => rec.fail(describe("trivial", &r)),
                Err(e) => rec.fail(format!("trivial: {e}")),
            }
        }
        rec
    })
    .await;
    Outcome {
        rec,
        wall: start.elapsed(),
        detail: Vec::new(),
    }
}

/// Closed loop of checkout → checkin: each worker is one user on one host starting and
/// closing the program as fast as it can (worker `w`'s `k`th cycle in realm `w + k·conc`).
pub async fn cycles(dest: &Dest, conc: usize, dur: Duration, tag: &str) -> Outcome {
    let start = Instant::now();
    let end = start + dur;
    let split = Arc::new(std::sync::Mutex::new((
        Recorder::default(),
        Recorder::default(),
    )));
    let rec = workers(conc, |w| {
        let split = split.clone();
        let tag = tag.to_owned();
        let dest = dest.clone();
        async move {
            let mut conn = Conn::new(dest.node(w));
            let body = checkout_body_of(
                &dest.product,
                &format!("{tag}-user{w}"),
                &format!("{tag}-host{w}"),
                &format!("{tag}-client{w}"),
            );
            let mut footers = None;
            let (mut all, mut outs, mut ins) = Default::default();
            let mut k = w as u64;
            while Instant::now() < end {
                cycle(
                    &mut conn,
                    dest.realm(k),
                    &body,
                    &mut footers,
                    Instant::now(),
                    (&mut all, &mut outs, &mut ins),
                )
                .await;
                k += conc as u64;
            }
            let mut s = split.lock().expect("split");
            s.0.merge(outs);
            s.1.merge(ins);
            all
        }
    })
    .await;
    let wall = start.elapsed();
    let (mut outs, mut ins) = std::mem::take(&mut *split.lock().expect("split"));
    Outcome {
        detail: vec![split_detail(&mut outs, &mut ins, wall)],
        rec,
        wall,
    }
}

fn split_detail(outs: &mut Recorder, ins: &mut Recorder, wall: Duration) -> String {
    let (o, i) = (outs.percentiles(), ins.percentiles());
    format!(
        "{:.0} cycles/s; checkout p50 {} p99 {}, checkin p50 {} p99 {}",
        outs.count() as f64 / wall.as_secs_f64(),
        ms(o.p50_us),
        ms(o.p99_us),
        ms(i.p50_us),
        ms(i.p99_us)
    )
}

/// Milliseconds with two decimals.
pub fn ms(us: u32) -> String {
    format!("{:.2} ms", f64::from(us) / 1000.0)
}

/// One checkout and its checkin; the checkout's latency counts from `start`. Recorded
/// in (all requests, checkouts, checkins).
async fn cycle(
    conn: &mut Conn,
    realm: &Realm,
    body: &[u8],
    footers: &mut Option<Arc<str>>,
    start: Instant,
    (all, outs, ins): (&mut Recorder, &mut Recorder, &mut Recorder),
) {
    match checkout(conn, realm, body, footers).await {
        Ok(lease) => {
            let took = start.elapsed();
            all.ok(took);
            outs.ok(took);
            let t = Instant::now();
            match checkin(conn, &lease).await {
                Ok(()) => {
                    all.ok(t.elapsed());
                    ins.ok(t.elapsed());
                }
                Err(e) => all.fail(e),
            }
        }
        Err(e) => all.fail(e),
    }
}

/// Takes `n` leases for distinct users on distinct hosts (`{tag}-user{i}`), `conc` at a
/// time, until done or `limit` passed; lease `i` is of `products[i % len]` (`dest`'s
/// product when none are given) in realm `i % realms`. A failed
/// checkout is counted and tried again (twice), as a client would. Returns the leases
/// (in order of index, missing ones left out), the load's outcome, and the rates over
/// the first and the last tenth.
pub async fn make_leases(
    dest: &Dest,
    conc: usize,
    n: u64,
    limit: Duration,
    tag: &str,
    products: &[String],
) -> (Vec<Lease>, Outcome, Option<(f64, f64)>) {
    let products: Arc<Vec<String>> = Arc::new(if products.is_empty() {
        vec![dest.product.to_string()]
    } else {
        products.to_vec()
    });
    let start = Instant::now();
    let end = start + limit;
    let next = Arc::new(AtomicU64::new(0));
    let made = Arc::new(std::sync::Mutex::new(Vec::<(u64, Lease, Duration)>::new()));
    let rec = workers(conc, |w| {
        let (next, made, tag, products, dest) = (
            next.clone(),
            made.clone(),
            tag.to_owned(),
            products.clone(),
            dest.clone(),
        );
        async move {
            let mut conn = Conn::new(dest.node(w));
            let mut footers = None;
            let mut rec = Recorder::default();
            let mut mine = Vec::new();
            'leases: while Instant::now() < end {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let body = checkout_body_of(
                    &products[(i % products.len() as u64) as usize],
                    &format!("{tag}-user{i}"),
                    &format!("{tag}-host{i}"),
                    &format!("{tag}-client{i}"),
                );
                for _attempt in 0..3 {
                    let t = Instant::now();
                    match checkout(&mut conn, dest.realm(i), &body, &mut footers).await {
                        Ok(lease) => {
                            rec.ok(t.elapsed());
                            mine.push((i, lease, start.elapsed()));
                            continue 'leases;
                        }
                        Err(e) => rec.fail(e),
                    }
                    if Instant::now() >= end {
                        break;
                    }
                }
            }
            made.lock().expect("made").extend(mine);
            rec
        }
    })
    .await;
    let wall = start.elapsed();
    let mut made = std::mem::take(&mut *made.lock().expect("made"));
    made.sort_by_key(|(i, _, _)| *i);
    // Rate over the first and the last tenth of the leases made, by completion time.
    let mut times: Vec<Duration> = made.iter().map(|(_, _, at)| *at).collect();
    times.sort();
    let tenth = times.len() / 10;
    let tenths = (tenth > 0).then(|| {
        let first = tenth as f64 / times[tenth - 1].as_secs_f64().max(1e-9);
        let last_span = times[times.len() - 1] - times[times.len() - 1 - tenth];
        let last = tenth as f64 / last_span.as_secs_f64().max(1e-9);
        (first, last)
    });
    let leases = made.into_iter().map(|(_, l, _)| l).collect();
    (
        leases,
        Outcome {
            rec,
            wall,
            detail: Vec::new(),
        },
        tenths,
    )
}

/// Closed loop of heartbeats over `leases`: worker `w` takes leases `w`, `w + conc`, ….
pub async fn heartbeats(
    dest: &Dest,
    conc: usize,
    leases: Arc<Vec<Lease>>,
    dur: Duration,
) -> Outcome {
    let start = Instant::now();
    let end = start + dur;
    let rec = workers(conc, |w| {
        let leases = leases.clone();
        let addr = dest.node(w);
        async move {
            let mut conn = Conn::new(addr);
            let mut rec = Recorder::default();
            let mut i = w;
            while Instant::now() < end && !leases.is_empty() {
                let t = Instant::now();
                match heartbeat(&mut conn, &leases[i % leases.len()]).await {
                    Ok(()) => rec.ok(t.elapsed()),
                    Err(e) => rec.fail(e),
                }
                i += conc;
            }
            rec
        }
    })
    .await;
    Outcome {
        rec,
        wall: start.elapsed(),
        detail: Vec::new(),
    }
}

/// What an open-loop phase sends at each scheduled instant.
#[derive(Clone)]
pub enum Job {
    /// A checkout and its checkin (the checkin goes as soon as the checkout is answered).
    Cycle { tag: String },
    /// A heartbeat of lease `i % len` for the `i`th scheduled instant.
    Heartbeat(Arc<Vec<Lease>>),
}

/// Open loop: the `i`th job starts at `start + i / rate`, on the first of `workers`
/// connections free then. Latency counts from the scheduled instant when a job had to
/// wait for a connection (so queueing is seen), from its actual start otherwise (so the
/// timer's own lateness is not). Stops after `dur` of schedule, or when the schedule has
/// fallen `dur` behind (the server could not keep up).
pub async fn open_loop(
    dest: &Dest,
    workers_n: usize,
    rate: f64,
    dur: Duration,
    job: Job,
) -> (Outcome, u64) {
    let rate = rate.max(1.0);
    let total = (rate * dur.as_secs_f64()).ceil() as u64;
    let start = Instant::now() + Duration::from_millis(20);
    let give_up = start + dur * 2 + Duration::from_secs(5);
    let next = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let split = Arc::new(std::sync::Mutex::new((
        Recorder::default(),
        Recorder::default(),
    )));
    let rec = workers(workers_n, |w| {
        let (next, sent, split, job, dest) = (
            next.clone(),
            sent.clone(),
            split.clone(),
            job.clone(),
            dest.clone(),
        );
        async move {
            let mut conn = Conn::new(dest.node(w));
            let mut footers = None;
            let (mut all, mut outs, mut ins) = Default::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() > give_up {
                    break;
                }
                let at = start + Duration::from_secs_f64(i as f64 / rate);
                let t0 = if at > Instant::now() {
                    tokio::time::sleep_until(at.into()).await;
                    Instant::now()
                } else {
                    at
                };
                sent.fetch_add(1, Ordering::Relaxed);
                match &job {
                    Job::Cycle { tag } => {
                        let body = checkout_body_of(
                            &dest.product,
                            &format!("{tag}-user{w}"),
                            &format!("{tag}-host{w}"),
                            &format!("{tag}-client{w}"),
                        );
                        cycle(
                            &mut conn,
                            dest.realm(i),
                            &body,
                            &mut footers,
                            t0,
                            (&mut all, &mut outs, &mut ins),
                        )
                        .await;
                    }
                    Job::Heartbeat(leases) => {
                        match heartbeat(&mut conn, &leases[(i as usize) % leases.len()]).await {
                            Ok(()) => all.ok(t0.elapsed()),
                            Err(e) => all.fail(e),
                        }
                    }
                }
            }
            let mut s = split.lock().expect("split");
            s.0.merge(outs);
            s.1.merge(ins);
            all
        }
    })
    .await;
    let wall = start.elapsed();
    let mut detail = Vec::new();
    let sent = sent.load(Ordering::Relaxed);
    if sent < total {
        detail.push(format!(
            "fell behind: sent {sent} of {total} scheduled requests before giving up"
        ));
    }
    if matches!(job, Job::Cycle { .. }) {
        let (mut outs, mut ins) = std::mem::take(&mut *split.lock().expect("split"));
        detail.push(split_detail(&mut outs, &mut ins, wall));
    }
    (Outcome { rec, wall, detail }, total)
}

/// Keeps taking leases for new users at `conc` until `stop` is set; returns the leases
/// the server acknowledged (answered 201) and how many checkouts were sent.
pub async fn checkout_until(
    dest: &Dest,
    conc: usize,
    stop: Arc<AtomicBool>,
    tag: &str,
    product: &str,
) -> (Vec<Lease>, u64) {
    let next = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
    workers(conc, |w| {
        let (next, acked, stop, tag, product, dest) = (
            next.clone(),
            acked.clone(),
            stop.clone(),
            tag.to_owned(),
            product.to_owned(),
            dest.clone(),
        );
        async move {
            let mut conn = Conn::new(dest.node(w));
            let mut footers = None;
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let body = checkout_body_of(
                    &product,
                    &format!("{tag}-user{i}"),
                    &format!("{tag}-host{i}"),
                    &format!("{tag}-client{i}"),
                );
                match checkout(&mut conn, dest.realm(i), &body, &mut footers).await {
                    Ok(lease) => acked.lock().expect("acked").push(lease),
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
            Recorder::default()
        }
    })
    .await;
    let acked = std::mem::take(&mut *acked.lock().expect("acked"));
    (acked, next.load(Ordering::Relaxed))
}

/// Heartbeats each of `leases` once, `conc` at a time; returns how many answered 200 and
/// the first failures.
pub async fn heartbeat_each(dest: &Dest, conc: usize, leases: Arc<Vec<Lease>>) -> Recorder {
    workers(conc, |w| {
        let leases = leases.clone();
        let addr = dest.node(w);
        async move {
            let mut conn = Conn::new(addr);
            let mut rec = Recorder::default();
            for lease in leases.iter().skip(w).step_by(conc) {
                let t = Instant::now();
                match heartbeat(&mut conn, lease).await {
                    Ok(()) => rec.ok(t.elapsed()),
                    Err(e) => rec.fail(e),
                }
            }
            rec
        }
    })
    .await
}

/// Seats in use in all pools of every realm, from `GET /api/v1/server` (16 realms at a
/// time, on the first node).
pub async fn in_use(dest: &Dest) -> Result<u32, String> {
    let n = dest.realms.len().min(16);
    let tasks: Vec<_> = (0..n)
        .map(|w| {
            let dest = dest.clone();
            tokio::spawn(async move {
                let mut conn = Conn::new(dest.node(0));
                let mut sum = 0;
                for realm in dest.realms.iter().skip(w).step_by(n) {
                    sum += realm_in_use(&mut conn, realm).await?;
                }
                Ok::<u32, String>(sum)
            })
        })
        .collect();
    let mut sum = 0;
    for t in tasks {
        sum += t.await.map_err(|e| e.to_string())??;
    }
    Ok(sum)
}

async fn realm_in_use(conn: &mut Conn, realm: &Realm) -> Result<u32, String> {
    let path = format!("{}/api/v1/server", realm.prefix);
    let r = conn
        .request("GET", &path, &realm.bearer(), None)
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    if r.status != 200 {
        return Err(describe(&format!("GET {path}"), &r));
    }
    let info: tessera_core::protocol::ServerInfo =
        serde_json::from_slice(&r.body).map_err(|e| format!("server info: {e}"))?;
    Ok(info.products.iter().map(|p| p.in_use + p.borrowed).sum())
}
