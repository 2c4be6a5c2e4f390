//! The web license server: one protocol per organization at `/w/{org}/api/v1`, tokens
//! signed by the vendor key, and organizations that never see, use or free each other's
//! seats. In-process on a real loopback socket, with the real client library, on SQLite
//! and (when reachable) PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tessera_client::{Client, ClientConfig};
use tessera_core::{ErrorCode, LicenseModel, PoolSpec, to_millis};
use tessera_server::error::ApiError;
use tessera_server::{AdminGate, ServerConfig, grant_web_pools, web_router, web_state};
use tessera_store::Store;
use tessera_store::testing::TestDatabase;
use tessera_token::SigningKey;

/// The portal decides who administers a realm; here the header `x-admin-of: ORG` does.
struct HeaderGate;

impl AdminGate for HeaderGate {
    fn authorize<'a>(
        &'a self,
        parts: &'a axum::http::request::Parts,
        realm: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ApiError>> + Send + 'a>>
    {
        Box::pin(async move {
            match parts
                .headers
                .get("x-admin-of")
                .and_then(|v| v.to_str().ok())
            {
                Some(org) if org == realm => Ok(()),
                Some(_) => Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "not an admin of this organization",
                )),
                None => Err(ApiError::unauthorized("sign in to the portal")),
            }
        })
    }
}

fn pool(id: &str, products: &[&str], seats: u32) -> PoolSpec {
    PoolSpec {
        id: id.into(),
        products: products.iter().map(|s| s.to_string()).collect(),
        model: LicenseModel::Floating,
        seats,
        start: Utc::now() - chrono::Duration::minutes(1),
        end: Utc::now() + chrono::Duration::days(30),
        borrow_max_hours: 0,
    }
}

struct Web {
    url: String,
    vendor: SigningKey,
    store: Store,
    _keep: Box<dyn std::any::Any + Send>,
}

/// A web license server with two organizations, on every backend there is.
async fn web_servers() -> Vec<Web> {
    let mut stores: Vec<(Store, Box<dyn std::any::Any + Send>)> = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    stores.push((
        Store::open_sqlite(&dir.path().join("w.db")).await.unwrap(),
        Box::new(dir),
    ));
    if let Some(db) = TestDatabase::create().await {
        stores.push((Store::open_url(&db.url).await.unwrap(), Box::new(db)));
    }
    let mut out = Vec::new();
    for (store, keep) in stores {
        let vendor = SigningKey::generate();
        let now = to_millis(Utc::now());
        let a = vec![pool("a-acad", &["acad"], 1)];
        let b = vec![pool("b-acad", &["acad"], 2)];
        grant_web_pools(&store, "org-a", "Office A", "order-1", a, now)
            .await
            .unwrap();
        grant_web_pools(&store, "org-b", "Office B", "order-2", b, now)
            .await
            .unwrap();
        let config = ServerConfig::new(std::env::temp_dir());
        let state = web_state(store.clone(), vendor.clone(), config, Arc::new(HeaderGate));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, web_router(state)).await });
        out.push(Web {
            url: format!("http://{addr}"),
            vendor,
            store,
            _keep: keep,
        });
    }
    out
}

fn client(web: &Web, org: &str, user: &str) -> Client {
    Client::new(
        ClientConfig::builder()
            .server(format!("{}/w/{org}", web.url))
            .vendor_key(web.vendor.verifying_key().clone())
            .user(user)
            .host("laptop")
            .build()
            .unwrap(),
    )
}

/// Raw HTTP for what the client library does not do: (status, body).
fn call(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = agent
        .run(req.body(body.as_bytes().to_vec()).unwrap())
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_library_takes_a_seat_from_an_organizations_web_license_server() {
    for web in web_servers().await {
        let a = client(&web, "org-a", "anna@a.example");
        let a2 = client(&web, "org-a", "bob@a.example");
        let url = web.url.clone();
        blocking(move || {
            let license = a.checkout("acad").expect("a seat of org-a");
            assert!(license.claims().products.contains(&"acad".to_owned()));
            // org-a has one seat: the second person waits for anna.
            assert_eq!(a2.checkout("acad").unwrap_err().code(), "no_seat_available");
            let (status, info) = call("GET", &format!("{url}/w/org-a/api/v1/server"), &[], "");
            assert_eq!(status, 200);
            assert_eq!(info["products"][0]["in_use"], 1);
            assert_eq!(
                info["registration_key"], "",
                "the web server has no registration key"
            );
            drop(license);
            a2.checkout("acad").expect("the seat freed");
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_organization_never_sees_uses_or_frees_anothers_seats() {
    for web in web_servers().await {
        let a = client(&web, "org-a", "anna@a.example");
        let url = web.url.clone();
        blocking(move || {
            let license = a.checkout("acad").unwrap();
            let id = license.lease_id();
            let bearer = format!("Bearer {}", license.token());
            let auth = [("authorization", bearer.as_str())];
            // org-b's server knows nothing of org-a's lease, even with its id and token.
            let hb = format!("{url}/w/org-b/api/v1/leases/{id}/heartbeat");
            let (status, body) = call("POST", &hb, &auth, "");
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (404, Some("lease_not_found"))
            );
            let (status, _) = call(
                "DELETE",
                &format!("{url}/w/org-b/api/v1/leases/{id}"),
                &auth,
                "",
            );
            assert_eq!(status, 404);
            // org-b's admin cannot list or remove it, neither through org-b nor org-a.
            let b_admin = [("x-admin-of", "org-b")];
            let (status, list) = call(
                "GET",
                &format!("{url}/w/org-b/api/v1/admin/leases"),
                &b_admin,
                "",
            );
            assert_eq!(status, 200);
            assert_eq!(list["leases"].as_array().unwrap().len(), 0);
            let remove_b = format!("{url}/w/org-b/api/v1/admin/leases/{id}");
            assert_eq!(call("DELETE", &remove_b, &b_admin, "").0, 404);
            let list_a = format!("{url}/w/org-a/api/v1/admin/leases");
            assert_eq!(call("GET", &list_a, &b_admin, "").0, 403);
            let remove_a = format!("{url}/w/org-a/api/v1/admin/leases/{id}");
            assert_eq!(call("DELETE", &remove_a, &b_admin, "").0, 403);
            assert_eq!(call("GET", &list_a, &[], "").0, 401);
            // org-a's lease is whole, and org-a's admin sees it.
            assert!(license.is_valid());
            let (_, list) = call("GET", &list_a, &[("x-admin-of", "org-a")], "");
            assert_eq!(list["leases"][0]["id"], id.as_str());
            // org-b's seats are org-b's: its pool is untouched by org-a's checkout.
            let (_, info) = call("GET", &format!("{url}/w/org-b/api/v1/server"), &[], "");
            assert_eq!(info["products"][0]["in_use"], 0);
            assert_eq!(info["products"][0]["id"], "b-acad");
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_organization_is_not_found_and_a_switched_off_one_refuses() {
    for web in web_servers().await {
        let url = web.url.clone();
        let (status, body) =
            blocking(move || call("GET", &format!("{url}/w/nobody/api/v1/server"), &[], "")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found"))
        );
        assert!(web.store.set_realm_enabled("org-a", false).await.unwrap());
        // The realm's switch is cached for a few seconds at most.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let a = client(&web, "org-a", "anna@a.example");
        let err = blocking(move || a.checkout("acad").unwrap_err()).await;
        assert_eq!(err.code(), "denied_by_policy");
        assert!(err.to_string().contains("switched off"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_organization_has_its_own_policy() {
    for web in web_servers().await {
        let url = web.url.clone();
        let (status, _) = blocking(move || {
            call(
                "PUT",
                &format!("{url}/w/org-b/api/v1/admin/policy"),
                &[("x-admin-of", "org-b")],
                "[[rule]]\nproduct = \"acad\"\nexclude = [\"user:eve@b.example\"]\n",
            )
        })
        .await;
        assert_eq!(status, 200);
        let eve_b = client(&web, "org-b", "eve@b.example");
        let eve_a = client(&web, "org-a", "eve@b.example");
        blocking(move || {
            assert_eq!(
                eve_b.checkout("acad").unwrap_err().code(),
                "denied_by_policy"
            );
            eve_a
                .checkout("acad")
                .expect("org-a's policy does not exclude eve");
        })
        .await;
    }
}
