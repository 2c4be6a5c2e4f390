//! Who may do what with a team: a person's standing (contract manager, primary admin,
//! secondary admin, software coordinator, user), the checks every team page makes
//! first, who sees billing and teams, and a team error as the page shows it.

use tessera_store::portal::{MemberRole, TeamError, TeamRecord, UserRecord};

use super::capitalized;
use crate::error::{PortalError, PortalResult};
use crate::state::PortalState;

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

#[cfg(test)]
mod tests {
    use super::*;

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
