//! Usage reports to the portal (optional, off by default): when the office allows it
//! (`--report-usage URL`), the LAN server sends the daily figures of its pools (peak
//! seats, sessions, users, seat-hours, refusals; no names) for the last days, one report
//! per activation, signed with its own key and carrying the activation in the footer.
//! The portal keeps the latest figures of each day, so sending a day again only updates
//! it; a server without internet just logs the failure and tries again later.

use std::time::Duration;

use tessera_core::Millis;
use tessera_core::usage::daily_usage;
use tessera_token::{UsageReportClaims, sign_usage_report, verify_activation};

use crate::usage_page::{pool_refusals, pool_uses};
use crate::{Authority, SharedState};

const DAY: Millis = 86_400_000;

/// Days each report covers, today included: a server that was offline for a while
/// catches up on them when it is back.
pub const REPORT_DAYS: usize = 7;

/// Why a report could not be made or sent.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
    #[error("signing the report: {0}")]
    Token(#[from] tessera_token::TokenError),
    #[error("only a LAN server sends usage reports")]
    NotLan,
    #[error("the portal at {url} did not take the report: {reason}")]
    Send { url: String, reason: String },
}

/// The reports of every activation, signed, for the days up to `now`.
pub async fn make_reports(state: &SharedState, now: Millis) -> Result<Vec<String>, ReportError> {
    let Authority::Lan(identity) = &state.authority else {
        return Err(ReportError::NotLan);
    };
    let today = now - now.rem_euclid(DAY);
    let from = today - (REPORT_DAYS as i64 - 1) * DAY;
    let sessions = state.store.sessions(&state.realm, from, now + 1).await?;
    let live = state.store.live_leases(&state.realm, now).await?;
    let denials = state.store.denials(&state.realm, from, now + 1).await?;
    let mut reports = Vec::new();
    for (_, token) in state.store.activations(&state.realm).await? {
        // Activations were checked on import and at start; one that no longer verifies
        // (another vendor key) has nothing to report.
        let Ok(activation) = verify_activation(&state.vendor_key, &token) else {
            continue;
        };
        let mut days = Vec::new();
        for pool in &activation.claims.pools {
            let uses = pool_uses(&sessions, &live, &pool.id, now);
            let refused: Vec<Millis> = pool_refusals(&denials, pool).collect();
            days.extend(daily_usage(pool, &uses, &refused, from, REPORT_DAYS));
        }
        let claims = UsageReportClaims {
            kind: "usage_report".into(),
            server: identity.server_id.clone(),
            iat: tessera_core::from_millis(now),
            days,
        };
        reports.push(sign_usage_report(&identity.key, &claims, &token)?);
    }
    Ok(reports)
}

/// Sends one report to the portal at `portal` (its base URL).
async fn send(portal: &str, report: String) -> Result<(), ReportError> {
    let url = format!("{}/api/v1/usage-reports", portal.trim_end_matches('/'));
    let target = url.clone();
    let result = tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut answer = agent
            .post(&target)
            .send_json(serde_json::json!({ "report": report }))
            .map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            let body = answer.body_mut().read_to_string().unwrap_or_default();
            Err(format!(
                "HTTP {status}: {}",
                body.chars().take(300).collect::<String>()
            ))
        }
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    result.map_err(|reason| ReportError::Send { url, reason })
}

/// Makes and sends every report now; returns how many were sent.
pub async fn report_once(state: &SharedState, portal: &str) -> Result<usize, ReportError> {
    let reports = make_reports(state, state.now()).await?;
    let n = reports.len();
    for report in reports {
        send(portal, report).await?;
    }
    Ok(n)
}

/// Sends the reports every `every`, the first soon after start, until the task is
/// aborted; failures are logged and retried at the next turn.
pub async fn report_forever(state: SharedState, portal: String, every: Duration) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + every.min(Duration::from_secs(60)),
        every,
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match report_once(&state, &portal).await {
            Ok(n) => tracing::info!(reports = n, portal = %portal, "usage reported to the portal"),
            Err(e) => {
                tracing::warn!(error = %e, "reporting usage to the portal failed; will retry")
            }
        }
    }
}
