//! The C ABI from C: the example program is compiled by the system compiler against the
//! committed header and the built library, and takes a seat from a real server process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn target_dir() -> PathBuf {
    // .../target/debug/deps/c_example-HASH → .../target/debug
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_owned()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The `tessera` binary of this build, built first when this test runs on its own.
fn tessera_bin() -> PathBuf {
    let bin = target_dir().join("tessera");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "tessera", "--bin", "tessera"])
            .current_dir(workspace())
            .status()
            .unwrap();
        assert!(status.success());
    }
    bin
}

fn tessera(args: &[&str]) -> Output {
    let out = Command::new(tessera_bin())
        .args(args)
        .env_remove("TESSERA_VENDOR_PUBLIC_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tessera {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Where `libtessera.so` is: beside the binaries after `cargo build`, or among the
/// dependencies when only the tests were built; built here when neither has it.
fn library_dir() -> PathBuf {
    let candidates = [target_dir(), target_dir().join("deps")];
    let found = || {
        candidates
            .iter()
            .find(|d| d.join("libtessera.so").exists())
            .cloned()
    };
    if let Some(dir) = found() {
        return dir;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", "tessera-ffi", "--lib"])
        .current_dir(workspace())
        .status()
        .unwrap();
    assert!(status.success());
    found().expect("libtessera.so is built")
}

/// Compiles examples/c/tessera_example.c once per test process.
fn example() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let lib_dir = library_dir();
            // In the target folder (cargo's folder for integration tests' files), not the
            // system's temp folder, where every test run left a binary behind.
            let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("tessera_example_{}", std::process::id()));
            let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
            let status = Command::new(cc)
                .args([
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-std=c11",
                    "-D_DEFAULT_SOURCE",
                ])
                .arg(workspace().join("examples/c/tessera_example.c"))
                .arg("-I")
                .arg(workspace().join("crates/tessera-ffi/include"))
                .arg("-L")
                .arg(&lib_dir)
                .args(["-ltessera", "-lpthread"])
                .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
                .arg("-o")
                .arg(&out)
                .status()
                .expect("a C compiler is installed");
            assert!(status.success(), "the C example compiles");
            out
        })
        .clone()
}

struct Server {
    child: Child,
    url: String,
    vendor_public: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real server with one pool of `seats` seats of `acad` (borrowable 24 h).
fn server(seats: u32, ttl: u64) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let vendor = dir.path().join("vendor");
    let data = dir.path().join("server");
    let d = data.to_str().unwrap();
    tessera(&["vendor", "keygen", "--out", vendor.to_str().unwrap()]);
    let reg =
        String::from_utf8(tessera(&["server", "registration-key", "--data", d]).stdout).unwrap();
    let key = dir.path().join("act.key");
    let seats = seats.to_string();
    tessera(&[
        "vendor",
        "issue",
        "--secret-key",
        vendor.join("vendor.secret").to_str().unwrap(),
        "--registration-key",
        reg.trim(),
        "--org",
        "C Office",
        "--product",
        "acad",
        "--seats",
        &seats,
        "--days",
        "30",
        "--borrow-hours",
        "24",
        "--out",
        key.to_str().unwrap(),
    ]);
    let public = vendor.join("vendor.public");
    tessera(&[
        "server",
        "activate",
        "--data",
        d,
        "--vendor-public-key",
        public.to_str().unwrap(),
        key.to_str().unwrap(),
    ]);
    let mut child = Command::new(tessera_bin())
        .args([
            "server",
            "--data",
            d,
            "--listen",
            "127.0.0.1:0",
            "--vendor-public-key",
            public.to_str().unwrap(),
        ])
        .args(["--lease-ttl", &ttl.to_string(), "--heartbeat", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the server prints its address")
            .unwrap();
        if let Some(u) = line.strip_prefix("listening on ") {
            break u.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        url,
        vendor_public: public,
        _dir: dir,
    }
}

fn in_use(server: &Server) -> u64 {
    let out = tessera(&["status", "--json", "--server", &server.url]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["server"]["products"][0]["in_use"].as_u64().unwrap()
}

fn run_example(server: &Server, args: &[&str], cache: &Path) -> Command {
    let mut c = Command::new(example());
    c.args(args)
        .env("TESSERA_SERVER", &server.url)
        .env("TESSERA_VENDOR_PUBLIC_KEY", &server.vendor_public)
        .env("TESSERA_CACHE_DIR", cache)
        .env("USER", "c-user");
    c
}

fn start_holding(server: &Server, cache: &Path) -> Child {
    let mut child = run_example(server, &["hold", "acad"], cache)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("held acad (lease "), "{line}");
    child
}

#[test]
fn the_committed_header_is_the_generated_one() {
    let generated = std::fs::read_to_string(Path::new(env!("OUT_DIR")).join("tessera.h")).unwrap();
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/tessera.h"))
            .unwrap();
    assert!(
        generated == committed,
        "include/tessera.h is out of date: copy {}/tessera.h over it",
        env!("OUT_DIR")
    );
}

#[test]
fn a_c_program_holds_a_seat_and_releases_it_on_sigterm() {
    let server = server(1, 3);
    let cache = tempfile::tempdir().unwrap();
    let child = start_holding(&server, cache.path());
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        in_use(&server),
        1,
        "held past the TTL by the library's heartbeats"
    );
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("released acad"));
    assert_eq!(in_use(&server), 0, "released at once on SIGTERM");
}

#[test]
fn a_killed_c_programs_seat_returns_after_the_ttl() {
    let server = server(1, 3);
    let cache = tempfile::tempdir().unwrap();
    let mut child = start_holding(&server, cache.path());
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    assert_eq!(in_use(&server), 1);
    while in_use(&server) != 0 {
        assert!(
            killed.elapsed() < Duration::from_secs(8),
            "the seat did not return within the TTL"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_c_program_reads_why_it_got_no_seat() {
    let server = server(1, 120);
    let cache = tempfile::tempdir().unwrap();
    let mut holder = start_holding(&server, cache.path());
    let out = run_example(&server, &["hold", "acad"], cache.path())
        .env("USER", "someone-else")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[no_seat_available, status 1]"), "{err}");
    let out = run_example(&server, &["hold", "civil3d"], cache.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("[unknown_product, status 2]"));
    holder.kill().unwrap();
    holder.wait().unwrap();
}

#[test]
fn licenses_open_from_many_threads_each_with_its_own_error() {
    let server = server(2, 120);
    let cache = tempfile::tempdir().unwrap();
    let out = run_example(&server, &["threads", "acad", "8"], cache.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("8 threads, 0 unexpected"), "{text}");
    assert!(
        text.contains("code 'unknown_product'") && text.contains("status 0 code ''"),
        "{text}"
    );
}

#[test]
fn a_c_program_borrows_uses_the_borrow_offline_and_returns_it() {
    let mut server = server(1, 120);
    let cache = tempfile::tempdir().unwrap();
    let out = run_example(&server, &["borrow", "acad", "8"], cache.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        in_use(&server),
        0,
        "a borrow counts as borrowed, not in use"
    );
    let url = server.url.clone();
    // The server goes away; the borrowed license still opens.
    let _ = server.child.kill();
    let _ = server.child.wait();
    let mut child = run_example(&server, &["hold", "acad"], cache.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("held acad (borrowed "), "{line}");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    assert!(child.wait().unwrap().success());
    // With no server, returning fails and says why.
    let out = run_example(&server, &["return", "acad"], cache.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unreachable"),
        "{url}"
    );
}

/// `tessera demo` on loopback: its portal's address, and the folder of its data.
struct Demo {
    child: Child,
    portal: String,
    dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    fn start() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(tessera_bin())
            .args(["demo", "--data"])
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:0", "--portal-listen", "127.0.0.1:0"])
            .env("TESSERA_MACHINE_ID", "c-example-demo")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut portal = String::new();
        loop {
            let line = lines.next().expect("the demo prints its lines").unwrap();
            if let Some(url) = line
                .trim_start()
                .strip_prefix("portal ")
                .and_then(|rest| rest.split_whitespace().next())
                .filter(|url| url.starts_with("http://"))
            {
                portal = url.trim_end_matches('/').to_owned();
            }
            if line.starts_with("listening on ") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        assert!(portal.starts_with("http://"), "the demo printed its portal");
        Demo { child, portal, dir }
    }

    fn vendor_public(&self) -> PathBuf {
        self.dir.path().join("vendor").join("vendor.public")
    }

    /// The C example on the computer whose cache folder is `computer`.
    fn example(&self, args: &[&str], computer: &Path) -> Command {
        let mut c = Command::new(example());
        c.args(args)
            .env("TESSERA_VENDOR_PUBLIC_KEY", self.vendor_public())
            .env("TESSERA_CACHE_DIR", computer)
            .env("TESSERA_PASSWORD", DEMO_PASSWORD)
            .env_remove("TESSERA_DEVICE_ID")
            .env_remove("TESSERA_SERVER");
        c
    }
}

const DEMO_CUSTOMER: &str = "buyer@office.example";
const DEMO_PASSWORD: &str = "buyer-demo-password";

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The demo customer's Token Usage report as CSV, read as the customer in the portal.
fn token_usage_csv(portal: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let cookie_of = |r: &ureq::http::Response<ureq::Body>| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("tessera_session="))
            .map(|c| c.split(';').next().unwrap().to_owned())
    };
    let mut page = agent.get(&format!("{portal}/signin")).call().unwrap();
    let cookie = cookie_of(&page).expect("a session cookie");
    let html = page.body_mut().read_to_string().unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a CSRF secret")
        .to_owned();
    let form = format!(
        "csrf={csrf}&email={}&password={}",
        DEMO_CUSTOMER.replace('@', "%40"),
        DEMO_PASSWORD
    );
    let signed = agent
        .post(&format!("{portal}/signin"))
        .header("cookie", &cookie)
        .content_type("application/x-www-form-urlencoded")
        .send(form.as_bytes())
        .unwrap();
    assert_eq!(signed.status().as_u16(), 303, "the customer signs in");
    let cookie = cookie_of(&signed).unwrap_or(cookie);
    let mut csv = agent
        .get(&format!("{portal}/account/reports/tokens.csv"))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    csv.body_mut().read_to_string().unwrap()
}

#[test]
fn a_c_program_signs_its_person_in_holds_a_named_license_sees_it_superseded_and_uses_tokens() {
    let demo = Demo::start();
    let computers = tempfile::tempdir().unwrap();
    let (first, second) = (
        computers.path().join("first"),
        computers.path().join("second"),
    );

    let out = demo
        .example(&["sign-in", &demo.portal, DEMO_CUSTOMER], &first)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("signed in as buyer@office.example"));

    // A named-user license of Share, held; checked with the portal at each line.
    let mut held = demo
        .example(&["named", "share"], &first)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = held.stdin.take().unwrap();
    let mut lines = BufReader::new(held.stdout.take().unwrap()).lines();
    let mut next = || lines.next().expect("a line").unwrap();
    assert_eq!(next(), "held share (named user)");
    use std::io::Write;
    writeln!(stdin, "check").unwrap();
    assert_eq!(next(), "valid");

    // The same person signs in on a second computer: the first one's license stops.
    let out = demo
        .example(&["sign-in", &demo.portal, DEMO_CUSTOMER], &second)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    writeln!(stdin, "check").unwrap();
    let stopped = next();
    assert!(
        stopped.starts_with("stopped: superseded (status 12)"),
        "{stopped}"
    );
    drop(stdin);
    assert!(held.wait().unwrap().success());

    // A wrong password is refused with the portal's word for it.
    let out = demo
        .example(&["sign-in", &demo.portal, DEMO_CUSTOMER], &first)
        .env("TESSERA_PASSWORD", "not the password")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("tessera_named_sign_in failed"),
        "{}",
        text(&out)
    );

    // A token use from the second computer is charged and shows in Token Usage.
    let out = demo
        .example(&["tokens", "autocad", "3600"], &second)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("used autocad; balance 490"),
        "{}",
        text(&out)
    );
    let csv = token_usage_csv(&demo.portal);
    assert!(
        csv.lines()
            .any(|l| l.contains("autocad") && l.contains(DEMO_CUSTOMER)),
        "{csv}"
    );

    let out = demo.example(&["sign-out"], &second).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = demo
        .example(&["tokens", "autocad"], &second)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("[config, status 7]"), "{}", text(&out));
}

#[test]
fn a_c_program_given_a_list_of_nodes_takes_its_seat_from_the_one_that_answers() {
    let server = server(1, 120);
    let cache = tempfile::tempdir().unwrap();
    // A port where nothing listens, first in the list.
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let mut child = run_example(&server, &["hold", "acad"], cache.path())
        .env("TESSERA_SERVER", format!("{down},{}", server.url))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("held acad (lease "), "{line}");
    assert_eq!(in_use(&server), 1);
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(in_use(&server), 0, "checked in on the node that answered");
}
