//! How `tessera portal` finds the vendor's signing key: a path on the command line or in
//! the environment is relative to the folder the command runs in, a named key that is not
//! there stops the portal, and only `--new-vendor-key` makes one.

use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Vendor, tessera};

/// `tessera portal --data srv ARGS…` run in `dir`, without the environment's settings.
fn portal_in(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = tessera();
    cmd.current_dir(dir)
        .args(["portal", "--data", "srv", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("TESSERA_SMTP")
        .env_remove("TESSERA_PUBLIC_URL")
        .env_remove("TESSERA_VENDOR_SECRET_KEY");
    cmd
}

/// Starts the portal and reads its banner until it listens; the public key the banner's
/// "vendor key" line names. The portal is stopped again.
fn banner_public_key(mut cmd: Command) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut key = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some((_, rest)) = line.split_once("(public key ") {
            key = Some(rest.trim_end_matches(')').to_owned());
        }
        if line.starts_with("listening on ") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    key.expect("the banner names the vendor key")
}

/// A vendor's keys copied to `dir/keys/`, as `tessera vendor keygen --out keys/` makes them.
fn keys_in(dir: &Path) -> Vendor {
    let vendor = Vendor::new();
    std::fs::create_dir(dir.join("keys")).unwrap();
    std::fs::copy(vendor.secret_path(), dir.join("keys/vendor.secret")).unwrap();
    vendor
}

/// Runs a portal that must not start (it is stopped after 10 s if it does); what it
/// wrote to stderr.
fn refusal(mut cmd: Command) -> String {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the portal started");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

#[test]
fn a_relative_vendor_key_on_the_command_line_is_read_from_the_current_folder() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = keys_in(dir.path());

    let key = banner_public_key(portal_in(
        dir.path(),
        &["--vendor-secret-key", "keys/vendor.secret"],
    ));

    assert_eq!(key, vendor.public_key());
    assert!(!dir.path().join("srv/keys").exists(), "no key made in srv/");
}

#[test]
fn a_relative_vendor_key_in_the_environment_is_read_from_the_current_folder() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = keys_in(dir.path());
    let mut cmd = portal_in(dir.path(), &[]);
    cmd.env("TESSERA_VENDOR_SECRET_KEY", "keys/vendor.secret");

    assert_eq!(banner_public_key(cmd), vendor.public_key());
}

#[test]
fn a_named_vendor_key_that_is_not_there_stops_the_portal() {
    let dir = tempfile::tempdir().unwrap();

    let stderr = refusal(portal_in(
        dir.path(),
        &["--vendor-secret-key", "keys/vendor.secret"],
    ));

    let expected = dir.path().join("keys/vendor.secret");
    assert!(
        stderr.contains(&expected.display().to_string()),
        "names the path it looked at: {stderr}"
    );
    assert!(stderr.contains("--new-vendor-key"), "{stderr}");
    assert!(!expected.exists() && !dir.path().join("srv/keys").exists());
}

#[test]
fn a_portal_without_a_vendor_key_does_not_make_one_unless_asked() {
    let dir = tempfile::tempdir().unwrap();

    let stderr = refusal(portal_in(dir.path(), &[]));
    assert!(stderr.contains("vendor.secret"), "{stderr}");
    assert!(!dir.path().join("srv/vendor.secret").exists());

    let made = banner_public_key(portal_in(dir.path(), &["--new-vendor-key"]));
    let public = std::fs::read_to_string(dir.path().join("srv/vendor.public")).unwrap();
    assert_eq!(made, public.trim());
    // The next start, without the flag, reads the key the first one made.
    assert_eq!(banner_public_key(portal_in(dir.path(), &[])), made);
}
