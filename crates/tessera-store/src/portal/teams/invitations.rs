//! Invitations by e-mail: a person (made a user of the organization when new) joins a
//! team, gets a link to accept, and sets their password when they accept it.

use sqlx::Row;
use tessera_core::Millis;

use super::{TeamError, new_id};
use crate::portal::Tx;
use crate::portal::accounts::email_key;
use crate::{Store, StoreError};

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

/// Invites within a transaction (see [`Store::invite`]).
pub(super) async fn invite_in(
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
}
