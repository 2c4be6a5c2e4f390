//! The audit log of both servers: when, who, from which address, what and on what.
//! Append-only: this module only inserts ([`Store::record_audit`]) and reads
//! ([`Store::audit_entries`]); the table refuses updates, and rows go only with the
//! usage record's retention (`Store::prune_usage`). Each entry belongs to a realm: a LAN
//! server's own (`lan`), or a portal organization's slug (its web license server's
//! realm), so that a reader is only ever shown the entries of their own realm.

use sqlx::Row;
use tessera_core::Millis;

use crate::{Store, StoreError};

/// What was done: the stable code kept in the log and used by the filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    SeatRemoved,
    PolicyChanged,
    ActivationImported,
    AdminTokenRotated,
    BorrowReturnedEarly,
    SiteKeyMade,
    SiteKeyRevoked,
    OrderMarkedPaid,
    StartDateEdited,
    RoleChanged,
    SeatAssigned,
    SeatUnassigned,
    SeatsImported,
    PersonRemoved,
    SubscriptionMoved,
    AutoRenewChanged,
}

impl AuditAction {
    /// Every action, in the order the filters list them.
    pub const ALL: [AuditAction; 16] = [
        AuditAction::SeatRemoved,
        AuditAction::PolicyChanged,
        AuditAction::ActivationImported,
        AuditAction::AdminTokenRotated,
        AuditAction::BorrowReturnedEarly,
        AuditAction::SiteKeyMade,
        AuditAction::SiteKeyRevoked,
        AuditAction::OrderMarkedPaid,
        AuditAction::StartDateEdited,
        AuditAction::RoleChanged,
        AuditAction::SeatAssigned,
        AuditAction::SeatUnassigned,
        AuditAction::SeatsImported,
        AuditAction::PersonRemoved,
        AuditAction::SubscriptionMoved,
        AuditAction::AutoRenewChanged,
    ];

    /// The actions a LAN server records (its page's filter lists only these).
    pub const LAN: [AuditAction; 7] = [
        AuditAction::SeatRemoved,
        AuditAction::PolicyChanged,
        AuditAction::ActivationImported,
        AuditAction::AdminTokenRotated,
        AuditAction::BorrowReturnedEarly,
        AuditAction::SiteKeyMade,
        AuditAction::SiteKeyRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SeatRemoved => "seat_removed",
            AuditAction::PolicyChanged => "policy_changed",
            AuditAction::ActivationImported => "activation_imported",
            AuditAction::AdminTokenRotated => "admin_token_rotated",
            AuditAction::BorrowReturnedEarly => "borrow_returned_early",
            AuditAction::SiteKeyMade => "site_key_made",
            AuditAction::SiteKeyRevoked => "site_key_revoked",
            AuditAction::OrderMarkedPaid => "order_marked_paid",
            AuditAction::StartDateEdited => "start_date_edited",
            AuditAction::RoleChanged => "role_changed",
            AuditAction::SeatAssigned => "seat_assigned",
            AuditAction::SeatUnassigned => "seat_unassigned",
            AuditAction::SeatsImported => "seats_imported",
            AuditAction::PersonRemoved => "person_removed",
            AuditAction::SubscriptionMoved => "subscription_moved",
            AuditAction::AutoRenewChanged => "auto_renew_changed",
        }
    }

    /// The words a page shows for it.
    pub fn label(self) -> &'static str {
        match self {
            AuditAction::SeatRemoved => "Seat removed",
            AuditAction::PolicyChanged => "Policy changed",
            AuditAction::ActivationImported => "Activation imported",
            AuditAction::AdminTokenRotated => "Admin token rotated",
            AuditAction::BorrowReturnedEarly => "Borrow returned early",
            AuditAction::SiteKeyMade => "Site key made",
            AuditAction::SiteKeyRevoked => "Site key revoked",
            AuditAction::OrderMarkedPaid => "Order marked Paid",
            AuditAction::StartDateEdited => "Start date edited",
            AuditAction::RoleChanged => "Role changed",
            AuditAction::SeatAssigned => "Seat assigned",
            AuditAction::SeatUnassigned => "Seat unassigned",
            AuditAction::SeatsImported => "Seats imported",
            AuditAction::PersonRemoved => "Person removed",
            AuditAction::SubscriptionMoved => "Subscription moved",
            AuditAction::AutoRenewChanged => "Auto-renew changed",
        }
    }

    /// The action of a stable code; `None` for anything else.
    pub fn parse(code: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == code)
    }
}

/// An entry to append.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    pub at: Millis,
    /// The LAN server's realm, or the organization's slug.
    pub realm: &'a str,
    /// Who: `admin token`, a person's e-mail, a command line.
    pub actor: &'a str,
    /// The client's address as the server saw it (after trusted proxies); empty when
    /// there was none (a command run on the server itself).
    pub address: &'a str,
    pub action: AuditAction,
    /// On what: a seat, an order number, a person, a site key.
    pub target: &'a str,
    /// More: the policy's diff, the old and new role, the import's counts.
    pub detail: &'a str,
}

/// An entry as kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Millis,
    pub realm: String,
    pub actor: String,
    pub address: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// Which entries to read. A reader of one realm always sets `realm`; only the
/// vendor's back office reads every realm (`None`).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub realm: Option<String>,
    pub action: Option<AuditAction>,
    /// A part of the actor, case-insensitive.
    pub actor: Option<String>,
    /// A part of the target, case-insensitive.
    pub target: Option<String>,
    /// From this time on (inclusive).
    pub since: Option<Millis>,
    /// Before this time (exclusive).
    pub until: Option<Millis>,
    /// Only entries older than this id (the next page).
    pub before_id: Option<i64>,
    /// At most this many (newest first); 0 means [`AuditFilter::MAX_LIMIT`].
    pub limit: u32,
}

impl AuditFilter {
    /// The most entries one read returns.
    pub const MAX_LIMIT: u32 = 10_000;
}

/// `text` as a `LIKE` pattern matching any text that contains it (`\` escapes).
fn contains_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn entry(r: &sqlx::any::AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        realm: r.try_get("realm")?,
        actor: r.try_get("actor")?,
        address: r.try_get("address")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        detail: r.try_get("detail")?,
    })
}

impl Store {
    /// Appends an entry (after the change it records has succeeded).
    pub async fn record_audit(&self, e: &NewAuditEntry<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, realm, actor, address, action, target, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(e.at)
        .bind(e.realm)
        .bind(e.actor)
        .bind(e.address)
        .bind(e.action.as_str())
        .bind(e.target)
        .bind(e.detail)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The entries that pass `filter`, newest first.
    pub async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        // Parameters are numbered in the order they are pushed, so ascending (SQLite).
        let mut sql = String::from(
            "SELECT id, at, realm, actor, address, action, target, detail FROM audit_log WHERE 1 = 1",
        );
        let mut texts: Vec<String> = Vec::new();
        let mut numbers: Vec<(usize, i64)> = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if let Some(realm) = &filter.realm {
            sql.push_str(&format!(" AND realm = ${}", next()));
            texts.push(realm.clone());
        }
        if let Some(action) = filter.action {
            sql.push_str(&format!(" AND action = ${}", next()));
            texts.push(action.as_str().to_owned());
        }
        if let Some(actor) = filter.actor.as_deref().filter(|a| !a.is_empty()) {
            sql.push_str(&format!(" AND LOWER(actor) LIKE ${} ESCAPE '\\'", next()));
            texts.push(contains_pattern(actor));
        }
        if let Some(target) = filter.target.as_deref().filter(|t| !t.is_empty()) {
            sql.push_str(&format!(" AND LOWER(target) LIKE ${} ESCAPE '\\'", next()));
            texts.push(contains_pattern(target));
        }
        let texts_len = texts.len();
        if let Some(since) = filter.since {
            let i = next();
            sql.push_str(&format!(" AND at >= ${i}"));
            numbers.push((i, since));
        }
        if let Some(until) = filter.until {
            let i = next();
            sql.push_str(&format!(" AND at < ${i}"));
            numbers.push((i, until));
        }
        if let Some(before) = filter.before_id {
            let i = next();
            sql.push_str(&format!(" AND id < ${i}"));
            numbers.push((i, before));
        }
        let limit = match filter.limit {
            0 => AuditFilter::MAX_LIMIT,
            l => l.min(AuditFilter::MAX_LIMIT),
        };
        sql.push_str(&format!(" ORDER BY at DESC, id DESC LIMIT {limit}"));
        debug_assert!(numbers.iter().all(|(i, _)| *i > texts_len));
        let mut query = sqlx::query(&sql);
        for t in &texts {
            query = query.bind(t.as_str());
        }
        for (_, v) in &numbers {
            query = query.bind(*v);
        }
        let rows = query.fetch_all(&self.db).await?;
        rows.iter().map(entry).collect()
    }

    /// Forgets audit entries older than `before` (the usage record's retention).
    pub(crate) async fn prune_audit(&self, before: Millis) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(before)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }
}

/// A line-based diff of two texts (a policy before and after): unchanged lines are
/// left out, removed ones start with `- `, added ones with `+ `.
pub fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut out = String::new();
    // The longest common subsequence, when the table stays small; else all of both.
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        for l in &a {
            out.push_str(&format!("- {l}\n"));
        }
        for l in &b {
            out.push_str(&format!("+ {l}\n"));
        }
        return out;
    }
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if a[i] == b[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_shows_only_what_changed() {
        let old = "[[rule]]\nproduct = \"cad\"\nmax = 2\n";
        let new = "[[rule]]\nproduct = \"cad\"\nmax = 3\nusers = [\"ann\"]\n";
        assert_eq!(
            line_diff(old, new),
            "- max = 2\n+ max = 3\n+ users = [\"ann\"]\n"
        );
        assert_eq!(line_diff("", "a\n"), "+ a\n");
        assert_eq!(line_diff("a\n", "a\n"), "");
    }

    #[test]
    fn codes_round_trip_and_wildcards_are_escaped() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(AuditAction::parse("drop table"), None);
        assert_eq!(contains_pattern("A%_\\"), "%a\\%\\_\\\\%");
    }

    #[tokio::test]
    async fn the_table_refuses_an_update_on_both_backends() {
        let dir = tempfile::tempdir().unwrap();
        let mut stores = vec![Store::open_sqlite(&dir.path().join("a.db")).await.unwrap()];
        let pg = crate::testing::TestDatabase::create().await;
        if let Some(db) = &pg {
            stores.push(Store::open_url(&db.url).await.unwrap());
        }
        for store in stores {
            let e = NewAuditEntry {
                at: 1,
                realm: "lan",
                actor: "admin token",
                address: "",
                action: AuditAction::SeatRemoved,
                target: "l1",
                detail: "",
            };
            store.record_audit(&e).await.unwrap();
            let update = sqlx::query("UPDATE audit_log SET actor = 'someone else'")
                .execute(&store.writer)
                .await;
            assert!(
                update.is_err(),
                "{:?}: an entry was changed",
                store.backend()
            );
            let kept = store.audit_entries(&AuditFilter::default()).await.unwrap();
            assert_eq!(kept[0].actor, "admin token");
            store.close().await;
        }
    }
}
