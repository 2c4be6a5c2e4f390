//! Subscriptions and Contracts, resellers, seat changes and team moves through the
//! portal's pages, on SQLite and PostgreSQL: the page lists each subscription with how
//! it was bought and its team, and the purchase history with invoices; a partial renewal
//! leaves the team over-assigned until an admin chooses who loses access (no new
//! assignment meanwhile); a reseller orders seats for a new customer's team by its name
//! and owner's e-mail, the owner is invited and e-mailed, and cannot renew online;
//! moving a subscription to another team unassigns its people.

use crate::support;

use axum::http::StatusCode;
use support::{Browser, PASSWORD, TestPortal, subscription_id};

/// A reseller's browser: signed up, with the company info of Partner GmbH.
async fn reseller(t: &TestPortal) -> Browser {
    let mut reseller = t.customer("reseller@partner.example", "Partner").await;
    TestPortal::add_company_info(&mut reseller, "Partner GmbH", "billing@partner.example").await;
    reseller
}

/// On the Reseller page, the reseller orders 2 Share seats for a team "Design Studio"
/// whose owner is owner@studio.example.
async fn order_for_design_studio(reseller: &mut Browser) {
    reseller.get("/reseller").await.ok();
    let placed = reseller
        .submit(
            "/reseller/orders",
            &[
                ("option", "share-1y"),
                ("users", "2"),
                ("team", "Design Studio"),
                ("owner_email", "owner@studio.example"),
            ],
        )
        .await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text);
}

#[tokio::test]
async fn the_page_lists_subscriptions_and_a_partial_renewal_over_assigns_until_an_admin_chooses() {
    for t in TestPortal::every_backend().await {
        // The year started eleven months ago: its renewal is open (from 90 days before
        // the end).
        let eleven_months_ago = chrono::Utc::now()
            .date_naive()
            .checked_sub_months(chrono::Months::new(11))
            .unwrap()
            .format("%Y-%m-%d")
            .to_string();
        let (mut buyer, number, team) = t
            .paid_named_order_from("cm@office.example", "3", &eleven_months_ago)
            .await;
        let page = buyer.get(&format!("/account/teams/{team}")).await.ok();
        let sub = subscription_id(&page.text);
        for who in ["a@office.example", "b@office.example"] {
            let r = buyer.assign_seat(&team, &sub, who).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        }

        // The page: product, seats, model, term, renewal date, auto-renew, bought, team.
        let page = buyer.get("/account/subscriptions").await.ok();
        assert!(page.has("id=\"menu-subscriptions\""));
        let row = support::text_of(&page.text, &format!("contract-{sub}"));
        assert!(row.is_some(), "{}", page.text);
        let at = page.text.find(&format!("id=\"contract-{sub}\"")).unwrap();
        let row = &page.text[at..at + page.text[at..].find("</tr>").unwrap()];
        for want in [
            "Share (named user)",
            ">3 <",
            "Named user",
            "Online",
            "Office Ltd team",
            ">On<",
            &number,
        ] {
            assert!(row.contains(want), "{want} missing in {row}");
        }
        let invoice = format!("/account/orders/{number}/documents/invoice");
        assert!(page.has(&invoice), "{}", page.text);
        let pdf = buyer.get(&invoice).await;
        assert_eq!(pdf.status, StatusCode::OK);
        assert!(pdf.bytes.starts_with(b"%PDF"));

        // A partial renewal to 1 seat through "Renew now" on the Orders page (its seats
        // field offers at most the 3 of now), Paid: 3 people hold seats of 1.
        let orders = buyer.get("/account/orders").await.ok();
        assert!(
            orders.has(&format!(
                "id=\"renew-seats-{number}\" name=\"seats\" min=\"1\" max=\"3\""
            )),
            "{}",
            orders.text
        );
        let renew = format!("/account/orders/{number}/renew");
        for (seats, says) in [
            ("9", "keeps at most the 3 seat(s)"),
            ("0", "Renew at least 1 seat"),
            ("three", "enter a whole number"),
        ] {
            let refused = buyer.submit(&renew, &[("seats", seats)]).await;
            assert!(
                refused.status.is_client_error(),
                "{seats}: {}",
                refused.text
            );
            assert!(
                refused.has(says),
                "{seats}: {says} missing in {}",
                refused.text
            );
        }
        let placed = buyer.submit(&renew, &[("seats", "1")]).await;
        assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text);
        let renewal = placed
            .location
            .as_deref()
            .and_then(|l| l.strip_prefix("/account/orders?placed="))
            .expect("the renewal order's number")
            .to_owned();
        let renewal_order = t.order(&renewal).await;
        assert_eq!(renewal_order.seats, 1);
        let original = t.order(&number).await;
        assert_eq!(renewal_order.start_date, original.end_date);
        t.mark_paid(&renewal, &original.end_date).await;
        let page = buyer.get(&format!("/account/teams/{team}")).await.ok();
        let report = support::text_of(&page.text, &format!("over-text-{sub}")).expect(&page.text);
        assert!(
            report.contains("1 seat(s) and 3 people hold one: 2 too many"),
            "{report}"
        );
        // Reporting's Insights shows the same over-assignment, on the page and in the CSV.
        let insights = buyer.get("/account/reports/insights").await.ok();
        assert!(insights.has("Over-assignment report"), "{}", insights.text);
        let csv = buyer.get("/account/reports/insights.csv").await.ok();
        let row = csv
            .text
            .lines()
            .find(|l| l.ends_with(",1,3,0,2"))
            .unwrap_or_else(|| panic!("no over-assigned row in {}", csv.text));
        assert!(row.contains("Share"), "{row}");

        // No new assignment meanwhile, with a clear message.
        let refused = buyer.assign_seat(&team, &sub, "c@office.example").await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
        assert!(refused.has("over-assigned"), "{}", refused.text);

        // The admin chooses who loses access.
        let a = t.user("a@office.example").await;
        let b = t.user("b@office.example").await;
        buyer.get(&format!("/account/teams/{team}")).await;
        let none = buyer
            .submit(
                &format!("/account/teams/{team}/subscriptions/{sub}/release"),
                &[],
            )
            .await;
        assert!(none.status.is_client_error(), "{}", none.text);
        assert!(none.has("Choose who loses access"), "{}", none.text);
        let one = buyer
            .submit(
                &format!("/account/teams/{team}/subscriptions/{sub}/release"),
                &[("user", &a.id)],
            )
            .await;
        assert_eq!(one.status, StatusCode::SEE_OTHER, "{}", one.text);
        let page = buyer.get(&format!("/account/teams/{team}")).await.ok();
        assert!(
            page.has(&format!("id=\"over-text-{sub}\"")),
            "still one too many"
        );
        buyer
            .submit(
                &format!("/account/teams/{team}/subscriptions/{sub}/release"),
                &[("user", &b.id)],
            )
            .await
            .ok();
        let page = buyer.get(&format!("/account/teams/{team}")).await.ok();
        assert!(!page.has("Over-assignment"), "{}", page.text);
        let subscription = t.named_subscription(&sub).await;
        assert_eq!((subscription.seats, subscription.assigned), (1, 1));
        assert!(
            t.mails_to("a@office.example")
                .await
                .iter()
                .any(|m| m.subject.contains("was removed"))
        );
    }
}

#[tokio::test]
async fn a_reseller_orders_seats_for_a_new_customers_team_which_renews_only_through_the_reseller() {
    for t in TestPortal::every_backend().await {
        // Not a reseller: refused.
        let mut someone = t.customer("someone@office.example", "Office").await;
        assert_eq!(someone.get("/reseller").await.status, StatusCode::FORBIDDEN);

        let mut reseller = reseller(&t).await;
        let form = reseller.get("/reseller").await.ok();
        assert!(form.has("Team owner's e-mail"), "{}", form.text);
        order_for_design_studio(&mut reseller).await;
        let list = reseller.get("/reseller").await.ok();
        let number = list.text.split("id=\"reseller-order-").nth(1).unwrap();
        let number: String = number.chars().take_while(|c| *c != '"').collect();
        let order = t.order(&number).await;
        assert_eq!(
            order.reseller_email.as_deref(),
            Some("reseller@partner.example")
        );
        assert!(!order.auto_renew);
        // The invoice goes to the reseller; the new owner is invited.
        assert!(
            t.mails_to("reseller@partner.example")
                .await
                .iter()
                .any(|m| m.subject.contains(&number))
        );
        let link = t
            .link_in_last_mail("owner@studio.example", "/invitation?token=")
            .await;

        t.mark_paid(&number, &support::today()).await;
        let told = t.mails_to("owner@studio.example").await;
        assert!(
            told.iter().any(|m| m
                .subject
                .contains("2 seat(s) of Share (named user) were added to your team Design Studio")),
            "{told:?}"
        );

        // The owner accepts, sees the team with the seats and the reseller's note.
        let mut owner = t.accept_invitation_at(&link).await;
        owner.sign_in("owner@studio.example", PASSWORD).await;
        let page = owner.get("/account/subscriptions").await.ok();
        assert!(
            page.has("Through a reseller (reseller@partner.example)"),
            "{}",
            page.text
        );
        assert!(page.has("Design Studio"));
        assert!(page.has("contact your reseller"));
        assert!(page.has("Off (renews through the reseller)"));
        let orders = owner.get("/account/orders").await.ok();
        assert!(!orders.has(&format!("id=\"renew-{number}\"")));
        assert!(!orders.has(&format!("id=\"toggle-auto-renew-{number}\"")));
        let renew = owner
            .submit(&format!("/account/orders/{number}/renew"), &[])
            .await;
        assert_eq!(renew.status, StatusCode::CONFLICT, "{}", renew.text);
        let on = owner
            .submit(
                &format!("/account/orders/{number}/auto-renew"),
                &[("on", "on")],
            )
            .await;
        assert_eq!(on.status, StatusCode::CONFLICT);
        // And the scheduler's renewals skip it.
        let due = t
            .portal
            .store
            .renewals_due("2000-01-01", "2999-12-31")
            .await
            .unwrap();
        assert!(due.iter().all(|o| o.number != number));
        // Its renewal reminder sends the customer to the reseller.
        let order = t.order(&number).await;
        let end = chrono::NaiveDate::parse_from_str(&order.end_date, "%Y-%m-%d").unwrap();
        tessera_portal::scheduler::run_daily(&t.portal, end - chrono::Duration::days(30))
            .await
            .unwrap();
        // It goes to the customer's contract manager, naming the reseller (who gets a copy).
        let mails = t.mails_to("owner@studio.example").await;
        let reminder = mails
            .iter()
            .find(|m| m.subject.contains("subscription ends on") && m.text.contains(&number))
            .expect("a renewal reminder to the contract manager");
        assert!(
            reminder
                .text
                .contains("contact your reseller, Partner GmbH (reseller@partner.example)"),
            "{}",
            reminder.text
        );
        assert!(
            t.mails_to("reseller@partner.example")
                .await
                .iter()
                .any(|m| m.subject == reminder.subject)
        );
        assert!(!reminder.text.contains("renew before then"));
    }
}

/// A reseller's second order for the same team adds a subscription whose seats are all
/// free: the contract manager already holds a seat of the product and takes no second.
#[tokio::test]
async fn a_second_reseller_order_for_a_team_gives_its_contract_manager_no_second_seat() {
    for t in TestPortal::every_backend().await {
        let mut reseller = reseller(&t).await;
        for _ in 0..2 {
            order_for_design_studio(&mut reseller).await;
        }
        let list = reseller.get("/reseller").await.ok();
        for number in list.text.split("id=\"reseller-order-").skip(1) {
            let number: String = number.chars().take_while(|c| *c != '"').collect();
            t.mark_paid(&number, &support::today()).await;
        }
        let owner = t.user("owner@studio.example").await;
        let seats = t.portal.store.seats_of_user(&owner.id).await.unwrap();
        assert_eq!(seats.len(), 1, "{seats:?}");
    }
}

/// A reseller's order that was cut short after the owner's account was made (a crash,
/// a failed step) left an owner who was never invited; ordering again invites them.
#[tokio::test]
async fn a_reseller_order_again_invites_an_owner_whose_first_order_was_cut_short() {
    for t in TestPortal::every_backend().await {
        t.portal
            .store
            .create_account(
                &tessera_store::portal::NewAccount {
                    email: "owner@studio.example",
                    password_hash: "!",
                    role: tessera_store::portal::Role::Customer,
                    organization_name: "Design Studio",
                    slug: "design-studio",
                    confirmed_at: None,
                },
                t.portal.now(),
            )
            .await
            .unwrap()
            .unwrap();
        order_for_design_studio(&mut reseller(&t).await).await;
        let link = t
            .link_in_last_mail("owner@studio.example", "/invitation?token=")
            .await;
        let mut owner = t.browser();
        let page = owner.get(&link).await.ok();
        assert!(page.has("Design Studio"), "{}", page.text);
    }
}

#[tokio::test]
async fn added_seats_stay_in_the_team_and_a_moved_subscription_loses_its_assignments() {
    for t in TestPortal::every_backend().await {
        let (mut buyer, _, team) = t.paid_named_order("cm@office.example", "2").await;
        let page = buyer.get(&format!("/account/teams/{team}")).await.ok();
        let sub = subscription_id(&page.text);
        buyer
            .assign_seat(&team, &sub, "a@office.example")
            .await
            .ok();

        // Add 3 seats: an order that, once Paid, grows the subscription in its team.
        buyer.get("/account/subscriptions").await;
        let added = buyer
            .submit(
                &format!("/account/subscriptions/{sub}/add-seats"),
                &[("seats", "3")],
            )
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text);
        let orders = t
            .portal
            .store
            .orders_of_organization(&t.user("cm@office.example").await.organization_id)
            .await
            .unwrap();
        let add = orders
            .iter()
            .find(|o| o.adds_to.as_deref() == Some(sub.as_str()))
            .unwrap();
        t.mark_paid(&add.number, &support::today()).await;
        let s = t.named_subscription(&sub).await;
        assert_eq!(
            (s.seats, s.assigned, s.team_id.as_str()),
            (5, 2, team.as_str())
        );

        // Move it to a new team: the owner's act; its people lose their seats.
        buyer.get("/account/teams").await;
        buyer
            .submit("/account/teams", &[("name", "Second")])
            .await
            .ok();
        let other = t
            .portal
            .store
            .team_by_name(&s.organization_id, "Second")
            .await
            .unwrap()
            .unwrap();
        buyer.get("/account/subscriptions").await;
        let moved = buyer
            .submit(
                &format!("/account/subscriptions/{sub}/move"),
                &[("team", &other.id)],
            )
            .await;
        assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.text);
        let s = t.named_subscription(&sub).await;
        assert_eq!((s.team_id.as_str(), s.assigned), (other.id.as_str(), 0));
        assert!(
            t.mails_to("a@office.example")
                .await
                .iter()
                .any(|m| m.subject.contains("was removed"))
        );
        let page = buyer.get("/account/subscriptions").await.ok();
        assert!(page.has("Second"));

        // A person who is not the contract manager cannot move it.
        let mut a = t.browser();
        let _ = a.get("/signin").await;
        let err = a
            .post_raw(
                &format!("/account/subscriptions/{sub}/move"),
                &[("team", &team)],
            )
            .await;
        assert_ne!(err.status, StatusCode::SEE_OTHER);
    }
}

/// A new contract goes to the team chosen at purchase: the Corporate subscription page of
/// a named-user product offers the teams the buyer manages, and the Paid order's seats
/// are in that team; a team the buyer does not manage is refused.
#[tokio::test]
async fn a_new_contract_goes_to_the_team_chosen_at_purchase() {
    for t in TestPortal::every_backend().await {
        let email = "chooser@office.example";
        let (mut buyer, _, first_team) = t.paid_named_order(email, "1").await;
        let store = &t.portal.store;
        let user = t.user(email).await;
        let design = store
            .create_team(&user.organization_id, &user.id, "Design", t.portal.now())
            .await
            .unwrap()
            .unwrap();
        let page = buyer.get("/buy/share").await.ok();
        assert!(
            page.has("<label for=\"team\">Team</label>"),
            "{}",
            page.text
        );
        assert!(page.has(&format!("<option value=\"{}\"", design.id)));
        assert!(page.has(&format!("<option value=\"{first_team}\"")));

        // Someone else's team is refused.
        let mut other = t.customer("other@else.example", "Else").await;
        let someone = t.user("other@else.example").await;
        let theirs = store
            .create_team(
                &someone.organization_id,
                &someone.id,
                "Theirs",
                t.portal.now(),
            )
            .await
            .unwrap()
            .unwrap();
        drop(other.get("/").await);
        let refused = buyer.add_share_to_cart("2", Some(&theirs.id)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);

        let added = buyer.add_share_to_cart("2", Some(&design.id)).await;
        assert!(added.status.is_redirection(), "{}", added.text);
        let number = buyer.place_order().await;
        t.mark_paid(&number, &support::today()).await;
        let in_design = store.team_subscriptions(&design.id).await.unwrap();
        assert_eq!(in_design.len(), 1, "{in_design:?}");
        assert_eq!(in_design[0].seats, 2);
        assert_eq!(
            store.team_subscriptions(&first_team).await.unwrap().len(),
            1,
            "the first team keeps only its own"
        );
    }
}
