//! The account's teams: the team page (people and their roles, subscriptions and their
//! seats), a subscription's assignment page (assign, unassign), the CSV import with its
//! template and per-row report, the page to change the contract manager or appoint a
//! software coordinator, a person's own licenses ("Sign out of all devices"), and
//! accepting an invitation. Every handler checks the person's standing in the team
//! first (see `teams::Standing`).
//!
//! This module has the list of teams, a new team, the team page and what the pages
//! share; the rest is by concept: `roles` (the roles page and its changes),
//! `invitations` (inviting, removing, accepting), `assignments` (a subscription's
//! assignment page), `imports` (the CSV import) and `licenses` (a person's own).

mod assignments;
mod imports;
mod invitations;
mod licenses;
mod roles;

pub use assignments::{
    AssignForm, AssigneeView, UnassignForm, assign, subscription_page, unassign,
};
pub use imports::{ImportForm, import, import_page, import_template};
pub use invitations::{
    AcceptForm, InvitationQuery, InviteForm, accept_invitation, invitation_page, invite,
    remove_member,
};
pub use licenses::{DeviceView, SeatView, licenses_page, sign_out_all};
pub use roles::{
    ChangeView, PersonForm, RoleForm, appoint_coordinator, change_contract_manager, roles_page,
    set_role,
};

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_store::portal::{MemberRole, NamedSubscriptionRecord, TeamRecord, UserRecord};

use super::{Layout, page, see_other};
use crate::error::PortalResult;
use crate::session::{SignedIn, Visitor};
use crate::state::{Portal, PortalState};
use crate::teams::{self, Act, Standing, require, team_for};

fn day(ms: i64) -> String {
    tessera_core::from_millis(ms).format("%Y-%m-%d").to_string()
}

fn full_name(first: &str, last: &str) -> String {
    format!("{first} {last}").trim().to_owned()
}

/// The notice after a form, carried in the redirect's query.
#[derive(Deserialize, Default)]
pub struct Notice {
    #[serde(default)]
    done: String,
}

fn back(to: &str, done: &str) -> Response {
    let q = serde_urlencoded::to_string([("done", done)]).unwrap_or_default();
    see_other(&format!("{to}?{q}"))
}

fn notice(n: Notice) -> Option<String> {
    Some(n.done).filter(|d| !d.is_empty())
}

/// A team in the list.
pub struct TeamLink {
    pub id: String,
    pub name: String,
    pub roles: String,
    pub may_view: bool,
}

#[derive(Template)]
#[template(path = "teams.html")]
struct TeamsPage {
    layout: Layout,
    teams: Vec<TeamLink>,
    may_create: bool,
    error: Option<String>,
}

/// `GET /account/teams`: the teams the person belongs to.
pub async fn teams_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(n): Query<Notice>,
) -> PortalResult<Response> {
    render_teams(&state, &visitor, &user, StatusCode::OK, notice(n), None).await
}

async fn render_teams(
    state: &PortalState,
    visitor: &Visitor,
    user: &UserRecord,
    status: StatusCode,
    notice_text: Option<String>,
    error: Option<String>,
) -> PortalResult<Response> {
    let mut links = Vec::new();
    for team in state.store.teams_of_user(&user.id).await? {
        let role = state.store.member_role(&team.id, &user.id).await?;
        let standing = Standing::of(&team, &user.id, role);
        links.push(TeamLink {
            id: team.id.clone(),
            name: team.name.clone(),
            roles: standing.labels().join(", "),
            may_view: standing.may(Act::View),
        });
    }
    let layout = Layout::build(state, visitor, "Teams", true)
        .await?
        .with_notice(notice_text);
    page(
        status,
        &TeamsPage {
            layout,
            teams: links,
            may_create: teams::may_see_billing(state, user).await?,
            error,
        },
    )
}

#[derive(Deserialize)]
pub struct NewTeamForm {
    #[serde(default)]
    name: String,
}

/// `POST /account/teams`: a new team of the organization, owned by its maker (the
/// contract manager and primary admin). For those who see billing.
pub async fn create_team(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Form(form): Form<NewTeamForm>,
) -> PortalResult<Response> {
    teams::require_billing(&state, &user).await?;
    let name = form.name.trim();
    let problem = if name.is_empty() {
        Some("Enter the team's name.".to_owned())
    } else if name.chars().count() > 100 {
        Some("A team's name has at most 100 characters.".to_owned())
    } else {
        None
    };
    if let Some(error) = problem {
        return render_teams(
            &state,
            &visitor,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(error),
        )
        .await;
    }
    match state
        .store
        .create_team(&user.organization_id, &user.id, name, state.now())
        .await?
    {
        Some(team) => Ok(back(
            &format!("/account/teams/{}", team.id),
            &format!(
                "The team {} is made; you are its contract manager and primary admin.",
                team.name
            ),
        )),
        None => {
            render_teams(
                &state,
                &visitor,
                &user,
                StatusCode::CONFLICT,
                None,
                Some(format!(
                    "Your organization has a team named {name} already."
                )),
            )
            .await
        }
    }
}

pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub roles: String,
    pub status: String,
    pub secondary: bool,
    pub plain_user: bool,
    pub primary: bool,
    pub contract_manager: bool,
    pub seats: String,
}

pub struct SubscriptionView {
    pub id: String,
    pub product: String,
    pub seats: u32,
    pub assigned: u32,
    pub free: u32,
    pub period: String,
}

fn subscription_view(s: &NamedSubscriptionRecord) -> SubscriptionView {
    SubscriptionView {
        id: s.id.clone(),
        product: s.product_name.clone(),
        seats: s.seats,
        assigned: s.assigned,
        free: s.seats.saturating_sub(s.assigned),
        period: format!("{} to {}", s.start_date, s.end_date),
    }
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    layout: Layout,
    team: TeamRecord,
    my_roles: String,
    contract_manager: String,
    coordinator: String,
    members: Vec<MemberView>,
    subscriptions: Vec<SubscriptionView>,
    may_people: bool,
    may_seats: bool,
    may_admins: bool,
    may_owner: bool,
    /// The over-assignment report (after a partial renewal), when there is one.
    over_assigned: Vec<super::contracts::OverView>,
}

async fn email_of(state: &PortalState, user_id: &str) -> PortalResult<String> {
    Ok(state
        .store
        .user(user_id)
        .await?
        .map(|u| u.email)
        .unwrap_or_default())
}

/// `GET /account/teams/{team}`.
pub async fn team_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path(team_id): Path<String>,
    Query(n): Query<Notice>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::View)?;
    let subs = state.store.team_subscriptions(&team.id).await?;
    let mut members = Vec::new();
    for m in state.store.team_members(&team.id).await? {
        let their = Standing::of(&team, &m.user_id, Some(m.role));
        let held: Vec<String> = state
            .store
            .seats_in_team(&team.id, &m.user_id)
            .await?
            .into_iter()
            .map(|s| s.product_name)
            .collect();
        members.push(MemberView {
            user_id: m.user_id.clone(),
            email: m.email.clone(),
            name: full_name(&m.first_name, &m.last_name),
            roles: their.labels().join(", "),
            status: if m.active { "Active" } else { "Invited" }.into(),
            secondary: m.role == MemberRole::SecondaryAdmin,
            plain_user: m.role == MemberRole::User,
            primary: m.role == MemberRole::PrimaryAdmin,
            contract_manager: their.contract_manager,
            seats: if held.is_empty() {
                "—".into()
            } else {
                held.join(", ")
            },
        });
    }
    let layout = Layout::build(&state, &visitor, &team.name, true)
        .await?
        .with_notice(notice(n));
    page(
        StatusCode::OK,
        &TeamPage {
            layout,
            my_roles: standing.labels().join(", "),
            contract_manager: email_of(&state, &team.owner_user_id).await?,
            coordinator: email_of(&state, team.coordinator()).await?,
            members,
            over_assigned: super::contracts::over_assignment_report(&state, &subs).await?,
            subscriptions: subs.iter().map(subscription_view).collect(),
            may_people: standing.may(Act::ManagePeople),
            may_seats: standing.may(Act::ManageSeats),
            may_admins: standing.may(Act::ChangeAdmins),
            may_owner: standing.may(Act::ChangeContractManager),
            team,
        },
    )
}

pub struct Choice {
    pub user_id: String,
    pub email: String,
    pub selected: bool,
}
