//! The shop's pages in the order a buyer meets them: Buy (the catalog) → Corporate
//! subscription (the license's details) → Add to Cart (the cart dialog: Go to checkout,
//! edit, return to site) → Checkout (Payment: Bank transfer, Add company info, Contract
//! and Acts, Checkout).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_core::text::ends_sentence;
use tessera_store::portal::{CatalogProduct, NewCartItem, OrderStatus, ServerKind};

use super::account::CompanyView;
use super::{CartView, Layout, page, see_other};
use crate::error::{PortalError, PortalResult};
use crate::money::Money;
use crate::ordering;
use crate::session::{SignedIn, Visitor};
use crate::shop::{
    FieldError, MAX_USERS, SubscriptionForm, cart_lines, cart_total, check_registration_key,
    check_subscription,
};
use crate::state::{Portal, PortalState};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    expirations: Vec<Upcoming>,
    payments: Vec<Upcoming>,
}

/// A line of Upcoming expirations or Upcoming payments.
struct Upcoming {
    /// The order number, or `tokens-PACK`.
    number: String,
    href: String,
    what: String,
    /// The end of the period, the day payment is due, or the day of an automatic renewal.
    date: String,
    days: i64,
    amount: String,
    /// The team the subscription is attached to (named-user seats), if any, with the
    /// sentence's full stop.
    team: String,
    /// An automatic renewal (a payment to come), not a Pending order's bank transfer.
    renewal: bool,
    /// For expiring Flex tokens: the purchase page of more tokens ("View details").
    details: String,
}

/// The signed-in organization's subscription periods ending within 90 days, and its
/// upcoming payments: each Pending order with the day its bank transfer is due, and each
/// subscription bought online that renews automatically at the end of its period;
/// soonest first, each with its team.
async fn upcoming(
    state: &PortalState,
    organization_id: &str,
) -> PortalResult<(Vec<Upcoming>, Vec<Upcoming>)> {
    let today = state.today();
    let days_to = |date: chrono::NaiveDate| (date - today).num_days();
    let mut expirations = Vec::new();
    let mut payments = Vec::new();
    let teams: std::collections::HashMap<String, String> = state
        .store
        .teams_of_organization(organization_id)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    for o in state.store.orders_of_organization(organization_id).await? {
        let what = format!("{}, {}: {} user(s)", o.product_name, o.option_name, o.seats);
        let amount = Money::new(o.gross_minor, o.currency.clone()).to_string();
        let team = team_of(state, &o)
            .await?
            .and_then(|id| teams.get(&id).map(|name| ends_sentence(name)))
            .unwrap_or_default();
        match o.status {
            OrderStatus::Paid => {
                let Ok(end) = chrono::NaiveDate::parse_from_str(&o.end_date, "%Y-%m-%d") else {
                    continue;
                };
                let days = days_to(end);
                if (0..=90).contains(&days) {
                    expirations.push(Upcoming {
                        href: format!("/account/orders#order-{}", o.number),
                        number: o.number.clone(),
                        what: what.clone(),
                        date: o.end_date.clone(),
                        days,
                        amount,
                        team: team.clone(),
                        renewal: false,
                        details: String::new(),
                    });
                }
                // Bought online and renewing by itself: its renewal is a payment to come.
                let renews = o.auto_renew
                    && o.reseller_email.is_none()
                    && o.adds_to.is_none()
                    && o.renewed_by.is_none()
                    && days >= 0;
                if renews {
                    let seats = match state.store.named_subscription_of_order(&o.id).await? {
                        Some(sub) => sub.seats,
                        None => o.seats,
                    };
                    let unit = Money::new(o.unit_price_minor, o.currency.clone());
                    let (_, _, gross) = crate::shop::line_amounts(&unit, seats, o.tax_rate_bp)?;
                    payments.push(Upcoming {
                        href: format!("/account/orders#order-{}", o.number),
                        what: format!("{}, {}: {seats} user(s)", o.product_name, o.option_name),
                        number: o.number,
                        date: o.end_date,
                        days,
                        amount: gross.to_string(),
                        team,
                        renewal: true,
                        details: String::new(),
                    });
                }
            }
            OrderStatus::Pending => {
                let due = tessera_core::from_millis(o.created_at).date_naive()
                    + chrono::Duration::days(state.config.payment_days);
                payments.push(Upcoming {
                    href: format!("/account/orders#order-{}", o.number),
                    number: o.number,
                    what,
                    date: due.format("%Y-%m-%d").to_string(),
                    days: days_to(due),
                    amount,
                    team,
                    renewal: false,
                    details: String::new(),
                });
            }
            OrderStatus::Cancelled => {}
        }
    }
    // Token balances expire too: packs with tokens left whose last day is near. "View
    // details" opens the purchase page of more Flex tokens.
    let tokens_page = state
        .config
        .products
        .iter()
        .find(|p| p.model == tessera_core::LicenseModel::Tokens)
        .map(|p| format!("/buy/{}", p.id))
        .unwrap_or_else(|| "/buy".into());
    for pack in state.store.token_packs(organization_id).await? {
        let Ok(last) = chrono::NaiveDate::parse_from_str(&pack.expires_on, "%Y-%m-%d") else {
            continue;
        };
        let days = days_to(last);
        if pack.remaining > 0 && (0..=90).contains(&days) {
            expirations.push(Upcoming {
                number: format!("tokens-{}", pack.id),
                href: "/account/reports/tokens".into(),
                what: format!("{} of {} tokens", pack.remaining, pack.tokens),
                date: pack.expires_on,
                days,
                amount: String::new(),
                team: String::new(),
                renewal: false,
                details: tokens_page.clone(),
            });
        }
    }
    expirations.sort_by(|a, b| a.date.cmp(&b.date).then(a.number.cmp(&b.number)));
    payments.sort_by(|a, b| a.date.cmp(&b.date).then(a.number.cmp(&b.number)));
    Ok((expirations, payments))
}

/// The team an order's seats are (or will be) in: its subscription's, the one chosen at
/// purchase, or that of the subscription it adds seats to or renews.
async fn team_of(
    state: &PortalState,
    order: &tessera_store::portal::OrderRecord,
) -> PortalResult<Option<String>> {
    if let Some(team) = crate::teams::team_of_order(state, order).await? {
        return Ok(Some(team));
    }
    if let Some(team) = &order.team_id {
        return Ok(Some(team.clone()));
    }
    if let Some(sub) = &order.adds_to {
        return Ok(state
            .store
            .named_subscription(sub)
            .await?
            .map(|s| s.team_id));
    }
    if let Some(renewed) = &order.renews
        && let Some(original) = state.store.order_by_number(renewed).await?
    {
        return crate::teams::team_of_order(state, &original).await;
    }
    Ok(None)
}

pub async fn home(State(state): State<Portal>, visitor: Visitor) -> PortalResult<Response> {
    let layout = Layout::build(&state, &visitor, "Licenses for organizations", false).await?;
    let user = visitor.session().and_then(|s| s.user);
    let (expirations, payments) = match &user {
        Some(u) => upcoming(&state, &u.organization_id).await?,
        None => (Vec::new(), Vec::new()),
    };
    page(
        StatusCode::OK,
        &HomePage {
            layout,
            expirations,
            payments,
        },
    )
}

struct OptionView {
    id: String,
    name: String,
    price: String,
    borrow_max_hours: u32,
    checked: bool,
}

struct ProductView {
    id: String,
    name: String,
    description: String,
    options: Vec<OptionView>,
}

fn product_view(c: &CatalogProduct, selected: &str) -> ProductView {
    ProductView {
        id: c.product.id.clone(),
        name: c.product.name.clone(),
        description: c.product.description.clone(),
        options: c
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| OptionView {
                id: o.id.clone(),
                name: o.name.clone(),
                price: Money::new(o.price_minor, o.currency.clone()).to_string(),
                borrow_max_hours: o.borrow_max_hours,
                checked: if selected.is_empty() {
                    i == 0
                } else {
                    o.id == selected
                },
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    layout: Layout,
    products: Vec<ProductView>,
    tax_rate: String,
}

fn tax_rate(state: &PortalState) -> String {
    let bp = state.config.tax_rate_bp;
    if bp % 100 == 0 {
        format!("{} %", bp / 100)
    } else {
        format!("{}.{:02} %", bp / 100, bp % 100)
    }
}

pub async fn catalog(State(state): State<Portal>, visitor: Visitor) -> PortalResult<Response> {
    let layout = Layout::build(&state, &visitor, "Corporate subscription", false).await?;
    let products = state
        .store
        .catalog()
        .await?
        .iter()
        .map(|c| product_view(c, ""))
        .collect();
    page(
        StatusCode::OK,
        &CatalogPage {
            layout,
            products,
            tax_rate: tax_rate(&state),
        },
    )
}

/// The form's values as shown again.
struct FormView {
    start: String,
    users: String,
    registration_key: String,
    web: bool,
}

#[derive(Template)]
#[template(path = "subscription.html")]
struct SubscriptionPage {
    layout: Layout,
    product: ProductView,
    form: FormView,
    error: Option<String>,
    error_field: String,
    edit: String,
    today: String,
    max_users: u32,
    tax_rate: String,
    /// For a named-user product: the teams the signed-in buyer may buy seats for.
    teams: Vec<TeamOption>,
    /// A token product: the number is of packs, and there is no license server.
    tokens: bool,
}

/// A team the seats of a named-user subscription may go to.
struct TeamOption {
    id: String,
    name: String,
    selected: bool,
}

/// The teams whose contract manager or primary admin the signed-in visitor is, for a
/// named-user product (none for others, or for a visitor not signed in: the seats then
/// go to the organization's default team).
async fn purchase_teams(
    state: &PortalState,
    visitor: &Visitor,
    product_id: &str,
    selected: &str,
) -> PortalResult<Vec<TeamOption>> {
    if !crate::teams::is_named_product(state, product_id) {
        return Ok(Vec::new());
    }
    let Some(user) = visitor.session().and_then(|s| s.user) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for t in state.store.teams_of_user(&user.id).await? {
        let manages = t.owner_user_id == user.id
            || state.store.member_role(&t.id, &user.id).await?
                == Some(tessera_store::portal::MemberRole::PrimaryAdmin);
        if manages {
            out.push(TeamOption {
                selected: t.id == selected,
                id: t.id,
                name: t.name,
            });
        }
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
pub struct SubscriptionQuery {
    option: Option<String>,
    edit: Option<String>,
    added: Option<String>,
}

async fn product_of(state: &PortalState, product_id: &str) -> PortalResult<CatalogProduct> {
    state
        .store
        .catalog()
        .await?
        .into_iter()
        .find(|c| c.product.id == product_id)
        .ok_or(PortalError::NotFound)
}

pub async fn subscription_page(
    State(state): State<Portal>,
    visitor: Visitor,
    Path(product_id): Path<String>,
    Query(q): Query<SubscriptionQuery>,
) -> PortalResult<Response> {
    let product = product_of(&state, &product_id).await?;
    let today = state.today().format("%Y-%m-%d").to_string();
    let mut form = FormView {
        start: today.clone(),
        users: "1".into(),
        registration_key: String::new(),
        web: false,
    };
    let mut selected = q.option.clone().unwrap_or_default();
    let mut edit = String::new();
    let mut team = String::new();
    if let (Some(item_id), Some(owner)) = (q.edit.as_deref(), visitor.cart_owner()) {
        let item = state
            .store
            .cart_items(&owner)
            .await?
            .into_iter()
            .find(|i| i.id == item_id)
            .ok_or(PortalError::NotFound)?;
        selected = item.option_id.clone();
        form = FormView {
            start: item.start_date.clone(),
            users: item.seats.to_string(),
            registration_key: item.registration_key.clone().unwrap_or_default(),
            web: item.server_kind == ServerKind::Web.as_str(),
        };
        team = item.team_id.clone().unwrap_or_default();
        edit = item.id;
    }
    let teams = purchase_teams(&state, &visitor, &product_id, &team).await?;
    let mut layout = Layout::build(&state, &visitor, "Corporate subscription", true).await?;
    if q.added.is_some() {
        layout.cart_open = true;
        layout.notice = Some("Added to the cart.".into());
    }
    page(
        StatusCode::OK,
        &SubscriptionPage {
            layout,
            product: product_view(&product, &selected),
            form,
            error: None,
            error_field: String::new(),
            edit,
            today,
            max_users: MAX_USERS,
            tax_rate: tax_rate(&state),
            teams,
            tokens: crate::teams::is_token_product(&state, &product_id),
        },
    )
}

#[derive(Deserialize)]
pub struct AddToCartForm {
    #[serde(flatten)]
    subscription: SubscriptionForm,
    #[serde(default)]
    edit: String,
    /// The team a named-user subscription's seats go to (empty: the default team).
    #[serde(default)]
    team: String,
}

/// Add to Cart (or, from the cart's edit link, change the item).
pub async fn add_to_cart(
    State(state): State<Portal>,
    visitor: Visitor,
    Path(product_id): Path<String>,
    Form(form): Form<AddToCartForm>,
) -> PortalResult<Response> {
    let product = product_of(&state, &product_id).await?;
    let today = state.today();
    let checked = check_subscription(&state, &product_id, &form.subscription, today).await?;
    let sub = match checked {
        Ok(sub) => sub,
        Err(FieldError { field, message }) => {
            let layout = Layout::build(&state, &visitor, "Corporate subscription", true).await?;
            let teams = purchase_teams(&state, &visitor, &product_id, &form.team).await?;
            let f = &form.subscription;
            return page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &SubscriptionPage {
                    layout,
                    product: product_view(&product, &f.option),
                    form: FormView {
                        start: f.start.clone(),
                        users: f.users.clone(),
                        registration_key: f.registration_key.clone(),
                        web: f.web.is_some(),
                    },
                    error: Some(message),
                    error_field: field.to_owned(),
                    edit: form.edit.clone(),
                    today: today.format("%Y-%m-%d").to_string(),
                    max_users: MAX_USERS,
                    tax_rate: tax_rate(&state),
                    teams,
                    tokens: crate::teams::is_token_product(&state, &product_id),
                },
            );
        }
    };
    let team_id = if form.team.trim().is_empty() {
        None
    } else {
        let teams = purchase_teams(&state, &visitor, &product_id, "").await?;
        if !teams.iter().any(|t| t.id == form.team.trim()) {
            return Err(PortalError::invalid(
                "Team: choose one of the teams you manage for these seats.",
            ));
        }
        Some(form.team.trim().to_owned())
    };
    let session = visitor.ensure(&state).await?;
    let owner = visitor
        .cart_owner()
        .ok_or_else(|| PortalError::internal(format!("no cart for {}", session.token_hash)))?;
    let start = sub.start.format("%Y-%m-%d").to_string();
    let item = NewCartItem {
        option_id: &sub.option.id,
        start_date: &start,
        seats: sub.seats,
        server_kind: sub.server_kind.as_str(),
        registration_key: sub.registration_key.as_deref(),
        team_id: team_id.as_deref(),
    };
    if form.edit.is_empty() {
        state
            .store
            .add_cart_item(&owner, &item, state.now())
            .await?;
    } else if !state
        .store
        .update_cart_item(&owner, &form.edit, &item)
        .await?
    {
        return Err(PortalError::conflict(
            "That item is no longer in your cart (was the order placed meanwhile?).",
        ));
    }
    // Back to the product with the validity period just chosen still selected.
    let query = serde_urlencoded::to_string([("added", "1"), ("option", &sub.option.id)])
        .map_err(|e| PortalError::internal(e.to_string()))?;
    Ok(see_other(&format!("/buy/{}?{query}", sub.product.id)))
}

#[derive(Deserialize)]
pub struct KeyQuery {
    #[serde(default)]
    key: String,
}

/// Checks a registration key as it is typed (the subscription page asks on entry).
pub async fn check_key(Query(q): Query<KeyQuery>) -> Response {
    let body = match check_registration_key(&q.key) {
        Ok(key) => {
            serde_json::json!({"valid": true, "key": key, "message": "Registration key OK."})
        }
        Err(message) => serde_json::json!({"valid": false, "message": message}),
    };
    axum::Json(body).into_response()
}

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    layout: Layout,
}

/// The cart as a page: what the cart button opens where there is no script.
pub async fn cart_page(State(state): State<Portal>, visitor: Visitor) -> PortalResult<Response> {
    let layout = Layout::build(&state, &visitor, "Cart", true).await?;
    page(StatusCode::OK, &CartPage { layout })
}

pub async fn remove_from_cart(
    State(state): State<Portal>,
    visitor: Visitor,
    Path(item_id): Path<String>,
) -> PortalResult<Response> {
    if let Some(owner) = visitor.cart_owner() {
        state.store.remove_cart_item(&owner, &item_id).await?;
    }
    Ok(see_other("/cart"))
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    layout: Layout,
    lines: Vec<CartView>,
    net: String,
    tax: String,
    gross: String,
    tax_rate: String,
    company_saved: bool,
    company: CompanyView,
    bank_checked: bool,
    contract_checked: bool,
    error: Option<String>,
}

async fn render_checkout(
    state: &PortalState,
    user: &tessera_store::portal::UserRecord,
    visitor: &Visitor,
    status: StatusCode,
    error: Option<String>,
    bank_checked: bool,
    contract_checked: bool,
) -> PortalResult<Response> {
    let org = state
        .store
        .organization(&user.organization_id)
        .await?
        .ok_or(PortalError::NotFound)?;
    let owner = visitor.cart_owner().unwrap_or_default();
    let lines = cart_lines(state, &owner).await?;
    let zero = Money::zero(state.config.currency.clone());
    let sum = |f: fn(&crate::shop::CartLine) -> &Money| {
        lines
            .iter()
            .try_fold(zero.clone(), |acc, l| acc.checked_add(f(l)))
            .unwrap_or_else(|| zero.clone())
            .to_string()
    };
    let mut company = org.company();
    if company.billing_email.is_empty() {
        company.billing_email = user.email.clone();
    }
    let layout = Layout::build(state, visitor, "Checkout", true).await?;
    page(
        status,
        &CheckoutPage {
            layout,
            lines: lines.iter().map(CartView::from_line).collect(),
            net: sum(|l| &l.net),
            tax: sum(|l| &l.tax),
            gross: cart_total(state, &lines).to_string(),
            tax_rate: tax_rate(state),
            company_saved: org.company_saved,
            company: CompanyView::of(&company),
            bank_checked,
            contract_checked,
            error,
        },
    )
}

#[derive(Deserialize)]
pub struct CheckoutQuery {
    payment: Option<String>,
}

/// `?payment=bank_transfer` keeps the payment chosen before "Add company info".
pub async fn checkout_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    axum::extract::Query(q): axum::extract::Query<CheckoutQuery>,
) -> PortalResult<Response> {
    let bank = q.payment.as_deref() == Some("bank_transfer");
    render_checkout(&state, &user, &visitor, StatusCode::OK, None, bank, false).await
}

#[derive(Deserialize)]
pub struct CheckoutForm {
    #[serde(default)]
    payment: String,
    contract_and_acts: Option<String>,
}

pub async fn checkout(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Form(form): Form<CheckoutForm>,
) -> PortalResult<Response> {
    let contract = form.contract_and_acts.is_some();
    let bank = form.payment == "bank_transfer";
    let result = if !bank {
        Err(PortalError::invalid(
            "Payment: choose Bank transfer (the only way to pay for now).",
        ))
    } else {
        let org = state
            .store
            .organization(&user.organization_id)
            .await?
            .ok_or(PortalError::NotFound)?;
        let owner = visitor.cart_owner().unwrap_or_default();
        ordering::checkout(&state, &user, &org, &owner, contract).await
    };
    match result {
        Ok(orders) => {
            let numbers: Vec<&str> = orders.iter().map(|o| o.number.as_str()).collect();
            Ok(see_other(&format!(
                "/account/orders?placed={}",
                numbers.join(",")
            )))
        }
        Err(e) if e.is_user_error() => {
            render_checkout(
                &state,
                &user,
                &visitor,
                e.status(),
                Some(e.message()),
                bank,
                contract,
            )
            .await
        }
        Err(e) => Err(e),
    }
}
