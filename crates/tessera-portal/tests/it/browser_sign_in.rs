//! Programs sign their person in through the browser (RFC 8628): the program's code is
//! approved or denied on the portal's /device page by the signed-in person, the program
//! gets its token once, and codes end, cannot be used twice, and are rate-limited.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestPortal, post_json};

async fn start(t: &TestPortal, computer: &str) -> Value {
    let (status, v) = post_json(
        &t.app,
        "/api/v1/named/browser",
        None,
        json!({"device": format!("device-of-{computer}"), "computer": computer, "product": "share"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

async fn poll(t: &TestPortal, started: &Value) -> (StatusCode, Value) {
    post_json(
        &t.app,
        "/api/v1/named/browser/token",
        None,
        json!({"device_code": started["device_code"]}),
    )
    .await
}

fn code_of(v: &(StatusCode, Value)) -> (StatusCode, &str) {
    (v.0, v.1["error"]["code"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn a_program_gets_its_token_once_after_the_person_approves_in_the_browser() {
    for t in TestPortal::every_backend().await {
        let (mut buyer, _, _) = t.paid_named_order("anna@office.example", "2").await;
        let started = start(&t, "Anna's drawing PC").await;
        let code = started["user_code"].as_str().unwrap().to_owned();
        assert!(
            started["verification_uri_complete"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/device?code={code}"))
        );
        assert_eq!(
            code_of(&poll(&t, &started).await),
            (StatusCode::BAD_REQUEST, "authorization_pending")
        );
        assert_eq!(
            code_of(&poll(&t, &started).await),
            (StatusCode::BAD_REQUEST, "slow_down"),
            "asked again at once"
        );

        // Someone not signed in is sent to sign in first, and back here after.
        let mut stranger = t.browser();
        let page = stranger.get(&format!("/device?code={code}")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);

        // The person, signed in, sees which computer asks, and approves.
        let typed = code.to_lowercase().replace('-', "+");
        let page = buyer.get(&format!("/device?code={typed}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.has("Anna&#39;s drawing PC"), "{}", page.text);
        assert!(page.has(&code));
        let done = buyer
            .submit("/device", &[("code", &code), ("decision", "approve")])
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        assert!(
            done.has("is signed in as anna@office.example"),
            "{}",
            done.text
        );

        tokio::time::sleep(std::time::Duration::from_millis(4600)).await;
        let (status, grant) = poll(&t, &started).await;
        assert_eq!(status, StatusCode::CREATED, "{grant}");
        let claims =
            tessera_token::verify_named(t.vendor.verifying_key(), grant["token"].as_str().unwrap())
                .unwrap();
        assert_eq!(claims.sub, "anna@office.example");
        assert_eq!(claims.device, "device-of-Anna's drawing PC");
        assert!(claims.products.contains(&"share".to_owned()));

        // Once: the code is spent, for the program and on the page.
        tokio::time::sleep(std::time::Duration::from_millis(4600)).await;
        assert_eq!(
            code_of(&poll(&t, &started).await),
            (StatusCode::GONE, "expired_token")
        );
        let page = buyer.get(&format!("/device?code={code}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        assert!(page.has("No program is waiting"), "{}", page.text);
    }
}

#[tokio::test]
async fn a_denied_sign_in_is_refused_to_the_program_and_a_made_up_code_finds_nothing() {
    let t = TestPortal::sqlite().await;
    let (mut buyer, _, _) = t.paid_named_order("anna@office.example", "2").await;
    let started = start(&t, "Kiosk").await;
    let code = started["user_code"].as_str().unwrap().to_owned();
    buyer.get(&format!("/device?code={code}")).await;
    let done = buyer
        .submit("/device", &[("code", &code), ("decision", "deny")])
        .await;
    assert!(done.has("was denied"), "{}", done.text);
    let refused = poll(&t, &started).await;
    assert_eq!(code_of(&refused), (StatusCode::FORBIDDEN, "access_denied"));
    assert!(
        refused.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("denied")
    );
    // Approving afterwards changes nothing.
    let again = buyer
        .submit("/device", &[("code", &code), ("decision", "approve")])
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let (status, _) = post_json(
        &t.app,
        "/api/v1/named/browser/token",
        None,
        json!({"device_code": "made-up"}),
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
    let page = buyer.get("/device?code=ABCD-1234").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.has("eight letters"), "{}", page.text);
    let _ = PASSWORD;
}

#[tokio::test]
async fn a_code_ends_after_its_time_and_starts_are_rate_limited() {
    let t = TestPortal::sqlite_with(|c| c.named.browser_code_seconds = 1).await;
    let (mut buyer, _, _) = t.paid_named_order("anna@office.example", "2").await;
    let started = start(&t, "Slow PC").await;
    let code = started["user_code"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let page = buyer.get(&format!("/device?code={code}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(
        code_of(&poll(&t, &started).await),
        (StatusCode::GONE, "expired_token")
    );
    // Ten starts in a burst from one address, then 429 until the bucket refills.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let (status, _) = post_json(
            &t.app,
            "/api/v1/named/browser",
            None,
            json!({"device": "d", "computer": "c"}),
        )
        .await;
        statuses.push(status);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let (status, v) = post_json(&t.app, "/api/v1/named/browser", None, json!({"device": ""})).await;
    assert!(
        status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::TOO_MANY_REQUESTS,
        "{status} {v}"
    );
}
