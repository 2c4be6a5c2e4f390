//! A portal in-process for tests: its router driven through `tower::ServiceExt::oneshot`
//! by a small browser (one cookie, forms with their CSRF secret, no redirects followed),
//! on SQLite or PostgreSQL, with the mail it sent read back from the outbox folder.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::Value;
use tessera_portal::{Portal, PortalConfig};
use tessera_store::testing::TestDatabase;
use tessera_token::SigningKey;
use tower::ServiceExt;

mod named;
mod store;

pub use named::subscription_id;

pub struct TestPortal {
    pub portal: Portal,
    pub app: Router,
    pub dir: tempfile::TempDir,
    pub vendor: SigningKey,
    _db: Option<TestDatabase>,
}

pub const STAFF_EMAIL: &str = "staff@tessera.example";
pub const PASSWORD: &str = "a long enough password";

impl TestPortal {
    async fn open(db: Option<TestDatabase>) -> TestPortal {
        Self::open_with(db, |_| {}).await
    }

    /// A portal on SQLite with settings of the test's own.
    pub async fn sqlite_with(tweak: impl FnOnce(&mut PortalConfig)) -> TestPortal {
        Self::open_with(None, tweak).await
    }

    async fn open_with(
        db: Option<TestDatabase>,
        tweak: impl FnOnce(&mut PortalConfig),
    ) -> TestPortal {
        let dir = tempfile::tempdir().unwrap();
        let mut config = PortalConfig::load_or_create(dir.path()).unwrap();
        config.public_url = "http://portal.test".into();
        config.sign_in.per_address = 1000;
        tweak(&mut config);
        if let Some(db) = &db {
            config.database_url = db.url.clone();
        }
        let vendor = SigningKey::generate();
        let portal = tessera_portal::open(config, vendor.clone()).await.unwrap();
        let app = tessera_portal::router(portal.clone());
        TestPortal {
            portal,
            app,
            dir,
            vendor,
            _db: db,
        }
    }

    pub async fn sqlite() -> TestPortal {
        Self::open(None).await
    }

    pub async fn postgres() -> Option<TestPortal> {
        Some(Self::open(Some(TestDatabase::create().await?)).await)
    }

    /// SQLite, and PostgreSQL when reachable.
    pub async fn every_backend() -> Vec<TestPortal> {
        let mut out = vec![Self::sqlite().await];
        if let Some(pg) = Self::postgres().await {
            out.push(pg);
        }
        out
    }

    pub fn browser(&self) -> Browser {
        Browser {
            app: self.app.clone(),
            cookie: None,
            csrf: None,
        }
    }

    pub fn outbox(&self) -> PathBuf {
        self.portal.config.outbox_dir()
    }

    /// Every message delivered so far (after waiting for the outbox to empty).
    pub async fn mails(&self) -> Vec<Mail> {
        self.portal
            .mailer
            .flush(Duration::from_secs(20))
            .await
            .unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.outbox())
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files.iter().map(|p| Mail::read(p)).collect()
    }

    /// Messages to `address`, oldest first.
    pub async fn mails_to(&self, address: &str) -> Vec<Mail> {
        self.mails()
            .await
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Signs up, confirms from the e-mail and signs in: a browser of a new customer.
    pub async fn customer(&self, email: &str, organization: &str) -> Browser {
        let mut b = self.browser();
        b.get("/signup").await.ok();
        let page = b
            .submit(
                "/signup",
                &[
                    ("email", email),
                    ("organization", organization),
                    ("password", PASSWORD),
                    ("password_again", PASSWORD),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let link = self.link_in_last_mail(email, "/confirm?token=").await;
        b.get(&link).await.ok();
        b.sign_in(email, PASSWORD).await;
        b
    }

    /// As [`TestPortal::customer`], with company details for checkout: the company
    /// "`organization` Ltd", invoiced at `email`.
    pub async fn customer_with_company(&self, email: &str, organization: &str) -> Browser {
        let mut b = self.customer(email, organization).await;
        TestPortal::add_company_info(&mut b, &format!("{organization} Ltd"), email).await;
        b
    }

    /// The staff member's browser, signed in (their e-mail is staff by the settings); the
    /// first call signs them up.
    pub async fn staff(&self) -> Browser {
        let known = self.portal.store.user_by_email(STAFF_EMAIL).await.unwrap();
        if known.is_none() {
            return self.customer(STAFF_EMAIL, "Tessera Software").await;
        }
        let mut b = self.browser();
        b.sign_in(STAFF_EMAIL, PASSWORD).await;
        b
    }

    /// Staff mark the order Paid, its period starting on `start`.
    pub async fn mark_paid(&self, number: &str, start: &str) {
        let paid = self.staff().await.mark_paid(number, start).await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
    }

    /// The path of the link in the newest message to `email` that contains `marker`.
    pub async fn link_in_last_mail(&self, email: &str, marker: &str) -> String {
        let mails = self.mails_to(email).await;
        let mail = mails
            .iter()
            .rev()
            .find(|m| m.text.contains(marker))
            .unwrap_or_else(|| panic!("no mail to {email} with {marker}: {mails:?}"));
        let start = mail.text.find("http://portal.test").unwrap();
        let rest = &mail.text[start + "http://portal.test".len()..];
        rest.split_whitespace().next().unwrap().to_owned()
    }

    /// Company details for checkout, saved through the "Add company info" form.
    pub async fn add_company_info(b: &mut Browser, name: &str, email: &str) {
        b.get("/checkout").await.ok();
        let r = b
            .submit(
                "/account/company",
                &[
                    ("name", name),
                    ("address", "ul. Długa 1\n00-001 Warszawa"),
                    ("tax_id", "PL1234567890"),
                    ("billing_email", email),
                    ("next", "/checkout"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    }
}

/// An answer.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub content_type: String,
    pub disposition: String,
    pub bytes: Vec<u8>,
    pub text: String,
}

impl Page {
    /// `Ok(self)` when 2xx, for chaining in setup.
    pub fn ok(self) -> Page {
        assert!(
            self.status.is_success() || self.status.is_redirection(),
            "{}: {}",
            self.status,
            self.text
        );
        self
    }

    pub fn has(&self, needle: &str) -> bool {
        self.text.contains(needle)
    }
}

/// The value of the first `name="csrf" value="…"` in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")?;
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

pub struct Browser {
    pub app: Router,
    pub cookie: Option<String>,
    /// The CSRF secret of the last page that had a form.
    pub csrf: Option<String>,
}

impl Browser {
    pub async fn request(&mut self, method: &str, path: &str, form: Option<String>) -> Page {
        let body = form.map(|f| {
            (
                "application/x-www-form-urlencoded".to_owned(),
                f.into_bytes(),
            )
        });
        self.send(method, path, body).await
    }

    /// A request with a body of its content type.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        content: Option<(String, Vec<u8>)>,
    ) -> Page {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, format!("tessera_session={c}"));
        }
        let body = match content {
            Some((content_type, bytes)) => {
                req = req.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        for v in resp.headers().get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let value = v
                .strip_prefix("tessera_session=")
                .and_then(|r| r.split(';').next())
                .unwrap_or("");
            self.cookie = (!value.is_empty() && !v.contains("Max-Age=0")).then(|| value.to_owned());
        }
        let status = resp.status();
        let (content_type, disposition) = {
            let header_text = |h| {
                resp.headers()
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            (
                header_text(header::CONTENT_TYPE),
                header_text(header::CONTENT_DISPOSITION),
            )
        };
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20)
            .await
            .unwrap()
            .to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(c) = csrf_in(&text) {
            self.csrf = Some(c);
        }
        Page {
            status,
            location,
            content_type,
            disposition,
            bytes,
            text,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.request("GET", path, None).await
    }

    /// A form POST with the CSRF secret of the last page shown.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let body = serde_urlencoded::to_string(&all).unwrap();
        self.request("POST", path, Some(body)).await
    }

    /// A `multipart/form-data` POST (a form with files: (name, file name, content)), with
    /// the CSRF secret of the last page shown.
    pub async fn submit_files(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Page {
        let boundary = "----tessera-test-boundary-7d3f";
        let csrf = self.csrf.clone().unwrap_or_default();
        let mut body = Vec::new();
        for (name, value) in std::iter::once(&("csrf", csrf.as_str())).chain(fields) {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, filename, content) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        self.send("POST", path, Some((content_type, body))).await
    }

    /// A form POST exactly as given (no CSRF secret added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.request("POST", path, Some(body)).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        self.get("/signin").await;
        let page = self
            .submit("/signin", &[("email", email), ("password", password)])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text);
        page
    }

    /// Fills the Corporate subscription form and presses Add to Cart.
    pub async fn add_to_cart(
        &mut self,
        product: &str,
        option: &str,
        users: &str,
        registration_key: Option<&str>,
    ) -> Page {
        self.get(&format!("/buy/{product}")).await;
        let mut fields = vec![("option", option), ("start", ""), ("users", users)];
        match registration_key {
            Some(k) => fields.push(("registration_key", k)),
            None => fields.push(("web", "on")),
        }
        self.submit(&format!("/buy/{product}"), &fields).await
    }

    /// As staff: opens the order in the back office and presses Mark Paid, its period
    /// starting on `start`; the answer (303 once marked Paid).
    pub async fn mark_paid(&mut self, number: &str, start: &str) -> Page {
        self.get(&format!("/staff/orders/{number}")).await;
        self.submit(&format!("/staff/orders/{number}/paid"), &[("start", start)])
            .await
    }

    /// Presses Checkout with Bank transfer (and Contract and Acts when asked).
    pub async fn checkout(&mut self, contract_and_acts: bool) -> Page {
        self.get("/checkout").await;
        let mut fields = vec![("payment", "bank_transfer")];
        if contract_and_acts {
            fields.push(("contract_and_acts", "on"));
        }
        self.submit("/checkout", &fields).await
    }

    /// Presses Checkout with Bank transfer (no Contract and Acts); the number of the
    /// newest order on the Orders page it leads to (the newest is listed first).
    pub async fn place_order(&mut self) -> String {
        let placed = self.checkout(false).await;
        assert!(placed.status.is_redirection(), "{}", placed.text);
        let orders = self.get(placed.location.as_deref().unwrap()).await;
        order_numbers(&orders.text).into_iter().next().unwrap()
    }
}

/// Sends `req` to the portal; the status and the JSON answered (`Null` when the body is
/// not JSON).
pub async fn json_answer(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A JSON POST as a program makes it (no session), with a bearer token when given; the
/// status and the JSON answered.
pub async fn post_json(
    app: &Router,
    path: &str,
    bearer: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(b) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {b}"));
    }
    json_answer(app, req.body(Body::from(body.to_string())).unwrap()).await
}

/// A delivered message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub attachments: Vec<(String, Vec<u8>)>,
}

impl Mail {
    pub fn read(path: &std::path::Path) -> Mail {
        let raw = std::fs::read(path).unwrap();
        let msg = MessageParser::default().parse(&raw).unwrap();
        Mail {
            to: msg
                .to()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.address().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            subject: msg.subject().unwrap_or("").to_owned(),
            text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            attachments: msg
                .attachments()
                .map(|a| {
                    (
                        a.attachment_name().unwrap_or("").to_owned(),
                        a.contents().to_vec(),
                    )
                })
                .collect(),
        }
    }
}

/// Today's date as the forms take it (`YYYY-MM-DD`).
pub fn today() -> String {
    chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

/// The order numbers in a page, in the order they appear.
pub fn order_numbers(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("id=\"order-ORD-") {
        let s = &rest[i + "id=\"order-".len()..];
        let end = s.find('"').unwrap();
        out.push(s[..end].to_owned());
        rest = &s[end..];
    }
    out
}

/// The id (its letters and digits) that follows the first `marker` in `html`.
pub fn first_id_after(html: &str, marker: &str) -> String {
    let start = html.find(marker).expect(html) + marker.len();
    html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// The text of the element with this id (`<tag id="ID" …>TEXT<`), unescaped lightly.
pub fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')?;
    Some(
        rest[start..start + end]
            .replace("&#43;", "+")
            .replace("&#x2b;", "+")
            .replace("&amp;", "&")
            .replace("&#61;", "=")
            .replace("&#x3d;", "="),
    )
}
