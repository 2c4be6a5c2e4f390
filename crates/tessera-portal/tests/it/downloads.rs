//! "More information on license servers can be found on the comparison page" and
//! "download and install the LAN License Server": the License servers page reached from
//! the subscription form and the home page, and the Download page, whose packages come
//! from the configured folder with a SHA-256 that matches the file served and a vendor
//! signature that verifies; a tampered file is shown as such and not offered.

use crate::support;

use axum::http::StatusCode;
use support::TestPortal;
use tessera_token::{FileDigest, PackageDigest, sign_package, verify_package};

fn digest(bytes: &[u8]) -> FileDigest {
    let mut d = PackageDigest::new();
    d.update(bytes);
    d.finish()
}

/// Publishes `name` with `bytes` in the portal's downloads folder, signed by its vendor key.
fn publish(t: &TestPortal, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = t.portal.config.downloads_path();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let sig = sign_package(&t.vendor, name, &digest(bytes), chrono::Utc::now()).unwrap();
    std::fs::write(dir.join(format!("{name}.sig")), format!("{sig}\n")).unwrap();
    path
}

/// The text of the first element after `marker` (up to the next `<`).
fn text_after<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {html}"));
    let rest = &html[at + marker.len()..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    &rest[..rest.find('<').unwrap()]
}

#[tokio::test]
async fn the_comparison_page_is_reached_from_the_subscription_form_and_the_home_page() {
    let t = TestPortal::sqlite().await;
    let mut b = t.browser();
    let form = b.get("/buy/autocad").await.ok();
    assert!(form.has("href=\"/license-servers\""), "{}", form.text);
    assert!(form.has("Use Web License Server"));
    assert!(form.has("href=\"/download\""), "{}", form.text);
    let home = b.get("/").await.ok();
    assert!(home.has("href=\"/license-servers\""), "{}", home.text);
    assert!(home.has("href=\"/download\""), "{}", home.text);

    let page = b.get("/license-servers").await;
    assert_eq!(page.status, StatusCode::OK);
    for words in [
        "LAN License Server",
        "Web License Server",
        "Where it runs",
        "Do users need the Internet?",
        "Tied to the office network?",
        "Borrowing for offline work",
        "Who administers it, and where",
        "When the machine or the connection is down",
        "Moving it to another machine",
        "Registration key",
        "href=\"/download\"",
    ] {
        assert!(page.has(words), "{words} is not on the comparison page");
    }
}

#[tokio::test]
async fn the_download_page_lists_a_signed_package_whose_checksum_matches_the_file_served() {
    let t = TestPortal::sqlite().await;
    let mut b = t.browser();
    let empty = b.get("/download").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(
        empty.has("No package has been published yet"),
        "{}",
        empty.text
    );

    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let name = "tessera_1.4.0-1_amd64.deb";
    publish(&t, name, &bytes);
    let page = b.get("/download").await;
    assert_eq!(page.status, StatusCode::OK);
    let row = format!("id=\"package-{}\"", name.replace(['.', '_'], "-"));
    assert!(page.has(&row), "{}", page.text);
    assert_eq!(
        text_after(&page.text, "class=\"platform\""),
        "Debian, Ubuntu (amd64): .deb package"
    );
    assert_eq!(text_after(&page.text, "class=\"version\""), "1.4.0-1");
    assert_eq!(text_after(&page.text, "class=\"size\""), "200.0 kB");
    assert_eq!(
        text_after(&page.text, "class=\"date\""),
        chrono::Utc::now().format("%Y-%m-%d").to_string()
    );
    let listed = text_after(&page.text, "class=\"sha256\"").to_owned();
    assert!(page.has("the signature matches this file"), "{}", page.text);
    assert!(page.has(&t.vendor.verifying_key().to_paserk()));
    // The install steps, ending with the registration key, and the seed's advice.
    assert!(
        page.has("sudo dpkg -i tessera_1.4.0-1_amd64.deb"),
        "{}",
        page.text
    );
    assert!(page.has("tessera server registration-key"));
    assert!(page.has("paste it into your order"));
    assert!(page.has(
        "It is recommended to install the license server immediately on the computer or server where it is intended to be used further."
    ));

    let file = b.get(&format!("/download/{name}")).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.content_type, "application/octet-stream");
    assert!(file.disposition.contains(name), "{}", file.disposition);
    assert_eq!(file.bytes, bytes);
    let served = digest(&file.bytes);
    assert_eq!(
        served.sha256, listed,
        "the listed SHA-256 is not the served file's"
    );
    let sig = b.get(&format!("/download/{name}.sig")).await;
    assert_eq!(sig.status, StatusCode::OK);
    verify_package(t.vendor.verifying_key(), &sig.text, name, &served)
        .expect("the served signature verifies the served file");
}

#[tokio::test]
async fn a_tampered_or_unsigned_package_is_flagged_and_not_offered() {
    let t = TestPortal::sqlite().await;
    let name = "tessera-1.4.0-linux-x86_64.tar.gz";
    let path = publish(&t, name, b"the archive as the vendor signed it");
    std::fs::write(&path, b"the archive as someone changed it!!").unwrap();
    std::fs::write(
        t.portal
            .config
            .downloads_path()
            .join("tessera_1.4.0-1_amd64.deb"),
        b"never signed",
    )
    .unwrap();
    let mut b = t.browser();
    let page = b.get("/download").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("does not match the vendor"), "{}", page.text);
    assert!(
        page.has("has no signature from the vendor"),
        "{}",
        page.text
    );
    assert!(
        !page.has(&format!("href=\"/download/{name}\"")),
        "{}",
        page.text
    );
    assert!(!page.has("href=\"/download/tessera_1.4.0-1_amd64.deb\""));
    assert!(!page.has("the signature matches this file"));
    // The served file fails the check a customer makes.
    let file = b.get(&format!("/download/{name}")).await;
    let sig = b.get(&format!("/download/{name}.sig")).await;
    assert!(
        verify_package(
            t.vendor.verifying_key(),
            &sig.text,
            name,
            &digest(&file.bytes)
        )
        .is_err()
    );
}

#[tokio::test]
async fn only_the_published_files_are_served() {
    let t = TestPortal::sqlite().await;
    publish(&t, "tessera_1.0.0-1_amd64.deb", b"deb");
    std::fs::write(t.portal.config.downloads_path().join(".hidden"), b"x").unwrap();
    let mut b = t.browser();
    for path in [
        "/download/nothing.deb",
        "/download/.hidden",
        "/download/..%2Fportal.toml",
        "/download/%2E%2E%2Fportal.toml",
        "/download/..",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.text);
    }
}

#[tokio::test]
async fn a_downloads_folder_that_is_named_but_missing_stops_the_portal_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tessera_portal::PortalConfig::load_or_create(dir.path()).unwrap();
    config.downloads_dir = dir.path().join("no-such-folder");
    let err = tessera_portal::open(config, tessera_token::SigningKey::generate())
        .await
        .err()
        .expect("a missing downloads folder is an error");
    assert!(err.to_string().contains("no-such-folder"), "{err}");
    assert!(err.to_string().contains("downloads"), "{err}");
}
