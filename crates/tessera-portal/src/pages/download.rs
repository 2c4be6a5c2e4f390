//! The pages a customer reads before buying for a LAN License Server, as seed 000 sends
//! them there: "More information on license servers can be found on the comparison page"
//! (License servers: LAN and Web side by side) and "download and install the LAN License
//! Server" (Download: the vendor's packages with their checksums and signatures, and the
//! install steps that end with the registration key the order asks for).

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Layout, page};
use crate::downloads::{self, Package, Platform, Signature};
use crate::error::{PortalError, PortalResult};
use crate::session::Visitor;
use crate::state::Portal;

#[derive(Template)]
#[template(path = "license_servers.html")]
struct LicenseServersPage {
    layout: Layout,
}

/// License servers: the comparison page.
pub async fn license_servers(
    State(state): State<Portal>,
    visitor: Visitor,
) -> PortalResult<Response> {
    let layout = Layout::build(&state, &visitor, "License servers", false).await?;
    page(StatusCode::OK, &LicenseServersPage { layout })
}

/// A package as the Download page shows it.
struct PackageView {
    name: String,
    /// An id for the page's elements.
    id: String,
    platform: String,
    version: String,
    size: String,
    bytes: u64,
    date: String,
    sha256: String,
    verified: bool,
    has_signature: bool,
    /// What is wrong with the signature, when it does not verify.
    problem: String,
    signed: String,
}

impl PackageView {
    fn from(p: &Package) -> Self {
        let (problem, signed) = match &p.signature {
            Signature::Verified { signed } => {
                (String::new(), signed.format("%Y-%m-%d").to_string())
            }
            Signature::Missing => (
                "This file has no signature from the vendor. Do not install it.".to_owned(),
                String::new(),
            ),
            Signature::Invalid(why) => (
                format!(
                    "This file does not match the vendor's signature ({why}). Do not install it."
                ),
                String::new(),
            ),
        };
        PackageView {
            id: p
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect(),
            name: p.name.clone(),
            platform: p.platform_text(),
            version: if p.version.is_empty() {
                "—".into()
            } else {
                p.version.clone()
            },
            size: downloads::size_text(p.size),
            bytes: p.size,
            date: p.modified.format("%Y-%m-%d").to_string(),
            sha256: p.sha256.clone(),
            verified: p.is_verified(),
            has_signature: !matches!(p.signature, Signature::Missing),
            problem,
            signed,
        }
    }
}

#[derive(Template)]
#[template(path = "download.html")]
struct DownloadPage {
    layout: Layout,
    packages: Vec<PackageView>,
    vendor_key: String,
    /// A Debian package to name in the install steps, or a placeholder.
    deb: String,
    /// An archive for other Linux systems to name in the install steps, or a placeholder.
    archive: String,
    /// The program alone, to name in the install steps, or a placeholder.
    program: String,
}

/// Download: the LAN License Server's packages and how to install them.
pub async fn download_page(
    State(state): State<Portal>,
    visitor: Visitor,
) -> PortalResult<Response> {
    let layout = Layout::build(&state, &visitor, "Download the LAN License Server", false).await?;
    let dir = state.config.downloads_path();
    let vendor = state.vendor.verifying_key().clone();
    let packages = tokio::task::spawn_blocking(move || downloads::list(&dir, &vendor))
        .await
        .map_err(PortalError::internal)?
        .map_err(|e| PortalError::internal(format!("reading the downloads folder: {e}")))?;
    let first = |platform: Platform, placeholder: &str| {
        packages
            .iter()
            .find(|p| p.platform == platform && p.is_verified())
            .map(|p| p.name.clone())
            .unwrap_or_else(|| placeholder.to_owned())
    };
    let deb = first(Platform::Debian, "tessera_VERSION_amd64.deb");
    let archive = first(
        Platform::LinuxArchive,
        "tessera-VERSION-linux-x86_64.tar.gz",
    );
    let program = first(Platform::LinuxProgram, "tessera-VERSION-linux-x86_64");
    page(
        StatusCode::OK,
        &DownloadPage {
            layout,
            packages: packages.iter().map(PackageView::from).collect(),
            vendor_key: state.vendor.verifying_key().to_paserk(),
            deb,
            archive,
            program,
        },
    )
}

/// A published file, or its `.sig`, as a download.
pub async fn download_file(
    State(state): State<Portal>,
    Path(name): Path<String>,
) -> PortalResult<Response> {
    let dir = state.config.downloads_path();
    let path = downloads::find(&dir, &name).ok_or(PortalError::NotFound)?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| PortalError::NotFound)?;
    let size = file
        .metadata()
        .await
        .map_err(|e| PortalError::internal(format!("{}: {e}", path.display())))?
        .len();
    let content_type = if name.ends_with(".sig") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    let stream = futures_util::stream::try_unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 16];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok::<_, std::io::Error>(None);
        }
        buf.truncate(n);
        Ok(Some((axum::body::Bytes::from(buf), file)))
    });
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", name.replace('"', "_")),
            ),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
