//! The portal's audit log, in-process on SQLite and (when reachable) PostgreSQL: each
//! audited action done through its real page (an order marked Paid and its start date
//! changed by staff, a role changed, a seat assigned, unassigned and imported, a person
//! removed, a subscription moved, auto-renew turned off, the web license server's site
//! key made and revoked, its policy changed) is recorded once, with the person who did
//! it, in the organization it concerns; the account page, the panel's page and their
//! CSV show an organization only its own entries, whatever the filters say; the back
//! office sees every organization's, and can narrow to one.

use crate::support;

use axum::http::StatusCode;
use support::{Browser, STAFF_EMAIL, TestPortal, subscription_id};

const BUYER: &str = "buyer@office.example";

/// An organization with a paid web license server order; its member's browser and slug.
async fn web_org(t: &TestPortal, email: &str, name: &str) -> (Browser, String) {
    let mut b = t.customer_with_company(email, name).await;
    b.add_to_cart("all", "all-3m", "2", None).await.ok();
    let number = b.place_order().await;
    t.mark_paid(&number, &support::today()).await;
    let orders = b.get("/account/orders").await;
    let at = orders
        .text
        .find("href=\"/w/")
        .expect("Use Web License Server");
    let rest = &orders.text[at + "href=\"/w/".len()..];
    (b, rest[..rest.find('/').unwrap()].to_owned())
}

/// A call of the web license server's protocol with a portal session (`cookie`) and a
/// text body, from 10.1.2.3 (as the connection's peer).
async fn web_api(
    t: &TestPortal,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    use axum::body::Body;
    use axum::http::{Request, header};
    let mut req = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("tessera_session={c}"));
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/toml");
    }
    let mut req = req
        .body(
            body.map(|b| Body::from(b.to_owned()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [10, 1, 2, 3],
            50000,
        ))));
    support::json_answer(&t.app, req).await
}

/// The records of a CSV export (quoted fields may hold commas and line breaks), its
/// header first.
fn records(csv: &str) -> Vec<Vec<String>> {
    let (mut out, mut row, mut field, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
    let mut chars = csv.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                out.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    out
}

/// The data rows of an organization's CSV whose action is `action`.
fn rows_of(csv: &str, action: &str) -> Vec<Vec<String>> {
    records(csv)
        .into_iter()
        .skip(1)
        .filter(|r| r[3] == action)
        .collect()
}

/// Exactly one `action` row, by `who`, that mentions `about` (in its target or detail).
#[track_caller]
fn once_by(csv: &str, action: &str, who: &str, about: &str) {
    let rows = rows_of(csv, action);
    assert_eq!(rows.len(), 1, "{action}: {csv}");
    assert_eq!(rows[0][1], who, "{action}: {csv}");
    assert!(
        rows[0][4..].join(" ").contains(about),
        "{action} about {about}: {csv}"
    );
}

/// How many entries a CSV export holds.
fn count(csv: &str) -> usize {
    records(csv).len() - 1
}

#[tokio::test]
async fn each_portal_action_is_recorded_once_and_shown_only_to_its_organization() {
    for t in TestPortal::every_backend().await {
        // Office: a named-user order (staff mark it Paid), then its team's changes.
        let (mut buyer, number, team) = t.paid_named_order(BUYER, "3").await;
        let office = t.organization_of(BUYER).await.slug;
        let team_page = buyer.get(&format!("/account/teams/{team}")).await.ok();
        let sub = subscription_id(&team_page.text);
        let mut anna = t.invited(&mut buyer, &team, "anna@office.example").await;
        // A team's plain user does not read the organization's log.
        assert_eq!(
            anna.get("/account/audit").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            anna.get("/account/audit.csv").await.status,
            StatusCode::FORBIDDEN
        );
        let r = buyer.assign_seat(&team, &sub, "anna@office.example").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let anna_id = t.user("anna@office.example").await.id;
        let r = buyer
            .submit(
                &format!("/account/teams/{team}/subscriptions/{sub}/unassign"),
                &[("user", &anna_id)],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        buyer.get(&format!("/account/teams/{team}")).await;
        let r = buyer
            .submit(
                &format!("/account/teams/{team}/members/{anna_id}/role"),
                &[("role", "secondary_admin")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        buyer.get(&format!("/account/teams/{team}/import")).await;
        let csv = "First name,Last name,Email,Product\nBob,Nowak,bob@office.example,share\n";
        let r = buyer
            .submit(&format!("/account/teams/{team}/import"), &[("csv", csv)])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        // A refused import (no such product) is not recorded.
        let bad = "First name,Last name,Email,Product\nCy,Lis,cy@office.example,nothing\n";
        let r = buyer
            .submit(&format!("/account/teams/{team}/import"), &[("csv", bad)])
            .await;
        assert_ne!(r.status, StatusCode::OK, "{}", r.text);
        buyer.get(&format!("/account/teams/{team}")).await;
        let r = buyer
            .submit(
                &format!("/account/teams/{team}/members/{anna_id}/remove"),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        buyer.get("/account/teams").await;
        buyer.submit("/account/teams", &[("name", "Second")]).await;
        let org_id = t.user(BUYER).await.organization_id;
        let second = t
            .portal
            .store
            .team_by_name(&org_id, "Second")
            .await
            .unwrap()
            .unwrap();
        buyer.get("/account/subscriptions").await;
        let r = buyer
            .submit(
                &format!("/account/subscriptions/{sub}/move"),
                &[("team", &second.id)],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        buyer.get("/account/orders").await;
        let r = buyer
            .submit(
                &format!("/account/orders/{number}/auto-renew"),
                &[("on", "off")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

        // Globex: a web license server order whose start staff move to tomorrow, a site
        // key made and revoked, and its policy changed, all on the panel.
        let mut gus = t
            .customer_with_company("gus@globex.example", "Globex")
            .await;
        gus.add_to_cart("all", "all-3m", "2", None).await.ok();
        let globex_order = gus.place_order().await;
        let placed_start = t.order(&globex_order).await.start_date;
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
            .format("%Y-%m-%d")
            .to_string();
        assert_ne!(placed_start, tomorrow);
        t.mark_paid(&globex_order, &tomorrow).await;
        let (mut gus, globex) = {
            let orders = gus.get("/account/orders").await;
            let at = orders
                .text
                .find("href=\"/w/")
                .expect("Use Web License Server");
            let rest = &orders.text[at + "href=\"/w/".len()..];
            let slug = rest[..rest.find('/').unwrap()].to_owned();
            (gus, slug)
        };
        gus.get(&format!("/w/{globex}/")).await.ok();
        let made = gus
            .submit(
                &format!("/w/{globex}/site-keys"),
                &[("name", "Drawing office")],
            )
            .await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.text);
        let key = t.portal.store.site_keys(&globex).await.unwrap()[0].clone();
        let r = gus
            .submit(&format!("/w/{globex}/site-keys/{}/revoke", key.id), &[])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        gus.get(&format!("/w/{globex}/")).await;
        let policy = "[[rule]]\nproduct = \"acad\"\nexclude = [\"user:zed\"]\n";
        let r = gus
            .submit(&format!("/w/{globex}/policy"), &[("policy", policy)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        // A bad policy is refused and not recorded.
        let r = gus
            .submit(&format!("/w/{globex}/policy"), &[("policy", "[[rule]\n")])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        // Through the web license server's admin API, from an address: the same policy
        // call, by the person whose portal session it carries.
        let (status, body) = web_api(
            &t,
            "PUT",
            &format!("/w/{globex}/api/v1/admin/policy"),
            gus.cookie.as_deref(),
            Some("[[rule]]\nproduct = \"acad\"\nexclude = [\"user:zoe\"]\n"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // A third organization, with nothing done.
        let (mut initech, initech_slug) = web_org(&t, "ian@initech.example", "Initech").await;

        // Office sees its own, each once, with who did it.
        let office_csv = buyer.get("/account/audit.csv").await.ok();
        assert!(office_csv.content_type.starts_with("text/csv"));
        let office_csv = office_csv.text;
        assert_eq!(
            office_csv.lines().next(),
            Some("at,actor,address,action,target,detail")
        );
        once_by(&office_csv, "order_marked_paid", STAFF_EMAIL, &number);
        assert!(
            rows_of(&office_csv, "start_date_edited").is_empty(),
            "{office_csv}"
        );
        once_by(&office_csv, "seat_assigned", BUYER, "anna@office.example");
        once_by(&office_csv, "seat_unassigned", BUYER, "anna@office.example");
        once_by(&office_csv, "role_changed", BUYER, "anna@office.example");
        once_by(&office_csv, "seats_imported", BUYER, "bob@office.example");
        once_by(&office_csv, "person_removed", BUYER, "anna@office.example");
        once_by(&office_csv, "subscription_moved", BUYER, "Second");
        once_by(&office_csv, "auto_renew_changed", BUYER, &number);
        assert_eq!(count(&office_csv), 8, "{office_csv}");
        for foreign in ["globex", "gus@", "Drawing office", "initech"] {
            assert!(
                !office_csv.contains(foreign),
                "{foreign} in Office's log: {office_csv}"
            );
        }

        // Globex sees its own (staff's Paid and start date too), and none of Office's.
        let globex_csv = gus.get(&format!("/w/{globex}/audit.csv")).await.ok().text;
        once_by(&globex_csv, "order_marked_paid", STAFF_EMAIL, &globex_order);
        once_by(
            &globex_csv,
            "start_date_edited",
            STAFF_EMAIL,
            &format!("to {tomorrow}"),
        );
        once_by(
            &globex_csv,
            "site_key_made",
            "gus@globex.example",
            "Drawing office",
        );
        once_by(
            &globex_csv,
            "site_key_revoked",
            "gus@globex.example",
            "Drawing office",
        );
        let policies = rows_of(&globex_csv, "policy_changed");
        assert_eq!(policies.len(), 2, "{globex_csv}");
        // Newest first: the API's, from its address, with the diff.
        assert_eq!(policies[0][1], "gus@globex.example");
        assert_eq!(policies[0][2], "10.1.2.3");
        assert_eq!(
            policies[0][5],
            "'- exclude = [\"user:zed\"]\n+ exclude = [\"user:zoe\"]\n"
        );
        assert_eq!(policies[1][1], "gus@globex.example");
        assert!(
            policies[1][5].contains("+ exclude = [\"user:zed\"]"),
            "{globex_csv}"
        );
        assert_eq!(count(&globex_csv), 6, "{globex_csv}");
        // The admin API's log: Globex's own for Globex, nothing for Office's people.
        let (status, list) = web_api(
            &t,
            "GET",
            &format!("/w/{globex}/api/v1/admin/audit"),
            gus.cookie.as_deref(),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["entries"].as_array().unwrap().len(), 6, "{list}");
        let (status, _) = web_api(
            &t,
            "GET",
            &format!("/w/{globex}/api/v1/admin/audit?org={office}"),
            buyer.cookie.as_deref(),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, list) = web_api(
            &t,
            "GET",
            &format!("/w/{office}/api/v1/admin/audit?org={globex}"),
            buyer.cookie.as_deref(),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert!(!list.to_string().contains("globex"), "{list}");
        let account_csv = gus.get("/account/audit.csv").await.ok().text;
        assert_eq!(
            account_csv, globex_csv,
            "the account and the panel show the same"
        );
        assert!(!globex_csv.contains("office.example"), "{globex_csv}");

        // The pages, with their filters.
        let page = buyer.get("/account/audit").await.ok();
        for text in [
            "\">Seat assigned</td>",
            "\">Role changed</td>",
            "\">Order marked Paid</td>",
            STAFF_EMAIL,
            "id=\"menu-audit\"",
        ] {
            assert!(page.has(text), "{text}: {}", page.text);
        }
        assert!(!page.has("gus@globex.example"));
        let page = buyer.get("/account/audit?action=seat_assigned").await.ok();
        assert!(
            page.has("\">Seat assigned</td>") && !page.has("\">Role changed</td>"),
            "{}",
            page.text
        );
        let page = buyer.get("/account/audit?actor=staff@").await.ok();
        assert!(
            page.has("\">Order marked Paid</td>") && !page.has("\">Seat assigned</td>"),
            "{}",
            page.text
        );
        let bad = buyer.get("/account/audit?from=last+week").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.has("`from` must be a date"), "{}", bad.text);
        let bad = buyer.get("/account/audit.csv?to=2026-99-01").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let panel = gus.get(&format!("/w/{globex}/")).await.ok();
        assert!(panel.has(&format!("/w/{globex}/audit")));

        // Crafted filters never widen a reader's organization.
        for path in [
            format!("/account/audit.csv?org={globex}"),
            "/account/audit.csv?actor=%25".to_owned(),
            "/account/audit.csv?actor=gus@globex.example".to_owned(),
            format!("/account/audit.csv?target=%25&org={globex}&limit=10000"),
        ] {
            let csv = buyer.get(&path).await.ok().text;
            assert!(!csv.contains("globex"), "{path}: {csv}");
        }
        // Another organization's panel log is not there for them (as the panel).
        assert_eq!(
            buyer.get(&format!("/w/{globex}/audit")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            buyer.get(&format!("/w/{globex}/audit.csv")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            initech.get(&format!("/w/{globex}/audit.csv")).await.status,
            StatusCode::NOT_FOUND
        );
        // Initech's own log has only its own order marked Paid.
        let initech_csv = initech
            .get(&format!("/w/{initech_slug}/audit.csv"))
            .await
            .ok()
            .text;
        assert_eq!(
            rows_of(&initech_csv, "order_marked_paid").len(),
            1,
            "{initech_csv}"
        );
        assert_eq!(count(&initech_csv), 1, "{initech_csv}");
        // Nor is the back office.
        assert_ne!(buyer.get("/staff/audit").await.status, StatusCode::OK);
        assert_ne!(buyer.get("/staff/audit.csv").await.status, StatusCode::OK);
        let mut anon = t.browser();
        let page = anon.get("/account/audit.csv").await;
        assert!(!page.text.contains("order_marked_paid"), "{}", page.text);

        // The back office sees every organization's, and narrows to one.
        let mut staff = t.staff().await;
        let all = staff.get("/staff/audit.csv").await.ok().text;
        assert_eq!(
            all.lines().next(),
            Some("at,organization,actor,address,action,target,detail")
        );
        assert_eq!(count(&all), 8 + 6 + 1, "{all}");
        let only = staff
            .get(&format!("/staff/audit.csv?org={office}"))
            .await
            .ok()
            .text;
        assert_eq!(count(&only), 8, "{only}");
        let page = staff.get("/staff/audit").await.ok();
        assert!(page.has(&globex) && page.has(&office) && page.has("id=\"audit-org\""));
    }
}
