//! The account's Orders section: every order with its status and documents, and once
//! Paid the activation key (copy, download) or "Use Web License Server".

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_store::portal::{
    DocumentKind, OrderRecord, OrderStatus, OrganizationRecord, ServerKind,
};

use super::{Layout, page, see_other};
use crate::error::{PortalError, PortalResult};
use crate::money::Money;
use crate::ordering::{self, activation_filename, has_document};
use crate::session::SignedIn;
use crate::shop::server_text;
use crate::state::{Portal, PortalState};

pub struct DocumentLink {
    pub label: String,
    pub href: String,
    pub id: String,
}

/// An order as the pages show it.
pub struct OrderView {
    pub number: String,
    pub invoice_number: String,
    pub placed: String,
    pub status: String,
    pub product: String,
    pub option: String,
    pub seats: u32,
    pub start: String,
    pub end: String,
    pub server: String,
    pub registration_key: String,
    pub net: String,
    pub tax: String,
    pub gross: String,
    pub contract_and_acts: bool,
    pub customer_email: String,
    pub company_name: String,
    pub company_address: Vec<String>,
    pub company_tax_id: String,
    pub company_email: String,
    pub documents: Vec<DocumentLink>,
    /// The activation key, once Paid (LAN).
    pub activation_key: Option<String>,
    pub activation_href: String,
    /// "Use Web License Server", once Paid (web).
    pub web_url: Option<String>,
    pub pending: bool,
    pub paid_at: String,
    /// "Assign seats", once a named-user order is Paid: its team.
    pub team_url: Option<String>,
    pub paid: bool,
    pub auto_renew: bool,
    /// "Renew now" is offered (set by the page, which knows today).
    pub can_renew: bool,
    pub renews: Option<String>,
    pub renewed_by: Option<String>,
    /// Bought through a reseller: the note to contact them (no renewal online).
    pub reseller_note: Option<String>,
    /// A named-user subscription's seats now: a renewal may keep fewer.
    pub renew_seats: Option<u32>,
}

fn document_label(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Invoice => "Invoice",
        DocumentKind::Agreement => "License agreement",
        DocumentKind::Act => "Acceptance act",
    }
}

/// The view of an order; `base` is where its downloads live (`/account/orders` or
/// `/staff/orders`).
pub fn order_view(order: &OrderRecord, org: Option<&OrganizationRecord>, base: &str) -> OrderView {
    let money = |minor| Money::new(minor, order.currency.clone()).to_string();
    let documents = [
        DocumentKind::Invoice,
        DocumentKind::Agreement,
        DocumentKind::Act,
    ]
    .into_iter()
    .filter(|k| has_document(order, *k))
    .map(|k| DocumentLink {
        label: document_label(k).to_owned(),
        href: format!("{base}/{}/documents/{}", order.number, k.as_str()),
        id: format!("{}-{}", k.as_str(), order.number),
    })
    .collect();
    let paid = order.status == OrderStatus::Paid;
    OrderView {
        number: order.number.clone(),
        invoice_number: order.invoice_number.clone(),
        placed: tessera_core::from_millis(order.created_at)
            .format("%Y-%m-%d")
            .to_string(),
        status: order.status.as_str().to_owned(),
        product: order.product_name.clone(),
        option: order.option_name.clone(),
        seats: order.seats,
        start: order.start_date.clone(),
        end: order.end_date.clone(),
        server: server_text(order.server_kind, None),
        registration_key: order.registration_key.clone().unwrap_or_default(),
        net: money(order.net_minor),
        tax: money(order.tax_minor),
        gross: money(order.gross_minor),
        contract_and_acts: order.contract_and_acts,
        customer_email: order.customer_email.clone(),
        company_name: order.company.name.clone(),
        company_address: order.company.address.clone(),
        company_tax_id: order.company.tax_id.clone(),
        company_email: order.company.billing_email.clone(),
        documents,
        activation_key: order.activation_key.clone().filter(|_| paid),
        activation_href: format!("{base}/{}/activation-key", order.number),
        web_url: (paid && order.server_kind == ServerKind::Web)
            .then(|| org.map(|o| format!("/w/{}/", o.slug)))
            .flatten(),
        pending: order.status == OrderStatus::Pending,
        paid_at: order
            .paid_at
            .map(|p| tessera_core::from_millis(p).format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        team_url: None,
        paid,
        auto_renew: order.auto_renew,
        can_renew: false,
        renews: order.renews.clone(),
        renewed_by: order.renewed_by.clone(),
        reseller_note: order
            .reseller_email
            .as_deref()
            .map(crate::ordering::reseller_text),
        renew_seats: None,
    }
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    layout: Layout,
    orders: Vec<OrderView>,
    company_name: String,
    web_url: Option<String>,
}

#[derive(Deserialize)]
pub struct OrdersQuery {
    placed: Option<String>,
}

pub async fn orders_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(q): Query<OrdersQuery>,
) -> PortalResult<Response> {
    crate::teams::require_billing(&state, &user).await?;
    let org = state.store.organization(&user.organization_id).await?;
    let orders = state
        .store
        .orders_of_organization(&user.organization_id)
        .await?;
    let mut views: Vec<OrderView> = orders
        .iter()
        .map(|o| order_view(o, org.as_ref(), "/account/orders"))
        .collect();
    // A named-user order's seats are in a team, not on the web license server.
    for (view, order) in views.iter_mut().zip(&orders) {
        if crate::teams::is_named_order(&state, order) {
            view.web_url = None;
            view.team_url = crate::teams::team_of_order(&state, order)
                .await?
                .map(|t| format!("/account/teams/{}", t));
        }
    }
    // A token order's tokens are in the balance, not on the web license server.
    for (view, order) in views.iter_mut().zip(&orders) {
        if crate::teams::is_token_order(&state, order) {
            view.web_url = None;
        }
    }
    let today = state.today();
    for (view, order) in views.iter_mut().zip(&orders) {
        view.can_renew = ordering::renewal_open(order, today);
        if view.can_renew && crate::teams::is_named_order(&state, order) {
            view.renew_seats = state
                .store
                .named_subscription_of_order(&order.id)
                .await?
                .map(|s| s.seats);
        }
    }
    let web_url = views.iter().find_map(|v| v.web_url.clone());
    let notice = q.placed.filter(|p| !p.is_empty()).map(|p| {
        format!(
            "Thank you. Your order {} is Pending: the invoice was e-mailed to {}. Pay it by bank transfer; once it is Paid, the license is yours.",
            p.replace(',', ", "),
            user.email
        )
    });
    let layout = Layout::build(&state, &visitor, "Orders", true)
        .await?
        .with_notice(notice);
    page(
        StatusCode::OK,
        &OrdersPage {
            layout,
            orders: views,
            company_name: org.map(|o| o.name).unwrap_or_default(),
            web_url,
        },
    )
}

/// An order of the signed-in user's organization.
async fn own_order(
    state: &PortalState,
    user: &tessera_store::portal::UserRecord,
    number: &str,
) -> PortalResult<OrderRecord> {
    crate::teams::require_billing(state, user).await?;
    match state.store.order_by_number(number).await? {
        Some(o) if o.organization_id == user.organization_id => Ok(o),
        _ => Err(PortalError::NotFound),
    }
}

/// A document as a download.
pub async fn document_response(
    state: &PortalState,
    order: &OrderRecord,
    kind: &str,
) -> PortalResult<Response> {
    let kind = DocumentKind::parse(kind).ok_or(PortalError::NotFound)?;
    let doc = ordering::document(state, order, kind).await?;
    Ok((
        [
            (header::CONTENT_TYPE, doc.content_type),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", doc.filename),
            ),
            (header::CACHE_CONTROL, "private, no-store".into()),
        ],
        doc.content,
    )
        .into_response())
}

/// The activation key as a file.
pub fn activation_response(order: &OrderRecord) -> PortalResult<Response> {
    let key = order
        .activation_key
        .as_deref()
        .filter(|_| order.status == OrderStatus::Paid)
        .ok_or(PortalError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", activation_filename(order)),
            ),
            (header::CACHE_CONTROL, "private, no-store".into()),
        ],
        format!("{key}\n"),
    )
        .into_response())
}

pub async fn download_document(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path((number, kind)): Path<(String, String)>,
) -> PortalResult<Response> {
    let order = own_order(&state, &user, &number).await?;
    document_response(&state, &order, &kind).await
}

pub async fn download_activation_key(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path(number): Path<String>,
) -> PortalResult<Response> {
    let order = own_order(&state, &user, &number).await?;
    activation_response(&order)
}

#[derive(Deserialize)]
pub struct AutoRenewForm {
    on: String,
}

/// Turns an order's auto-renew on or off.
pub async fn set_auto_renew(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    tessera_server::extract::ClientAddress(address): tessera_server::extract::ClientAddress,
    Path(number): Path<String>,
    Form(form): Form<AutoRenewForm>,
) -> PortalResult<Response> {
    let order = own_order(&state, &user, &number).await?;
    let on = match form.on.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(PortalError::invalid("Auto-renew is either on or off.")),
    };
    if let Some(reseller) = &order.reseller_email {
        return Err(PortalError::conflict(ordering::reseller_text(reseller)));
    }
    state.store.set_auto_renew(&order.id, on).await?;
    let detail = if on { "on" } else { "off" };
    crate::pages::audit::record(
        &state,
        &order.organization_id,
        &user,
        address,
        tessera_store::AuditAction::AutoRenewChanged,
        &order.number,
        detail,
    )
    .await;
    Ok(see_other(&format!(
        "/account/orders#order-{}",
        order.number
    )))
}

/// "Renew now": the renewal order for the next period, Pending with its invoice.
#[derive(Deserialize, Default)]
pub struct RenewForm {
    /// A named-user subscription's seats for the next term (fewer: a partial renewal).
    #[serde(default)]
    seats: String,
}

pub async fn renew(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path(number): Path<String>,
    Form(form): Form<RenewForm>,
) -> PortalResult<Response> {
    let order = own_order(&state, &user, &number).await?;
    if let Some(reseller) = &order.reseller_email {
        return Err(PortalError::conflict(ordering::reseller_text(reseller)));
    }
    let seats =
        match form.seats.trim() {
            "" => None,
            n => Some(n.parse::<u32>().map_err(|_| {
                PortalError::invalid("Seats for the next term: enter a whole number.")
            })?),
        };
    if !ordering::renewal_open(&order, state.today()) {
        return Err(PortalError::conflict(format!(
            "Order {} can be renewed from 90 days before the end of its period ({}), once.",
            order.number, order.end_date
        )));
    }
    let placed = ordering::renew_with_seats(&state, &order, seats).await?;
    Ok(see_other(&format!(
        "/account/orders?placed={}",
        placed.number
    )))
}
