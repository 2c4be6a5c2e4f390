//! Reporting (`/account/reports/…`): Insights (seats owned against seats assigned, per
//! team and subscription, with the over-assignment report), Seat Usage (days each person
//! used each product: named-user sign-ins and the web license server's sessions of the
//! organization), and Token Usage (tokens charged per person, product and day, and the
//! balance). Each is filtered by team and period (query parameters) and exported as CSV
//! with exactly the columns shown.
//!
//! Who reads them: people who see the organization's billing (its contract managers and
//! primary admins) see every team; secondary admins and software coordinators see the
//! teams they hold that role in; users see none.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use tessera_core::text::{csv_field, html_escape};
use tessera_store::portal::UserRecord;

use super::{Layout, page};
use crate::error::{PortalError, PortalResult};
use crate::session::{SignedIn, Visitor};
use crate::state::{Portal, PortalState};
use crate::teams::{Act, Standing, may_see_billing};

/// The longest period a report covers.
pub const MAX_DAYS: i64 = 366;
/// The period shown when none is asked for: the last 30 days.
pub const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// A team in the filter.
pub struct TeamOption {
    pub id: String,
    pub name: String,
}

/// What the filter chose, checked.
pub struct Filter {
    pub team: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub teams: Vec<TeamOption>,
    /// The people the report covers (lowercased e-mails); `None`: everyone in the
    /// organization.
    pub people: Option<HashSet<String>>,
}

impl Filter {
    pub fn from_day(&self) -> String {
        self.from.format("%Y-%m-%d").to_string()
    }
    pub fn to_day(&self) -> String {
        self.to.format("%Y-%m-%d").to_string()
    }
    /// The query string that gives this filter again.
    pub fn query(&self) -> String {
        serde_urlencoded::to_string([
            ("team", self.team.as_str()),
            ("from", &self.from_day()),
            ("to", &self.to_day()),
        ])
        .unwrap_or_default()
    }
    fn covers(&self, email: &str) -> bool {
        self.people
            .as_ref()
            .is_none_or(|p| p.contains(&email.to_lowercase()))
    }
    fn team_ids(&self) -> Vec<&str> {
        self.teams
            .iter()
            .filter(|t| self.team.is_empty() || t.id == self.team)
            .map(|t| t.id.as_str())
            .collect()
    }
}

fn parse_day(text: &str, what: &str) -> PortalResult<Option<NaiveDate>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| PortalError::invalid(format!("{what}: a day like 2026-11-02.")))
}

/// Checks the query against what the person may see.
pub async fn filter(
    state: &PortalState,
    user: &UserRecord,
    q: &ReportQuery,
) -> PortalResult<Filter> {
    let today = state.today();
    let to = parse_day(&q.to, "To")?.unwrap_or(today);
    let from = parse_day(&q.from, "From")?.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
    if from > to {
        return Err(PortalError::invalid("From must not be after To."));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(PortalError::invalid(format!(
            "A report covers at most {MAX_DAYS} days."
        )));
    }
    let whole = may_see_billing(state, user).await?;
    let mut teams = Vec::new();
    for (id, name) in state
        .store
        .organization_teams(&user.organization_id)
        .await?
    {
        let visible = whole || {
            let team = state.store.team(&id).await?.ok_or(PortalError::NotFound)?;
            let role = state.store.member_role(&id, &user.id).await?;
            Standing::of(&team, &user.id, role).may(Act::View)
        };
        if visible {
            teams.push(TeamOption { id, name });
        }
    }
    if !whole && teams.is_empty() {
        return Err(PortalError::Forbidden(
            "Reports are for the contract manager, the team's admins and the software coordinator."
                .into(),
        ));
    }
    let team = q.team.trim().to_owned();
    if !team.is_empty() && !teams.iter().any(|t| t.id == team) {
        return Err(PortalError::NotFound);
    }
    let people = if team.is_empty() && whole {
        None
    } else {
        let mut people = HashSet::new();
        for t in teams.iter().filter(|t| team.is_empty() || t.id == team) {
            if let Some(record) = state.store.team(&t.id).await?
                && let Some(owner) = state.store.user(&record.owner_user_id).await?
            {
                people.insert(owner.email.to_lowercase());
            }
            for m in state.store.team_members(&t.id).await? {
                people.insert(m.email.to_lowercase());
            }
        }
        Some(people)
    };
    Ok(Filter {
        team,
        from,
        to,
        teams,
        people,
    })
}

/// One subscription in Insights.
pub struct InsightRow {
    pub team: String,
    pub subscription_id: String,
    pub product: String,
    pub ends: String,
    pub seats: u32,
    pub assigned: u32,
    pub under: u32,
    pub over: u32,
    /// For an over-assigned subscription: who holds its seats.
    pub holders: Vec<String>,
}

/// Insights: the current subscriptions of the chosen teams.
pub async fn insights(state: &PortalState, f: &Filter) -> PortalResult<Vec<InsightRow>> {
    let today = state.today().format("%Y-%m-%d").to_string();
    let mut rows = Vec::new();
    for team_id in f.team_ids() {
        let name = f
            .teams
            .iter()
            .find(|t| t.id == team_id)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        for s in state.store.team_subscriptions(team_id).await? {
            if s.end_date < today {
                continue;
            }
            let over = s.assigned.saturating_sub(s.seats);
            let holders = if over > 0 {
                state
                    .store
                    .assignees(&s.id)
                    .await?
                    .into_iter()
                    .map(|a| a.email)
                    .collect()
            } else {
                Vec::new()
            };
            rows.push(InsightRow {
                team: name.clone(),
                subscription_id: s.id.clone(),
                product: s.product_name.clone(),
                ends: s.end_date.clone(),
                seats: s.seats,
                assigned: s.assigned,
                under: s.seats.saturating_sub(s.assigned),
                over,
                holders,
            });
        }
    }
    Ok(rows)
}

/// One person and product in Seat Usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatUsageRow {
    pub user: String,
    pub product: String,
    pub days: u32,
}

fn day_of(ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .date_naive()
}

/// Seat Usage: days used per person and product, from named-user sign-ins and the web
/// license server's sessions (each day a session covered counts).
pub async fn seat_usage(
    state: &PortalState,
    user: &UserRecord,
    f: &Filter,
) -> PortalResult<Vec<SeatUsageRow>> {
    let mut days: BTreeMap<(String, String), BTreeSet<NaiveDate>> = BTreeMap::new();
    for (email, product, day) in state
        .store
        .seat_use_days(&user.organization_id, &f.from_day(), &f.to_day())
        .await?
    {
        if let Ok(d) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
            days.entry((email.to_lowercase(), product))
                .or_default()
                .insert(d);
        }
    }
    if let Some(org) = state.store.organization(&user.organization_id).await? {
        let start =
            tessera_core::to_millis(f.from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
        let end = tessera_core::to_millis(
            (f.to + Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc(),
        );
        for s in state.store.sessions(&org.slug, start, end).await? {
            let first = day_of(s.start_at).max(f.from);
            let last = day_of(s.end_at.max(s.start_at)).min(f.to);
            let set = days
                .entry((s.user_name.to_lowercase(), s.product.clone()))
                .or_default();
            let mut d = first;
            while d <= last {
                set.insert(d);
                d += Duration::days(1);
            }
        }
    }
    Ok(days
        .into_iter()
        .filter(|((u, _), set)| !set.is_empty() && f.covers(u))
        .map(|((user, product), set)| SeatUsageRow {
            user,
            product,
            days: set.len() as u32,
        })
        .collect())
}

/// Tokens charged to one person for one product on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUsageRow {
    pub day: String,
    pub user: String,
    pub product: String,
    pub tokens: i64,
}

/// Token Usage: charges per day, person and product, and the balance today.
pub async fn token_usage(
    state: &PortalState,
    user: &UserRecord,
    f: &Filter,
) -> PortalResult<(Vec<TokenUsageRow>, i64)> {
    let mut sums: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for c in state
        .store
        .token_charges(&user.organization_id, &f.from_day(), &f.to_day())
        .await?
    {
        if f.covers(&c.email) {
            *sums
                .entry((c.day, c.email.to_lowercase(), c.product))
                .or_default() += c.tokens;
        }
    }
    let today = state.today().format("%Y-%m-%d").to_string();
    let balance = state
        .store
        .token_balance(&user.organization_id, &today)
        .await?;
    Ok((
        sums.into_iter()
            .map(|((day, user, product), tokens)| TokenUsageRow {
                day,
                user,
                product,
                tokens,
            })
            .collect(),
        balance,
    ))
}

/// A horizontal bar chart as inline SVG: one labelled bar per item, with a summary for
/// screen readers and a title on each bar.
pub fn bar_chart(items: &[(String, i64)], summary: &str) -> String {
    if items.is_empty() {
        return String::new();
    }
    let (w, row, label_w) = (720.0_f64, 22.0_f64, 260.0_f64);
    let h = row * items.len() as f64 + 4.0;
    let top = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{}">"#,
        html_escape(summary)
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 2.0 + i as f64 * row;
        let bw = (*v as f64 / top) * (w - label_w - 60.0);
        svg.push_str(&format!(
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="currentColor">{}</text><rect x="{label_w}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#2b6cb0"><title>{}: {v}</title></rect><text x="{:.1}" y="{:.1}" font-size="12" fill="currentColor">{v}</text>"##,
            label_w - 6.0,
            y + 15.0,
            html_escape(label),
            y + 3.0,
            bw.max(1.0),
            row - 6.0,
            html_escape(label),
            label_w + bw + 6.0,
            y + 15.0,
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// A CSV download of `header` and `rows`.
pub fn csv(name: &str, f: &Filter, header: &[&str], rows: Vec<Vec<String>>) -> Response {
    let mut out = header.join(",");
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{name}-{}-{}.csv\"",
                    f.from_day(),
                    f.to_day()
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        out,
    )
        .into_response()
}

pub const INSIGHTS_COLUMNS: [&str; 7] = [
    "Team",
    "Subscription",
    "Ends",
    "Seats",
    "Assigned",
    "Under-assigned",
    "Over-assigned",
];
pub const SEAT_USAGE_COLUMNS: [&str; 3] = ["User", "Product", "Days used"];
pub const TOKEN_USAGE_COLUMNS: [&str; 4] = ["Day", "User", "Product", "Tokens"];

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportPage {
    layout: Layout,
    /// `insights`, `seats` or `tokens`.
    kind: &'static str,
    heading: &'static str,
    intro: &'static str,
    team: String,
    from: String,
    to: String,
    teams: Vec<TeamOption>,
    csv_link: String,
    columns: Vec<&'static str>,
    /// Cells per row, with the id of the row.
    rows: Vec<(String, Vec<String>)>,
    chart: String,
    balance: Option<i64>,
    /// Over-assigned subscriptions and who holds their seats.
    over: Vec<(String, String, u32, Vec<String>)>,
}

fn row_id(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("_")
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &PortalState,
    visitor: &Visitor,
    f: Filter,
    kind: &'static str,
    rows: Vec<(String, Vec<String>)>,
    chart: String,
    balance: Option<i64>,
    over: Vec<(String, String, u32, Vec<String>)>,
) -> PortalResult<Response> {
    let (heading, intro, columns): (&str, &str, Vec<&str>) = match kind {
        "insights" => (
            "Insights",
            "Seats owned against seats assigned in each current subscription (today, whatever the period): under-assigned seats are paid for and free to assign; an over-assigned subscription (after a partial renewal) needs an admin to choose who loses access.",
            INSIGHTS_COLUMNS.to_vec(),
        ),
        "seats" => (
            "Seat Usage",
            "The days each person used each product in the period: named-user sign-ins and sessions on your web license server.",
            SEAT_USAGE_COLUMNS.to_vec(),
        ),
        _ => (
            "Token Usage",
            "Tokens charged per person, product and day: the first use of a product in 24 hours charges its daily rate.",
            TOKEN_USAGE_COLUMNS.to_vec(),
        ),
    };
    let layout = Layout::build(state, visitor, &format!("Reporting: {heading}"), false).await?;
    let csv_link = format!("/account/reports/{kind}.csv?{}", f.query());
    page(
        StatusCode::OK,
        &ReportPage {
            layout,
            kind,
            heading,
            intro,
            team: f.team.clone(),
            from: f.from_day(),
            to: f.to_day(),
            teams: f.teams,
            csv_link,
            columns,
            rows,
            chart,
            balance,
            over,
        },
    )
}

fn insight_cells(r: &InsightRow) -> Vec<String> {
    vec![
        r.team.clone(),
        r.product.clone(),
        r.ends.clone(),
        r.seats.to_string(),
        r.assigned.to_string(),
        r.under.to_string(),
        r.over.to_string(),
    ]
}

/// `GET /account/reports/insights`.
pub async fn insights_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(q): Query<ReportQuery>,
) -> PortalResult<Response> {
    let f = filter(&state, &user, &q).await?;
    let rows = insights(&state, &f).await?;
    let chart = bar_chart(
        &rows
            .iter()
            .map(|r| (format!("{}: {}", r.team, r.product), i64::from(r.assigned)))
            .collect::<Vec<_>>(),
        "Seats assigned per subscription",
    );
    let over = rows
        .iter()
        .filter(|r| r.over > 0)
        .map(|r| (r.team.clone(), r.product.clone(), r.over, r.holders.clone()))
        .collect();
    let cells = rows
        .iter()
        .map(|r| (row_id(&["insight", &r.subscription_id]), insight_cells(r)))
        .collect();
    render(&state, &visitor, f, "insights", cells, chart, None, over).await
}

/// `GET /account/reports/insights.csv`.
pub async fn insights_csv(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Query(q): Query<ReportQuery>,
) -> PortalResult<Response> {
    let f = filter(&state, &user, &q).await?;
    let rows = insights(&state, &f).await?;
    Ok(csv(
        "insights",
        &f,
        &INSIGHTS_COLUMNS,
        rows.iter().map(insight_cells).collect(),
    ))
}

fn seat_cells(r: &SeatUsageRow) -> Vec<String> {
    vec![r.user.clone(), r.product.clone(), r.days.to_string()]
}

/// `GET /account/reports/seats`.
pub async fn seats_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(q): Query<ReportQuery>,
) -> PortalResult<Response> {
    let f = filter(&state, &user, &q).await?;
    let rows = seat_usage(&state, &user, &f).await?;
    let chart = bar_chart(
        &rows
            .iter()
            .map(|r| (format!("{} · {}", r.user, r.product), i64::from(r.days)))
            .collect::<Vec<_>>(),
        "Days used per person and product",
    );
    let cells = rows
        .iter()
        .map(|r| (row_id(&["seat", &r.user, &r.product]), seat_cells(r)))
        .collect();
    render(&state, &visitor, f, "seats", cells, chart, None, Vec::new()).await
}

/// `GET /account/reports/seats.csv`.
pub async fn seats_csv(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Query(q): Query<ReportQuery>,
) -> PortalResult<Response> {
    let f = filter(&state, &user, &q).await?;
    let rows = seat_usage(&state, &user, &f).await?;
    Ok(csv(
        "seat-usage",
        &f,
        &SEAT_USAGE_COLUMNS,
        rows.iter().map(seat_cells).collect(),
    ))
}

fn token_cells(r: &TokenUsageRow) -> Vec<String> {
    vec![
        r.day.clone(),
        r.user.clone(),
        r.product.clone(),
        r.tokens.to_string(),
    ]
}

/// `GET /account/reports/tokens`.
pub async fn tokens_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(q): Query<ReportQuery>,
) -> PortalResult<Response> {
    let f = filter(&state, &user, &q).await?;
    let (rows, balance) = token_usage(&state, &user, &f).await?;
    let mut per_day: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rows {
        *per_day.entry(r.day.clone()).or_default() += r.tokens;
    }
    let chart = bar_chart(
        &per_day.into_iter().collect::<Vec<_>>(),
        "Tokens charged per day",
    );
    let cells = rows
        .iter()
        .map(|r| {
            (
                row_id(&["tokens", &r.day, &r.user, &r.product]),
                token_cells(r),
            )
        })
        .collect();
    render(
        &state,
        &visitor,
        f,
        "tokens",
        cells,
        chart,
        Some(balance),
        Vec::new(),
    )
    .await
}

/// `GET /account/reports/tokens.csv`.
pub async fn tokens_csv(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Query(q): Query<ReportQuery>,
) -> PortalResult<Response> {
    let f = filter(&state, &user, &q).await?;
    let (rows, _) = token_usage(&state, &user, &f).await?;
    Ok(csv(
        "token-usage",
        &f,
        &TOKEN_USAGE_COLUMNS,
        rows.iter().map(token_cells).collect(),
    ))
}
