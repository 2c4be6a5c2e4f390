//! A subscription's assignment page: who holds its seats, assigning one to a person by
//! e-mail, and unassigning one.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_server::extract::ClientAddress;
use tessera_store::AuditAction;
use tessera_store::portal::{NamedSubscriptionRecord, TeamRecord};

use super::{
    Choice, Notice, SubscriptionView, back, day, email_of, full_name, notice, subscription_view,
};
use crate::error::{PortalError, PortalResult};
use crate::pages::{Layout, audit, page};
use crate::session::{SignedIn, Visitor};
use crate::state::{Portal, PortalState};
use crate::teams::{self, Act, Standing, require, team_for};

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
    ClientAddress(address): ClientAddress,
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
        let target = row.as_ref().map(|r| r.email.as_str()).unwrap_or_default();
        let detail = format!("{} (team {})", sub.product_name, team.name);
        audit::record(
            &state,
            &team.organization_id,
            &user,
            address,
            AuditAction::SeatAssigned,
            target,
            &detail,
        )
        .await;
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
    ClientAddress(address): ClientAddress,
    Path((team_id, sub_id)): Path<(String, String)>,
    Form(form): Form<UnassignForm>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManageSeats)?;
    let sub = own_subscription(&state, &team, &sub_id).await?;
    let email = email_of(&state, &form.user).await?;
    let done = if teams::unassign(&state, &team, &sub, &form.user).await? {
        let detail = format!("{} (team {})", sub.product_name, team.name);
        audit::record(
            &state,
            &team.organization_id,
            &user,
            address,
            AuditAction::SeatUnassigned,
            &email,
            &detail,
        )
        .await;
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
