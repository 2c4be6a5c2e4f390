//! A seat by hand: assigning one to a person by e-mail, unassigning one, and the
//! e-mails that tell the person.

use tessera_store::portal::{NamedSubscriptionRecord, TeamRecord, UserRecord};

use super::imports::{ImportReport, ImportRow, assign_rows};
use super::mail_one;
use crate::error::PortalResult;
use crate::state::PortalState;

pub(super) async fn send_seat_assigned(
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

pub(super) async fn send_seat_removed(
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
