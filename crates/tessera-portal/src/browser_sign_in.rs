//! Programs sign their person in through the browser: the OAuth 2.0 Device
//! Authorization Grant (RFC 8628). It was chosen over the loopback redirect of RFC 8252
//! because it asks nothing of the computer the program runs on: no local port to open
//! (blocked by firewalls, taken by another program, unreachable over remote desktop or
//! from a plugin inside AutoCAD), and the person may approve on any device, a phone
//! included. The program starts a sign-in (`POST /api/v1/named/browser`) and shows a
//! short code with the portal's address; the person signs in to the portal there, with
//! the portal's own sign-in (so anything it gains later works here too), and approves
//! "Sign in Tessera on <computer>" at `/device`; the program, asking every few seconds
//! (`POST /api/v1/named/browser/token`), then gets its device-bound named-user token once.
//! Codes are single-use, short-lived, rate-limited, and only their hashes are kept.

use askama::Template;
use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_core::ErrorCode;
use tessera_core::named::{BrowserSignInPoll, BrowserSignInRequest, BrowserSignInStart};
use tessera_server::error::ApiError;
use tessera_server::extract::ApiJson;
use tessera_server::limits::RateLimiter;
use tessera_store::portal::{BrowserSignInRecord, BrowserSignInState};

use crate::error::PortalResult;
use crate::pages::{Layout, page};
use crate::security::{random_token, token_hash};
use crate::session::{ClientIp, SignedIn};
use crate::state::Portal;

/// The letters of a user code: no vowels (no words), nothing that looks like a digit.
const CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Rate limits of browser sign-ins: starts per address, and codes typed per person (a
/// code has 20^8 values; ten guesses a minute make guessing hopeless within its life).
pub struct Throttle {
    starts: RateLimiter<String>,
    guesses: RateLimiter<String>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            starts: RateLimiter::new(1, 10),
            guesses: RateLimiter::new(1, 10),
        }
    }
}

/// A new user code, `XXXX-XXXX`.
fn user_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let mut code = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            code.push('-');
        }
        code.push(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char);
    }
    code
}

/// A code as a person may type it: any case, spaces or a missing dash.
fn normalize_code(typed: &str) -> Option<String> {
    let letters: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (letters.len() == 8 && letters.bytes().all(|b| CODE_ALPHABET.contains(&b)))
        .then(|| format!("{}-{}", &letters[..4], &letters[4..]))
}

fn check_field(name: &str, value: &str, required: bool) -> Result<(), ApiError> {
    if required && value.trim().is_empty() {
        return Err(ApiError::invalid(format!("`{name}` is required")));
    }
    if value.len() > 200 || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "`{name}` is longer than 200 bytes or has control characters"
        )));
    }
    Ok(())
}

/// `POST /api/v1/named/browser`: a new sign-in for the program to show.
pub async fn start(
    State(state): State<Portal>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<BrowserSignInRequest>,
) -> Result<Json<BrowserSignInStart>, ApiError> {
    check_field("device", &req.device, true)?;
    check_field("computer", &req.computer, false)?;
    check_field("product", &req.product, false)?;
    if let Err(wait) = state.browser_throttle.starts.take(&ip) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("too many sign-ins started from {ip}; try again in {wait} s"),
        )
        .retry_after(wait));
    }
    let settings = &state.config.named;
    let now = state.now();
    let device_code = random_token();
    let code = user_code();
    let computer = match req.computer.trim() {
        "" => req.device.trim(),
        c => c,
    };
    state
        .store
        .add_browser_sign_in(&BrowserSignInRecord {
            id: token_hash(&device_code),
            user_code: code.clone(),
            device: req.device.trim().to_owned(),
            computer: computer.to_owned(),
            product: req.product.trim().to_owned(),
            created_at: now,
            expires_at: now + i64::from(settings.browser_code_seconds.max(1)) * 1000,
            state: BrowserSignInState::Pending,
            user_id: None,
            polled_at: None,
        })
        .await?;
    tracing::info!(computer, "browser sign-in started");
    let uri = state.url("/device");
    Ok(Json(BrowserSignInStart {
        device_code,
        verification_uri_complete: format!("{uri}?code={code}"),
        verification_uri: uri,
        user_code: code,
        expires_in: u64::from(settings.browser_code_seconds.max(1)),
        interval: u64::from(settings.browser_poll_seconds.max(1)),
    }))
}

/// `POST /api/v1/named/browser/token`: the program asks; the token once approved.
pub async fn poll(
    State(state): State<Portal>,
    ApiJson(req): ApiJson<BrowserSignInPoll>,
) -> Result<Response, ApiError> {
    let now = state.now();
    let ended = || {
        ApiError::new(
            ErrorCode::ExpiredToken,
            "this sign-in code has ended or was used already; start the sign-in again",
        )
    };
    if req.device_code.is_empty() || req.device_code.len() > 200 {
        return Err(ended());
    }
    let id = token_hash(&req.device_code);
    let Some(found) = state.store.poll_browser_sign_in(&id, now).await? else {
        return Err(ended());
    };
    if found.expires_at <= now {
        return Err(ended());
    }
    match found.state {
        BrowserSignInState::Used => Err(ended()),
        BrowserSignInState::Denied => Err(ApiError::new(
            ErrorCode::AccessDenied,
            "the sign-in was denied in the browser",
        )),
        BrowserSignInState::Pending => {
            let interval = i64::from(state.config.named.browser_poll_seconds.max(1)) * 1000;
            // A little slack for the program's own timer and the network.
            if found.polled_at.is_some_and(|at| now - at < interval - 500) {
                return Err(ApiError::new(
                    ErrorCode::SlowDown,
                    "asked too often: wait the interval between asks (and 5 s more from now on)",
                ));
            }
            Err(ApiError::new(
                ErrorCode::AuthorizationPending,
                format!(
                    "waiting for the person to approve the sign-in with the code {} in the browser",
                    found.user_code
                ),
            ))
        }
        BrowserSignInState::Approved => {
            if !state.store.take_browser_sign_in(&id, now).await? {
                return Err(ended());
            }
            let user_id = found.user_id.clone().unwrap_or_default();
            let user = state.store.user(&user_id).await?.ok_or_else(ended)?;
            let product = Some(found.product.as_str()).filter(|p| !p.is_empty());
            let granted = crate::named::open_sign_in(&state, &user, &found.device, product).await?;
            tracing::info!(user = %user.email, computer = %found.computer, "signed in through the browser");
            Ok((StatusCode::CREATED, Json(granted)).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    layout: Layout,
    code: String,
    /// The sign-in found for the code: its code and the computer's name.
    found: Option<(String, String)>,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct CodeQuery {
    #[serde(default)]
    code: String,
}

async fn render(
    state: &Portal,
    visitor: &crate::session::Visitor,
    status: StatusCode,
    code: String,
    found: Option<(String, String)>,
    error: Option<String>,
    done: Option<String>,
) -> PortalResult<Response> {
    let layout = Layout::build(state, visitor, "Sign in a program", true).await?;
    page(
        status,
        &DevicePage {
            layout,
            code,
            found,
            error,
            done,
        },
    )
}

/// Finds the pending sign-in of a typed code, counting the guess; the error to show.
async fn find(
    state: &Portal,
    user_id: &str,
    typed: &str,
) -> PortalResult<Result<BrowserSignInRecord, (StatusCode, String)>> {
    if let Err(wait) = state.browser_throttle.guesses.take(&user_id.to_owned()) {
        return Ok(Err((
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many codes were tried. Try again in {wait} s."),
        )));
    }
    let Some(code) = normalize_code(typed) else {
        return Ok(Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "A code has eight letters, like BCDF-GHJK, as the program shows it.".into(),
        )));
    };
    match state
        .store
        .pending_browser_sign_in(&code, state.now())
        .await?
    {
        Some(found) => Ok(Ok(found)),
        None => Ok(Err((
            StatusCode::NOT_FOUND,
            format!(
                "No program is waiting with the code {code}: it ended (codes last a few minutes), \
                 was used already, or was mistyped. Start the sign-in in the program again."
            ),
        ))),
    }
}

/// `GET /device`: the page where the signed-in person enters (or finds) the code.
pub async fn device_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(q): Query<CodeQuery>,
) -> PortalResult<Response> {
    if q.code.trim().is_empty() {
        return render(
            &state,
            &visitor,
            StatusCode::OK,
            String::new(),
            None,
            None,
            None,
        )
        .await;
    }
    match find(&state, &user.id, &q.code).await? {
        Ok(found) => {
            let shown = (found.user_code.clone(), found.computer.clone());
            render(
                &state,
                &visitor,
                StatusCode::OK,
                found.user_code,
                Some(shown),
                None,
                None,
            )
            .await
        }
        Err((status, error)) => {
            render(&state, &visitor, status, q.code, None, Some(error), None).await
        }
    }
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    decision: String,
}

/// `POST /device`: Approve or Deny.
pub async fn decide(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Form(form): Form<DecisionForm>,
) -> PortalResult<Response> {
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return render(
                &state,
                &visitor,
                StatusCode::UNPROCESSABLE_ENTITY,
                form.code,
                None,
                Some("Choose Approve or Deny.".into()),
                None,
            )
            .await;
        }
    };
    let found = match find(&state, &user.id, &form.code).await? {
        Ok(found) => found,
        Err((status, error)) => {
            return render(&state, &visitor, status, form.code, None, Some(error), None).await;
        }
    };
    if !state
        .store
        .decide_browser_sign_in(&found.id, &user.id, approve, state.now())
        .await?
    {
        return render(
            &state,
            &visitor,
            StatusCode::CONFLICT,
            form.code,
            None,
            Some("This sign-in was decided already or has just ended.".into()),
            None,
        )
        .await;
    }
    tracing::info!(user = %user.email, computer = %found.computer, approve, "browser sign-in decided");
    let done = if approve {
        format!(
            "Tessera on {} is signed in as {}. You can close this page and go back to the program.",
            found.computer, user.email
        )
    } else {
        format!("The sign-in of Tessera on {} was denied.", found.computer)
    };
    render(
        &state,
        &visitor,
        StatusCode::OK,
        String::new(),
        None,
        None,
        Some(done),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_shape_and_are_read_as_people_type_them() {
        let code = user_code();
        assert_eq!(code.len(), 9);
        assert_eq!(normalize_code(&code), Some(code.clone()));
        assert_eq!(
            normalize_code(&code.to_lowercase().replace('-', " ")),
            Some(code)
        );
        assert_eq!(normalize_code("BCDF-GHJ"), None);
        assert_eq!(
            normalize_code("ABCD-EFGH"),
            None,
            "vowels are never in a code"
        );
        assert_ne!(user_code(), user_code());
    }
}
