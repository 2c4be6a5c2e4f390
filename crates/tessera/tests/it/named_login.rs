//! Named-user sign-in with the real binaries: `tessera portal`, and `tessera login`,
//! `tessera checkout` and `tessera logout` on two "computers" (two cache folders, each
//! with its own device id). Signing in on the second stops the first one's held
//! license at its next refresh (`superseded`) until the person signs in there again;
//! with the portal stopped, a signed-in computer keeps working in its offline period.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::named::{on, output, prepare_customer};
use common::{PortalProcess, Vendor};
use tessera_store::portal::NewNamedSubscription;

const EMAIL: &str = "anna@office.example";

/// Prepares the portal's data folder in-process: the settings (a token refreshed every
/// second), and Anna's account with a seat of Share in her team.
fn prepare_portal(data: &Path, vendor: &Vendor) {
    let mut config = tessera_portal::PortalConfig::load_or_create(data).unwrap();
    let path = data.join("portal.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("refresh_seconds = 3600"), "{text}");
    std::fs::write(
        &path,
        text.replace("refresh_seconds = 3600", "refresh_seconds = 1"),
    )
    .unwrap();
    config.named.refresh_seconds = 1;
    prepare_customer(config, vendor, EMAIL, "Office", async |portal, user| {
        let team = portal
            .store
            .default_team(&user.organization_id, &user.id, "Office team", 0)
            .await
            .unwrap();
        let today = chrono::Utc::now().date_naive();
        portal
            .store
            .create_named_subscription(
                &NewNamedSubscription {
                    organization_id: &user.organization_id,
                    team_id: &team.id,
                    order_id: None,
                    product_id: "share",
                    product_name: "Share",
                    licensed: &["share".to_owned()],
                    seats: 1,
                    start_date: &(today - chrono::Duration::days(1)).to_string(),
                    end_date: &(today + chrono::Duration::days(300)).to_string(),
                    buyer_user_id: &user.id,
                },
                0,
            )
            .await
            .unwrap();
    });
}

#[test]
fn signing_in_on_a_second_computer_stops_the_first_until_it_signs_in_again() {
    let vendor = Vendor::new();
    let data = tempfile::tempdir().unwrap();
    prepare_portal(data.path(), &vendor);
    let mut portal = PortalProcess::start(data.path(), Some(&vendor), &[]);
    let url = portal.url.clone();
    let desk = tempfile::tempdir().unwrap();
    let laptop = tempfile::tempdir().unwrap();

    // A wrong password is refused and nothing is kept.
    let mut wrong = on(desk.path(), &vendor);
    wrong.env("TESSERA_PASSWORD", "not the password");
    let (ok, text) = output(wrong, &["login", "--portal", &url, "--email", EMAIL]);
    assert!(!ok && text.contains("unauthorized"), "{text}");

    let (ok, text) = output(
        on(desk.path(), &vendor),
        &["login", "--portal", &url, "--email", EMAIL],
    );
    assert!(ok, "{text}");
    assert!(text.contains("signed in as anna@office.example"), "{text}");

    // The desk holds the license; a refresh every second keeps it.
    let mut held = on(desk.path(), &vendor)
        .args(["checkout", "share", "--hold"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(held.stdout.take().unwrap());
    let mut lines = stdout.lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.contains("share is licensed to anna@office.example"),
        "{first}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        held.try_wait().unwrap().is_none(),
        "still held after refreshes"
    );

    // Anna signs in on her laptop: the desk's license stops at its next refresh.
    let (ok, text) = output(
        on(laptop.path(), &vendor),
        &["login", "--portal", &url, "--email", EMAIL],
    );
    assert!(ok, "{text}");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = held.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the desk kept the license"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut held.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(err.contains("superseded"), "{err}");

    // It stays stopped on the desk; the laptop works.
    let (ok, text) = output(on(desk.path(), &vendor), &["checkout", "share"]);
    assert!(!ok && text.contains("superseded"), "{text}");
    let (ok, text) = output(on(laptop.path(), &vendor), &["checkout", "share"]);
    assert!(ok, "{text}");
    // A product with no seat is refused by name.
    let (ok, text) = output(
        on(laptop.path(), &vendor),
        &["checkout", "revit", "--server", &url],
    );
    assert!(!ok, "{text}");

    // Signing in at the desk again turns it back on, and the laptop off.
    let (ok, text) = output(
        on(desk.path(), &vendor),
        &["login", "--portal", &url, "--email", EMAIL],
    );
    assert!(ok, "{text}");
    assert!(output(on(desk.path(), &vendor), &["checkout", "share"]).0);
    let (ok, text) = output(on(laptop.path(), &vendor), &["checkout", "share"]);
    assert!(!ok && text.contains("superseded"), "{text}");

    // With the portal gone, the desk keeps working in its offline period.
    portal.kill9();
    let (ok, text) = output(on(desk.path(), &vendor), &["checkout", "share"]);
    assert!(ok && text.contains("offline until"), "{text}");

    // Logging out forgets the sign-in (the portal is down: it is forgotten here anyway).
    let (ok, text) = output(on(desk.path(), &vendor), &["logout"]);
    assert!(ok, "{text}");
    let (ok, text) = output(on(desk.path(), &vendor), &["checkout", "share"]);
    assert!(!ok, "no sign-in, no license: {text}");
}
