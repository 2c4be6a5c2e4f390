//! Teams and named-user seats through the portal's pages and its named-user API, on
//! SQLite and PostgreSQL: a Paid order of a named-user product makes a subscription
//! whose buyer holds a seat; people are invited by e-mail and accept; each role may do
//! only what it should (a matrix of real requests); assignments beyond the seats are
//! refused, by hand and by import, with nothing half-applied and a report per row; a
//! sign-in on a second device supersedes the first; removing a person frees their seat;
//! and the e-mails arrive.

use crate::support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{Browser, TestPortal, post_json, subscription_id};

async fn refresh(t: &TestPortal, token: &Value) -> (StatusCode, Value) {
    post_json(
        &t.app,
        "/api/v1/named/refresh",
        None,
        json!({"token": token, "product": "share"}),
    )
    .await
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_paid_named_order_gives_the_buyer_a_seat_in_their_team_and_people_sign_in_on_one_device()
{
    for t in TestPortal::every_backend().await {
        let (mut buyer, _, team) = t.paid_named_order("buyer@office.example", "2").await;
        let page = buyer.get(&format!("/account/teams/{team}")).await.ok();
        assert!(page.has("Share (named user)"), "{}", page.text);
        assert!(
            page.has("Contract manager, Primary admin, Software coordinator"),
            "{}",
            page.text
        );
        let sub = subscription_id(&page.text);
        assert_eq!(
            support::text_of(&page.text, &format!("assigned-{sub}")).as_deref(),
            Some("1"),
            "the buyer holds a seat from the start"
        );
        let orders = buyer.get("/account/orders").await.ok();
        assert!(
            orders.has(&format!("href=\"/account/teams/{team}\"")),
            "{}",
            orders.text
        );
        assert!(!orders.has("Use Web License Server"), "{}", orders.text);
        let paid = t.mails_to("buyer@office.example").await;
        assert!(
            paid.iter().any(|m| m.subject.contains("assign your seats")
                && m.text.contains(&format!("/account/teams/{team}"))),
            "{paid:?}"
        );

        // The buyer signs in on a computer and gets a named token for it.
        let (status, a) = t.activate("buyer@office.example", "desk-1", "share").await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        let claims =
            tessera_token::verify_named(t.vendor.verifying_key(), a["token"].as_str().unwrap())
                .unwrap();
        assert_eq!(claims.kind, "named");
        assert_eq!(claims.sub, "buyer@office.example");
        assert_eq!(claims.device, "desk-1");
        assert_eq!(claims.products, vec!["share"]);
        assert!(claims.exp > claims.iat && claims.exp - claims.iat <= chrono::Duration::hours(24));
        let (status, r) = refresh(&t, &a["token"]).await;
        assert_eq!(status, StatusCode::OK, "{r}");

        // Signing in on a second computer stops the first at its next refresh.
        let (status, b) = t.activate("buyer@office.example", "laptop", "share").await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
        let (status, r) = refresh(&t, &a["token"]).await;
        assert_eq!(
            (status, code(&r)),
            (StatusCode::CONFLICT, "superseded"),
            "{r}"
        );
        assert_eq!(refresh(&t, &b["token"]).await.0, StatusCode::OK);
        // … until the person signs in there again.
        let (_, a2) = t.activate("buyer@office.example", "desk-1", "share").await;
        assert_eq!(refresh(&t, &a2["token"]).await.0, StatusCode::OK);
        assert_eq!(code(&refresh(&t, &b["token"]).await.1), "superseded");

        // A wrong password, a person with no seat, a forged token.
        let (status, e) = post_json(
            &t.app,
            "/api/v1/named/activations",
            None,
            json!({"email": "buyer@office.example", "password": "wrong password!", "device": "x", "product": "share"}),
        )
        .await;
        assert_eq!(
            (status, code(&e)),
            (StatusCode::UNAUTHORIZED, "unauthorized")
        );
        let mut anna = t.invited(&mut buyer, &team, "anna@office.example").await;
        let (status, e) = t.activate("anna@office.example", "pc-anna", "share").await;
        assert_eq!(
            (status, code(&e)),
            (StatusCode::FORBIDDEN, "seat_unassigned"),
            "{e}"
        );
        let forged =
            tessera_token::sign_named(&tessera_token::SigningKey::generate(), &claims).unwrap();
        assert_eq!(
            refresh(&t, &json!(forged)).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (status, e) =
            post_json(&t.app, "/api/v1/named/refresh", None, json!({"nope": 1})).await;
        assert!(status.is_client_error(), "{status} {e}");

        // The buyer moves their seat to Anna: unassign, assign.
        buyer
            .get(&format!("/account/teams/{team}/subscriptions/{sub}"))
            .await;
        let buyer_id = t.user("buyer@office.example").await.id;
        let r = buyer
            .submit(
                &format!("/account/teams/{team}/subscriptions/{sub}/unassign"),
                &[("user", &buyer_id)],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            code(&refresh(&t, &a2["token"]).await.1),
            "seat_unassigned",
            "the buyer's program stops at its next refresh"
        );
        let r = buyer.assign_seat(&team, &sub, "anna@office.example").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let (status, anna_token) = t.activate("anna@office.example", "pc-anna", "share").await;
        assert_eq!(status, StatusCode::CREATED, "{anna_token}");
        let mine = anna.get("/account/licenses").await.ok();
        assert!(
            mine.has("Share (named user)") && mine.has("pc-anna"),
            "{}",
            mine.text
        );

        // "Sign out of all devices" ends the sign-in.
        anna.submit("/account/licenses/sign-out-all", &[]).await;
        let (status, e) = refresh(&t, &anna_token["token"]).await;
        assert_eq!(
            (status, code(&e)),
            (StatusCode::UNAUTHORIZED, "unauthorized")
        );

        // Anna leaves: removing her frees the seat at once.
        let (_, anna_token) = t.activate("anna@office.example", "pc-anna", "share").await;
        let anna_id = t.user("anna@office.example").await.id;
        buyer.get(&format!("/account/teams/{team}")).await;
        let r = buyer
            .submit(
                &format!("/account/teams/{team}/members/{anna_id}/remove"),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let page = buyer.get(&format!("/account/teams/{team}")).await.ok();
        assert_eq!(
            support::text_of(&page.text, &format!("assigned-{sub}")).as_deref(),
            Some("0")
        );
        assert_eq!(
            code(&refresh(&t, &anna_token["token"]).await.1),
            "seat_unassigned"
        );

        // The e-mails: invitation, seat assigned, seat removed.
        let anna_mail: Vec<String> = t
            .mails_to("anna@office.example")
            .await
            .into_iter()
            .map(|m| m.subject)
            .collect();
        assert!(
            anna_mail.iter().any(|s| s.contains("invited to the team")),
            "{anna_mail:?}"
        );
        assert!(
            anna_mail
                .iter()
                .any(|s| s == "A seat of Share (named user) is assigned to you"),
            "{anna_mail:?}"
        );
        assert!(
            anna_mail
                .iter()
                .any(|s| s == "Your seat of Share (named user) was removed"),
            "{anna_mail:?}"
        );
        let buyer_mail = t.mails_to("buyer@office.example").await;
        assert!(buyer_mail.iter().any(|m| m.subject.contains("was removed")));
    }
}

/// A name with its own full stop (the vendor's "Tessera Software Ltd.", a team "Studio
/// Ltd.") ends its sentence without a second one, in the e-mails and on the pages.
#[tokio::test]
async fn a_name_that_ends_with_a_full_stop_ends_its_sentence_without_a_second() {
    let t = TestPortal::sqlite().await;
    assert_eq!(t.portal.config.vendor.name, "Tessera Software Ltd.");
    let (mut cm, _, _) = t.paid_named_order("cm@office.example", "3").await;
    cm.get("/account/teams").await;
    let made = cm
        .submit("/account/teams", &[("name", "Studio Ltd.")])
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
    let org = t.organization_of("cm@office.example").await;
    let team = t
        .portal
        .store
        .team_by_name(&org.id, "Studio Ltd.")
        .await
        .unwrap()
        .unwrap();
    cm.get(&format!("/account/teams/{}", team.id)).await;
    let sent = cm
        .submit(
            &format!("/account/teams/{}/invite", team.id),
            &[("email", "new@office.example")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text);
    let invitation = t.mails_to("new@office.example").await.pop().unwrap();
    assert!(
        invitation.text.contains("at Tessera Software Ltd.\r\n")
            || invitation.text.contains("at Tessera Software Ltd.\n"),
        "{}",
        invitation.text
    );
    let link = t
        .link_in_last_mail("new@office.example", "/invitation?token=")
        .await;
    let mut person = t.browser();
    person.get(&link).await.ok();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let accepted = person
        .submit(
            "/invitation",
            &[
                ("token", &token),
                ("password", support::PASSWORD),
                ("password_again", support::PASSWORD),
            ],
        )
        .await;
    let welcome = person.get(&accepted.location.unwrap()).await.ok();
    assert!(
        welcome.has("Welcome to the team Studio Ltd.<"),
        "{}",
        welcome.text
    );
    for mail in t.mails().await {
        assert!(!mail.text.contains("Ltd.."), "{}", mail.text);
    }
}

/// The menu offers each role the pages it may use: a user only *Your licenses*, a
/// secondary admin the teams and reports too, the contract manager everything.
#[tokio::test]
async fn each_role_sees_the_menu_entries_it_may_use() {
    let t = TestPortal::sqlite().await;
    let (mut cm, _, team) = t.paid_named_order("cm@office.example", "3").await;
    let mut user = t.invited(&mut cm, &team, "user@office.example").await;
    let mut secondary = t.invited(&mut cm, &team, "admin@office.example").await;
    let admin_id = t.user("admin@office.example").await.id;
    cm.get(&format!("/account/teams/{team}")).await;
    let r = cm
        .submit(
            &format!("/account/teams/{team}/members/{admin_id}/role"),
            &[("role", "secondary_admin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

    let entries = [
        "menu-orders",
        "menu-subscriptions",
        "menu-teams",
        "menu-licenses",
        "menu-lan-usage",
        "menu-reporting",
    ];
    let menu = |html: &str| -> Vec<&str> {
        entries
            .iter()
            .copied()
            .filter(|id| html.contains(&format!("id=\"{id}\"")))
            .collect()
    };
    assert_eq!(menu(&cm.get("/").await.text), entries);
    assert_eq!(menu(&user.get("/").await.text), ["menu-licenses"]);
    assert_eq!(
        menu(&secondary.get("/account/licenses").await.text),
        [
            "menu-teams",
            "menu-licenses",
            "menu-lan-usage",
            "menu-reporting"
        ]
    );
    // A buyer before their first named-user order sees billing as before.
    let mut buyer = t.customer("new@else.example", "Else").await;
    assert_eq!(menu(&buyer.get("/buy").await.text), entries);
}

#[tokio::test]
async fn each_role_sees_and_does_only_what_it_should() {
    let t = TestPortal::sqlite().await;
    let (mut cm, _, team) = t.paid_named_order("cm@office.example", "5").await;
    let sub = subscription_id(&cm.get(&format!("/account/teams/{team}")).await.text);
    let mut primary = t.invited(&mut cm, &team, "primary@office.example").await;
    let mut secondary = t.invited(&mut cm, &team, "secondary@office.example").await;
    let mut coordinator = t
        .invited(&mut cm, &team, "coordinator@office.example")
        .await;
    let mut user = t.invited(&mut cm, &team, "user@office.example").await;
    let mut outsider = t.customer("outsider@elsewhere.example", "Elsewhere").await;
    let (primary_id, secondary_id, coordinator_id) = (
        t.user("primary@office.example").await.id,
        t.user("secondary@office.example").await.id,
        t.user("coordinator@office.example").await.id,
    );
    // The contract manager sets the roles up: primary admin (promoted from secondary),
    // a secondary admin, a software coordinator.
    cm.get(&format!("/account/teams/{team}")).await;
    for (who, role) in [
        (&primary_id, "secondary_admin"),
        (&primary_id, "primary_admin"),
        (&secondary_id, "secondary_admin"),
    ] {
        let r = cm
            .submit(
                &format!("/account/teams/{team}/members/{who}/role"),
                &[("role", role)],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    }
    cm.get(&format!("/account/teams/{team}/roles")).await;
    let r = cm
        .submit(
            &format!("/account/teams/{team}/software-coordinator"),
            &[("user", &coordinator_id)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

    // What each may see (GET) and do (POST): 2xx/3xx allowed, 403 refused, 404 for a
    // team that is not theirs.
    enum Req {
        Get(String),
        Post(String, Vec<(&'static str, String)>),
    }
    let team_page = Req::Get(format!("/account/teams/{team}"));
    let sub_page = Req::Get(format!("/account/teams/{team}/subscriptions/{sub}"));
    let import_page = Req::Get(format!("/account/teams/{team}/import"));
    let roles_page = Req::Get(format!("/account/teams/{team}/roles"));
    let assign = Req::Post(
        format!("/account/teams/{team}/subscriptions/{sub}/assign"),
        vec![("email", "user@office.example".into())],
    );
    let invite = Req::Post(
        format!("/account/teams/{team}/invite"),
        vec![("email", "new@office.example".into())],
    );
    // The coordinator's member role is User already: allowed requests change nothing.
    let set_role = Req::Post(
        format!("/account/teams/{team}/members/{coordinator_id}/role"),
        vec![("role", "user".into())],
    );
    let coordinator_change = Req::Post(
        format!("/account/teams/{team}/software-coordinator"),
        vec![("user", coordinator_id.clone())],
    );
    let orders_page = Req::Get("/account/orders".into());
    let requests = [
        ("team page", team_page),
        ("subscription page", sub_page),
        ("import page", import_page),
        ("roles page", roles_page),
        ("assign a seat", assign),
        ("invite", invite),
        ("set a member's role", set_role),
        ("appoint the software coordinator", coordinator_change),
        ("orders and invoices", orders_page),
    ];
    let matrix: [(&str, &mut Browser, [u16; 9]); 6] = [
        (
            "contract manager",
            &mut cm,
            [200, 200, 200, 200, 303, 303, 303, 303, 200],
        ),
        (
            "primary admin",
            &mut primary,
            [200, 200, 200, 403, 303, 303, 303, 403, 200],
        ),
        (
            "secondary admin",
            &mut secondary,
            [200, 200, 200, 403, 303, 303, 403, 403, 403],
        ),
        (
            "software coordinator",
            &mut coordinator,
            [200, 200, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "user",
            &mut user,
            [403, 403, 403, 403, 403, 403, 403, 403, 403],
        ),
        (
            "another organization",
            &mut outsider,
            [404, 404, 404, 404, 404, 404, 404, 404, 200],
        ),
    ];
    for (who, browser, expected) in matrix {
        for ((what, req), want) in requests.iter().zip(expected) {
            // A page with a form first, for a CSRF secret.
            browser.get("/account/licenses").await;
            let page = match req {
                Req::Get(path) => browser.get(path).await,
                Req::Post(path, fields) => {
                    let fields: Vec<(&str, &str)> =
                        fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    browser.submit(path, &fields).await
                }
            };
            assert_eq!(page.status.as_u16(), want, "{who}: {what}: {}", page.text);
        }
    }
    // Everyone in the organization sees their own licenses; the user sees the team only
    // as a name, without a link.
    let list = user.get("/account/teams").await.ok();
    assert!(
        list.has("Office Ltd team") && !list.has(&format!("/account/teams/{team}\"")),
        "{}",
        list.text
    );
    // Those who see billing make further teams; a user cannot; names are unique.
    cm.get("/account/teams").await;
    let made = cm.submit("/account/teams", &[("name", "Design")]).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
    let design = cm.get(made.location.as_deref().unwrap()).await.ok();
    assert!(
        design.has("Team: Design") && design.has("Contract manager, Primary admin"),
        "{}",
        design.text
    );
    assert_eq!(
        cm.submit("/account/teams", &[("name", "Design")])
            .await
            .status,
        StatusCode::CONFLICT
    );
    user.get("/account/teams").await;
    assert!(!user.get("/account/teams").await.has("id=\"new-team-form\""));
    assert_eq!(
        user.submit("/account/teams", &[("name", "Mine")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Only a secondary admin can be made primary; the old primary becomes secondary;
    // the owner stays; the change is recorded.
    cm.get(&format!("/account/teams/{team}")).await;
    let r = cm
        .submit(
            &format!("/account/teams/{team}/members/{coordinator_id}/role"),
            &[("role", "primary_admin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let roles = cm.get(&format!("/account/teams/{team}/roles")).await.ok();
    assert!(
        roles.has("Primary admin") && roles.has("primary@office.example"),
        "{}",
        roles.text
    );
    // Changing the contract manager hands the roles page over.
    let r = cm
        .submit(
            &format!("/account/teams/{team}/contract-manager"),
            &[("user", &primary_id)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        primary
            .get(&format!("/account/teams/{team}/roles"))
            .await
            .status,
        StatusCode::OK
    );
    let roles = primary
        .get(&format!("/account/teams/{team}/roles"))
        .await
        .ok();
    assert!(
        roles.has("Contract manager") && roles.has("cm@office.example"),
        "{}",
        roles.text
    );
    let team_page = cm.get(&format!("/account/teams/{team}")).await.ok();
    assert!(
        team_page.has("id=\"contract-manager\">primary@office.example"),
        "{}",
        team_page.text
    );
}

#[tokio::test]
async fn assignments_beyond_the_seats_are_refused_by_hand_and_by_import_with_nothing_half_applied()
{
    for t in TestPortal::every_backend().await {
        let (mut cm, _, team) = t.paid_named_order("cm@office.example", "3").await;
        let sub = subscription_id(&cm.get(&format!("/account/teams/{team}")).await.text);
        let seats = |t: &TestPortal, sub: String| {
            let store = t.portal.store.clone();
            async move { store.assignees(&sub).await.unwrap().len() }
        };

        // The template.
        let template = cm
            .get(&format!("/account/teams/{team}/import/template.csv"))
            .await;
        assert_eq!(template.status, StatusCode::OK);
        assert!(template.content_type.starts_with("text/csv"));
        assert!(
            template
                .text
                .starts_with("First name,Last name,Email,Product\r\n")
        );

        // Three rows for two free seats (the buyer holds one): refused whole, with a
        // report that says why each row would or would not go.
        let csv = "First name,Last name,Email,Product\n\
                   Anna,Kowalska,anna@office.example,share\n\
                   Cm,Self,cm@office.example,share\n\
                   Bob,Nowak,bob@office.example,share\n\
                   Cara,Lis,cara@office.example,share\n";
        cm.get(&format!("/account/teams/{team}/import")).await;
        let r = cm
            .submit(&format!("/account/teams/{team}/import"), &[("csv", csv)])
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert!(r.has("Nothing was imported"));
        assert!(
            r.has("Already has this product: no second seat."),
            "{}",
            r.text
        );
        assert!(r.has("would exceed them"), "{}", r.text);
        assert!(r.has("Would be invited and assigned a seat"), "{}", r.text);
        assert_eq!(seats(&t, sub.clone()).await, 1, "nothing applied");
        assert!(
            t.portal
                .store
                .user_by_email("anna@office.example")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            t.mails_to("anna@office.example").await.is_empty(),
            "no mail for a refused import"
        );

        // A bad e-mail or an unknown product fails its row, and nothing else goes either.
        let bad = "First name,Last name,Email,Product\n\
                   Anna,Kowalska,anna@office.example,share\n\
                   X,Y,not-an-email,share\n\
                   Z,W,z@office.example,nonsense\n";
        let r = cm
            .submit(&format!("/account/teams/{team}/import"), &[("csv", bad)])
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert!(r.has("is not an e-mail address"), "{}", r.text);
        assert!(r.has("no subscription of “nonsense”"), "{}", r.text);
        assert_eq!(seats(&t, sub.clone()).await, 1);
        let r = cm
            .submit(
                &format!("/account/teams/{team}/import"),
                &[("csv", "Name;Mail\nA;b\n")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.has("First name,Last name,Email,Product"), "{}", r.text);

        // Within the seats it goes: invited and assigned, with their e-mails.
        let ok = "First name,Last name,Email,Product\n\
                  Anna,Kowalska,anna@office.example,share\n\
                  Cm,Self,cm@office.example,Share (named user)\n\
                  Bob,Nowak,bob@office.example,\n";
        let r = cm
            .submit(&format!("/account/teams/{team}/import"), &[("csv", ok)])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(
            r.has("Invited to the team and assigned a seat."),
            "{}",
            r.text
        );
        assert_eq!(seats(&t, sub.clone()).await, 3);
        let anna: Vec<String> = t
            .mails_to("anna@office.example")
            .await
            .into_iter()
            .map(|m| m.subject)
            .collect();
        assert_eq!(anna.len(), 2, "{anna:?}");

        // Full: one more by hand is refused, and the page says so.
        let r = cm.assign_seat(&team, &sub, "cara@office.example").await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert!(r.has("Not assigned"), "{}", r.text);
        assert_eq!(seats(&t, sub.clone()).await, 3);
        assert!(
            t.portal
                .store
                .user_by_email("cara@office.example")
                .await
                .unwrap()
                .is_none(),
            "not even invited"
        );

        // Anna accepts later with the link she was sent.
        let mut anna = t.accept_invitation("anna@office.example").await;
        let mine = anna.get("/account/licenses").await.ok();
        assert!(mine.has("Share (named user)"));
        // A used link does not work twice.
        let link = t
            .link_in_last_mail("anna@office.example", "/invitation?token=")
            .await;
        assert_eq!(t.browser().get(&link).await.status, StatusCode::GONE);
    }
}

/// A renewal of a named-user order carries the subscription into the new term (same
/// team, same people, no second subscription) and puts the software coordinator back to
/// the contract manager.
#[tokio::test]
async fn a_paid_renewal_carries_the_named_subscription_on_and_resets_the_coordinator() {
    for t in TestPortal::every_backend().await {
        let email = "renewing@named.example";
        let (_buyer, number, team) = t.paid_named_order(email, "2").await;
        let store = &t.portal.store;
        let buyer_id = t.user(email).await.id;
        store
            .set_software_coordinator(&team, Some(&buyer_id), &buyer_id, t.portal.now())
            .await
            .unwrap();
        let subs = store.team_subscriptions(&team).await.unwrap();
        assert_eq!(subs.len(), 1);
        let sub = subs[0].clone();
        let original = t.order(&number).await;
        assert_eq!(original.status.as_str(), "Paid");
        let renewal = store
            .place_renewal(&original, &original.end_date, "2099-01-01", t.portal.now())
            .await
            .unwrap()
            .unwrap();
        let mut staff = t.staff().await;
        let paid = staff.mark_paid(&renewal.number, &original.end_date).await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
        let subs = store.team_subscriptions(&team).await.unwrap();
        assert_eq!(subs.len(), 1, "no second subscription: {subs:?}");
        assert_eq!(subs[0].id, sub.id);
        assert_eq!(subs[0].seats, sub.seats);
        assert!(subs[0].end_date > sub.end_date, "{subs:?}");
        let team_now = store.team(&team).await.unwrap().unwrap();
        assert_eq!(team_now.software_coordinator_id, None);
        assert_eq!(team_now.coordinator(), buyer_id);
        // Marking it Paid again (a retry) changes nothing.
        let again = staff.mark_paid(&renewal.number, &original.end_date).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(store.team_subscriptions(&team).await.unwrap().len(), 1);
    }
}
