//! Subscriptions and Contracts: every subscription of the organization (floating on a LAN
//! or the web license server, named-user in a team) with its product, seats, model,
//! term, renewal date, auto-renew, how it was bought and its team, and the purchase
//! history with the invoices; adding seats to a named-user subscription, moving one to
//! another team, and the over-assignment report's form. The reseller's order page.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_store::portal::{
    NamedSubscriptionRecord, NewAccount, NewInvitation, NewOrder, OrderChannel, OrderRecord,
    OrderStatus, Role, ServerKind,
};

use super::{Layout, page, see_other};
use crate::accounts::check_email;
use crate::error::{PortalError, PortalResult};
use crate::money::Money;
use crate::ordering::reseller_text;
use crate::security::{random_token, token_hash};
use crate::session::SignedIn;
use crate::shop::{line_amounts, period_end, server_text};
use crate::state::{Portal, PortalState};
use crate::teams::{self, Act, INVITATION_TTL_MS, require, team_for};

/// One subscription on the page.
pub struct ContractView {
    pub id: String,
    pub product: String,
    pub seats: u32,
    pub assigned: Option<u32>,
    pub model: String,
    pub term: String,
    pub renewal_date: String,
    pub auto_renew: String,
    pub bought: String,
    pub team: String,
    pub team_url: Option<String>,
    pub order: String,
    /// For a reseller's subscription: contact the reseller.
    pub reseller_note: Option<String>,
    /// Named-user subscriptions the person may add seats to or move.
    pub named_id: Option<String>,
    pub may_manage: bool,
}

/// An order in the purchase history.
pub struct PurchaseView {
    pub number: String,
    pub placed: String,
    pub status: String,
    pub product: String,
    pub seats: u32,
    pub gross: String,
    pub invoice_number: String,
    pub invoice_href: String,
    pub bought: String,
}

pub struct TeamChoice {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "subscriptions.html")]
struct SubscriptionsPage {
    layout: Layout,
    contracts: Vec<ContractView>,
    purchases: Vec<PurchaseView>,
    teams: Vec<TeamChoice>,
}

fn bought(order: &OrderRecord) -> String {
    match &order.reseller_email {
        Some(r) => format!("Through a reseller ({r})"),
        None => "Online".into(),
    }
}

fn auto_renew_text(order: &OrderRecord) -> String {
    if order.reseller_email.is_some() {
        "Off (renews through the reseller)".into()
    } else if order.auto_renew {
        "On".into()
    } else {
        "Off".into()
    }
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// `GET /account/subscriptions`.
pub async fn subscriptions_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(q): Query<Done>,
) -> PortalResult<Response> {
    teams::require_billing(&state, &user).await?;
    let orders = state
        .store
        .orders_of_organization(&user.organization_id)
        .await?;
    let by_id = |id: &str| orders.iter().find(|o| o.id == id);
    let mut contracts = Vec::new();
    // Named-user subscriptions, each with the order of its current term.
    let teams_of_org = state
        .store
        .teams_of_organization(&user.organization_id)
        .await?;
    for sub in state
        .store
        .organization_subscriptions(&user.organization_id)
        .await?
    {
        let order = sub.order_id.as_deref().and_then(by_id);
        let team = teams_of_org.iter().find(|t| t.id == sub.team_id);
        let may_manage = team.is_some_and(|t| t.owner_user_id == user.id);
        contracts.push(ContractView {
            id: format!("contract-{}", sub.id),
            product: sub.product_name.clone(),
            seats: sub.seats,
            assigned: Some(sub.assigned),
            model: "Named user".into(),
            term: format!("{} – {}", sub.start_date, sub.end_date),
            renewal_date: sub.end_date.clone(),
            auto_renew: order.map(auto_renew_text).unwrap_or_default(),
            bought: order.map(bought).unwrap_or_else(|| "Online".into()),
            team: team.map(|t| t.name.clone()).unwrap_or_default(),
            team_url: team.map(|t| format!("/account/teams/{}", t.id)),
            order: order.map(|o| o.number.clone()).unwrap_or_default(),
            reseller_note: order
                .and_then(|o| o.reseller_email.as_deref())
                .map(reseller_text),
            named_id: Some(sub.id.clone()),
            may_manage,
        });
    }
    // Floating subscriptions: Paid orders whose current term has not been renewed into a
    // Paid order (a renewal carries the subscription on).
    for order in &orders {
        if order.status != OrderStatus::Paid || teams::is_named_order(&state, order) {
            continue;
        }
        let renewed = order
            .renewed_by
            .as_deref()
            .and_then(|n| orders.iter().find(|o| o.number == n))
            .is_some_and(|o| o.status == OrderStatus::Paid);
        if renewed {
            continue;
        }
        contracts.push(ContractView {
            id: format!("contract-{}", order.number),
            product: order.product_name.clone(),
            seats: order.seats,
            assigned: None,
            model: format!(
                "Floating, {}",
                server_text(order.server_kind, None).to_lowercase()
            ),
            term: format!("{} – {}", order.start_date, order.end_date),
            renewal_date: order.end_date.clone(),
            auto_renew: auto_renew_text(order),
            bought: bought(order),
            team: "—".into(),
            team_url: None,
            order: order.number.clone(),
            reseller_note: order.reseller_email.as_deref().map(reseller_text),
            named_id: None,
            may_manage: false,
        });
    }
    let purchases = orders
        .iter()
        .map(|o| PurchaseView {
            number: o.number.clone(),
            placed: tessera_core::from_millis(o.created_at)
                .format("%Y-%m-%d")
                .to_string(),
            status: o.status.as_str().to_owned(),
            product: o.product_name.clone(),
            seats: o.seats,
            gross: Money::new(o.gross_minor, o.currency.clone()).to_string(),
            invoice_number: o.invoice_number.clone(),
            invoice_href: format!("/account/orders/{}/documents/invoice", o.number),
            bought: bought(o),
        })
        .collect();
    let layout = Layout::build(&state, &visitor, "Subscriptions and Contracts", true)
        .await?
        .with_notice(Some(q.done).filter(|d| !d.is_empty()));
    page(
        StatusCode::OK,
        &SubscriptionsPage {
            layout,
            contracts,
            purchases,
            teams: teams_of_org
                .iter()
                .map(|t| TeamChoice {
                    id: t.id.clone(),
                    name: t.name.clone(),
                })
                .collect(),
        },
    )
}

fn back(done: &str) -> Response {
    let q = serde_urlencoded::to_string([("done", done)]).unwrap_or_default();
    see_other(&format!("/account/subscriptions?{q}"))
}

/// A named-user subscription of the person's organization whose team's contract manager
/// they are (adding seats and moving are the owner's acts).
async fn owned_subscription(
    state: &PortalState,
    user: &tessera_store::portal::UserRecord,
    sub_id: &str,
) -> PortalResult<NamedSubscriptionRecord> {
    let sub = state
        .store
        .named_subscription(sub_id)
        .await?
        .filter(|s| s.organization_id == user.organization_id)
        .ok_or(PortalError::NotFound)?;
    let (_, standing) = team_for(state, &sub.team_id, user).await?;
    require(&standing, Act::ChangeContractManager)?;
    Ok(sub)
}

#[derive(Deserialize)]
pub struct AddSeatsForm {
    #[serde(default)]
    seats: String,
}

/// `POST /account/subscriptions/{sub}/add-seats`: an order for N more seats of the
/// subscription, to its end; once Paid they join it, in its team.
pub async fn add_seats(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path(sub_id): Path<String>,
    Form(form): Form<AddSeatsForm>,
) -> PortalResult<Response> {
    let sub = owned_subscription(&state, &user, &sub_id).await?;
    let seats: u32 = form
        .seats
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            PortalError::invalid("Number of users: enter a whole number from 1 to 10000.")
        })?;
    let base = match &sub.order_id {
        Some(id) => state
            .store
            .orders_of_organization(&user.organization_id)
            .await?
            .into_iter()
            .find(|o| &o.id == id),
        None => None,
    }
    .ok_or_else(|| PortalError::conflict("This subscription has no order to add seats to."))?;
    if let Some(reseller) = &base.reseller_email {
        return Err(PortalError::conflict(format!(
            "This subscription was bought through the reseller {reseller}: to add seats, contact your reseller."
        )));
    }
    let today = state.today();
    if sub.end_date.as_str() <= today.format("%Y-%m-%d").to_string().as_str() {
        return Err(PortalError::conflict(
            "This subscription's period is over: renew it first.",
        ));
    }
    let org = state
        .store
        .organization(&user.organization_id)
        .await?
        .ok_or(PortalError::NotFound)?;
    let unit = Money::new(base.unit_price_minor, base.currency.clone());
    let (net, tax, gross) = line_amounts(&unit, seats, state.config.tax_rate_bp)?;
    let order = NewOrder {
        cart_item_id: None,
        user_id: user.id.clone(),
        organization_id: org.id.clone(),
        customer_email: user.email.clone(),
        company: org.company(),
        option_id: base.option_id.clone(),
        product_name: base.product_name.clone(),
        option_name: format!("{} (added seats)", base.option_name),
        licensed: base.licensed.clone(),
        months: base.months,
        borrow_max_hours: base.borrow_max_hours,
        seats,
        currency: base.currency.clone(),
        unit_price_minor: base.unit_price_minor,
        tax_rate_bp: state.config.tax_rate_bp,
        net_minor: net.minor,
        tax_minor: tax.minor,
        gross_minor: gross.minor,
        contract_and_acts: base.contract_and_acts,
        server_kind: base.server_kind,
        registration_key: None,
        start_date: today.format("%Y-%m-%d").to_string(),
        end_date: sub.end_date.clone(),
    };
    let placed = crate::ordering::place_single(
        &state,
        &order,
        &OrderChannel {
            adds_to: Some(sub.id.clone()),
            ..OrderChannel::default()
        },
    )
    .await?;
    Ok(back(&format!(
        "Order {} for {seats} more seat(s) of {} is Pending: the invoice was e-mailed. Once it is Paid, the seats join the subscription in its team.",
        placed.number, sub.product_name
    )))
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    team: String,
}

/// `POST /account/subscriptions/{sub}/move`: to another team of the organization; its
/// people lose their seats.
pub async fn move_subscription(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    tessera_server::extract::ClientAddress(address): tessera_server::extract::ClientAddress,
    Path(sub_id): Path<String>,
    Form(form): Form<MoveForm>,
) -> PortalResult<Response> {
    let sub = owned_subscription(&state, &user, &sub_id).await?;
    let to = state
        .store
        .team(form.team.trim())
        .await?
        .filter(|t| t.organization_id == user.organization_id)
        .ok_or_else(|| PortalError::invalid("Choose a team of your organization."))?;
    if to.id == sub.team_id {
        return Ok(back(&format!(
            "{} is in the team {} already.",
            sub.product_name, to.name
        )));
    }
    let from = state
        .store
        .team(&sub.team_id)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let n = teams::move_subscription(&state, &sub, &to, &user).await?;
    let detail = format!(
        "from the team {from} to the team {}; {n} seat(s) unassigned",
        to.name
    );
    crate::pages::audit::record(
        &state,
        &to.organization_id,
        &user,
        address,
        tessera_store::AuditAction::SubscriptionMoved,
        &sub.product_name,
        &detail,
    )
    .await;
    Ok(back(&format!(
        "{} moved to the team {}; {n} seat(s) were unassigned. Assign its seats in the new team.",
        sub.product_name, to.name
    )))
}

/// A subscription in over-assignment, as the team page reports it.
pub struct OverView {
    pub id: String,
    pub product: String,
    pub seats: u32,
    pub assigned: u32,
    pub excess: u32,
    pub holders: Vec<(String, String)>,
}

/// The over-assignment report of a team's subscriptions (empty when none is).
pub async fn over_assignment_report(
    state: &PortalState,
    subs: &[NamedSubscriptionRecord],
) -> PortalResult<Vec<OverView>> {
    let mut out = Vec::new();
    for s in subs.iter().filter(|s| s.assigned > s.seats) {
        let holders = state
            .store
            .assignees(&s.id)
            .await?
            .into_iter()
            .map(|a| (a.user_id, a.email))
            .collect();
        out.push(OverView {
            id: s.id.clone(),
            product: s.product_name.clone(),
            seats: s.seats,
            assigned: s.assigned,
            excess: s.assigned - s.seats,
            holders,
        });
    }
    Ok(out)
}

/// `POST /account/teams/{team}/subscriptions/{sub}/release`: the admin's choice of who
/// loses access (any number of `user` fields).
pub async fn release(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path((team_id, sub_id)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManageSeats)?;
    let sub = state
        .store
        .named_subscription(&sub_id)
        .await?
        .filter(|s| s.team_id == team.id)
        .ok_or(PortalError::NotFound)?;
    let chosen: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "user")
        .map(|(_, v)| v.as_str())
        .collect();
    if chosen.is_empty() {
        return Err(PortalError::invalid(
            "Choose who loses access: tick at least one person.",
        ));
    }
    let mut freed = 0;
    for user_id in chosen {
        if teams::unassign(&state, &team, &sub, user_id).await? {
            freed += 1;
        }
    }
    let now = state
        .store
        .named_subscription(&sub.id)
        .await?
        .ok_or(PortalError::NotFound)?;
    let done = if now.assigned > now.seats {
        format!(
            "{freed} seat(s) unassigned; {} still has {} too many: choose more.",
            now.product_name,
            now.assigned - now.seats
        )
    } else {
        format!(
            "{freed} seat(s) unassigned; {} is no longer over-assigned.",
            now.product_name
        )
    };
    let q = serde_urlencoded::to_string([("done", done)]).unwrap_or_default();
    Ok(see_other(&format!("/account/teams/{}?{q}", team.id)))
}

// ---- Resellers ----

pub struct OptionChoice {
    pub id: String,
    pub label: String,
}

pub struct ResellerOrderView {
    pub number: String,
    pub status: String,
    pub product: String,
    pub seats: u32,
    pub team: String,
    pub owner: String,
}

#[derive(Template)]
#[template(path = "reseller.html")]
struct ResellerPage {
    layout: Layout,
    options: Vec<OptionChoice>,
    orders: Vec<ResellerOrderView>,
}

fn require_reseller(
    state: &PortalState,
    user: &tessera_store::portal::UserRecord,
) -> PortalResult<()> {
    if state.is_reseller_email(&user.email) {
        Ok(())
    } else {
        Err(PortalError::Forbidden(
            "This page is for the vendor's resellers.".into(),
        ))
    }
}

/// `GET /reseller`: the reseller's order form and the orders they placed.
pub async fn reseller_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(q): Query<Done>,
) -> PortalResult<Response> {
    require_reseller(&state, &user)?;
    let mut options = Vec::new();
    for p in state
        .config
        .products
        .iter()
        .filter(|p| p.model == tessera_core::LicenseModel::Named)
    {
        for o in &p.options {
            options.push(OptionChoice {
                id: o.id.clone(),
                label: format!("{}, {}", p.name, o.name),
            });
        }
    }
    let mut orders = Vec::new();
    for o in state.store.orders_of_reseller(&user.email).await? {
        let team = match &o.team_id {
            Some(id) => state.store.team(id).await?,
            None => None,
        };
        let owner = match &team {
            Some(t) => state.store.user(&t.owner_user_id).await?.map(|u| u.email),
            None => None,
        };
        orders.push(ResellerOrderView {
            number: o.number.clone(),
            status: o.status.as_str().to_owned(),
            product: o.product_name.clone(),
            seats: o.seats,
            team: team.map(|t| t.name).unwrap_or_default(),
            owner: owner.unwrap_or_default(),
        });
    }
    let layout = Layout::build(&state, &visitor, "Reseller order", true)
        .await?
        .with_notice(Some(q.done).filter(|d| !d.is_empty()));
    page(
        StatusCode::OK,
        &ResellerPage {
            layout,
            options,
            orders,
        },
    )
}

#[derive(Deserialize)]
pub struct ResellerForm {
    #[serde(default)]
    option: String,
    #[serde(default)]
    users: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    owner_email: String,
}

/// `POST /reseller/orders`: named-user seats for a customer's team, by its name and its
/// owner's e-mail. The owner's organization and the team are found, or made (a new
/// owner is invited by e-mail); the order is placed for that organization, bought through
/// the reseller, with its invoice to the reseller. Once Paid the seats go to the team.
pub async fn reseller_order(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Form(form): Form<ResellerForm>,
) -> PortalResult<Response> {
    require_reseller(&state, &user)?;
    let (product, option) = state
        .config
        .products
        .iter()
        .filter(|p| p.model == tessera_core::LicenseModel::Named)
        .find_map(|p| {
            p.options
                .iter()
                .find(|o| o.id == form.option)
                .map(|o| (p, o))
        })
        .ok_or_else(|| {
            PortalError::invalid("Choose a named-user product and its validity period.")
        })?;
    let seats: u32 = form
        .users
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            PortalError::invalid("Number of users: enter a whole number from 1 to 10000.")
        })?;
    let team_name = form.team.trim();
    if team_name.is_empty() || team_name.chars().count() > 100 {
        return Err(PortalError::invalid(
            "Team name: enter the customer's team name (up to 100 characters).",
        ));
    }
    let email = check_email(&form.owner_email)?;
    let reseller_org = state
        .store
        .organization(&user.organization_id)
        .await?
        .ok_or(PortalError::NotFound)?;
    if !reseller_org.company_saved {
        return Err(PortalError::invalid(
            "Add company info first (under Checkout): the invoice for the reseller needs your company's details.",
        ));
    }
    let now = state.now();
    // The owner and their organization, made when new (with an invitation to choose a
    // password).
    let owner = match state.store.user_by_email(&email).await? {
        Some(u) => u,
        None => {
            let slug: String = team_name
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let (u, _) = state
                .store
                .create_account(
                    &NewAccount {
                        email: &email,
                        password_hash: "!",
                        role: Role::Customer,
                        organization_name: team_name,
                        slug: slug.trim_matches('-'),
                        confirmed_at: None,
                    },
                    now,
                )
                .await?
                .ok_or_else(|| {
                    PortalError::conflict("That e-mail was registered meanwhile; try again.")
                })?;
            u
        }
    };
    if owner.id == user.id || owner.organization_id == user.organization_id {
        return Err(PortalError::invalid(
            "The team's owner is the customer: enter their e-mail, not yours.",
        ));
    }
    let organization = state
        .store
        .organization(&owner.organization_id)
        .await?
        .ok_or(PortalError::NotFound)?;
    let team = match state
        .store
        .team_by_name(&organization.id, team_name)
        .await?
    {
        Some(t) => t,
        None => {
            let has_default = state
                .store
                .teams_of_organization(&organization.id)
                .await?
                .iter()
                .any(|t| t.is_default);
            if has_default {
                state
                    .store
                    .create_team(&organization.id, &owner.id, team_name, now)
                    .await?
                    .ok_or_else(|| {
                        PortalError::conflict("That team was made meanwhile; try again.")
                    })?
            } else {
                state
                    .store
                    .default_team(&organization.id, &owner.id, team_name, now)
                    .await?
            }
        }
    };
    // An owner who has not chosen a password yet is invited (again) with every order: a
    // new owner, and one whose first order was cut short after their account was made.
    if owner.confirmed_at.is_none() {
        let token = random_token();
        let invited = state
            .store
            .invite(
                &NewInvitation {
                    organization_id: &organization.id,
                    team_id: &team.id,
                    email: &email,
                    first_name: "",
                    last_name: "",
                    invited_by: &user.id,
                    token_hash: &token_hash(&token),
                    expires_at: now + INVITATION_TTL_MS,
                },
                now,
            )
            .await
            .map_err(teams::team_error)?;
        if invited.invitation {
            teams::send_invitation(&state, &team, &user, &email, &token).await?;
        }
    }
    let today = state.today();
    let unit = Money::new(option.price, state.config.currency.clone());
    let (net, tax, gross) = line_amounts(&unit, seats, state.config.tax_rate_bp)?;
    let order = NewOrder {
        cart_item_id: None,
        user_id: owner.id.clone(),
        organization_id: organization.id.clone(),
        customer_email: user.email.clone(),
        company: reseller_org.company(),
        option_id: option.id.clone(),
        product_name: product.name.clone(),
        option_name: option.name.clone(),
        licensed: product.licensed.clone(),
        months: option.months,
        borrow_max_hours: option.borrow_max_hours,
        seats,
        currency: state.config.currency.clone(),
        unit_price_minor: option.price,
        tax_rate_bp: state.config.tax_rate_bp,
        net_minor: net.minor,
        tax_minor: tax.minor,
        gross_minor: gross.minor,
        contract_and_acts: false,
        server_kind: ServerKind::Web,
        registration_key: None,
        start_date: today.format("%Y-%m-%d").to_string(),
        end_date: period_end(today, option.months)
            .format("%Y-%m-%d")
            .to_string(),
    };
    let placed = crate::ordering::place_single(
        &state,
        &order,
        &OrderChannel {
            reseller_email: Some(user.email.clone()),
            team_id: Some(team.id.clone()),
            adds_to: None,
        },
    )
    .await?;
    let q = serde_urlencoded::to_string([(
        "done",
        format!(
            "Order {} for {seats} seat(s) of {} for the team {} ({email}) is Pending: the invoice was e-mailed to you. Once it is Paid, the seats go to the team and its owner is e-mailed.",
            placed.number, product.name, team.name
        ),
    )])
    .unwrap_or_default();
    Ok(see_other(&format!("/reseller?{q}")))
}
