//! Waiting for a seat: checkouts that ask to wait queue per product, first come first
//! served. A seat that frees goes to the first waiter; newcomers, waiting or not, do not
//! pass the queue.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tessera_core::PoolSpec;
use tessera_core::policy::{Holder, Policy, Refusal, SeatPolicy};

/// The most checkouts that may wait at once on one server.
pub const MAX_WAITERS: usize = 10_000;
/// The longest a checkout may wait, in seconds.
pub const MAX_WAIT_S: u64 = 600;

#[derive(Default)]
pub struct WaitQueue {
    tickets: Mutex<VecDeque<(u64, String, Waiter)>>,
    next: AtomicU64,
}

/// Who waits, and since when: what an admin sees of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiter {
    pub user: String,
    pub host: String,
    pub since: tessera_core::Millis,
}

/// A checkout waiting, with its place in its product's line (1 is next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub key: String,
    pub waiter: Waiter,
    pub position: usize,
}

/// A place in the queue; leaving (granted, timed out, or the client gone) frees it.
pub struct Ticket<'a> {
    queue: &'a WaitQueue,
    pub id: u64,
}

impl WaitQueue {
    /// Joins the queue for `product`; `None` when the queue is full.
    pub fn join(&self, product: &str, waiter: Waiter) -> Option<Ticket<'_>> {
        let mut tickets = self.tickets.lock().expect("queue lock");
        if tickets.len() >= MAX_WAITERS {
            return None;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        tickets.push_back((id, product.to_owned(), waiter));
        Some(Ticket { queue: self, id })
    }

    /// Everyone waiting for a key that starts with `prefix` (a realm and a line break),
    /// first come first, with their place in their own line.
    pub fn waiting_with_prefix(&self, prefix: &str) -> Vec<Waiting> {
        let tickets = self.tickets.lock().expect("queue lock");
        let mut places: std::collections::HashMap<&str, usize> = Default::default();
        let mut out = Vec::new();
        for (_, key, waiter) in tickets.iter() {
            let place = places.entry(key.as_str()).or_default();
            *place += 1;
            if key.starts_with(prefix) {
                out.push(Waiting {
                    key: key.clone(),
                    waiter: waiter.clone(),
                    position: *place,
                });
            }
        }
        out
    }

    /// How many wait for `product` ahead of `ticket` (all of them without a ticket).
    pub fn ahead_of(&self, product: &str, ticket: Option<u64>) -> usize {
        let tickets = self.tickets.lock().expect("queue lock");
        tickets
            .iter()
            .take_while(|(id, _, _)| Some(*id) != ticket)
            .filter(|(_, p, _)| p == product)
            .count()
    }

    /// How many wait for each key (a realm and a product), in no particular order.
    pub fn waiting(&self) -> Vec<(String, usize)> {
        let tickets = self.tickets.lock().expect("queue lock");
        let mut counts: std::collections::HashMap<&str, usize> = Default::default();
        for (_, key, _) in tickets.iter() {
            *counts.entry(key.as_str()).or_default() += 1;
        }
        counts.into_iter().map(|(k, n)| (k.to_owned(), n)).collect()
    }

    pub fn len(&self) -> usize {
        self.tickets.lock().expect("queue lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut tickets = self.queue.tickets.lock().expect("queue lock");
        tickets.retain(|(id, _, _)| *id != self.id);
    }
}

/// The office's policy, and the queue: a new seat is not for someone with others
/// waiting ahead of them for the product.
pub struct Gate<'a> {
    pub policy: &'a Policy,
    pub waiting_ahead: usize,
    pub product: &'a str,
}

impl SeatPolicy for Gate<'_> {
    fn admit(
        &self,
        pool: &PoolSpec,
        user: &str,
        host: &str,
        borrow: bool,
        shares: bool,
        holders: &[Holder],
    ) -> Result<(), Refusal> {
        if !shares && self.waiting_ahead > 0 {
            return Err(Refusal::Reserved {
                message: format!(
                    "{} checkout(s) are waiting for a seat of `{}` before this one",
                    self.waiting_ahead, self.product
                ),
            });
        }
        self.policy.admit(pool, user, host, borrow, shares, holders)
    }

    fn needs_holders(&self, pool: &PoolSpec) -> bool {
        self.policy.needs_holders(pool)
    }
}
