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

use sqlx::Row;
use tessera_core::Millis;
use thiserror::Error;

use super::accounts::email_key;
use super::{Tx, count, json_list, to_json};
use crate::{Backend, Store, StoreError};

/// A member's role in a team (the contract manager and the software coordinator are
/// named on the team itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemberRole {
    PrimaryAdmin,
    SecondaryAdmin,
    User,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::PrimaryAdmin => "primary_admin",
            MemberRole::SecondaryAdmin => "secondary_admin",
            MemberRole::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "primary_admin" => Some(MemberRole::PrimaryAdmin),
            "secondary_admin" => Some(MemberRole::SecondaryAdmin),
            "user" => Some(MemberRole::User),
            _ => None,
        }
    }

    /// As the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            MemberRole::PrimaryAdmin => "Primary admin",
            MemberRole::SecondaryAdmin => "Secondary admin",
            MemberRole::User => "User",
        }
    }
}

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSubscriptionRecord {
    pub id: String,
    pub organization_id: String,
    pub team_id: String,
    pub order_id: Option<String>,
    pub product_id: String,
    pub product_name: String,
    pub licensed: Vec<String>,
    pub seats: u32,
    pub assigned: u32,
    pub start_date: String,
    pub end_date: String,
    pub created_at: Millis,
}

/// A subscription to make (a Paid order of a named-user product).
#[derive(Debug, Clone)]
pub struct NewNamedSubscription<'a> {
    pub organization_id: &'a str,
    pub team_id: &'a str,
    pub order_id: Option<&'a str>,
    pub product_id: &'a str,
    pub product_name: &'a str,
    pub licensed: &'a [String],
    pub seats: u32,
    pub start_date: &'a str,
    pub end_date: &'a str,
    /// The contract manager, who is assigned a seat at once.
    pub buyer_user_id: &'a str,
}

/// A person's seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatRecord {
    pub subscription_id: String,
    pub team_id: String,
    pub product_id: String,
    pub product_name: String,
    pub licensed: Vec<String>,
    pub start_date: String,
    pub end_date: String,
    pub assigned_at: Millis,
}

/// Who holds a seat of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssigneeRecord {
    pub user_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub assigned_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    pub token_hash: String,
    pub team_id: String,
    pub user_id: String,
    pub invited_by: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub accepted_at: Option<Millis>,
}

/// One change of a team's roles, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChangeRecord {
    pub what: String,
    pub from_user_id: Option<String>,
    pub to_user_id: Option<String>,
    pub changed_by: String,
    pub changed_at: Millis,
}

/// An invitation to make: the person (made a user of the organization when new) joins
/// the team as a user.
#[derive(Debug, Clone)]
pub struct NewInvitation<'a> {
    pub organization_id: &'a str,
    pub team_id: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub invited_by: &'a str,
    /// Used when an invitation is made (a person who has no password yet).
    pub token_hash: &'a str,
    pub expires_at: Millis,
}

/// What inviting someone did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invited {
    pub user_id: String,
    /// A new person (a user without a password) was made.
    pub new_user: bool,
    /// They joined the team now (they were not a member before).
    pub joined: bool,
    /// A new invitation link was stored (they have not accepted one yet): send it.
    pub invitation: bool,
}

/// One row of an assignment batch (a CSV import): a person and a subscription.
#[derive(Debug, Clone)]
pub struct BatchRow {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub subscription_id: String,
    /// Used when the person needs an invitation.
    pub token_hash: String,
}

/// A batch of assignments for one team (see [`Store::apply_assignment_batch`]).
#[derive(Debug, Clone, Copy)]
pub struct AssignmentBatch<'a> {
    pub organization_id: &'a str,
    pub team_id: &'a str,
    pub rows: &'a [BatchRow],
    /// Who assigns (and invites).
    pub by: &'a str,
    pub invitation_expires_at: Millis,
    /// Check every row and report, but apply nothing.
    pub check_only: bool,
}

/// What a batch row did (or would have done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    /// A seat was assigned; `invited` when a new invitation link was stored for the
    /// person (new to the team, or whose link had expired): send it.
    Assigned { user_id: String, invited: bool },
    /// The person already had the product: no second seat.
    AlreadyAssigned { user_id: String },
    /// Not applied: why.
    Failed(String),
}

/// A named sign-in on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSessionRecord {
    pub id: String,
    pub user_id: String,
    pub device: String,
    pub created_at: Millis,
    pub ended_at: Option<Millis>,
    pub end_reason: Option<String>,
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

fn session_from_row(row: &sqlx::any::AnyRow) -> Result<NamedSessionRecord, StoreError> {
    Ok(NamedSessionRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        device: row.try_get("device")?,
        created_at: row.try_get("created_at")?,
        ended_at: row.try_get("ended_at")?,
        end_reason: row.try_get("end_reason")?,
    })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn record_change(
    tx: &mut Tx<'_>,
    team_id: &str,
    what: &str,
    from: Option<&str>,
    to: Option<&str>,
    by: &str,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO team_role_changes (id, team_id, what, from_user_id, to_user_id, changed_by, changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(team_id)
    .bind(what)
    .bind(from)
    .bind(to)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn member_role_in(
    tx: &mut Tx<'_>,
    team_id: &str,
    user_id: &str,
) -> Result<Option<MemberRole>, StoreError> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(role.as_deref().and_then(MemberRole::parse))
}

/// Locks a subscription for the rest of the transaction and reads its seats and how
/// many are assigned.
async fn lock_subscription(
    backend: Backend,
    tx: &mut Tx<'_>,
    subscription_id: &str,
) -> Result<Option<(String, String, u32, u32)>, StoreError> {
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
    };
    let row = sqlx::query(&format!(
        "SELECT team_id, product_name, seats FROM named_subscriptions WHERE id = $1{lock}"
    ))
    .bind(subscription_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let assigned: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM seat_assignments WHERE subscription_id = $1")
            .bind(subscription_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(Some((
        row.try_get("team_id")?,
        row.try_get("product_name")?,
        count(row.try_get("seats")?),
        count(assigned),
    )))
}

/// The team's first over-assigned subscription (more people hold its seats than it has,
/// after a partial renewal): its product, seats and assigned count.
async fn over_assignment_in(
    tx: &mut Tx<'_>,
    team_id: &str,
) -> Result<Option<(String, u32, u32)>, StoreError> {
    let row = sqlx::query(
        "SELECT s.product_name, s.seats, \
         (SELECT COUNT(*) FROM seat_assignments a WHERE a.subscription_id = s.id) AS assigned \
         FROM named_subscriptions s WHERE s.team_id = $1 AND \
         (SELECT COUNT(*) FROM seat_assignments a WHERE a.subscription_id = s.id) > s.seats \
         ORDER BY s.product_name",
    )
    .bind(team_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("product_name")?,
            count(r.try_get("seats")?),
            count(r.try_get("assigned")?),
        ))
    })
    .transpose()
}

/// Whether the person holds a seat of any subscription of the team that covers one of
/// `licensed` (a person who has the product takes no second seat).
async fn has_product(
    tx: &mut Tx<'_>,
    team_id: &str,
    user_id: &str,
    licensed: &[String],
) -> Result<bool, StoreError> {
    let rows = sqlx::query(
        "SELECT s.licensed FROM seat_assignments a JOIN named_subscriptions s ON s.id = a.subscription_id \
         WHERE s.team_id = $1 AND a.user_id = $2",
    )
    .bind(team_id)
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows {
        let held = json_list(&row.try_get::<String, _>("licensed")?, "licensed")?;
        if held.iter().any(|p| licensed.contains(p)) {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn insert_assignment(
    tx: &mut Tx<'_>,
    subscription_id: &str,
    user_id: &str,
    by: &str,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO seat_assignments (subscription_id, user_id, assigned_by, assigned_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (subscription_id, user_id) DO NOTHING",
    )
    .bind(subscription_id)
    .bind(user_id)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Invites within a transaction (see [`Store::invite`]).
async fn invite_in(
    tx: &mut Tx<'_>,
    new: &NewInvitation<'_>,
    resend: bool,
    now: Millis,
) -> Result<Invited, TeamError> {
    let key = email_key(new.email);
    let existing =
        sqlx::query("SELECT id, organization_id, confirmed_at FROM users WHERE email_key = $1")
            .bind(&key)
            .fetch_optional(&mut **tx)
            .await?;
    let (user_id, new_user, confirmed) = match existing {
        Some(row) => {
            let org: String = row.try_get("organization_id")?;
            if org != new.organization_id {
                return Err(TeamError::OtherOrganization(new.email.trim().to_owned()));
            }
            (
                row.try_get::<String, _>("id")?,
                false,
                row.try_get::<Option<i64>, _>("confirmed_at")?.is_some(),
            )
        }
        None => {
            let id = new_id();
            // '!' is no password hash: nobody can sign in until the invitation is accepted.
            sqlx::query(
                "INSERT INTO users (id, email, email_key, password_hash, role, organization_id, confirmed_at, created_at) \
                 VALUES ($1, $2, $3, '!', 'customer', $4, NULL, $5)",
            )
            .bind(&id)
            .bind(new.email.trim())
            .bind(&key)
            .bind(new.organization_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            (id, true, false)
        }
    };
    let joined = sqlx::query(
        "INSERT INTO team_members (team_id, user_id, role, first_name, last_name, added_at) \
         VALUES ($1, $2, 'user', $3, $4, $5) ON CONFLICT (team_id, user_id) DO NOTHING",
    )
    .bind(new.team_id)
    .bind(&user_id)
    .bind(new.first_name.trim())
    .bind(new.last_name.trim())
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    let named = !new.first_name.trim().is_empty() || !new.last_name.trim().is_empty();
    if !joined && named {
        sqlx::query(
            "UPDATE team_members SET first_name = $1, last_name = $2 WHERE team_id = $3 AND user_id = $4",
        )
        .bind(new.first_name.trim())
        .bind(new.last_name.trim())
        .bind(new.team_id)
        .bind(&user_id)
        .execute(&mut **tx)
        .await?;
    }
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM invitations WHERE user_id = $1 AND team_id = $2 \
         AND accepted_at IS NULL AND expires_at > $3",
    )
    .bind(&user_id)
    .bind(new.team_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    // A new link when asked to send again, or when there is no live one.
    let invitation = !confirmed && (resend || live == 0);
    if invitation {
        // Sending again replaces the earlier link.
        sqlx::query(
            "DELETE FROM invitations WHERE user_id = $1 AND team_id = $2 AND accepted_at IS NULL",
        )
        .bind(&user_id)
        .bind(new.team_id)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO invitations (token_hash, team_id, user_id, invited_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new.token_hash)
        .bind(new.team_id)
        .bind(&user_id)
        .bind(new.invited_by)
        .bind(now)
        .bind(new.expires_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(Invited {
        user_id,
        new_user,
        joined,
        invitation,
    })
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

    /// Invites a person to the team by e-mail (see [`NewInvitation`]).
    pub async fn invite(&self, new: &NewInvitation<'_>, now: Millis) -> Result<Invited, TeamError> {
        let mut tx = self.portal_write_tx().await?;
        let invited = invite_in(&mut tx, new, true, now).await?;
        tx.commit().await?;
        Ok(invited)
    }

    pub async fn invitation(
        &self,
        token_hash: &str,
    ) -> Result<Option<InvitationRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, team_id, user_id, invited_by, created_at, expires_at, accepted_at \
             FROM invitations WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.db)
        .await?;
        row.map(|row| -> Result<_, StoreError> {
            Ok(InvitationRecord {
                token_hash: row.try_get("token_hash")?,
                team_id: row.try_get("team_id")?,
                user_id: row.try_get("user_id")?,
                invited_by: row.try_get("invited_by")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                accepted_at: row.try_get("accepted_at")?,
            })
        })
        .transpose()
    }

    /// Accepts a live invitation: the person's password is set and their account
    /// confirmed. `false` when the link is unknown, used or expired.
    pub async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: Millis,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        let user_id: Option<String> = sqlx::query_scalar(
            "UPDATE invitations SET accepted_at = $1 WHERE token_hash = $2 AND accepted_at IS NULL \
             AND expires_at > $3 RETURNING user_id",
        )
        .bind(now)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user_id) = user_id else {
            tx.rollback().await?;
            return Ok(None);
        };
        sqlx::query(
            "UPDATE users SET password_hash = $1, confirmed_at = $2 WHERE id = $3 AND confirmed_at IS NULL",
        )
        .bind(password_hash)
        .bind(now)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(user_id))
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

    /// Makes a member a secondary admin or a user (never the primary admin: see
    /// [`promote_primary_admin`](Self::promote_primary_admin)).
    pub async fn set_member_role(
        &self,
        team_id: &str,
        user_id: &str,
        role: MemberRole,
    ) -> Result<(), TeamError> {
        if role == MemberRole::PrimaryAdmin {
            return Err(TeamError::NotSecondaryAdmin);
        }
        let mut tx = self.portal_write_tx().await?;
        match member_role_in(&mut tx, team_id, user_id).await? {
            None => return Err(TeamError::NotMember(user_id.to_owned())),
            Some(MemberRole::PrimaryAdmin) => return Err(TeamError::PrimaryAdminStays),
            Some(_) => {}
        }
        sqlx::query("UPDATE team_members SET role = $1 WHERE team_id = $2 AND user_id = $3")
            .bind(role.as_str())
            .bind(team_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes a secondary admin the primary admin; the old primary admin becomes a
    /// secondary admin. The owner (contract manager) does not change.
    pub async fn promote_primary_admin(
        &self,
        team_id: &str,
        user_id: &str,
        by: &str,
        now: Millis,
    ) -> Result<(), TeamError> {
        let mut tx = self.portal_write_tx().await?;
        if member_role_in(&mut tx, team_id, user_id).await? != Some(MemberRole::SecondaryAdmin) {
            return Err(TeamError::NotSecondaryAdmin);
        }
        let old: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM team_members WHERE team_id = $1 AND role = 'primary_admin'",
        )
        .bind(team_id)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("UPDATE team_members SET role = 'secondary_admin' WHERE team_id = $1 AND role = 'primary_admin'")
            .bind(team_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE team_members SET role = 'primary_admin' WHERE team_id = $1 AND user_id = $2",
        )
        .bind(team_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        record_change(
            &mut tx,
            team_id,
            "primary_admin",
            old.as_deref(),
            Some(user_id),
            by,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Hands the team's ownership (contract manager) to one of its members; recorded.
    pub async fn change_contract_manager(
        &self,
        team_id: &str,
        user_id: &str,
        by: &str,
        now: Millis,
    ) -> Result<(), TeamError> {
        let mut tx = self.portal_write_tx().await?;
        if member_role_in(&mut tx, team_id, user_id).await?.is_none() {
            return Err(TeamError::NotMember(user_id.to_owned()));
        }
        let old: Option<String> =
            sqlx::query_scalar("SELECT owner_user_id FROM teams WHERE id = $1")
                .bind(team_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(old) = old else {
            return Err(TeamError::NotFound);
        };
        if old == user_id {
            tx.rollback().await?;
            return Ok(());
        }
        sqlx::query("UPDATE teams SET owner_user_id = $1 WHERE id = $2")
            .bind(user_id)
            .bind(team_id)
            .execute(&mut *tx)
            .await?;
        record_change(
            &mut tx,
            team_id,
            "contract_manager",
            Some(&old),
            Some(user_id),
            by,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appoints a member software coordinator (`None`: back to the contract manager).
    pub async fn set_software_coordinator(
        &self,
        team_id: &str,
        user_id: Option<&str>,
        by: &str,
        now: Millis,
    ) -> Result<(), TeamError> {
        let mut tx = self.portal_write_tx().await?;
        if let Some(u) = user_id
            && member_role_in(&mut tx, team_id, u).await?.is_none()
        {
            return Err(TeamError::NotMember(u.to_owned()));
        }
        let old: Option<Option<String>> =
            sqlx::query_scalar("SELECT software_coordinator_id FROM teams WHERE id = $1")
                .bind(team_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(old) = old else {
            return Err(TeamError::NotFound);
        };
        sqlx::query("UPDATE teams SET software_coordinator_id = $1 WHERE id = $2")
            .bind(user_id)
            .bind(team_id)
            .execute(&mut *tx)
            .await?;
        record_change(
            &mut tx,
            team_id,
            "software_coordinator",
            old.as_deref(),
            user_id,
            by,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The team's recorded role changes, newest first.
    pub async fn role_changes(&self, team_id: &str) -> Result<Vec<RoleChangeRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT what, from_user_id, to_user_id, changed_by, changed_at FROM team_role_changes \
             WHERE team_id = $1 ORDER BY changed_at DESC, id",
        )
        .bind(team_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RoleChangeRecord {
                    what: row.try_get("what")?,
                    from_user_id: row.try_get("from_user_id")?,
                    to_user_id: row.try_get("to_user_id")?,
                    changed_by: row.try_get("changed_by")?,
                    changed_at: row.try_get("changed_at")?,
                })
            })
            .collect()
    }

    /// Makes a named-user subscription and assigns its buyer (the contract manager) a
    /// seat. Made once per order: again for the same order answers the one made.
    pub async fn create_named_subscription(
        &self,
        new: &NewNamedSubscription<'_>,
        now: Millis,
    ) -> Result<NamedSubscriptionRecord, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        let existing: Option<String> = match new.order_id {
            Some(order) => {
                sqlx::query_scalar("SELECT id FROM named_subscriptions WHERE order_id = $1")
                    .bind(order)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let id = match existing {
            Some(id) => id,
            None => {
                let id = new_id();
                sqlx::query(
                    "INSERT INTO named_subscriptions (id, organization_id, team_id, order_id, product_id, \
                     product_name, licensed, seats, start_date, end_date, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&id)
                .bind(new.organization_id)
                .bind(new.team_id)
                .bind(new.order_id)
                .bind(new.product_id)
                .bind(new.product_name)
                .bind(to_json(new.licensed))
                .bind(i64::from(new.seats))
                .bind(new.start_date)
                .bind(new.end_date)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // The contract manager holds a seat from the start, unless they already
                // hold one of the product in this team (a second order for the team).
                if new.seats > 0
                    && !has_product(&mut tx, new.team_id, new.buyer_user_id, new.licensed).await?
                {
                    insert_assignment(&mut tx, &id, new.buyer_user_id, new.buyer_user_id, now)
                        .await?;
                }
                id
            }
        };
        tx.commit().await?;
        self.named_subscription(&id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("subscription {id} vanished")))
    }

    pub async fn named_subscription(
        &self,
        id: &str,
    ) -> Result<Option<NamedSubscriptionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM named_subscriptions s WHERE s.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(sub_from_row).transpose()
    }

    /// Carries a named-user subscription into its renewal's term: the renewal order
    /// becomes its order and its period ends on `end_date`; its team and seats stay.
    pub async fn renew_named_subscription(
        &self,
        id: &str,
        renewal_order_id: &str,
        end_date: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE named_subscriptions SET order_id = $1, end_date = $2 WHERE id = $3")
            .bind(renewal_order_id)
            .bind(end_date)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The subscription a Paid order made.
    pub async fn named_subscription_of_order(
        &self,
        order_id: &str,
    ) -> Result<Option<NamedSubscriptionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM named_subscriptions s WHERE s.order_id = $1"
        ))
        .bind(order_id)
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(sub_from_row).transpose()
    }

    pub async fn team_subscriptions(
        &self,
        team_id: &str,
    ) -> Result<Vec<NamedSubscriptionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM named_subscriptions s WHERE s.team_id = $1 \
             ORDER BY s.product_name, s.created_at"
        ))
        .bind(team_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(sub_from_row).collect()
    }

    /// Who holds the subscription's seats, by e-mail.
    pub async fn assignees(
        &self,
        subscription_id: &str,
    ) -> Result<Vec<AssigneeRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.user_id, u.email, COALESCE(m.first_name, '') AS first_name, \
             COALESCE(m.last_name, '') AS last_name, a.assigned_at \
             FROM seat_assignments a JOIN users u ON u.id = a.user_id \
             JOIN named_subscriptions s ON s.id = a.subscription_id \
             LEFT JOIN team_members m ON m.team_id = s.team_id AND m.user_id = a.user_id \
             WHERE a.subscription_id = $1 ORDER BY u.email_key",
        )
        .bind(subscription_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AssigneeRecord {
                    user_id: row.try_get("user_id")?,
                    email: row.try_get("email")?,
                    first_name: row.try_get("first_name")?,
                    last_name: row.try_get("last_name")?,
                    assigned_at: row.try_get("assigned_at")?,
                })
            })
            .collect()
    }

    /// Assigns seats of one subscription to members of its team, all or none: refused
    /// whole when they would exceed its seats. People who already hold the product take
    /// no second seat. Answers, per person, whether a seat was newly assigned.
    pub async fn assign_seats(
        &self,
        subscription_id: &str,
        user_ids: &[&str],
        by: &str,
        now: Millis,
    ) -> Result<Vec<bool>, TeamError> {
        let mut tx = self.portal_write_tx().await?;
        let (team_id, product, seats, assigned) =
            lock_subscription(self.backend, &mut tx, subscription_id)
                .await?
                .ok_or(TeamError::NotFound)?;
        if let Some((product, seats, assigned)) = over_assignment_in(&mut tx, &team_id).await? {
            return Err(TeamError::OverAssigned {
                product,
                seats,
                assigned,
            });
        }
        let licensed: String =
            sqlx::query_scalar("SELECT licensed FROM named_subscriptions WHERE id = $1")
                .bind(subscription_id)
                .fetch_one(&mut *tx)
                .await?;
        let licensed = json_list(&licensed, "licensed")?;
        let mut out = Vec::new();
        let mut wanted = 0u32;
        let mut seen: Vec<&str> = Vec::new();
        for user in user_ids {
            if member_role_in(&mut tx, &team_id, user).await?.is_none() {
                return Err(TeamError::NotMember((*user).to_owned()));
            }
            let new =
                !seen.contains(user) && !has_product(&mut tx, &team_id, user, &licensed).await?;
            seen.push(user);
            if new {
                wanted += 1;
            }
            out.push(new);
        }
        if assigned + wanted > seats {
            return Err(TeamError::NotEnoughSeats {
                product,
                seats,
                assigned,
                wanted,
            });
        }
        for (user, new) in user_ids.iter().zip(&out) {
            if *new {
                insert_assignment(&mut tx, subscription_id, user, by, now).await?;
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Frees a person's seat of a subscription; `false` when they had none.
    pub async fn unassign_seat(
        &self,
        subscription_id: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM seat_assignments WHERE subscription_id = $1 AND user_id = $2")
                .bind(subscription_id)
                .bind(user_id)
                .execute(&self.db)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Applies a batch of assignments (a CSV import) in one transaction, all or
    /// nothing: people new to the team are invited, each person gets a seat of the
    /// row's subscription unless they already have its product. When any row fails
    /// (another organization's person, an unknown subscription, seats exceeded), nothing
    /// is applied and every row says what it would have done or why it failed; so too
    /// with `check_only`. Answers whether it was applied, with the per-row outcomes.
    pub async fn apply_assignment_batch(
        &self,
        batch: &AssignmentBatch<'_>,
        now: Millis,
    ) -> Result<(bool, Vec<RowOutcome>), StoreError> {
        let AssignmentBatch {
            organization_id,
            team_id,
            rows,
            by,
            invitation_expires_at,
            check_only,
        } = *batch;
        let mut tx = self.portal_write_tx().await?;
        // Lock every subscription named first, in a fixed order, so concurrent batches
        // cannot deadlock or both pass the count.
        let mut subs: Vec<&str> = rows.iter().map(|r| r.subscription_id.as_str()).collect();
        subs.sort_unstable();
        subs.dedup();
        let mut seats: std::collections::HashMap<String, (u32, u32, String, Vec<String>)> =
            std::collections::HashMap::new();
        for sub in subs {
            if let Some((team, product, n, assigned)) =
                lock_subscription(self.backend, &mut tx, sub).await?
                && team == team_id
            {
                let licensed: String =
                    sqlx::query_scalar("SELECT licensed FROM named_subscriptions WHERE id = $1")
                        .bind(sub)
                        .fetch_one(&mut *tx)
                        .await?;
                seats.insert(
                    sub.to_owned(),
                    (n, assigned, product, json_list(&licensed, "licensed")?),
                );
            }
        }
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut failed = false;
        // An over-assigned team takes no new assignment until an admin chooses who loses
        // access.
        if let Some((product, n, assigned)) = over_assignment_in(&mut tx, team_id).await? {
            tx.rollback().await?;
            let why = TeamError::OverAssigned {
                product,
                seats: n,
                assigned,
            }
            .to_string();
            return Ok((
                false,
                rows.iter()
                    .map(|_| RowOutcome::Failed(why.clone()))
                    .collect(),
            ));
        }
        for row in rows {
            let Some((n, assigned, product, licensed)) = seats.get_mut(&row.subscription_id) else {
                failed = true;
                outcomes.push(RowOutcome::Failed(
                    "this team has no such subscription".into(),
                ));
                continue;
            };
            let invited = match invite_in(
                &mut tx,
                &NewInvitation {
                    organization_id,
                    team_id,
                    email: &row.email,
                    first_name: &row.first_name,
                    last_name: &row.last_name,
                    invited_by: by,
                    token_hash: &row.token_hash,
                    expires_at: invitation_expires_at,
                },
                false,
                now,
            )
            .await
            {
                Ok(i) => i,
                Err(TeamError::Store(e)) => return Err(e),
                Err(e) => {
                    failed = true;
                    outcomes.push(RowOutcome::Failed(e.to_string()));
                    continue;
                }
            };
            let user = invited.user_id.clone();
            if has_product(&mut tx, team_id, &user, licensed).await? {
                outcomes.push(RowOutcome::AlreadyAssigned { user_id: user });
                continue;
            }
            if *assigned >= *n {
                failed = true;
                outcomes.push(RowOutcome::Failed(format!(
                    "all {n} seats of {product} would be assigned: this row would exceed them"
                )));
                continue;
            }
            *assigned += 1;
            insert_assignment(&mut tx, &row.subscription_id, &user, by, now).await?;
            outcomes.push(RowOutcome::Assigned {
                user_id: user,
                invited: invited.invitation,
            });
        }
        if failed || check_only {
            tx.rollback().await?;
            return Ok((false, outcomes));
        }
        tx.commit().await?;
        Ok((true, outcomes))
    }

    /// A person's seats in one team.
    pub async fn seats_in_team(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<Vec<NamedSubscriptionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM named_subscriptions s JOIN seat_assignments x \
             ON x.subscription_id = s.id WHERE s.team_id = $1 AND x.user_id = $2"
        ))
        .bind(team_id)
        .bind(user_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(sub_from_row).collect()
    }

    /// Every seat a person holds, in any team.
    pub async fn seats_of_user(&self, user_id: &str) -> Result<Vec<SeatRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.team_id, s.product_id, s.product_name, s.licensed, s.start_date, \
             s.end_date, a.assigned_at FROM seat_assignments a \
             JOIN named_subscriptions s ON s.id = a.subscription_id WHERE a.user_id = $1 \
             ORDER BY s.product_name",
        )
        .bind(user_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SeatRecord {
                    subscription_id: row.try_get("id")?,
                    team_id: row.try_get("team_id")?,
                    product_id: row.try_get("product_id")?,
                    product_name: row.try_get("product_name")?,
                    licensed: json_list(&row.try_get::<String, _>("licensed")?, "licensed")?,
                    start_date: row.try_get("start_date")?,
                    end_date: row.try_get("end_date")?,
                    assigned_at: row.try_get("assigned_at")?,
                })
            })
            .collect()
    }

    /// Signs a person in on `device`: an open sign-in on another device ends
    /// (`superseded`); one on the same device is kept. Answers the open session.
    pub async fn start_named_session(
        &self,
        user_id: &str,
        device: &str,
        now: Millis,
    ) -> Result<NamedSessionRecord, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        // Serialises sign-ins of one person on PostgreSQL (SQLite's write lock does it).
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        }
        let same = sqlx::query(
            "SELECT id, user_id, device, created_at, ended_at, end_reason FROM named_sessions \
             WHERE user_id = $1 AND device = $2 AND ended_at IS NULL",
        )
        .bind(user_id)
        .bind(device)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE named_sessions SET ended_at = $1, end_reason = 'superseded' \
             WHERE user_id = $2 AND device <> $3 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(device)
        .execute(&mut *tx)
        .await?;
        let session = match same {
            Some(row) => session_from_row(&row)?,
            None => {
                let s = NamedSessionRecord {
                    id: new_id(),
                    user_id: user_id.to_owned(),
                    device: device.to_owned(),
                    created_at: now,
                    ended_at: None,
                    end_reason: None,
                };
                sqlx::query(
                    "INSERT INTO named_sessions (id, user_id, device, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&s.id)
                .bind(user_id)
                .bind(device)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                s
            }
        };
        tx.commit().await?;
        Ok(session)
    }

    pub async fn named_session(&self, id: &str) -> Result<Option<NamedSessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, device, created_at, ended_at, end_reason FROM named_sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// A person's open sign-ins (at most one).
    pub async fn open_named_sessions(
        &self,
        user_id: &str,
    ) -> Result<Vec<NamedSessionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, device, created_at, ended_at, end_reason FROM named_sessions \
             WHERE user_id = $1 AND ended_at IS NULL ORDER BY created_at",
        )
        .bind(user_id)
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(session_from_row).collect()
    }

    /// Ends one sign-in (`tessera logout` on its device).
    pub async fn end_named_session(&self, id: &str, now: Millis) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE named_sessions SET ended_at = $1, end_reason = 'signed_out' \
             WHERE id = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&self.db)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// "Sign out of all devices": ends every open sign-in of the person.
    pub async fn sign_out_all_devices(
        &self,
        user_id: &str,
        now: Millis,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE named_sessions SET ended_at = $1, end_reason = 'signed_out' \
             WHERE user_id = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&self.db)
        .await?;
        Ok(done.rows_affected())
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
