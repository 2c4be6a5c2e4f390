//! The live page at `/`: per pool, how many seats are in use and how many are out
//! offline, and who holds each one; the admin signs in with the admin token and can
//! remove a seat. Server-rendered; it updates itself through server-sent events
//! (`live_events.rs`), or reloads every few seconds when scripts are off.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tessera_core::from_millis;
use tessera_core::protocol::LeaseKind;

use crate::SharedState;
use crate::error::ApiResult;
use crate::extract::{ADMIN_COOKIE, Admin, MaybeAdmin, admin_token_matches};

pub fn routes() -> axum::Router<SharedState> {
    axum::Router::new()
        .route("/", get(page))
        .route("/events", get(events))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/leases/{id}/remove", post(remove))
        .route("/policy", get(policy_page).post(save_policy))
        .route("/usage", get(crate::usage_page::page))
        .route("/audit", get(crate::audit::page))
        .route("/audit.csv", get(crate::audit::page_csv))
}

struct PoolRow {
    id: String,
    products: String,
    org: String,
    seats: u32,
    in_use: u32,
    borrowed: u32,
    available: u32,
    used_pct: u32,
    out_pct: u32,
    end: String,
    borrow_max_hours: u32,
}

struct LeaseRow {
    id: String,
    user: String,
    host: String,
    product: String,
    borrowed: bool,
    since: String,
    until: String,
}

#[derive(Template)]
#[template(path = "live.html")]
struct LivePage {
    signed_in: bool,
    error: Option<String>,
    server_id: String,
    registration_key: String,
    /// The node that made this page, when the server names its nodes.
    node: Option<String>,
    pools: Vec<PoolRow>,
    leases: Vec<LeaseRow>,
    waiting: Vec<tessera_core::protocol::WaitingView>,
    /// The fingerprint of what this page shows, for its event stream.
    version: String,
    live_script: &'static str,
}

fn when(ms: i64) -> String {
    from_millis(ms).format("%Y-%m-%d %H:%M UTC").to_string()
}

async fn render(
    state: &SharedState,
    signed_in: bool,
    error: Option<String>,
) -> ApiResult<Response> {
    let now = state.now();
    let (mut pools, mut leases, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
    let mut version = String::new();
    if signed_in {
        // Taken before the figures: a change in between makes the stream say so at once.
        version = crate::live_events::fingerprint(state, &state.realm)
            .await?
            .to_string();
        waiting = crate::api::waiting_in(state, &state.realm);
        for u in state.store.pool_usage(&state.realm, now).await? {
            let pct = |n: u32| {
                (n.saturating_mul(100))
                    .checked_div(u.pool.seats)
                    .unwrap_or(0)
                    .min(100)
            };
            pools.push(PoolRow {
                id: u.pool.id.clone(),
                products: u.pool.products.join(" + "),
                org: u.org.clone(),
                seats: u.pool.seats,
                in_use: u.in_use,
                borrowed: u.borrowed,
                available: u.available(),
                used_pct: pct(u.in_use),
                out_pct: pct(u.borrowed),
                end: u.pool.end.format("%Y-%m-%d").to_string(),
                borrow_max_hours: u.pool.borrow_max_hours,
            });
        }
        for l in state.store.live_leases(&state.realm, now).await? {
            leases.push(LeaseRow {
                borrowed: l.kind() == LeaseKind::Borrow,
                since: when(l.created_at),
                until: when(l.expires_at),
                id: l.id,
                user: l.user_name,
                host: l.host,
                product: l.product,
            });
        }
    }
    let page = LivePage {
        signed_in,
        error,
        server_id: state
            .identity()
            .map(|i| i.server_id.clone())
            .unwrap_or_default(),
        registration_key: state
            .identity()
            .map(|i| i.registration_key.to_string())
            .unwrap_or_default(),
        node: state.config.node_name.clone(),
        pools,
        leases,
        waiting,
        version,
        live_script: crate::live_events::LIVE_SCRIPT,
    };
    let html = page.render().map_err(crate::error::ApiError::internal)?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Html(html),
    )
        .into_response())
}

async fn page(
    State(state): State<SharedState>,
    MaybeAdmin(signed_in): MaybeAdmin,
) -> ApiResult<Response> {
    render(&state, signed_in, None).await
}

#[derive(Deserialize)]
struct EventsQuery {
    since: Option<u64>,
}

/// The live page's event stream (signed-in admins only).
async fn events(
    _: Admin,
    State(state): State<SharedState>,
    axum::extract::Query(q): axum::extract::Query<EventsQuery>,
) -> Response {
    let realm = state.realm.clone();
    crate::live_events::events(state, realm, q.since).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

fn cookie(value: &str, max_age: i64) -> String {
    format!("{ADMIN_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
}

/// Forms are accepted only from this server's own page: a same-origin `Origin`, or none.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin.split_once("://").map(|(_, h)| h) == Some(host)
}

async fn login(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> ApiResult<Response> {
    if !same_origin(&headers) {
        return Ok(StatusCode::FORBIDDEN.into_response());
    }
    let token = form.token.trim();
    if !admin_token_matches(&state, token) {
        let mut r = render(
            &state,
            false,
            Some("That is not this server's admin token.".into()),
        )
        .await?;
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(r);
    }
    Ok((
        [(header::SET_COOKIE, cookie(token, 12 * 3600))],
        Redirect::to("/"),
    )
        .into_response())
}

async fn logout(headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    ([(header::SET_COOKIE, cookie("", 0))], Redirect::to("/")).into_response()
}

async fn remove(
    Admin(by): Admin,
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if !same_origin(&headers) {
        return Ok(StatusCode::FORBIDDEN.into_response());
    }
    match crate::api::remove_seat(&state, &state.realm, &id, &by).await {
        // Gone already (checked in, expired): the page shows what is left.
        Ok(_) => {}
        Err(e) if e.code == tessera_core::ErrorCode::LeaseNotFound => {}
        Err(e) => return Err(e),
    }
    Ok(Redirect::to("/").into_response())
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage {
    text: String,
    error: Option<String>,
    saved: Option<String>,
}

fn render_policy(page: PolicyPage, status: StatusCode) -> ApiResult<Response> {
    let html = page.render().map_err(crate::error::ApiError::internal)?;
    Ok((status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}

async fn policy_page(
    MaybeAdmin(signed_in): MaybeAdmin,
    State(state): State<SharedState>,
) -> ApiResult<Response> {
    if !signed_in {
        return Ok(Redirect::to("/").into_response());
    }
    render_policy(
        PolicyPage {
            text: state.policy.text(),
            error: None,
            saved: None,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct PolicyForm {
    policy: String,
}

async fn save_policy(
    Admin(by): Admin,
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<PolicyForm>,
) -> ApiResult<Response> {
    if !same_origin(&headers) {
        return Ok(StatusCode::FORBIDDEN.into_response());
    }
    // Browsers send textarea line breaks as CRLF.
    let text = form.policy.replace("\r\n", "\n");
    match crate::api::replace_policy(&state, &state.realm, &text, &by).await {
        Ok(policy) => {
            state.seat_freed();
            render_policy(
                PolicyPage {
                    text,
                    error: None,
                    saved: Some(format!("Saved: {} rule(s) in force.", policy.rules.len())),
                },
                StatusCode::OK,
            )
        }
        Err(e) if e.code == tessera_core::ErrorCode::InvalidPolicy => render_policy(
            PolicyPage {
                text,
                error: Some(e.message),
                saved: None,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other),
    }
}
