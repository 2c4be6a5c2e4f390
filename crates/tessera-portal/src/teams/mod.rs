//! Teams and named-user seats as the customer's people use them: who may do what
//! (contract manager, primary admin, secondary admins, software coordinator, users),
//! invitations by e-mail, assigning and unassigning seats by hand or by a CSV import
//! (all rows or none, with a report per row), removing people, the named-user
//! subscription a Paid order makes, and the e-mails that go with each.
//!
//! By concept: `roles` (who may do what, and a team error as the page shows it),
//! `invitations` (inviting people and removing them), `assignments` (a seat by hand),
//! `imports` (the CSV import and its report) and `subscriptions` (what a Paid
//! named-user order makes, renewals, moves and resellers' seats). This module keeps
//! what they share.

mod assignments;
mod imports;
mod invitations;
mod roles;
mod subscriptions;

pub use assignments::{assign_one, unassign};
pub use imports::{
    CSV_HEADER, ImportReport, ImportRow, MAX_IMPORT_ROWS, RowReport, assign_rows, parse_csv,
    read_import,
};
pub use invitations::{INVITATION_TTL_MS, invite, remove_member, send_invitation};
pub use roles::{
    Act, Standing, may_see_billing, may_see_teams, require, require_billing, team_error, team_for,
};
pub use subscriptions::{
    is_named_order, is_named_product, is_token_order, is_token_product, move_subscription,
    notify_owner_of_reseller_seats, paid_named_text, seats_team, subscribe_named, team_of_order,
};

use crate::error::PortalResult;
use crate::mail::OutgoingMail;
use crate::state::PortalState;

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Sends one plain message to one person.
async fn mail_one(
    state: &PortalState,
    to: &str,
    subject: String,
    text: String,
) -> PortalResult<()> {
    state
        .mailer
        .send(OutgoingMail {
            to: vec![to.to_owned()],
            subject,
            text,
            attachments: Vec::new(),
        })
        .await?;
    Ok(())
}
