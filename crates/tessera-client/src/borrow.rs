//! Borrowing: a seat taken out of its pool for a set number of hours and kept on this
//! computer as a signed token, so the licensed program runs where no server can be
//! reached. Owns borrowing and returning early, and the decision at each checkout whether
//! a borrowed license is used, dropped (it ran out, or the admin ended it early) or
//! refused (this computer's clock was turned back).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tessera_core::ErrorCode;
use tessera_core::protocol::{BorrowGrant, BorrowRequest};
use tessera_token::{SeatClaims, SeatKind};

use crate::cache::{BorrowInfo, CLOCK_TOLERANCE, Cache, check_clock, format_time};
use crate::client::{bearer, path_segment};
use crate::{Client, ClientError, License};

/// How long a checkout asks the server whether a borrow still stands before using it
/// offline: on site there is no server, and the program should start at once.
const BORROW_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A license just borrowed and kept in the cache.
#[derive(Debug, Clone)]
pub struct Borrow {
    pub borrow_id: String,
    pub product: String,
    /// When the borrow ends and the seat returns to its pool by itself; never later than
    /// the pool's own end.
    pub until: DateTime<Utc>,
    /// The borrow token, verified back to the vendor key.
    pub token: String,
    pub claims: SeatClaims,
    /// False when the server answered with the borrow this computer already had for the
    /// product (borrowing again does not take a second seat or move the end).
    pub new: bool,
}

/// What a checkout makes of the cache.
pub(crate) enum BorrowedUse {
    /// A borrowed license that stands: used, online or not.
    Use(License),
    /// Nothing usable is borrowed here: check out online.
    None,
    /// A borrowed license that cannot be used: check out online, and without the server
    /// say why the borrowed one was not used.
    Refused(NotUsed),
}

pub(crate) enum NotUsed {
    Ended {
        product: String,
        until: DateTime<Utc>,
    },
    ClockTurnedBack(ClientError),
}

impl NotUsed {
    /// The error of a checkout that could use neither the borrowed license nor the server.
    pub(crate) fn with_online_error(self, online: ClientError) -> ClientError {
        match self {
            NotUsed::Ended { product, until } => ClientError::BorrowExpired {
                product,
                until,
                message: format!("and no seat can be taken online instead: {online}"),
            },
            NotUsed::ClockTurnedBack(e) => e,
        }
    }
}

impl Client {
    /// `POST /api/v1/borrows`: takes a seat of `product` out of its pool for `hours`
    /// (capped at the pool's end) and keeps the verified borrow token in the cache, so
    /// [`checkout`](Self::checkout) grants the product without the server until it ends.
    pub fn borrow(&self, product: &str, hours: u32) -> Result<Borrow, ClientError> {
        let config = self.config();
        config.vendor_key()?;
        let cache = self.cache()?;
        // Before a seat is taken, not after: a borrow that cannot be kept is of no use.
        cache.prepare()?;
        // Asking again with the client id of the borrow held here returns that borrow
        // instead of taking a second one.
        let client_id = match config.client_id() {
            Some(id) => id.to_owned(),
            None => self
                .borrowed_here(&cache, product)?
                .map(|(_, claims)| claims.client_id)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        };
        let body = BorrowRequest {
            product: product.to_owned(),
            user: config.user().to_owned(),
            host: config.host().to_owned(),
            client_id: client_id.clone(),
            hours,
            email: config.email().map(str::to_owned),
        };
        let response = self.send("/api/v1/borrows", |agent, url| {
            Ok(self.with_credential(agent.post(url))?.send_json(&body))
        })?;
        let new = response.status().as_u16() == 201;
        let grant: BorrowGrant = self.json(response)?;
        let claims = self
            .verify_token(&grant.token, SeatKind::Borrow, &grant.borrow_id, product)
            .and_then(|claims| {
                self.check_holder(&claims, Some(&client_id))
                    .map(|()| claims)
            })
            .inspect_err(|_| self.give_back(&grant))?;
        let now = Utc::now();
        if now < claims.iat - CLOCK_TOLERANCE {
            // Refused now rather than on site, where nothing can be done about it.
            self.give_back(&grant);
            return Err(ClientError::ClockTurnedBack {
                message: format!(
                    "this computer's clock is earlier than the license server's ({} here, \
                     {} on the server), so the borrowed license would not work offline; \
                     set the clock right and try again",
                    format_time(now),
                    format_time(claims.iat)
                ),
            });
        }
        let info = BorrowInfo {
            server: config.server().to_owned(),
            product: product.to_owned(),
            borrow_id: grant.borrow_id.clone(),
            token: grant.token.clone(),
            until: claims.exp,
        };
        cache.store(&info).inspect_err(|_| self.give_back(&grant))?;
        // The server has just vouched for this computer's clock, so a later time
        // remembered from a clock that was wrong before no longer counts.
        let remembered = if now - claims.iat <= CLOCK_TOLERANCE {
            cache.set_clock(now)
        } else {
            cache.remember(now)
        };
        if let Err(e) = remembered {
            tracing::warn!(error = %e, "cannot remember the time");
        }
        tracing::debug!(product, borrow = %grant.borrow_id, until = %claims.exp, "license borrowed");
        Ok(Borrow {
            borrow_id: grant.borrow_id,
            product: product.to_owned(),
            until: claims.exp,
            token: grant.token,
            claims,
            new,
        })
    }

    /// `DELETE /api/v1/borrows/{id}`: returns the borrowed license of `product` early and
    /// removes it from the cache. A borrow the server no longer has (it ended, or the
    /// admin ended it) is removed too; without the server it stays, and still works.
    pub fn return_borrow(&self, product: &str) -> Result<(), ClientError> {
        let cache = self.cache()?;
        let server = self.config().server();
        let info = cache
            .load(server, product)
            .ok_or_else(|| ClientError::NotBorrowed {
                product: product.to_owned(),
                server: server.to_owned(),
            })?;
        match self.delete_borrow(&info.borrow_id, &info.token) {
            Ok(()) => {}
            Err(e) if e.code() == ErrorCode::BorrowNotFound.as_str() => {
                tracing::info!(product, borrow = %info.borrow_id, "the borrow had already ended on the server");
            }
            Err(e) => return Err(e),
        }
        cache.remove(server, product)
    }

    /// The borrowed license of `product` from this server that the cache holds, as it
    /// is stored (also when it has run out, until a checkout removes it).
    pub fn borrowed(&self, product: &str) -> Option<BorrowInfo> {
        self.cache().ok()?.load(self.config().server(), product)
    }

    /// The first step of every checkout: a borrowed license of `product` that stands.
    pub(crate) fn use_borrowed(&self, product: &str) -> Result<BorrowedUse, ClientError> {
        let Some(dir) = self.config().cache_dir() else {
            return Ok(BorrowedUse::None);
        };
        let cache = Cache::new(dir);
        let Some((info, claims)) = self.borrowed_here(&cache, product)? else {
            return Ok(BorrowedUse::None);
        };
        let server = self.config().server();
        let now = Utc::now();
        if now >= claims.exp {
            tracing::info!(product, borrow = %info.borrow_id, "the borrowed license has ended");
            self.forget(&cache, product);
            return Ok(BorrowedUse::Refused(NotUsed::Ended {
                product: product.to_owned(),
                until: claims.exp,
            }));
        }
        if let Err(e) = check_clock(now, claims.iat, cache.last_seen()) {
            tracing::warn!(product, error = %e, "not using the borrowed license");
            return Ok(BorrowedUse::Refused(NotUsed::ClockTurnedBack(e)));
        }
        if !self.borrow_stands(&info) {
            tracing::info!(product, borrow = %info.borrow_id, %server, "the license server ended the borrow early; checking out online");
            self.forget(&cache, product);
            return Ok(BorrowedUse::None);
        }
        if let Err(e) = cache.remember(now) {
            tracing::warn!(error = %e, "cannot remember the time");
        }
        tracing::debug!(product, borrow = %info.borrow_id, "using the borrowed license");
        Ok(BorrowedUse::Use(License::borrowed(
            product.to_owned(),
            info.token,
            claims,
        )))
    }

    /// Remembers the time of an online checkout, so a clock turned back later is noticed.
    pub(crate) fn remember_now(&self) {
        if let Some(dir) = self.config().cache_dir()
            && let Err(e) = Cache::new(dir).remember(Utc::now())
        {
            tracing::debug!(error = %e, "cannot remember the time");
        }
    }

    fn cache(&self) -> Result<Cache, ClientError> {
        Ok(Cache::new(self.config().require_cache_dir()?))
    }

    /// The cached borrow of `product` when its token verifies and was issued to this
    /// user on this host. One that does not is left alone: a home folder shared between
    /// computers, or a vendor key set wrong, must not make anyone lose a borrow.
    fn borrowed_here(
        &self,
        cache: &Cache,
        product: &str,
    ) -> Result<Option<(BorrowInfo, SeatClaims)>, ClientError> {
        let Some(info) = cache.load(self.config().server(), product) else {
            return Ok(None);
        };
        let checked = self
            .verify_token(&info.token, SeatKind::Borrow, &info.borrow_id, product)
            .and_then(|claims| self.check_holder(&claims, None).map(|()| claims));
        match checked {
            Ok(claims) => Ok(Some((info, claims))),
            Err(e @ ClientError::Config(_)) => Err(e),
            Err(e) => {
                tracing::warn!(product, borrow = %info.borrow_id, error = %e, "ignoring a borrowed license that is not for this user, computer or vendor");
                Ok(None)
            }
        }
    }

    /// `GET /api/v1/borrows/{id}`: false only when the server says the borrow is gone;
    /// a server that cannot be asked leaves the borrow standing, which is its purpose.
    fn borrow_stands(&self, info: &BorrowInfo) -> bool {
        let path = format!("/api/v1/borrows/{}", path_segment(&info.borrow_id));
        let sent = self.send(&path, |agent, url| {
            Ok(agent
                .get(url)
                .header("authorization", bearer(&info.token))
                .config()
                .timeout_global(Some(BORROW_CHECK_TIMEOUT.min(self.config().timeout())))
                .build()
                .call())
        });
        match sent {
            Ok(_) => true,
            Err(e) if e.code() == ErrorCode::BorrowNotFound.as_str() => false,
            Err(e) => {
                tracing::debug!(error = %e, "cannot ask the license server about the borrow; using it offline");
                true
            }
        }
    }

    fn delete_borrow(&self, borrow_id: &str, token: &str) -> Result<(), ClientError> {
        let path = format!("/api/v1/borrows/{}", path_segment(borrow_id));
        self.send(&path, |agent, url| {
            Ok(agent
                .delete(url)
                .header("authorization", bearer(token))
                .call())
        })
        .map(drop)
    }

    /// Returns a borrow that will not be kept, so its seat does not stay out for hours.
    fn give_back(&self, grant: &BorrowGrant) {
        if let Err(e) = self.delete_borrow(&grant.borrow_id, &grant.token) {
            tracing::warn!(borrow = %grant.borrow_id, error = %e, "cannot return a borrow that is not kept; its seat frees when it ends");
        }
    }

    fn forget(&self, cache: &Cache, product: &str) {
        if let Err(e) = cache.remove(self.config().server(), product) {
            tracing::warn!(product, error = %e, "cannot remove a borrowed license that has ended");
        }
    }
}
