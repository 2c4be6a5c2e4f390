//! Borrowing through the real binary: `tessera borrow` takes a seat out of its pool into
//! the user's local cache, `tessera checkout` and the client library grant the product
//! from it with the server stopped, until it ends; the office sees it, the admin can end
//! it, it survives restarts, and a clock turned back does not stretch it.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use tessera_client::{Client, ClientConfig};
use tessera_core::PoolSpec;

/// One engineer's computer: its own home and borrow cache, pointed at one server.
struct Desk {
    home: tempfile::TempDir,
    cache: PathBuf,
    server: String,
    vendor_public: PathBuf,
}

impl Desk {
    fn new(server: &Server, vendor: &Vendor) -> Desk {
        let home = tempfile::tempdir().unwrap();
        let cache = home.path().join("borrow-cache");
        Desk {
            home,
            cache,
            server: server.url.clone(),
            vendor_public: vendor.public_path(),
        }
    }

    /// `PROGRAM… tessera ARGS` as anna on this computer (PROGRAM runs the binary, e.g.
    /// faketime).
    fn command_via(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let mut c = match wrapper.split_first() {
            None => tessera(),
            Some((program, wrapper_args)) => {
                let mut c = Command::new(program);
                c.args(wrapper_args).arg(BIN);
                for var in ["TESSERA_ADMIN_TOKEN", "TESSERA_DATA"] {
                    c.env_remove(var);
                }
                c
            }
        };
        c.args(args)
            .env("TESSERA_SERVER", &self.server)
            .env("TESSERA_VENDOR_PUBLIC_KEY", &self.vendor_public)
            .env("TESSERA_CACHE_DIR", &self.cache)
            .env("HOME", self.home.path())
            .env("USER", "anna")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .stdin(Stdio::null());
        c
    }

    fn run_via(&self, wrapper: &[&str], args: &[&str]) -> (Output, String, String) {
        texts(self.command_via(wrapper, args).output().unwrap())
    }

    fn run(&self, args: &[&str]) -> (Output, String, String) {
        self.run_via(&[], args)
    }

    fn run_ok(&self, args: &[&str]) -> String {
        let (out, stdout, stderr) = self.run(args);
        assert!(
            out.status.success(),
            "tessera {args:?} failed:\n{stdout}\n{stderr}"
        );
        stdout
    }

    /// Runs and expects failure; returns stderr.
    fn run_err(&self, args: &[&str]) -> String {
        let (out, stdout, stderr) = self.run(args);
        assert!(
            !out.status.success(),
            "tessera {args:?} should have failed:\n{stdout}\n{stderr}"
        );
        stderr
    }

    /// The client library as a program on this computer would use it.
    fn client(&self, vendor: &Vendor) -> Client {
        Client::new(
            ClientConfig::builder()
                .server(self.server.clone())
                .vendor_key(vendor.verifying_key())
                .user("anna")
                .cache_dir(&self.cache)
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        )
    }

    /// The borrow files in the cache.
    fn borrow_files(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.cache.join("borrows")) {
            Ok(dir) => dir
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// A vendor, a license server with `pools`, and an engineer's computer pointed at it.
fn office(pools: Vec<PoolSpec>) -> (Vendor, Server, Desk) {
    let vendor = Vendor::new();
    let server = server_with(&vendor, ServerOpts::default(), pools);
    let desk = Desk::new(&server, &vendor);
    (vendor, server, desk)
}

/// Pool `p`: `seats` seats of acad, lent for up to 24 hours.
fn acad(seats: u32) -> Vec<PoolSpec> {
    vec![pool("p", &["acad"], seats, 24)]
}

fn hostname() -> String {
    // The same default the client library uses on Linux.
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

/// A pool that ends `secs` seconds from now and lends for up to 24 hours.
fn short_pool(id: &str, product: &str, secs: i64) -> PoolSpec {
    PoolSpec {
        end: Utc::now() + chrono::Duration::seconds(secs),
        ..pool(id, &[product], 2, 24)
    }
}

fn sleep_until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        std::thread::sleep(d);
    }
}

#[test]
fn a_borrow_takes_a_seat_offline_and_the_office_sees_who_where_and_until() {
    let (vendor, server, desk) = office(acad(3));
    let out = desk.run_ok(&["borrow", "acad", "--hours", "8"]);
    assert!(out.contains("borrowed acad for anna"), "{out}");
    assert!(out.contains("until"), "{out}");

    let p = server.api().pool("p");
    assert_eq!(p["borrowed"], 1, "{p}");
    assert_eq!(p["in_use"], 0, "{p}");
    assert_eq!(p["available"], 2, "{p}");

    let list = server.admin_leases();
    assert_eq!(list.len(), 1, "{list:?}");
    let b = &list[0];
    assert_eq!(b["kind"], "borrow");
    assert_eq!(b["user"], "anna");
    assert_eq!(b["host"], hostname().as_str());
    assert_eq!(b["product"], "acad");
    let until = time(&b["until"]);
    let hours = (until - Utc::now()).num_minutes();
    assert!((7 * 60 + 55..=8 * 60).contains(&hours), "{until}");

    // The cache holds the same borrow.
    let kept = desk.client(&vendor).borrowed("acad").unwrap();
    assert_eq!(kept.borrow_id, b["id"].as_str().unwrap());
    assert_eq!(kept.until, until);
    assert_eq!(desk.borrow_files().len(), 1);

    // `tessera status` and the live page show it as borrowed, with user, host and until.
    let text = server.admin_status();
    let row = text
        .lines()
        .find(|l| l.contains("borrowed"))
        .unwrap_or_else(|| panic!("no borrowed row:\n{text}"));
    assert!(row.contains("anna") && row.contains(&hostname()), "{row}");
    assert!(
        row.contains(&until.format("%Y-%m-%d %H:%M").to_string()),
        "{row}"
    );
    let page = server.admin_page("/");
    assert!(page.contains("offline (borrowed)"), "{page}");
    assert!(page.contains(&hostname()), "{page}");
    assert!(
        page.contains(&until.format("%Y-%m-%d %H:%M").to_string()),
        "{page}"
    );

    // Borrowing again keeps the same borrow and takes no second seat.
    let out = desk.run_ok(&["borrow", "acad", "--hours", "8"]);
    assert!(out.contains("already borrowed"), "{out}");
    assert_eq!(server.api().pool("p")["borrowed"], 1);
}

#[test]
fn borrowing_too_long_or_from_a_pool_that_does_not_lend_is_refused() {
    let (_vendor, server, desk) = office(vec![
        pool("p1", &["acad"], 2, 24),
        pool("p2", &["revit"], 2, 0),
    ]);
    let api = server.api();
    let ask = |product: &str, hours: u32| api.borrow(product, "bob", "pc2", "c1", hours);
    let (status, body) = ask("acad", 25);
    assert_eq!((status, code(&body)), (422, "borrow_too_long"), "{body}");
    let (status, body) = ask("revit", 1);
    assert_eq!((status, code(&body)), (403, "borrow_not_allowed"), "{body}");

    let err = desk.run_err(&["borrow", "acad", "--hours", "25"]);
    assert!(err.contains("too long") && err.contains("24"), "{err}");
    let err = desk.run_err(&["borrow", "revit", "--hours", "1"]);
    assert!(err.contains("cannot be borrowed"), "{err}");
    assert!(desk.borrow_files().is_empty());
    assert_eq!(api.pool("p1")["borrowed"], 0);
    assert_eq!(api.pool("p2")["borrowed"], 0);
}

#[test]
fn a_borrowed_license_is_granted_with_the_server_stopped() {
    let (vendor, mut server, desk) = office(vec![
        pool("p", &["acad", "revit"], 2, 24),
        pool("q", &["civil3d"], 2, 24),
    ]);
    desk.run_ok(&["borrow", "acad", "--hours", "4", "--user", "anna"]);
    server.kill9();

    let out = desk.run_ok(&["checkout", "acad"]);
    assert!(
        out.contains("using the borrowed license of acad until"),
        "{out}"
    );

    let client = desk.client(&vendor);
    let license = client.checkout("acad").unwrap();
    assert!(license.is_borrowed());
    assert!(license.is_valid());
    let until = license.until().unwrap();
    assert!(
        until > Utc::now() + chrono::Duration::minutes(235),
        "{until}"
    );
    drop(license);
    assert!(
        client.borrowed("acad").is_some(),
        "still borrowed after use"
    );

    // What was not borrowed needs the server.
    let err = client.checkout("civil3d").unwrap_err();
    assert_eq!(err.code(), "unreachable", "{err}");
    let err = desk.run_err(&["checkout", "civil3d"]);
    assert!(err.contains("cannot reach the license server"), "{err}");

    // --hold holds the borrowed license without a server, until stopped.
    let mut child = desk
        .command_via(&[], &["checkout", "acad", "--hold"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let held = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.starts_with("holding the borrowed license"));
    assert!(held, "checkout --hold did not hold the borrowed license");
    sigterm(&child);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().unwrap().success());
    assert!(
        rest.iter().any(|l| l.contains("stays borrowed")),
        "{rest:?}"
    );
}

#[test]
fn a_borrowed_license_is_refused_offline_once_it_has_ended() {
    let pool = short_pool("p", "acad", 8);
    let end = pool.end;
    let (vendor, mut server, desk) = office(vec![pool]);
    let out = desk.run_ok(&["borrow", "acad", "--hours", "24"]);
    assert!(out.contains("the license itself ends then"), "{out}");
    let client = desk.client(&vendor);
    let until = client.borrowed("acad").unwrap().until;
    assert!(
        (until - end).num_milliseconds().abs() < 1000,
        "capped at the pool's end: {until} vs {end}"
    );
    server.kill9();

    let out = desk.run_ok(&["checkout", "acad"]);
    assert!(out.contains("using the borrowed license of acad"), "{out}");
    let license = client.checkout("acad").unwrap();
    assert!(license.is_borrowed() && license.is_valid());

    sleep_until(until + chrono::Duration::milliseconds(200));
    assert!(
        !license.is_valid(),
        "a held borrowed license ends with its time"
    );
    let files = desk.borrow_files();
    let saved = std::fs::read(&files[0]).unwrap();

    let err = client.checkout("acad").unwrap_err();
    assert_eq!(err.code(), "borrow_expired", "{err}");
    assert!(
        client.borrowed("acad").is_none(),
        "an ended borrow leaves the cache"
    );

    // The same through the CLI, from the same cache.
    std::fs::write(&files[0], saved).unwrap();
    let err = desk.run_err(&["checkout", "acad"]);
    assert!(
        err.contains("the borrowed license of `acad` ended at"),
        "{err}"
    );
    assert!(desk.borrow_files().is_empty());
}

#[test]
fn a_borrowed_seat_frees_by_itself_when_the_borrow_ends() {
    let (vendor, server, desk) = office(vec![short_pool("p", "acad", 8)]);
    desk.run_ok(&["borrow", "acad", "--hours", "2"]);
    assert_eq!(server.api().pool("p")["borrowed"], 1);
    let borrow = desk.client(&vendor).borrowed("acad").unwrap();
    let list = server.admin_leases();
    assert_eq!(list.len(), 1);

    sleep_until(borrow.until);
    assert!(
        eventually(Duration::from_secs(5), || server.admin_leases().is_empty()),
        "{:?}",
        server.admin_leases()
    );
    assert!(
        server
            .api()
            .pools()
            .iter()
            .all(|p| p["borrowed"] == 0 && p["in_use"] == 0),
        "{:?}",
        server.api().pools()
    );
    let (status, body) = server.api().get(
        &format!("/api/v1/borrows/{}", borrow.borrow_id),
        Some(&borrow.token),
    );
    assert_eq!((status, code(&body)), (404, "borrow_not_found"), "{body}");
}

#[test]
fn returning_early_frees_the_seat_at_once_and_empties_the_cache() {
    let (vendor, server, desk) = office(acad(2));
    desk.run_ok(&["borrow", "acad", "--hours", "8"]);
    assert_eq!(server.api().pool("p")["available"], 1);

    let out = desk.run_ok(&["return", "acad"]);
    assert!(
        out.contains("returned the borrowed license of acad"),
        "{out}"
    );
    let p = server.api().pool("p");
    assert_eq!(
        (p["borrowed"].as_u64(), p["available"].as_u64()),
        (Some(0), Some(2)),
        "{p}"
    );
    assert!(server.admin_leases().is_empty());
    assert!(desk.borrow_files().is_empty());
    assert!(desk.client(&vendor).borrowed("acad").is_none());

    let err = desk.run_err(&["return", "acad"]);
    assert!(err.contains("no license of `acad` is borrowed"), "{err}");
}

#[test]
fn an_admin_ending_a_borrow_frees_the_seat_and_the_client_learns_it_when_it_next_checks_out() {
    let (vendor, server, desk) = office(acad(1));
    desk.run_ok(&["borrow", "acad", "--hours", "8"]);
    let id = server.admin_leases()[0]["id"].as_str().unwrap().to_owned();
    let (status, body) = server.api().delete(
        &format!("/api/v1/admin/leases/{id}"),
        Some(&server.admin_token()),
    );
    assert!((200..300).contains(&status), "{status} {body}");
    let p = server.api().pool("p");
    assert_eq!(
        (p["borrowed"].as_u64(), p["available"].as_u64()),
        (Some(0), Some(1)),
        "{p}"
    );

    let client = desk.client(&vendor);
    assert!(
        client.borrowed("acad").is_some(),
        "not known before the next checkout"
    );
    let license = client.checkout("acad").unwrap();
    assert!(!license.is_borrowed(), "an online lease instead");
    assert!(
        client.borrowed("acad").is_none(),
        "the ended borrow left the cache"
    );
    assert!(desk.borrow_files().is_empty());
    assert_eq!(server.api().pool("p")["in_use"], 1);
    drop(license);
    assert_eq!(server.api().pool("p")["in_use"], 0);
}

#[test]
fn borrows_survive_a_crash_and_a_restart_and_still_return() {
    let (vendor, mut server, desk) = office(acad(2));
    desk.run_ok(&["borrow", "acad", "--hours", "8"]);
    let before = server.admin_leases();

    server.kill9();
    server.restart();
    let p = server.api().pool("p");
    assert_eq!(
        (p["borrowed"].as_u64(), p["available"].as_u64()),
        (Some(1), Some(1)),
        "{p}"
    );
    let after = server.admin_leases();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["id"], before[0]["id"]);
    assert_eq!(after[0]["kind"], "borrow");
    assert_eq!(after[0]["until"], before[0]["until"]);

    // The borrow token of before the crash still stands and returns.
    assert!(desk.client(&vendor).checkout("acad").unwrap().is_borrowed());
    desk.run_ok(&["return", "acad"]);
    assert_eq!(server.api().pool("p")["borrowed"], 0);
    assert!(desk.borrow_files().is_empty());
}

#[test]
fn a_clock_behind_a_time_already_seen_is_refused_offline() {
    let (vendor, mut server, desk) = office(acad(2));
    desk.run_ok(&["borrow", "acad", "--hours", "8"]);
    // As if this computer had seen tomorrow before its clock was turned back.
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    std::fs::write(desk.cache.join("clock"), tomorrow.to_rfc3339()).unwrap();
    server.kill9();

    let err = desk.run_err(&["checkout", "acad"]);
    assert!(
        err.contains("this computer's clock is earlier than"),
        "{err}"
    );
    assert!(err.contains("set the clock right"), "{err}");
    let client = desk.client(&vendor);
    let err = client.checkout("acad").unwrap_err();
    assert_eq!(err.code(), "clock_turned_back", "{err}");
    assert!(
        client.borrowed("acad").is_some(),
        "kept for when the clock is right"
    );
}

fn faketime_installed() -> bool {
    let found = Command::new("faketime")
        .args(["-f", "+0", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "faketime is not installed, and CI must run this test"
        );
        println!("skipped: faketime not installed");
    }
    found
}

const TWO_DAYS_AGO: &[&str] = &["faketime", "-f", "-2d"];

#[test]
fn a_clock_turned_back_two_days_is_refused_offline_but_not_for_an_online_lease() {
    if !faketime_installed() {
        return;
    }
    let (_vendor, mut server, desk) = office(acad(2));

    // Borrowing with the clock behind the server's is refused at once, seat given back.
    let (out, stdout, stderr) = desk.run_via(TWO_DAYS_AGO, &["borrow", "acad", "--hours", "8"]);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("clock"), "{stderr}");
    assert_eq!(server.api().pool("p")["borrowed"], 0);
    assert!(desk.borrow_files().is_empty());

    desk.run_ok(&["borrow", "acad", "--hours", "8"]);
    // With the server there, the clock does not stop an online lease.
    let (out, stdout, stderr) = desk.run_via(TWO_DAYS_AGO, &["checkout", "acad"]);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("checked out acad"), "{stdout}");

    server.kill9();
    let (out, stdout, stderr) = desk.run_via(TWO_DAYS_AGO, &["checkout", "acad"]);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("this computer's clock is earlier than"),
        "{stderr}"
    );
    assert!(stderr.contains("set the clock right"), "{stderr}");
    // With the clock right again it works.
    let out = desk.run_ok(&["checkout", "acad"]);
    assert!(out.contains("using the borrowed license"), "{out}");
}
