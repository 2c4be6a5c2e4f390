//! Test harness: the real `tessera` binary as a process on loopback, a vendor with its
//! keys, and a small HTTP helper that returns status and JSON for any answer.
#![allow(dead_code)]

pub mod named;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use serde_json::Value;
use tessera_core::{LicenseModel, PoolSpec};
use tessera_token::{RegistrationKey, SigningKey, VerifyingKey, issue_activation};

pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// A command of the real binary, with a clean environment of Tessera variables.
pub fn tessera() -> Command {
    let mut c = Command::new(BIN);
    for var in [
        "TESSERA_SERVER",
        "TESSERA_DATA",
        "TESSERA_VENDOR_PUBLIC_KEY",
        "TESSERA_ADMIN_TOKEN",
        "TESSERA_DATABASE_URL",
        "TESSERA_LISTEN",
        "TESSERA_MACHINE_ID",
    ] {
        c.env_remove(var);
    }
    c
}

/// A finished process's output with its stdout and stderr as text.
pub fn texts(out: Output) -> (Output, String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// Runs the binary and returns its output; stdout and stderr as text.
pub fn run(args: &[&str]) -> (Output, String, String) {
    texts(
        tessera()
            .args(args)
            .output()
            .expect("the tessera binary runs"),
    )
}

/// Sends SIGTERM to a child process (a server, a held checkout) without waiting for it.
pub fn sigterm(child: &Child) {
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
}

/// Runs the binary and expects success; returns stdout.
pub fn run_ok(args: &[&str]) -> String {
    let (out, stdout, stderr) = run(args);
    assert!(
        out.status.success(),
        "tessera {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// A vendor: a folder with keys made by `tessera vendor keygen`.
pub struct Vendor {
    pub dir: tempfile::TempDir,
}

impl Vendor {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        run_ok(&["vendor", "keygen", "--out", dir.path().to_str().unwrap()]);
        Vendor { dir }
    }

    pub fn secret_path(&self) -> PathBuf {
        self.dir.path().join("vendor.secret")
    }

    pub fn public_path(&self) -> PathBuf {
        self.dir.path().join("vendor.public")
    }

    pub fn public_key(&self) -> String {
        std::fs::read_to_string(self.public_path())
            .unwrap()
            .trim()
            .to_owned()
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_paserk(&self.public_key()).unwrap()
    }

    pub fn signing_key(&self) -> SigningKey {
        SigningKey::from_paserk(&std::fs::read_to_string(self.secret_path()).unwrap()).unwrap()
    }

    /// An activation key issued in-process (for pools the CLI cannot express, such as
    /// several in one key or one that already ended).
    pub fn activation(&self, registration_key: &str, pools: Vec<PoolSpec>) -> String {
        let reg = RegistrationKey::parse(registration_key).unwrap();
        issue_activation(&self.signing_key(), &reg, "Test Office", pools, Utc::now()).unwrap()
    }

    /// An activation key issued by `tessera vendor issue`; for 30 days unless `extra`
    /// says `--days` or `--end`.
    pub fn issue(
        &self,
        registration_key: &str,
        product: &str,
        seats: u32,
        extra: &[&str],
    ) -> String {
        let seats = seats.to_string();
        let mut args = vec!["--seats", seats.as_str()];
        if !extra.iter().any(|a| *a == "--days" || *a == "--end") {
            args.extend(["--days", "30"]);
        }
        args.extend(extra);
        let (out, stdout, stderr) = self.try_issue(registration_key, product, &args);
        assert!(
            out.status.success(),
            "tessera vendor issue {args:?} failed:\n{stdout}\n{stderr}"
        );
        stdout.trim().to_owned()
    }

    /// `tessera vendor issue` with this vendor's secret key, for `registration_key`, the
    /// organization "Test Office" and `product`, then `extra` as it is: the raw outcome.
    pub fn try_issue(
        &self,
        registration_key: &str,
        product: &str,
        extra: &[&str],
    ) -> (Output, String, String) {
        let secret = self.secret_path();
        let mut args = vec![
            "vendor",
            "issue",
            "--secret-key",
            secret.to_str().unwrap(),
            "--registration-key",
            registration_key,
            "--org",
            "Test Office",
            "--product",
            product,
        ];
        args.extend(extra);
        run(&args)
    }
}

/// A pool for in-process activations: active now, for 30 days.
pub fn pool(id: &str, products: &[&str], seats: u32, borrow_max_hours: u32) -> PoolSpec {
    let now = Utc::now();
    PoolSpec {
        id: id.into(),
        products: products.iter().map(|s| s.to_string()).collect(),
        model: LicenseModel::Floating,
        seats,
        start: now - ChronoDuration::minutes(1),
        end: now + ChronoDuration::days(30),
        borrow_max_hours,
    }
}

/// Settings of a server process.
#[derive(Clone)]
pub struct ServerOpts {
    pub lease_ttl: u64,
    pub heartbeat: u64,
    pub machine_id: String,
    pub extra: Vec<String>,
    /// More environment for the server and its CLI commands.
    pub env: Vec<(String, String)>,
}

impl Default for ServerOpts {
    fn default() -> Self {
        ServerOpts {
            lease_ttl: 120,
            heartbeat: 30,
            machine_id: "test-machine-1".into(),
            extra: Vec::new(),
            env: Vec::new(),
        }
    }
}

impl ServerOpts {
    /// Leases lapse `lease_ttl` seconds after their last heartbeat, and clients are asked
    /// to heartbeat every second: for tests that wait a TTL out.
    pub fn short_ttl(lease_ttl: u64) -> Self {
        ServerOpts {
            lease_ttl,
            heartbeat: 1,
            ..Default::default()
        }
    }

    /// The default settings with more arguments for `tessera server` (e.g. `--rate-limit`).
    pub fn with_args(args: &[&str]) -> Self {
        ServerOpts {
            extra: args.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        }
    }
}

/// A LAN license server process on a loopback port, with its data folder.
pub struct Server {
    pub data: PathBuf,
    pub url: String,
    pub child: Child,
    pub opts: ServerOpts,
    pub vendor_public: PathBuf,
    _owned: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a server on a fresh data folder.
    pub fn start(vendor: &Vendor, opts: ServerOpts) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("server");
        let mut s = Self::start_in(&data, &vendor.public_path(), opts, None);
        s._owned = Some(dir);
        s
    }

    /// Starts a server on a fresh data folder that already holds the file `name` with
    /// `contents` (settings or a policy there before the first start).
    pub fn start_with_file(vendor: &Vendor, name: &str, contents: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("server");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join(name), contents).unwrap();
        let mut s = Self::start_in(&data, &vendor.public_path(), ServerOpts::default(), None);
        s._owned = Some(dir);
        s
    }

    /// Starts a server on `data`; on `port` when given (to come back at the same URL).
    pub fn start_in(
        data: &Path,
        vendor_public: &Path,
        opts: ServerOpts,
        port: Option<u16>,
    ) -> Server {
        let (child, url) = spawn_server(data, vendor_public, &opts, port);
        Server {
            data: data.to_owned(),
            url,
            child,
            opts,
            vendor_public: vendor_public.to_owned(),
            _owned: None,
        }
    }

    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn data_arg(&self) -> &str {
        self.data.to_str().unwrap()
    }

    /// Runs `tessera server SUB --data DATA …` against this server's folder and machine.
    pub fn cli(&self, sub: &str, args: &[&str]) -> (Output, String, String) {
        texts(
            tessera()
                .args(["server", sub, "--data", self.data_arg()])
                .args(args)
                .env("TESSERA_MACHINE_ID", &self.opts.machine_id)
                .env("TESSERA_VENDOR_PUBLIC_KEY", &self.vendor_public)
                .envs(self.opts.env.iter().map(|(k, v)| (k, v)))
                .output()
                .unwrap(),
        )
    }

    pub fn registration_key(&self) -> String {
        let (out, stdout, stderr) = self.cli("registration-key", &[]);
        assert!(out.status.success(), "{stderr}");
        stdout.trim().to_owned()
    }

    pub fn admin_token(&self) -> String {
        let (out, stdout, stderr) = self.cli("admin-token", &[]);
        assert!(out.status.success(), "{stderr}");
        stdout.trim().to_owned()
    }

    /// Imports an activation key through `tessera server activate`.
    pub fn activate(&self, key: &str) {
        let file = self.data.join(format!("act-{}.key", rand_suffix()));
        std::fs::write(&file, key).unwrap();
        let (out, stdout, stderr) = self.cli("activate", &[file.to_str().unwrap()]);
        assert!(out.status.success(), "activate failed:\n{stdout}\n{stderr}");
    }

    /// `tessera server activate FILE` for a key that may be refused: the raw outcome.
    pub fn try_activate(&self, key: &str) -> (Output, String, String) {
        let file = self.data.join(format!("act-{}.key", rand_suffix()));
        std::fs::write(&file, key).unwrap();
        self.cli("activate", &[file.to_str().unwrap()])
    }

    /// `tessera server activate -` with the key on standard input.
    pub fn activate_stdin(&self, key: &str) -> (Output, String, String) {
        use std::io::Write;
        let mut child = tessera()
            .args(["server", "activate", "--data", self.data_arg(), "-"])
            .env("TESSERA_MACHINE_ID", &self.opts.machine_id)
            .env("TESSERA_VENDOR_PUBLIC_KEY", &self.vendor_public)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(key.as_bytes())
            .unwrap();
        texts(child.wait_with_output().unwrap())
    }

    /// Stops the server with SIGTERM and returns how it exited.
    pub fn terminate_status(&mut self) -> ExitStatus {
        sigterm(&self.child);
        self.child.wait().unwrap()
    }

    /// Stops the server with SIGKILL: no chance to tidy up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub fn terminate(&mut self) {
        sigterm(&self.child);
        let _ = self.child.wait();
    }

    /// Starts the server again on the same folder and port.
    pub fn restart(&mut self) {
        self.kill9();
        let (child, url) = spawn_server(
            &self.data,
            &self.vendor_public,
            &self.opts,
            Some(self.port()),
        );
        self.child = child;
        self.url = url;
    }

    pub fn api(&self) -> Api {
        Api::new(&self.url)
    }

    /// The office's list of leases and borrows (`GET /api/v1/admin/leases` with the admin
    /// token), which must answer 200.
    pub fn admin_leases(&self) -> Vec<Value> {
        let (status, body) = self
            .api()
            .get("/api/v1/admin/leases", Some(&self.admin_token()));
        assert_eq!(status, 200, "{body}");
        body["leases"].as_array().unwrap().clone()
    }

    /// A page of the server's web interface as the signed-in admin sees it (the admin
    /// token as the session cookie); it must answer 200.
    pub fn admin_page(&self, path: &str) -> String {
        let cookie = format!("tessera_admin={}", self.admin_token());
        let page = self.api().raw("GET", path, &[("Cookie", &cookie)], b"");
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        page.text
    }

    /// What `tessera status` prints for this server with the admin token in
    /// `TESSERA_ADMIN_TOKEN`; it must succeed.
    pub fn admin_status(&self) -> String {
        let (out, stdout, stderr) = texts(
            tessera()
                .args(["status", "--server", &self.url])
                .env("TESSERA_ADMIN_TOKEN", self.admin_token())
                .output()
                .unwrap(),
        );
        assert!(out.status.success(), "{stdout}\n{stderr}");
        stdout
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Spawns `tessera server` and waits until it listens.
pub fn spawn_server(
    data: &Path,
    vendor_public: &Path,
    opts: &ServerOpts,
    port: Option<u16>,
) -> (Child, String) {
    let listen = format!("127.0.0.1:{}", port.unwrap_or(0));
    let mut cmd = tessera();
    cmd.args([
        "server",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        &listen,
    ])
    .args(["--vendor-public-key", vendor_public.to_str().unwrap()])
    .args([
        "--lease-ttl",
        &opts.lease_ttl.to_string(),
        "--heartbeat",
        &opts.heartbeat.to_string(),
    ])
    .args(&opts.extra)
    .env("TESSERA_MACHINE_ID", &opts.machine_id)
    .envs(opts.env.iter().map(|(k, v)| (k, v)))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the server starts");
    let url = wait_for_listening(&mut child);
    (child, url)
}

/// The password of every portal account the tests make.
pub const PASSWORD: &str = "a long enough password";

/// A `tessera portal` process on a loopback port; killed when dropped.
pub struct PortalProcess {
    pub child: Child,
    pub url: String,
}

impl PortalProcess {
    /// Starts `tessera portal --data DATA --listen 127.0.0.1:0 ARGS…`, with the vendor's
    /// secret key when given (else `--new-vendor-key`), and waits until it listens. Mail, the public URL and the
    /// vendor's key come from the arguments only, never from the environment.
    pub fn start(data: &Path, vendor: Option<&Vendor>, args: &[&str]) -> PortalProcess {
        let mut cmd = tessera();
        cmd.args(["portal", "--data", data.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("TESSERA_SMTP")
            .env_remove("TESSERA_PUBLIC_URL")
            .env_remove("TESSERA_VENDOR_SECRET_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match vendor {
            Some(vendor) => cmd.arg("--vendor-secret-key").arg(vendor.secret_path()),
            None => cmd.arg("--new-vendor-key"),
        };
        let mut child = cmd.spawn().expect("the portal starts");
        let url = wait_for_listening(&mut child);
        PortalProcess { child, url }
    }

    /// Stops the portal with SIGKILL and waits for it to exit.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for PortalProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the child's stdout until `listening on URL`; keeps draining both pipes after
/// (stderr when it is piped), so the server never blocks on a full pipe.
pub fn wait_for_listening(child: &mut Child) -> String {
    let stdout = child.stdout.take().unwrap();
    // A test that reads the log itself sends stderr elsewhere.
    let stderr = child.stderr.take();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(Ok(url.trim().to_owned()));
                sent = true;
            }
        }
        if !sent {
            let _ = tx.send(Err(()));
        }
    });
    let (etx, erx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let Some(stderr) = stderr else { return };
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if std::env::var_os("TESSERA_TEST_LOG").is_some() {
                eprintln!("[server] {line}");
            }
            all.push_str(&line);
            all.push('\n');
            let _ = etx.send(line);
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(url)) => url,
        _ => {
            let log: Vec<String> = erx.try_iter().collect();
            panic!("the server did not start:\n{}", log.join("\n"));
        }
    }
}

/// Raw HTTP against a server: every answer, error or not, as (status, JSON).
pub struct Api {
    pub base: String,
    agent: ureq::Agent,
    /// Like `agent`, but never follows redirects (to see a 303 and its headers).
    raw_agent: ureq::Agent,
}

/// Any answer with its headers and body text, for calls that are not JSON (the live
/// page, redirects, cookies) or whose headers matter.
pub struct Raw {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub text: String,
}

impl Raw {
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of a header (e.g. `set-cookie`).
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }
}

impl Api {
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let raw_agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Api {
            base: base.trim_end_matches('/').to_owned(),
            agent,
            raw_agent,
        }
    }

    /// Any method, headers and body; redirects are not followed.
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Raw {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.to_vec()).unwrap();
        Self::raw_answer(self.raw_agent.run(req).unwrap())
    }

    /// Like [`Api::raw`], but the body is sent chunked, with no `Content-Length`.
    pub fn raw_chunked(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Raw {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = ureq::SendBody::from_owned_reader(std::io::Cursor::new(body));
        Self::raw_answer(self.raw_agent.run(req.body(body).unwrap()).unwrap())
    }

    fn raw_answer(mut resp: ureq::http::Response<ureq::Body>) -> Raw {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Raw {
            status,
            headers,
            text,
        }
    }

    /// A JSON POST that reports a failed connection (a killed server) instead of panicking.
    pub fn try_post_json(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> Result<(u16, Value), ureq::Error> {
        let req = with_bearer(self.agent.post(&self.url(path)), bearer);
        Ok(Self::finish(req.send_json(body)?))
    }

    /// `checkout` that reports a failed connection instead of panicking.
    pub fn try_checkout(
        &self,
        product: &str,
        user: &str,
        host: &str,
        client_id: &str,
    ) -> Result<(u16, Value), ureq::Error> {
        self.try_post_json(
            "/api/v1/leases",
            None,
            &serde_json::json!({"product": product, "user": user, "host": host, "client_id": client_id}),
        )
    }

    /// `checkin` that reports a failed connection instead of panicking.
    pub fn try_checkin(&self, lease: &Value) -> Result<(u16, Value), ureq::Error> {
        let id = lease["lease_id"].as_str().unwrap();
        let req = with_bearer(
            self.agent
                .delete(&self.url(&format!("/api/v1/leases/{id}"))),
            lease["token"].as_str(),
        );
        Ok(Self::finish(req.call()?))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn finish(mut resp: ureq::http::Response<ureq::Body>) -> (u16, Value) {
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub fn get(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let req = with_bearer(self.agent.get(&self.url(path)), bearer);
        Self::finish(req.call().unwrap())
    }

    pub fn post_json(&self, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
        let req = with_bearer(self.agent.post(&self.url(path)), bearer);
        Self::finish(req.send_json(body).unwrap())
    }

    /// A POST with any body and content type (for broken input).
    pub fn post_raw(
        &self,
        path: &str,
        bearer: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Value) {
        let req = self
            .agent
            .post(&self.url(path))
            .header("Content-Type", content_type);
        Self::finish(with_bearer(req, bearer).send(body).unwrap())
    }

    /// A request with any method, body and content type.
    pub fn post_raw_method(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Value) {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("Content-Type", content_type);
        let request = match bearer {
            Some(t) => request.header("Authorization", format!("Bearer {t}")),
            None => request,
        };
        Self::finish(
            self.agent
                .run(request.body(body.to_vec()).unwrap())
                .unwrap(),
        )
    }

    /// A form POST with a cookie, as a browser on the live page; returns status and HTML.
    pub fn post_raw_with_cookie(
        &self,
        path: &str,
        cookie: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, String) {
        let mut resp = self
            .agent
            .post(&self.url(path))
            .header("Content-Type", content_type)
            .header("Cookie", cookie)
            .send(body)
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap_or_default())
    }

    pub fn delete(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let req = with_bearer(self.agent.delete(&self.url(path)), bearer);
        Self::finish(req.call().unwrap())
    }

    /// `POST /api/v1/leases` for (product, user, host, client_id).
    pub fn checkout(&self, product: &str, user: &str, host: &str, client_id: &str) -> (u16, Value) {
        self.post_json(
            "/api/v1/leases",
            None,
            &serde_json::json!({"product": product, "user": user, "host": host, "client_id": client_id}),
        )
    }

    /// `POST /api/v1/borrows`: (product, user, host, client_id) for `hours`.
    pub fn borrow(
        &self,
        product: &str,
        user: &str,
        host: &str,
        client_id: &str,
        hours: u32,
    ) -> (u16, Value) {
        self.post_json(
            "/api/v1/borrows",
            None,
            &serde_json::json!({"product": product, "user": user, "host": host, "client_id": client_id, "hours": hours}),
        )
    }

    /// A POST with no body, as the client library sends heartbeats. (A body the server
    /// does not read may make it close the keep-alive connection after answering, which
    /// the pooled agent would only notice on its next call.)
    pub fn post_empty(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let req = with_bearer(self.agent.post(&self.url(path)), bearer);
        Self::finish(req.send_empty().unwrap())
    }

    pub fn heartbeat(&self, lease: &Value) -> (u16, Value) {
        let id = lease["lease_id"].as_str().unwrap();
        self.post_empty(
            &format!("/api/v1/leases/{id}/heartbeat"),
            lease["token"].as_str(),
        )
    }

    pub fn checkin(&self, lease: &Value) -> (u16, Value) {
        let id = lease["lease_id"].as_str().unwrap();
        self.delete(&format!("/api/v1/leases/{id}"), lease["token"].as_str())
    }

    pub fn pools(&self) -> Vec<Value> {
        let (status, info) = self.get("/api/v1/server", None);
        assert_eq!(status, 200, "{info}");
        info["products"].as_array().unwrap().clone()
    }

    pub fn pool(&self, id: &str) -> Value {
        self.pools()
            .into_iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("no pool {id}"))
    }

    /// How many seats of pool `id` are in use online.
    pub fn in_use(&self, id: &str) -> u64 {
        self.pool(id)["in_use"].as_u64().unwrap()
    }
}

/// The request with `Authorization: Bearer TOKEN` when there is a token.
fn with_bearer<B>(req: ureq::RequestBuilder<B>, bearer: Option<&str>) -> ureq::RequestBuilder<B> {
    match bearer {
        Some(t) => req.header("Authorization", &format!("Bearer {t}")),
        None => req,
    }
}

/// Copies a folder with its files (one level of subfolders and deeper), as an admin
/// moving a server to another machine would.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The error code of an error answer.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// The message of an error answer, which must have one.
pub fn message(body: &Value) -> &str {
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message: {body}"))
}

/// A time in an answer (RFC 3339).
pub fn time(v: &Value) -> chrono::DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("not RFC 3339 ({e}): {v}"))
}

/// Polls `check` every 100 ms until it holds or `timeout` passes; returns whether it held.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A started server with the given pools activated through the CLI.
pub fn server_with(vendor: &Vendor, opts: ServerOpts, pools: Vec<PoolSpec>) -> Server {
    let server = Server::start(vendor, opts);
    let key = vendor.activation(&server.registration_key(), pools);
    server.activate(&key);
    server
}

/// A started server with the default settings and one pool.
pub fn server_with_pool(vendor: &Vendor, pool: PoolSpec) -> Server {
    server_with(vendor, ServerOpts::default(), vec![pool])
}

/// A new vendor and a started server with `opts` and one pool `p` of `seats` seats of
/// acad, not lent. Keep the vendor while the server is used: its key files are there.
pub fn acad_server_with(opts: ServerOpts, seats: u32) -> (Vendor, Server) {
    let vendor = Vendor::new();
    let server = server_with(&vendor, opts, vec![pool("p", &["acad"], seats, 0)]);
    (vendor, server)
}

/// [`acad_server_with`] with the default settings.
pub fn acad_server(seats: u32) -> (Vendor, Server) {
    acad_server_with(ServerOpts::default(), seats)
}
