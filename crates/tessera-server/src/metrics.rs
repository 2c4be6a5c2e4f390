//! What a license server counts, for Prometheus (`GET /metrics`, OpenMetrics text made by
//! `prometheus-client`): checkouts and borrows granted and refused by reason, heartbeats,
//! leases lapsed by TTL, requests and their latency by route and status, and the time a
//! seat's write takes; at each scrape, the seats owned, in use, borrowed and waiting per
//! pool (per organization and pool on the web license server). Each server has its own
//! registry, so several in one process (tests) never mix their figures. The portal adds
//! its own counters (e-mails, daily jobs) to its web license server's registry through
//! [`Metrics::register_counter`].

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::SharedState;

/// A checkout or a borrow, and how it ended: `granted`, or the error code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SeatLabels {
    pub kind: String,
    pub outcome: String,
}

/// A heartbeat's outcome: `ok`, or the error code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

/// A request: its method, the route it matched (`/api/v1/leases/:id/heartbeat`, never
/// the ids themselves) and the status answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

/// A write of the seat accounting: `checkout`, `checkin`, `heartbeat`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    pub operation: String,
}

/// A pool of an organization (`lan` on a LAN server).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub realm: String,
    pub pool: String,
}

/// Checkouts waiting for a product of an organization.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProductLabels {
    pub realm: String,
    pub product: String,
}

/// A counter with labels that another crate counts (the portal's e-mails and daily jobs)
/// and shows on this server's `/metrics`; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct LabeledCounter(Family<Vec<(String, String)>, Counter>);

impl LabeledCounter {
    /// Adds one to the series of `labels`.
    pub fn inc(&self, labels: &[(&str, &str)]) {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0.get_or_create(&labels).inc();
    }

    /// The count of the series of `labels` (0 when never counted).
    pub fn get(&self, labels: &[(&str, &str)]) -> u64 {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0.get_or_create(&labels).get()
    }
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// A server's figures.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub seats: Family<SeatLabels, Counter>,
    pub heartbeats: Family<OutcomeLabels, Counter>,
    pub expired: Counter,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub writes: Family<WriteLabels, Histogram, fn() -> Histogram>,
    owned: Family<PoolLabels, Gauge>,
    in_use: Family<PoolLabels, Gauge>,
    borrowed: Family<PoolLabels, Gauge>,
    waiting: Family<ProductLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("tessera")),
            seats: Default::default(),
            heartbeats: Default::default(),
            expired: Default::default(),
            requests: Default::default(),
            latency: Family::new_with_constructor(latency_histogram),
            writes: Family::new_with_constructor(latency_histogram),
            owned: Default::default(),
            in_use: Default::default(),
            borrowed: Default::default(),
            waiting: Default::default(),
        };
        {
            let mut r = m.registry.lock().expect("metrics registry");
            r.register(
                "seat_requests",
                "Checkouts and borrows, by kind and outcome (granted, or the refusal's code)",
                m.seats.clone(),
            );
            r.register("heartbeats", "Heartbeats, by outcome", m.heartbeats.clone());
            r.register(
                "leases_expired",
                "Leases that lapsed without a heartbeat and borrows that ended, returned to their pools by the sweeper",
                m.expired.clone(),
            );
            r.register(
                "http_requests",
                "Requests, by method, route and status",
                m.requests.clone(),
            );
            r.register(
                "http_request_duration_seconds",
                "Time to answer a request, by method and route",
                m.latency.clone(),
            );
            r.register(
                "seat_write_duration_seconds",
                "Time a checkout, check-in or heartbeat took in the database, commit included",
                m.writes.clone(),
            );
            r.register("seats_owned", "Seats a pool has", m.owned.clone());
            r.register("seats_in_use", "Seats held online", m.in_use.clone());
            r.register(
                "seats_borrowed",
                "Seats out on a borrow",
                m.borrowed.clone(),
            );
            r.register(
                "seats_waiting",
                "Checkouts waiting for a seat of a product",
                m.waiting.clone(),
            );
        }
        m
    }
}

impl Metrics {
    /// Shows `counter` on `/metrics` as `tessera_<name>_total`.
    pub fn register_counter(&self, name: &str, help: &str, counter: &LabeledCounter) {
        self.registry
            .lock()
            .expect("metrics registry")
            .register(name, help, counter.0.clone());
    }

    pub fn seat(&self, kind: &str, outcome: &str) {
        self.seats
            .get_or_create(&SeatLabels {
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn heartbeat(&self, outcome: &str) {
        self.heartbeats
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Times a write of the seat accounting.
    pub fn write(&self, operation: &str, started: Instant) {
        self.writes
            .get_or_create(&WriteLabels {
                operation: operation.to_owned(),
            })
            .observe(started.elapsed().as_secs_f64());
    }

    /// The exposition, with the pools' gauges read from the database now.
    pub async fn render(&self, state: &SharedState) -> Result<String, tessera_store::StoreError> {
        let now = state.now();
        let realms = match state.identity() {
            Some(_) => vec![state.realm.clone()],
            None => state.store.realms_with_pools().await?,
        };
        let mut pools = Vec::new();
        for realm in realms {
            for usage in state.store.pool_usage(&realm, now).await? {
                pools.push((realm.clone(), usage));
            }
        }
        for family in [&self.owned, &self.in_use, &self.borrowed] {
            family.clear();
        }
        self.waiting.clear();
        for (realm, u) in pools {
            let labels = PoolLabels {
                realm,
                pool: u.pool.id.clone(),
            };
            self.owned
                .get_or_create(&labels)
                .set(i64::from(u.pool.seats));
            self.in_use.get_or_create(&labels).set(i64::from(u.in_use));
            self.borrowed
                .get_or_create(&labels)
                .set(i64::from(u.borrowed));
        }
        for (key, n) in state.queue.waiting() {
            let (realm, product) = key.split_once('\n').unwrap_or(("", &key));
            self.waiting
                .get_or_create(&ProductLabels {
                    realm: realm.to_owned(),
                    product: product.to_owned(),
                })
                .set(n as i64);
        }
        let mut out = String::new();
        let registry = self.registry.lock().expect("metrics registry");
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        Ok(out)
    }
}

/// Counts and times every request by the route it matched.
pub async fn track(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        // `/w/:org/api/v1/leases/:id/heartbeat`: the route's parameters in the colon
        // style most dashboards and text parsers expect, never their values.
        .map(|p| p.as_str().replace('{', ":").replace('}', ""))
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16().to_string(),
        })
        .inc();
    response
}
