//! Teams and named-user seats. A team belongs to an organization; its owner is the
//! contract manager (the buyer), its members hold one role each, with exactly one
//! primary admin. People are the organization's users; an invited person is a user
//! without a password until they accept. A named-user subscription holds N seats in a
//! team, and an assignment gives one person its products.
//!
//! Seat counts are checked inside one write transaction that first locks the
//! subscription (`BEGIN IMMEDIATE` on SQLite, `FOR UPDATE` on PostgreSQL), so two
//! admins on two nodes can never assign more seats than it has; a batch (a CSV import)
//! is applied whole or not at all.
//!
//! This module owns the team itself (making one, its members, removing a person) and
//! what the others share; the rest is by concept: `roles` (a member's role, the
//! contract manager, the software coordinator, the record of changes), `invitations`,
//! `assignments` (named-user subscriptions and their seats), `imports` (a batch of
//! assignments from a CSV import) and `sessions` (named sign-ins on devices).

mod assignments;
mod imports;
mod invitations;
mod roles;
mod sessions;

pub use assignments::{AssigneeRecord, NamedSubscriptionRecord, NewNamedSubscription, SeatRecord};
pub use imports::{AssignmentBatch, BatchRow, RowOutcome};
pub use invitations::{InvitationRecord, Invited, NewInvitation};
pub use roles::{MemberRole, RoleChangeRecord};
pub use sessions::NamedSessionRecord;

use sqlx::Row;
use tessera_core::Millis;
use thiserror::Error;

use super::{Tx, count, json_list};
use crate::{Store, StoreError};
use roles::member_role_in;

/// Why a change to a team or its seats was refused.
#[derive(Debug, Error)]
pub enum TeamError {
    #[error("all {seats} seats of {product} are assigned; {wanted} more would exceed them")]
    NotEnoughSeats {
        product: String,
        seats: u32,
        assigned: u32,
        wanted: u32,
    },
    #[error(
        "the team is over-assigned: {product} has {seats} seat(s) and {assigned} people hold one; choose who loses access before assigning more"
    )]
    OverAssigned {
        product: String,
        seats: u32,
        assigned: u32,
    },
    #[error("{0} belongs to another organization's account")]
    OtherOrganization(String),
    #[error("{0} is not a member of this team")]
    NotMember(String),
    #[error("only a secondary admin can be made the primary admin")]
    NotSecondaryAdmin,
    #[error("the primary admin's role changes only when a secondary admin is promoted")]
    PrimaryAdminStays,
    #[error("there is no such team or subscription")]
    NotFound,
    #[error(
        "the contract manager cannot be removed from the team; change the contract manager first"
    )]
    ContractManagerStays,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TeamError {
    fn from(e: sqlx::Error) -> Self {
        TeamError::Store(StoreError::Database(e))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    /// The contract manager.
    pub owner_user_id: String,
    /// None: the contract manager is the software coordinator.
    pub software_coordinator_id: Option<String>,
    pub is_default: bool,
    pub created_at: Millis,
}

impl TeamRecord {
    /// The software coordinator (by default the contract manager).
    pub fn coordinator(&self) -> &str {
        self.software_coordinator_id
            .as_deref()
            .unwrap_or(&self.owner_user_id)
    }
}

/// A person in a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub user_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: MemberRole,
    /// Whether they accepted the invitation (or made the account themselves).
    pub active: bool,
    pub added_at: Millis,
}

const TEAM_COLUMNS: &str =
    "id, organization_id, name, owner_user_id, software_coordinator_id, is_default, created_at";

const SUB_COLUMNS: &str = "s.id, s.organization_id, s.team_id, s.order_id, s.product_id, \
     s.product_name, s.licensed, s.seats, s.start_date, s.end_date, s.created_at, \
     (SELECT COUNT(*) FROM seat_assignments a WHERE a.subscription_id = s.id) AS assigned";

fn team_from_row(row: &sqlx::any::AnyRow) -> Result<TeamRecord, StoreError> {
    Ok(TeamRecord {
        id: row.try_get("id")?,
        organization_id: row.try_get("organization_id")?,
        name: row.try_get("name")?,
        owner_user_id: row.try_get("owner_user_id")?,
        software_coordinator_id: row.try_get("software_coordinator_id")?,
        is_default: row.try_get::<i64, _>("is_default")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn sub_from_row(row: &sqlx::any::AnyRow) -> Result<NamedSubscriptionRecord, StoreError> {
    Ok(NamedSubscriptionRecord {
        id: row.try_get("id")?,
        organization_id: row.try_get("organization_id")?,
        team_id: row.try_get("team_id")?,
        order_id: row.try_get("order_id")?,
        product_id: row.try_get("product_id")?,
        product_name: row.try_get("product_name")?,
        licensed: json_list(&row.try_get::<String, _>("licensed")?, "licensed")?,
        seats: count(row.try_get("seats")?),
        assigned: count(row.try_get("assigned")?),
        start_date: row.try_get("start_date")?,
        end_date: row.try_get("end_date")?,
        created_at: row.try_get("created_at")?,
    })
}

fn member_from_row(row: &sqlx::any::AnyRow) -> Result<MemberRecord, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(MemberRecord {
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        role: MemberRole::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("member role `{role}`")))?,
        active: row.try_get::<Option<i64>, _>("confirmed_at")?.is_some(),
        added_at: row.try_get("added_at")?,
    })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Store {
    /// The organization's default team, made now (owned by `owner_user_id`, who is its
    /// primary admin) when it has none.
    pub async fn default_team(
        &self,
        organization_id: &str,
        owner_user_id: &str,
        name: &str,
        now: Millis,
    ) -> Result<TeamRecord, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        let found = sqlx::query(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams WHERE organization_id = $1 AND is_default = 1"
        ))
        .bind(organization_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = found {
            tx.commit().await?;
            return team_from_row(&row);
        }
        let team = insert_team(&mut tx, organization_id, owner_user_id, name, true, now).await?;
        tx.commit().await?;
        Ok(team)
    }

    /// A further team of the organization, owned by `owner_user_id` (its primary admin).
    pub async fn create_team(
        &self,
        organization_id: &str,
        owner_user_id: &str,
        name: &str,
        now: Millis,
    ) -> Result<Option<TeamRecord>, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        let taken: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM teams WHERE organization_id = $1 AND name = $2",
        )
        .bind(organization_id)
        .bind(name.trim())
        .fetch_one(&mut *tx)
        .await?;
        if taken > 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let team = insert_team(&mut tx, organization_id, owner_user_id, name, false, now).await?;
        tx.commit().await?;
        Ok(Some(team))
    }

    pub async fn team(&self, id: &str) -> Result<Option<TeamRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {TEAM_COLUMNS} FROM teams WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.db)
            .await?;
        row.as_ref().map(team_from_row).transpose()
    }

    /// The teams a person owns or belongs to, by name.
    pub async fn teams_of_user(&self, user_id: &str) -> Result<Vec<TeamRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams WHERE owner_user_id = $1 \
             OR id IN (SELECT team_id FROM team_members WHERE user_id = $2) ORDER BY name"
        ))
        .bind(user_id)
        .bind(user_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(team_from_row).collect()
    }

    /// A person's role in a team, if they are a member.
    pub async fn member_role(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<Option<MemberRole>, StoreError> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2")
                .bind(team_id)
                .bind(user_id)
                .fetch_optional(&self.db)
                .await?;
        Ok(role.as_deref().and_then(MemberRole::parse))
    }

    /// The team's people: the primary admin first, then secondary admins, then users.
    pub async fn team_members(&self, team_id: &str) -> Result<Vec<MemberRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.email, m.first_name, m.last_name, m.role, u.confirmed_at, m.added_at \
             FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = $1 \
             ORDER BY m.role, u.email_key",
        )
        .bind(team_id)
        .fetch_all(&self.db)
        .await?;
        let mut members: Vec<MemberRecord> =
            rows.iter().map(member_from_row).collect::<Result<_, _>>()?;
        members.sort_by(|a, b| a.role.cmp(&b.role).then(a.email.cmp(&b.email)));
        Ok(members)
    }

    /// Removes a person from the team: their seats of its subscriptions free at once
    /// and their named sign-ins end. Answers the subscriptions they lost a seat of.
    pub async fn remove_member(
        &self,
        team_id: &str,
        user_id: &str,
        now: Millis,
    ) -> Result<Vec<NamedSubscriptionRecord>, TeamError> {
        let team = self.team(team_id).await?.ok_or(TeamError::NotFound)?;
        if team.owner_user_id == user_id {
            return Err(TeamError::ContractManagerStays);
        }
        let lost = self.seats_in_team(team_id, user_id).await?;
        let mut tx = self.portal_write_tx().await?;
        match member_role_in(&mut tx, team_id, user_id).await? {
            None => return Err(TeamError::NotMember(user_id.to_owned())),
            Some(MemberRole::PrimaryAdmin) => return Err(TeamError::PrimaryAdminStays),
            Some(_) => {}
        }
        sqlx::query(
            "DELETE FROM seat_assignments WHERE user_id = $1 AND subscription_id IN \
             (SELECT id FROM named_subscriptions WHERE team_id = $2)",
        )
        .bind(user_id)
        .bind(team_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM invitations WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if team.software_coordinator_id.as_deref() == Some(user_id) {
            sqlx::query("UPDATE teams SET software_coordinator_id = NULL WHERE id = $1")
                .bind(team_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE named_sessions SET ended_at = $1, end_reason = 'removed' \
             WHERE user_id = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(lost)
    }
}

async fn insert_team(
    tx: &mut Tx<'_>,
    organization_id: &str,
    owner_user_id: &str,
    name: &str,
    is_default: bool,
    now: Millis,
) -> Result<TeamRecord, StoreError> {
    let team = TeamRecord {
        id: new_id(),
        organization_id: organization_id.to_owned(),
        name: name.trim().to_owned(),
        owner_user_id: owner_user_id.to_owned(),
        software_coordinator_id: None,
        is_default,
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO teams (id, organization_id, name, owner_user_id, software_coordinator_id, is_default, created_at) \
         VALUES ($1, $2, $3, $4, NULL, $5, $6)",
    )
    .bind(&team.id)
    .bind(organization_id)
    .bind(&team.name)
    .bind(owner_user_id)
    .bind(i64::from(is_default))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO team_members (team_id, user_id, role, first_name, last_name, added_at) \
         VALUES ($1, $2, 'primary_admin', '', '', $3)",
    )
    .bind(&team.id)
    .bind(owner_user_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(team)
}
