//! The web license server's administration panel, in-process on SQLite and (when
//! reachable) PostgreSQL: two organizations bought web license server pools; each sees
//! and changes only its own server, through the panel's pages and forms and through the
//! admin API; the panel's Remove frees a seat a client holds (its next heartbeat is
//! refused); a bad policy is refused with its line while the old one stays; the on/off
//! switch and the allow and deny lists are enforced on checkout.

use crate::support;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use support::{Browser, TestPortal, json_answer};
use tower::ServiceExt;

/// An organization with a paid web license server order of 2 seats of "all" (AutoCAD and
/// Revit), and its member's browser.
async fn web_org(t: &TestPortal, email: &str, name: &str) -> (Browser, String) {
    let mut b = t.customer_with_company(email, name).await;
    b.add_to_cart("all", "all-3m", "2", None).await.ok();
    let number = b.place_order().await;
    t.mark_paid(&number, &support::today()).await;
    let orders = b.get("/account/orders").await;
    let at = orders
        .text
        .find("href=\"/w/")
        .expect("Use Web License Server is shown");
    let rest = &orders.text[at + "href=\"/w/".len()..];
    let slug = rest[..rest.find('/').unwrap()].to_owned();
    (b, slug)
}

/// A protocol call as a program (or, with a cookie, a browser) makes it, from `peer`.
async fn call(
    t: &TestPortal,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("tessera_session={c}"));
    }
    if let Some(b) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {b}"));
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let mut req = req.body(body).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 1, 2, 3], 50000))));
    json_answer(&t.app, req).await
}

struct Held {
    id: String,
    token: String,
}

/// A site key of the organization `slug`, new each time (as an office may hand out one
/// per room).
async fn site_key(t: &TestPortal, slug: &str) -> String {
    let name = format!("key {}", uuid::Uuid::new_v4());
    let (_, key) = tessera_server::credential::add_site_key(
        &t.portal.store,
        slug,
        &name,
        "test",
        t.portal.now(),
    )
    .await
    .unwrap();
    key
}

/// `email` (an account of the portal, with the tests' password) signed in on `device`
/// through the named-user API, as `tessera login` does: the sign-in token.
async fn signed_in(t: &TestPortal, email: &str, device: &str) -> String {
    let (status, v) = t.activate(email, device, "").await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

/// A checkout of autocad by the OS account `user` on `host`: with the sign-in of the
/// person `email` when given, else with a site key of the organization.
async fn checkout(
    t: &TestPortal,
    slug: &str,
    user: &str,
    host: &str,
    email: Option<&str>,
) -> Result<Held, (StatusCode, Value)> {
    let body = json!({"product": "autocad", "user": user, "host": host,
        "client_id": format!("{user}-{host}"), "version": "2026.1"});
    let credential = match email {
        Some(e) => signed_in(t, e, &format!("{user}-{host}")).await,
        None => site_key(t, slug).await,
    };
    let (status, v) = call(
        t,
        "POST",
        &format!("/w/{slug}/api/v1/leases"),
        None,
        Some(&credential),
        Some(body),
    )
    .await;
    if status == StatusCode::CREATED || status == StatusCode::OK {
        Ok(Held {
            id: v["lease_id"].as_str().unwrap().to_owned(),
            token: v["token"].as_str().unwrap().to_owned(),
        })
    } else {
        Err((status, v))
    }
}

async fn heartbeat(t: &TestPortal, slug: &str, held: &Held) -> (StatusCode, Value) {
    call(
        t,
        "POST",
        &format!("/w/{slug}/api/v1/leases/{}/heartbeat", held.id),
        None,
        Some(&held.token),
        None,
    )
    .await
}

async fn two_organizations(t: &TestPortal) -> ((Browser, String), (Browser, String)) {
    let alpha = web_org(t, "admin@alpha.example", "Alpha Design").await;
    let beta = web_org(t, "admin@beta.example", "Beta Build").await;
    assert_ne!(alpha.1, beta.1);
    (alpha, beta)
}

#[tokio::test]
async fn one_organization_can_never_see_free_or_change_anothers_web_license_server() {
    for t in TestPortal::every_backend().await {
        let ((mut alpha, a), (mut beta, b)) = two_organizations(&t).await;
        let anna = checkout(&t, &a, "anna", "alpha-pc1", Some("admin@alpha.example"))
            .await
            .unwrap();
        let bob = checkout(&t, &b, "bob", "beta-pc1", None).await.unwrap();

        // Each panel shows its own seat with program, e-mail, address and OS account.
        let panel = alpha.get(&format!("/w/{a}/")).await;
        assert_eq!(panel.status, StatusCode::OK, "{}", panel.text);
        assert!(
            panel.has(&format!("id=\"seat-{}\"", anna.id)),
            "{}",
            panel.text
        );
        assert!(
            panel.has("signed in as admin@alpha.example")
                && panel.has("10.1.2.3")
                && panel.has("autocad 2026.1")
        );
        assert!(panel.has("1 / 2"), "occupied / total: {}", panel.text);
        assert!(
            !panel.has(&bob.id) && !panel.has("beta-pc1"),
            "no other organization's seat"
        );
        let panel = beta.get(&format!("/w/{b}/")).await;
        assert!(panel.has(&bob.id) && !panel.has(&anna.id));

        // Alpha's member, with a valid session and CSRF secret, reaches nothing of Beta's.
        alpha.get(&format!("/w/{a}/")).await;
        assert_eq!(
            alpha.get(&format!("/w/{b}/")).await.status,
            StatusCode::NOT_FOUND
        );
        let forms: [(String, Vec<(&str, &str)>); 5] = [
            (format!("/w/{b}/seats/{}/remove", bob.id), vec![]),
            (
                format!("/w/{b}/policy"),
                vec![(
                    "policy",
                    "[[rule]]\npool = \"x\"\nexclude = [\"user:bob\"]\n",
                )],
            ),
            (format!("/w/{b}/switch"), vec![("enabled", "off")]),
            (format!("/w/{b}/access"), vec![("deny_list", "bob")]),
            (
                format!("/w/{b}/site-keys"),
                vec![("name", "Alpha's way in")],
            ),
        ];
        for (path, fields) in &forms {
            let page = alpha.submit(path, fields).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.text);
        }
        // Beta's lease id through Alpha's own panel finds nothing either.
        let page = alpha
            .submit(&format!("/w/{a}/seats/{}/remove", bob.id), &[])
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.text);

        // And the admin API with Alpha's session: 403 on Beta's realm, 404 for Beta's lease in Alpha's.
        let cookie = alpha.cookie.clone();
        let c = cookie.as_deref();
        for (method, path) in [
            ("GET", format!("/w/{b}/api/v1/admin/leases")),
            ("DELETE", format!("/w/{b}/api/v1/admin/leases/{}", bob.id)),
            ("GET", format!("/w/{b}/api/v1/admin/policy")),
            ("GET", format!("/w/{b}/api/v1/admin/usage")),
        ] {
            let (status, v) = call(&t, method, &path, c, None, None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {v}");
            assert_eq!(v["error"]["code"], "forbidden");
        }
        let mut put = Request::builder()
            .method("PUT")
            .uri(format!("/w/{b}/api/v1/admin/policy"))
            .header(header::COOKIE, format!("tessera_session={}", c.unwrap()))
            .body(Body::from("[[rule]]\npool = \"x\"\n"))
            .unwrap();
        put.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 1, 2, 3], 1))));
        assert_eq!(
            t.app.clone().oneshot(put).await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
        let (status, v) = call(
            &t,
            "DELETE",
            &format!("/w/{a}/api/v1/admin/leases/{}", bob.id),
            c,
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
        let (status, v) = call(
            &t,
            "GET",
            &format!("/w/{a}/api/v1/admin/leases"),
            c,
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let ids: Vec<&str> = v["leases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [anna.id.as_str()]);
        assert_eq!(v["leases"][0]["email"], "admin@alpha.example");
        assert_eq!(v["leases"][0]["signed_in"], "admin@alpha.example");
        assert_eq!(v["leases"][0]["address"], "10.1.2.3");

        // A seat token of one organization is no key to another's lease.
        let (status, _) = call(
            &t,
            "POST",
            &format!("/w/{a}/api/v1/leases/{}/heartbeat", bob.id),
            None,
            Some(&bob.token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Beta is untouched: Bob's seat, switch, lists and policy as they were.
        assert_eq!(heartbeat(&t, &b, &bob).await.0, StatusCode::OK);
        let realm = t.portal.store.realm(&b).await.unwrap().unwrap();
        assert!(realm.enabled && realm.policy.is_empty() && realm.deny_list.is_empty());

        // Nobody signed in: the panel sends to sign-in, the API says 401.
        let mut anonymous = t.browser();
        let page = anonymous.get(&format!("/w/{a}/")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert!(page.location.unwrap().starts_with("/signin"));
        assert_eq!(
            call(
                &t,
                "GET",
                &format!("/w/{a}/api/v1/admin/leases"),
                None,
                None,
                None
            )
            .await
            .0,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn the_panels_remove_frees_a_seat_and_the_client_learns_on_its_next_heartbeat() {
    for t in TestPortal::every_backend().await {
        let (mut alpha, a) = web_org(&t, "admin@alpha.example", "Alpha Design").await;
        let anna = checkout(&t, &a, "anna", "pc1", None).await.unwrap();
        let _carl = checkout(&t, &a, "carl", "pc2", None).await.unwrap();
        let (status, v) = checkout(&t, &a, "dora", "pc3", None).await.err().unwrap();
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("no_seat_available"))
        );

        assert!(alpha.get(&format!("/w/{a}/")).await.has("2 / 2"));
        let done = alpha
            .submit(&format!("/w/{a}/seats/{}/remove", anna.id), &[])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
        let panel = alpha.get(done.location.as_deref().unwrap()).await;
        assert!(panel.has("The seat was removed"), "{}", panel.text);
        assert!(panel.has("1 / 2") && !panel.has(&anna.id));

        let (status, v) = heartbeat(&t, &a, &anna).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(v["error"]["code"], "lease_not_found");
        checkout(&t, &a, "dora", "pc3", None)
            .await
            .expect("the freed seat is taken");
        // Removing it again says it is gone, as a page, not a 500.
        let again = alpha
            .submit(&format!("/w/{a}/seats/{}/remove", anna.id), &[])
            .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        // Usage: the removal is in the CSV export.
        let csv = alpha
            .get(&format!("/w/{a}/api/v1/admin/usage?format=csv"))
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(
            csv.text.contains("removed") && csv.text.contains("no_seat_available"),
            "{}",
            csv.text
        );
        assert!(
            alpha
                .get(&format!("/w/{a}/"))
                .await
                .has("Refused for want of a seat: 1 in 30 days")
        );
    }
}

#[tokio::test]
async fn a_bad_policy_is_refused_with_its_line_and_the_old_one_stays_in_force() {
    for t in TestPortal::every_backend().await {
        let (mut alpha, a) = web_org(&t, "admin@alpha.example", "Alpha Design").await;
        alpha.get(&format!("/w/{a}/")).await;
        let good = "[[rule]]\nproduct = \"autocad\"\nexclude = [\"user:mallory\"]\n";
        let saved = alpha
            .submit(&format!("/w/{a}/policy"), &[("policy", good)])
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
        let (status, v) = checkout(&t, &a, "mallory", "pc9", None)
            .await
            .err()
            .unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(v["error"]["code"], "denied_by_policy");

        alpha.get(&format!("/w/{a}/")).await;
        let bad = "[[rule]]\nproduct = \"autocad\"\n\ninclude = [\"group:nobody\"]\n";
        let refused = alpha
            .submit(&format!("/w/{a}/policy"), &[("policy", bad)])
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.has("line 1") && refused.has("nobody"),
            "{}",
            refused.text
        );
        assert!(
            refused.has("group:nobody"),
            "the text sent is shown again to fix it"
        );
        let panel = alpha.get(&format!("/w/{a}/")).await;
        assert!(
            panel.has("user:mallory"),
            "the old policy stays: {}",
            panel.text
        );
        assert!(checkout(&t, &a, "mallory", "pc9", None).await.is_err());
        assert!(checkout(&t, &a, "anna", "pc1", None).await.is_ok());
    }
}

#[tokio::test]
async fn the_switch_and_the_allow_and_deny_lists_are_enforced_on_checkout() {
    for t in TestPortal::every_backend().await {
        let (mut alpha, a) = web_org(&t, "admin@alpha.example", "Alpha Design").await;
        let held = checkout(&t, &a, "anna", "pc1", None).await.unwrap();

        alpha.get(&format!("/w/{a}/")).await;
        let off = alpha
            .submit(&format!("/w/{a}/switch"), &[("enabled", "off")])
            .await;
        assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.text);
        assert!(alpha.get(&format!("/w/{a}/")).await.has("id=\"switch-on\""));
        let (status, v) = checkout(&t, &a, "carl", "pc2", None).await.err().unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(v["error"]["code"], "denied_by_policy");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("switched off")
        );
        assert_eq!(
            heartbeat(&t, &a, &held).await.0,
            StatusCode::OK,
            "a held seat runs on"
        );
        alpha
            .submit(&format!("/w/{a}/switch"), &[("enabled", "on")])
            .await
            .ok();
        checkout(&t, &a, "carl", "pc2", None).await.unwrap();

        // Lists: the deny list wins; with domains, only those e-mails (or the allow list).
        alpha.get(&format!("/w/{a}/")).await;
        let bad = alpha
            .submit(
                &format!("/w/{a}/access"),
                &[("allow_domains", "localhost"), ("deny_list", "mallory")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.has("localhost") && bad.has("not a domain"),
            "{}",
            bad.text
        );
        let saved = alpha
            .submit(
                &format!("/w/{a}/access"),
                &[
                    ("allow_domains", "alpha.example"),
                    ("allow_list", "contractor"),
                    ("deny_list", "mallory@alpha.example"),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
        // Release the two seats so only the lists decide.
        for l in t
            .portal
            .store
            .live_leases(&a, t.portal.now())
            .await
            .unwrap()
        {
            let by = tessera_server::audit::Actor::new(&a, "test", None);
            tessera_server::api::remove_seat(&t.portal.web, &a, &l.id, &by)
                .await
                .unwrap();
        }
        // People of Alpha, signed in on their computers.
        alpha.get("/account/teams").await;
        let made = alpha
            .submit("/account/teams", &[("name", "Drawing office")])
            .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
        let team = alpha.first_team().await;
        for person in ["mallory@alpha.example", "dora@alpha.example"] {
            t.invited(&mut alpha, &team, person).await;
        }
        let (status, v) = checkout(&t, &a, "mallory", "pc3", Some("mallory@alpha.example"))
            .await
            .err()
            .unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("deny list"),
            "{v}"
        );
        // A program with a site key that types an address on the allowed domain is still
        // no person: the domains admit signed-in people only.
        let key = site_key(&t, &a).await;
        let (status, v) = call(
            &t,
            "POST",
            &format!("/w/{a}/api/v1/leases"),
            None,
            Some(&key),
            Some(json!({"product": "autocad", "user": "eve", "host": "pc4",
                "client_id": "eve-pc4", "email": "eve@alpha.example"})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is not signed in"),
            "{v}"
        );
        checkout(&t, &a, "dora", "pc5", Some("Dora@Alpha.example"))
            .await
            .expect("an allowed domain");
        checkout(&t, &a, "contractor", "pc6", None)
            .await
            .expect("on the allow list");
        let (status, v) = call(
            &t,
            "POST",
            &format!("/w/{a}/api/v1/leases"),
            None,
            Some(&key),
            Some(json!({"product": "autocad", "user": "x", "host": "pc7",
                "client_id": "x-pc7", "email": "not-an-address"})),
        )
        .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_request"))
        );
        // Refusals by the lists are in the usage record.
        let denials = t
            .portal
            .store
            .denials(&a, 0, t.portal.now() + 1)
            .await
            .unwrap();
        assert!(
            denials
                .iter()
                .any(|d| d.user_name == "mallory" && d.code == "denied_by_policy")
        );
    }
}
