//! The audit log as the license servers write and show it: who made a change
//! ([`Actor`]: the admin token, a person of the portal, a command run on the server),
//! the entry written after the change succeeded ([`record`]), the filters of a query
//! string ([`AuditQuery`], the same on the admin API, the live page and the portal), the
//! CSV export, and the LAN server's `/audit` page and `/audit.csv`. A reader is always
//! held to one realm; only the portal's back office reads every organization's.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::text::csv_field;
use tessera_core::{Millis, from_millis, to_millis};
use tessera_store::{AuditAction, AuditEntry, AuditFilter, NewAuditEntry, Store};

use crate::SharedState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, MaybeAdmin};

/// Who made a change, in which realm, from which address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The LAN server's realm, or the organization's slug.
    pub realm: String,
    /// `admin token`, a person's e-mail, or a command line run on the server.
    pub name: String,
    /// The client's address as the server saw it (after trusted proxies); empty for a
    /// command run on the server itself.
    pub address: String,
}

impl Actor {
    pub fn new(realm: &str, name: &str, address: Option<String>) -> Actor {
        Actor {
            realm: realm.to_owned(),
            name: name.to_owned(),
            address: address.unwrap_or_default(),
        }
    }

    /// A command run on the server's own machine (`tessera server site-key add`).
    pub fn local(realm: &str, command: &str) -> Actor {
        Actor::new(realm, &format!("{command} (local)"), None)
    }
}

/// The actor name of the LAN server's admin token (the API's bearer or the live page).
pub const ADMIN_TOKEN: &str = "admin token";

/// Appends an entry for a change that has succeeded. A failure to write it is logged
/// (the change stands, and its answer is not turned into an error).
pub async fn record(
    store: &Store,
    by: &Actor,
    action: AuditAction,
    target: &str,
    detail: &str,
    now: Millis,
) {
    let entry = NewAuditEntry {
        at: now,
        realm: &by.realm,
        actor: &by.name,
        address: &by.address,
        action,
        target,
        detail,
    };
    if let Err(e) = store.record_audit(&entry).await {
        tracing::error!(error = %e, action = action.as_str(), realm = %by.realm, actor = %by.name, target, "the audit log could not be written");
    }
}

/// The filters of a query string, all as text so that a bad value gets a clear
/// message instead of a rejection: `action`, `actor` (a part), `target` (a part),
/// `from` and `to` (a date `YYYY-MM-DD`, `to` inclusive, or an RFC 3339 time), `before`
/// (an entry id, for the next page), `limit`, and in the back office `org`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub before: String,
    #[serde(default)]
    pub limit: String,
    #[serde(default)]
    pub org: String,
}

/// The entries a page shows at most (the CSV and the API take up to
/// [`AuditFilter::MAX_LIMIT`]).
pub const PAGE_LIMIT: u32 = 200;

fn time_of(name: &str, text: &str, end_of_day: bool) -> Result<Option<Millis>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end_of_day {
            day.succ_opt().unwrap_or(day)
        } else {
            day
        };
        let start = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        return Ok(Some(to_millis(start)));
    }
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => Ok(Some(to_millis(t.with_timezone(&Utc)))),
        Err(_) => Err(format!(
            "`{name}` must be a date (YYYY-MM-DD) or a time (RFC 3339, like 2026-01-31T08:00:00Z), not `{}`",
            text.chars().take(40).collect::<String>()
        )),
    }
}

impl AuditQuery {
    /// The store's filter for a reader of `realm` (`None`: the back office, which may
    /// narrow to one organization with `org`). `default_limit` applies without `limit`.
    pub fn filter(&self, realm: Option<&str>, default_limit: u32) -> Result<AuditFilter, String> {
        let action = match self.action.trim() {
            "" => None,
            code => Some(AuditAction::parse(code).ok_or_else(|| {
                format!(
                    "`action` is one of {}, not `{}`",
                    AuditAction::ALL.map(|a| a.as_str()).join(", "),
                    code.chars().take(40).collect::<String>()
                )
            })?),
        };
        let since = time_of("from", &self.from, false)?;
        let until = time_of("to", &self.to, true)?;
        if let (Some(s), Some(u)) = (since, until)
            && s > u
        {
            return Err("`from` must not be after `to`".into());
        }
        let before_id = match self.before.trim() {
            "" => None,
            b => Some(
                b.parse::<i64>()
                    .map_err(|_| "`before` is an entry's id (a number)".to_owned())?,
            ),
        };
        let limit = match self.limit.trim() {
            "" => default_limit,
            l => match l.parse::<u32>() {
                Ok(n) if (1..=AuditFilter::MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "`limit` is a number from 1 to {}",
                        AuditFilter::MAX_LIMIT
                    ));
                }
            },
        };
        let realm = match realm {
            Some(r) => Some(r.to_owned()),
            None => Some(self.org.trim().to_owned()).filter(|o| !o.is_empty()),
        };
        let part = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(AuditFilter {
            realm,
            action,
            actor: part(&self.actor),
            target: part(&self.target),
            since,
            until,
            before_id,
            limit,
        })
    }

    /// The same filters as a query string (for the CSV link and the next page).
    pub fn query_string(&self) -> String {
        let mut q = self.clone();
        q.before.clear();
        serde_urlencoded_pairs(&q)
    }
}

fn serde_urlencoded_pairs(q: &AuditQuery) -> String {
    let pairs = [
        ("action", &q.action),
        ("actor", &q.actor),
        ("target", &q.target),
        ("from", &q.from),
        ("to", &q.to),
        ("limit", &q.limit),
        ("org", &q.org),
    ];
    pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", percent(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An entry as the admin API answers it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntryView {
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: DateTime<Utc>,
    /// Who: `admin token`, a person's e-mail, or a command run on the server.
    pub actor: String,
    /// The client's address as the server saw it; empty for a command run on the server.
    pub address: String,
    /// A stable code: `seat_removed`, `policy_changed`, `activation_imported`, …
    pub action: String,
    /// On what.
    pub target: String,
    /// More, such as a policy's line diff.
    pub detail: String,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` for older entries; absent when there are none.
    pub next_before: Option<i64>,
}

pub fn view(e: AuditEntry) -> AuditEntryView {
    AuditEntryView {
        id: e.id,
        at: from_millis(e.at),
        actor: e.actor,
        address: e.address,
        action: e.action,
        target: e.target,
        detail: e.detail,
    }
}

/// The entries as CSV; `with_org` adds the organization (the back office's export).
pub fn csv(entries: &[AuditEntry], with_org: bool) -> String {
    let mut out = String::from(if with_org {
        "at,organization,actor,address,action,target,detail\n"
    } else {
        "at,actor,address,action,target,detail\n"
    });
    for e in entries {
        let at = from_millis(e.at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        out.push_str(&csv_field(&at));
        if with_org {
            out.push(',');
            out.push_str(&csv_field(&e.realm));
        }
        for f in [&e.actor, &e.address, &e.action, &e.target, &e.detail] {
            out.push(',');
            out.push_str(&csv_field(f));
        }
        out.push('\n');
    }
    out
}

/// The answer of a CSV export.
pub fn csv_response(entries: &[AuditEntry], with_org: bool, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        csv(entries, with_org),
    )
        .into_response()
}

/// The admin API's `GET /api/v1/admin/audit`: the realm's entries, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin",
    params(
        ("action" = Option<String>, Query, description = "Only this action (`seat_removed`, `policy_changed`, `activation_imported`, `admin_token_rotated`, `borrow_returned_early`, `site_key_made`, `site_key_revoked`, …)"),
        ("actor" = Option<String>, Query, description = "Only actors containing this (any case)"),
        ("target" = Option<String>, Query, description = "Only targets containing this (any case)"),
        ("from" = Option<String>, Query, description = "From this date (YYYY-MM-DD) or time (RFC 3339)"),
        ("to" = Option<String>, Query, description = "To this date (inclusive) or before this time"),
        ("before" = Option<i64>, Query, description = "Older than this entry id (`next_before` of the last page)"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 10000; 500 by default)"),
        ("format" = Option<String>, Query, description = "`json` (default) or `csv`")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The entries, newest first, as JSON or (`format=csv`) CSV", content(
            (AuditList = "application/json"),
            (String = "text/csv")
        )),
        (status = 400, description = "Bad query", body = tessera_core::protocol::ErrorBody),
        (status = 401, description = "No or a wrong admin token (`unauthorized`)", body = tessera_core::protocol::ErrorBody),
        (status = 403, description = "Not an admin of this organization (`forbidden`)", body = tessera_core::protocol::ErrorBody),
        (status = 404, description = "No such organization", body = tessera_core::protocol::ErrorBody),
        (status = 422, description = "A bad filter; the message says which (`invalid_request`)", body = tessera_core::protocol::ErrorBody)
    ))]
pub async fn admin_audit(
    Admin(by): Admin,
    State(state): State<SharedState>,
    Query(q): Query<ApiAuditQuery>,
) -> ApiResult<Response> {
    let filter = q
        .filters
        .filter(Some(&by.realm), 500)
        .map_err(ApiError::invalid)?;
    let limit = filter.limit as usize;
    let entries = state.store.audit_entries(&filter).await?;
    match q.format.as_str() {
        "csv" => return Ok(csv_response(&entries, false, "audit.csv")),
        "" | "json" => {}
        _ => return Err(ApiError::invalid("`format` is `json` or `csv`")),
    }
    let next_before = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(axum::Json(AuditList {
        entries: entries.into_iter().map(view).collect(),
        next_before,
    })
    .into_response())
}

/// The API's query: the filters and a `format`.
#[derive(Debug, Deserialize)]
pub struct ApiAuditQuery {
    #[serde(flatten)]
    filters: AuditQuery,
    #[serde(default)]
    format: String,
}

struct Row {
    at: String,
    actor: String,
    address: String,
    action: String,
    target: String,
    detail: String,
}

/// A row as the pages show it (the portal's too).
pub fn row_texts(e: &AuditEntry) -> [String; 6] {
    [
        from_millis(e.at)
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        e.actor.clone(),
        e.address.clone(),
        AuditAction::parse(&e.action)
            .map(|a| a.label().to_owned())
            .unwrap_or_else(|| e.action.clone()),
        e.target.clone(),
        e.detail.clone(),
    ]
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    rows: Vec<Row>,
    error: Option<String>,
    actions: Vec<(&'static str, &'static str, bool)>,
    q: AuditQuery,
    csv_link: String,
    next_link: Option<String>,
}

/// The live page's `/audit`: the log with its filters, for the signed-in admin.
pub async fn page(
    MaybeAdmin(signed_in): MaybeAdmin,
    State(state): State<SharedState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    if !signed_in {
        return Ok(Redirect::to("/").into_response());
    }
    let (rows, error, status, next) = match q.filter(Some(&state.realm), PAGE_LIMIT) {
        Ok(filter) => {
            let entries = state.store.audit_entries(&filter).await?;
            let next = (entries.len() == filter.limit as usize)
                .then(|| entries.last().map(|e| e.id))
                .flatten();
            let rows = entries
                .iter()
                .map(|e| {
                    let [at, actor, address, action, target, detail] = row_texts(e);
                    Row {
                        at,
                        actor,
                        address,
                        action,
                        target,
                        detail,
                    }
                })
                .collect();
            (rows, None, StatusCode::OK, next)
        }
        Err(e) => (Vec::new(), Some(e), StatusCode::UNPROCESSABLE_ENTITY, None),
    };
    let query = q.query_string();
    let page = AuditPage {
        rows,
        error,
        actions: AuditAction::LAN
            .iter()
            .map(|a| (a.as_str(), a.label(), a.as_str() == q.action.trim()))
            .collect(),
        csv_link: format!("/audit.csv?{query}"),
        next_link: next.map(|id| format!("/audit?{query}&before={id}")),
        q,
    };
    let html = page.render().map_err(ApiError::internal)?;
    Ok((status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}

/// The live page's `/audit.csv`: the same filters, every matching entry (up to the
/// most one read returns).
pub async fn page_csv(
    Admin(by): Admin,
    State(state): State<SharedState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    let filter = q
        .filter(Some(&by.realm), AuditFilter::MAX_LIMIT)
        .map_err(ApiError::invalid)?;
    let entries = state.store.audit_entries(&filter).await?;
    Ok(csv_response(&entries, false, "audit.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_or_say_what_is_wrong() {
        let q = AuditQuery {
            action: "seat_removed".into(),
            actor: " Ann ".into(),
            from: "2026-01-31".into(),
            to: "2026-01-31".into(),
            ..AuditQuery::default()
        };
        let f = q.filter(Some("lan"), 50).unwrap();
        assert_eq!(f.realm.as_deref(), Some("lan"));
        assert_eq!(f.action, Some(AuditAction::SeatRemoved));
        assert_eq!(f.actor.as_deref(), Some("Ann"));
        assert_eq!(f.until.unwrap() - f.since.unwrap(), 86_400_000);
        assert_eq!(f.limit, 50);
        // A reader's realm is never widened by `org`.
        let q = AuditQuery {
            org: "globex".into(),
            ..AuditQuery::default()
        };
        assert_eq!(
            q.filter(Some("acme"), 1).unwrap().realm.as_deref(),
            Some("acme")
        );
        assert_eq!(q.filter(None, 1).unwrap().realm.as_deref(), Some("globex"));
        for (bad, says) in [
            (
                AuditQuery {
                    from: "yesterday".into(),
                    ..Default::default()
                },
                "`from` must be a date",
            ),
            (
                AuditQuery {
                    to: "2026-13-01".into(),
                    ..Default::default()
                },
                "`to` must be a date",
            ),
            (
                AuditQuery {
                    from: "2026-02-01".into(),
                    to: "2026-01-01".into(),
                    ..Default::default()
                },
                "must not be after",
            ),
            (
                AuditQuery {
                    action: "drop".into(),
                    ..Default::default()
                },
                "`action` is one of",
            ),
            (
                AuditQuery {
                    limit: "0".into(),
                    ..Default::default()
                },
                "`limit` is a number",
            ),
            (
                AuditQuery {
                    before: "x".into(),
                    ..Default::default()
                },
                "`before`",
            ),
        ] {
            let e = bad.filter(Some("lan"), 1).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn the_csv_quotes_and_defuses() {
        let e = AuditEntry {
            id: 1,
            at: 0,
            realm: "acme".into(),
            actor: "=cmd".into(),
            address: "192.0.2.1".into(),
            action: "policy_changed".into(),
            target: "policy".into(),
            detail: "- a\n+ b\n".into(),
        };
        assert_eq!(
            csv(std::slice::from_ref(&e), false),
            "at,actor,address,action,target,detail\n1970-01-01T00:00:00.000Z,'=cmd,192.0.2.1,policy_changed,policy,\"'- a\n+ b\n\"\n"
        );
        assert!(csv(&[e], true).starts_with("at,organization,"));
    }
}
