//! The C ABI of named-user licensing and tokens: sign in (through the browser, polled,
//! or with a password), sign out, hold a named-user license of a product (refreshed in
//! the background; `superseded` and `seat_unassigned` reported with stable statuses),
//! and report a use of a token-licensed product. The sign-in is kept in the cache folder
//! (`TESSERA_CACHE_DIR`, else `~/.cache/tessera`), as `tessera login` keeps it, so a
//! program and the CLI share it. Same rules as the rest of the ABI: a status from every
//! call, the last error per thread, no panic across the boundary, thread-safe handles.

use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use tessera_client::named::{BrowserSignIn, NamedClient, NamedLicense, NamedStatus, stored_login};
use tessera_client::{
    ClientConfig, ClientError, VerifyingKey, default_cache_dir_from_env, load_vendor_key,
};

use crate::{TesseraStatus, fail, guard, opt_str, req_str, set_error, status_of_code};

/// A sign-in through the browser, waiting for the person's approval.
pub struct TesseraBrowserSignIn {
    client: NamedClient,
    sign_in: std::sync::Mutex<BrowserSignIn>,
}

/// A named-user license held by the program: refreshed in the background until released.
pub struct TesseraNamedLicense {
    client: NamedClient,
    license: NamedLicense,
}

fn config_error(message: &str) -> TesseraStatus {
    fail(ClientError::Config(message.to_owned()))
}

fn cache_dir() -> Result<std::path::PathBuf, TesseraStatus> {
    default_cache_dir_from_env().ok_or_else(|| {
        config_error("no cache folder is known: set TESSERA_CACHE_DIR, XDG_CACHE_HOME or HOME")
    })
}

/// The vendor key given, else from the environment or the config file.
fn vendor_key(given: Option<&str>, portal: &str) -> Result<VerifyingKey, TesseraStatus> {
    if let Some(k) = given {
        return load_vendor_key(k, None).map_err(fail);
    }
    let config = ClientConfig::builder()
        .server(portal)
        .resolve()
        .map_err(fail)?;
    config.vendor_key().cloned().map_err(fail)
}

/// The client of the portal this computer's sign-in was made with.
fn signed_in_client(given_key: Option<&str>) -> Result<NamedClient, TesseraStatus> {
    let dir = cache_dir()?;
    let Some(login) = stored_login(&dir) else {
        return Err(config_error(
            "no one is signed in on this computer: sign in first (tessera_named_sign_in, \
             tessera_named_browser_start, or `tessera login`)",
        ));
    };
    let key = vendor_key(given_key, &login.portal)?;
    Ok(NamedClient::new(&login.portal, key, dir))
}

macro_rules! try_status {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return status,
        }
    };
}

/// The value behind a handle the caller passed, or `InvalidArgument` for NULL.
///
/// # Safety
/// `p` is NULL or a live handle made by this library.
unsafe fn live<'a, T>(p: *const T, what: &str) -> Result<&'a T, TesseraStatus> {
    if p.is_null() {
        set_error("invalid_argument", &format!("{what} must not be NULL"));
        return Err(TesseraStatus::InvalidArgument);
    }
    // SAFETY: non-NULL, and live by the caller's promise.
    Ok(unsafe { &*p })
}

fn owned_string(s: &str) -> *mut c_char {
    CString::new(s.replace('\0', " "))
        .map(CString::into_raw)
        .unwrap_or(std::ptr::null_mut())
}

/// Signs `email` in on this computer with their password, for `product` (NULL or "" for
/// any they hold a seat of). `portal` is the vendor's portal (https://portal.example);
/// `vendor_public_key` may be NULL to use the environment or the config file. Any other
/// computer they were signed in on stops at its next refresh.
///
/// # Safety
/// String arguments are NULL (where allowed) or valid NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_named_sign_in(
    portal: *const c_char,
    vendor_public_key: *const c_char,
    email: *const c_char,
    password: *const c_char,
    product: *const c_char,
) -> TesseraStatus {
    guard(|| {
        // SAFETY: the caller passes valid strings.
        let (portal, key, email, password, product) = unsafe {
            (
                try_status!(req_str(portal, "portal")),
                try_status!(opt_str(vendor_public_key, "vendor_public_key")),
                try_status!(req_str(email, "email")),
                try_status!(req_str(password, "password")),
                try_status!(opt_str(product, "product")),
            )
        };
        let key = try_status!(vendor_key(key, portal));
        let client = NamedClient::new(portal, key, try_status!(cache_dir()));
        match client.sign_in(email, password, product.unwrap_or_default()) {
            Ok(_) => TesseraStatus::Ok,
            Err(e) => fail(e),
        }
    })
}

/// Starts a sign-in through the browser for `product` (NULL or "" for any). Show the
/// person the code (`tessera_browser_sign_in_code`) and the address
/// (`tessera_browser_sign_in_url`, which has the code in it, to open in their browser),
/// then call `tessera_named_browser_poll` every `tessera_browser_sign_in_interval_ms`
/// until it answers something other than `TESSERA_STATUS_PENDING`. Free the handle with
/// `tessera_browser_sign_in_free`.
///
/// # Safety
/// String arguments are NULL (where allowed) or valid NUL-terminated strings; `out` is a
/// valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_named_browser_start(
    portal: *const c_char,
    vendor_public_key: *const c_char,
    product: *const c_char,
    out: *mut *mut TesseraBrowserSignIn,
) -> TesseraStatus {
    guard(|| {
        if out.is_null() {
            set_error("invalid_argument", "out must not be NULL");
            return TesseraStatus::InvalidArgument;
        }
        // SAFETY: the caller passes valid strings.
        let (portal, key, product) = unsafe {
            (
                try_status!(req_str(portal, "portal")),
                try_status!(opt_str(vendor_public_key, "vendor_public_key")),
                try_status!(opt_str(product, "product")),
            )
        };
        let key = try_status!(vendor_key(key, portal));
        let client = NamedClient::new(portal, key, try_status!(cache_dir()));
        match client.start_browser_sign_in(product.unwrap_or_default()) {
            Ok(sign_in) => {
                let boxed = Box::new(TesseraBrowserSignIn {
                    client,
                    sign_in: std::sync::Mutex::new(sign_in),
                });
                // SAFETY: `out` is a valid pointer (checked non-NULL above).
                unsafe { *out = Box::into_raw(boxed) };
                TesseraStatus::Ok
            }
            Err(e) => fail(e),
        }
    })
}

fn with_sign_in<T>(
    handle: *const TesseraBrowserSignIn,
    default: T,
    f: impl FnOnce(&TesseraBrowserSignIn) -> T,
) -> T {
    if handle.is_null() {
        return default;
    }
    // SAFETY: the caller passes a live handle from tessera_named_browser_start.
    let handle = unsafe { &*handle };
    catch_unwind(AssertUnwindSafe(|| f(handle))).unwrap_or(default)
}

/// The code the person enters in the browser (`BCDF-GHJK`); free it with
/// `tessera_string_free`. NULL for a NULL handle.
///
/// # Safety
/// `handle` is NULL or a live handle from `tessera_named_browser_start`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_browser_sign_in_code(
    handle: *const TesseraBrowserSignIn,
) -> *mut c_char {
    with_sign_in(handle, std::ptr::null_mut(), |h| {
        owned_string(h.sign_in.lock().expect("sign-in").user_code())
    })
}

/// The portal's address for the person, with the code filled in; free it with
/// `tessera_string_free`. NULL for a NULL handle.
///
/// # Safety
/// As for `tessera_browser_sign_in_code`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_browser_sign_in_url(
    handle: *const TesseraBrowserSignIn,
) -> *mut c_char {
    with_sign_in(handle, std::ptr::null_mut(), |h| {
        owned_string(
            h.sign_in
                .lock()
                .expect("sign-in")
                .verification_uri_complete(),
        )
    })
}

/// Milliseconds to wait between polls (it grows when the portal says `slow_down`).
///
/// # Safety
/// As for `tessera_browser_sign_in_code`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_browser_sign_in_interval_ms(
    handle: *const TesseraBrowserSignIn,
) -> u32 {
    with_sign_in(handle, 5000, |h| {
        let interval = h.sign_in.lock().expect("sign-in").interval;
        u32::try_from(interval.as_millis()).unwrap_or(u32::MAX)
    })
}

/// Asks once whether the person approved: `TESSERA_STATUS_OK` once signed in (the sign-in
/// is kept on this computer), `TESSERA_STATUS_PENDING` while they have not decided,
/// `TESSERA_STATUS_SIGN_IN_REFUSED` when they denied it or the code ended.
///
/// # Safety
/// As for `tessera_browser_sign_in_code`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_named_browser_poll(
    handle: *const TesseraBrowserSignIn,
) -> TesseraStatus {
    guard(|| {
        // SAFETY: the caller passes NULL or a live handle.
        let h = try_status!(unsafe { live(handle, "handle") });
        let mut sign_in = h.sign_in.lock().expect("sign-in");
        match h.client.poll_browser_sign_in(&mut sign_in) {
            Ok(Some(_)) => TesseraStatus::Ok,
            Ok(None) => {
                set_error(
                    "authorization_pending",
                    "waiting for the person to approve the sign-in in the browser",
                );
                TesseraStatus::Pending
            }
            Err(e) => fail(e),
        }
    })
}

/// Frees a browser sign-in handle; NULL is ignored.
///
/// # Safety
/// `handle` is NULL or a pointer from `tessera_named_browser_start`, freed only once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_browser_sign_in_free(handle: *mut TesseraBrowserSignIn) {
    if !handle.is_null() {
        // SAFETY: the pointer came from Box::into_raw in tessera_named_browser_start.
        drop(unsafe { Box::from_raw(handle) });
    }
}

/// Signs the person out of this computer (at the portal when it can be reached) and
/// forgets the sign-in. `vendor_public_key` may be NULL.
///
/// # Safety
/// `vendor_public_key` is NULL or a valid NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_named_sign_out(vendor_public_key: *const c_char) -> TesseraStatus {
    guard(|| {
        // SAFETY: the caller passes a valid string or NULL.
        let key = unsafe { try_status!(opt_str(vendor_public_key, "vendor_public_key")) };
        let dir = try_status!(cache_dir());
        if stored_login(&dir).is_none() {
            return TesseraStatus::Ok;
        }
        match try_status!(signed_in_client(key)).sign_out() {
            Ok(()) => TesseraStatus::Ok,
            Err(e) => fail(e),
        }
    })
}

/// Opens the named-user license of `product` for the person signed in on this computer:
/// checked with the portal now (or, when it cannot be reached, from the kept token for
/// the offline period) and refreshed in the background. Refused with
/// `TESSERA_STATUS_SUPERSEDED`, `TESSERA_STATUS_SEAT_UNASSIGNED` or
/// `TESSERA_STATUS_SIGN_IN_NEEDED`. Release it with `tessera_named_license_release`.
///
/// # Safety
/// String arguments are NULL (where allowed) or valid NUL-terminated strings; `out` is a
/// valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_named_open(
    vendor_public_key: *const c_char,
    product: *const c_char,
    out: *mut *mut TesseraNamedLicense,
) -> TesseraStatus {
    guard(|| {
        if out.is_null() {
            set_error("invalid_argument", "out must not be NULL");
            return TesseraStatus::InvalidArgument;
        }
        // SAFETY: the caller passes valid strings.
        let (key, product) = unsafe {
            (
                try_status!(opt_str(vendor_public_key, "vendor_public_key")),
                try_status!(req_str(product, "product")),
            )
        };
        let client = try_status!(signed_in_client(key));
        match client.license(product) {
            Ok(license) => {
                let boxed = Box::new(TesseraNamedLicense { client, license });
                // SAFETY: `out` is a valid pointer (checked non-NULL above).
                unsafe { *out = Box::into_raw(boxed) };
                TesseraStatus::Ok
            }
            Err(e) => fail(e),
        }
    })
}

fn status_of_named(status: &NamedStatus) -> TesseraStatus {
    match status {
        NamedStatus::Valid | NamedStatus::Offline { .. } => TesseraStatus::Ok,
        NamedStatus::Stopped { code, message } => {
            set_error(code, message);
            status_of_code(code)
        }
    }
}

/// Where the license stands: `TESSERA_STATUS_OK` while the program may run (online, or
/// offline within its period), else why it stopped (`TESSERA_STATUS_SUPERSEDED` after a
/// sign-in on another computer, `TESSERA_STATUS_SEAT_UNASSIGNED`, …) with the last error
/// saying so.
///
/// # Safety
/// `license` is a live pointer from `tessera_named_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_named_license_check(
    license: *const TesseraNamedLicense,
) -> TesseraStatus {
    guard(|| {
        // SAFETY: the caller passes NULL or a live license.
        let l = try_status!(unsafe { live(license, "license") });
        if !l.license.is_valid() && matches!(l.license.status(), NamedStatus::Offline { .. }) {
            set_error(
                "offline_too_long",
                "the offline period has ended; connect and sign in again",
            );
            return TesseraStatus::SignInNeeded;
        }
        status_of_named(&l.license.status())
    })
}

/// Checks with the portal now, as the background refresh does, and answers as
/// `tessera_named_license_check`.
///
/// # Safety
/// As for `tessera_named_license_check`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_named_license_refresh(
    license: *const TesseraNamedLicense,
) -> TesseraStatus {
    guard(|| {
        // SAFETY: the caller passes NULL or a live license.
        let l = try_status!(unsafe { live(license, "license") });
        status_of_named(&l.license.refresh_now(&l.client))
    })
}

/// Stops the background refresh and frees the license; NULL is ignored.
///
/// # Safety
/// `license` is NULL or a pointer from `tessera_named_open`, released only once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_named_license_release(license: *mut TesseraNamedLicense) {
    if !license.is_null() {
        // SAFETY: the pointer came from Box::into_raw in tessera_named_open.
        let boxed = unsafe { Box::from_raw(license) };
        let _ = catch_unwind(AssertUnwindSafe(move || drop(boxed)));
    }
}

/// Reports that the person signed in on this computer uses `product`, licensed by their
/// organization's tokens: the first use in 24 hours charges the product's daily rate.
/// `used_seconds` is how long the program ran (a use shorter than the portal's free
/// minutes is not charged), or a negative number when not known. On success
/// `*balance` (when not NULL) holds the tokens left. Refused with
/// `TESSERA_STATUS_NO_TOKENS` when the balance is below the rate or the tokens expired.
///
/// # Safety
/// String arguments are NULL (where allowed) or valid NUL-terminated strings; `balance`
/// is NULL or a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tessera_tokens_use(
    vendor_public_key: *const c_char,
    product: *const c_char,
    used_seconds: i64,
    balance: *mut i64,
) -> TesseraStatus {
    guard(|| {
        // SAFETY: the caller passes valid strings.
        let (key, product) = unsafe {
            (
                try_status!(opt_str(vendor_public_key, "vendor_public_key")),
                try_status!(req_str(product, "product")),
            )
        };
        let client = try_status!(signed_in_client(key));
        let used = u64::try_from(used_seconds).ok();
        match client.use_tokens(product, used) {
            Ok(grant) => {
                if !balance.is_null() {
                    // SAFETY: `balance` is a valid pointer (checked non-NULL).
                    unsafe { *balance = grant.balance };
                }
                TesseraStatus::Ok
            }
            Err(e) => fail(e),
        }
    })
}
