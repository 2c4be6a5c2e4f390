//! The named-user subscription a Paid order makes (in the buyer's default team, one
//! seat for the buyer), renewals and added seats, moving a subscription to another
//! team, and the e-mails about them; which orders and products are named-user or tokens.

use tessera_core::text::ends_sentence;
use tessera_store::portal::{
    NamedSubscriptionRecord, NewNamedSubscription, OrderRecord, OrganizationRecord, TeamRecord,
    UserRecord,
};

use super::assignments::send_seat_removed;
use super::mail_one;
use super::roles::team_error;
use crate::error::{PortalError, PortalResult};
use crate::state::PortalState;

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
