//! The audit log in the portal: what a customer's organization changed (and what the
//! vendor's staff changed for it, such as an order marked Paid), written by
//! [`record`] after each change succeeds; shown with filters and exported as CSV in the
//! account (`/account/audit`, one's own organization, for those who see its teams), in the web license server's
//! panel (`/w/{org}/audit`, the organization of the panel, for whoever administers it)
//! and in the back office (`/staff/audit`, every organization, with an organization
//! filter). A reader of an organization is held to its realm (its slug) in the query
//! itself: no filter widens it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use tessera_server::audit::{Actor, AuditQuery, PAGE_LIMIT, csv_response, row_texts};
use tessera_store::portal::UserRecord;
use tessera_store::{AuditAction, AuditFilter};

use super::{Layout, page};
use crate::error::{PortalError, PortalResult};
use crate::session::{SignedIn, Staff, Visitor};
use crate::state::{Portal, PortalState};
use crate::web::administered_by;

/// Appends an entry for a change `by` made (from `address`) to something of the
/// organization `organization_id`, after the change succeeded. A failure to write it
/// is logged; the change stands.
pub async fn record(
    state: &PortalState,
    organization_id: &str,
    by: &UserRecord,
    address: Option<String>,
    action: AuditAction,
    target: &str,
    detail: &str,
) {
    let slug = match state.store.organization(organization_id).await {
        Ok(Some(org)) => org.slug,
        Ok(None) => {
            tracing::error!(
                organization_id,
                action = action.as_str(),
                "the audit log names no such organization"
            );
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, action = action.as_str(), "the audit log could not be written");
            return;
        }
    };
    let actor = Actor::new(&slug, &by.email, address);
    tessera_server::audit::record(&state.store, &actor, action, target, detail, state.now()).await;
}

struct RowView {
    at: String,
    org: String,
    actor: String,
    address: String,
    action: String,
    target: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    heading: String,
    /// Where the filter form goes.
    action_url: String,
    /// The back office: an organization column and filter.
    staff: bool,
    q: AuditQuery,
    actions: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<RowView>,
    error: Option<String>,
    csv_link: String,
    next_link: Option<String>,
}

/// Where a reader stands: which realm (none: every one, the back office) and the
/// page's addresses.
struct Reader {
    realm: Option<String>,
    heading: String,
    base: String,
}

async fn render(
    state: &PortalState,
    visitor: &Visitor,
    reader: Reader,
    q: AuditQuery,
) -> PortalResult<Response> {
    let staff = reader.realm.is_none();
    let (rows, error, status, next) = match q.filter(reader.realm.as_deref(), PAGE_LIMIT) {
        Ok(filter) => {
            let entries = state.store.audit_entries(&filter).await?;
            let next = (entries.len() == filter.limit as usize)
                .then(|| entries.last().map(|e| e.id))
                .flatten();
            let rows = entries
                .iter()
                .map(|e| {
                    let [at, actor, address, action, target, detail] = row_texts(e);
                    RowView {
                        at,
                        org: e.realm.clone(),
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
        Err(e) => (
            Vec::new(),
            Some(format!("The filter was not applied: {e}.")),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
    };
    let query = q.query_string();
    let layout = Layout::build(state, visitor, &reader.heading, false).await?;
    page(
        status,
        &AuditPage {
            layout,
            heading: reader.heading,
            action_url: reader.base.clone(),
            staff,
            // What a LAN server alone records is not offered.
            actions: AuditAction::ALL
                .iter()
                .filter(|a| {
                    !matches!(
                        a,
                        AuditAction::ActivationImported | AuditAction::AdminTokenRotated
                    )
                })
                .map(|a| (a.as_str(), a.label(), a.as_str() == q.action.trim()))
                .collect(),
            rows,
            error,
            csv_link: format!("{}.csv?{query}", reader.base),
            next_link: next.map(|id| format!("{}?{query}&before={id}", reader.base)),
            q,
        },
    )
}

async fn export(
    state: &PortalState,
    realm: Option<&str>,
    q: &AuditQuery,
) -> PortalResult<Response> {
    let filter = q
        .filter(realm, AuditFilter::MAX_LIMIT)
        .map_err(|e| PortalError::invalid(format!("The filter was not applied: {e}.")))?;
    let entries = state.store.audit_entries(&filter).await?;
    Ok(csv_response(&entries, realm.is_none(), "audit.csv"))
}

/// The signed-in person's own organization's realm, for those who see its teams (the
/// menu's rule, `teams::may_see_teams`): a team's plain user does not read the log.
async fn own_realm(state: &PortalState, user: &UserRecord) -> PortalResult<String> {
    if !crate::teams::may_see_teams(state, user).await? {
        return Err(PortalError::Forbidden(
            "The audit log is for the people who manage the organization's teams or billing."
                .into(),
        ));
    }
    Ok(state
        .store
        .organization(&user.organization_id)
        .await?
        .ok_or(PortalError::NotFound)?
        .slug)
}

/// `GET /account/audit`: the organization's own entries.
pub async fn account_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(q): Query<AuditQuery>,
) -> PortalResult<Response> {
    let realm = own_realm(&state, &user).await?;
    let reader = Reader {
        realm: Some(realm),
        heading: "Audit log".into(),
        base: "/account/audit".into(),
    };
    render(&state, &visitor, reader, q).await
}

/// `GET /account/audit.csv`.
pub async fn account_csv(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Query(q): Query<AuditQuery>,
) -> PortalResult<Response> {
    let realm = own_realm(&state, &user).await?;
    export(&state, Some(&realm), &q).await
}

/// `GET /w/{org}/audit`: the panel's organization's entries, for whoever administers
/// it (anyone else: 404, as the panel).
pub async fn panel_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<AuditQuery>,
) -> PortalResult<Response> {
    let org = administered_by(&state.store, &user, &slug)
        .await?
        .ok_or(PortalError::NotFound)?;
    let reader = Reader {
        realm: Some(org.slug.clone()),
        heading: format!("Audit log of {}", org.name),
        base: format!("/w/{}/audit", org.slug),
    };
    render(&state, &visitor, reader, q).await
}

/// `GET /w/{org}/audit.csv`.
pub async fn panel_csv(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<AuditQuery>,
) -> PortalResult<Response> {
    let org = administered_by(&state.store, &user, &slug)
        .await?
        .ok_or(PortalError::NotFound)?;
    export(&state, Some(&org.slug), &q).await
}

/// `GET /staff/audit`: every organization's entries (`org` narrows to one).
pub async fn staff_page(
    State(state): State<Portal>,
    Staff(_, visitor): Staff,
    Query(q): Query<AuditQuery>,
) -> PortalResult<Response> {
    let reader = Reader {
        realm: None,
        heading: "Back office: audit log".into(),
        base: "/staff/audit".into(),
    };
    render(&state, &visitor, reader, q).await
}

/// `GET /staff/audit.csv`.
pub async fn staff_csv(
    State(state): State<Portal>,
    Staff(_, _): Staff,
    Query(q): Query<AuditQuery>,
) -> PortalResult<Response> {
    export(&state, None, &q).await
}
