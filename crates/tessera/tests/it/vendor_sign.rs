//! `tessera vendor sign` and `tessera vendor verify`: a detached signature by the vendor
//! key over a published file, which verifies for that file only.

use crate::common;

use common::*;

/// A file to publish, and the vendor who signs it.
fn signed_file() -> (Vendor, tempfile::TempDir, std::path::PathBuf) {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera_1.2.3-1_amd64.deb");
    std::fs::write(&file, b"a package's bytes, of any kind".repeat(1000)).unwrap();
    let secret = vendor.secret_path();
    let out = run_ok(&[
        "vendor",
        "sign",
        "--secret-key",
        secret.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(out.contains("SHA-256"), "{out}");
    (vendor, dir, file)
}

fn verify(vendor: &Vendor, file: &std::path::Path, signature: &str) -> (bool, String) {
    let public = vendor.public_path();
    let (out, stdout, stderr) = run(&[
        "vendor",
        "verify",
        file.to_str().unwrap(),
        signature,
        "--vendor-public-key",
        public.to_str().unwrap(),
    ]);
    (out.status.success(), format!("{stdout}{stderr}"))
}

#[test]
fn sign_writes_file_sig_and_verify_accepts_that_file() {
    let (vendor, _dir, file) = signed_file();
    let sig = format!("{}.sig", file.display());
    let text = std::fs::read_to_string(&sig).unwrap();
    assert!(text.starts_with("v4.public."), "{text}");
    let (ok, out) = verify(&vendor, &file, &sig);
    assert!(ok, "{out}");
    assert!(out.contains("good signature"), "{out}");
    // The signature's claims are those of this file.
    let digest = {
        let mut d = tessera_token::PackageDigest::new();
        d.update(&std::fs::read(&file).unwrap());
        d.finish()
    };
    assert!(out.contains(&digest.sha256), "{out}");
}

#[test]
fn a_tampered_file_another_file_or_another_key_fails_the_check() {
    let (vendor, dir, file) = signed_file();
    let sig = format!("{}.sig", file.display());

    let mut bytes = std::fs::read(&file).unwrap();
    bytes[100] ^= 0x20;
    let tampered = dir
        .path()
        .join("tampered")
        .join("tessera_1.2.3-1_amd64.deb");
    std::fs::create_dir_all(tampered.parent().unwrap()).unwrap();
    std::fs::write(&tampered, &bytes).unwrap();
    let (ok, out) = verify(&vendor, &tampered, &sig);
    assert!(!ok, "a tampered file verified: {out}");
    assert!(out.contains("damaged"), "{out}");

    let renamed = dir.path().join("tessera_9.9.9-1_amd64.deb");
    std::fs::copy(&file, &renamed).unwrap();
    let (ok, out) = verify(&vendor, &renamed, &sig);
    assert!(!ok, "another file's name verified: {out}");
    assert!(out.contains("tessera_1.2.3-1_amd64.deb"), "{out}");

    let stranger = Vendor::new();
    let (ok, out) = verify(&stranger, &file, &sig);
    assert!(!ok, "another vendor's key verified: {out}");
    assert!(out.contains("signature does not verify"), "{out}");
}

#[test]
fn missing_files_and_keys_are_errors_that_say_which() {
    let (vendor, dir, file) = signed_file();
    let missing = dir.path().join("nothing.deb");
    let (ok, out) = verify(&vendor, &missing, &format!("{}.sig", file.display()));
    assert!(!ok);
    assert!(out.contains("nothing.deb"), "{out}");
    let (ok, out) = verify(&vendor, &file, dir.path().join("no.sig").to_str().unwrap());
    assert!(!ok);
    assert!(out.contains("no.sig"), "{out}");
    let (res, _, stderr) = run(&[
        "vendor",
        "sign",
        "--secret-key",
        dir.path().join("no.secret").to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(!res.status.success());
    assert!(stderr.contains("no.secret"), "{stderr}");
}
