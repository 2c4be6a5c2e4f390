//! `tessera demo` starts the portal too: the sample catalog, and the staff and customer
//! sign-ins it prints work; the customer's company info is already there, so a purchase
//! for the demo's own LAN server goes from Buy to Paid at once; the Download page offers
//! the demo's own build.

use crate::common;

use std::process::Stdio;

use common::{Api, tessera};

fn line_value<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` in:\n{out}"))
        .trim()
}

/// A signed-in session on the portal: (cookie, CSRF secret of the last page).
struct Session {
    api: Api,
    cookie: String,
    csrf: String,
}

impl Session {
    fn csrf_of(text: &str) -> Option<String> {
        let at = text.find("name=\"csrf\" value=\"")?;
        let rest = &text[at + 19..];
        Some(rest[..rest.find('"')?].to_owned())
    }

    fn cookie_of(raw: &common::Raw) -> Option<String> {
        raw.header_all("set-cookie").iter().find_map(|c| {
            c.strip_prefix("tessera_session=")
                .and_then(|v| v.split(';').next())
                .map(str::to_owned)
        })
    }

    fn sign_in(url: &str, email: &str, password: &str) -> Session {
        let api = Api::new(url);
        let page = api.raw("GET", "/signin", &[], b"");
        let cookie = Self::cookie_of(&page).expect("a pre-session");
        let csrf = Self::csrf_of(&page.text).unwrap();
        let mut s = Session { api, cookie, csrf };
        let body = format!(
            "csrf={}&email={}&password={}",
            s.csrf,
            email.replace('@', "%40"),
            password
        );
        let r = s.post("/signin", &body);
        assert_eq!(r.status, 303, "{}", r.text);
        s
    }

    fn get(&mut self, path: &str) -> common::Raw {
        let cookie = format!("tessera_session={}", self.cookie);
        let r = self.api.raw("GET", path, &[("Cookie", &cookie)], b"");
        if let Some(c) = Self::csrf_of(&r.text) {
            self.csrf = c;
        }
        r
    }

    fn post(&mut self, path: &str, body: &str) -> common::Raw {
        let cookie = format!("tessera_session={}", self.cookie);
        let r = self.api.raw(
            "POST",
            path,
            &[
                ("Cookie", &cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        );
        if let Some(c) = Self::cookie_of(&r) {
            self.cookie = c;
        }
        r
    }
}

/// `tessera demo` on `dir`: the process and its banner, read up to the `listening on`
/// line that ends it.
fn start_demo(dir: &std::path::Path) -> (std::process::Child, String) {
    let mut child = tessera()
        .args(["demo", "--data", dir.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--portal-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut out = String::new();
    {
        use std::io::Read;
        let mut buf = [0u8; 256];
        while !out.contains("listening on") {
            let n = stdout.read(&mut buf).unwrap();
            assert!(n > 0, "the demo stopped:\n{out}");
            out.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    (child, out)
}

/// The portal's URL in the demo's banner.
fn portal_url(out: &str) -> String {
    line_value(out, "portal")
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned()
}

#[test]
fn the_demo_starts_the_portal_with_its_catalog_and_printed_sign_ins() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, out) = start_demo(dir.path());
    let portal = line_value(&out, "portal")
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let staff: Vec<&str> = line_value(&out, "staff sign-in").split(" / ").collect();
    let customer: Vec<&str> = line_value(&out, "customer sign-in").split(" / ").collect();
    let registration_key = line_value(&out, "registration key").to_owned();

    let mut buyer = Session::sign_in(&portal, customer[0], customer[1]);
    let buy = buyer.get("/buy/all");
    assert_eq!(buy.status, 200);
    let body = format!(
        "csrf={}&option=all-1y&start=&users=1&registration_key={}",
        buyer.csrf, registration_key
    );
    assert_eq!(buyer.post("/buy/all", &body).status, 303);
    let checkout = buyer.get("/checkout");
    assert!(
        checkout.text.contains("Demo Office Sp. z o.o."),
        "company info is kept"
    );
    let body = format!("csrf={}&payment=bank_transfer", buyer.csrf);
    let placed = buyer.post("/checkout", &body);
    assert_eq!(placed.status, 303, "{}", placed.text);

    let mut back_office = Session::sign_in(&portal, staff[0], staff[1]);
    let list = back_office.get("/staff/orders?status=Pending");
    assert_eq!(list.status, 200);
    let at = list
        .text
        .find("id=\"open-ORD-")
        .expect("the order is listed");
    let number = list.text[at + 9..].split('"').next().unwrap().to_owned();
    back_office.get(&format!("/staff/orders/{number}"));
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let body = format!("csrf={}&start={today}", back_office.csrf);
    let paid = back_office.post(&format!("/staff/orders/{number}/paid"), &body);
    assert_eq!(paid.status, 303, "{}", paid.text);
    let orders = buyer.get("/account/orders");
    assert!(orders.text.contains(&format!("activation-key-{number}")));

    // The Download page offers the demo's own build, signed, with the file's checksum.
    let download = buyer.get("/download");
    assert_eq!(download.status, 200);
    let name = format!(
        "tessera-{}-{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    assert!(
        download
            .text
            .contains(&format!("href=\"/download/{name}\"")),
        "{}",
        download.text
    );
    assert!(download.text.contains("the signature matches this file"));
    let mut digest = tessera_token::PackageDigest::new();
    digest.update(&std::fs::read(common::BIN).unwrap());
    assert!(
        download.text.contains(&digest.finish().sha256),
        "the listed SHA-256 is the program's"
    );

    let _ = child.kill();
    let _ = child.wait();
}

/// The demo customer's Orders page has what the README and the seeds send a reader to:
/// a Paid order for the demo's LAN server with its activation key, a Paid order with
/// "Use Web License Server", a Paid Share order; and the back office has a Pending order
/// to mark Paid. Started again on the same folder, the demo places no more orders.
#[test]
fn the_demo_customer_has_paid_orders_to_try_and_one_pending_for_the_back_office() {
    let dir = tempfile::tempdir().unwrap();
    let orders_of = |out: &str| {
        let customer: Vec<&str> = line_value(out, "customer sign-in").split(" / ").collect();
        let mut buyer = Session::sign_in(&portal_url(out), customer[0], customer[1]);
        let orders = buyer.get("/account/orders");
        assert_eq!(orders.status, 200);
        orders.text
    };
    let (mut child, out) = start_demo(dir.path());
    let orders = orders_of(&out);
    assert_eq!(orders.matches("id=\"order-ORD-").count(), 4, "{orders}");
    assert_eq!(
        orders.matches("id=\"activation-key-ORD-").count(),
        1,
        "{orders}"
    );
    assert_eq!(
        orders.matches("id=\"use-web-license-server-ORD-").count(),
        1,
        "{orders}"
    );
    assert!(orders.contains("Share (named user)"), "{orders}");
    assert!(orders.contains("Pending"), "{orders}");
    let staff: Vec<&str> = line_value(&out, "staff sign-in").split(" / ").collect();
    let mut back_office = Session::sign_in(&portal_url(&out), staff[0], staff[1]);
    let pending = back_office.get("/staff/orders?status=Pending");
    assert_eq!(
        pending.text.matches("id=\"open-ORD-").count(),
        1,
        "{}",
        pending.text
    );
    let _ = child.kill();
    let _ = child.wait();

    let (mut child, out) = start_demo(dir.path());
    assert_eq!(orders_of(&out).matches("id=\"order-ORD-").count(), 4);
    let _ = child.kill();
    let _ = child.wait();
}
