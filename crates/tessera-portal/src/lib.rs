//! The vendor's portal: web shop, customer accounts, orders paid by bank transfer,
//! documents and e-mail, the back office, and the hosted web license server.
//!
//! Its words are those of the purchase procedure customers follow: Buy → Corporate
//! subscription → Add to Cart → Go to checkout → Payment: Bank transfer, Add company
//! info, Contract and Acts → Checkout; an order is Pending until staff mark it Paid.

pub mod accounts;
pub mod browser_sign_in;
pub mod config;
pub mod documents;
pub mod downloads;
pub mod error;
pub mod help;
pub mod mail;
pub mod money;
pub mod named;
pub mod ordering;
pub mod pages;
pub mod scheduler;
pub mod security;
pub mod session;
pub mod shop;
pub mod state;
pub mod support;
pub mod teams;
pub mod tokens;
pub mod web;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::{get, post};

pub use config::PortalConfig;
pub use state::{Portal, PortalState, load_or_create_vendor_key, load_vendor_key, open};

use pages::{
    account, download, lan_usage, orders, reports, shop as shop_pages, staff, team,
    tokens as token_pages, web_server,
};

/// Every page of the portal, behind the session and CSRF layer, with the web license
/// server's protocol beside them at `/w/{org}/api/v1`.
pub fn router(portal: Portal) -> Router {
    let pages = Router::new()
        .route("/", get(shop_pages::home))
        .route("/buy", get(shop_pages::catalog))
        .route(
            "/buy/{product}",
            get(shop_pages::subscription_page).post(shop_pages::add_to_cart),
        )
        .route("/registration-key/check", get(shop_pages::check_key))
        .route("/license-servers", get(download::license_servers))
        .route("/download", get(download::download_page))
        .route("/download/{file}", get(download::download_file))
        .route("/cart", get(shop_pages::cart_page))
        .route("/cart/{item}/remove", post(shop_pages::remove_from_cart))
        .route(
            "/checkout",
            get(shop_pages::checkout_page).post(shop_pages::checkout),
        )
        .route("/signup", get(account::signup_page).post(account::signup))
        .route("/confirm", get(account::confirm))
        .route("/confirm/resend", post(account::resend_confirmation))
        .route("/signin", get(account::signin_page).post(account::signin))
        .route("/signout", post(account::signout))
        .route(
            "/password/forgot",
            get(account::forgot_page).post(account::forgot),
        )
        .route(
            "/password/reset",
            get(account::reset_page).post(account::reset),
        )
        .route(
            "/account/company",
            get(account::company_page).post(account::save_company),
        )
        .route(
            "/account",
            get(|| async { pages::see_other("/account/orders") }),
        )
        .route("/account/orders", get(orders::orders_page))
        .route(
            "/account/orders/{number}/auto-renew",
            post(orders::set_auto_renew),
        )
        .route("/account/orders/{number}/renew", post(orders::renew))
        .route(
            "/account/subscriptions",
            get(pages::contracts::subscriptions_page),
        )
        .route(
            "/account/subscriptions/{sub}/add-seats",
            post(pages::contracts::add_seats),
        )
        .route(
            "/account/subscriptions/{sub}/move",
            post(pages::contracts::move_subscription),
        )
        .route(
            "/account/teams/{team}/subscriptions/{sub}/release",
            post(pages::contracts::release),
        )
        .route("/reseller", get(pages::contracts::reseller_page))
        .route("/reseller/orders", post(pages::contracts::reseller_order))
        .route(
            "/account/orders/{number}/documents/{kind}",
            get(orders::download_document),
        )
        .route(
            "/account/orders/{number}/activation-key",
            get(orders::download_activation_key),
        )
        .route(
            "/staff",
            get(|| async { pages::see_other("/staff/orders") }),
        )
        .route("/staff/orders", get(staff::orders_page))
        .route("/staff/lan-usage", get(lan_usage::staff_page))
        .route("/account/lan-usage", get(lan_usage::account_page))
        .route(
            "/account/reports",
            get(|| async { pages::see_other("/account/reports/insights") }),
        )
        .route("/account/reports/insights", get(reports::insights_page))
        .route("/account/reports/insights.csv", get(reports::insights_csv))
        .route("/account/reports/seats", get(reports::seats_page))
        .route("/account/reports/seats.csv", get(reports::seats_csv))
        .route("/account/reports/tokens", get(reports::tokens_page))
        .route("/account/reports/tokens.csv", get(reports::tokens_csv))
        .route(
            "/staff/tokens",
            get(token_pages::page_of_tokens).post(token_pages::grant),
        )
        .route("/staff/orders/{number}", get(staff::order_page))
        .route("/staff/orders/{number}/paid", post(staff::mark_paid))
        .route("/staff/orders/{number}/cancel", post(staff::cancel))
        .route(
            "/staff/orders/{number}/documents/{kind}",
            get(staff::download_document),
        )
        .route(
            "/staff/orders/{number}/activation-key",
            get(staff::download_activation_key),
        )
        .route("/w/{org}/", get(web_server::panel))
        .route("/w/{org}/events", get(web_server::events))
        .route("/w/{org}/audit", get(pages::audit::panel_page))
        .route("/w/{org}/audit.csv", get(pages::audit::panel_csv))
        .route("/account/audit", get(pages::audit::account_page))
        .route("/account/audit.csv", get(pages::audit::account_csv))
        .route("/staff/audit", get(pages::audit::staff_page))
        .route("/staff/audit.csv", get(pages::audit::staff_csv))
        .route("/w/{org}/seats/{id}/remove", post(web_server::remove_seat))
        .route("/w/{org}/policy", post(web_server::save_policy))
        .route("/w/{org}/switch", post(web_server::switch))
        .route("/w/{org}/access", post(web_server::save_access))
        .route("/w/{org}/site-keys", post(web_server::add_site_key))
        .route(
            "/w/{org}/site-keys/{id}/revoke",
            post(web_server::revoke_site_key),
        )
        .route(
            "/account/teams",
            get(team::teams_page).post(team::create_team),
        )
        .route("/account/teams/{team}", get(team::team_page))
        .route("/account/teams/{team}/invite", post(team::invite))
        .route(
            "/account/teams/{team}/members/{user}/remove",
            post(team::remove_member),
        )
        .route(
            "/account/teams/{team}/members/{user}/role",
            post(team::set_role),
        )
        .route("/account/teams/{team}/roles", get(team::roles_page))
        .route(
            "/account/teams/{team}/contract-manager",
            post(team::change_contract_manager),
        )
        .route(
            "/account/teams/{team}/software-coordinator",
            post(team::appoint_coordinator),
        )
        .route(
            "/account/teams/{team}/subscriptions/{sub}",
            get(team::subscription_page),
        )
        .route(
            "/account/teams/{team}/subscriptions/{sub}/assign",
            post(team::assign),
        )
        .route(
            "/account/teams/{team}/subscriptions/{sub}/unassign",
            post(team::unassign),
        )
        .route(
            "/account/teams/{team}/import",
            get(team::import_page).post(team::import),
        )
        .route(
            "/account/teams/{team}/import/template.csv",
            get(team::import_template),
        )
        .route(
            "/device",
            get(browser_sign_in::device_page).post(browser_sign_in::decide),
        )
        .route("/account/licenses", get(team::licenses_page))
        .route("/account/licenses/sign-out-all", post(team::sign_out_all))
        .route(
            "/invitation",
            get(team::invitation_page).post(team::accept_invitation),
        )
        .route("/healthz", get(|| async { "ok" }))
        .merge(help_routes())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            portal.clone(),
            session::middleware,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(error::PortalError::internal(
                "a page handler panicked",
            ))
        }))
        .with_state(portal.clone());
    tessera_server::web_router(portal.web.clone())
        .merge(named::router(portal.clone()))
        .merge(tokens::router(portal.clone()))
        .merge(
            Router::new()
                .route("/api/v1/usage-reports", post(lan_usage::receive_report))
                .with_state(portal.clone()),
        )
        .merge(
            Router::new()
                .route("/metrics", get(tessera_server::metrics_page))
                .with_state(portal.web.clone()),
        )
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(
            tessera_server::proxy::TrustedProxies::new(portal.web.config.trusted_proxies.clone()),
            tessera_server::proxy::real_client,
        ))
        .layer(axum::middleware::from_fn(
            tessera_server::request_id::middleware,
        ))
}

/// Get Help and support requests: the help menu and articles, Contact a support agent,
/// the customer's Support requests and the back office's queue. The forms that carry
/// attachments take up to `support::MAX_FORM_BYTES` (the session layer allows as much).
fn help_routes() -> Router<Portal> {
    use axum::extract::DefaultBodyLimit;
    use pages::{help as help_pages, support as support_pages};
    let files = || DefaultBodyLimit::max(support::MAX_FORM_BYTES);
    Router::new()
        // Browsers ask every site for an icon; the portal has none, and a 404 would be an
        // error in every page's console.
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route("/help", get(help_pages::help_page))
        .route("/help/menu", get(help_pages::help_menu))
        .route("/help/topics/{*topic}", get(help_pages::topic_page))
        .route("/help/articles/{slug}", get(help_pages::article_page))
        .route(
            "/support/new",
            get(support_pages::new_request_page)
                .post(support_pages::create_request)
                .layer(files()),
        )
        .route("/account/support", get(support_pages::requests_page))
        .route(
            "/account/support/{number}",
            get(support_pages::request_page),
        )
        .route(
            "/account/support/{number}/answer",
            post(support_pages::answer).layer(files()),
        )
        .route(
            "/account/support/{number}/attachments/{id}",
            get(support_pages::attachment),
        )
        .route("/staff/support", get(support_pages::queue_page))
        .route(
            "/staff/support/{number}",
            get(support_pages::staff_request_page),
        )
        .route(
            "/staff/support/{number}/reply",
            post(support_pages::staff_reply).layer(files()),
        )
        .route(
            "/staff/support/{number}/assign",
            post(support_pages::staff_assign),
        )
        .route(
            "/staff/support/{number}/close",
            post(support_pages::staff_close),
        )
        .route(
            "/staff/support/{number}/attachments/{id}",
            get(support_pages::staff_attachment),
        )
}

/// Forgets expired sessions and one-time tokens, sign-in failures older than a day and
/// browser sign-ins ended a day ago,
/// every ten minutes (each node does it; the deletes are idempotent).
async fn tidy_forever(portal: Portal) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        let now = portal.now();
        if let Err(e) = portal
            .store
            .purge_expired_sessions(now, now - 24 * 3600 * 1000)
            .await
        {
            tracing::warn!(error = %e, "tidying expired sessions failed; will retry");
        }
        if let Err(e) = portal
            .store
            .purge_browser_sign_ins(now - 24 * 3600 * 1000)
            .await
        {
            tracing::warn!(error = %e, "tidying ended browser sign-ins failed; will retry");
        }
    }
}

/// Every minute (and at start), announces orders and support messages that a stop left
/// without their e-mails (`ordering::announce_pending`, `support::announce_pending`).
async fn announce_forever(portal: Portal) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = ordering::announce_pending(&portal, 60_000).await {
            tracing::warn!(error = %e, "announcing unannounced orders failed; will retry");
        }
        if let Err(e) = support::announce_pending(&portal, 60_000).await {
            tracing::warn!(error = %e, "announcing unannounced support messages failed; will retry");
        }
    }
}

/// Serves the portal (and the web license server) until `shutdown` resolves.
pub async fn serve(
    portal: Portal,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(tessera_server::sweep_forever(portal.web.clone()));
    let tidy = tokio::spawn(tidy_forever(portal.clone()));
    let announce = tokio::spawn(announce_forever(portal.clone()));
    let daily = tokio::spawn(scheduler::run_forever(portal.clone()));
    let app = router(portal.clone());
    let web = portal.web.clone();
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        web.begin_shutdown();
    })
    .await;
    sweeper.abort();
    tidy.abort();
    announce.abort();
    daily.abort();
    // Whatever is still in the outbox is delivered on the next start; give it a moment.
    let _ = portal.mailer.flush(std::time::Duration::from_secs(2)).await;
    result
}
