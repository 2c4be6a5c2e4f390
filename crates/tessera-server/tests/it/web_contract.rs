//! The web license server keeps the protocol's contract as the LAN server does: its own
//! OpenAPI document at `/w/{org}/api/v1/openapi.json` (its calls under `/w/{org}`, no
//! import of activation keys, admin calls by portal session), and every error under
//! `/w/{org}/api` is a protocol error body, including axum's own rejections. What
//! schemathesis found against the portal, kept as tests (scripts/api-contract runs it).

use std::sync::Arc;

use chrono::Utc;
use tessera_core::{LicenseModel, PoolSpec, to_millis};
use tessera_server::credential::{Person, refused};
use tessera_server::error::ApiError;
use tessera_server::{ServerConfig, WebGate, grant_web_pools, web_router, web_state};
use tessera_store::Store;
use tessera_token::SigningKey;
use tower::ServiceExt;

struct EveryoneAdmin;

impl WebGate for EveryoneAdmin {
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
        Box::pin(async { Ok("someone".to_owned()) })
    }
}

async fn web() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("w.db")).await.unwrap();
    let pool = PoolSpec {
        id: "p".into(),
        products: vec!["acad".into()],
        model: LicenseModel::Floating,
        seats: 1,
        start: Utc::now() - chrono::Duration::minutes(1),
        end: Utc::now() + chrono::Duration::days(30),
        borrow_max_hours: 0,
    };
    grant_web_pools(
        &store,
        "kowalski",
        "Kowalski",
        "o-1",
        vec![pool],
        to_millis(Utc::now()),
    )
    .await
    .unwrap();
    let config = ServerConfig::new(dir.path().to_owned());
    let state = web_state(
        store,
        SigningKey::generate(),
        config,
        Arc::new(EveryoneAdmin),
    );
    (web_router(state), dir)
}

async fn get(app: &axum::Router, uri: &str) -> (u16, String, serde_json::Value) {
    let response = app
        .clone()
        .oneshot(
            axum::http::Request::get(uri)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, content_type, json)
}

#[tokio::test]
async fn a_malformed_query_on_the_web_is_a_protocol_error_in_json() {
    let (app, _dir) = web().await;
    let (status, content_type, body) =
        get(&app, "/w/kowalski/api/v1/admin/usage?from=&format=").await;
    assert_eq!(status, 400);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    // A page outside the protocol keeps its own answer.
    let (status, _, _) = get(&app, "/w/kowalski/elsewhere").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn each_organization_has_its_own_true_openapi_document() {
    let (app, _dir) = web().await;
    let (status, content_type, doc) = get(&app, "/w/kowalski/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    assert_eq!(
        doc["servers"][0]["url"], "/w/kowalski",
        "calls live under /w/ORG"
    );
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/v1/leases"));
    assert!(
        !paths.contains_key("/api/v1/admin/activations"),
        "the web license server takes no activation keys"
    );
    assert_eq!(
        doc["paths"]["/api/v1/admin/leases"]["get"]["security"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["portal_session"]
    );
    assert!(doc["paths"]["/api/v1/leases"]["post"]["responses"]["429"].is_object());
    // A checkout always carries a credential here.
    assert_eq!(
        doc["paths"]["/api/v1/leases"]["post"]["security"],
        serde_json::json!([{"bearer": []}])
    );
    // The document is the same for any name: it tells nobody which organizations exist.
    let (status, _, other) = get(&app, "/w/nobody/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(other["paths"], doc["paths"]);
}
