//! People joining and leaving a team: inviting a person by e-mail (or sending the link
//! again), the invitation e-mail, and removing a person (their seats free at once).

use tessera_core::text::ends_sentence;
use tessera_store::portal::{NewInvitation, TeamRecord, UserRecord};

use super::assignments::send_seat_removed;
use super::mail_one;
use super::roles::team_error;
use crate::accounts::check_email;
use crate::error::PortalResult;
use crate::security::{random_token, token_hash};
use crate::state::PortalState;

/// Invitations are valid for 7 days (and can be sent again).
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

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
