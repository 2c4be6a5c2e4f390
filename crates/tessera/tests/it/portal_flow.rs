//! The purchase of seed 000 end to end with the real binaries: `tessera portal` and a
//! LAN server from `tessera server`. A customer signs up and confirms from the e-mail
//! (read from the outbox folder), buys with the server's real registration key, checks
//! out (Pending, invoice mailed, staff told); staff mark the order Paid; the activation
//! key from the Orders page and the e-mail is imported with `tessera server activate`
//! and a checkout on the LAN server works. On SQLite, and on PostgreSQL when reachable.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Api, PASSWORD, PortalProcess, Server, ServerOpts, Vendor, eventually};
use mail_parser::{MessageParser, MimeHeaders};

/// A portal process on a loopback port, and its data folder with the outbox.
struct Portal {
    data: PathBuf,
    process: PortalProcess,
}

impl Portal {
    fn start(data: &Path, vendor: &Vendor, database_url: Option<&str>) -> Portal {
        let mut args = vec!["--metrics-token", "flow-scrape"];
        if let Some(url) = database_url {
            args.extend(["--database-url", url]);
        }
        Portal {
            data: data.to_owned(),
            process: PortalProcess::start(data, Some(vendor), &args),
        }
    }

    fn url(&self) -> &str {
        &self.process.url
    }

    fn browser(&self) -> Browser {
        Browser {
            api: Api::new(self.url()),
            cookie: None,
            csrf: String::new(),
        }
    }

    /// Every message written to the outbox folder so far.
    fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.data.join("outbox"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files.iter().map(|p| Mail::read(p)).collect()
    }

    /// Waits for a message to `to` whose subject contains `subject`.
    fn wait_mail(&self, to: &str, subject: &str) -> Mail {
        let mut found = None;
        let ok = eventually(Duration::from_secs(20), || {
            found = self
                .mails()
                .into_iter()
                .rev()
                .find(|m| m.to.iter().any(|t| t == to) && m.subject.contains(subject));
            found.is_some()
        });
        assert!(ok, "no mail to {to} about {subject}: {:?}", self.mails());
        found.unwrap()
    }

    /// Signs up, confirms with the link in the e-mail, signs in.
    fn customer(&self, email: &str, organization: &str) -> Browser {
        let mut b = self.browser();
        b.get("/signup");
        let r = b.submit(
            "/signup",
            &[
                ("email", email),
                ("organization", organization),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        );
        assert_eq!(r.0, 200, "{}", r.1);
        let mail = self.wait_mail(email, "Confirm your e-mail");
        let link = link_in(&mail.text, "/confirm?token=");
        let confirmed = b.get(&link);
        assert_eq!(confirmed.0, 200, "{}", confirmed.1);
        b.get("/signin");
        let r = b.submit("/signin", &[("email", email), ("password", PASSWORD)]);
        assert_eq!(r.0, 303, "{}", r.1);
        b
    }
}

fn link_in(text: &str, marker: &str) -> String {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {text}"));
    text[at..].split_whitespace().next().unwrap().to_owned()
}

/// A browser: one session cookie, forms sent with the last page's CSRF secret.
struct Browser {
    api: Api,
    cookie: Option<String>,
    csrf: String,
}

impl Browser {
    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> (u16, String, Option<String>) {
        let mut headers: Vec<(&str, String)> = Vec::new();
        if let Some(c) = &self.cookie {
            headers.push(("Cookie", format!("tessera_session={c}")));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/x-www-form-urlencoded".into()));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let raw = self
            .api
            .raw(method, path, &headers, body.unwrap_or_default().as_bytes());
        for c in raw.header_all("set-cookie") {
            if let Some(v) = c.strip_prefix("tessera_session=") {
                let v = v.split(';').next().unwrap_or("");
                self.cookie = (!v.is_empty()).then(|| v.to_owned());
            }
        }
        if let Some(at) = raw.text.find("name=\"csrf\" value=\"") {
            let rest = &raw.text[at + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_owned();
        }
        let location = raw.header("location").map(str::to_owned);
        (raw.status, raw.text, location)
    }

    fn get(&mut self, path: &str) -> (u16, String, Option<String>) {
        self.send("GET", path, None)
    }

    fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> (u16, String, Option<String>) {
        let mut body = format!("csrf={}", self.csrf);
        for (k, v) in fields {
            body.push('&');
            body.push_str(k);
            body.push('=');
            body.push_str(&encode(v));
        }
        self.send("POST", path, Some(body))
    }
}

fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of the element with this id.
fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')?;
    Some(rest[start..start + end].to_owned())
}

struct Mail {
    to: Vec<String>,
    subject: String,
    text: String,
    attachments: Vec<String>,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {:?} {:?}", self.to, self.subject, self.attachments)
    }
}

impl Mail {
    fn read(path: &Path) -> Mail {
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
                .map(|a| a.attachment_name().unwrap_or("").to_owned())
                .collect(),
        }
    }
}

fn purchase_with_a_lan_server(database_url: Option<&str>) {
    let vendor = Vendor::new();
    let mut server = Server::start(&vendor, ServerOpts::default());
    let registration_key = server.registration_key();
    let dir = tempfile::tempdir().unwrap();
    let portal = Portal::start(&dir.path().join("portal"), &vendor, database_url);

    let mut buyer = portal.customer("buyer@office.example", "Office & Co");
    let (status, page, _) = buyer.get("/buy/autocad");
    assert_eq!(status, 200);
    assert!(page.contains("Corporate subscription") && page.contains("Number of users"));
    // A mistyped key is refused on entry, with the form shown again.
    let (status, page, _) = buyer.submit(
        "/buy/autocad",
        &[
            ("option", "autocad-1y"),
            ("start", ""),
            ("users", "2"),
            ("registration_key", "TSR1-TYPO"),
        ],
    );
    assert_eq!(status, 422);
    assert!(page.contains("Registration key is not valid"), "{page}");
    let (status, _, location) = buyer.submit(
        "/buy/autocad",
        &[
            ("option", "autocad-1y"),
            ("start", ""),
            ("users", "2"),
            ("registration_key", &registration_key),
        ],
    );
    assert_eq!(status, 303);
    let (_, page, _) = buyer.get(&location.unwrap());
    assert!(page.contains("id=\"go-to-checkout\""));

    buyer.get("/checkout");
    let (status, _, _) = buyer.submit(
        "/account/company",
        &[
            ("name", "Office & Co Sp. z o.o."),
            ("address", "ul. Długa 1\n00-001 Warszawa"),
            ("tax_id", "PL5252812345"),
            ("billing_email", "buyer@office.example"),
            ("next", "/checkout"),
        ],
    );
    assert_eq!(status, 303);
    buyer.get("/checkout");
    let (status, text, location) = buyer.submit(
        "/checkout",
        &[("payment", "bank_transfer"), ("contract_and_acts", "on")],
    );
    assert_eq!(status, 303, "{text}");
    let (_, orders, _) = buyer.get(&location.unwrap());
    let at = orders.find("id=\"order-ORD-").expect("an order");
    let number = orders[at + 10..].split('"').next().unwrap().to_owned();
    assert_eq!(
        text_of(&orders, &format!("status-{number}")).as_deref(),
        Some("Pending")
    );

    let order_mail = portal.wait_mail("buyer@office.example", &number);
    assert!(
        order_mail.attachments.iter().any(|a| a.starts_with("INV-")),
        "{order_mail:?}"
    );
    assert!(
        order_mail.attachments.iter().any(|a| a.starts_with("AGR-")),
        "{order_mail:?}"
    );
    portal.wait_mail("sales@tessera.example", &number);

    let mut staff = portal.customer("staff@tessera.example", "Tessera Software");
    let (status, list, _) = staff.get("/staff/orders?q=office");
    assert_eq!(status, 200);
    assert!(list.contains(&number));
    staff.get(&format!("/staff/orders/{number}"));
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let (status, text, _) = staff.submit(
        &format!("/staff/orders/{number}/paid"),
        &[("start", &today)],
    );
    assert_eq!(status, 303, "{text}");

    let (_, orders, _) = buyer.get("/account/orders");
    assert_eq!(
        text_of(&orders, &format!("status-{number}")).as_deref(),
        Some("Paid")
    );
    let key = text_of(&orders, &format!("activation-key-{number}")).expect("the key is shown");
    let (status, download, _) = buyer.get(&format!("/account/orders/{number}/activation-key"));
    assert_eq!(status, 200);
    assert_eq!(download.trim(), key.trim());
    let paid_mail = portal.wait_mail("buyer@office.example", "is Paid");
    assert!(
        paid_mail.text.contains(key.trim()),
        "the key is in the e-mail"
    );
    assert!(paid_mail.attachments.iter().any(|a| a.starts_with("ACT-")));

    // The office imports the key into its LAN server, and a program gets a seat.
    server.activate(key.trim());
    let (status, lease) = server.api().checkout("autocad", "anna", "ws-1", "c-1");
    assert_eq!(status, 201, "{lease}");
    let (status, _) = server.api().checkout("autocad", "bob", "ws-2", "c-2");
    assert_eq!(status, 201);
    let (status, refused) = server.api().checkout("autocad", "carl", "ws-3", "c-3");
    assert_eq!(status, 409, "two users bought: {refused}");
    let pool = server.api().pool(&number.to_lowercase());
    assert_eq!(pool["seats"], 2);

    // The office lets the server send its usage figures to the portal: they appear in
    // the buyer's account (and the back office), checked back to the vendor key.
    let (status, _, _) = buyer.get("/account/lan-usage");
    assert_eq!(status, 200);
    server.opts.extra = vec![
        "--report-usage".into(),
        portal.url().to_owned(),
        "--report-usage-every".into(),
        "1".into(),
    ];
    server.restart();
    let row_id = format!("id=\"lan-{}-{today}\"", number.to_lowercase());
    let mut page = String::new();
    let reported = eventually(Duration::from_secs(20), || {
        page = buyer.get("/account/lan-usage").1;
        page.contains(&row_id)
    });
    assert!(reported, "no usage reported: {page}");
    let row = &page[page.find(&row_id).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("class=\"num peak\">2</td>"), "{row}");
    assert!(row.contains("class=\"num users\">2</td>"), "{row}");
    assert!(row.contains("class=\"num denials\">1</td>"), "{row}");
    let (status, all, _) = staff.get("/staff/lan-usage");
    assert_eq!(status, 200);
    assert!(
        all.contains(&row_id) && all.contains("Office &#38; Co"),
        "{all}"
    );
    // Someone else's account does not see it.
    let mut other = portal.customer("other@else.example", "Else");
    assert!(!other.get("/account/lan-usage").1.contains(&row_id));
    // A report not signed by the server's key is refused, as is a body that is no report.
    let api = Api::new(portal.url());
    let (status, answer) = api.post_json(
        "/api/v1/usage-reports",
        None,
        &serde_json::json!({ "report": forged_report(&key) }),
    );
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_signature")),
        "{answer}"
    );
    let (status, answer) = api.post_json(
        "/api/v1/usage-reports",
        None,
        &serde_json::json!({ "nope": 1 }),
    );
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("invalid_request")),
        "{answer}"
    );

    // Every e-mail of the flow counted on /metrics once queued and once sent (written to
    // the outbox folder here), none failed; the daily jobs ran once at start.
    let scrape = || {
        let r = api.raw(
            "GET",
            "/metrics",
            &[("authorization", "Bearer flow-scrape")],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.text);
        crate::metrics::parse(&r.text)
    };
    let mails = portal.mails().len() as f64;
    assert!(mails >= 4.0, "{mails} e-mails");
    let mail = |m: &prometheus_parse::Scrape, outcome| {
        crate::metrics::sample(m, "tessera_mail_messages_total", &[("outcome", outcome)])
    };
    let mut m = scrape();
    assert!(eventually(Duration::from_secs(20), || {
        m = scrape();
        mail(&m, "sent") >= mails
    }));
    assert_eq!(mail(&m, "queued"), mail(&m, "sent"));
    assert_eq!(mail(&m, "sent"), portal.mails().len() as f64);
    assert!(
        !m.samples
            .iter()
            .any(|s| s.metric == "tessera_mail_messages_total"
                && s.labels.get("outcome") == Some("failed")),
        "no attempt failed"
    );
    for job in ["renewals", "renewal_reminders"] {
        assert_eq!(
            crate::metrics::sample(
                &m,
                "tessera_scheduler_job_runs_total",
                &[("job", job), ("outcome", "done")]
            ),
            1.0,
            "{job}"
        );
    }
}

/// A usage report for the activation `key` signed by a key that is not its server's.
fn forged_report(key: &str) -> String {
    let thief = tessera_token::SigningKey::generate();
    tessera_token::sign_usage_report(
        &thief,
        &tessera_token::UsageReportClaims {
            kind: "usage_report".into(),
            server: "thief".into(),
            iat: chrono::Utc::now(),
            days: Vec::new(),
        },
        key.trim(),
    )
    .unwrap()
}

#[test]
fn a_customer_buys_for_a_lan_server_and_its_activation_key_works_there() {
    purchase_with_a_lan_server(None);
}

#[test]
fn the_same_purchase_works_with_the_portal_on_postgresql() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(tessera_store::testing::TestDatabase::create()) else {
        return;
    };
    purchase_with_a_lan_server(Some(&db.url));
    drop(db);
}

#[test]
fn the_portal_writes_its_sample_settings_and_answers_404_for_unknown_pages() {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let portal = Portal::start(&dir.path().join("p"), &vendor, None);
    let settings = std::fs::read_to_string(dir.path().join("p/portal.toml")).unwrap();
    assert!(settings.contains("AutoCAD plugins") && settings.contains("tax_rate_bp"));
    let mut b = portal.browser();
    assert_eq!(b.get("/no/such/page").0, 404);
    assert_eq!(b.get("/buy").0, 200);
    let (status, _, _) = b.send(
        "POST",
        "/signin",
        Some("email=a%40b.example&password=x".into()),
    );
    assert_eq!(status, 403, "no CSRF secret");
}
