//! `tessera vendor …`: the vendor's key pair, offline issuing of activation keys, and
//! detached signatures of the packages the vendor publishes (sign, and verify for anyone
//! who downloaded one).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use tessera_core::{LicenseModel, PoolSpec, validate};
use tessera_token::{
    FileDigest, PackageDigest, RegistrationKey, SigningKey, issue_activation, sign_package,
    verify_package,
};

use crate::cli::{IssueArgs, SignArgs, VerifyArgs};
use crate::config::{key_text, vendor_key};

pub fn keygen(out: &Path, force: bool) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let secret_path = out.join("vendor.secret");
    let public_path = out.join("vendor.public");
    if !force && (secret_path.exists() || public_path.exists()) {
        bail!(
            "{} already holds vendor keys; pass --force to replace them",
            out.display()
        );
    }
    let key = SigningKey::generate();
    write_secret(&secret_path, &key.to_paserk())?;
    std::fs::write(
        &public_path,
        format!("{}\n", key.verifying_key().to_paserk()),
    )
    .with_context(|| format!("cannot write {}", public_path.display()))?;
    println!("wrote {} (keep it secret)", secret_path.display());
    println!("wrote {}", public_path.display());
    println!("vendor public key: {}", key.verifying_key().to_paserk());
    Ok(ExitCode::SUCCESS)
}

pub fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(f, "{text}")?;
    f.sync_all()?;
    Ok(())
}

/// Reads `YYYY-MM-DD` (the start of that day, UTC) or an RFC 3339 time.
fn parse_time(s: &str, end_of_day: bool) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    let day = if end_of_day {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

pub fn issue(args: IssueArgs) -> anyhow::Result<ExitCode> {
    let secret = key_text(&args.secret_key.to_string_lossy())?;
    let vendor = SigningKey::from_paserk(&secret)
        .context("the secret key file does not hold a k4.secret key")?;
    let registration = RegistrationKey::parse(&args.registration_key)
        .context("the registration key is not valid")?;
    validate::name("org", &args.org)?;
    for p in &args.product {
        validate::product(p).with_context(|| format!("product `{p}`"))?;
    }
    if args.seats == 0 {
        bail!("--seats must be at least 1");
    }
    let now = Utc::now();
    let start = match &args.start {
        Some(s) => parse_time(s, false)?,
        None => now,
    };
    let end = match (&args.end, args.days) {
        (Some(e), _) => parse_time(e, true)?,
        (None, Some(d)) if d > 0 => start + Duration::days(i64::from(d)),
        _ => bail!("--days must be at least 1"),
    };
    if end <= start {
        bail!("the license would end ({end}) before it starts ({start})");
    }
    let pool_id = args
        .pool_id
        .clone()
        .unwrap_or_else(|| format!("pool-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
    validate::name("pool id", &pool_id)?;
    let pool = PoolSpec {
        id: pool_id,
        products: args.product.clone(),
        model: LicenseModel::Floating,
        seats: args.seats,
        start,
        end,
        borrow_max_hours: args.borrow_hours,
    };
    let key = issue_activation(&vendor, &registration, &args.org, vec![pool], now)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, format!("{key}\n"))
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote the activation key to {}", path.display());
        }
        None => println!("{key}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The size and SHA-256 of a file, read in pieces.
pub fn file_digest(path: &Path) -> anyhow::Result<FileDigest> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut digest = PackageDigest::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            return Ok(digest.finish());
        }
        digest.update(&buf[..n]);
    }
}

/// The file's name as the signature names it.
fn file_name(path: &Path) -> anyhow::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .with_context(|| format!("`{}` does not name a file", path.display()))
}

/// `FILE.sig` beside FILE.
fn default_signature(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sig");
    name.into()
}

pub fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let secret = std::fs::read_to_string(&args.secret_key)
        .with_context(|| format!("cannot read {}", args.secret_key.display()))?;
    let vendor = SigningKey::from_paserk(&secret).with_context(|| {
        format!(
            "{} does not hold a k4.secret key",
            args.secret_key.display()
        )
    })?;
    let name = file_name(&args.file)?;
    let digest = file_digest(&args.file)?;
    let signature = sign_package(&vendor, &name, &digest, Utc::now())?;
    let out = args.out.unwrap_or_else(|| default_signature(&args.file));
    std::fs::write(&out, format!("{signature}\n"))
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {}", out.display());
    println!("  file     {name} ({} bytes)", digest.size);
    println!("  SHA-256  {}", digest.sha256);
    println!("  key      {}", vendor.verifying_key().to_paserk());
    Ok(ExitCode::SUCCESS)
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let vendor = vendor_key(&args.vendor, None)?;
    let sig_path = args
        .signature
        .clone()
        .unwrap_or_else(|| default_signature(&args.file));
    let signature = std::fs::read_to_string(&sig_path)
        .with_context(|| format!("cannot read the signature {}", sig_path.display()))?;
    let name = file_name(&args.file)?;
    let digest = file_digest(&args.file)?;
    let claims = verify_package(&vendor, &signature, &name, &digest)
        .with_context(|| format!("{} does not verify", args.file.display()))?;
    println!(
        "{}: good signature by the vendor key {}",
        args.file.display(),
        vendor.to_paserk()
    );
    println!("  SHA-256  {}", digest.sha256);
    println!("  size     {} bytes", digest.size);
    println!("  signed   {}", claims.iat.to_rfc3339());
    Ok(ExitCode::SUCCESS)
}
