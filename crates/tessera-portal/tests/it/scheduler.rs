//! The daily jobs with a clock the test moves: renewal reminders go out 90, 30 and 7
//! days before a period ends, once each, with two portal nodes on one database running
//! the same days at once; a day the portal was down is caught up.

use crate::support;

use chrono::{Duration, NaiveDate};
use support::TestPortal;
use tessera_portal::scheduler::run_daily;

/// A Paid order of `email`'s organization whose period ends on `end`.
async fn paid_order_ending(t: &TestPortal, email: &str, end: NaiveDate) -> String {
    let start = (end - Duration::days(365)).format("%Y-%m-%d").to_string();
    let end = end.format("%Y-%m-%d").to_string();
    let order = t.place_lan_order(email, 4, &start, &end).await;
    t.mark_paid_in_store(&order.id, &start, &end, "v4.public.key")
        .await;
    order.number
}

#[tokio::test]
async fn renewal_reminders_go_out_once_at_90_30_and_7_days_across_two_nodes() {
    for t in TestPortal::every_backend().await {
        let email = "renew@office.example";
        t.customer_with_company(email, "Renewing Office").await;
        let day0 = NaiveDate::from_ymd_opt(2031, 3, 1).unwrap();
        let end = day0 + Duration::days(100);
        let number = paid_order_ending(&t, email, end).await;
        // A second portal node on the same database.
        let other = tessera_portal::open(t.portal.config.clone(), t.vendor.clone())
            .await
            .unwrap();
        let reminders = |mails: Vec<support::Mail>| -> Vec<String> {
            mails
                .into_iter()
                .filter(|m| m.subject.contains("subscription ends on"))
                .map(|m| {
                    assert!(m.text.contains(&number), "{}", m.text);
                    m.subject
                })
                .collect()
        };

        let mut expected = Vec::new();
        // Every day from 100 days before the end to 5 days after, both nodes at once,
        // except days 40 to 25 before the end when the portal was down.
        for offset in 0..=105 {
            let day = day0 + Duration::days(offset);
            let left = (end - day).num_days();
            if (25..=40).contains(&left) {
                continue;
            }
            let (a, b) = tokio::join!(run_daily(&t.portal, day), run_daily(&other, day));
            let (a, b) = (a.unwrap(), b.unwrap());
            for job in 0..a.len() {
                let ran = [&a[job], &b[job]]
                    .iter()
                    .filter(|r| r.done.is_some())
                    .count();
                assert_eq!(ran, 1, "day {day}: one node runs each job: {a:?} {b:?}");
            }
            // The same day again finds it done.
            assert!(
                run_daily(&t.portal, day)
                    .await
                    .unwrap()
                    .iter()
                    .all(|r| r.done.is_none())
            );
            if left == 90 || left == 24 || left == 7 {
                expected.push(format!("({left} day(s))"));
            }
            let got = reminders(t.mails_to(email).await);
            assert_eq!(
                got.len(),
                expected.len(),
                "day {day} ({left} left): {got:?}"
            );
            for (g, e) in got.iter().zip(&expected) {
                assert!(g.ends_with(e.as_str()), "{g} vs {e}");
            }
        }
        assert_eq!(expected.len(), 3);
        drop(other);
    }
}

#[tokio::test]
async fn the_home_page_shows_upcoming_expirations_and_payments_of_ones_own_organization() {
    for t in TestPortal::every_backend().await {
        let email = "home@office.example";
        let mut buyer = t.customer_with_company(email, "Home Office").await;
        let today = chrono::Utc::now().date_naive();
        let soon = paid_order_ending(&t, email, today + Duration::days(30)).await;
        let later = paid_order_ending(&t, email, today + Duration::days(200)).await;
        let home = buyer.get("/").await;
        assert!(home.has("Upcoming expirations") && home.has("Upcoming payments"));
        let soon_line = format!("id=\"expiration-{soon}\"");
        assert!(home.has(&soon_line), "{}", home.text);
        assert!(home.has("in 30 day(s)"), "{}", home.text);
        assert!(
            !home.has(&format!("id=\"expiration-{later}\"")),
            "not 200 days ahead"
        );
        // Both renew automatically: each renewal is a payment to come.
        assert!(home.has(&format!("id=\"renewal-{soon}\"")), "{}", home.text);
        assert!(
            home.has(&format!("id=\"renewal-{later}\"")),
            "{}",
            home.text
        );

        // A Pending order is an upcoming payment, due after the payment term.
        buyer
            .add_to_cart("autocad", "autocad-1y", "2", None)
            .await
            .ok();
        buyer.checkout(false).await.ok();
        let home = buyer.get("/").await;
        let due = (today + Duration::days(t.portal.config.payment_days))
            .format("%Y-%m-%d")
            .to_string();
        assert!(home.has("id=\"payment-ORD-"), "{}", home.text);
        assert!(home.has(&format!("due {due}")), "{}", home.text);

        // Another organization sees none of it; a visitor sees neither section.
        let mut other = t.customer("else@else.example", "Else").await;
        let theirs = other.get("/").await;
        assert!(!theirs.has(&soon_line) && theirs.has("Nothing to pay."));
        let anonymous = t.browser().get("/").await;
        assert!(!anonymous.has("Upcoming expirations"));
    }
}

/// The text of the list item with this id, its links' tags left out.
fn item_text(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("<li id=\"{id}\""))
        .unwrap_or_else(|| panic!("no item {id}: {html}"));
    let item = &html[at..at + html[at..].find("</li>").unwrap()];
    let mut text = String::new();
    let mut in_tag = false;
    for c in item.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&nbsp;", " ").replace("&#160;", " ")
}

/// Seed 004: "you can also view which team the subscription is attached to through the
/// Upcoming Payments page". A subscription bought online shows its next automatic renewal
/// (date, product, seats, amount, team) long before it ends; a Pending order its team.
#[tokio::test]
async fn upcoming_payments_list_the_next_automatic_renewal_and_each_pending_payment_with_its_team()
{
    for t in TestPortal::every_backend().await {
        let (mut buyer, number, team) = t.paid_named_order("pay@office.example", "3").await;
        let team_name = t.portal.store.team(&team).await.unwrap().unwrap().name;
        let order = t.order(&number).await;
        let home = buyer.get("/").await.ok();
        let line = item_text(&home.text, &format!("renewal-{number}"));
        assert!(
            line.contains(&format!("renews automatically on {}", order.end_date)),
            "{line}"
        );
        assert!(
            line.contains("Share (named user), 1 year: 3 user(s)"),
            "{line}"
        );
        assert!(line.contains(&format!("Team: {team_name}")), "{line}");
        // 3 seats at the order's price with its tax: what the renewal's invoice will say.
        let gross = tessera_portal::money::Money::new(order.gross_minor, order.currency.clone());
        assert!(line.contains(&gross.to_string()), "{line} vs {gross}");
        assert!(!home.has("Nothing to pay."));

        // A Pending order of more seats for the team: its bank transfer, with the team.
        let added = buyer.add_share_to_cart("2", Some(&team)).await;
        assert!(added.status.is_redirection(), "{}", added.text);
        let pending = buyer.place_order().await;
        let home = buyer.get("/").await.ok();
        let line = item_text(&home.text, &format!("payment-{pending}"));
        assert!(line.contains("by bank transfer, due"), "{line}");
        assert!(line.contains(&format!("Team: {team_name}")), "{line}");

        // Auto-renew off: no renewal to pay.
        buyer.get("/account/orders").await.ok();
        let off = buyer
            .submit(
                &format!("/account/orders/{number}/auto-renew"),
                &[("on", "off")],
            )
            .await;
        assert!(off.status.is_redirection(), "{}", off.text);
        let home = buyer.get("/").await.ok();
        assert!(
            !home.has(&format!("id=\"renewal-{number}\"")),
            "{}",
            home.text
        );
    }
}

#[tokio::test]
async fn an_auto_renewing_subscription_gets_its_renewal_order_at_the_end_of_its_period() {
    for t in TestPortal::every_backend().await {
        let email = "auto@office.example";
        let mut buyer = t.customer_with_company(email, "Auto Office").await;
        let end = NaiveDate::from_ymd_opt(2031, 6, 1).unwrap();
        let renewing = paid_order_ending(&t, email, end).await;
        let stopping = paid_order_ending(&t, email, end).await;
        // The customer turns auto-renew off for one of them on the Orders page.
        buyer.get("/account/orders").await;
        let page = buyer
            .submit(
                &format!("/account/orders/{stopping}/auto-renew"),
                &[("on", "off")],
            )
            .await;
        assert_eq!(page.status, axum::http::StatusCode::SEE_OTHER);
        let orders = buyer.get("/account/orders").await;
        assert_eq!(
            support::text_of(&orders.text, &format!("auto-renew-{stopping}")).as_deref(),
            Some("Off")
        );
        assert_eq!(
            support::text_of(&orders.text, &format!("auto-renew-{renewing}")).as_deref(),
            Some("On")
        );

        let other = tessera_portal::open(t.portal.config.clone(), t.vendor.clone())
            .await
            .unwrap();
        // The day before the end nothing is renewed; on the day, once, by one node.
        run_daily(&t.portal, end - Duration::days(1)).await.unwrap();
        assert!(t.order(&renewing).await.renewed_by.is_none());
        let (a, b) = tokio::join!(run_daily(&t.portal, end), run_daily(&other, end));
        let placed: usize = a
            .unwrap()
            .iter()
            .chain(b.unwrap().iter())
            .filter(|r| r.job == "renewals")
            .filter_map(|r| r.done)
            .sum();
        assert_eq!(placed, 1);
        run_daily(&t.portal, end + Duration::days(1)).await.unwrap();

        let original = t.order(&renewing).await;
        let renewal_number = original.renewed_by.clone().expect("renewed");
        let renewal = t.order(&renewal_number).await;
        assert_eq!(renewal.status.as_str(), "Pending");
        assert_eq!(renewal.renews.as_deref(), Some(renewing.as_str()));
        assert_eq!(
            renewal.pool_id, original.pool_id,
            "the new key replaces the pool"
        );
        assert_eq!(renewal.start_date, "2031-06-01");
        assert_eq!(renewal.end_date, "2032-06-01");
        assert_eq!(renewal.seats, original.seats);
        assert_eq!(renewal.gross_minor, original.gross_minor);
        let stopped = t.order(&stopping).await;
        assert!(stopped.renewed_by.is_none(), "auto-renew off: not renewed");
        // Its invoice is e-mailed as for any order.
        let mails = t.mails_to(email).await;
        let invoice = mails
            .iter()
            .find(|m| m.subject.contains(&renewal_number))
            .expect("the renewal's invoice e-mail");
        assert_eq!(invoice.attachments.len(), 1);
        // The Orders page tells which order renews which, and offers no second renewal.
        let orders = buyer.get("/account/orders").await;
        assert!(orders.has(&format!("id=\"renewed-by-{renewing}\"")));
        assert!(orders.has(&format!("id=\"renews-{renewal_number}\"")));
        assert!(!orders.has(&format!("id=\"renew-{renewing}\"")));
        drop(other);
    }
}

#[tokio::test]
async fn renew_now_is_offered_within_90_days_of_the_end_once_and_paying_it_keeps_the_pool() {
    for t in TestPortal::every_backend().await {
        let email = "early@office.example";
        let mut buyer = t.customer_with_company(email, "Early Office").await;
        let today = chrono::Utc::now().date_naive();
        let far = paid_order_ending(&t, email, today + Duration::days(120)).await;
        let near = paid_order_ending(&t, email, today + Duration::days(60)).await;
        let orders = buyer.get("/account/orders").await;
        assert!(
            !orders.has(&format!("id=\"renew-{far}\"")),
            "not 120 days ahead"
        );
        assert!(
            orders.has(&format!("id=\"renew-{near}\"")),
            "{}",
            orders.text
        );
        let refused = buyer
            .submit(&format!("/account/orders/{far}/renew"), &[])
            .await;
        assert_eq!(refused.status, axum::http::StatusCode::CONFLICT);

        let placed = buyer
            .submit(&format!("/account/orders/{near}/renew"), &[])
            .await;
        assert_eq!(
            placed.status,
            axum::http::StatusCode::SEE_OTHER,
            "{}",
            placed.text
        );
        buyer.get("/account/orders").await;
        let again = buyer
            .submit(&format!("/account/orders/{near}/renew"), &[])
            .await;
        assert_eq!(again.status, axum::http::StatusCode::CONFLICT);
        let original = t.order(&near).await;
        let renewal_number = original.renewed_by.clone().unwrap();

        // Another organization cannot renew it.
        let mut other = t.customer("nosy@else.example", "Nosy").await;
        other.get("/account/orders").await;
        let nosy = other
            .submit(&format!("/account/orders/{near}/renew"), &[])
            .await;
        assert_eq!(nosy.status, axum::http::StatusCode::NOT_FOUND);

        // Staff mark the renewal Paid from the end of the old period: the activation key
        // for the registration key keeps the pool id and carries the new term.
        let renewal = t.order(&renewal_number).await;
        assert_eq!(renewal.pool_id, original.pool_id);
        let start = original.end_date.clone();
        t.mark_paid(&renewal_number, &start).await;
        let renewal = t.order(&renewal_number).await;
        assert_eq!(renewal.status.as_str(), "Paid");
        assert_eq!(renewal.start_date, start);
        let key = tessera_token::verify_activation(
            t.vendor.verifying_key(),
            renewal.activation_key.as_deref().unwrap(),
        )
        .unwrap();
        assert_eq!(key.claims.pools.len(), 1);
        assert_eq!(key.claims.pools[0].id, original.pool_id);
        assert_eq!(
            key.claims.pools[0]
                .end
                .date_naive()
                .format("%Y-%m-%d")
                .to_string(),
            renewal.end_date
        );
    }
}

#[tokio::test]
async fn token_balances_about_to_expire_are_reminded_and_shown_on_the_home_page() {
    for t in TestPortal::every_backend().await {
        let email = "tokens@office.example";
        let mut buyer = t.customer(email, "Token Office").await;
        let user = t.user(email).await;
        let day0 = NaiveDate::from_ymd_opt(2031, 3, 1).unwrap();
        let last = (day0 + Duration::days(100)).format("%Y-%m-%d").to_string();
        t.grant_tokens(&user.organization_id, 500, &last).await;
        let reminders = |mails: Vec<support::Mail>| -> usize {
            mails
                .iter()
                .filter(|m| m.subject.contains("tokens expire on"))
                .count()
        };
        for offset in 0..=101 {
            run_daily(&t.portal, day0 + Duration::days(offset))
                .await
                .unwrap();
            let left = 100 - offset;
            let expected = [90, 30, 7].iter().filter(|&&d| left <= d).count();
            assert_eq!(
                reminders(t.mails_to(email).await),
                expected,
                "{left} day(s) left"
            );
        }

        // A pack ending within 90 days of today is an upcoming expiration.
        let soon = (chrono::Utc::now().date_naive() + Duration::days(20))
            .format("%Y-%m-%d")
            .to_string();
        let pack = t.grant_tokens(&user.organization_id, 40, &soon).await;
        let home = buyer.get("/").await;
        assert!(
            home.has(&format!("id=\"expiration-tokens-{}\"", pack.id)),
            "{}",
            home.text
        );
        assert!(home.has("40 of 40 tokens</a> expire on"), "{}", home.text);
        // Seed 004: "View details" opens the purchase page of more Flex tokens.
        assert!(
            home.has(&format!(
                "<a href=\"/buy/tokens\" id=\"details-tokens-{}\">View details</a>",
                pack.id
            )),
            "{}",
            home.text
        );
        let purchase = buyer.get("/buy/tokens").await.ok();
        assert!(purchase.has("Flex tokens"), "{}", purchase.text);
    }
}
