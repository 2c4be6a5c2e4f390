//! `License`: a held seat as a value. Owns the background thread that heartbeats,
//! rides out a server that is briefly away, takes the seat again when the lease lapsed,
//! and the check-in when the value is dropped. A license granted from a borrow has none
//! of that: its token is valid until the borrow ends, with or without the server.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tessera_token::SeatClaims;

use crate::client::{Granted, SeatRequest};
use crate::{Client, ClientError};

/// Shortest wait between heartbeats, whatever the server says: guards against a busy loop.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Longest wait between heartbeats, whatever the server says.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// Retry delays while the server cannot be reached; short, so that a server restart
/// goes unnoticed, but never more often than once a second.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(2)];

/// How the background loop is doing.
#[derive(Debug, Clone)]
pub enum LicenseStatus {
    /// The last heartbeat (or checkout) succeeded.
    Held,
    /// The server has not answered since `since`; the loop keeps trying.
    Reconnecting { since: DateTime<Utc> },
    /// The seat is gone for good (for example it lapsed and another user took it); the
    /// loop has stopped. Check out again to get a new one.
    Lost(Arc<ClientError>),
}

/// A seat held on a license server. Heartbeats in the background and checks in when
/// dropped (or by [`check_in`](Self::check_in)). Or, when [`is_borrowed`](Self::is_borrowed),
/// a license borrowed onto this computer: no heartbeats, nothing to check in, valid
/// [`until`](Self::until) the borrow ends.
pub struct License {
    held: Held,
}

enum Held {
    Lease(Leased),
    Borrow(Box<Borrowed>),
}

/// An online lease and its heartbeat thread.
struct Leased {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

/// A borrow token that verified back to the vendor key.
struct Borrowed {
    product: String,
    token: String,
    claims: SeatClaims,
}

struct Shared {
    client: Client,
    seat: SeatRequest,
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    granted: Granted,
    status: LicenseStatus,
    stop: bool,
}

impl std::fmt::Debug for License {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.held {
            Held::Lease(leased) => {
                let state = leased.shared.lock();
                f.debug_struct("License")
                    .field("product", &leased.shared.seat.product)
                    .field("lease_id", &state.granted.lease_id)
                    .field("expires_at", &state.granted.claims.exp)
                    .field("status", &state.status)
                    .finish_non_exhaustive()
            }
            Held::Borrow(borrowed) => f
                .debug_struct("License")
                .field("product", &borrowed.product)
                .field("borrow_id", &borrowed.claims.jti)
                .field("until", &borrowed.claims.exp)
                .finish_non_exhaustive(),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic (each update is one assignment), so
        // a poisoned lock is still usable; the license must keep working.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl License {
    /// Starts heartbeating a freshly granted lease. Without a thread the lease would
    /// lapse unnoticed, so failing to start one returns the seat and fails the checkout.
    pub(crate) fn start(
        client: Client,
        seat: SeatRequest,
        granted: Granted,
    ) -> Result<Self, ClientError> {
        let shared = Arc::new(Shared {
            client,
            seat,
            state: Mutex::new(State {
                granted,
                status: LicenseStatus::Held,
                stop: false,
            }),
            wake: Condvar::new(),
        });
        let worker_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("tessera-heartbeat".into())
            .spawn(move || run(&worker_shared));
        match spawned {
            Ok(worker) => Ok(License {
                held: Held::Lease(Leased {
                    shared,
                    worker: Some(worker),
                }),
            }),
            Err(e) => {
                let (lease_id, token) = {
                    let state = shared.lock();
                    (state.granted.lease_id.clone(), state.granted.token.clone())
                };
                let _ = shared.client.check_in(&lease_id, &token);
                Err(ClientError::Config(format!(
                    "cannot start the license's heartbeat thread: {e}"
                )))
            }
        }
    }

    /// A license granted from a borrow whose token verified (see
    /// [`Client::borrow`](crate::Client::borrow)).
    pub(crate) fn borrowed(product: String, token: String, claims: SeatClaims) -> Self {
        License {
            held: Held::Borrow(Box::new(Borrowed {
                product,
                token,
                claims,
            })),
        }
    }

    /// The current token and its claims.
    fn current<T>(&self, read: impl FnOnce(&str, &SeatClaims) -> T) -> T {
        match &self.held {
            Held::Lease(leased) => {
                let state = leased.shared.lock();
                read(&state.granted.token, &state.granted.claims)
            }
            Held::Borrow(borrowed) => read(&borrowed.token, &borrowed.claims),
        }
    }

    /// The lease id the server knows this seat by (it changes if the lease lapsed and
    /// was taken again); for a borrowed license, the borrow id.
    pub fn lease_id(&self) -> String {
        self.current(|_, claims| claims.jti.clone())
    }

    /// The current lease or borrow token, verified back to the vendor key.
    pub fn token(&self) -> String {
        self.current(|token, _| token.to_owned())
    }

    /// The current token's claims.
    pub fn claims(&self) -> SeatClaims {
        self.current(|_, claims| claims.clone())
    }

    /// When the current token expires, on the server's clock; for a borrowed license,
    /// when the borrow ends.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.current(|_, claims| claims.exp)
    }

    pub fn product(&self) -> &str {
        match &self.held {
            Held::Lease(leased) => &leased.shared.seat.product,
            Held::Borrow(borrowed) => &borrowed.product,
        }
    }

    /// The client id this license checks out with, also when it takes its seat again;
    /// for a borrowed license, the one it was borrowed with.
    pub fn client_id(&self) -> &str {
        match &self.held {
            Held::Lease(leased) => &leased.shared.seat.client_id,
            Held::Borrow(borrowed) => &borrowed.claims.client_id,
        }
    }

    /// How often the background thread heartbeats, as the server last said; zero for a
    /// borrowed license, which does not heartbeat.
    pub fn heartbeat_interval(&self) -> Duration {
        match &self.held {
            Held::Lease(leased) => clamp_interval(leased.shared.lock().granted.heartbeat_interval),
            Held::Borrow(_) => Duration::ZERO,
        }
    }

    /// Whether the license comes from a borrow on this computer rather than a lease.
    pub fn is_borrowed(&self) -> bool {
        matches!(self.held, Held::Borrow(_))
    }

    /// When a borrowed license ends; `None` for a lease, which lasts while it heartbeats.
    pub fn until(&self) -> Option<DateTime<Utc>> {
        match &self.held {
            Held::Lease(_) => None,
            Held::Borrow(borrowed) => Some(borrowed.claims.exp),
        }
    }

    /// A borrowed license is `Held` until it ends, then `Lost`.
    pub fn status(&self) -> LicenseStatus {
        match &self.held {
            Held::Lease(leased) => leased.shared.lock().status.clone(),
            Held::Borrow(_) if self.is_valid() => LicenseStatus::Held,
            Held::Borrow(borrowed) => LicenseStatus::Lost(Arc::new(ClientError::BorrowExpired {
                product: borrowed.product.clone(),
                until: borrowed.claims.exp,
                message: "check out again to take a seat online".into(),
            })),
        }
    }

    /// Whether the program may run licensed now: the seat is held, or the server is
    /// away but the last token has not expired yet. Once the token has expired while
    /// reconnecting the server has freed the seat too, so it no longer counts; the loop
    /// keeps trying and the license becomes valid again when the seat is back. A borrowed
    /// license is valid until the borrow ends by this computer's clock.
    pub fn is_valid(&self) -> bool {
        let leased = match &self.held {
            Held::Lease(leased) => leased,
            Held::Borrow(borrowed) => return Utc::now() < borrowed.claims.exp,
        };
        let state = leased.shared.lock();
        match state.status {
            LicenseStatus::Held => true,
            LicenseStatus::Reconnecting { .. } => Instant::now() < state.granted.deadline,
            LicenseStatus::Lost(_) => false,
        }
    }

    /// Stops heartbeating and returns the seat, reporting whether the server took it
    /// back. A lease the server had already dropped counts as returned. A borrowed
    /// license stays borrowed (see [`Client::return_borrow`](crate::Client::return_borrow)).
    pub fn check_in(self) -> Result<(), ClientError> {
        match self.held {
            Held::Lease(mut leased) => leased.shutdown(),
            Held::Borrow(_) => Ok(()),
        }
    }
}

impl Leased {
    fn shutdown(&mut self) -> Result<(), ClientError> {
        let Some(worker) = self.worker.take() else {
            return Ok(());
        };
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        // Waits at most for one call in flight, so whatever lease that call produced is
        // the one checked in below.
        let _ = worker.join();
        let (lease_id, token) = {
            let state = self.shared.lock();
            if matches!(state.status, LicenseStatus::Lost(_)) {
                return Ok(());
            }
            (state.granted.lease_id.clone(), state.granted.token.clone())
        };
        let result = self.shared.client.check_in(&lease_id, &token);
        match &result {
            Ok(()) => tracing::debug!(lease = %lease_id, "license checked in"),
            Err(e) => {
                tracing::warn!(lease = %lease_id, error = %e, "check-in failed; the seat frees when the lease expires")
            }
        }
        result
    }
}

impl Drop for Leased {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn clamp_interval(d: Duration) -> Duration {
    d.clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// The heartbeat loop; returns when asked to stop or when the seat is lost.
fn run(shared: &Shared) {
    let mut due = Instant::now() + clamp_interval(shared.lock().granted.heartbeat_interval);
    let mut need_checkout = false;
    let mut failures = 0usize;
    loop {
        let (lease_id, token) = {
            let mut state = shared.lock();
            loop {
                if state.stop {
                    return;
                }
                let now = Instant::now();
                if now >= due {
                    break;
                }
                state = shared
                    .wake
                    .wait_timeout(state, due - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            (state.granted.lease_id.clone(), state.granted.token.clone())
        };

        let outcome = if need_checkout {
            shared.client.request_lease(&shared.seat, None)
        } else {
            shared.client.heartbeat(&shared.seat, &lease_id, &token)
        };

        let mut state = shared.lock();
        let now = Instant::now();
        match outcome {
            Ok(granted) => {
                if need_checkout || granted.lease_id != lease_id {
                    tracing::info!(product = %shared.seat.product, lease = %granted.lease_id, "license taken again after its lease lapsed");
                } else if failures > 0 {
                    tracing::info!(product = %shared.seat.product, "license server reachable again");
                }
                due = now + clamp_interval(granted.heartbeat_interval);
                state.granted = granted;
                state.status = LicenseStatus::Held;
                need_checkout = false;
                failures = 0;
            }
            Err(e) if state.stop => {
                // Check-in is waiting; it will release whatever lease is still current.
                tracing::debug!(error = %e, "last heartbeat before check-in failed");
            }
            Err(e) if !need_checkout && e.lease_is_gone() => {
                tracing::info!(product = %shared.seat.product, lease = %lease_id, error = %e, "lease lapsed on the server; taking the seat again");
                need_checkout = true;
                due = now;
            }
            Err(e) if e.is_transient() => {
                if !matches!(state.status, LicenseStatus::Reconnecting { .. }) {
                    tracing::warn!(product = %shared.seat.product, error = %e, "license server not answering; retrying");
                    state.status = LicenseStatus::Reconnecting { since: Utc::now() };
                }
                let delay = RETRY_DELAYS[failures.min(RETRY_DELAYS.len() - 1)];
                failures += 1;
                due = now + delay.min(clamp_interval(state.granted.heartbeat_interval));
            }
            Err(e) => {
                tracing::error!(product = %shared.seat.product, error = %e, "license lost");
                state.status = LicenseStatus::Lost(Arc::new(e));
                return;
            }
        }
        if state.stop {
            return;
        }
    }
}
