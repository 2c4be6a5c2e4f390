//! Reporting on a generated month of usage, on SQLite and PostgreSQL. A fixed seed makes
//! token uses (charged through the store's real charge, with their own clock), named-user
//! sign-in days and web license server sessions of the organization for 30 days; the test
//! computes what the reports must say on its own (its own model of the 24-hour windows,
//! its own day counting) and compares the pages' tables and the CSV exports with it, for
//! all teams and for one team, over the whole month and over a part of it. Insights shows
//! seats owned against seats assigned; the reports refuse a team of another organization
//! and a bad period; a team's plain user sees no reports.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use support::{Browser, TestPortal, subscription_id};
use tessera_store::SessionRecord;
use tessera_store::portal::{TokenOutcome, TokenUse};

/// xorshift64*: the same month every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#43;", "+")
        .replace("&#64;", "@")
        .replace("&#x40;", "@")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .trim()
        .to_owned()
}

/// The header and body cells of the page's report table.
fn table(html: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let Some(at) = html.find("id=\"report-table\"") else {
        assert!(html.contains("id=\"report-empty\""), "{html}");
        return (Vec::new(), Vec::new());
    };
    let t = &html[at..html[at..].find("</table>").unwrap() + at];
    let cells = |part: &str, tag: &str| -> Vec<String> {
        let open = format!("<{tag} ");
        let close = format!("</{tag}>");
        let mut out = Vec::new();
        let mut rest = part;
        while let Some(i) = rest.find(&open) {
            let s = &rest[i..];
            let gt = s.find('>').unwrap() + 1;
            let end = s.find(&close).unwrap();
            out.push(unescape(&s[gt..end]));
            rest = &s[end..];
        }
        out
    };
    let head = &t[t.find("<thead>").unwrap()..t.find("</thead>").unwrap()];
    let body = &t[t.find("<tbody>").unwrap()..t.find("</tbody>").unwrap()];
    let rows = body.split("<tr").skip(1).map(|r| cells(r, "td")).collect();
    (cells(head, "th"), rows)
}

fn csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let split = |l: &str| l.split(',').map(str::to_owned).collect::<Vec<_>>();
    let head = split(lines.next().unwrap());
    (head, lines.map(split).collect())
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn ms(d: NaiveDate, minutes: i64) -> i64 {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
        .timestamp_millis()
        + minutes * 60_000
}

/// The page's table and the CSV export of the same filter, checked to agree on the
/// columns; answers the rows.
async fn page_and_csv(b: &mut Browser, kind: &str, query: &str) -> Vec<Vec<String>> {
    let page = b.get(&format!("/account/reports/{kind}?{query}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let link = format!("href=\"/account/reports/{kind}.csv?{query}\"");
    assert!(
        page.text.replace("&#38;", "&").contains(&link),
        "no CSV link {link} in {}",
        page.text
    );
    for label in [
        "<label for=\"team\">Team</label>",
        "<label for=\"from\">From</label>",
        "<label for=\"to\">To</label>",
    ] {
        assert!(page.has(label), "{label}");
    }
    let (head, rows) = table(&page.text);
    let export = b.get(&format!("/account/reports/{kind}.csv?{query}")).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    assert!(export.content_type.starts_with("text/csv"));
    assert!(
        export.disposition.contains("attachment"),
        "{}",
        export.disposition
    );
    let (csv_head, csv_rows) = csv(&export.text);
    if !head.is_empty() {
        assert_eq!(head, csv_head, "the CSV has the columns shown");
    }
    assert_eq!(rows, csv_rows, "the CSV has the rows shown");
    rows
}

#[tokio::test]
async fn a_generated_month_gives_the_figures_computed_independently() {
    for t in TestPortal::every_backend().await {
        let buyer_email = "boss@report.example";
        let (mut buyer, _, team1) = t.paid_named_order(buyer_email, "3").await;
        let sub = subscription_id(&buyer.get(&format!("/account/teams/{team1}")).await.text);
        let _ada = t.invited(&mut buyer, &team1, "ada@report.example").await;
        let assigned = buyer.assign_seat(&team1, &sub, "ada@report.example").await;
        assert_eq!(assigned.status, StatusCode::SEE_OTHER, "{}", assigned.text);
        // A second team, with one person of its own.
        buyer.get("/account/teams").await;
        let made = buyer.submit("/account/teams", &[("name", "Design")]).await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
        let team2 = support::first_id_after(made.location.as_deref().unwrap(), "/account/teams/");
        let _ben = t.invited(&mut buyer, &team2, "ben@report.example").await;
        let mut cid = t.invited(&mut buyer, &team1, "cid@report.example").await;

        let store = &t.portal.store;
        let org = t.organization_of(buyer_email).await;
        let mut people = Vec::new();
        for e in [
            buyer_email,
            "ada@report.example",
            "ben@report.example",
            "cid@report.example",
        ] {
            people.push(t.user(e).await);
        }
        let pack = 100_000;
        t.grant_tokens(
            &org.id,
            pack,
            &day(Utc::now().date_naive() + Duration::days(400)),
        )
        .await;

        // The month: 30 days ending yesterday.
        let today = Utc::now().date_naive();
        let first = today - Duration::days(30);
        let last = today - Duration::days(1);
        let rates = &t.portal.config.tokens.rates;
        let products = ["autocad", "revit", "share"];
        let mut rng = Rng(0x5EED_2026_1130);
        // Token uses, in time order: (at, person, product, free).
        let mut uses = Vec::new();
        let mut named_days: BTreeSet<(String, String, NaiveDate)> = BTreeSet::new();
        let mut sessions = Vec::new();
        let mut d = first;
        while d <= last {
            for p in &people {
                for product in products {
                    for _ in 0..rng.below(3) {
                        let at = ms(d, rng.below(24 * 60) as i64);
                        uses.push((at, p.clone(), product, rng.chance(10)));
                    }
                }
                if rng.chance(50) {
                    named_days.insert((p.email.clone(), "share".to_owned(), d));
                }
                if rng.chance(30) {
                    let start = ms(d, rng.below(24 * 60) as i64);
                    let end = start + rng.below(30 * 60) as i64 * 60_000;
                    let product = products[rng.below(2) as usize];
                    sessions.push((p.email.clone(), product, start, end));
                }
            }
            d += Duration::days(1);
        }
        uses.sort_by_key(|u| u.0);

        // The expected charges: the model of the rules, on its own.
        let mut paid_until: BTreeMap<(String, &str), i64> = BTreeMap::new();
        let mut expected_tokens: BTreeMap<(String, String, String), i64> = BTreeMap::new();
        let mut charged_total = 0;
        for (at, p, product, free) in &uses {
            let outcome = store
                .use_tokens(&TokenUse {
                    organization_id: &org.id,
                    user_id: &p.id,
                    email: &p.email,
                    product,
                    rate: rates[*product],
                    free: *free,
                    today: &day(Utc.timestamp_millis_opt(*at).unwrap().date_naive()),
                    now: *at,
                    low_balance: 0,
                })
                .await
                .unwrap();
            let key = (p.id.clone(), *product);
            let paid = paid_until.get(&key).is_some_and(|until| *at < *until);
            match outcome {
                TokenOutcome::AlreadyPaid { .. } => assert!(paid),
                TokenOutcome::Free { .. } => assert!(!paid && *free),
                TokenOutcome::Charged { .. } => {
                    assert!(!paid && !*free);
                    paid_until.insert(key, at + 24 * 3600 * 1000);
                    let on = day(Utc.timestamp_millis_opt(*at).unwrap().date_naive());
                    *expected_tokens
                        .entry((on, p.email.clone(), product.to_string()))
                        .or_default() += rates[*product];
                    charged_total += rates[*product];
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(charged_total > 0 && expected_tokens.len() > 50);
        for (email, product, d) in &named_days {
            let p = people.iter().find(|p| &p.email == email).unwrap();
            store
                .record_seat_use(
                    &org.id,
                    &p.id,
                    email,
                    std::slice::from_ref(product),
                    &day(*d),
                )
                .await
                .unwrap();
        }
        for (i, (email, product, start, end)) in sessions.iter().enumerate() {
            store
                .record_session(
                    &org.slug,
                    &SessionRecord {
                        lease_id: format!("lease-{i}"),
                        pool_id: "pool".into(),
                        kind: "lease".into(),
                        product: product.to_string(),
                        user_name: email.clone(),
                        host: "pc".into(),
                        start_at: *start,
                        end_at: *end,
                        end_reason: "checked_in".into(),
                    },
                )
                .await
                .unwrap();
        }

        let expected_seats = |from: NaiveDate, to: NaiveDate, who: &[&str]| {
            let mut days: BTreeMap<(String, String), BTreeSet<NaiveDate>> = BTreeMap::new();
            for (email, product, d) in &named_days {
                if *d >= from && *d <= to {
                    days.entry((email.clone(), product.clone()))
                        .or_default()
                        .insert(*d);
                }
            }
            for (email, product, start, end) in &sessions {
                let mut d = Utc.timestamp_millis_opt(*start).unwrap().date_naive();
                let until = Utc.timestamp_millis_opt(*end).unwrap().date_naive();
                while d <= until {
                    if d >= from && d <= to {
                        days.entry((email.clone(), product.to_string()))
                            .or_default()
                            .insert(d);
                    }
                    d += Duration::days(1);
                }
            }
            days.into_iter()
                .filter(|((e, _), _)| who.contains(&e.as_str()))
                .map(|((e, p), set)| vec![e, p, set.len().to_string()])
                .collect::<Vec<_>>()
        };
        let expected_token_rows = |from: NaiveDate, to: NaiveDate, who: &[&str]| {
            expected_tokens
                .iter()
                .filter(|((d, e, _), _)| {
                    d.as_str() >= day(from).as_str()
                        && d.as_str() <= day(to).as_str()
                        && who.contains(&e.as_str())
                })
                .map(|((d, e, p), n)| vec![d.clone(), e.clone(), p.clone(), n.to_string()])
                .collect::<Vec<_>>()
        };
        let everyone = [
            buyer_email,
            "ada@report.example",
            "ben@report.example",
            "cid@report.example",
        ];
        // Team Design: its contract manager (the buyer) and Ben.
        let design = [buyer_email, "ben@report.example"];
        let middle = (first + Duration::days(10), first + Duration::days(19));
        for (team, who) in [("", &everyone[..]), (team2.as_str(), &design[..])] {
            for (from, to) in [(first, last), middle] {
                let query = format!("team={team}&from={}&to={}", day(from), day(to));
                let seats = page_and_csv(&mut buyer, "seats", &query).await;
                assert_eq!(seats, expected_seats(from, to, who), "Seat Usage {query}");
                let tokens = page_and_csv(&mut buyer, "tokens", &query).await;
                assert_eq!(
                    tokens,
                    expected_token_rows(from, to, who),
                    "Token Usage {query}"
                );
            }
        }
        let page = buyer.get("/account/reports/tokens").await;
        assert_eq!(
            support::text_of(&page.text, "token-balance-value"),
            Some((pack - charged_total).to_string())
        );
        assert!(page.has("<svg class=\"chart\""), "a chart");
        assert!(page.has("id=\"menu-reporting\""));

        // Insights: Share in the first team, 3 seats, the buyer and Ada assigned.
        let rows = page_and_csv(
            &mut buyer,
            "insights",
            &format!("team={team1}&from={}&to={}", day(first), day(last)),
        )
        .await;
        let ends = t.named_subscription(&sub).await.end_date;
        let team_name = store.team(&team1).await.unwrap().unwrap().name;
        let expected: Vec<String> = vec![
            team_name,
            "Share (named user)".into(),
            ends,
            "3".into(),
            "2".into(),
            "1".into(),
            "0".into(),
        ];
        assert_eq!(rows, vec![expected]);
        let design_rows = page_and_csv(
            &mut buyer,
            "insights",
            &format!("team={team2}&from={}&to={}", day(first), day(last)),
        )
        .await;
        assert!(design_rows.is_empty(), "{design_rows:?}");

        // Refusals: another organization's team, a bad period, a plain user.
        let mut other = t.customer("zed@other.example", "Other").await;
        let r = other
            .get(&format!("/account/reports/seats?team={team1}"))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = buyer.get("/account/reports/seats?from=2026-13-01").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = buyer
            .get("/account/reports/tokens.csv?from=2026-05-02&to=2026-05-01")
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = buyer
            .get("/account/reports/tokens?from=2024-01-01&to=2026-01-01")
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = cid.get("/account/reports/seats").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
}
