//! The team's roles page: making a member a secondary admin or a user (or the primary
//! admin), changing the contract manager, appointing the software coordinator, and the
//! record of changes.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_server::extract::ClientAddress;
use tessera_store::AuditAction;
use tessera_store::portal::{MemberRole, TeamRecord};

use super::{Choice, Notice, back, email_of, notice};
use crate::error::{PortalError, PortalResult};
use crate::pages::{Layout, audit, page};
use crate::session::SignedIn;
use crate::state::Portal;
use crate::teams::{self, Act, require, team_for};

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

/// `POST /account/teams/{team}/members/{user}/role`: secondary admin, user, or (for a
/// secondary admin) primary admin.
pub async fn set_role(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    ClientAddress(address): ClientAddress,
    Path((team_id, member)): Path<(String, String)>,
    Form(form): Form<RoleForm>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ChangeAdmins)?;
    let role = MemberRole::parse(&form.role).ok_or_else(|| {
        PortalError::invalid("Choose a role: primary admin, secondary admin or user.")
    })?;
    let email = email_of(&state, &member).await?;
    if role == MemberRole::PrimaryAdmin {
        state
            .store
            .promote_primary_admin(&team.id, &member, &user.id, state.now())
            .await
            .map_err(teams::team_error)?;
    } else {
        state
            .store
            .set_member_role(&team.id, &member, role)
            .await
            .map_err(teams::team_error)?;
    }
    let detail = format!("team {}: {}", team.name, role.label().to_lowercase());
    audit::record(
        &state,
        &team.organization_id,
        &user,
        address,
        AuditAction::RoleChanged,
        &email,
        &detail,
    )
    .await;
    Ok(back(
        &format!("/account/teams/{}", team.id),
        &format!("{email} is now {}.", role.label().to_lowercase()),
    ))
}

pub struct ChangeView {
    pub when: String,
    pub what: String,
    pub from: String,
    pub to: String,
    pub by: String,
}

#[derive(Template)]
#[template(path = "team_roles.html")]
struct RolesPage {
    layout: Layout,
    team: TeamRecord,
    contract_manager: String,
    coordinator: String,
    people: Vec<Choice>,
    coordinators: Vec<Choice>,
    changes: Vec<ChangeView>,
}

/// `GET /account/teams/{team}/roles`: change the contract manager or appoint a
/// software coordinator (the contract manager's page), with the changes made so far.
pub async fn roles_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path(team_id): Path<String>,
    Query(n): Query<Notice>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ChangeContractManager)?;
    let members = state.store.team_members(&team.id).await?;
    let people = members
        .iter()
        .filter(|m| m.active)
        .map(|m| Choice {
            user_id: m.user_id.clone(),
            email: m.email.clone(),
            selected: m.user_id == team.owner_user_id,
        })
        .collect();
    let coordinators = members
        .iter()
        .filter(|m| m.active)
        .map(|m| Choice {
            user_id: m.user_id.clone(),
            email: m.email.clone(),
            selected: m.user_id == team.coordinator(),
        })
        .collect();
    let mut changes = Vec::new();
    for c in state.store.role_changes(&team.id).await? {
        let name = |id: Option<String>| {
            let state = &state;
            async move {
                match id {
                    Some(id) => email_of(state, &id).await,
                    None => Ok("(the contract manager)".to_owned()),
                }
            }
        };
        changes.push(ChangeView {
            when: tessera_core::from_millis(c.changed_at)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
            what: match c.what.as_str() {
                "contract_manager" => "Contract manager",
                "primary_admin" => "Primary admin",
                _ => "Software coordinator",
            }
            .into(),
            from: name(c.from_user_id).await?,
            to: name(c.to_user_id).await?,
            by: email_of(&state, &c.changed_by).await?,
        });
    }
    let layout = Layout::build(
        &state,
        &visitor,
        "Contract manager and software coordinator",
        true,
    )
    .await?
    .with_notice(notice(n));
    page(
        StatusCode::OK,
        &RolesPage {
            layout,
            contract_manager: email_of(&state, &team.owner_user_id).await?,
            coordinator: email_of(&state, team.coordinator()).await?,
            team,
            people,
            coordinators,
            changes,
        },
    )
}

#[derive(Deserialize)]
pub struct PersonForm {
    #[serde(default)]
    user: String,
}

/// `POST /account/teams/{team}/contract-manager`.
pub async fn change_contract_manager(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    ClientAddress(address): ClientAddress,
    Path(team_id): Path<String>,
    Form(form): Form<PersonForm>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ChangeContractManager)?;
    state
        .store
        .change_contract_manager(&team.id, &form.user, &user.id, state.now())
        .await
        .map_err(teams::team_error)?;
    let email = email_of(&state, &form.user).await?;
    let detail = format!("team {}: contract manager", team.name);
    audit::record(
        &state,
        &team.organization_id,
        &user,
        address,
        AuditAction::RoleChanged,
        &email,
        &detail,
    )
    .await;
    // The old contract manager may no longer see the roles page: back to the team.
    Ok(back(
        &format!("/account/teams/{}", team.id),
        &format!("{email} is now the contract manager."),
    ))
}

/// `POST /account/teams/{team}/software-coordinator`.
pub async fn appoint_coordinator(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    ClientAddress(address): ClientAddress,
    Path(team_id): Path<String>,
    Form(form): Form<PersonForm>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::AppointCoordinator)?;
    let chosen = Some(form.user.as_str()).filter(|u| !u.is_empty() && *u != team.owner_user_id);
    state
        .store
        .set_software_coordinator(&team.id, chosen, &user.id, state.now())
        .await
        .map_err(teams::team_error)?;
    let email = email_of(&state, chosen.unwrap_or(&team.owner_user_id)).await?;
    let detail = format!("team {}: software coordinator", team.name);
    audit::record(
        &state,
        &team.organization_id,
        &user,
        address,
        AuditAction::RoleChanged,
        &email,
        &detail,
    )
    .await;
    Ok(back(
        &format!("/account/teams/{}/roles", team.id),
        &format!("{email} is now the software coordinator."),
    ))
}
