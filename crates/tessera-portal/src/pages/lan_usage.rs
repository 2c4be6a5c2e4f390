//! LAN servers' usage in the portal: the endpoint their reports arrive at
//! (`POST /api/v1/usage-reports`, checked back to the vendor key), and the pages that
//! show the figures: an organization's own LAN servers in its account, every one in the
//! back office.

use std::collections::BTreeMap;

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_core::ErrorCode;
use tessera_core::usage::sizing;
use tessera_server::error::ApiError;
use tessera_store::portal::{LanReporter, LanUsageRecord};
use tessera_token::{TokenError, verify_usage_report};

use super::{Layout, page};
use crate::error::PortalResult;
use crate::session::{SignedIn, Staff, Visitor};
use crate::state::{Portal, PortalState};

/// The most days one report may hold (a week of a few hundred pools).
const MAX_DAYS: usize = 5_000;
/// Days the pages show.
const SHOWN_DAYS: i64 = 30;

#[derive(Deserialize)]
pub struct ReportBody {
    report: String,
}

/// Takes a LAN server's usage report.
pub async fn receive_report(
    State(state): State<Portal>,
    body: Result<Json<ReportBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => {
            return ApiError::invalid(format!(
                "the body must be JSON like {{\"report\": \"v4.public…\"}}: {}",
                e.body_text()
            ))
            .into_response();
        }
    };
    let (activation, claims) = match verify_usage_report(state.vendor.verifying_key(), &body.report)
    {
        Ok(v) => v,
        Err(TokenError::InvalidSignature) => {
            return ApiError::new(
                ErrorCode::InvalidSignature,
                "the report or its activation key is not signed by the right key",
            )
            .into_response();
        }
        Err(e) => return ApiError::invalid(format!("not a usage report: {e}")).into_response(),
    };
    if claims.days.len() > MAX_DAYS {
        return ApiError::invalid(format!(
            "a report holds at most {MAX_DAYS} days of pools; this one holds {}",
            claims.days.len()
        ))
        .into_response();
    }
    if let Some(bad) = claims
        .days
        .iter()
        .find(|d| chrono::NaiveDate::parse_from_str(&d.day, "%Y-%m-%d").is_err())
    {
        return ApiError::invalid(format!("`{}` is not a day like 2026-11-02", bad.day))
            .into_response();
    }
    let reporter = LanReporter {
        server_key: &activation.claims.server_key,
        server_id: &claims.server,
        org_name: &activation.claims.org,
    };
    match state
        .store
        .record_lan_usage(&reporter, &claims.days, state.now())
        .await
    {
        Ok(n) => (StatusCode::OK, Json(serde_json::json!({ "days": n }))).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// One pool of one LAN server, with its days.
pub struct PoolView {
    pub org_name: String,
    pub server_id: String,
    pub pool_id: String,
    pub products: String,
    pub seats: u32,
    pub advice: String,
    pub days: Vec<LanUsageRecord>,
}

#[derive(Template)]
#[template(path = "lan_usage.html")]
struct LanUsagePage {
    layout: Layout,
    staff: bool,
    portal_url: String,
    pools: Vec<PoolView>,
}

fn pool_views(rows: Vec<LanUsageRecord>) -> Vec<PoolView> {
    let mut groups: BTreeMap<(String, String, String), Vec<LanUsageRecord>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((r.org_name.clone(), r.server_id.clone(), r.pool_id.clone()))
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .map(|((org_name, server_id, pool_id), mut days)| {
            days.sort_by(|a, b| b.day.cmp(&a.day));
            let last = &days[0];
            let peaks: Vec<u32> = days.iter().map(|d| d.peak).collect();
            let denials: u64 = days.iter().map(|d| u64::from(d.denials)).sum();
            PoolView {
                advice: sizing(last.seats, &peaks, denials).advice(&last.products),
                products: last.products.clone(),
                seats: last.seats,
                org_name,
                server_id,
                pool_id,
                days,
            }
        })
        .collect()
}

async fn render(
    state: &PortalState,
    visitor: &Visitor,
    organization_id: Option<&str>,
) -> PortalResult<Response> {
    let from = (state.today() - chrono::Duration::days(SHOWN_DAYS - 1))
        .format("%Y-%m-%d")
        .to_string();
    let rows = state.store.lan_usage(organization_id, &from).await?;
    let staff = organization_id.is_none();
    let title = if staff {
        "Back office: LAN servers' usage"
    } else {
        "LAN servers' usage"
    };
    let layout = Layout::build(state, visitor, title, true).await?;
    page(
        StatusCode::OK,
        &LanUsagePage {
            layout,
            staff,
            portal_url: state.config.base_url().to_owned(),
            pools: pool_views(rows),
        },
    )
}

/// The signed-in organization's LAN servers.
pub async fn account_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
) -> PortalResult<Response> {
    render(&state, &visitor, Some(&user.organization_id)).await
}

/// Every organization's LAN servers, for the vendor's staff.
pub async fn staff_page(
    State(state): State<Portal>,
    Staff(_, visitor): Staff,
) -> PortalResult<Response> {
    render(&state, &visitor, None).await
}
