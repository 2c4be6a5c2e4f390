//! The daily jobs with a clock the test moves: renewal reminders go out 90, 30 and 7
//! days before a period ends, once each, with two portal nodes on one database running
//! the same days at once; a day the portal was down is caught up.

mod support;

use chrono::{Duration, NaiveDate};
use support::TestPortal;
use tessera_portal::scheduler::run_daily;
use tessera_store::portal::{NewOrder, PaidOrder, ServerKind};

/// A Paid order of `email`'s organization whose period ends on `end`.
async fn paid_order_ending(t: &TestPortal, email: &str, end: NaiveDate) -> String {
    let store = &t.portal.store;
    let user = store.user_by_email(email).await.unwrap().unwrap();
    let org = store
        .organization(&user.organization_id)
        .await
        .unwrap()
        .unwrap();
    let start = (end - Duration::days(365)).format("%Y-%m-%d").to_string();
    let end = end.format("%Y-%m-%d").to_string();
    let order = NewOrder {
        cart_item_id: None,
        user_id: user.id.clone(),
        organization_id: org.id.clone(),
        customer_email: user.email.clone(),
        company: org.company(),
        option_id: "autocad-1y".into(),
        product_name: "AutoCAD plugins".into(),
        option_name: "1 year".into(),
        licensed: vec!["autocad".into()],
        months: 12,
        borrow_max_hours: 72,
        seats: 4,
        currency: "EUR".into(),
        unit_price_minor: 10_000,
        tax_rate_bp: 2_000,
        net_minor: 40_000,
        tax_minor: 8_000,
        gross_minor: 48_000,
        contract_and_acts: false,
        server_kind: ServerKind::Lan,
        registration_key: Some("TSR1-TEST".into()),
        start_date: start.clone(),
        end_date: end.clone(),
    };
    let placed = store
        .place_orders(&[order], "nobody", t.portal.now())
        .await
        .unwrap()
        .unwrap();
    let order = &placed[0];
    assert!(
        store
            .mark_order_paid(
                &order.id,
                &PaidOrder {
                    start_date: &start,
                    end_date: &end,
                    activation_key: Some("v4.public.key"),
                },
                t.portal.now(),
            )
            .await
            .unwrap()
    );
    order.number.clone()
}

#[tokio::test]
async fn renewal_reminders_go_out_once_at_90_30_and_7_days_across_two_nodes() {
    for t in TestPortal::every_backend().await {
        let email = "renew@office.example";
        let mut buyer = t.customer(email, "Renewing Office").await;
        TestPortal::add_company_info(&mut buyer, "Renewing Office Ltd", email).await;
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
            let ran = [&a[0], &b[0]].iter().filter(|r| r.done.is_some()).count();
            assert_eq!(ran, 1, "day {day}: one node runs the job: {a:?} {b:?}");
            // The same day again finds it done.
            assert_eq!(run_daily(&t.portal, day).await.unwrap()[0].done, None);
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
        let mut buyer = t.customer(email, "Home Office").await;
        TestPortal::add_company_info(&mut buyer, "Home Office Ltd", email).await;
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
        assert!(home.has("Nothing to pay."));

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
