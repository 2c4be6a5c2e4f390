//! The usage page at `/usage`: per pool, seats in use over time against seats owned
//! (peak per hour over a week, per day over a month), refused checkouts, top users, and
//! in plain words whether the pool is too small or too large. Charts are SVG drawn here.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use tessera_core::text::html_escape;
use tessera_core::usage::{SeatUse, peaks, sizing, top_users};
use tessera_core::{ErrorCode, Millis, PoolSpec, from_millis};
use tessera_store::{DenialRecord, LeaseRecord, SessionRecord};

use crate::SharedState;
use crate::error::{ApiError, ApiResult};
use crate::extract::MaybeAdmin;

const HOUR: Millis = 3_600_000;
const DAY: Millis = 24 * HOUR;

/// A bar chart of `values` against a line at `limit` (the seats owned), as inline SVG.
/// Every bar carries a title, and the chart an accessible summary.
pub fn bar_chart(
    values: &[u32],
    limit: u32,
    label_of: impl Fn(usize) -> String,
    summary: &str,
) -> String {
    let (w, h, pad) = (720.0_f64, 140.0_f64, 4.0_f64);
    let top = values.iter().copied().max().unwrap_or(0).max(limit).max(1) as f64;
    let bar = (w - 2.0 * pad) / values.len().max(1) as f64;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" preserveAspectRatio="none" role="img" aria-label="{}">"#,
        html_escape(summary)
    );
    for (i, v) in values.iter().enumerate() {
        let bh = (*v as f64 / top) * (h - 2.0 * pad);
        let at_limit = limit > 0 && *v >= limit;
        svg.push_str(&format!(
            r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" class="{}"><title>{}: {}</title></rect>"#,
            pad + i as f64 * bar,
            h - pad - bh,
            (bar - 0.5).max(0.5),
            bh,
            if at_limit { "full" } else { "used" },
            html_escape(&label_of(i)),
            v
        ));
    }
    if limit > 0 {
        let y = h - pad - (limit as f64 / top) * (h - 2.0 * pad);
        svg.push_str(&format!(
            r#"<line x1="{pad}" x2="{:.2}" y1="{y:.2}" y2="{y:.2}" class="limit"><title>{limit} seats owned</title></line>"#,
            w - pad
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// One pool's usage as the usage pages show it (the LAN server's and the web license
/// server's panel): charts as inline SVG, the sizing advice in plain words, top users.
pub struct PoolUsageView {
    pub products: String,
    pub seats: u32,
    pub advice: String,
    pub daily_chart: String,
    pub hourly_chart: String,
    pub denials_chart: String,
    pub denials_total: u64,
    /// The most active users and their hours over 30 days.
    pub top: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    pools: Vec<PoolUsageView>,
}

pub async fn page(
    MaybeAdmin(signed_in): MaybeAdmin,
    State(state): State<SharedState>,
) -> ApiResult<Response> {
    if !signed_in {
        return Ok(Redirect::to("/").into_response());
    }
    let pools = usage_views(&state.store, &state.realm, state.now()).await?;
    let html = UsagePage { pools }.render().map_err(ApiError::internal)?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Html(html),
    )
        .into_response())
}

/// The uses of one pool's seats: its recorded sessions, and its live leases up to `now`.
pub(crate) fn pool_uses(
    sessions: &[SessionRecord],
    live: &[LeaseRecord],
    pool_id: &str,
    now: Millis,
) -> Vec<SeatUse> {
    let use_of = |user: &str, host: &str, start, end| SeatUse {
        user: user.to_owned(),
        host: host.to_owned(),
        start,
        end,
    };
    sessions
        .iter()
        .filter(|s| s.pool_id == pool_id)
        .map(|s| use_of(&s.user_name, &s.host, s.start_at, s.end_at))
        .chain(
            live.iter()
                .filter(|l| l.pool_id == pool_id)
                .map(|l| use_of(&l.user_name, &l.host, l.created_at, now)),
        )
        .collect()
}

/// When a pool refused a checkout for want of a seat.
pub(crate) fn pool_refusals<'a>(
    denials: &'a [DenialRecord],
    pool: &'a PoolSpec,
) -> impl Iterator<Item = Millis> + 'a {
    denials
        .iter()
        .filter(|d| pool.covers(&d.product) && d.code == ErrorCode::NoSeatAvailable.as_str())
        .map(|d| d.at)
}

/// Every pool of `realm` with its usage over the last 30 days (hours over 7).
pub async fn usage_views(
    store: &tessera_store::Store,
    realm: &str,
    now: Millis,
) -> Result<Vec<PoolUsageView>, tessera_store::StoreError> {
    // Whole days and hours, so that bars line up with the calendar (UTC).
    let today = now - now.rem_euclid(DAY);
    let month_from = today - 29 * DAY;
    let this_hour = now - now.rem_euclid(HOUR);
    let week_from = this_hour - 167 * HOUR;
    let sessions = store.sessions(realm, month_from, now + 1).await?;
    let live = store.live_leases(realm, now).await?;
    let denials = store.denials(realm, month_from, now + 1).await?;
    let mut pools = Vec::new();
    for usage in store.pool_usage(realm, now).await? {
        let pool = &usage.pool;
        let uses = pool_uses(&sessions, &live, &pool.id, now);
        let daily = peaks(&uses, month_from, DAY, 30);
        let hourly = peaks(&uses, week_from, HOUR, 168);
        let mut denied_per_day = vec![0u32; 30];
        for at in pool_refusals(&denials, pool) {
            let i = ((at - month_from) / DAY).clamp(0, 29) as usize;
            denied_per_day[i] += 1;
        }
        let denials_total: u64 = denied_per_day.iter().map(|&n| u64::from(n)).sum();
        // Days before the pool started say nothing about its size.
        let known_days = ((now - pool.start.timestamp_millis()) / DAY + 1).clamp(0, 30) as usize;
        let judged = &daily[30 - known_days..];
        let products = pool.products.join(" + ");
        let day_label = |i: usize| {
            from_millis(month_from + i as i64 * DAY)
                .format("%Y-%m-%d")
                .to_string()
        };
        let hour_label = |i: usize| {
            from_millis(week_from + i as i64 * HOUR)
                .format("%Y-%m-%d %H:00")
                .to_string()
        };
        let peak_month = daily.iter().copied().max().unwrap_or(0);
        pools.push(PoolUsageView {
            advice: sizing(pool.seats, judged, denials_total).advice(&products),
            daily_chart: bar_chart(
                &daily,
                pool.seats,
                day_label,
                &format!(
                    "Peak seats in use per day over 30 days: at most {peak_month} of {}",
                    pool.seats
                ),
            ),
            hourly_chart: bar_chart(
                &hourly,
                pool.seats,
                hour_label,
                &format!(
                    "Peak seats in use per hour over 7 days, against {} seats",
                    pool.seats
                ),
            ),
            denials_chart: bar_chart(
                &denied_per_day,
                0,
                day_label,
                &format!(
                    "Checkouts refused for want of a seat per day: {denials_total} in 30 days"
                ),
            ),
            denials_total,
            top: top_users(&uses, month_from, now, 5)
                .into_iter()
                .map(|(u, h)| (u, format!("{h:.1}")))
                .collect(),
            products,
            seats: pool.seats,
        });
    }
    Ok(pools)
}
