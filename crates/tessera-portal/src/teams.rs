//! Teams and named-user seats as the customer's people use them: who may do what
//! (contract manager, primary admin, secondary admins, software coordinator, users),
//! invitations by e-mail, assigning and unassigning seats by hand or by a CSV import
//! (all rows or none, with a report per row), removing people, the named-user
//! subscription a Paid order makes, and the e-mails that go with each.

use tessera_core::text::ends_sentence;
use tessera_store::portal::{
    AssignmentBatch, BatchRow, MemberRole, NamedSubscriptionRecord, NewInvitation,
    NewNamedSubscription, OrderRecord, OrganizationRecord, RowOutcome, TeamError, TeamRecord,
    UserRecord,
};

use crate::accounts::check_email;
use crate::error::{PortalError, PortalResult};
use crate::mail::OutgoingMail;
use crate::security::{random_token, token_hash};
use crate::state::PortalState;

/// Invitations are valid for 7 days (and can be sent again).
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// The most rows a CSV import takes.
pub const MAX_IMPORT_ROWS: usize = 5_000;
/// The CSV template's header.
pub const CSV_HEADER: &str = "First name,Last name,Email,Product";

/// Something a person may do with a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// See the team: its people, subscriptions and who holds which seat.
    View,
    /// Assign and unassign seats, by hand or by import.
    ManageSeats,
    /// Invite people and remove them.
    ManagePeople,
    /// Make secondary admins, promote one to primary admin.
    ChangeAdmins,
    /// Hand the team to another contract manager.
    ChangeContractManager,
    /// Appoint the software coordinator.
    AppointCoordinator,
}

impl Act {
    pub const ALL: [Act; 6] = [
        Act::View,
        Act::ManageSeats,
        Act::ManagePeople,
        Act::ChangeAdmins,
        Act::ChangeContractManager,
        Act::AppointCoordinator,
    ];
}

/// A person's place in one team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    pub contract_manager: bool,
    pub role: Option<MemberRole>,
    pub coordinator: bool,
}

impl Standing {
    pub fn of(team: &TeamRecord, user_id: &str, role: Option<MemberRole>) -> Standing {
        Standing {
            contract_manager: team.owner_user_id == user_id,
            role,
            coordinator: team.coordinator() == user_id,
        }
    }

    /// What each role may do: the contract manager everything; the primary admin all
    /// but the contract manager's own acts; secondary admins people and seats; the
    /// software coordinator sees the team; users only their own seats.
    pub fn may(&self, act: Act) -> bool {
        if self.contract_manager {
            return true;
        }
        let primary = self.role == Some(MemberRole::PrimaryAdmin);
        let secondary = self.role == Some(MemberRole::SecondaryAdmin);
        match act {
            Act::View => primary || secondary || self.coordinator,
            Act::ManageSeats | Act::ManagePeople => primary || secondary,
            Act::ChangeAdmins => primary,
            Act::ChangeContractManager | Act::AppointCoordinator => false,
        }
    }

    /// The roles' names, as the pages show them.
    pub fn labels(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.contract_manager {
            out.push("Contract manager");
        }
        if let Some(role) = self.role
            && role != MemberRole::User
        {
            out.push(role.label());
        }
        if self.coordinator {
            out.push("Software coordinator");
        }
        if out.is_empty() && self.role.is_some() {
            out.push("User");
        }
        out
    }
}

/// A team the person belongs to, with their standing; `NotFound` otherwise (so a team
/// of another organization is not even confirmed to exist).
pub async fn team_for(
    state: &PortalState,
    team_id: &str,
    user: &UserRecord,
) -> PortalResult<(TeamRecord, Standing)> {
    let team = state
        .store
        .team(team_id)
        .await?
        .filter(|t| t.organization_id == user.organization_id)
        .ok_or(PortalError::NotFound)?;
    let role = state.store.member_role(&team.id, &user.id).await?;
    let standing = Standing::of(&team, &user.id, role);
    if role.is_none() && !standing.contract_manager {
        return Err(PortalError::NotFound);
    }
    Ok((team, standing))
}

/// Refuses unless the standing allows `act`.
pub fn require(standing: &Standing, act: Act) -> PortalResult<()> {
    if standing.may(act) {
        return Ok(());
    }
    let who = match act {
        Act::View => "the team's admins, contract manager and software coordinator",
        Act::ManageSeats | Act::ManagePeople => "the team's admins and contract manager",
        Act::ChangeAdmins => "the primary admin and the contract manager",
        Act::ChangeContractManager | Act::AppointCoordinator => "the contract manager",
    };
    Err(PortalError::Forbidden(format!("Only {who} can do this.")))
}

/// Whether a person sees the organization's orders, invoices and activation keys: its
/// contract managers and primary admins do, and anyone in no team yet (a buyer before
/// their first named-user order); secondary admins, software coordinators and users
/// do not.
pub async fn may_see_billing(state: &PortalState, user: &UserRecord) -> PortalResult<bool> {
    let teams = state.store.teams_of_user(&user.id).await?;
    if teams.is_empty() {
        return Ok(true);
    }
    for team in teams {
        if team.owner_user_id == user.id
            || state.store.member_role(&team.id, &user.id).await? == Some(MemberRole::PrimaryAdmin)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether a person sees a team's pages: they see the whole organization's billing (see
/// [`may_see_billing`]), or they are an admin, the contract manager or the software
/// coordinator of a team. A user who only holds seats sees neither, only their licenses.
pub async fn may_see_teams(state: &PortalState, user: &UserRecord) -> PortalResult<bool> {
    if may_see_billing(state, user).await? {
        return Ok(true);
    }
    for team in state.store.teams_of_user(&user.id).await? {
        let role = state.store.member_role(&team.id, &user.id).await?;
        if Standing::of(&team, &user.id, role).may(Act::View) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Refuses people who do not see billing (see [`may_see_billing`]).
pub async fn require_billing(state: &PortalState, user: &UserRecord) -> PortalResult<()> {
    if user.role == tessera_store::portal::Role::Staff || may_see_billing(state, user).await? {
        return Ok(());
    }
    Err(PortalError::Forbidden(
        "Orders and invoices are for the contract manager and the primary admin.".into(),
    ))
}

/// A team error as the page shows it.
pub fn team_error(e: TeamError) -> PortalError {
    match e {
        TeamError::Store(e) => PortalError::from(e),
        TeamError::NotFound => PortalError::NotFound,
        TeamError::NotEnoughSeats {
            product,
            seats,
            assigned,
            wanted,
        } => PortalError::conflict(format!(
            "Not assigned: {product} has {seats} seat(s) and {assigned} are assigned; {wanted} more would exceed them. Unassign a seat first or buy more seats."
        )),
        TeamError::NotSecondaryAdmin => {
            PortalError::conflict("Only a secondary admin can be made the primary admin.")
        }
        TeamError::PrimaryAdminStays => PortalError::conflict(
            "The primary admin stays until a secondary admin is made the primary admin.",
        ),
        TeamError::OverAssigned {
            product,
            seats,
            assigned,
        } => PortalError::conflict(format!(
            "Not assigned: the team is over-assigned. {product} has {seats} seat(s) and {assigned} people hold one; choose who loses access in the over-assignment report on the team page first."
        )),
        TeamError::ContractManagerStays => PortalError::conflict(
            "The contract manager cannot be removed; change the contract manager first.",
        ),
        other => PortalError::conflict(format!("{}.", capitalized(&other.to_string()))),
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The product of the catalog an option belongs to, with its license model.
fn product_of_order<'a>(
    state: &'a PortalState,
    order: &OrderRecord,
) -> Option<&'a crate::config::ProductConfig> {
    state
        .config
        .products
        .iter()
        .find(|p| p.options.iter().any(|o| o.id == order.option_id))
}

/// Whether an order is for a named-user product.
pub fn is_named_order(state: &PortalState, order: &OrderRecord) -> bool {
    product_of_order(state, order).is_some_and(|p| p.model == tessera_core::LicenseModel::Named)
}

/// The team a Paid named-user order's subscription is in.
pub async fn team_of_order(
    state: &PortalState,
    order: &OrderRecord,
) -> PortalResult<Option<String>> {
    Ok(state
        .store
        .named_subscription_of_order(&order.id)
        .await?
        .map(|s| s.team_id))
}

/// Whether an order is of a token product (packs of prepaid tokens).
pub fn is_token_order(state: &PortalState, order: &OrderRecord) -> bool {
    product_of_order(state, order).is_some_and(|p| p.model == tessera_core::LicenseModel::Tokens)
}

/// Whether a catalog product sells token packs.
pub fn is_token_product(state: &PortalState, product_id: &str) -> bool {
    state
        .config
        .products
        .iter()
        .any(|p| p.id == product_id && p.model == tessera_core::LicenseModel::Tokens)
}

/// Whether a catalog product is named-user.
pub fn is_named_product(state: &PortalState, product_id: &str) -> bool {
    state
        .config
        .products
        .iter()
        .any(|p| p.id == product_id && p.model == tessera_core::LicenseModel::Named)
}

/// A Paid named-user order: its subscription with N seats in the buyer's default team,
/// one of them assigned to the buyer (the contract manager).
pub async fn subscribe_named(
    state: &PortalState,
    order: &OrderRecord,
    organization: &OrganizationRecord,
    start: &str,
    end: &str,
) -> PortalResult<(TeamRecord, NamedSubscriptionRecord)> {
    // A renewal carries the subscription it renews into the new term: same team, same
    // people; the software coordinator goes back to the contract manager.
    if let Some(renewed) = renewed_subscription(state, order, end).await? {
        return Ok(renewed);
    }
    // Added seats stay in their subscription's team.
    if let Some(sub_id) = &order.adds_to {
        let sub = state
            .store
            .named_subscription(sub_id)
            .await?
            .filter(|s| s.organization_id == organization.id)
            .ok_or_else(|| PortalError::internal("the subscription the seats go to is missing"))?;
        state
            .store
            .add_seats(&order.id, &sub.id, order.seats, state.now())
            .await?;
        let team = state
            .store
            .team(&sub.team_id)
            .await?
            .ok_or_else(|| PortalError::internal("the subscription's team is missing"))?;
        let sub = state
            .store
            .named_subscription(&sub.id)
            .await?
            .ok_or_else(|| PortalError::internal("the subscription vanished"))?;
        return Ok((team, sub));
    }
    let product_id = product_of_order(state, order)
        .map(|p| p.id.clone())
        .unwrap_or_else(|| order.option_id.clone());
    // A new contract goes to the team chosen at purchase (a reseller's order names it),
    // else to the buyer's default team.
    let team = match &order.team_id {
        Some(id) => state
            .store
            .team(id)
            .await?
            .filter(|t| t.organization_id == organization.id)
            .ok_or_else(|| PortalError::internal("the order's team is missing"))?,
        None => default_team_of(state, organization, &order.user_id).await?,
    };
    let sub = state
        .store
        .create_named_subscription(
            &NewNamedSubscription {
                organization_id: &organization.id,
                team_id: &team.id,
                order_id: Some(&order.id),
                product_id: &product_id,
                product_name: &order.product_name,
                licensed: &order.licensed,
                seats: order.seats,
                start_date: start,
                end_date: end,
                buyer_user_id: &order.user_id,
            },
            state.now(),
        )
        .await?;
    Ok((team, sub))
}

/// For a renewal order: the subscription of the order it renews, carried into the new
/// term (again for the same order: the one carried already). `None` for a new purchase.
async fn renewed_subscription(
    state: &PortalState,
    order: &OrderRecord,
    end: &str,
) -> PortalResult<Option<(TeamRecord, NamedSubscriptionRecord)>> {
    let Some(original) = &order.renews else {
        return Ok(None);
    };
    let sub = match state.store.named_subscription_of_order(&order.id).await? {
        Some(done) => done,
        None => {
            let Some(original) = state.store.order_by_number(original).await? else {
                return Ok(None);
            };
            let Some(sub) = state
                .store
                .named_subscription_of_order(&original.id)
                .await?
            else {
                return Ok(None);
            };
            state
                .store
                .renew_named_subscription(&sub.id, &order.id, end)
                .await?;
            // A renewal for fewer seats (a partial renewal) may leave more people assigned
            // than seats: the team is over-assigned until an admin chooses who loses access.
            if sub.seats != order.seats {
                state
                    .store
                    .set_subscription_seats(&sub.id, order.seats)
                    .await?;
            }
            let team = state.store.team(&sub.team_id).await?;
            if let Some(team) = team.filter(|t| t.software_coordinator_id.is_some()) {
                state
                    .store
                    .set_software_coordinator(&team.id, None, &order.user_id, state.now())
                    .await
                    .map_err(team_error)?;
            }
            state
                .store
                .named_subscription_of_order(&order.id)
                .await?
                .ok_or_else(|| PortalError::internal("the renewed subscription vanished"))?
        }
    };
    let team = state
        .store
        .team(&sub.team_id)
        .await?
        .ok_or_else(|| PortalError::internal("the subscription's team is missing"))?;
    Ok(Some((team, sub)))
}

/// The organization's default team (made now, owned by `owner`, when it has none).
async fn default_team_of(
    state: &PortalState,
    organization: &OrganizationRecord,
    owner: &str,
) -> PortalResult<TeamRecord> {
    Ok(state
        .store
        .default_team(
            &organization.id,
            owner,
            &format!("{} team", organization.name),
            state.now(),
        )
        .await?)
}

/// The e-mail lines telling where a Paid named-user order's seats are.
pub async fn paid_named_text(
    state: &PortalState,
    order: &OrderRecord,
    organization: &OrganizationRecord,
) -> PortalResult<String> {
    let team = match seats_team(state, order).await? {
        Some(team) => team,
        None => default_team_of(state, organization, &order.user_id).await?,
    };
    if order.adds_to.is_some() {
        return Ok(format!(
            "{seats} seat(s) were added to your subscription of {product} in the team {team}; \
             assign them to the people in your office:\n{url}\n",
            seats = order.seats,
            product = order.product_name,
            team = team.name,
            url = state.url(&format!("/account/teams/{}", team.id)),
        ));
    }
    Ok(format!(
        "Your {seats} named-user seat(s) of {product} are in the team {team} As the contract manager \
         you hold one of them; assign the others to the people in your office (and unassign yours if \
         you do not use the product):\n{url}\n\n\
         Each person signs in on the computer they work at: tessera login --portal {portal} --email THEIR-E-MAIL\n",
        seats = order.seats,
        product = order.product_name,
        team = ends_sentence(&team.name),
        url = state.url(&format!("/account/teams/{}", team.id)),
        portal = state.config.base_url(),
    ))
}

/// The team a Paid named-user order's seats are in (the subscription it made, renewed
/// or added seats to).
pub async fn seats_team(
    state: &PortalState,
    order: &OrderRecord,
) -> PortalResult<Option<TeamRecord>> {
    let sub = match &order.adds_to {
        Some(id) => state.store.named_subscription(id).await?,
        None => state.store.named_subscription_of_order(&order.id).await?,
    };
    match sub {
        Some(sub) => Ok(state.store.team(&sub.team_id).await?),
        None => Ok(None),
    }
}

/// Moves a subscription to another team of the organization: the contract manager's
/// act. Its people lose their seats (they were the old team's) and are told.
pub async fn move_subscription(
    state: &PortalState,
    subscription: &NamedSubscriptionRecord,
    to: &TeamRecord,
    by: &UserRecord,
) -> PortalResult<usize> {
    let from = state
        .store
        .team(&subscription.team_id)
        .await?
        .ok_or(PortalError::NotFound)?;
    let moved = state
        .store
        .move_subscription(&subscription.id, &to.id, &by.id, state.now())
        .await
        .map_err(team_error)?;
    for user_id in &moved.unassigned {
        if let Some(user) = state.store.user(user_id).await? {
            send_seat_removed(state, &from, &user.email, &subscription.product_name).await?;
        }
    }
    Ok(moved.unassigned.len())
}

/// Tells a team's owner that a reseller's order put seats in their team.
pub async fn notify_owner_of_reseller_seats(
    state: &PortalState,
    order: &OrderRecord,
) -> PortalResult<()> {
    let (Some(reseller), Some(team)) = (&order.reseller_email, seats_team(state, order).await?)
    else {
        return Ok(());
    };
    let Some(owner) = state.store.user(&team.owner_user_id).await? else {
        return Ok(());
    };
    mail_one(
        state,
        &owner.email,
        format!("{} seat(s) of {} were added to your team {}", order.seats, order.product_name, team.name),
        format!(
            "Your reseller {reseller} ordered {seats} named-user seat(s) of {product} for your team \
             {team} (order {number}, {start} to {end}); they are now in the team.\n\n\
             Open the team and assign the seats to the people in your office:\n{url}\n\n\
             To renew or change the subscription, contact your reseller.\n",
            seats = order.seats,
            product = order.product_name,
            team = team.name,
            number = order.number,
            start = order.start_date,
            end = order.end_date,
            url = state.url(&format!("/account/teams/{}", team.id)),
        ),
    )
    .await
}

/// One row of a CSV import, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// The line in the file (1 is the header).
    pub line: usize,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub product: String,
}

/// What happened to one row, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReport {
    pub line: usize,
    pub email: String,
    pub product: String,
    pub ok: bool,
    pub text: String,
}

/// The outcome of an import or a hand assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub applied: bool,
    pub rows: Vec<RowReport>,
}

/// Splits CSV text into records (RFC 4180: quoted fields may hold commas, quotes as
/// `""` and line breaks).
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut field = String::new();
    let mut record: Vec<String> = Vec::new();
    let mut quoted = false;
    let mut line = 1usize;
    let mut start_line = 1usize;
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            ',' | ';' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                if record.iter().any(|f| !f.trim().is_empty()) {
                    records.push((start_line, std::mem::take(&mut record)));
                } else {
                    record.clear();
                }
                line += 1;
                start_line = line;
                at_field_start = true;
            }
            other => {
                field.push(other);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err(format!(
            "a quoted field that starts on line {start_line} never ends"
        ));
    }
    record.push(field);
    if record.iter().any(|f| !f.trim().is_empty()) {
        records.push((start_line, record));
    }
    Ok(records)
}

/// Reads an import file: a header naming First name, Last name, Email and Product (in
/// any order, any case), then one person and product per row.
pub fn read_import(text: &str) -> PortalResult<Vec<ImportRow>> {
    let records = parse_csv(text)
        .map_err(|e| PortalError::invalid(format!("The file is not valid CSV: {e}.")))?;
    let Some(((_, header), rows)) = records.split_first() else {
        return Err(PortalError::invalid(format!(
            "The file is empty. Start from the template: its first line is {CSV_HEADER}."
        )));
    };
    let norm = |s: &str| s.trim().to_lowercase().replace(['_', '-'], " ");
    let col = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.contains(&norm(h).as_str()))
    };
    let (Some(first), Some(last), Some(email)) = (
        col(&["first name", "firstname"]),
        col(&["last name", "lastname"]),
        col(&["email", "e mail"]),
    ) else {
        return Err(PortalError::invalid(format!(
            "The first line must name the columns: {CSV_HEADER}."
        )));
    };
    let product = col(&["product", "subscription"]);
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(PortalError::invalid(format!(
            "The file has {} rows; an import takes at most {MAX_IMPORT_ROWS}.",
            rows.len()
        )));
    }
    let get = |r: &Vec<String>, i: Option<usize>| {
        i.and_then(|i| r.get(i))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    Ok(rows
        .iter()
        .map(|(line, r)| ImportRow {
            line: *line,
            first_name: get(r, Some(first)),
            last_name: get(r, Some(last)),
            email: get(r, Some(email)),
            product: get(r, product),
        })
        .collect())
}

/// The subscription a row's Product names: a subscription id, a catalog product id,
/// or a product's name; empty when the team has only one subscription.
fn subscription_for<'a>(
    subs: &'a [NamedSubscriptionRecord],
    product: &str,
) -> Result<&'a NamedSubscriptionRecord, String> {
    let p = product.trim();
    if p.is_empty() {
        return match subs {
            [only] => Ok(only),
            [] => Err("this team has no named-user subscription".into()),
            _ => Err("name the product: this team has more than one subscription".into()),
        };
    }
    let matching: Vec<&NamedSubscriptionRecord> = subs
        .iter()
        .filter(|s| {
            s.id == p
                || s.product_id.eq_ignore_ascii_case(p)
                || s.product_name.eq_ignore_ascii_case(p)
        })
        .collect();
    match matching.as_slice() {
        [] => Err(format!("this team has no subscription of “{p}”")),
        [one] => Ok(one),
        // Several subscriptions of one product: the one with the most free seats first.
        many => Ok(many
            .iter()
            .max_by_key(|s| s.seats.saturating_sub(s.assigned))
            .copied()
            .unwrap_or(many[0])),
    }
}

/// Assigns seats to the rows' people, all or none: people new to the team are invited.
/// Every row is checked first (e-mail, product); any failed row, or a seat count that
/// would be exceeded, leaves everything as it was. E-mails go out once applied.
pub async fn assign_rows(
    state: &PortalState,
    team: &TeamRecord,
    by: &UserRecord,
    rows: &[ImportRow],
) -> PortalResult<ImportReport> {
    let subs = state.store.team_subscriptions(&team.id).await?;
    let mut reports: Vec<RowReport> = Vec::with_capacity(rows.len());
    let mut batch: Vec<BatchRow> = Vec::with_capacity(rows.len());
    let mut tokens: Vec<String> = Vec::with_capacity(rows.len());
    let mut batch_index: Vec<Option<usize>> = Vec::with_capacity(rows.len());
    let mut failed = false;
    for row in rows {
        let mut report = RowReport {
            line: row.line,
            email: row.email.clone(),
            product: row.product.clone(),
            ok: false,
            text: String::new(),
        };
        let email = match check_email(&row.email) {
            Ok(e) => e,
            Err(e) => {
                failed = true;
                report.text = if row.email.trim().is_empty() {
                    "No e-mail address.".into()
                } else {
                    e.message()
                };
                reports.push(report);
                batch_index.push(None);
                continue;
            }
        };
        if row.first_name.chars().count() > 100 || row.last_name.chars().count() > 100 {
            failed = true;
            report.text = "A name is longer than 100 characters.".into();
            reports.push(report);
            batch_index.push(None);
            continue;
        }
        let sub = match subscription_for(&subs, &row.product) {
            Ok(s) => s,
            Err(why) => {
                failed = true;
                report.text = format!("{}.", capitalized(&why));
                reports.push(report);
                batch_index.push(None);
                continue;
            }
        };
        report.product = sub.product_name.clone();
        let token = random_token();
        batch.push(BatchRow {
            email,
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            subscription_id: sub.id.clone(),
            token_hash: token_hash(&token),
        });
        tokens.push(token);
        batch_index.push(Some(batch.len() - 1));
        reports.push(report);
    }
    // Checked rows go through the store even when another row failed, so that the report
    // says what each would have done; nothing is applied then.
    let (applied, outcomes) = state
        .store
        .apply_assignment_batch(
            &AssignmentBatch {
                organization_id: &team.organization_id,
                team_id: &team.id,
                rows: &batch,
                by: &by.id,
                invitation_expires_at: state.now() + INVITATION_TTL_MS,
                check_only: failed,
            },
            state.now(),
        )
        .await?;
    for (report, index) in reports.iter_mut().zip(&batch_index) {
        let Some(i) = index else { continue };
        let when = |done: &str, would: &str| {
            if applied {
                done.to_owned()
            } else {
                would.to_owned()
            }
        };
        match &outcomes[*i] {
            RowOutcome::Assigned { invited: true, .. } => {
                report.ok = true;
                report.text = when(
                    "Invited to the team and assigned a seat.",
                    "Would be invited and assigned a seat (not applied: another row failed).",
                );
            }
            RowOutcome::Assigned { invited: false, .. } => {
                report.ok = true;
                report.text = when(
                    "Assigned a seat.",
                    "Would be assigned a seat (not applied: another row failed).",
                );
            }
            RowOutcome::AlreadyAssigned { .. } => {
                report.ok = true;
                report.text = "Already has this product: no second seat.".into();
            }
            RowOutcome::Failed(why) => {
                report.text = format!("{}.", capitalized(why));
            }
        }
    }
    if applied {
        for (i, outcome) in outcomes.iter().enumerate() {
            if let RowOutcome::Assigned { invited, .. } = outcome {
                let row = &batch[i];
                let product = reports
                    .iter()
                    .zip(&batch_index)
                    .find(|(_, idx)| **idx == Some(i))
                    .map(|(r, _)| r.product.clone())
                    .unwrap_or_default();
                if *invited {
                    send_invitation(state, team, by, &row.email, &tokens[i]).await?;
                }
                send_seat_assigned(state, team, &row.email, &product).await?;
            }
        }
    }
    Ok(ImportReport {
        applied,
        rows: reports,
    })
}

/// Invites a person to the team (or sends their invitation again).
pub async fn invite(
    state: &PortalState,
    team: &TeamRecord,
    by: &UserRecord,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> PortalResult<bool> {
    let email = check_email(email)?;
    let token = random_token();
    let invited = state
        .store
        .invite(
            &NewInvitation {
                organization_id: &team.organization_id,
                team_id: &team.id,
                email: &email,
                first_name,
                last_name,
                invited_by: &by.id,
                token_hash: &token_hash(&token),
                expires_at: state.now() + INVITATION_TTL_MS,
            },
            state.now(),
        )
        .await
        .map_err(team_error)?;
    if invited.invitation {
        send_invitation(state, team, by, &email, &token).await?;
    }
    Ok(invited.joined)
}

/// Sends one plain message to one person.
async fn mail_one(
    state: &PortalState,
    to: &str,
    subject: String,
    text: String,
) -> PortalResult<()> {
    state
        .mailer
        .send(OutgoingMail {
            to: vec![to.to_owned()],
            subject,
            text,
            attachments: Vec::new(),
        })
        .await?;
    Ok(())
}

/// The e-mail inviting someone to a team (a new member, or a new owner whose account a
/// reseller made), with the link to accept.
pub async fn send_invitation(
    state: &PortalState,
    team: &TeamRecord,
    by: &UserRecord,
    email: &str,
    token: &str,
) -> PortalResult<()> {
    mail_one(
        state,
        email,
        format!("You are invited to the team {}", team.name),
        format!(
            "{by} invited you to the team {team} at {shop}\n\n\
             Accept the invitation and choose your password (the link is valid for 7 days):\n{url}\n\n\
             Then sign in on the computer you work at, in the program or with\n\
             tessera login --portal {portal} --email {email}\n",
            by = by.email,
            team = team.name,
            shop = ends_sentence(&state.config.vendor.name),
            url = state.url(&format!("/invitation?token={token}")),
            portal = state.config.base_url(),
        ),
    )
    .await
}

async fn send_seat_assigned(
    state: &PortalState,
    team: &TeamRecord,
    email: &str,
    product: &str,
) -> PortalResult<()> {
    mail_one(
        state,
        email,
        format!("A seat of {product} is assigned to you"),
        format!(
            "A seat of {product} in the team {team} is now assigned to you.\n\n\
             Sign in on the computer you work at, in the program or with\n\
             tessera login --portal {portal} --email {email}\n\
             Signing in on another computer stops the program on the first one until you sign in there again.\n\n\
             Your licenses: {url}\n",
            team = team.name,
            portal = state.config.base_url(),
            url = state.url("/account/licenses"),
        ),
    )
    .await
}

async fn send_seat_removed(
    state: &PortalState,
    team: &TeamRecord,
    email: &str,
    product: &str,
) -> PortalResult<()> {
    mail_one(
        state,
        email,
        format!("Your seat of {product} was removed"),
        format!(
            "Your seat of {product} in the team {team} was removed by the team's admin.\n\
             The program stops the next time it checks its license. Ask your admin if this is a mistake.\n",
            team = team.name,
        ),
    )
    .await
}

/// Assigns one seat by hand to a person by e-mail (invited when new to the team).
pub async fn assign_one(
    state: &PortalState,
    team: &TeamRecord,
    by: &UserRecord,
    subscription: &NamedSubscriptionRecord,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> PortalResult<ImportReport> {
    assign_rows(
        state,
        team,
        by,
        &[ImportRow {
            line: 0,
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            email: email.to_owned(),
            product: subscription.id.clone(),
        }],
    )
    .await
}

/// Frees a person's seat of a subscription and tells them.
pub async fn unassign(
    state: &PortalState,
    team: &TeamRecord,
    subscription: &NamedSubscriptionRecord,
    user_id: &str,
) -> PortalResult<bool> {
    if !state.store.unassign_seat(&subscription.id, user_id).await? {
        return Ok(false);
    }
    if let Some(user) = state.store.user(user_id).await? {
        send_seat_removed(state, team, &user.email, &subscription.product_name).await?;
    }
    Ok(true)
}

/// Removes a person from the team: their seats free at once, and they are told.
pub async fn remove_member(
    state: &PortalState,
    team: &TeamRecord,
    user_id: &str,
) -> PortalResult<()> {
    let lost = state
        .store
        .remove_member(&team.id, user_id, state.now())
        .await
        .map_err(team_error)?;
    if let Some(user) = state.store.user(user_id).await? {
        for sub in lost {
            send_seat_removed(state, team, &user.email, &sub.product_name).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_semicolons_and_blank_lines_is_read() {
        let text = "\u{feff}First name,Last name,Email,Product\r\n\
                    \"Kowalska, Anna\",\"O\"\"Neil\",anna@office.example,share\r\n\
                    \r\n\
                    Bob;Smith;bob@office.example;share\n";
        let rows = read_import(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].first_name, "Kowalska, Anna");
        assert_eq!(rows[0].last_name, "O\"Neil");
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].email, "bob@office.example");
        assert_eq!(rows[1].line, 4);
    }

    #[test]
    fn a_file_without_the_columns_or_with_too_many_rows_is_refused() {
        assert!(read_import("Name,Mail\nA,a@b.c\n").is_err());
        assert!(read_import("").is_err());
        assert!(read_import("\"First name,Last name\n").is_err());
        let mut big = format!("{CSV_HEADER}\n");
        for i in 0..=MAX_IMPORT_ROWS {
            big.push_str(&format!("A,B,p{i}@office.example,share\n"));
        }
        let err = read_import(&big).unwrap_err();
        assert!(err.message().contains("at most 5000"), "{}", err.message());
    }

    #[test]
    fn each_role_may_do_only_what_it_should() {
        use MemberRole::*;
        let cm = Standing {
            contract_manager: true,
            role: Some(PrimaryAdmin),
            coordinator: true,
        };
        let primary = Standing {
            role: Some(PrimaryAdmin),
            ..Standing::default()
        };
        let secondary = Standing {
            role: Some(SecondaryAdmin),
            ..Standing::default()
        };
        let coordinator = Standing {
            role: Some(User),
            coordinator: true,
            ..Standing::default()
        };
        let user = Standing {
            role: Some(User),
            ..Standing::default()
        };
        let expected: [(Standing, [bool; 6]); 5] = [
            (cm, [true, true, true, true, true, true]),
            (primary, [true, true, true, true, false, false]),
            (secondary, [true, true, true, false, false, false]),
            (coordinator, [true, false, false, false, false, false]),
            (user, [false, false, false, false, false, false]),
        ];
        for (standing, allowed) in expected {
            for (act, ok) in Act::ALL.iter().zip(allowed) {
                assert_eq!(standing.may(*act), ok, "{standing:?} {act:?}");
            }
        }
    }
}
