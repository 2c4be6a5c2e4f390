//! The portal's daily jobs, run by whichever node gets to them first: each job claims
//! its day in the database (`daily_runs`), so with several portal nodes it runs once a
//! day; a node that stops in the middle leaves a claim that lapses, and another node
//! takes the job over (each job is safe to run again: it records what it did). The day
//! is an argument, so tests move the clock by handing in days instead of sleeping.
//!
//! Jobs: renewals (an auto-renewing subscription gets its renewal order and invoice at
//! the end of its period), and renewal reminders 90, 30 and 7 days before it ends.

use std::sync::OnceLock;

use chrono::NaiveDate;

use crate::error::PortalResult;
use crate::mail::OutgoingMail;
use crate::state::{Portal, PortalState};

/// Days before the end of a period that a reminder goes out.
pub const REMINDER_DAYS: [u32; 3] = [90, 30, 7];

/// How long a node's claim on a job holds before another node may take it over.
const CLAIM_MS: i64 = 15 * 60_000;

/// This process's name in the claims.
fn node() -> &'static str {
    static NODE: OnceLock<String> = OnceLock::new();
    NODE.get_or_init(|| format!("portal-{}", uuid::Uuid::new_v4().simple()))
}

/// What one job did on a day: `None` when another node has it (or had it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub job: &'static str,
    pub done: Option<usize>,
}

/// The daily jobs, in the order they run.
pub const JOBS: [&str; 2] = ["renewals", "renewal_reminders"];

/// Runs the day's jobs that no node has run yet.
pub async fn run_daily(state: &PortalState, day: NaiveDate) -> PortalResult<Vec<JobRun>> {
    let day_text = day.format("%Y-%m-%d").to_string();
    let mut runs = Vec::new();
    for job in JOBS {
        let now = state.now();
        let claimed = state
            .store
            .claim_daily_run(job, &day_text, node(), now, now + CLAIM_MS)
            .await?;
        if !claimed {
            state.jobs.inc(&[("job", job), ("outcome", "skipped")]);
            runs.push(JobRun { job, done: None });
            continue;
        }
        let ran = async {
            let done = match job {
                "renewals" => renewals(state, day).await?,
                _ => renewal_reminders(state, day).await?,
            };
            state
                .store
                .finish_daily_run(job, &day_text, state.now())
                .await?;
            PortalResult::Ok(done)
        }
        .await;
        let outcome = if ran.is_ok() { "done" } else { "failed" };
        state.jobs.inc(&[("job", job), ("outcome", outcome)]);
        let done = ran?;
        runs.push(JobRun {
            job,
            done: Some(done),
        });
    }
    Ok(runs)
}

/// Renews the auto-renewing subscriptions whose period ended by `day` (up to 45 days
/// back, for a portal that was down): each gets its renewal order and invoice.
async fn renewals(state: &PortalState, day: NaiveDate) -> PortalResult<usize> {
    let since = (day - chrono::Duration::days(45))
        .format("%Y-%m-%d")
        .to_string();
    let due = state
        .store
        .renewals_due(&since, &day.format("%Y-%m-%d").to_string())
        .await?;
    let mut placed = 0;
    for order in due {
        match crate::ordering::renew(state, &order).await {
            Ok(renewal) => {
                tracing::info!(order = %order.number, renewal = %renewal.number, "renewed");
                placed += 1;
            }
            // Renewed meanwhile by the customer ("Renew now"): nothing to do.
            Err(e) => tracing::info!(order = %order.number, error = %e, "not renewed"),
        }
    }
    Ok(placed)
}

/// The threshold a period ending in `days_left` days is due a reminder for: the
/// smallest of 90, 30, 7 that is not below it (a day the portal was down is caught up).
fn due(days_left: i64) -> Option<u32> {
    REMINDER_DAYS
        .iter()
        .copied()
        .filter(|&t| days_left >= 0 && days_left <= i64::from(t))
        .min()
}

/// The days from `day` to 90 days after it (YYYY-MM-DD): what the reminders look at.
fn reminder_window(day: NaiveDate) -> (String, String) {
    let to = day + chrono::Duration::days(i64::from(REMINDER_DAYS[0]));
    (
        day.format("%Y-%m-%d").to_string(),
        to.format("%Y-%m-%d").to_string(),
    )
}

/// The reminder (90, 30 or 7) due for `key` with `days_left`, unless it was sent already.
async fn reminder_due(state: &PortalState, key: &str, days_left: i64) -> PortalResult<Option<u32>> {
    let Some(threshold) = due(days_left) else {
        return Ok(None);
    };
    let already = state.store.reminders_sent(key).await?;
    Ok((!already.iter().any(|&t| t <= threshold)).then_some(threshold))
}

/// E-mails the customers whose subscription periods end within 90 days and who have
/// not had the reminder for that threshold; returns how many were sent.
async fn renewal_reminders(state: &PortalState, day: NaiveDate) -> PortalResult<usize> {
    let (from, to) = reminder_window(day);
    let mut sent = 0;
    for order in state.store.orders_ending_between(&from, &to).await? {
        let Ok(end) = NaiveDate::parse_from_str(&order.end_date, "%Y-%m-%d") else {
            tracing::warn!(order = %order.number, end = %order.end_date, "an order with an unreadable end date");
            continue;
        };
        if order.renewed_by.is_some() {
            continue;
        }
        let days_left = (end - day).num_days();
        let Some(threshold) = reminder_due(state, &order.id, days_left).await? else {
            continue;
        };
        // Bought through a reseller: renewed only through them. The customer is told
        // (the order's own e-mail and billing address are the reseller's, who gets a copy).
        let to = match &order.reseller_email {
            Some(_) => reseller_customer_recipients(state, &order).await?,
            None => crate::ordering::recipients(&order),
        };
        let how = match &order.reseller_email {
            Some(reseller) => format!(
                "This subscription was bought through a reseller; it renews only through them. \
                 To keep your licenses working after {}, contact your reseller, {} ({reseller}).",
                order.end_date, order.company.name
            ),
            None => format!(
                "To keep your licenses working after {}, renew before then: {}",
                order.end_date,
                state.url("/account/orders")
            ),
        };
        let text = format!(
            "Your subscription ends soon.\n\n\
             Order: {number}\n\
             {product}, {option}: {seats} user(s)\n\
             Subscription period: {start} to {end}, {days_left} day(s) from now.\n\n\
             {how}\n\
             When the period ends, the licenses stop: license servers refuse new checkouts \
             from that day.\n",
            number = order.number,
            product = order.product_name,
            option = order.option_name,
            seats = order.seats,
            start = order.start_date,
            end = order.end_date,
        );
        state
            .mailer
            .send(OutgoingMail {
                to,
                subject: format!(
                    "Your {} subscription ends on {} ({} day(s))",
                    order.product_name, order.end_date, days_left
                ),
                text,
                attachments: Vec::new(),
            })
            .await?;
        state
            .store
            .record_reminder(&order.id, threshold, state.now())
            .await?;
        sent += 1;
    }
    sent += token_reminders(state, day).await?;
    Ok(sent)
}

/// Who is reminded of a subscription bought through a reseller: the customer's contract
/// manager and the primary admin of the subscription's team, and the reseller (a copy).
async fn reseller_customer_recipients(
    state: &PortalState,
    order: &tessera_store::portal::OrderRecord,
) -> PortalResult<Vec<String>> {
    let mut people = vec![order.user_id.clone()];
    if let Some(team_id) = crate::teams::team_of_order(state, order).await? {
        if let Some(team) = state.store.team(&team_id).await? {
            people.insert(0, team.owner_user_id.clone());
        }
        for member in state.store.team_members(&team_id).await? {
            if member.role == tessera_store::portal::MemberRole::PrimaryAdmin {
                people.push(member.user_id);
            }
        }
    }
    let mut to: Vec<String> = Vec::new();
    for id in people {
        if let Some(user) = state.store.user(&id).await?
            && !to.iter().any(|e| e.eq_ignore_ascii_case(&user.email))
        {
            to.push(user.email);
        }
    }
    if !to
        .iter()
        .any(|e| e.eq_ignore_ascii_case(&order.customer_email))
    {
        to.push(order.customer_email.clone());
    }
    Ok(to)
}

/// E-mails the contract managers of organizations whose token packs (with tokens left)
/// expire within 90 days, at 90, 30 and 7 days, once each; returns how many were sent.
async fn token_reminders(state: &PortalState, day: NaiveDate) -> PortalResult<usize> {
    let (from, to) = reminder_window(day);
    let mut sent = 0;
    for pack in state.store.token_packs_expiring(&from, &to).await? {
        let Ok(last) = NaiveDate::parse_from_str(&pack.expires_on, "%Y-%m-%d") else {
            continue;
        };
        let days_left = (last - day).num_days();
        // Recorded beside the orders' reminders, under the pack's own key.
        let key = format!("tokens:{}", pack.id);
        let Some(threshold) = reminder_due(state, &key, days_left).await? else {
            continue;
        };
        let to = state
            .store
            .contract_manager_emails(&pack.organization_id)
            .await?;
        if to.is_empty() {
            continue;
        }
        let text = format!(
            "Your token balance expires soon.\n\n\
             {remaining} of the {tokens} tokens of a pack can be used until {last} \
             ({days_left} day(s) from now); unused tokens expire with it.\n\n\
             Your token usage and balance: {url}\n",
            remaining = pack.remaining,
            tokens = pack.tokens,
            last = pack.expires_on,
            url = state.url("/account/reports/tokens"),
        );
        state
            .mailer
            .send(OutgoingMail {
                to,
                subject: format!(
                    "{} tokens expire on {} ({} day(s))",
                    pack.remaining, pack.expires_on, days_left
                ),
                text,
                attachments: Vec::new(),
            })
            .await?;
        state
            .store
            .record_reminder(&key, threshold, state.now())
            .await?;
        sent += 1;
    }
    Ok(sent)
}

/// Runs the day's jobs at start and every ten minutes after (a day's jobs run on the
/// first turn of that day; the other turns find them done).
pub async fn run_forever(portal: Portal) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        match run_daily(&portal, portal.today()).await {
            Ok(runs) => {
                for r in runs.iter().filter(|r| r.done.is_some()) {
                    tracing::info!(job = r.job, done = r.done, "daily job ran");
                }
            }
            Err(e) => tracing::warn!(error = %e, "the daily jobs failed; will retry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::due;

    #[test]
    fn reminders_fall_due_at_90_30_and_7_days_and_catch_up() {
        assert_eq!(due(120), None);
        assert_eq!(due(91), None);
        assert_eq!(due(90), Some(90));
        assert_eq!(due(31), Some(90));
        assert_eq!(due(30), Some(30));
        assert_eq!(due(8), Some(30));
        assert_eq!(due(7), Some(7));
        assert_eq!(due(0), Some(7));
        assert_eq!(due(-1), None);
    }
}
