//! The account's teams: the team page (people and their roles, subscriptions and their
//! seats), a subscription's assignment page (assign, unassign), the CSV import with its
//! template and per-row report, the page to change the contract manager or appoint a
//! software coordinator, a person's own licenses ("Sign out of all devices"), and
//! accepting an invitation. Every handler checks the person's standing in the team
//! first (see `teams::Standing`).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_store::portal::{MemberRole, NamedSubscriptionRecord, TeamRecord, UserRecord};

use super::{Layout, message, page, see_other};
use crate::error::{PortalError, PortalResult};
use crate::security::{MIN_PASSWORD_LEN, hash_password, token_hash};
use crate::session::{SignedIn, Visitor};
use crate::state::{Portal, PortalState};
use crate::teams::{
    self, Act, CSV_HEADER, ImportReport, MAX_IMPORT_ROWS, Standing, read_import, require, team_for,
};

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
    Path((team_id, member)): Path<(String, String)>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManagePeople)?;
    let email = email_of(&state, &member).await?;
    teams::remove_member(&state, &team, &member).await?;
    Ok(back(
        &format!("/account/teams/{}", team.id),
        &format!("{email} is removed from the team; their seats are free."),
    ))
}

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
    Ok(back(
        &format!("/account/teams/{}", team.id),
        &format!("{email} is now {}.", role.label().to_lowercase()),
    ))
}

pub struct Choice {
    pub user_id: String,
    pub email: String,
    pub selected: bool,
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
    Ok(back(
        &format!("/account/teams/{}/roles", team.id),
        &format!("{email} is now the software coordinator."),
    ))
}

pub struct AssigneeView {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "team_subscription.html")]
struct SubscriptionPage {
    layout: Layout,
    team: TeamRecord,
    sub: SubscriptionView,
    assignees: Vec<AssigneeView>,
    unassigned: Vec<Choice>,
    may_seats: bool,
    error: Option<String>,
}

async fn own_subscription(
    state: &PortalState,
    team: &TeamRecord,
    sub_id: &str,
) -> PortalResult<NamedSubscriptionRecord> {
    state
        .store
        .named_subscription(sub_id)
        .await?
        .filter(|s| s.team_id == team.id)
        .ok_or(PortalError::NotFound)
}

#[allow(clippy::too_many_arguments)]
async fn render_subscription(
    state: &PortalState,
    visitor: &Visitor,
    team: TeamRecord,
    standing: Standing,
    sub_id: &str,
    status: StatusCode,
    notice_text: Option<String>,
    error: Option<String>,
) -> PortalResult<Response> {
    let sub = own_subscription(state, &team, sub_id).await?;
    let assignees = state.store.assignees(&sub.id).await?;
    let unassigned = state
        .store
        .team_members(&team.id)
        .await?
        .into_iter()
        .filter(|m| !assignees.iter().any(|a| a.user_id == m.user_id))
        .map(|m| Choice {
            user_id: m.user_id,
            email: m.email,
            selected: false,
        })
        .collect();
    let layout = Layout::build(
        state,
        visitor,
        &format!("Assign {}", sub.product_name),
        true,
    )
    .await?
    .with_notice(notice_text);
    page(
        status,
        &SubscriptionPage {
            layout,
            sub: subscription_view(&sub),
            assignees: assignees
                .into_iter()
                .map(|a| AssigneeView {
                    user_id: a.user_id,
                    email: a.email,
                    name: full_name(&a.first_name, &a.last_name),
                    since: day(a.assigned_at),
                })
                .collect(),
            unassigned,
            may_seats: standing.may(Act::ManageSeats),
            team,
            error,
        },
    )
}

/// `GET /account/teams/{team}/subscriptions/{sub}`: who holds its seats.
pub async fn subscription_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path((team_id, sub_id)): Path<(String, String)>,
    Query(n): Query<Notice>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::View)?;
    render_subscription(
        &state,
        &visitor,
        team,
        standing,
        &sub_id,
        StatusCode::OK,
        notice(n),
        None,
    )
    .await
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

/// `POST /account/teams/{team}/subscriptions/{sub}/assign`: one person by e-mail
/// (invited when new to the team); refused when no seat is free.
pub async fn assign(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path((team_id, sub_id)): Path<(String, String)>,
    Form(form): Form<AssignForm>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManageSeats)?;
    let sub = own_subscription(&state, &team, &sub_id).await?;
    let report = teams::assign_one(
        &state,
        &team,
        &user,
        &sub,
        &form.email,
        &form.first_name,
        &form.last_name,
    )
    .await?;
    let row = report.rows.first().cloned();
    if report.applied {
        let text = row
            .map(|r| format!("{}: {}", r.email, r.text))
            .unwrap_or_default();
        return Ok(back(
            &format!("/account/teams/{}/subscriptions/{}", team.id, sub.id),
            &text,
        ));
    }
    let why = row
        .map(|r| format!("Not assigned: {}", r.text))
        .unwrap_or_else(|| "Not assigned.".into());
    render_subscription(
        &state,
        &visitor,
        team,
        standing,
        &sub_id,
        StatusCode::CONFLICT,
        None,
        Some(why),
    )
    .await
}

#[derive(Deserialize)]
pub struct UnassignForm {
    #[serde(default)]
    user: String,
}

/// `POST /account/teams/{team}/subscriptions/{sub}/unassign`.
pub async fn unassign(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path((team_id, sub_id)): Path<(String, String)>,
    Form(form): Form<UnassignForm>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManageSeats)?;
    let sub = own_subscription(&state, &team, &sub_id).await?;
    let email = email_of(&state, &form.user).await?;
    let done = if teams::unassign(&state, &team, &sub, &form.user).await? {
        format!("{email}'s seat is unassigned; it is free for someone else.")
    } else {
        format!(
            "{email} had no seat of {}",
            tessera_core::text::ends_sentence(&sub.product_name)
        )
    };
    Ok(back(
        &format!("/account/teams/{}/subscriptions/{}", team.id, sub.id),
        &done,
    ))
}

#[derive(Template)]
#[template(path = "team_import.html")]
struct ImportPage {
    layout: Layout,
    team: TeamRecord,
    subscriptions: Vec<SubscriptionView>,
    header: &'static str,
    max_rows: usize,
    csv: String,
    report: Option<ImportReport>,
    error: Option<String>,
}

async fn render_import(
    state: &PortalState,
    visitor: &Visitor,
    team: TeamRecord,
    status: StatusCode,
    csv: String,
    report: Option<ImportReport>,
    error: Option<String>,
) -> PortalResult<Response> {
    let subs = state.store.team_subscriptions(&team.id).await?;
    let notice_text = report
        .as_ref()
        .filter(|r| r.applied)
        .map(|r| format!("Imported: {} row(s) done.", r.rows.len()));
    let layout = Layout::build(state, visitor, "Import assignments", true)
        .await?
        .with_notice(notice_text);
    page(
        status,
        &ImportPage {
            layout,
            team,
            subscriptions: subs.iter().map(subscription_view).collect(),
            header: CSV_HEADER,
            max_rows: MAX_IMPORT_ROWS,
            csv,
            report,
            error,
        },
    )
}

/// `GET /account/teams/{team}/import`.
pub async fn import_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path(team_id): Path<String>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManageSeats)?;
    render_import(
        &state,
        &visitor,
        team,
        StatusCode::OK,
        String::new(),
        None,
        None,
    )
    .await
}

/// `GET /account/teams/{team}/import/template.csv`: the header and one example row per
/// subscription.
pub async fn import_template(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path(team_id): Path<String>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManageSeats)?;
    let mut csv = format!("{CSV_HEADER}\r\n");
    for s in state.store.team_subscriptions(&team.id).await? {
        csv.push_str(&format!(
            "Anna,Kowalska,anna@example.com,{}\r\n",
            s.product_id
        ));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"assignments-template.csv\"",
            ),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        csv,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    csv: String,
}

/// `POST /account/teams/{team}/import`: every row or none, with a report per row.
pub async fn import(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path(team_id): Path<String>,
    Form(form): Form<ImportForm>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManageSeats)?;
    let rows = match read_import(&form.csv) {
        Ok(rows) if rows.is_empty() => {
            return render_import(
                &state,
                &visitor,
                team,
                StatusCode::UNPROCESSABLE_ENTITY,
                form.csv,
                None,
                Some("The file has a header but no rows.".into()),
            )
            .await;
        }
        Ok(rows) => rows,
        Err(e) if e.is_user_error() => {
            return render_import(
                &state,
                &visitor,
                team,
                e.status(),
                form.csv,
                None,
                Some(e.message()),
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    let report = teams::assign_rows(&state, &team, &user, &rows).await?;
    let (status, error) = if report.applied {
        (StatusCode::OK, None)
    } else {
        (
            StatusCode::CONFLICT,
            Some(
                "Nothing was imported: fix the rows marked Failed and import the file again."
                    .into(),
            ),
        )
    };
    let csv = if report.applied {
        String::new()
    } else {
        form.csv
    };
    render_import(&state, &visitor, team, status, csv, Some(report), error).await
}

pub struct SeatView {
    pub product: String,
    pub team: String,
    pub period: String,
}

pub struct DeviceView {
    pub device: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "licenses.html")]
struct LicensesPage {
    layout: Layout,
    email: String,
    portal_url: String,
    seats: Vec<SeatView>,
    devices: Vec<DeviceView>,
}

/// `GET /account/licenses`: the person's own seats and the computer they are signed in on.
pub async fn licenses_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(n): Query<Notice>,
) -> PortalResult<Response> {
    let mut seats = Vec::new();
    for s in state.store.seats_of_user(&user.id).await? {
        let team = state.store.team(&s.team_id).await?;
        seats.push(SeatView {
            product: s.product_name,
            team: team.map(|t| t.name).unwrap_or_default(),
            period: format!("{} to {}", s.start_date, s.end_date),
        });
    }
    let devices = state
        .store
        .open_named_sessions(&user.id)
        .await?
        .into_iter()
        .map(|s| DeviceView {
            device: s.device,
            since: tessera_core::from_millis(s.created_at)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
        })
        .collect();
    let layout = Layout::build(&state, &visitor, "Your licenses", true)
        .await?
        .with_notice(notice(n));
    page(
        StatusCode::OK,
        &LicensesPage {
            layout,
            email: user.email.clone(),
            portal_url: state.config.base_url().to_string(),
            seats,
            devices,
        },
    )
}

/// `POST /account/licenses/sign-out-all`: "Sign out of all devices".
pub async fn sign_out_all(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
) -> PortalResult<Response> {
    let n = state
        .store
        .sign_out_all_devices(&user.id, state.now())
        .await?;
    Ok(back(
        "/account/licenses",
        &format!("Signed out of all devices ({n}). Sign in again on the computer you work at."),
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
