//! Token (consumption) licensing through the portal, on SQLite and PostgreSQL: staff
//! grant packs in the back office; a person signed in with a named-user token reports
//! uses with `POST /api/v1/tokens/use`; the first use of a product in 24 hours charges
//! its daily rate, drawn from the pack that expires first (across packs when it runs
//! short); a short use is free; an empty balance answers 402 `tokens_exhausted`, an
//! expired one 410 `tokens_expired`; concurrent uses charge once; the low balance is
//! e-mailed once.

use crate::support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{TestPortal, post_json};

/// A named-user token of `email` (whose organization has had token packs).
async fn sign_in(t: &TestPortal, email: &str, product: &str) -> String {
    let (status, body) = t.activate(email, "pc-1", product).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn use_product(
    t: &TestPortal,
    token: &str,
    product: &str,
    used_seconds: Option<u64>,
) -> (StatusCode, Value) {
    let mut body = json!({ "product": product });
    if let Some(s) = used_seconds {
        body["used_seconds"] = json!(s);
    }
    post_json(&t.app, "/api/v1/tokens/use", Some(token), body).await
}

fn day_in(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

#[tokio::test]
async fn uses_charge_the_daily_rate_once_per_24_hours_from_the_earliest_pack() {
    for t in TestPortal::every_backend().await {
        let email = "anna@tokens.example";
        let _anna = t.customer(email, "Tokens Office").await;
        let org = t.organization_of(email).await;
        let (org_id, slug) = (org.id, org.slug);

        // Without any pack, no token sign-in.
        let (status, body) = t.activate(email, "pc-1", "autocad").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "seat_unassigned");

        // Staff grant two packs in the back office; a customer cannot.
        let mut staff = t.staff().await;
        let page = staff.get("/staff/tokens").await.ok();
        assert!(
            page.has("<label for=\"tokens\">Tokens</label>"),
            "{}",
            page.text
        );
        let late = day_in(300);
        let soon = day_in(10);
        for (tokens, day) in [("25", late.as_str()), ("8", soon.as_str())] {
            let r = staff
                .submit(
                    "/staff/tokens",
                    &[
                        ("organization", &slug),
                        ("tokens", tokens),
                        ("expires_on", day),
                        ("note", "test"),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        }
        let bad = staff
            .submit(
                "/staff/tokens",
                &[
                    ("organization", &slug),
                    ("tokens", "0"),
                    ("expires_on", &late),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        let shown = staff.get(&format!("/staff/tokens?org={slug}")).await.ok();
        assert_eq!(
            support::text_of(&shown.text, "staff-token-balance").as_deref(),
            Some("33")
        );
        let mut customer = t.customer("eve@elsewhere.example", "Elsewhere").await;
        customer.get("/account/orders").await;
        let refused = customer
            .submit(
                "/staff/tokens",
                &[
                    ("organization", &slug),
                    ("tokens", "99"),
                    ("expires_on", &late),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);

        let token = sign_in(&t, email, "autocad").await;

        // A use shorter than 5 minutes is free.
        let (status, body) = use_product(&t, &token, "autocad", Some(120)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "free");
        assert_eq!(body["balance"], 33);

        // The first real use charges 10: 8 from the pack ending soon, 2 from the other.
        let (status, body) = use_product(&t, &token, "autocad", Some(600)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "charged");
        assert_eq!(body["charged"], 10);
        assert_eq!(body["balance"], 23);
        let packs = t.portal.store.token_packs(&org_id).await.unwrap();
        assert_eq!(
            packs
                .iter()
                .map(|p| (p.expires_on.clone(), p.remaining))
                .collect::<Vec<_>>(),
            vec![(soon.clone(), 0), (late.clone(), 23)]
        );
        let draws = t.portal.store.token_draws(&org_id).await.unwrap();
        let mut drawn: Vec<i64> = draws.iter().map(|d| d.2).collect();
        drawn.sort();
        assert_eq!(drawn, vec![2, 8]);

        // Within 24 hours the same product is paid; another product is charged.
        let (_, body) = use_product(&t, &token, "autocad", None).await;
        assert_eq!(body["status"], "already_paid");
        assert_eq!(body["charged"], 0);
        assert_eq!(body["balance"], 23);
        let (_, body) = use_product(&t, &token, "share", None).await;
        assert_eq!(body["status"], "charged");
        assert_eq!(body["balance"], 18);

        // A product without a rate, a bad token, no token.
        let (status, body) = use_product(&t, &token, "maya", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["code"], "unknown_product");
        let (status, _) = use_product(&t, "v4.public.nonsense", "autocad", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = post_json(
            &t.app,
            "/api/v1/tokens/use",
            None,
            json!({"product": "autocad"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // The balance fell below 100 with the first charge: one e-mail, not one per charge.
        let low: Vec<_> = t
            .mails_to(email)
            .await
            .into_iter()
            .filter(|m| m.subject.contains("token balance is low"))
            .collect();
        assert_eq!(low.len(), 1, "{low:?}");
        assert!(low[0].text.contains("23 token(s) left"), "{}", low[0].text);

        // The same window 25 hours later is over: charged again (store, with its clock).
        let later = t.portal.now() + 25 * 3600 * 1000;
        let user = t.user(email).await;
        let outcome = t
            .portal
            .store
            .use_tokens(&tessera_store::portal::TokenUse {
                organization_id: &org_id,
                user_id: &user.id,
                email,
                product: "autocad",
                rate: 10,
                free: false,
                today: &day_in(1),
                now: later,
                low_balance: 100,
            })
            .await
            .unwrap();
        assert!(
            matches!(
                outcome,
                tessera_store::portal::TokenOutcome::Charged {
                    balance: 8,
                    mail_low_balance: false,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn an_empty_balance_and_an_expired_one_are_refused_with_their_codes() {
    for t in TestPortal::every_backend().await {
        let email = "bob@short.example";
        t.customer(email, "Short Office").await;
        let org_id = t.organization_of(email).await.id;
        t.grant_tokens(&org_id, 7, &day_in(30)).await;
        let token = sign_in(&t, email, "").await;
        let (status, body) = use_product(&t, &token, "autocad", None).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
        assert_eq!(body["error"]["code"], "tokens_exhausted");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("7 left")
        );
        // Even a free (short) use is refused when the balance is below the rate.
        let (status, _) = use_product(&t, &token, "autocad", Some(10)).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
        let (status, body) = use_product(&t, &token, "share", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["balance"], 2);

        let email = "cleo@late.example";
        t.customer(email, "Late Office").await;
        let org_id = t.organization_of(email).await.id;
        t.grant_tokens(&org_id, 500, &day_in(-1)).await;
        let token = sign_in(&t, email, "revit").await;
        let (status, body) = use_product(&t, &token, "revit", None).await;
        assert_eq!(status, StatusCode::GONE, "{body}");
        assert_eq!(body["error"]["code"], "tokens_expired");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&day_in(-1)),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uses_charge_once_per_person_and_product() {
    for t in TestPortal::every_backend().await {
        let email = "dan@busy.example";
        t.customer(email, "Busy Office").await;
        let org_id = t.organization_of(email).await.id;
        for (tokens, days) in [(12, 5), (100, 200)] {
            t.grant_tokens(&org_id, tokens, &day_in(days)).await;
        }
        let token = sign_in(&t, email, "").await;
        let mut tasks = Vec::new();
        for i in 0..24 {
            let app = t.app.clone();
            let token = token.clone();
            let product = ["autocad", "revit", "share"][i % 3];
            tasks.push(tokio::spawn(async move {
                post_json(
                    &app,
                    "/api/v1/tokens/use",
                    Some(&token),
                    json!({ "product": product }),
                )
                .await
            }));
        }
        let mut charged = Vec::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["status"] == "charged" {
                charged.push(body["product"].as_str().unwrap().to_owned());
            } else {
                assert_eq!(body["status"], "already_paid", "{body}");
            }
        }
        charged.sort();
        assert_eq!(charged, vec!["autocad", "revit", "share"]);
        // 25 tokens drawn in all, the 12 of the earlier pack first.
        let packs = t.portal.store.token_packs(&org_id).await.unwrap();
        assert_eq!(
            packs.iter().map(|p| p.remaining).collect::<Vec<_>>(),
            vec![0, 87]
        );
        let today = day_in(0);
        let charges = t
            .portal
            .store
            .token_charges(&org_id, &today, &today)
            .await
            .unwrap();
        assert_eq!(charges.len(), 3);
        assert_eq!(charges.iter().map(|c| c.tokens).sum::<i64>(), 25);
        let drawn: i64 = t
            .portal
            .store
            .token_draws(&org_id)
            .await
            .unwrap()
            .iter()
            .map(|d| d.2)
            .sum();
        assert_eq!(drawn, 25);
    }
}

/// Token packs are bought like any license: Buy → Flex tokens (a number of packs, no
/// license server) → Checkout → Paid puts the tokens in the organization's balance until
/// the end of the period, once, with an e-mail that says so; no Use Web License Server.
#[tokio::test]
async fn token_packs_are_bought_as_an_order_and_paid_into_the_balance() {
    for t in TestPortal::every_backend().await {
        let email = "flex@office.example";
        let mut buyer = t.customer_with_company(email, "Flex Office").await;
        let page = buyer.get("/buy/tokens").await;
        assert!(
            page.has("Number of packs (100 tokens each)"),
            "{}",
            page.text
        );
        assert!(!page.has("Registration key"), "no license server to choose");
        let added = buyer
            .submit(
                "/buy/tokens",
                &[("option", "tokens-1y"), ("start", ""), ("users", "3")],
            )
            .await;
        assert!(added.status.is_redirection(), "{}", added.text);
        let number = buyer.place_order().await;

        let mut staff = t.staff().await;
        let start = support::today();
        let paid = staff.mark_paid(&number, &start).await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
        let again = staff.mark_paid(&number, &start).await;
        assert_eq!(again.status, StatusCode::CONFLICT);

        let store = &t.portal.store;
        let org = t.user(email).await.organization_id;
        let packs = store.token_packs(&org).await.unwrap();
        assert_eq!(packs.len(), 1, "{packs:?}");
        assert_eq!((packs[0].tokens, packs[0].remaining), (300, 300));
        let order = t.order(&number).await;
        let last = (chrono::NaiveDate::parse_from_str(&order.end_date, "%Y-%m-%d").unwrap()
            - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
        assert_eq!(packs[0].expires_on, last);
        assert_eq!(
            store.token_balance(&org, &start).await.unwrap(),
            300,
            "in the balance"
        );
        assert!(!order.auto_renew, "a pack does not renew by itself");
        let mails = t.mails_to(email).await;
        let paid_mail = mails
            .iter()
            .find(|m| m.subject.contains(&number) && m.subject.contains("your tokens"))
            .expect("the Paid e-mail");
        assert!(paid_mail.text.contains("300 tokens"), "{}", paid_mail.text);
        let orders = buyer.get("/account/orders").await;
        assert!(!orders.has("Use Web License Server"), "{}", orders.text);
    }
}
