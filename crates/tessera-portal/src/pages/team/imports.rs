//! The CSV import page: its template to download, the upload, and the report per row.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_store::portal::TeamRecord;

use super::{SubscriptionView, subscription_view};
use crate::error::PortalResult;
use crate::pages::{Layout, audit, page};
use crate::session::{SignedIn, Visitor};
use crate::state::{Portal, PortalState};
use crate::teams::{
    self, Act, CSV_HEADER, ImportReport, MAX_IMPORT_ROWS, read_import, require, team_for,
};

#[derive(Template)]
#[template(path = "team_import.html")]
struct ImportPage {
    layout: Layout,
    team: TeamRecord,
    subscriptions: Vec<SubscriptionView>,
    header: &'static str,
    max_rows: usize,
    csv: String,
    report: Option<ImportReport>,
    error: Option<String>,
}

async fn render_import(
    state: &PortalState,
    visitor: &Visitor,
    team: TeamRecord,
    status: StatusCode,
    csv: String,
    report: Option<ImportReport>,
    error: Option<String>,
) -> PortalResult<Response> {
    let subs = state.store.team_subscriptions(&team.id).await?;
    let notice_text = report
        .as_ref()
        .filter(|r| r.applied)
        .map(|r| format!("Imported: {} row(s) done.", r.rows.len()));
    let layout = Layout::build(state, visitor, "Import assignments", true)
        .await?
        .with_notice(notice_text);
    page(
        status,
        &ImportPage {
            layout,
            team,
            subscriptions: subs.iter().map(subscription_view).collect(),
            header: CSV_HEADER,
            max_rows: MAX_IMPORT_ROWS,
            csv,
            report,
            error,
        },
    )
}

/// `GET /account/teams/{team}/import`.
pub async fn import_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path(team_id): Path<String>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManageSeats)?;
    render_import(
        &state,
        &visitor,
        team,
        StatusCode::OK,
        String::new(),
        None,
        None,
    )
    .await
}

/// `GET /account/teams/{team}/import/template.csv`: the header and one example row per
/// subscription.
pub async fn import_template(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path(team_id): Path<String>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManageSeats)?;
    let mut csv = format!("{CSV_HEADER}\r\n");
    for s in state.store.team_subscriptions(&team.id).await? {
        csv.push_str(&format!(
            "Anna,Kowalska,anna@example.com,{}\r\n",
            s.product_id
        ));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"assignments-template.csv\"",
            ),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        csv,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    csv: String,
}

/// `POST /account/teams/{team}/import`: every row or none, with a report per row.
pub async fn import(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    tessera_server::extract::ClientAddress(address): tessera_server::extract::ClientAddress,
    Path(team_id): Path<String>,
    Form(form): Form<ImportForm>,
) -> PortalResult<Response> {
    let (team, standing) = team_for(&state, &team_id, &user).await?;
    require(&standing, Act::ManageSeats)?;
    let rows = match read_import(&form.csv) {
        Ok(rows) if rows.is_empty() => {
            return render_import(
                &state,
                &visitor,
                team,
                StatusCode::UNPROCESSABLE_ENTITY,
                form.csv,
                None,
                Some("The file has a header but no rows.".into()),
            )
            .await;
        }
        Ok(rows) => rows,
        Err(e) if e.is_user_error() => {
            return render_import(
                &state,
                &visitor,
                team,
                e.status(),
                form.csv,
                None,
                Some(e.message()),
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    let report = teams::assign_rows(&state, &team, &user, &rows).await?;
    if report.applied {
        let mut detail = format!("{} row(s):\n", report.rows.len());
        for r in &report.rows {
            detail.push_str(&format!("{}: {} — {}\n", r.email, r.product, r.text));
        }
        let target = format!("team {}", team.name);
        audit::record(
            &state,
            &team.organization_id,
            &user,
            address,
            tessera_store::AuditAction::SeatsImported,
            &target,
            &detail,
        )
        .await;
    }
    let (status, error) = if report.applied {
        (StatusCode::OK, None)
    } else {
        (
            StatusCode::CONFLICT,
            Some(
                "Nothing was imported: fix the rows marked Failed and import the file again."
                    .into(),
            ),
        )
    };
    let csv = if report.applied {
        String::new()
    } else {
        form.csv
    };
    render_import(&state, &visitor, team, status, csv, Some(report), error).await
}
