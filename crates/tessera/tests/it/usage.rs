//! Usage reports on generated months of use: the figures the server's usage page shows
//! equal the ones computed here independently, and its advice follows from them.

use crate::common;

use common::*;
use tessera_store::{DenialRecord, SessionRecord, Store};

const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;

/// A deterministic generator of sessions, minute-aligned.
struct Gen(u64);

impl Gen {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Peak distinct (user, host) seats in use per day, by sampling every minute.
fn daily_peaks_by_sampling(sessions: &[SessionRecord], month_from: i64, now: i64) -> Vec<u32> {
    (0..30)
        .map(|d| {
            let start = month_from + d * DAY;
            let mut peak = 0;
            let mut t = start;
            while t < (start + DAY).min(now) {
                let mut seats: Vec<(&str, &str)> = sessions
                    .iter()
                    .filter(|s| s.start_at <= t && t < s.end_at)
                    .map(|s| (s.user_name.as_str(), s.host.as_str()))
                    .collect();
                seats.sort();
                seats.dedup();
                peak = peak.max(seats.len() as u32);
                t += MIN;
            }
            peak
        })
        .collect()
}

/// The `title`s of one chart's bars: (label, value).
fn bars(chart: &str) -> Vec<(String, u32)> {
    chart
        .split("<title>")
        .skip(1)
        .filter_map(|t| {
            let title = t.split("</title>").next()?;
            let (label, value) = title.rsplit_once(": ")?;
            Some((label.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn the_usage_page_shows_daily_peaks_denials_and_advice_computed_from_a_month_of_sessions() {
    let vendor = Vendor::new();
    let mut p = pool("p", &["acad"], 4, 0);
    p.start = chrono::Utc::now() - chrono::Duration::days(60);
    let mut server = server_with(&vendor, ServerOpts::default(), vec![p]);
    server.terminate();

    let now = chrono::Utc::now().timestamp_millis();
    let today = now - now.rem_euclid(DAY);
    let month_from = today - 29 * DAY;
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut sessions = Vec::new();
    for i in 0..2000 {
        // Sessions over the last 40 days (some before the month: they must not count).
        let start = today - 40 * DAY + (g.next((40 * DAY / MIN) as u64) as i64) * MIN;
        let end = (start + (5 + g.next(240) as i64) * MIN).min(now - MIN);
        if end <= start {
            continue;
        }
        let who = g.next(9);
        sessions.push(SessionRecord {
            lease_id: format!("gen-{i}"),
            pool_id: "p".into(),
            kind: "lease".into(),
            product: "acad".into(),
            user_name: format!("user{}", who % 5),
            host: format!("host{}", who / 5),
            start_at: start,
            end_at: end,
            end_reason: "checked_in".into(),
        });
    }
    let denied_days = [3i64, 17, 17, 25];
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open_sqlite(&server.data.join("tessera.db"))
            .await
            .unwrap();
        for s in &sessions {
            store.record_session("lan", s).await.unwrap();
        }
        for (i, d) in denied_days.iter().enumerate() {
            let denial = DenialRecord {
                at: month_from + d * DAY + 3_600_000,
                product: "acad".into(),
                user_name: format!("late{i}"),
                host: "pc".into(),
                code: "no_seat_available".into(),
                detail: "all 4 seats of `acad` are in use".into(),
            };
            store.record_denial("lan", &denial).await.unwrap();
        }
        store.close().await;
    });
    server.restart();

    let page = server.admin_page("/usage");
    let charts: Vec<&str> = page.split("<svg").skip(1).collect();
    assert_eq!(charts.len(), 3, "daily, hourly and denials charts");
    let daily = bars(charts[0]);
    let expected = daily_peaks_by_sampling(&sessions, month_from, now);
    assert_eq!(daily.iter().map(|(_, v)| *v).collect::<Vec<_>>(), expected);
    assert_eq!(
        daily[0].0,
        chrono::DateTime::from_timestamp_millis(month_from)
            .unwrap()
            .format("%Y-%m-%d")
            .to_string()
    );
    let denials = bars(charts[2]);
    for (day, (_, n)) in denials.iter().enumerate() {
        let want = denied_days.iter().filter(|d| **d == day as i64).count() as u32;
        assert_eq!(*n, want, "denials on day {day}");
    }
    assert!(
        page.contains("acad looks too small: 4 checkout(s) were refused"),
        "{}",
        &page[..2000.min(page.len())]
    );
    // The hourly chart has a bar per hour of the week.
    assert_eq!(bars(charts[1]).len(), 168);
    // The same sessions come out of the CSV export.
    let (status, usage) = server.api().get(
        &format!(
            "/api/v1/admin/usage?from={}",
            chrono::DateTime::from_timestamp_millis(month_from)
                .unwrap()
                .to_rfc3339()
                .replace('+', "%2B")
        ),
        Some(&server.admin_token()),
    );
    assert_eq!(status, 200);
    let in_month = sessions.iter().filter(|s| s.end_at >= month_from).count();
    assert_eq!(usage["sessions"].as_array().unwrap().len(), in_month);
}

#[test]
fn a_pool_used_at_most_half_is_called_larger_than_needed() {
    let vendor = Vendor::new();
    let mut p = pool("big", &["revit"], 10, 0);
    p.start = chrono::Utc::now() - chrono::Duration::days(40);
    let server = server_with(&vendor, ServerOpts::default(), vec![p]);
    for i in 0..3 {
        let (status, _) = server
            .api()
            .checkout("revit", &format!("u{i}"), "pc", &format!("c{i}"));
        assert_eq!(status, 201);
    }
    let page = server.admin_page("/usage");
    assert!(
        page.contains("revit looks larger than needed: at most 3 of its 10 seats"),
        "{page}"
    );
}
