//! The vendor's back office (staff only): orders with a search by number, company or
//! e-mail, and an order's page where the start date is set and the order marked Paid
//! (which issues its licenses) or Cancelled.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_server::extract::ClientAddress;
use tessera_store::AuditAction;
use tessera_store::portal::OrderStatus;

use super::orders::{OrderView, activation_response, document_response, order_view};
use super::{Layout, audit, page, see_other};
use crate::error::{PortalError, PortalResult};
use crate::ordering;
use crate::session::{Staff, Visitor};
use crate::state::{Portal, PortalState};

#[derive(Template)]
#[template(path = "staff_orders.html")]
struct StaffOrdersPage {
    layout: Layout,
    q: String,
    status: String,
    orders: Vec<OrderView>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
}

pub async fn orders_page(
    State(state): State<Portal>,
    Staff(_, visitor): Staff,
    Query(query): Query<SearchQuery>,
) -> PortalResult<Response> {
    let status = OrderStatus::parse(&query.status);
    let orders = state.store.search_orders(&query.q, status, 200).await?;
    let layout = Layout::build(&state, &visitor, "Back office: orders", true).await?;
    page(
        StatusCode::OK,
        &StaffOrdersPage {
            layout,
            q: query.q,
            status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            orders: orders
                .iter()
                .map(|o| order_view(o, None, "/staff/orders"))
                .collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "staff_order.html")]
struct StaffOrderPage {
    layout: Layout,
    order: OrderView,
    org_slug: String,
    start: String,
    error: Option<String>,
}

async fn render_order(
    state: &PortalState,
    visitor: &Visitor,
    number: &str,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    start: Option<String>,
) -> PortalResult<Response> {
    let order = state
        .store
        .order_by_number(number)
        .await?
        .ok_or(PortalError::NotFound)?;
    let org = state.store.organization(&order.organization_id).await?;
    let layout = Layout::build(state, visitor, &format!("Order {}", order.number), true)
        .await?
        .with_notice(notice);
    // The start is usually moved to the payment date: today, unless the order starts later.
    let default_start = if order.status == OrderStatus::Pending {
        let today = state.today().format("%Y-%m-%d").to_string();
        if order.start_date > today {
            order.start_date.clone()
        } else {
            today
        }
    } else {
        order.start_date.clone()
    };
    page(
        status,
        &StaffOrderPage {
            layout,
            order: order_view(&order, org.as_ref(), "/staff/orders"),
            org_slug: org.map(|o| o.slug).unwrap_or_default(),
            start: start.unwrap_or(default_start),
            error,
        },
    )
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    done: Option<String>,
}

pub async fn order_page(
    State(state): State<Portal>,
    Staff(_, visitor): Staff,
    Path(number): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> PortalResult<Response> {
    let notice = match q.done.as_deref() {
        Some("paid") => Some(format!(
            "Order {number} is Paid; the customer was e-mailed."
        )),
        Some("cancelled") => Some(format!("Order {number} is Cancelled.")),
        _ => None,
    };
    render_order(
        &state,
        &visitor,
        &number,
        StatusCode::OK,
        None,
        notice,
        None,
    )
    .await
}

#[derive(Deserialize)]
pub struct PaidForm {
    #[serde(default)]
    start: String,
}

pub async fn mark_paid(
    State(state): State<Portal>,
    Staff(staff, visitor): Staff,
    ClientAddress(address): ClientAddress,
    Path(number): Path<String>,
    Form(form): Form<PaidForm>,
) -> PortalResult<Response> {
    let placed = state.store.order_by_number(&number).await?;
    match ordering::mark_paid(&state, &number, &form.start).await {
        Ok(order) => {
            tracing::info!(order = %order.number, staff = %staff.email, "order marked Paid");
            let start = form.start.trim();
            let org = &order.organization_id;
            if let Some(placed) = placed.filter(|p| p.start_date != start) {
                let detail = format!("from {} to {start}", placed.start_date);
                audit::record(
                    &state,
                    org,
                    &staff,
                    address.clone(),
                    AuditAction::StartDateEdited,
                    &order.number,
                    &detail,
                )
                .await;
            }
            let detail = format!("{}, from {start}", order.product_name);
            audit::record(
                &state,
                org,
                &staff,
                address,
                AuditAction::OrderMarkedPaid,
                &order.number,
                &detail,
            )
            .await;
            Ok(see_other(&format!(
                "/staff/orders/{}?done=paid",
                order.number
            )))
        }
        Err(e) if e.is_user_error() => {
            render_order(
                &state,
                &visitor,
                &number,
                e.status(),
                Some(e.message()),
                None,
                Some(form.start),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn cancel(
    State(state): State<Portal>,
    Staff(staff, visitor): Staff,
    Path(number): Path<String>,
) -> PortalResult<Response> {
    match ordering::cancel(&state, &number).await {
        Ok(order) => {
            tracing::info!(order = %order.number, staff = %staff.email, "order Cancelled");
            Ok(see_other(&format!(
                "/staff/orders/{}?done=cancelled",
                order.number
            )))
        }
        Err(e) if e.is_user_error() => {
            render_order(
                &state,
                &visitor,
                &number,
                e.status(),
                Some(e.message()),
                None,
                None,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn download_document(
    State(state): State<Portal>,
    _: Staff,
    Path((number, kind)): Path<(String, String)>,
) -> PortalResult<Response> {
    let order = state
        .store
        .order_by_number(&number)
        .await?
        .ok_or(PortalError::NotFound)?;
    document_response(&state, &order, &kind).await
}

pub async fn download_activation_key(
    State(state): State<Portal>,
    _: Staff,
    Path(number): Path<String>,
) -> PortalResult<Response> {
    let order = state
        .store
        .order_by_number(&number)
        .await?
        .ok_or(PortalError::NotFound)?;
    activation_response(&order)
}
