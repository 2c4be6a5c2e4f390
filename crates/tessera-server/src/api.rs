//! The license protocol v1: thin translations between HTTP and the store.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tessera_core::protocol::{
    ActivationImported, BorrowGrant, BorrowRequest, CheckoutRequest, ErrorBody, LeaseGrant,
    LeaseKind, LeaseList, LeaseView, PoolStatus, ServerInfo,
};
use tessera_core::text::csv_field;
use tessera_core::{ErrorCode, from_millis, to_millis, validate};
use tessera_store::{DenialRecord, EndReason, LeaseRecord, SeatError, SeatRequest};
use tessera_token::{SeatClaims, SeatKind, sign_seat, verify_own_seat_token};

use crate::SharedState;
use crate::activation::{self, ActivationError};
use crate::audit::{self, Actor};
use crate::credential::{Credential, PoolReader, SeatCredential};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, ApiJson, Bearer, ClientAddress, Id, Realm};
use crate::policy_file::PolicyFileError;
use crate::queue::{Gate, MAX_WAIT_S};
use tessera_store::AuditAction;

#[utoipa::path(get, path = "/api/v1/server", tag = "license server",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The server and every pool", body = ServerInfo),
        (status = 401, description = "The server lends only with a credential and none came (`authentication_required`), or it is not good here (`invalid_credential`)", body = ErrorBody)
    ))]
pub async fn server_info(
    _: PoolReader,
    State(state): State<SharedState>,
    Realm(realm): Realm,
) -> ApiResult<Json<ServerInfo>> {
    let pools = state.store.pool_usage(&realm, state.now()).await?;
    let products = pools
        .into_iter()
        .map(|u| {
            let available = u.available();
            let single = u.pool.products.len() == 1;
            PoolStatus {
                id: u.pool.id,
                product: single.then(|| u.pool.products[0].clone()),
                products: (!single).then_some(u.pool.products),
                model: u.pool.model,
                seats: u.pool.seats,
                in_use: u.in_use,
                borrowed: u.borrowed,
                available,
                start: u.pool.start,
                end: u.pool.end,
                borrow_max_hours: u.pool.borrow_max_hours.min(state.config.max_borrow_hours),
                org: u.org,
            }
        })
        .collect();
    // The web license server has no registration key: the vendor's key signs for it.
    let (server_id, registration_key) = match state.identity() {
        Some(identity) => (
            identity.server_id.clone(),
            identity.registration_key.to_string(),
        ),
        None => (realm.clone(), String::new()),
    };
    Ok(Json(ServerInfo {
        server_id,
        registration_key,
        public_key: state.signing_key().verifying_key().to_paserk(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        heartbeat_interval_s: state.config.heartbeat.as_secs(),
        lease_ttl_s: state.config.lease_ttl.as_secs(),
        products,
        node: state.config.node_name.clone(),
    }))
}

fn check_seat_fields(product: &str, user: &str, host: &str, client_id: &str) -> ApiResult<()> {
    validate::product(product)?;
    validate::name("user", user)?;
    validate::name("host", host)?;
    validate::name("client_id", client_id)?;
    Ok(())
}

/// The optional e-mail of a checkout or a borrow: an address, or nothing when empty.
fn check_email(email: Option<&str>) -> ApiResult<Option<&str>> {
    let Some(email) = email.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    validate::bounded("email", email, 254)?;
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(Some(email))
        }
        _ => Err(ApiError::invalid(
            "`email` must be an e-mail address such as anna@example.com",
        )),
    }
}

/// The e-mail a seat is recorded and admitted with: the verified one of a person's
/// sign-in. On the web license server a typed `email` is never taken at its word; a LAN
/// server, open on its own network, keeps what the program sent for its live page.
fn trusted_email<'a>(
    state: &SharedState,
    credential: &'a Credential,
    typed: Option<&'a str>,
) -> Option<&'a str> {
    match credential.signed_in() {
        Some(email) => Some(email),
        None if state.identity().is_some() => typed.map(str::trim).filter(|e| !e.is_empty()),
        None => None,
    }
}

async fn sign_for(state: &SharedState, lease: &LeaseRecord) -> ApiResult<String> {
    let signing = state.pool_signing(&lease.realm, &lease.pool_id).await?;
    let pool_products = signing
        .as_ref()
        .map(|s| s.products.clone())
        .unwrap_or_else(|| vec![lease.product.clone()]);
    let activation = signing.and_then(|s| s.activation.clone());
    let claims = SeatClaims {
        kind: match lease.kind() {
            LeaseKind::Lease => SeatKind::Lease,
            LeaseKind::Borrow => SeatKind::Borrow,
        },
        jti: lease.id.clone(),
        // A person's sign-in names them; otherwise the OS account the program reported.
        sub: lease
            .signed_in
            .clone()
            .unwrap_or_else(|| lease.user_name.clone()),
        host: lease.host.clone(),
        client_id: lease.client_id.clone(),
        products: pool_products,
        pool: lease.pool_id.clone(),
        site_key: lease.site_key_id.clone(),
        iat: from_millis(state.now()),
        exp: from_millis(lease.expires_at),
    };
    let token = sign_seat(state.signing_key(), &claims, activation.as_deref())
        .map_err(ApiError::internal)?;
    state.issued.remember(
        &claims.jti,
        claims.kind,
        &token,
        lease.expires_at,
        seat_credential(state, &claims),
    );
    Ok(token)
}

/// The credential a seat's own calls count against: its site key, or on the web license
/// server the person it was taken for; none on a LAN server without site keys.
fn seat_credential(state: &SharedState, claims: &SeatClaims) -> Option<String> {
    match &claims.site_key {
        Some(key) => Some(format!("key:{key}")),
        None if state.identity().is_none() => Some(format!("person:{}", claims.sub)),
        None => None,
    }
}

async fn record_denial(
    state: &SharedState,
    realm: &str,
    product: &str,
    user: &str,
    host: &str,
    err: &ApiError,
) {
    let d = DenialRecord {
        at: state.now(),
        product: product.to_owned(),
        user_name: user.to_owned(),
        host: host.to_owned(),
        code: err.code.as_str().to_owned(),
        detail: err.message.clone(),
    };
    if let Err(e) = state.store.record_denial(realm, &d).await {
        tracing::warn!(error = %e, "could not record a denial");
    }
}

/// Takes a seat under the office's policy and the wait queue. With `wait_s` > 0 the
/// checkout queues, first come first served, and is answered as soon as a seat frees for
/// it or the time runs out. Every refusal is recorded for the reports.
async fn take_seat(
    state: &SharedState,
    seat: &SeatRequest<'_>,
    wait_s: u64,
) -> ApiResult<(LeaseRecord, bool)> {
    if wait_s > MAX_WAIT_S {
        return Err(ApiError::invalid(format!(
            "`wait_s` may be at most {MAX_WAIT_S}"
        )));
    }
    // Each realm (organization) has its own line per product.
    let queue_key = format!("{}\n{}", seat.realm, seat.product);
    let ticket = if wait_s > 0 {
        let waiter = crate::queue::Waiter {
            user: seat.user.to_owned(),
            host: seat.host.to_owned(),
            since: state.now(),
        };
        let ticket = state.queue.join(&queue_key, waiter).ok_or_else(|| {
            ApiError::new(
                ErrorCode::QueueFull,
                "too many checkouts are waiting; try again later",
            )
        })?;
        state.changed();
        Some(ticket)
    } else {
        None
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait_s);
    let result = loop {
        // Listen before trying, so a seat freed between the try and the wait is not missed.
        let freed = state.seats_changed.notified();
        tokio::pin!(freed);
        freed.as_mut().enable();
        let Some(realm_now) = state.realm_state(seat.realm).await? else {
            return Err(ApiError::new(ErrorCode::NotFound, "no such license server"));
        };
        if !realm_now.enabled {
            return Err(ApiError::new(
                ErrorCode::DeniedByPolicy,
                "this organization's web license server is switched off by its admin",
            ));
        }
        if let Err(refused) = realm_now.access.admit(seat.user, seat.email) {
            let err = ApiError::new(
                ErrorCode::DeniedByPolicy,
                format!("{} (rule: {})", refused.message, refused.rule),
            );
            record_denial(state, seat.realm, seat.product, seat.user, seat.host, &err).await;
            return Err(err);
        }
        let gate = Gate {
            policy: &realm_now.policy,
            waiting_ahead: state
                .queue
                .ahead_of(&queue_key, ticket.as_ref().map(|t| t.id)),
            product: seat.product,
        };
        let started = std::time::Instant::now();
        let taken = state.store.take_seat(seat, &gate, state.now()).await;
        state.metrics.write("checkout", started);
        match taken {
            Err(SeatError::NoSeat { .. } | SeatError::Reserved(_))
                if tokio::time::Instant::now() < deadline =>
            {
                let retry =
                    (tokio::time::Instant::now() + std::time::Duration::from_secs(1)).min(deadline);
                tokio::select! {
                    _ = &mut freed => {}
                    _ = tokio::time::sleep_until(retry) => {}
                }
            }
            other => break other,
        }
        if state.is_shutting_down() {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "the license server is shutting down; try again in a moment",
            ));
        }
    };
    if ticket.is_some() {
        drop(ticket);
        // The next in line may be able to go now.
        state.seat_freed();
    }
    match result {
        Ok(granted) => Ok(granted),
        Err(e) => {
            let store_failure = matches!(e, SeatError::Store(_));
            let err = ApiError::from(e);
            if !store_failure {
                record_denial(state, seat.realm, seat.product, seat.user, seat.host, &err).await;
            }
            Err(err)
        }
    }
}

/// Counts a checkout's or a borrow's outcome for `/metrics`.
fn counted<T>(state: &SharedState, kind: &str, result: ApiResult<T>) -> ApiResult<T> {
    match &result {
        Ok(_) => {
            state.metrics.seat(kind, "granted");
            state.changed();
        }
        Err(e) => state.metrics.seat(kind, e.code.as_str()),
    }
    result
}

fn lease_grant(state: &SharedState, lease: &LeaseRecord, token: String) -> LeaseGrant {
    grant(state, lease.id.clone(), token, lease.expires_at)
}

/// What a checkout or a heartbeat answers: the lease, its token and expiry (ms).
fn grant(state: &SharedState, lease_id: String, token: String, expires_at: i64) -> LeaseGrant {
    LeaseGrant {
        lease_id,
        token,
        expires_at: from_millis(expires_at),
        heartbeat_interval_s: state.config.heartbeat.as_secs(),
    }
}

#[utoipa::path(post, path = "/api/v1/leases", tag = "leases", request_body = CheckoutRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 401, description = "No credential where one is needed (`authentication_required`: always on the web license server), or one that is not good here (`invalid_credential`)", body = ErrorBody),
        (status = 201, description = "A seat was taken", body = LeaseGrant),
        (status = 200, description = "A retry: the same lease", body = LeaseGrant),
        (status = 400, description = "Not JSON (`invalid_json`)", body = ErrorBody),
        (status = 413, description = "Body too large (`payload_too_large`)", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "Bad fields (`invalid_request`)", body = ErrorBody),
        (status = 403, description = "Refused by the policy (`denied_by_policy`) or not started (`license_not_started`)", body = ErrorBody),
        (status = 404, description = "No pool covers the product (`unknown_product`)", body = ErrorBody),
        (status = 409, description = "Every seat is taken (`no_seat_available`)", body = ErrorBody),
        (status = 410, description = "The license has ended (`license_expired`)", body = ErrorBody),
        (status = 503, description = "Too many waiting (`queue_full`) or shutting down (`unavailable`)", body = ErrorBody)
    ))]
pub async fn checkout(
    State(state): State<SharedState>,
    Realm(realm): Realm,
    ClientAddress(address): ClientAddress,
    SeatCredential(credential): SeatCredential,
    ApiJson(req): ApiJson<CheckoutRequest>,
) -> ApiResult<Response> {
    check_seat_fields(&req.product, &req.user, &req.host, &req.client_id)?;
    check_email(req.email.as_deref())?;
    if let Some(v) = &req.version {
        validate::bounded("version", v, 64)?;
    }
    let seat = SeatRequest {
        realm: &realm,
        kind: LeaseKind::Lease,
        product: &req.product,
        user: &req.user,
        host: &req.host,
        client_id: &req.client_id,
        version: req.version.as_deref(),
        email: trusted_email(&state, &credential, req.email.as_deref()),
        address: address.as_deref(),
        signed_in: credential.signed_in(),
        site_key_id: credential.site_key_id(),
        duration_ms: state.config.lease_ttl.as_millis() as i64,
    };
    let (lease, new) = counted(
        &state,
        "lease",
        take_seat(&state, &seat, req.wait_s.unwrap_or(0)).await,
    )?;
    let token = sign_for(&state, &lease).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(lease_grant(&state, &lease, token))).into_response())
}

/// Checks that a bearer token is this server's own token for the seat `id` of `kind`:
/// the token this node last signed or verified for it (a hash compared, see
/// `issued.rs`), or any token whose signature verifies and names that seat. Answers the
/// token's `exp` (ms), so a heartbeat may answer it again.
fn authorize_seat(
    state: &SharedState,
    token: &str,
    id: &str,
    kind: SeatKind,
) -> ApiResult<Option<i64>> {
    let (credential, issued_exp) = match state.issued.check(id, kind, token) {
        crate::issued::Known::Issued(credential, exp) => {
            (credential.map(|c| c.to_string()), Some(exp))
        }
        crate::issued::Known::Unknown => {
            let claims = verify_own_seat_token(state.signing_key().verifying_key(), token)
                .map_err(|_| {
                    ApiError::unauthorized("the bearer token is not a token of this server")
                })?;
            if claims.jti != id || claims.kind != kind {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "the bearer token belongs to another lease",
                ));
            }
            // Signed by another node (or before a restart), and verified: remembered like
            // this node's own, so its next calls here are checked by the hash and a
            // heartbeat may answer it again instead of signing a new one on every node
            // change (with two nodes behind a balancer, half of all heartbeats).
            let exp = tessera_core::to_millis(claims.exp);
            let credential = seat_credential(state, &claims);
            state
                .issued
                .remember(&claims.jti, claims.kind, token, exp, credential.clone());
            (credential, Some(exp))
        }
    };
    // A seat's own calls count toward its credential's limit too.
    if let Some(key) = credential
        && let Err(wait) = state.limiter.credentials.take(&key)
    {
        return Err(crate::limits::too_many_for_credential(wait));
    }
    Ok(issued_exp)
}

/// Whether a heartbeat may answer the token it was sent again instead of signing a new
/// one: the token has more than half the lease TTL left, and more than two heartbeat
/// intervals, so a client that keeps it is never left holding an expired token.
fn still_fresh(state: &SharedState, token_exp: i64, now: i64) -> bool {
    let ttl = state.config.lease_ttl.as_millis() as i64;
    let beat = state.config.heartbeat.as_millis() as i64;
    token_exp - now > (ttl / 2).max(2 * beat)
}

/// How much longer than one heartbeat interval a lease's expiry on disk must last for a
/// heartbeat to be answered before it is written.
const WRITE_BEHIND_MARGIN_MS: i64 = 10_000;

fn not_found(kind: SeatKind) -> ApiError {
    match kind {
        SeatKind::Lease => ApiError::new(
            ErrorCode::LeaseNotFound,
            "the lease has expired or was checked in or removed",
        ),
        SeatKind::Borrow => ApiError::new(
            ErrorCode::BorrowNotFound,
            "the borrow has ended or was returned or removed",
        ),
    }
}

#[utoipa::path(post, path = "/api/v1/leases/{id}/heartbeat", tag = "leases",
    params(("id" = String, Path, description = "The lease id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The lease goes on; a fresh token", body = LeaseGrant),
        (status = 401, description = "No or a foreign token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token of another lease (`forbidden`)", body = ErrorBody),
        (status = 404, description = "The lease has ended (`lease_not_found`)", body = ErrorBody),
        (status = 413, description = "Body too large (`payload_too_large`)", body = ErrorBody)
    ))]
pub async fn heartbeat(
    State(state): State<SharedState>,
    Realm(realm): Realm,
    Id(id): Id,
    Bearer(token): Bearer,
    // Read (and ignore) any body, so the connection stays usable for the next call.
    _body: Bytes,
) -> ApiResult<Json<LeaseGrant>> {
    let issued_exp = authorize_seat(&state, &token, &id, SeatKind::Lease)?;
    let ttl = state.config.lease_ttl.as_millis() as i64;
    let started = std::time::Instant::now();
    let now = state.now();
    // Mostly answered from memory and written behind (`tessera-store`'s `behind.rs`):
    // only while the expiry on disk outlives the next heartbeat by a margin, so a crash
    // that loses the extension still finds the lease at that heartbeat.
    let min_left = state.config.heartbeat.as_millis() as i64 + WRITE_BEHIND_MARGIN_MS;
    if let Some(expires_at) = state
        .store
        .heartbeat_in_memory(&realm, &id, now, ttl, min_left)
    {
        let token = match issued_exp {
            Some(exp) if still_fresh(&state, exp, now) => token,
            _ => {
                let lease = state
                    .store
                    .lease(&realm, &id, now)
                    .await?
                    .ok_or_else(|| not_found(SeatKind::Lease))?;
                sign_for(&state, &lease).await?
            }
        };
        state.metrics.write("heartbeat", started);
        state.metrics.heartbeat("ok");
        return Ok(Json(grant(&state, id, token, expires_at)));
    }
    let beat = state
        .store
        .heartbeat(&realm, &id, now, ttl, min_left)
        .await?;
    state.metrics.write("heartbeat", started);
    state.metrics.heartbeat(if beat.is_some() {
        "ok"
    } else {
        "lease_not_found"
    });
    let lease = beat.ok_or_else(|| not_found(SeatKind::Lease))?;
    // The token it has is good for a while yet: answer it again, unsigned anew.
    let token = match issued_exp {
        Some(exp) if still_fresh(&state, exp, now) => token,
        _ => sign_for(&state, &lease).await?,
    };
    Ok(Json(lease_grant(&state, &lease, token)))
}

#[utoipa::path(delete, path = "/api/v1/leases/{id}", tag = "leases",
    params(("id" = String, Path, description = "The lease id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Checked in"),
        (status = 401, description = "No or a foreign token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token of another lease (`forbidden`)", body = ErrorBody),
        (status = 404, description = "The lease has ended (`lease_not_found`)", body = ErrorBody),
        (status = 413, description = "Body too large (`payload_too_large`)", body = ErrorBody)
    ))]
pub async fn checkin(
    State(state): State<SharedState>,
    Realm(realm): Realm,
    Id(id): Id,
    Bearer(token): Bearer,
    // Read (and ignore) any body, so the connection stays usable for the next call.
    _body: Bytes,
) -> ApiResult<StatusCode> {
    end_own_seat(&state, &realm, &id, &token, SeatKind::Lease).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/borrows", tag = "borrows", request_body = BorrowRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 401, description = "No credential where one is needed (`authentication_required`: always on the web license server), or one that is not good here (`invalid_credential`)", body = ErrorBody),
        (status = 201, description = "Borrowed", body = BorrowGrant),
        (status = 200, description = "A retry: the same borrow", body = BorrowGrant),
        (status = 400, description = "Not JSON (`invalid_json`)", body = ErrorBody),
        (status = 413, description = "Body too large (`payload_too_large`)", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "Bad fields (`invalid_request`)", body = ErrorBody),
        (status = 403, description = "The pool does not lend (`borrow_not_allowed`) or the policy refuses (`denied_by_policy`)", body = ErrorBody),
        (status = 404, description = "No pool covers the product (`unknown_product`)", body = ErrorBody),
        (status = 409, description = "Every seat is taken (`no_seat_available`)", body = ErrorBody),
        (status = 410, description = "The license has ended (`license_expired`)", body = ErrorBody),
        (status = 503, description = "Shutting down (`unavailable`)", body = ErrorBody)
    ))]
pub async fn borrow(
    State(state): State<SharedState>,
    Realm(realm): Realm,
    ClientAddress(address): ClientAddress,
    SeatCredential(credential): SeatCredential,
    ApiJson(req): ApiJson<BorrowRequest>,
) -> ApiResult<Response> {
    check_seat_fields(&req.product, &req.user, &req.host, &req.client_id)?;
    check_email(req.email.as_deref())?;
    if req.hours == 0 {
        return Err(ApiError::invalid("`hours` must be at least 1"));
    }
    if req.hours > state.config.max_borrow_hours {
        return Err(ApiError::new(
            ErrorCode::BorrowTooLong,
            format!(
                "this server lends for at most {} hours",
                state.config.max_borrow_hours
            ),
        ));
    }
    let seat = SeatRequest {
        realm: &realm,
        kind: LeaseKind::Borrow,
        product: &req.product,
        user: &req.user,
        host: &req.host,
        client_id: &req.client_id,
        version: None,
        email: trusted_email(&state, &credential, req.email.as_deref()),
        address: address.as_deref(),
        signed_in: credential.signed_in(),
        site_key_id: credential.site_key_id(),
        duration_ms: i64::from(req.hours) * 3_600_000,
    };
    let (lease, new) = counted(&state, "borrow", take_seat(&state, &seat, 0).await)?;
    let token = sign_for(&state, &lease).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(BorrowGrant {
            borrow_id: lease.id.clone(),
            token,
            until: from_millis(lease.expires_at),
        }),
    )
        .into_response())
}

/// Whether a borrow still stands: how a client that borrowed learns, when it next reaches
/// the server, that the admin ended its borrow early.
#[utoipa::path(get, path = "/api/v1/borrows/{id}", tag = "borrows",
    params(("id" = String, Path, description = "The borrow id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The borrow still stands", body = BorrowGrant),
        (status = 401, description = "No or a foreign token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token of another borrow (`forbidden`)", body = ErrorBody),
        (status = 404, description = "The borrow has ended (`borrow_not_found`)", body = ErrorBody),
        (status = 413, description = "Body too large (`payload_too_large`)", body = ErrorBody)
    ))]
pub async fn borrow_status(
    State(state): State<SharedState>,
    Realm(realm): Realm,
    Id(id): Id,
    Bearer(token): Bearer,
    // Read (and ignore) any body, so the connection stays usable for the next call.
    _body: Bytes,
) -> ApiResult<Json<BorrowGrant>> {
    authorize_seat(&state, &token, &id, SeatKind::Borrow)?;
    let lease = state
        .store
        .lease(&realm, &id, state.now())
        .await?
        .filter(|l| l.kind() == LeaseKind::Borrow)
        .ok_or_else(|| not_found(SeatKind::Borrow))?;
    Ok(Json(BorrowGrant {
        borrow_id: lease.id.clone(),
        token,
        until: from_millis(lease.expires_at),
    }))
}

#[utoipa::path(delete, path = "/api/v1/borrows/{id}", tag = "borrows",
    params(("id" = String, Path, description = "The borrow id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Returned early"),
        (status = 401, description = "No or a foreign token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The token of another borrow (`forbidden`)", body = ErrorBody),
        (status = 404, description = "The borrow has ended (`borrow_not_found`)", body = ErrorBody),
        (status = 413, description = "Body too large (`payload_too_large`)", body = ErrorBody)
    ))]
pub async fn return_borrow(
    State(state): State<SharedState>,
    Realm(realm): Realm,
    Id(id): Id,
    Bearer(token): Bearer,
    ClientAddress(address): ClientAddress,
    // Read (and ignore) any body, so the connection stays usable for the next call.
    _body: Bytes,
) -> ApiResult<StatusCode> {
    let now = state.now();
    let borrow = end_own_seat(&state, &realm, &id, &token, SeatKind::Borrow).await?;
    // Its own token returned it: the borrower, as its program names them.
    let by = Actor::new(
        &realm,
        &format!("{}@{}", borrow.user_name, borrow.host),
        address,
    );
    let until = from_millis(borrow.expires_at).format("%Y-%m-%d %H:%M UTC");
    audit::record(
        &state.store,
        &by,
        AuditAction::BorrowReturnedEarly,
        &seat_target(&borrow),
        &format!("borrow {}, due back {until}", borrow.id),
        now,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// A seat as the audit log names it: who held what where.
pub fn seat_target(l: &LeaseRecord) -> String {
    format!("{} ({}@{})", l.product, l.user_name, l.host)
}

/// What an imported activation brought, for the audit log.
pub fn activation_detail(imported: &ActivationImported) -> String {
    format!(
        "{}: {} (until {})",
        imported.org,
        imported.pools.join(", "),
        imported.exp.format("%Y-%m-%d")
    )
}

/// Ends a lease (check-in) or a borrow (early return) on behalf of its own token.
async fn end_own_seat(
    state: &SharedState,
    realm: &str,
    id: &str,
    token: &str,
    kind: SeatKind,
) -> ApiResult<LeaseRecord> {
    authorize_seat(state, token, id, kind)?;
    let (lease_kind, reason) = match kind {
        SeatKind::Lease => (LeaseKind::Lease, EndReason::CheckedIn),
        SeatKind::Borrow => (LeaseKind::Borrow, EndReason::Returned),
    };
    let started = std::time::Instant::now();
    let ended = state
        .store
        .end(realm, id, Some(lease_kind), state.now(), reason)
        .await?;
    state.metrics.write("checkin", started);
    let ended = ended.ok_or_else(|| not_found(kind))?;
    state.issued.forget(id, kind);
    state.seat_freed();
    Ok(ended)
}

/// A lease as the admin API shows it; `key_names` names the realm's site keys by id.
pub fn lease_view(
    l: LeaseRecord,
    key_names: &std::collections::HashMap<String, String>,
) -> LeaseView {
    LeaseView {
        signed_in: l.signed_in.clone(),
        site_key: l
            .site_key_id
            .as_ref()
            .map(|id| key_names.get(id).cloned().unwrap_or_else(|| id.clone())),
        kind: l.kind(),
        id: l.id,
        pool_id: l.pool_id,
        product: l.product,
        user: l.user_name,
        host: l.host,
        client_id: l.client_id,
        version: l.version,
        email: l.email,
        address: l.address,
        since: from_millis(l.created_at),
        last_heartbeat: from_millis(l.heartbeat_at),
        until: from_millis(l.expires_at),
    }
}

#[utoipa::path(get, path = "/api/v1/admin/leases", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every lease and borrow", body = LeaseList),
        (status = 401, description = "No or a wrong admin token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not an admin of this organization (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such organization", body = ErrorBody)
    ))]
pub async fn admin_leases(
    _: Admin,
    State(state): State<SharedState>,
    Realm(realm): Realm,
) -> ApiResult<Json<LeaseList>> {
    let leases = state.store.live_leases(&realm, state.now()).await?;
    let names = site_key_names(&state, &realm).await?;
    Ok(Json(LeaseList {
        leases: leases.into_iter().map(|l| lease_view(l, &names)).collect(),
        waiting: waiting_in(&state, &realm),
    }))
}

/// The checkouts of `realm` waiting for a seat now, each with its place in its line.
pub fn waiting_in(state: &SharedState, realm: &str) -> Vec<tessera_core::protocol::WaitingView> {
    state
        .queue
        .waiting_with_prefix(&format!("{realm}\n"))
        .into_iter()
        .map(|w| tessera_core::protocol::WaitingView {
            product: w
                .key
                .split_once('\n')
                .map(|(_, p)| p)
                .unwrap_or_default()
                .to_owned(),
            user: w.waiter.user,
            host: w.waiter.host,
            since: from_millis(w.waiter.since),
            position: w.position as u32,
        })
        .collect()
}

/// The names of a realm's site keys (revoked ones too), by id.
pub async fn site_key_names(
    state: &SharedState,
    realm: &str,
) -> ApiResult<std::collections::HashMap<String, String>> {
    Ok(state
        .store
        .site_keys(realm)
        .await?
        .into_iter()
        .map(|k| (k.id, k.name))
        .collect())
}

#[utoipa::path(delete, path = "/api/v1/admin/leases/{id}", tag = "admin",
    params(("id" = String, Path, description = "A lease or borrow id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed; the seat is free"),
        (status = 401, description = "No or a wrong admin token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not an admin of this organization (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such lease (`lease_not_found`)", body = ErrorBody),
        (status = 413, description = "Body too large (`payload_too_large`)", body = ErrorBody)
    ))]
pub async fn admin_remove(
    Admin(by): Admin,
    State(state): State<SharedState>,
    Realm(realm): Realm,
    Id(id): Id,
    _body: Bytes,
) -> ApiResult<StatusCode> {
    remove_seat(&state, &realm, &id, &by).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An admin removes a user's seat (a lease or a borrow): it frees at once, and the
/// program learns on its next heartbeat (`lease_not_found`). `by` is recorded in the
/// audit log.
pub async fn remove_seat(
    state: &SharedState,
    realm: &str,
    id: &str,
    by: &Actor,
) -> ApiResult<LeaseRecord> {
    let now = state.now();
    let removed = state
        .store
        .end(realm, id, None, now, EndReason::Removed)
        .await?
        .ok_or_else(|| not_found(SeatKind::Lease))?;
    tracing::info!(realm, lease = %removed.id, user = %removed.user_name, host = %removed.host, "seat removed by the admin");
    let kind = match removed.kind() {
        LeaseKind::Lease => "lease",
        LeaseKind::Borrow => "borrow",
    };
    audit::record(
        &state.store,
        by,
        AuditAction::SeatRemoved,
        &seat_target(&removed),
        &format!("{kind} {}", removed.id),
        now,
    )
    .await;
    state.seat_freed();
    Ok(removed)
}

#[utoipa::path(post, path = "/api/v1/admin/activations", tag = "admin",
    request_body(content = String, content_type = "text/plain", description = "The activation key"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Imported; its pools are in service", body = ActivationImported),
        (status = 400, description = "The signature does not verify (`invalid_signature`)", body = ErrorBody),
        (status = 401, description = "No or a wrong admin token (`unauthorized`)", body = ErrorBody),
        (status = 409, description = "Issued for another server (`wrong_server`)", body = ErrorBody),
        (status = 410, description = "Expired (`expired`)", body = ErrorBody),
        (status = 413, description = "Body too large (`payload_too_large`)", body = ErrorBody),
        (status = 422, description = "Not an activation key (`invalid_request`)", body = ErrorBody)
    ))]
pub async fn admin_activate(
    Admin(by): Admin,
    State(state): State<SharedState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ActivationImported>)> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("the activation key must be text"))?;
    let Some(identity) = state.identity() else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "the web license server takes no activation keys",
        ));
    };
    let imported = activation::import(
        &state.store,
        &state.realm,
        identity,
        &state.vendor_key,
        text,
        state.now(),
    )
    .await
    .map_err(|e| match e {
        ActivationError::InvalidSignature => {
            ApiError::new(ErrorCode::InvalidSignature, e.to_string())
        }
        ActivationError::Malformed(_) => ApiError::invalid(e.to_string()),
        ActivationError::WrongServer { .. } => ApiError::new(ErrorCode::WrongServer, e.to_string()),
        ActivationError::Expired(_) => ApiError::new(ErrorCode::Expired, e.to_string()),
        ActivationError::Store(s) => ApiError::from(s),
    })?;
    tracing::info!(activation = %imported.activation_id, org = %imported.org, pools = ?imported.pools, "activation imported");
    audit::record(
        &state.store,
        &by,
        AuditAction::ActivationImported,
        &imported.activation_id,
        &activation_detail(&imported),
        state.now(),
    )
    .await;
    state.pools_changed();
    Ok((StatusCode::CREATED, Json(imported)))
}

#[derive(Deserialize)]
pub struct UsageQuery {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/admin/usage", tag = "admin",
    params(
        ("from" = Option<String>, Query, description = "RFC 3339; 30 days before `to` by default"),
        ("to" = Option<String>, Query, description = "RFC 3339; now by default"),
        ("format" = Option<String>, Query, description = "`json` (default) or `csv`")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions and denials, as JSON or (`format=csv`) CSV", content(
            (serde_json::Value = "application/json"),
            (String = "text/csv")
        )),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No or a wrong admin token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not an admin of this organization (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such organization", body = ErrorBody),
        (status = 422, description = "Bad period or format (`invalid_request`)", body = ErrorBody)
    ))]
pub async fn admin_usage(
    _: Admin,
    State(state): State<SharedState>,
    Realm(realm): Realm,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Response> {
    let to = q.to.unwrap_or_else(Utc::now);
    let from = q.from.unwrap_or(to - chrono::Duration::days(30));
    if from > to {
        return Err(ApiError::invalid("`from` must not be after `to`"));
    }
    let (from, to) = (to_millis(from), to_millis(to));
    let sessions = state.store.sessions(&realm, from, to).await?;
    let denials = state.store.denials(&realm, from, to).await?;
    let sessions: Vec<serde_json::Value> = sessions
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "lease_id": s.lease_id, "pool_id": s.pool_id, "kind": s.kind, "product": s.product,
                "user": s.user_name, "host": s.host, "start": from_millis(s.start_at), "end": from_millis(s.end_at),
                "end_reason": s.end_reason,
            })
        })
        .collect();
    let denials: Vec<serde_json::Value> = denials
        .into_iter()
        .map(|d| {
            serde_json::json!({
                "at": from_millis(d.at), "product": d.product, "user": d.user_name, "host": d.host,
                "code": d.code, "message": d.detail,
            })
        })
        .collect();
    if q.format.as_deref() == Some("csv") {
        let mut csv = String::from("record,kind,product,user,host,start,end,end_reason,code\n");
        let field = |v: &serde_json::Value| csv_field(v.as_str().unwrap_or_default());
        for s in &sessions {
            csv.push_str(&format!(
                "session,{},{},{},{},{},{},{},\n",
                field(&s["kind"]),
                field(&s["product"]),
                field(&s["user"]),
                field(&s["host"]),
                field(&s["start"]),
                field(&s["end"]),
                field(&s["end_reason"])
            ));
        }
        for d in &denials {
            csv.push_str(&format!(
                "denial,,{},{},{},{},,,{}\n",
                field(&d["product"]),
                field(&d["user"]),
                field(&d["host"]),
                field(&d["at"]),
                field(&d["code"])
            ));
        }
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response());
    }
    if q.format.as_deref().is_some_and(|f| f != "json") {
        return Err(ApiError::invalid("`format` is `json` or `csv`"));
    }
    Ok(Json(serde_json::json!({ "sessions": sessions, "denials": denials })).into_response())
}

#[derive(Deserialize)]
pub struct PolicyQuery {
    format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/admin/policy", tag = "admin",
    params(("format" = Option<String>, Query, description = "`toml` for the file itself")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The policy and a summary", body = serde_json::Value),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No or a wrong admin token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not an admin of this organization (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such organization", body = ErrorBody)
    ))]
pub async fn admin_policy(
    _: Admin,
    State(state): State<SharedState>,
    Realm(realm): Realm,
    Query(q): Query<PolicyQuery>,
) -> ApiResult<Response> {
    let text = match state.identity() {
        Some(_) => state.policy.text(),
        None => state
            .store
            .realm(&realm)
            .await?
            .map(|r| r.policy)
            .unwrap_or_default(),
    };
    if q.format.as_deref() == Some("toml") {
        return Ok((
            [(header::CONTENT_TYPE, "application/toml; charset=utf-8")],
            text,
        )
            .into_response());
    }
    let summary = tessera_core::policy::Policy::parse(&text)
        .unwrap_or_default()
        .summary();
    Ok(Json(serde_json::json!({
        "policy": text,
        "rules": summary.rules,
        "user_groups": summary.user_groups,
        "host_groups": summary.host_groups,
    }))
    .into_response())
}

/// Replaces the policy (the body is the TOML text). A bad policy is refused with its line
/// and reason, and the running policy stays; a good one applies to the next checkout.
#[utoipa::path(put, path = "/api/v1/admin/policy", tag = "admin",
    request_body(content = String, content_type = "text/plain", description = "The policy (TOML text)"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "In force from the next checkout", body = serde_json::Value),
        (status = 401, description = "No or a wrong admin token (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "Not an admin of this organization (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such organization", body = ErrorBody),
        (status = 413, description = "Body too large (`payload_too_large`)", body = ErrorBody),
        (status = 422, description = "Not valid; the message names the line (`invalid_policy`)", body = ErrorBody)
    ))]
pub async fn admin_put_policy(
    Admin(by): Admin,
    State(state): State<SharedState>,
    Realm(realm): Realm,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("the policy must be UTF-8 text"))?;
    let policy = replace_policy(&state, &realm, text, &by).await?;
    let summary = policy.summary();
    Ok(Json(serde_json::json!({
        "rules": summary.rules,
        "user_groups": summary.user_groups,
        "host_groups": summary.host_groups,
    })))
}

/// Replaces a realm's policy with `text`, in force from the next checkout. A bad policy
/// is refused (`invalid_policy`, with its line and reason) and the old one stays. A
/// change is recorded in the audit log as `by`'s, with its line diff.
pub async fn replace_policy(
    state: &SharedState,
    realm: &str,
    text: &str,
    by: &Actor,
) -> ApiResult<std::sync::Arc<tessera_core::policy::Policy>> {
    let old = match state.identity() {
        Some(_) => state.policy.text(),
        None => state
            .store
            .realm(realm)
            .await?
            .map(|r| r.policy)
            .unwrap_or_default(),
    };
    let policy = match state.identity() {
        Some(_) => state.replace_lan_policy(text).await.map_err(policy_error)?,
        None => {
            // The web license server keeps each organization's policy in its database.
            let policy = tessera_core::policy::Policy::parse(text)
                .map_err(|e| ApiError::new(ErrorCode::InvalidPolicy, e.to_string()))?;
            if !state.store.set_realm_policy(realm, text).await? {
                return Err(ApiError::new(ErrorCode::NotFound, "no such license server"));
            }
            std::sync::Arc::new(policy)
        }
    };
    tracing::info!(realm, rules = policy.rules.len(), "policy replaced");
    let diff = tessera_store::line_diff(&old, text);
    audit::record(
        &state.store,
        by,
        AuditAction::PolicyChanged,
        "policy",
        if diff.is_empty() {
            "(saved unchanged)"
        } else {
            &diff
        },
        state.now(),
    )
    .await;
    state.pools_changed();
    Ok(policy)
}

pub fn policy_error(e: PolicyFileError) -> ApiError {
    match e {
        PolicyFileError::Invalid(inner) => {
            ApiError::new(ErrorCode::InvalidPolicy, inner.to_string())
        }
        io @ PolicyFileError::Io { .. } => ApiError::internal(io),
        PolicyFileError::Store(e) => ApiError::from(e),
    }
}
