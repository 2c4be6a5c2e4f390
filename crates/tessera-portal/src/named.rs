//! The named-user calls of the portal (JSON, outside the pages' session and CSRF layer):
//! a person signs in on a device and gets a short-lived token bound to it, signed with
//! the vendor key; a running program refreshes it. Signing in on another device ends
//! this one's sign-in, so its next refresh answers 409 `superseded`; a person whose seat
//! was taken away gets 403 `seat_unassigned`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use tessera_core::ErrorCode;
use tessera_core::named::{
    NamedActivationRequest, NamedGrant, NamedRefreshRequest, NamedSignOutRequest,
};
use tessera_server::error::ApiError;
use tessera_server::extract::ApiJson;
use tessera_store::portal::{NamedSessionRecord, UserRecord};
use tessera_token::{NamedClaims, sign_named, verify_named};

use crate::error::PortalError;
use crate::session::ClientIp;
use crate::state::{Portal, PortalState};

/// The longest device id or product accepted.
const MAX_FIELD: usize = 200;

fn portal_error(e: PortalError) -> ApiError {
    match e {
        PortalError::TooMany(m) => ApiError::new(ErrorCode::RateLimited, m),
        PortalError::User { status, message } if status == StatusCode::FORBIDDEN => {
            ApiError::new(ErrorCode::Forbidden, message)
        }
        PortalError::User { status, message } if status == StatusCode::UNAUTHORIZED => {
            ApiError::unauthorized(message)
        }
        PortalError::User { message, .. } => ApiError::invalid(message),
        PortalError::Forbidden(m) => ApiError::new(ErrorCode::Forbidden, m),
        PortalError::NotFound => ApiError::new(ErrorCode::NotFound, "not found"),
        PortalError::Internal(detail) => ApiError::internal(detail),
    }
}

fn check_field(name: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(format!("`{name}` is required")));
    }
    if value.len() > MAX_FIELD {
        return Err(ApiError::invalid(format!(
            "`{name}` is longer than {MAX_FIELD} bytes"
        )));
    }
    Ok(())
}

/// The products a person holds seats of today, and whether any seat of `product` has
/// run out (rather than never having been assigned).
async fn products_of(
    state: &PortalState,
    user: &UserRecord,
    product: Option<&str>,
) -> Result<(Vec<String>, bool), ApiError> {
    let today = state.today().format("%Y-%m-%d").to_string();
    let mut products: Vec<String> = Vec::new();
    let mut expired = false;
    for seat in state.store.seats_of_user(&user.id).await? {
        let current = seat.start_date <= today && today <= seat.end_date;
        if !current {
            if product.is_some_and(|p| seat.licensed.iter().any(|l| l == p)) {
                expired = true;
            }
            continue;
        }
        for p in seat.licensed {
            if !products.contains(&p) {
                products.push(p);
            }
        }
    }
    products.sort();
    Ok((products, expired))
}

fn require_product(
    products: &[String],
    expired: bool,
    product: &str,
    email: &str,
) -> Result<(), ApiError> {
    if products.iter().any(|p| p == product) {
        return Ok(());
    }
    if expired {
        return Err(ApiError::new(
            ErrorCode::LicenseExpired,
            format!("the subscription of `{product}` assigned to {email} has ended"),
        ));
    }
    Err(ApiError::new(
        ErrorCode::SeatUnassigned,
        format!(
            "no seat of `{product}` is assigned to {email}; ask your team's admin to assign one"
        ),
    ))
}

fn grant(
    state: &PortalState,
    session: &NamedSessionRecord,
    email: &str,
    products: Vec<String>,
) -> Result<NamedGrant, ApiError> {
    let settings = &state.config.named;
    let now = Utc::now();
    let exp = now + Duration::minutes(i64::from(settings.token_minutes.clamp(1, 24 * 60)));
    let claims = NamedClaims {
        kind: "named".into(),
        jti: session.id.clone(),
        sub: email.to_owned(),
        device: session.device.clone(),
        products: products.clone(),
        iat: now,
        exp,
    };
    let token = sign_named(&state.vendor, &claims).map_err(ApiError::internal)?;
    Ok(NamedGrant {
        token,
        expires_at: exp,
        refresh_interval_s: u64::from(settings.refresh_seconds.max(1)),
        offline_days: settings.offline_days,
        products,
    })
}

/// `POST /api/v1/named/activations`: e-mail, password, device and product → 201 with a
/// token for that device. Failed passwords count toward the sign-in limits.
pub async fn activate(
    State(state): State<Portal>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<NamedActivationRequest>,
) -> Result<Response, ApiError> {
    check_field("email", &req.email)?;
    check_field("device", &req.device)?;
    if !req.product.is_empty() {
        check_field("product", &req.product)?;
    }
    if req.password.len() > 1024 {
        return Err(ApiError::invalid("`password` is too long"));
    }
    let user = crate::accounts::sign_in(&state, &req.email, &req.password, &ip)
        .await
        .map_err(portal_error)?;
    let product = Some(req.product.trim()).filter(|p| !p.is_empty());
    let granted = open_sign_in(&state, &user, req.device.trim(), product).await?;
    Ok((StatusCode::CREATED, Json(granted)).into_response())
}

/// Signs `user` in on `device` for `product` (any, when `None`), once they proved who
/// they are (a password, or an approval in the browser): refused when they hold no seat
/// of it (nor tokens, nor a web license server to use it with); any other device they
/// were signed in on stops at its next refresh.
pub(crate) async fn open_sign_in(
    state: &PortalState,
    user: &UserRecord,
    device: &str,
    product: Option<&str>,
) -> Result<NamedGrant, ApiError> {
    let (products, expired) = products_of(state, user, product).await?;
    let tokens = uses_tokens(state, user, product).await?;
    match product {
        Some(_) if tokens => {}
        Some(p) => require_product(&products, expired, p, &user.email)?,
        None if products.is_empty() && !tokens && !has_web_server(state, user).await? => {
            return Err(ApiError::new(
                ErrorCode::SeatUnassigned,
                format!(
                    "no seat is assigned to {}; ask your team's admin to assign one",
                    user.email
                ),
            ));
        }
        None => {}
    }
    let session = state
        .store
        .start_named_session(&user.id, device, state.now())
        .await?;
    tracing::info!(user = %user.email, device = %session.device, "named sign-in");
    record_use(state, user, product, &products).await?;
    grant(state, &session, &user.email, products)
}

/// Whether a person may sign in for `product` (any, when `None`) by their organization's
/// tokens: it has had token packs, and the product has a daily rate. Whether there are
/// enough tokens is `POST /api/v1/tokens/use`'s question.
async fn uses_tokens(
    state: &PortalState,
    user: &UserRecord,
    product: Option<&str>,
) -> Result<bool, ApiError> {
    let rated = match product {
        Some(p) => state.config.tokens.rates.contains_key(p),
        None => !state.config.tokens.rates.is_empty(),
    };
    Ok(rated && state.store.has_token_packs(&user.organization_id).await?)
}

/// Whether the person's organization has a web license server: a sign-in is then the
/// credential its programs take floating seats with, seats assigned to them or not.
async fn has_web_server(state: &PortalState, user: &UserRecord) -> Result<bool, ApiError> {
    let Some(org) = state.store.organization(&user.organization_id).await? else {
        return Ok(false);
    };
    Ok(state.store.realm(&org.slug).await?.is_some())
}

/// Records today as a day the person used their seats' products (the one asked for, or
/// every one they hold), for the Seat Usage report.
async fn record_use(
    state: &PortalState,
    user: &UserRecord,
    product: Option<&str>,
    products: &[String],
) -> Result<(), ApiError> {
    let used: Vec<String> = match product {
        Some(p) if products.iter().any(|x| x == p) => vec![p.to_owned()],
        Some(_) => Vec::new(),
        None => products.to_vec(),
    };
    if used.is_empty() {
        return Ok(());
    }
    let today = state.today().format("%Y-%m-%d").to_string();
    state
        .store
        .record_seat_use(&user.organization_id, &user.id, &user.email, &used, &today)
        .await?;
    Ok(())
}

/// Refuses a sign-in that has ended: signed in elsewhere, removed, or signed out.
pub(crate) fn require_open(
    session: &NamedSessionRecord,
    user: &UserRecord,
) -> Result<(), ApiError> {
    match session.end_reason.as_deref() {
        None => Ok(()),
        Some("superseded") => Err(ApiError::new(
            ErrorCode::Superseded,
            format!(
                "{} signed in on another computer; sign in here again to use it here",
                user.email
            ),
        )),
        Some("removed") => Err(ApiError::new(
            ErrorCode::SeatUnassigned,
            format!("{} was removed from the team", user.email),
        )),
        Some(_) => Err(ApiError::unauthorized(format!(
            "{} signed out of this computer; sign in again",
            user.email
        ))),
    }
}

/// The sign-in a token belongs to, if the token is the portal's and not past the
/// offline period.
pub(crate) async fn session_of_token(
    state: &PortalState,
    token: &str,
) -> Result<(NamedClaims, NamedSessionRecord, UserRecord), ApiError> {
    if token.len() > 8192 {
        return Err(ApiError::unauthorized("the token is not valid"));
    }
    let claims = verify_named(state.vendor.verifying_key(), token)
        .map_err(|e| ApiError::unauthorized(format!("the token is not valid: {e}")))?;
    let offline = Duration::days(i64::from(state.config.named.offline_days));
    if Utc::now() > claims.iat + offline {
        return Err(ApiError::unauthorized(
            "the sign-in is too old to refresh; sign in again",
        ));
    }
    let session = state
        .store
        .named_session(&claims.jti)
        .await?
        .ok_or_else(|| ApiError::unauthorized("no such sign-in; sign in again"))?;
    let user = state
        .store
        .user(&session.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("no such account"))?;
    Ok((claims, session, user))
}

/// `POST /api/v1/named/refresh`: a new token for the same device, or why not.
pub async fn refresh(
    State(state): State<Portal>,
    ApiJson(req): ApiJson<NamedRefreshRequest>,
) -> Result<Json<NamedGrant>, ApiError> {
    if let Some(p) = &req.product {
        check_field("product", p)?;
    }
    let (_, session, user) = session_of_token(&state, &req.token).await?;
    require_open(&session, &user)?;
    let (products, expired) = products_of(&state, &user, req.product.as_deref()).await?;
    let tokens = uses_tokens(&state, &user, req.product.as_deref()).await?;
    match &req.product {
        Some(_) if tokens => {}
        Some(p) => require_product(&products, expired, p, &user.email)?,
        None if products.is_empty() && !tokens && !has_web_server(&state, &user).await? => {
            return Err(ApiError::new(
                ErrorCode::SeatUnassigned,
                format!("no seat is assigned to {} any more", user.email),
            ));
        }
        None => {}
    }
    record_use(&state, &user, req.product.as_deref(), &products).await?;
    Ok(Json(grant(&state, &session, &user.email, products)?))
}

/// `POST /api/v1/named/sign-out`: ends this device's sign-in (204).
pub async fn sign_out(
    State(state): State<Portal>,
    ApiJson(req): ApiJson<NamedSignOutRequest>,
) -> Result<StatusCode, ApiError> {
    let (_, session, _) = session_of_token(&state, &req.token).await?;
    state
        .store
        .end_named_session(&session.id, state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The named-user calls, at `/api/v1/named/…`.
pub fn router(portal: Portal) -> axum::Router {
    use axum::routing::post;
    axum::Router::new()
        .route("/api/v1/named/activations", post(activate))
        .route("/api/v1/named/refresh", post(refresh))
        .route("/api/v1/named/sign-out", post(sign_out))
        .route("/api/v1/named/browser", post(crate::browser_sign_in::start))
        .route(
            "/api/v1/named/browser/token",
            post(crate::browser_sign_in::poll),
        )
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        // Each body read before anything answers, so a keep-alive client's connection
        // stays usable after an early 401 (as on the license server).
        .layer(axum::middleware::from_fn(tessera_server::limits::read_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            IntoResponse::into_response(ApiError::internal("a named-user handler panicked"))
        }))
        .with_state(portal)
}
