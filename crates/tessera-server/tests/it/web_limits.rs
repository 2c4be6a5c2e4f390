//! Per-organization rate limits on the web license server: one organization flooding its
//! server (all its clients together) gets 429 `rate_limited` with `Retry-After` while
//! another organization is answered as usual, and the flooded one is answered again once
//! its bucket refills. In-process on a real loopback socket, every request from the
//! same address with per-client limits off, so only the organization's bucket acts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tessera_core::{ErrorCode, LicenseModel, PoolSpec, to_millis};
use tessera_server::credential::{Person, refused};
use tessera_server::error::ApiError;
use tessera_server::{ServerConfig, WebGate, grant_web_pools, web_router, web_state};
use tessera_store::Store;
use tessera_token::SigningKey;

struct NoAdmins;

impl WebGate for NoAdmins {
    fn person<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Person, ApiError>> + Send + 'a>>
    {
        Box::pin(async { Err(refused()) })
    }

    fn authorize<'a>(
        &'a self,
        _: &'a axum::http::request::Parts,
        _: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, ApiError>> + Send + 'a>>
    {
        Box::pin(async { Err(ApiError::new(ErrorCode::Forbidden, "no admins here")) })
    }
}

fn pool(id: &str) -> PoolSpec {
    PoolSpec {
        id: id.into(),
        products: vec!["acad".into()],
        model: LicenseModel::Floating,
        seats: 2,
        start: Utc::now() - chrono::Duration::minutes(1),
        end: Utc::now() + chrono::Duration::days(30),
        borrow_max_hours: 0,
    }
}

/// (status, `Retry-After`, error code) of a look at the pools with a site key.
fn get((url, key): &(String, String)) -> (u16, Option<u64>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .header("authorization", &format!("Bearer {key}"))
        .call()
        .unwrap();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body: serde_json::Value = resp.body_mut().read_json().unwrap_or_default();
    let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
    (resp.status().as_u16(), retry, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_organization_is_limited_while_another_is_answered_and_it_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("w.db")).await.unwrap();
    let now = to_millis(Utc::now());
    let mut keys = Vec::new();
    for org in ["org-a", "org-b"] {
        grant_web_pools(
            &store,
            org,
            org,
            &format!("order-{org}"),
            vec![pool(org)],
            now,
        )
        .await
        .unwrap();
        let (_, key) = tessera_server::credential::add_site_key(&store, org, "PCs", "admin", now)
            .await
            .unwrap();
        keys.push(key);
    }
    let mut config = ServerConfig::new(dir.path().to_owned());
    config.rate_limit = 0;
    config.org_rate_limit = 10;
    let state = web_state(store, SigningKey::generate(), config, Arc::new(NoAdmins));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            web_router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    tokio::task::spawn_blocking(move || {
        let a = (format!("{base}/w/org-a/api/v1/server"), keys[0].clone());
        let b = (format!("{base}/w/org-b/api/v1/server"), keys[1].clone());
        // org-a's clients flood it: past its burst of 20 they are turned away.
        let (mut answered, mut limited, mut waits, mut b_answered) = (0, 0, Vec::new(), 0);
        let end = Instant::now() + Duration::from_secs(2);
        let mut next_b = Instant::now();
        while Instant::now() < end {
            // Meanwhile org-b, within its own limit (5 a second), is answered every time.
            if Instant::now() >= next_b {
                assert_eq!(get(&b).0, 200, "another organization is not slowed");
                b_answered += 1;
                next_b += Duration::from_millis(200);
            }
            match get(&a) {
                (200, _, _) => answered += 1,
                (429, retry, code) => {
                    assert_eq!(code, "rate_limited");
                    waits.push(retry.expect("a 429 says when to try again"));
                    limited += 1;
                }
                other => panic!("unexpected answer {other:?}"),
            }
        }
        assert!(
            limited > 0,
            "the flood was never limited ({answered} answered)"
        );
        // A burst of 20, then 10 a second for 2 seconds, and a little slack.
        assert!(
            answered <= 20 + 2 * 10 + 5,
            "the flood got {answered} answers"
        );
        assert!(waits.iter().all(|w| (1..=2).contains(w)), "{waits:?}");
        assert!(b_answered >= 8, "org-b was asked {b_answered} times");
        // Once the flood stops and the time it was told passes, org-a is answered again.
        let (status, retry, _) = get(&a);
        if status == 429 {
            std::thread::sleep(Duration::from_secs(retry.unwrap()));
        }
        assert_eq!(get(&a).0, 200, "the flooded organization recovers");
    })
    .await
    .unwrap();
}

/// One credential from many addresses is slowed as one client: past its burst a site key
/// gets 429 with `Retry-After`, while another key of the same organization is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_is_limited_from_all_its_addresses_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("w.db")).await.unwrap();
    let now = to_millis(Utc::now());
    grant_web_pools(
        &store,
        "org-a",
        "org-a",
        "order-a",
        vec![pool("org-a")],
        now,
    )
    .await
    .unwrap();
    let mut keys = Vec::new();
    for name in ["leaked", "other"] {
        let (_, key) =
            tessera_server::credential::add_site_key(&store, "org-a", name, "admin", now)
                .await
                .unwrap();
        keys.push(key);
    }
    let mut config = ServerConfig::new(dir.path().to_owned());
    config.rate_limit = 0;
    config.org_rate_limit = 0;
    config.credential_rate_limit = 3;
    let state = web_state(store, SigningKey::generate(), config, Arc::new(NoAdmins));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            web_router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    tokio::task::spawn_blocking(move || {
        let url = format!("{base}/w/org-a/api/v1/server");
        let leaked = (url.clone(), keys[0].clone());
        let answers: Vec<(u16, Option<u64>, String)> = (0..10).map(|_| get(&leaked)).collect();
        let answered = answers.iter().filter(|a| a.0 == 200).count();
        assert!((6..=7).contains(&answered), "a burst of 6: {answers:?}");
        let limited = answers.iter().find(|a| a.0 == 429).expect("limited");
        assert_eq!(limited.2, "rate_limited");
        assert!(limited.1.is_some(), "a 429 says when to try again");
        assert_eq!(
            get(&(url, keys[1].clone())).0,
            200,
            "another key is not slowed"
        );
    })
    .await
    .unwrap();
}
