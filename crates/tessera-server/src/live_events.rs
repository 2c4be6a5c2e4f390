//! The live page and the web panel update by themselves: each keeps one server-sent
//! events stream open, and the server sends `change` when what the page shows differs
//! from what it rendered. The page then fetches itself and swaps its live parts
//! ([`LIVE_SCRIPT`]); without scripts it reloads every few seconds instead.
//!
//! What the page shows is summed up in a [`fingerprint`] (pools' counts, who holds a
//! seat, who waits). A stream looks again when this node takes, frees or queues a seat
//! (`AppState::changed`), and every [`LOOK_EVERY`] in any case, so a change made through
//! another node of the web license server shows too.

use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use crate::SharedState;

/// How often a stream looks for changes made elsewhere (another node, a lease that lapsed).
pub const LOOK_EVERY: Duration = Duration::from_secs(5);

/// The script that opens the stream and swaps the page's live parts: an element with
/// `data-live-events` (the stream's address) and `data-live-version` (the fingerprint
/// the page was rendered with), and elements with `data-live` and an `id`, replaced by
/// the same elements of the page fetched again.
pub const LIVE_SCRIPT: &str = include_str!("../templates/live_updates.js");

/// A summary of what the live page shows for `realm`: it changes when a seat is taken,
/// freed or borrowed, when a pool changes and when someone joins or leaves the line.
pub async fn fingerprint(
    state: &SharedState,
    realm: &str,
) -> Result<u64, tessera_store::StoreError> {
    let now = state.now();
    let mut h = std::hash::DefaultHasher::new();
    for u in state.store.pool_usage(realm, now).await? {
        (&u.pool.id, u.pool.seats, u.in_use, u.borrowed, u.pool.end).hash(&mut h);
    }
    for l in state.store.live_leases(realm, now).await? {
        (&l.id, l.kind() as u8).hash(&mut h);
    }
    for w in crate::api::waiting_in(state, realm) {
        (&w.user, &w.host, &w.product, w.position).hash(&mut h);
    }
    Ok(h.finish())
}

/// The stream for a page of `realm` rendered at fingerprint `since`: a `change` event
/// whenever the fingerprint moves on, comments to keep proxies from closing it, and the
/// end when the server stops.
pub fn events(
    state: SharedState,
    realm: String,
    since: Option<u64>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.changes.subscribe();
    let stream = futures_util::stream::unfold(
        (state, realm, rx, since, true),
        |(state, realm, mut rx, mut last, mut first)| async move {
            loop {
                if !first {
                    tokio::select! {
                        r = rx.changed() => if r.is_err() { return None; },
                        _ = tokio::time::sleep(LOOK_EVERY) => {}
                    }
                }
                first = false;
                if state.is_shutting_down() {
                    return None;
                }
                let now = match fingerprint(&state, &realm).await {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the live page's figures failed");
                        continue;
                    }
                };
                let moved = last.is_some_and(|l| l != now);
                last = Some(now);
                if moved {
                    let event = Event::default().event("change").data(now.to_string());
                    return Some((Ok(event), (state, realm, rx, last, first)));
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
