//! Token (consumption) licensing. An organization holds prepaid token packs (granted by
//! the vendor's staff in the back office, each with its last day); a program signed in
//! with a named-user token reports a use with `POST /api/v1/tokens/use`, and the first
//! use of a product by a person in 24 hours charges that product's daily rate (from
//! `[tokens.rates]` in portal.toml), drawn from the packs earliest expiry first. A use
//! shorter than the free minutes is not charged. When the balance falls below
//! `tokens.low_balance` the organization's contract managers are e-mailed, once until a
//! new pack arrives.

use axum::Json;
use axum::extract::State;
use chrono::{NaiveDate, TimeZone, Utc};
use tessera_core::ErrorCode;
use tessera_core::tokens::{TokenUseGrant, TokenUseRequest, TokenUseStatus};
use tessera_server::error::ApiError;
use tessera_server::extract::{ApiJson, Bearer};
use tessera_store::portal::{
    NewTokenPack, OrganizationRecord, TokenOutcome, TokenPackRecord, TokenUse,
};

use crate::error::{PortalError, PortalResult};
use crate::mail::OutgoingMail;
use crate::named::{require_open, session_of_token};
use crate::state::{Portal, PortalState};

/// The most tokens one pack may hold.
pub const MAX_PACK: i64 = 1_000_000_000;

fn paid_until(ms: i64) -> Option<chrono::DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// `POST /api/v1/tokens/use`: `{product, used_seconds?}` with the named-user token as
/// bearer → 200 with what the use came to and the balance; 402 `tokens_exhausted`, 410
/// `tokens_expired`, 404 `unknown_product` (no rate), 401/409/403 as a refresh would.
pub async fn use_tokens(
    State(state): State<Portal>,
    Bearer(token): Bearer,
    ApiJson(req): ApiJson<TokenUseRequest>,
) -> Result<Json<TokenUseGrant>, ApiError> {
    let product = req.product.trim();
    if product.is_empty() || product.len() > 200 {
        return Err(ApiError::invalid(
            "`product` is required (at most 200 bytes)",
        ));
    }
    let (_, session, user) = session_of_token(&state, &token).await?;
    require_open(&session, &user)?;
    let Some(&rate) = state.config.tokens.rates.get(product) else {
        return Err(ApiError::new(
            ErrorCode::UnknownProduct,
            format!("`{product}` cannot be used with tokens"),
        ));
    };
    let free_seconds = u64::from(state.config.tokens.free_minutes) * 60;
    let today = state.today().format("%Y-%m-%d").to_string();
    let outcome = state
        .store
        .use_tokens(&TokenUse {
            organization_id: &user.organization_id,
            user_id: &user.id,
            email: &user.email,
            product,
            rate,
            free: req.used_seconds.is_some_and(|s| s < free_seconds),
            today: &today,
            now: state.now(),
            low_balance: state.config.tokens.low_balance,
        })
        .await?;
    let grant = |status, charged, until: Option<i64>, balance| TokenUseGrant {
        status,
        product: product.to_owned(),
        charged,
        rate,
        paid_until: until.and_then(paid_until),
        balance,
    };
    match outcome {
        TokenOutcome::Charged {
            charge,
            balance,
            mail_low_balance,
        } => {
            tracing::info!(user = %user.email, product, tokens = rate, balance, "tokens charged");
            if mail_low_balance {
                mail_low(&state, &user.organization_id, balance).await;
            }
            Ok(Json(grant(
                TokenUseStatus::Charged,
                charge.tokens,
                Some(charge.window_end),
                balance,
            )))
        }
        TokenOutcome::AlreadyPaid { charge, balance } => Ok(Json(grant(
            TokenUseStatus::AlreadyPaid,
            0,
            Some(charge.window_end),
            balance,
        ))),
        TokenOutcome::Free { balance } => Ok(Json(grant(TokenUseStatus::Free, 0, None, balance))),
        TokenOutcome::Exhausted { balance } => Err(ApiError::new(
            ErrorCode::TokensExhausted,
            format!(
                "{product} needs {rate} tokens a day and your organization has {balance} left; \
                 ask your contract manager to buy more tokens"
            ),
        )),
        TokenOutcome::Expired { expired_on } => Err(ApiError::new(
            ErrorCode::TokensExpired,
            format!(
                "your organization's tokens expired on {expired_on}; ask your contract manager \
                 to buy more tokens"
            ),
        )),
    }
}

/// E-mails the contract managers (with no team yet, the buyer) that the balance is low.
/// A failure is logged: the charge stands.
async fn mail_low(state: &PortalState, organization_id: &str, balance: i64) {
    let to = match state.store.contract_manager_emails(organization_id).await {
        Ok(to) if !to.is_empty() => to,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot find whom to tell of a low token balance");
            return;
        }
    };
    let text = format!(
        "Hello,\n\nyour organization has {balance} token(s) left, below {} tokens.\n\
         When the balance is below a product's daily rate, that product cannot be used.\n\
         To buy more tokens, reply to this message or write to {}.\n\n\
         Token Usage: {}\n",
        state.config.tokens.low_balance,
        state.config.vendor.email,
        state.url("/account/reports/tokens"),
    );
    if let Err(e) = state
        .mailer
        .send(OutgoingMail {
            to,
            subject: format!("Your token balance is low: {balance} left"),
            text,
            attachments: Vec::new(),
        })
        .await
    {
        tracing::warn!(error = %e, "the low token balance e-mail was not sent");
    }
}

/// Grants a pack to the organization with this URL name (staff), checked.
pub async fn grant_pack(
    state: &PortalState,
    staff_email: &str,
    organization: &str,
    tokens: &str,
    expires_on: &str,
    note: &str,
) -> PortalResult<(OrganizationRecord, TokenPackRecord)> {
    let org = state
        .store
        .organization_by_slug(organization.trim())
        .await?
        .ok_or_else(|| {
            PortalError::invalid(format!(
                "No organization is called `{}`.",
                organization.trim()
            ))
        })?;
    let tokens: i64 = tokens
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=MAX_PACK).contains(n))
        .ok_or_else(|| PortalError::invalid(format!("Tokens: a number from 1 to {MAX_PACK}.")))?;
    let day = NaiveDate::parse_from_str(expires_on.trim(), "%Y-%m-%d")
        .map_err(|_| PortalError::invalid("Expires on: a day like 2027-12-31."))?;
    if day < state.today() {
        return Err(PortalError::invalid("Expires on: a day from today on."));
    }
    if note.len() > 500 {
        return Err(PortalError::invalid("Note: at most 500 characters."));
    }
    let pack = state
        .store
        .add_token_pack(
            &NewTokenPack {
                organization_id: &org.id,
                tokens,
                expires_on: &day.format("%Y-%m-%d").to_string(),
                granted_by: staff_email,
                note: note.trim(),
            },
            state.now(),
        )
        .await?;
    Ok((org, pack))
}

/// The token calls, at `/api/v1/tokens/…`.
pub fn router(portal: Portal) -> axum::Router {
    use axum::response::IntoResponse;
    use axum::routing::post;
    axum::Router::new()
        .route("/api/v1/tokens/use", post(use_tokens))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        // Each body read before anything answers, so a keep-alive client's connection
        // stays usable after an early 401 (as on the license server).
        .layer(axum::middleware::from_fn(tessera_server::limits::read_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            IntoResponse::into_response(ApiError::internal("a token handler panicked"))
        }))
        .with_state(portal)
}
