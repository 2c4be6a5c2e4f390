//! The C ABI of the Tessera client library, for programs in C, C++ and .NET (P/Invoke).
//!
//! Every function returns a `TesseraStatus` (0 is success) and never lets a panic cross
//! the boundary. The code and message of the last failure on the calling thread are read
//! with `tessera_last_error_code` and `tessera_last_error_message`. A `TesseraLicense` is
//! thread-safe: it heartbeats on a background thread until `tessera_license_release`.
//!
//! Strings passed in are NUL-terminated UTF-8; a NULL server or vendor key means "from the
//! environment or the config file" (`TESSERA_SERVER`, `TESSERA_VENDOR_PUBLIC_KEY`,
//! `~/.config/tessera/client.toml`). A server may list the nodes of one license server
//! separated by commas (`http://a:27080,http://b:27080`): a call that gets no answer from
//! one node moves on to the next, keeping the license. Strings returned are owned by the library and must be
//! freed with `tessera_string_free`, except the last-error strings, which stay valid until
//! the next call on the same thread.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

mod named;

use tessera_client::{Client, ClientConfig, ClientError, License};

/// The outcome of a call. Stable values: new ones are only ever added.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TesseraStatus {
    /// Success.
    Ok = 0,
    /// Every seat of the product is in use.
    NoSeatAvailable = 1,
    /// The license server does not license this product.
    UnknownProduct = 2,
    /// The license has expired.
    LicenseExpired = 3,
    /// The office's policy refuses this user or computer.
    DeniedByPolicy = 4,
    /// The license server cannot be reached.
    Unreachable = 5,
    /// A token did not verify against the vendor's key.
    Untrusted = 6,
    /// No server or vendor key is configured, or a setting is wrong.
    Config = 7,
    /// An argument is NULL where it may not be, or not UTF-8.
    InvalidArgument = 8,
    /// The product cannot be borrowed (not allowed, or for that long).
    BorrowRefused = 9,
    /// The borrowed license has ended, or the clock was turned back.
    BorrowEnded = 10,
    /// A sign-in through the browser is not approved yet: poll again after its interval.
    Pending = 11,
    /// The person signed in on another computer; this one stops until they sign in here
    /// again.
    Superseded = 12,
    /// The person holds no seat of the product (any more).
    SeatUnassigned = 13,
    /// The organization's tokens are used up or expired.
    NoTokens = 14,
    /// A sign-in or credential is needed, or the one given is not valid (any more).
    SignInNeeded = 15,
    /// The person denied the sign-in in the browser, or its code ended.
    SignInRefused = 16,
    /// Any other failure; the message says what.
    Other = 99,
}

/// A license held by the program: heartbeats in the background until released.
pub struct TesseraLicense {
    license: License,
}

thread_local! {
    static LAST_ERROR: RefCell<(CString, CString)> = RefCell::new((CString::default(), CString::default()));
}

fn set_error(code: &str, message: &str) {
    let clean = |s: &str| CString::new(s.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = (clean(code), clean(message)));
}

fn status_of(e: &ClientError) -> TesseraStatus {
    status_of_code(e.code())
}

fn status_of_code(code: &str) -> TesseraStatus {
    match code {
        "no_seat_available" => TesseraStatus::NoSeatAvailable,
        "unknown_product" => TesseraStatus::UnknownProduct,
        "license_expired" => TesseraStatus::LicenseExpired,
        "denied_by_policy" => TesseraStatus::DeniedByPolicy,
        "unreachable" => TesseraStatus::Unreachable,
        "untrusted_token" => TesseraStatus::Untrusted,
        "config" => TesseraStatus::Config,
        "borrow_not_allowed" | "borrow_too_long" => TesseraStatus::BorrowRefused,
        "borrow_expired" | "clock_turned_back" => TesseraStatus::BorrowEnded,
        "authorization_pending" | "slow_down" => TesseraStatus::Pending,
        "superseded" => TesseraStatus::Superseded,
        "seat_unassigned" => TesseraStatus::SeatUnassigned,
        "tokens_exhausted" | "tokens_expired" => TesseraStatus::NoTokens,
        "authentication_required" | "invalid_credential" | "unauthorized" | "offline_too_long" => {
            TesseraStatus::SignInNeeded
        }
        "access_denied" | "expired_token" => TesseraStatus::SignInRefused,
        _ => TesseraStatus::Other,
    }
}

fn fail(e: ClientError) -> TesseraStatus {
    set_error(e.code(), &e.to_string());
    status_of(&e)
}

/// Runs `f`, turning a panic into `Other` instead of unwinding into C.
fn guard(f: impl FnOnce() -> TesseraStatus) -> TesseraStatus {
    set_error("", "");
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(status) => status,
        Err(_) => {
            set_error("internal", "the Tessera library failed unexpectedly");
            TesseraStatus::Other
        }
    }
}

/// Reads an optional C string; `Err` when it is not UTF-8.
///
/// # Safety
/// `s` is NULL or a valid NUL-terminated string.
unsafe fn opt_str<'a>(s: *const c_char, what: &str) -> Result<Option<&'a str>, TesseraStatus> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller passes a valid NUL-terminated string.
    unsafe { CStr::from_ptr(s) }
        .to_str()
        .map(Some)
        .map_err(|_| {
            set_error("invalid_argument", &format!("{what} is not UTF-8"));
            TesseraStatus::InvalidArgument
        })
}

unsafe fn req_str<'a>(s: *const c_char, what: &str) -> Result<&'a str, TesseraStatus> {
    // SAFETY: forwarded from the caller.
    match unsafe { opt_str(s, what) }? {
        Some(v) => Ok(v),
        None => {
            set_error("invalid_argument", &format!("{what} must not be NULL"));
            Err(TesseraStatus::InvalidArgument)
        }
    }
}

fn client(server: Option<&str>, vendor_key: Option<&str>) -> Result<Client, TesseraStatus> {
    let mut builder = ClientConfig::builder();
    if let Some(s) = server {
        builder = builder.server(s);
    }
    if let Some(k) = vendor_key {
        builder = builder.vendor_public_key(k);
    }
    builder.resolve().map(Client::new).map_err(fail)
}

macro_rules! try_status {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return status,
        }
    };
}

/// Takes a seat of `product` (or uses a valid borrowed license of it) and keeps it with
/// background heartbeats. `server` and `vendor_public_key` (a `k4.public…` key or a file
/// holding one) may be NULL to use the environment or the config file. The credential
/// (a site key from `TESSERA_SITE_KEY` or `site_key` in the config file, else the sign-in
/// of `tessera login`) is sent as the client library sends it; without one a web license
/// server answers `authentication_required`. On success
/// `*out` holds the license; release it with `tessera_license_release`.
///
/// # Safety
/// String arguments are NULL or valid NUL-terminated strings; `out` is a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_license_open(
    server: *const c_char,
    vendor_public_key: *const c_char,
    product: *const c_char,
    out: *mut *mut TesseraLicense,
) -> TesseraStatus {
    guard(|| {
        if out.is_null() {
            set_error("invalid_argument", "out must not be NULL");
            return TesseraStatus::InvalidArgument;
        }
        // SAFETY: the caller passes valid strings.
        let (server, key, product) = unsafe {
            (
                try_status!(opt_str(server, "server")),
                try_status!(opt_str(vendor_public_key, "vendor_public_key")),
                try_status!(req_str(product, "product")),
            )
        };
        let client = try_status!(client(server, key));
        match client.checkout(product) {
            Ok(license) => {
                let boxed = Box::new(TesseraLicense { license });
                // SAFETY: `out` is a valid pointer (checked non-NULL above).
                unsafe { *out = Box::into_raw(boxed) };
                TesseraStatus::Ok
            }
            Err(e) => fail(e),
        }
    })
}

/// 1 while the license is held (or reconnecting within its lease), 0 once it is lost.
///
/// # Safety
/// `license` is NULL or a pointer from `tessera_license_open` not yet released.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_license_is_valid(license: *const TesseraLicense) -> i32 {
    if license.is_null() {
        return 0;
    }
    // SAFETY: the caller passes a live license.
    let license = unsafe { &*license };
    catch_unwind(AssertUnwindSafe(|| i32::from(license.license.is_valid()))).unwrap_or(0)
}

/// 1 when the license came from a borrow (no server involved), else 0.
///
/// # Safety
/// As for `tessera_license_is_valid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_license_is_borrowed(license: *const TesseraLicense) -> i32 {
    if license.is_null() {
        return 0;
    }
    // SAFETY: the caller passes a live license.
    let license = unsafe { &*license };
    catch_unwind(AssertUnwindSafe(|| {
        i32::from(license.license.is_borrowed())
    }))
    .unwrap_or(0)
}

/// The lease id (or borrow id) of the license, to show or log; free it with
/// `tessera_string_free`. NULL for a NULL license.
///
/// # Safety
/// As for `tessera_license_is_valid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_license_id(license: *const TesseraLicense) -> *mut c_char {
    if license.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: the caller passes a live license.
    let license = unsafe { &*license };
    catch_unwind(AssertUnwindSafe(|| {
        CString::new(license.license.lease_id())
            .map(CString::into_raw)
            .unwrap_or(std::ptr::null_mut())
    }))
    .unwrap_or(std::ptr::null_mut())
}

/// Checks the license in (returns the seat) and frees it; NULL is ignored. A borrowed
/// license stays borrowed (return it with `tessera_borrow_return`).
///
/// # Safety
/// `license` is NULL or a pointer from `tessera_license_open`, released only once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_license_release(license: *mut TesseraLicense) -> TesseraStatus {
    if license.is_null() {
        return TesseraStatus::Ok;
    }
    // SAFETY: the pointer came from Box::into_raw in tessera_license_open.
    let boxed = unsafe { Box::from_raw(license) };
    guard(move || match boxed.license.check_in() {
        Ok(()) => TesseraStatus::Ok,
        Err(e) => fail(e),
    })
}

/// Borrows `product` for `hours` for offline use; the borrowed license is kept in the
/// user's cache and `tessera_license_open` uses it without the server until it ends.
///
/// # Safety
/// As for `tessera_license_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_borrow(
    server: *const c_char,
    vendor_public_key: *const c_char,
    product: *const c_char,
    hours: u32,
) -> TesseraStatus {
    guard(|| {
        // SAFETY: the caller passes valid strings.
        let (server, key, product) = unsafe {
            (
                try_status!(opt_str(server, "server")),
                try_status!(opt_str(vendor_public_key, "vendor_public_key")),
                try_status!(req_str(product, "product")),
            )
        };
        let client = try_status!(client(server, key));
        match client.borrow(product, hours) {
            Ok(_) => TesseraStatus::Ok,
            Err(e) => fail(e),
        }
    })
}

/// Returns a borrowed `product` to the server early.
///
/// # Safety
/// As for `tessera_license_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_borrow_return(
    server: *const c_char,
    vendor_public_key: *const c_char,
    product: *const c_char,
) -> TesseraStatus {
    guard(|| {
        // SAFETY: the caller passes valid strings.
        let (server, key, product) = unsafe {
            (
                try_status!(opt_str(server, "server")),
                try_status!(opt_str(vendor_public_key, "vendor_public_key")),
                try_status!(req_str(product, "product")),
            )
        };
        let client = try_status!(client(server, key));
        match client.return_borrow(product) {
            Ok(()) => TesseraStatus::Ok,
            Err(e) => fail(e),
        }
    })
}

/// The stable code of the last failure on this thread (e.g. `no_seat_available`), or ""
/// after a success. Valid until the next call on this thread; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn tessera_last_error_code() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().0.as_ptr())
}

/// A sentence for people about the last failure on this thread, or "" after a success.
/// Valid until the next call on this thread; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn tessera_last_error_message() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().1.as_ptr())
}

/// Frees a string returned by this library; NULL is ignored.
///
/// # Safety
/// `s` is NULL or a string from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the pointer came from CString::into_raw in this library.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// The library's version, e.g. "0.1.0". Static; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn tessera_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
