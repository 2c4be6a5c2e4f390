//! Inviting a person to a team, removing one, and the invitation's own page where the
//! invited person accepts and chooses their password.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_store::portal::{TeamRecord, UserRecord};

use super::{back, email_of};
use crate::error::{PortalError, PortalResult};
use crate::pages::{Layout, message, page};
use crate::security::{MIN_PASSWORD_LEN, hash_password, token_hash};
use crate::session::{SignedIn, Visitor};
use crate::state::{Portal, PortalState};
use crate::teams::{self, Act, require, team_for};

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

/// `POST /account/teams/{team}/invite`: invites a person (or sends the invitation again).
pub async fn invite(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path(team_id): Path<String>,
    Form(form): Form<InviteForm>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManagePeople)?;
    let joined = teams::invite(
        &state,
        &team,
        &user,
        &form.email,
        &form.first_name,
        &form.last_name,
    )
    .await?;
    let done = if joined {
        format!("{} is invited to the team.", form.email.trim())
    } else {
        format!(
            "{} is already in the team; an invitation is sent again if they have not accepted.",
            form.email.trim()
        )
    };
    Ok(back(&format!("/account/teams/{}", team.id), &done))
}

/// `POST /account/teams/{team}/members/{user}/remove`: their seats free at once.
pub async fn remove_member(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    tessera_server::extract::ClientAddress(address): tessera_server::extract::ClientAddress,
    Path((team_id, member)): Path<(String, String)>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManagePeople)?;
    let email = email_of(&state, &member).await?;
    teams::remove_member(&state, &team, &member).await?;
    let detail = format!("from the team {}", team.name);
    crate::pages::audit::record(
        &state,
        &team.organization_id,
        &user,
        address,
        tessera_store::AuditAction::PersonRemoved,
        &email,
        &detail,
    )
    .await;
    Ok(back(
        &format!("/account/teams/{}", team.id),
        &format!("{email} is removed from the team; their seats are free."),
    ))
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage {
    layout: Layout,
    token: String,
    email: String,
    team: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct InvitationQuery {
    #[serde(default)]
    token: String,
}

async fn live_invitation(
    state: &PortalState,
    token: &str,
) -> PortalResult<Option<(UserRecord, TeamRecord)>> {
    let Some(inv) = state.store.invitation(&token_hash(token)).await? else {
        return Ok(None);
    };
    if inv.accepted_at.is_some() || inv.expires_at <= state.now() {
        return Ok(None);
    }
    let user = state.store.user(&inv.user_id).await?;
    let team = state.store.team(&inv.team_id).await?;
    Ok(user.zip(team))
}

async fn invitation_gone(state: &PortalState, visitor: &Visitor) -> PortalResult<Response> {
    message(
        state,
        visitor,
        StatusCode::GONE,
        "Invitation not valid",
        "This invitation was used already or is older than 7 days. Ask your team's admin to send it again.",
        Some(("/signin", "Sign in")),
    )
    .await
}

/// `GET /invitation?token=…`: accept the invitation by choosing a password.
pub async fn invitation_page(
    State(state): State<Portal>,
    visitor: Visitor,
    Query(q): Query<InvitationQuery>,
) -> PortalResult<Response> {
    let Some((user, team)) = live_invitation(&state, &q.token).await? else {
        return invitation_gone(&state, &visitor).await;
    };
    let layout = Layout::build(&state, &visitor, "Accept the invitation", true).await?;
    page(
        StatusCode::OK,
        &InvitationPage {
            layout,
            token: q.token,
            email: user.email,
            team: team.name,
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

/// `POST /invitation`: sets the password, signs the person in, shows their licenses.
pub async fn accept_invitation(
    State(state): State<Portal>,
    visitor: Visitor,
    Form(form): Form<AcceptForm>,
) -> PortalResult<Response> {
    let Some((user, team)) = live_invitation(&state, &form.token).await? else {
        return invitation_gone(&state, &visitor).await;
    };
    let problem = if form.password.chars().count() < MIN_PASSWORD_LEN {
        Some(format!(
            "Choose a password of at least {MIN_PASSWORD_LEN} characters."
        ))
    } else if form.password.len() > 1024 {
        Some("That password is too long.".to_owned())
    } else if form.password != form.password_again {
        Some("The two passwords are not the same.".to_owned())
    } else {
        None
    };
    if let Some(error) = problem {
        let layout = Layout::build(&state, &visitor, "Accept the invitation", true).await?;
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &InvitationPage {
                layout,
                token: form.token,
                email: user.email,
                team: team.name,
                error: Some(error),
            },
        );
    }
    let hash = hash_password(&form.password)
        .await
        .map_err(PortalError::internal)?;
    let Some(user_id) = state
        .store
        .accept_invitation(&token_hash(&form.token), &hash, state.now())
        .await?
    else {
        return invitation_gone(&state, &visitor).await;
    };
    let user = state
        .store
        .user(&user_id)
        .await?
        .ok_or_else(|| PortalError::internal("the invited user vanished"))?;
    visitor.sign_in(&state, user).await?;
    Ok(back(
        "/account/licenses",
        &format!(
            "Welcome to the team {}",
            tessera_core::text::ends_sentence(&team.name)
        ),
    ))
}
