//! The portal's tables: organizations and their users, browser sessions and one-time
//! tokens, sign-in failures, the catalog and carts, orders with their documents, and
//! teams with their named-user seats, programs' sign-ins through the browser, and support
//! requests.
//! Each aggregate has its own file; every query serves SQLite and PostgreSQL alike.

mod accounts;
mod browser_sign_ins;
mod carts;
mod catalog;
mod contracts;
mod lan_usage;
mod orders;
mod scheduler;
mod sessions;
mod support;
mod teams;
mod tokens;

pub use accounts::{CompanyInfo, NewAccount, OrganizationRecord, Role, UserRecord};
pub use browser_sign_ins::{BrowserSignInRecord, BrowserSignInState};
pub use carts::{CartItemRecord, NewCartItem};
pub use catalog::{CatalogProduct, LicenseOptionRecord, ProductRecord};
pub use contracts::{OrderChannel, SubscriptionMove};
pub use lan_usage::{LanReporter, LanUsageRecord};
pub use orders::{
    Announcement, DocumentKind, DocumentRecord, NewOrder, OrderRecord, OrderStatus, PaidOrder,
    RenewalSeats, ServerKind,
};
pub use sessions::{OneTimePurpose, SessionRow};
pub use support::{
    NewSupportAttachment, NewSupportMessage, NewSupportRequest, SupportAbout, SupportAttachment,
    SupportAttachmentInfo, SupportMessageRecord, SupportRequestRecord, SupportStatus,
};
pub use teams::{
    AssigneeRecord, AssignmentBatch, BatchRow, InvitationRecord, Invited, MemberRecord, MemberRole,
    NamedSessionRecord, NamedSubscriptionRecord, NewInvitation, NewNamedSubscription,
    RoleChangeRecord, RowOutcome, SeatRecord, TeamError, TeamRecord,
};
pub use tokens::{
    NewTokenPack, TOKEN_WINDOW_MS, TokenChargeRecord, TokenOutcome, TokenPackRecord, TokenUse,
};

use sqlx::{Any, Transaction};

use crate::{Backend, Store, StoreError};

pub(crate) type Tx<'a> = Transaction<'a, Any>;

fn json_list(text: &str, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn count(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

impl Store {
    /// A transaction that writes: on SQLite it takes the write lock at once, so that two
    /// of them never read the same counter and then both write.
    pub(crate) async fn portal_write_tx(&self) -> Result<Tx<'static>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }
}
