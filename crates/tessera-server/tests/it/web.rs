//! The web license server: one protocol per organization at `/w/{org}/api/v1`, tokens
//! signed by the vendor key, organizations that never see, use or free each other's
//! seats, and seats only for a credential (a site key, a person's sign-in) of the
//! organization. In-process on a real loopback socket, with the real client library, on
//! SQLite and (when reachable) PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tessera_client::{Client, ClientConfig};
use tessera_core::{ErrorCode, LicenseModel, PoolSpec, to_millis};
use tessera_server::credential::{Person, add_site_key, refused};
use tessera_server::error::ApiError;
use tessera_server::{ServerConfig, WebGate, grant_web_pools, web_router, web_state};
use tessera_store::Store;
use tessera_store::testing::TestDatabase;
use tessera_token::SigningKey;

/// The portal decides who administers a realm; here the header `x-admin-of: ORG` does.
/// And whose sign-in a token is: here `person:EMAIL:ORG` is a live sign-in of EMAIL, an
/// account of ORG.
struct HeaderGate;

impl WebGate for HeaderGate {
    fn person<'a>(
        &'a self,
        realm: &'a str,
        token: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Person, ApiError>> + Send + 'a>>
    {
        Box::pin(async move {
            let mut parts = token.splitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("person"), Some(email), Some(org)) => Ok(Person {
                    email: email.to_owned(),
                    member: org == realm,
                }),
                _ => Err(refused()),
            }
        })
    }

    fn authorize<'a>(
        &'a self,
        parts: &'a axum::http::request::Parts,
        realm: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, ApiError>> + Send + 'a>>
    {
        Box::pin(async move {
            match parts
                .headers
                .get("x-admin-of")
                .and_then(|v| v.to_str().ok())
            {
                Some(org) if org == realm => Ok("someone".to_owned()),
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
    /// A site key of each organization, by organization.
    keys: std::collections::HashMap<&'static str, String>,
    _keep: Box<dyn std::any::Any + Send>,
}

impl Web {
    fn key(&self, org: &str) -> String {
        self.keys[org].clone()
    }
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
        let mut keys = std::collections::HashMap::new();
        for org in ["org-a", "org-b"] {
            let (_, key) = add_site_key(&store, org, "Office PCs", "admin", now)
                .await
                .unwrap();
            keys.insert(org, key);
        }
        let config = ServerConfig::new(std::env::temp_dir());
        let state = web_state(store.clone(), vendor.clone(), config, Arc::new(HeaderGate));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, web_router(state)).await });
        out.push(Web {
            url: format!("http://{addr}"),
            vendor,
            store,
            keys,
            _keep: keep,
        });
    }
    out
}

/// A program on `user`'s laptop with the site key of `org`.
fn client(web: &Web, org: &str, user: &str) -> Client {
    client_with(web, org, user, &web.key(org))
}

fn client_with(web: &Web, org: &str, user: &str, site_key: &str) -> Client {
    Client::new(
        ClientConfig::builder()
            .server(format!("{}/w/{org}", web.url))
            .vendor_key(web.vendor.verifying_key().clone())
            .user(user)
            .host("laptop")
            .site_key(site_key)
            .build()
            .unwrap(),
    )
}

/// Raw HTTP for what the client library does not do: (status, body). An error body's
/// `request_id` (new for every request, so it tells nothing of an organization) is
/// checked to be there and taken out, so that answers can be compared whole.
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
    let header = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let mut body: serde_json::Value =
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if let Some(error) = body.get_mut("error").and_then(|e| e.as_object_mut()) {
        let id = error.remove("request_id");
        assert_eq!(
            id.as_ref().and_then(|v| v.as_str()),
            header.as_deref(),
            "an error names its request, as its header does"
        );
    }
    (status, body)
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
        let key = format!("Bearer {}", web.key("org-a"));
        blocking(move || {
            let license = a.checkout("acad").expect("a seat of org-a");
            assert!(license.claims().products.contains(&"acad".to_owned()));
            assert!(
                license.claims().site_key.is_some(),
                "the token names its key"
            );
            // org-a has one seat: the second person waits for anna.
            assert_eq!(a2.checkout("acad").unwrap_err().code(), "no_seat_available");
            let auth = [("authorization", key.as_str())];
            let (status, info) = call("GET", &format!("{url}/w/org-a/api/v1/server"), &auth, "");
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
        let b_key = format!("Bearer {}", web.key("org-b"));
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
            let b_auth = [("authorization", b_key.as_str())];
            let (_, info) = call("GET", &format!("{url}/w/org-b/api/v1/server"), &b_auth, "");
            assert_eq!(info["products"][0]["in_use"], 0);
            assert_eq!(info["products"][0]["id"], "b-acad");
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_organization_answers_as_a_known_one_and_a_switched_off_one_refuses() {
    for web in web_servers().await {
        let url = web.url.clone();
        let (nobody, known) = blocking(move || {
            (
                call("GET", &format!("{url}/w/nobody/api/v1/server"), &[], ""),
                call("GET", &format!("{url}/w/org-a/api/v1/server"), &[], ""),
            )
        })
        .await;
        assert_eq!(nobody.0, 401);
        assert_eq!(nobody, known, "no oracle of which organizations exist");
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

/// The checkout body a stranger's program sends.
const CHECKOUT: &str = r#"{"product":"acad","user":"stranger","host":"far-away","client_id":"c1","email":"anna@a.example"}"#;
const BORROW: &str = r#"{"product":"acad","user":"stranger","host":"far-away","client_id":"c1","hours":2,"email":"anna@a.example"}"#;

fn json_call(method: &str, url: &str, auth: Option<&str>, body: &str) -> (u16, serde_json::Value) {
    let bearer = auth.map(|a| format!("Bearer {a}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    call(method, url, &headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_who_knows_only_the_address_gets_nothing() {
    for web in web_servers().await {
        web.store
            .set_realm_access("org-a", "a.example", "", "")
            .await
            .unwrap();
        let url = web.url.clone();
        blocking(move || {
            let made_up = format!("tsk_{}", "a".repeat(52));
            let mut answers = Vec::new();
            for org in ["org-a", "nobody"] {
                let base = format!("{url}/w/{org}/api/v1");
                // No credential at all, a typed e-mail on the allowed domain included.
                let (status, body) = json_call("POST", &format!("{base}/leases"), None, CHECKOUT);
                assert_eq!(status, 401, "{body}");
                assert_eq!(body["error"]["code"], "authentication_required");
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("tessera login"),
                    "{body}"
                );
                answers.push(body);
                let (status, body) = json_call("POST", &format!("{base}/borrows"), None, BORROW);
                assert_eq!(
                    (status, &body["error"]["code"]),
                    (401, &"authentication_required".into())
                );
                answers.push(body);
                // A made-up key, or a made-up sign-in.
                for fake in [made_up.as_str(), "v4.public.bm90IGEgdG9rZW4"] {
                    let (status, body) =
                        json_call("POST", &format!("{base}/leases"), Some(fake), CHECKOUT);
                    assert_eq!(status, 401, "{body}");
                    assert_eq!(body["error"]["code"], "invalid_credential");
                    answers.push(body);
                }
                // Heartbeats and check-ins with made-up ids and tokens give nothing either.
                let (status, body) = json_call(
                    "POST",
                    &format!("{base}/leases/0123/heartbeat"),
                    Some("v4.public.bm90IGEgdG9rZW4"),
                    "",
                );
                assert_eq!(
                    (status, &body["error"]["code"]),
                    (401, &"unauthorized".into())
                );
                answers.push(body);
                let (status, _) =
                    json_call("DELETE", &format!("{base}/leases/0123"), Some(&made_up), "");
                assert_eq!(status, 401);
                let (status, _) = json_call("DELETE", &format!("{base}/borrows/0123"), None, "");
                assert_eq!(status, 401);
            }
            // Every answer is the same for an organization that exists and one that does not.
            let (a, nobody) = answers.split_at(answers.len() / 2);
            assert_eq!(a, nobody);
        })
        .await;
        let seats = web
            .store
            .live_leases("org-a", to_millis(Utc::now()))
            .await
            .unwrap();
        assert!(seats.is_empty(), "no seat was taken: {seats:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_email_on_the_allowed_domain_is_not_a_credential_nor_a_person() {
    for web in web_servers().await {
        // org-a admits only people signed in at a.example.
        web.store
            .set_realm_access("org-a", "a.example", "", "")
            .await
            .unwrap();
        let url = web.url.clone();
        let key = web.key("org-a");
        blocking(move || {
            let leases = format!("{url}/w/org-a/api/v1/leases");
            // With the site key the program is let in as a program, not as the person
            // it types: the domain admits signed-in people only.
            let (status, body) = json_call("POST", &leases, Some(&key), CHECKOUT);
            assert_eq!(
                (status, &body["error"]["code"]),
                (403, &"denied_by_policy".into()),
                "{body}"
            );
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("not signed in"),
                "{body}"
            );
            // Signed in as anna@a.example, a member: admitted, and her e-mail is on the seat.
            let (status, body) = json_call(
                "POST",
                &leases,
                Some("person:anna@a.example:org-a"),
                CHECKOUT,
            );
            assert_eq!(status, 201, "{body}");
        })
        .await;
        let live = web
            .store
            .live_leases("org-a", to_millis(Utc::now()))
            .await
            .unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].signed_in.as_deref(), Some("anna@a.example"));
        assert_eq!(live[0].email.as_deref(), Some("anna@a.example"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_one_organization_gets_nothing_from_another() {
    for web in web_servers().await {
        let url = web.url.clone();
        let a_key = web.key("org-a");
        blocking(move || {
            let made_up = format!("tsk_{}", "b".repeat(52));
            let b = format!("{url}/w/org-b/api/v1");
            let with_a = json_call("POST", &format!("{b}/leases"), Some(&a_key), CHECKOUT);
            let with_fake = json_call("POST", &format!("{b}/leases"), Some(&made_up), CHECKOUT);
            assert_eq!(with_a.0, 401);
            assert_eq!(
                with_a, with_fake,
                "a key of another organization is as good as none"
            );
            let (status, _) = json_call("POST", &format!("{b}/borrows"), Some(&a_key), BORROW);
            assert_eq!(status, 401);
            let (status, _) = json_call("GET", &format!("{b}/server"), Some(&a_key), "");
            assert_eq!(status, 401);
            // A person of org-a is no one at org-b unless org-b's lists name them.
            let (status, body) = json_call(
                "POST",
                &format!("{b}/leases"),
                Some("person:anna@a.example:org-a"),
                CHECKOUT,
            );
            assert_eq!(
                (status, &body["error"]["code"]),
                (401, &"invalid_credential".into())
            );
        })
        .await;
        // org-b's allow list names her: now she is admitted there too.
        web.store
            .set_realm_access("org-b", "", "anna@a.example", "")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(6)).await;
        let url = web.url.clone();
        let (status, body) = blocking(move || {
            json_call(
                "POST",
                &format!("{url}/w/org-b/api/v1/leases"),
                Some("person:anna@a.example:org-a"),
                CHECKOUT,
            )
        })
        .await;
        assert_eq!(status, 201, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_ends_its_seats_and_takes_no_more() {
    for web in web_servers().await {
        let program = client(&web, "org-a", "anna");
        let license = blocking(move || program.checkout("acad").unwrap()).await;
        let (id, token) = (license.lease_id(), license.token());
        let (key, ended) = web
            .store
            .revoke_site_key("org-a", "Office PCs", to_millis(Utc::now()))
            .await
            .unwrap()
            .expect("the key is there");
        assert!(key.revoked_at.is_some());
        assert_eq!(ended.len(), 1, "its seat ended with it");
        let url = web.url.clone();
        let again = client(&web, "org-a", "anna");
        blocking(move || {
            let (status, body) = call(
                "POST",
                &format!("{url}/w/org-a/api/v1/leases/{id}/heartbeat"),
                &[("authorization", &format!("Bearer {token}"))],
                "",
            );
            assert_eq!(
                (status, &body["error"]["code"]),
                (404, &"lease_not_found".into())
            );
            assert_eq!(
                again.checkout("acad").unwrap_err().code(),
                "invalid_credential"
            );
        })
        .await;
        drop(license);
        // The seat is free for someone with a good key.
        let (_, fresh) = add_site_key(
            &web.store,
            "org-a",
            "Office PCs",
            "admin",
            to_millis(Utc::now()),
        )
        .await
        .unwrap();
        let program = client_with(&web, "org-a", "bob", &fresh);
        blocking(move || program.checkout("acad").expect("the seat came back")).await;
        let keys = web.store.site_keys("org-a").await.unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys[0].is_active() && !keys[1].is_active(), "{keys:?}");
        assert!(keys[0].last_used_at.is_some(), "the last use is noted");
    }
}
