//! The portal's pages: server-rendered HTML (askama templates in `templates/`), one
//! module per part of the site. Handlers are thin: they read the form, call the
//! account, shop or ordering functions, and render a page or redirect. Every page shares
//! the layout: the top menu (Buy, Orders, the cart button with its count, sign in or
//! out) and the cart dialog.

pub mod account;
pub mod audit;
pub mod contracts;
pub mod download;
pub mod help;
pub mod lan_usage;
pub mod orders;
pub mod reports;
pub mod shop;
pub mod staff;
pub mod support;
pub mod team;
pub mod tokens;
pub mod web_server;

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::error::{PortalError, PortalResult};
use crate::session::Visitor;
use crate::shop::{CartLine, cart_lines, cart_total, server_text};
use crate::state::PortalState;
use tessera_store::portal::Role;

/// A cart line as the dialog shows it.
pub struct CartView {
    pub id: String,
    pub product_id: String,
    pub product: String,
    pub option: String,
    pub seats: u32,
    pub start: String,
    pub server: String,
    pub gross: String,
}

impl CartView {
    pub fn from_line(l: &CartLine) -> Self {
        CartView {
            id: l.item.id.clone(),
            product_id: l.product.id.clone(),
            product: l.product.name.clone(),
            option: l.option.name.clone(),
            seats: l.item.seats,
            start: l.start.format("%Y-%m-%d").to_string(),
            server: server_text(l.server_kind, l.item.registration_key.as_deref()),
            gross: l.gross.to_string(),
        }
    }
}

/// What the layout of every page shows.
pub struct Layout {
    pub title: String,
    pub shop_name: String,
    /// The session's CSRF secret for the page's forms (empty without a session).
    pub csrf: String,
    pub signed_in: bool,
    pub user_email: String,
    pub is_staff: bool,
    /// The menu's Orders and Subscriptions and Contracts (see `teams::may_see_billing`).
    pub sees_billing: bool,
    /// The menu's Teams, LAN usage and Reporting (see `teams::may_see_teams`).
    pub sees_teams: bool,
    pub cart: Vec<CartView>,
    pub cart_count: usize,
    pub cart_total: String,
    /// Open the cart dialog when the page loads (after Add to Cart).
    pub cart_open: bool,
    pub notice: Option<String>,
}

impl Layout {
    /// The layout for `visitor`; with `forms` a visitor without a session gets a
    /// pre-session, whose CSRF secret the page's forms carry.
    pub async fn build(
        state: &PortalState,
        visitor: &Visitor,
        title: &str,
        forms: bool,
    ) -> PortalResult<Layout> {
        let session = if forms {
            Some(visitor.ensure(state).await?)
        } else {
            visitor.session()
        };
        let user = session.as_ref().and_then(|s| s.user.clone());
        let lines = match visitor.cart_owner() {
            Some(owner) => cart_lines(state, &owner).await?,
            None => Vec::new(),
        };
        let is_staff = user.as_ref().is_some_and(|u| u.role == Role::Staff);
        let (sees_billing, sees_teams) = match &user {
            Some(_) if is_staff => (true, true),
            Some(u) => (
                crate::teams::may_see_billing(state, u).await?,
                crate::teams::may_see_teams(state, u).await?,
            ),
            None => (false, false),
        };
        Ok(Layout {
            title: title.to_owned(),
            shop_name: state.config.vendor.name.clone(),
            csrf: session.map(|s| s.csrf).unwrap_or_default(),
            signed_in: user.is_some(),
            user_email: user.as_ref().map(|u| u.email.clone()).unwrap_or_default(),
            is_staff,
            sees_billing,
            sees_teams,
            cart: lines.iter().map(CartView::from_line).collect(),
            cart_count: lines.len(),
            cart_total: cart_total(state, &lines).to_string(),
            cart_open: false,
            notice: None,
        })
    }

    pub fn with_notice(mut self, notice: Option<String>) -> Self {
        self.notice = notice;
        self
    }
}

/// A rendered page with a status; never cached (pages carry CSRF secrets).
pub fn page<T: Template>(status: StatusCode, template: &T) -> PortalResult<Response> {
    let html = template.render()?;
    Ok((
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(html),
    )
        .into_response())
}

/// A redirect after a form (303: the browser follows with GET).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Keeps a return address inside the portal. No control characters: a browser drops tabs
/// and line breaks from a Location (`/<TAB>/elsewhere` would become `//elsewhere`, another
/// site), and others make no header at all.
pub fn local_path(next: Option<&str>, default: &str) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => default.to_owned(),
    }
}

/// A page with a title and a message (after sign-up, a reset request, …).
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub heading: String,
    pub text: String,
    pub link: Option<(String, String)>,
}

pub async fn message(
    state: &PortalState,
    visitor: &Visitor,
    status: StatusCode,
    heading: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> PortalResult<Response> {
    let layout = Layout::build(state, visitor, heading, true).await?;
    page(
        status,
        &MessagePage {
            layout,
            heading: heading.to_owned(),
            text: text.to_owned(),
            link: link.map(|(h, t)| (h.to_owned(), t.to_owned())),
        },
    )
}

/// Unknown pages.
pub async fn not_found() -> PortalError {
    PortalError::NotFound
}
