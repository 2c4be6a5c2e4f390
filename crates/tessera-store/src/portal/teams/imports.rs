//! A batch of seat assignments for one team (a CSV import): every row checked, then
//! applied whole or not at all, people new to the team invited.

use tessera_core::Millis;

use super::assignments::{has_product, insert_assignment, lock_subscription, over_assignment_in};
use super::invitations::invite_in;
use super::{NewInvitation, TeamError};
use crate::portal::json_list;
use crate::{Store, StoreError};

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

impl Store {
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
}
