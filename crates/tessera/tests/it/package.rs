//! `scripts/package` and the Debian package it makes, installed for real with `dpkg -i`:
//! the `tessera` user gets its registration key from `/var/lib/tessera`, `dpkg -r`
//! leaves that folder, and an upgrade keeps the registration key and the activation.
//!
//! The packages are made of the binary these tests were built with (`--binary`; the
//! release path builds `--release` itself), in a temporary folder removed afterwards.
//! The dpkg tests need root and change the machine: they skip with a message when not
//! root, without dpkg, runuser or cargo-deb, or when a `tessera` package, user or
//! `/var/lib/tessera` is already there (never someone's real server); under `CI=true`
//! they fail instead. They take a lock so that two never run at once, and always purge
//! the package and remove the folder and the user they made.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;

use common::*;

const DATA: &str = "/var/lib/tessera";
/// The machine id every command of these tests sees, so that a container without
/// /etc/machine-id still has a registration key.
const MACHINE_ID: &str = "tessera-package-test";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Skips (prints why) outside CI, fails in CI.
fn skip(why: &str) -> Option<Machine> {
    assert!(!in_ci(), "CI must run the package tests, but {why}");
    println!("skipped: {why}");
    None
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a command and returns its stdout; panics with its output when it fails.
fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("TESSERA_MACHINE_ID", MACHINE_ID)
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot run: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// `tessera ARGS` as the package's user, through runuser.
fn as_tessera_user(args: &[&str]) -> String {
    let mut all = vec!["-u", "tessera", "--", "/usr/bin/tessera"];
    all.extend(args);
    sh("runuser", &all)
}

/// Packages of the test binary, version `version`, made by scripts/package in `out`.
fn make_packages(out: &Path, version: &str, secret: Option<&Path>) -> (PathBuf, PathBuf) {
    let mut args = vec![
        "--binary".to_owned(),
        BIN.to_owned(),
        "--version".into(),
        version.into(),
        "--out".into(),
        out.display().to_string(),
        "--fast".into(),
    ];
    if let Some(secret) = secret {
        args.extend(["--sign".into(), secret.display().to_string()]);
    }
    let script = repo().join("scripts/package");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sh(script.to_str().unwrap(), &args);
    let arch = sh("dpkg", &["--print-architecture"]);
    let machine = sh("uname", &["-m"]);
    (
        out.join(format!("tessera_{version}-1_{}.deb", arch.trim())),
        out.join(format!("tessera-{version}-linux-{}.tar.gz", machine.trim())),
    )
}

/// The machine, borrowed for one test: held under a lock, and left as it was found.
struct Machine {
    _lock: std::fs::File,
    /// A folder every user can read: packages, the vendor's public key, activation keys.
    pub dir: tempfile::TempDir,
}

impl Machine {
    fn take() -> Option<Machine> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return skip("the dpkg tests need root (they install a package)");
        }
        for tool in ["dpkg", "runuser", "useradd"] {
            if !succeeds("sh", &["-c", &format!("command -v {tool}")]) {
                return skip(&format!("{tool} is not installed"));
            }
        }
        if !succeeds("cargo", &["deb", "--version"]) {
            return skip("cargo-deb is not installed (cargo install cargo-deb --locked)");
        }
        let lock = std::fs::File::create(std::env::temp_dir().join("tessera-dpkg-tests.lock"))
            .expect("the lock file");
        // SAFETY: flock on a file descriptor we own.
        let locked = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
        assert_eq!(locked, 0, "cannot lock the dpkg tests' lock file");
        if succeeds("dpkg", &["-s", "tessera"]) {
            return skip("a tessera package is installed on this machine; not touching it");
        }
        if Path::new(DATA).exists() {
            return skip("/var/lib/tessera exists on this machine; not touching it");
        }
        if succeeds("getent", &["passwd", "tessera"]) {
            return skip("a `tessera` user exists on this machine; not touching it");
        }
        let dir = tempfile::Builder::new()
            .prefix("tessera-dpkg-")
            .tempdir()
            .unwrap();
        set_mode(dir.path(), 0o755);
        Some(Machine { _lock: lock, dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let quiet = |program: &str, args: &[&str]| {
            let _ = Command::new(program).args(args).output();
        };
        quiet("dpkg", &["--purge", "tessera"]);
        let _ = std::fs::remove_dir_all(DATA);
        quiet("userdel", &["tessera"]);
        quiet("groupdel", &["tessera"]);
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn owner(path: &str) -> String {
    sh("stat", &["-c", "%U:%G %a", path]).trim().to_owned()
}

#[test]
fn the_archive_holds_the_program_the_unit_the_settings_and_the_install_note() {
    if !succeeds("dpkg", &["--version"]) || !succeeds("cargo", &["deb", "--version"]) {
        assert!(
            !in_ci(),
            "CI must run the package tests, but dpkg or cargo-deb is missing"
        );
        println!("skipped: dpkg or cargo-deb is not installed");
        return;
    }
    let vendor = Vendor::new();
    let out = tempfile::tempdir().unwrap();
    let (deb, archive) = make_packages(out.path(), "0.0.1", Some(&vendor.secret_path()));
    let listing = sh("tar", &["-tzf", archive.to_str().unwrap()]);
    for file in [
        "tessera",
        "tessera-server.service",
        "tessera.toml",
        "INSTALL.txt",
    ] {
        let path = format!("tessera-0.0.1-linux-{}/{file}", sh("uname", &["-m"]).trim());
        assert!(
            listing.lines().any(|l| l == path),
            "{path} not in:\n{listing}"
        );
    }
    let unpacked = tempfile::tempdir().unwrap();
    sh(
        "tar",
        &[
            "-xzf",
            archive.to_str().unwrap(),
            "-C",
            unpacked.path().to_str().unwrap(),
        ],
    );
    let folder = std::fs::read_dir(unpacked.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let unit = std::fs::read_to_string(folder.join("tessera-server.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/tessera server"),
        "{unit}"
    );
    let note = std::fs::read_to_string(folder.join("INSTALL.txt")).unwrap();
    assert!(note.contains("tessera server registration-key"), "{note}");
    assert_eq!(
        std::fs::read(folder.join("tessera")).unwrap(),
        std::fs::read(BIN).unwrap(),
        "the archive's program is the binary given"
    );

    // The Debian package: the program, the hardened unit, the sample settings.
    let contents = sh("dpkg-deb", &["-c", deb.to_str().unwrap()]);
    for path in [
        "./usr/bin/tessera",
        "./usr/lib/systemd/system/tessera-server.service",
        "./usr/share/doc/tessera/tessera.toml.example",
    ] {
        assert!(contents.contains(path), "{path} not in:\n{contents}");
    }
    let control = sh("dpkg-deb", &["-f", deb.to_str().unwrap(), "Version"]);
    assert_eq!(control.trim(), "0.0.1-1");

    // Both are signed by the vendor, and the signatures verify.
    for file in [&deb, &archive] {
        let sig = format!("{}.sig", file.display());
        run_ok(&[
            "vendor",
            "verify",
            file.to_str().unwrap(),
            &sig,
            "--vendor-public-key",
            vendor.public_path().to_str().unwrap(),
        ]);
    }
}

#[test]
fn the_debian_package_installs_a_server_its_user_runs_and_removal_keeps_the_data() {
    let Some(machine) = Machine::take() else {
        return;
    };
    let (deb, _) = make_packages(machine.dir.path(), "0.0.1", None);
    let installed = sh("dpkg", &["-i", deb.to_str().unwrap()]);
    assert!(
        installed
            .contains("sudo -u tessera tessera server registration-key --data /var/lib/tessera"),
        "the post-install message names the registration key command:\n{installed}"
    );
    assert!(
        succeeds("getent", &["passwd", "tessera"]),
        "no tessera user"
    );
    assert_eq!(owner(DATA), "tessera:tessera 750");
    let unit = std::fs::read_to_string("/usr/lib/systemd/system/tessera-server.service").unwrap();
    assert!(
        unit.contains("User=tessera") && unit.contains("ProtectSystem=strict"),
        "{unit}"
    );
    assert!(unit.contains("ExecStart=/usr/bin/tessera server"), "{unit}");

    let key = as_tessera_user(&["server", "registration-key", "--data", DATA]);
    let key = key.trim();
    assert!(key.starts_with("TSR1-"), "{key}");
    assert!(
        std::fs::read_dir(DATA).unwrap().count() > 1,
        "the server's key is in its data folder"
    );
    // The files the server made belong to its user, who can read them again.
    assert_eq!(
        as_tessera_user(&["server", "registration-key", "--data", DATA]).trim(),
        key
    );

    sh("dpkg", &["-r", "tessera"]);
    assert!(
        !Path::new("/usr/bin/tessera").exists(),
        "the program stays after dpkg -r"
    );
    assert!(Path::new(DATA).is_dir(), "dpkg -r removed the data folder");
    assert!(
        std::fs::read_dir(DATA).unwrap().count() > 1,
        "dpkg -r emptied the data folder"
    );
}

#[test]
fn upgrading_the_debian_package_keeps_the_registration_key_and_the_activation() {
    let Some(machine) = Machine::take() else {
        return;
    };
    let (old, _) = make_packages(machine.dir.path(), "0.0.1", None);
    let (new, _) = make_packages(machine.dir.path(), "0.0.2", None);
    sh("dpkg", &["-i", old.to_str().unwrap()]);
    let key = as_tessera_user(&["server", "registration-key", "--data", DATA]);
    let key = key.trim().to_owned();

    // The vendor issues an activation key for it, and the server's user imports it.
    let vendor = Vendor::new();
    let public = machine.path("vendor.public");
    std::fs::copy(vendor.public_path(), &public).unwrap();
    let activation = machine.path("activation.key");
    std::fs::write(
        &activation,
        vendor.issue(&key, "autocad", 4, &["--pool-id", "office-autocad"]),
    )
    .unwrap();
    for file in [&public, &activation] {
        set_mode(file, 0o644);
    }
    let public = public.to_str().unwrap();
    as_tessera_user(&[
        "server",
        "activate",
        "--data",
        DATA,
        "--vendor-public-key",
        public,
        activation.to_str().unwrap(),
    ]);

    let upgraded = sh("dpkg", &["-i", new.to_str().unwrap()]);
    assert!(upgraded.contains("registration-key"), "{upgraded}");
    let version = sh("dpkg-query", &["-W", "-f=${Version}", "tessera"]);
    assert_eq!(version, "0.0.2-1", "the newer package is installed");
    assert_eq!(
        as_tessera_user(&["server", "registration-key", "--data", DATA]).trim(),
        key,
        "the upgrade changed the registration key"
    );
    assert_eq!(owner(DATA), "tessera:tessera 750");

    // The server the upgrade left still holds the activation: its pool is offered.
    let mut child = Command::new("runuser")
        .args([
            "-u",
            "tessera",
            "--",
            "/usr/bin/tessera",
            "server",
            "--data",
            DATA,
        ])
        .args(["--vendor-public-key", public, "--listen", "127.0.0.1:0"])
        .env("TESSERA_MACHINE_ID", MACHINE_ID)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = wait_for_listening(&mut child);
    let (status, server) = Api::new(&url).get("/api/v1/server", None);
    sigterm(&child);
    let _ = child.wait();
    assert_eq!(status, 200, "{server}");
    assert_eq!(server["registration_key"], key.as_str(), "{server}");
    let pools = server["products"].as_array().unwrap();
    assert!(
        pools
            .iter()
            .any(|p| p["product"] == "autocad" && p["seats"] == 4),
        "the activation is gone after the upgrade: {server}"
    );
}
