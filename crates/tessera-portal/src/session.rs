//! Sessions and CSRF. A visitor's browser holds a random token in an `HttpOnly;
//! SameSite=Lax` cookie (`Secure` when the portal is on https); the database holds only
//! its hash, the user (none for a visitor's pre-session) and the session's CSRF secret.
//! Every form carries that secret, and every POST is refused with 403 unless it matches,
//! the sign-in and sign-up forms included: their pre-session carries it.
//!
//! A pre-session is made only when a page with a form is shown, and a sign-in replaces
//! the session with a new one, so a token planted before sign-in is worth nothing after.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tessera_store::StoreError;
use tessera_store::portal::{Role, SessionRow, UserRecord};

use crate::error::PortalError;
use crate::security::{random_token, secrets_match, token_hash};
use crate::state::{Portal, PortalState};

pub const SESSION_COOKIE: &str = "tessera_session";
/// The form field (or `x-csrf-token` header) that carries the CSRF secret.
pub const CSRF_FIELD: &str = "csrf";
const VISITOR_TTL_MS: i64 = 24 * 3600 * 1000;
const USER_TTL_MS: i64 = 14 * 24 * 3600 * 1000;
/// The largest form accepted.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// The largest CSV import form accepted (5,000 rows of generous length).
pub const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: String,
    pub csrf: String,
    pub user: Option<UserRecord>,
}

#[derive(Default)]
struct Slot {
    session: Option<Session>,
    /// A new token to hand to the browser.
    set_token: Option<(String, i64)>,
    clear: bool,
}

/// The visitor of this request: their session, if any, and what to tell their browser.
#[derive(Clone)]
pub struct Visitor(Arc<Mutex<Slot>>);

impl Visitor {
    fn new(session: Option<Session>) -> Self {
        Visitor(Arc::new(Mutex::new(Slot {
            session,
            ..Slot::default()
        })))
    }

    pub fn session(&self) -> Option<Session> {
        self.0.lock().expect("session slot").session.clone()
    }

    pub fn user(&self) -> Option<UserRecord> {
        self.session().and_then(|s| s.user)
    }

    /// The owner of this visitor's cart, if they have a session.
    pub fn cart_owner(&self) -> Option<String> {
        self.session().map(|s| cart_owner(&s))
    }

    /// The session, made now (a pre-session) if the visitor has none.
    pub async fn ensure(&self, state: &PortalState) -> Result<Session, StoreError> {
        if let Some(s) = self.session() {
            return Ok(s);
        }
        self.start(state, None).await
    }

    async fn start(
        &self,
        state: &PortalState,
        user: Option<UserRecord>,
    ) -> Result<Session, StoreError> {
        let token = random_token();
        let now = state.now();
        let ttl = if user.is_some() {
            USER_TTL_MS
        } else {
            VISITOR_TTL_MS
        };
        let row = SessionRow {
            token_hash: token_hash(&token),
            user_id: user.as_ref().map(|u| u.id.clone()),
            csrf_secret: random_token(),
            created_at: now,
            expires_at: now + ttl,
        };
        state.store.create_session(&row).await?;
        let session = Session {
            token_hash: row.token_hash,
            csrf: row.csrf_secret,
            user,
        };
        let mut slot = self.0.lock().expect("session slot");
        slot.session = Some(session.clone());
        slot.set_token = Some((token, ttl / 1000));
        slot.clear = false;
        Ok(session)
    }

    /// Signs `user` in: a new session replaces the old one, and the visitor's cart
    /// comes along.
    pub async fn sign_in(&self, state: &PortalState, user: UserRecord) -> Result<(), StoreError> {
        let old = self.session();
        let new = self.start(state, Some(user)).await?;
        if let Some(old) = old {
            state
                .store
                .move_cart(&cart_owner(&old), &cart_owner(&new))
                .await?;
            state.store.delete_session(&old.token_hash).await?;
        }
        Ok(())
    }

    pub async fn sign_out(&self, state: &PortalState) -> Result<(), StoreError> {
        let old = {
            let mut slot = self.0.lock().expect("session slot");
            slot.clear = true;
            slot.set_token = None;
            slot.session.take()
        };
        if let Some(old) = old {
            state.store.delete_session(&old.token_hash).await?;
        }
        Ok(())
    }
}

fn cart_owner(session: &Session) -> String {
    match &session.user {
        Some(u) => format!("user:{}", u.id),
        None => format!("session:{}", session.token_hash),
    }
}

fn cookie_value<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session a request's cookie names, with its user.
pub async fn session_of(
    state: &PortalState,
    headers: &axum::http::HeaderMap,
) -> Result<Option<Session>, StoreError> {
    let Some(token) = cookie_value(headers, SESSION_COOKIE).filter(|t| t.len() <= 128) else {
        return Ok(None);
    };
    let Some(row) = state.store.session(&token_hash(token), state.now()).await? else {
        return Ok(None);
    };
    let user = match &row.user_id {
        Some(id) => match state.store.user(id).await? {
            Some(u) => Some(u),
            None => return Ok(None),
        },
        None => None,
    };
    Ok(Some(Session {
        token_hash: row.token_hash,
        csrf: row.csrf_secret,
        user,
    }))
}

fn set_cookie(state: &PortalState, value: &str, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if state.config.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    )
}

async fn csrf_of(parts: &Parts, body: &axum::body::Bytes) -> Option<String> {
    if let Some(h) = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return Some(h.to_owned());
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("multipart/form-data") {
        return multipart_csrf(content_type, body.clone()).await;
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    fields
        .into_iter()
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v)
}

/// The CSRF field of a `multipart/form-data` body (a form with files).
async fn multipart_csrf(content_type: &str, body: axum::body::Bytes) -> Option<String> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let mut form = multer::Multipart::with_reader(std::io::Cursor::new(body), boundary);
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some(CSRF_FIELD) {
            return field.text().await.ok();
        }
    }
    None
}

/// Finds the visitor's session for every page request, checks the CSRF secret of every
/// request that changes something, and hands new or ended sessions to the browser.
pub async fn middleware(State(state): State<Portal>, request: Request, next: Next) -> Response {
    let session = match session_of(&state, request.headers()).await {
        Ok(s) => s,
        Err(e) => return PortalError::from(e).into_response(),
    };
    let visitor = Visitor::new(session);
    let mut request = request;
    if !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        let (parts, body) = request.into_parts();
        // A CSV import of up to 5,000 people, and support forms with their attachments,
        // are larger than any other form.
        let support_form = is_support_form(parts.uri.path());
        let limit = if parts.uri.path().ends_with("/import") {
            MAX_IMPORT_BYTES
        } else if support_form {
            crate::support::MAX_FORM_BYTES
        } else {
            MAX_FORM_BYTES
        };
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(_) => {
                let message = if support_form {
                    format!(
                        "The attachments are too large: attach at most {} files of at most {} each.",
                        crate::support::MAX_ATTACHMENTS,
                        crate::support::size_text(crate::support::MAX_ATTACHMENT_BYTES as u64)
                    )
                } else {
                    "The form is too large.".into()
                };
                return PortalError::User {
                    status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    message,
                }
                .into_response();
            }
        };
        let presented = csrf_of(&parts, &bytes).await;
        let valid = match (visitor.session(), presented) {
            (Some(s), Some(p)) => secrets_match(&s.csrf, &p),
            _ => false,
        };
        if !valid {
            return PortalError::Forbidden(
                "This form has expired or did not come from this site. Go back, reload the page and try again."
                    .into(),
            )
            .into_response();
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    request.extensions_mut().insert(visitor.clone());
    let mut response = next.run(request).await;
    let slot = visitor.0.lock().expect("session slot");
    let cookie = match (&slot.set_token, slot.clear) {
        (Some((token, max_age)), _) => Some(set_cookie(&state, token, *max_age)),
        (None, true) => Some(set_cookie(&state, "", 0)),
        _ => None,
    };
    if let Some(cookie) = cookie
        && let Ok(value) = header::HeaderValue::from_str(&cookie)
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The forms that carry attachments (`support::MAX_FORM_BYTES`).
fn is_support_form(path: &str) -> bool {
    path == "/support/new"
        || (path.starts_with("/account/support/") && path.ends_with("/answer"))
        || (path.starts_with("/staff/support/") && path.ends_with("/reply"))
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Visitor>()
            .cloned()
            .ok_or_else(|| PortalError::internal("the session layer is missing"))
    }
}

/// Where to come back to after signing in.
fn sign_in_redirect(parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let next = if parts.method == Method::GET {
        next
    } else {
        "/"
    };
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    Redirect::to(&format!("/signin?{query}")).into_response()
}

/// A signed-in user, or a redirect to the sign-in page.
pub struct SignedIn(pub UserRecord, pub Visitor);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match visitor.user() {
            Some(user) => Ok(SignedIn(user, visitor)),
            None => Err(sign_in_redirect(parts)),
        }
    }
}

/// A signed-in member of the vendor's staff.
pub struct Staff(pub UserRecord, pub Visitor);

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let SignedIn(user, visitor) = SignedIn::from_request_parts(parts, state).await?;
        if user.role != Role::Staff {
            return Err(PortalError::Forbidden(
                "The back office is for the vendor's staff.".into(),
            )
            .into_response());
        }
        Ok(Staff(user, visitor))
    }
}

/// The address a request came from (for rate limits); `unknown` in tests without one.
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}
