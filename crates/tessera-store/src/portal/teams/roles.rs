//! A member's role in a team (primary admin, secondary admins, users), the team's
//! contract manager and software coordinator, and the record of every change of them.

use sqlx::Row;
use tessera_core::Millis;

use super::{TeamError, new_id};
use crate::portal::Tx;
use crate::{Store, StoreError};

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

/// One change of a team's roles, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChangeRecord {
    pub what: String,
    pub from_user_id: Option<String>,
    pub to_user_id: Option<String>,
    pub changed_by: String,
    pub changed_at: Millis,
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

pub(super) async fn member_role_in(
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

impl Store {
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
}
