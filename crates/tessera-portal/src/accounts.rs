//! Accounts: sign up (with an organization), e-mail confirmation, sign in with limits on
//! failed attempts, and password reset by an e-mailed link. No HTTP here: the pages
//! call these and show their errors.

use tessera_store::portal::{NewAccount, OneTimePurpose, Role, UserRecord};

use crate::error::{PortalError, PortalResult};
use crate::mail::OutgoingMail;
use crate::security::{MIN_PASSWORD_LEN, hash_password, random_token, token_hash, verify_password};
use crate::state::PortalState;

const CONFIRM_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
const RESET_TTL_MS: i64 = 3600 * 1000;

/// What the sign-up form sends.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SignUp {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub password_again: String,
    #[serde(default)]
    pub organization: String,
}

/// An e-mail address as typed, checked.
pub fn check_email(email: &str) -> PortalResult<String> {
    let email = email.trim();
    if email.is_empty() {
        return Err(PortalError::invalid("Enter your e-mail address."));
    }
    match email.parse::<lettre::Address>() {
        Ok(_) if email.len() <= 254 => Ok(email.to_owned()),
        _ => Err(PortalError::invalid(format!(
            "“{email}” is not an e-mail address."
        ))),
    }
}

fn check_new_password(password: &str, again: &str) -> PortalResult<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PortalError::invalid(format!(
            "Choose a password of at least {MIN_PASSWORD_LEN} characters."
        )));
    }
    if password.len() > 1024 {
        return Err(PortalError::invalid("That password is too long."));
    }
    if password != again {
        return Err(PortalError::invalid("The two passwords are not the same."));
    }
    Ok(())
}

/// A URL-friendly name: `Kowalski & Partners` → `kowalski-partners`.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() { "org".into() } else { out }
}

/// Makes an account and e-mails its confirmation link.
pub async fn sign_up(state: &PortalState, form: &SignUp) -> PortalResult<UserRecord> {
    let email = check_email(&form.email)?;
    let organization = form.organization.trim();
    if organization.is_empty() {
        return Err(PortalError::invalid(
            "Enter the name of your organization (or your own name).",
        ));
    }
    if organization.chars().count() > 200 {
        return Err(PortalError::invalid("The organization's name is too long."));
    }
    check_new_password(&form.password, &form.password_again)?;
    let hash = hash_password(&form.password)
        .await
        .map_err(PortalError::internal)?;
    let role = if state.is_staff_email(&email) {
        Role::Staff
    } else {
        Role::Customer
    };
    let created = state
        .store
        .create_account(
            &NewAccount {
                email: &email,
                password_hash: &hash,
                role,
                organization_name: organization,
                slug: &slugify(organization),
                confirmed_at: None,
            },
            state.now(),
        )
        .await?;
    let Some((user, _)) = created else {
        return Err(PortalError::conflict(
            "An account with this e-mail already exists. Sign in, or reset its password.",
        ));
    };
    send_confirmation(state, &user).await?;
    Ok(user)
}

/// Makes an account that is already confirmed (the demo's sign-ins), or returns the
/// existing one with this e-mail, its password set to `password`.
pub async fn ensure_account(
    state: &PortalState,
    email: &str,
    password: &str,
    organization: &str,
    role: Role,
) -> PortalResult<UserRecord> {
    let hash = hash_password(password)
        .await
        .map_err(PortalError::internal)?;
    if let Some(user) = state.store.user_by_email(email).await? {
        state.store.set_password_hash(&user.id, &hash).await?;
        state.store.set_role(&user.id, role).await?;
        state.store.confirm_user(&user.id, state.now()).await?;
        return Ok(state.store.user(&user.id).await?.unwrap_or(user));
    }
    let created = state
        .store
        .create_account(
            &NewAccount {
                email,
                password_hash: &hash,
                role,
                organization_name: organization,
                slug: &slugify(organization),
                confirmed_at: Some(state.now()),
            },
            state.now(),
        )
        .await?;
    created
        .map(|(u, _)| u)
        .ok_or_else(|| PortalError::internal(format!("account {email} vanished")))
}

/// E-mails a new confirmation link.
pub async fn send_confirmation(state: &PortalState, user: &UserRecord) -> PortalResult<()> {
    let token = random_token();
    let now = state.now();
    state
        .store
        .create_one_time_token(
            &token_hash(&token),
            OneTimePurpose::Confirm,
            &user.id,
            now,
            now + CONFIRM_TTL_MS,
        )
        .await?;
    let link = state.url(&format!("/confirm?token={token}"));
    state
        .mailer
        .send(OutgoingMail {
            to: vec![user.email.clone()],
            subject: "Confirm your e-mail address".into(),
            text: format!(
                "Welcome to the {vendor} portal.\n\n\
                 Confirm your e-mail address by opening this link:\n\n{link}\n\n\
                 The link works for 7 days. If you did not create an account, ignore this message.\n",
                vendor = state.config.vendor.name
            ),
            attachments: Vec::new(),
        })
        .await?;
    Ok(())
}

/// Confirms the e-mail address of the link's account.
pub async fn confirm(state: &PortalState, token: &str) -> PortalResult<UserRecord> {
    let user_id = state
        .store
        .take_one_time_token(&token_hash(token.trim()), OneTimePurpose::Confirm, state.now())
        .await?
        .ok_or_else(|| PortalError::User {
            status: axum::http::StatusCode::GONE,
            message: "This confirmation link has expired or was already used. Sign in to have a new one sent."
                .into(),
        })?;
    state.store.confirm_user(&user_id, state.now()).await?;
    state
        .store
        .user(&user_id)
        .await?
        .ok_or(PortalError::NotFound)
}

/// Sends a new confirmation link to an unconfirmed account (silently nothing otherwise).
pub async fn resend_confirmation(state: &PortalState, email: &str) -> PortalResult<()> {
    if let Some(user) = state.store.user_by_email(email).await?
        && user.confirmed_at.is_none()
    {
        send_confirmation(state, &user).await?;
    }
    Ok(())
}

fn account_subject(email: &str) -> String {
    format!("account:{}", email.trim().to_lowercase())
}

/// Checks an e-mail and password. Failures are counted per account and per address,
/// in the database (so across nodes); past the limits the answer is 429 until the
/// window has passed, whatever the password.
pub async fn sign_in(
    state: &PortalState,
    email: &str,
    password: &str,
    ip: &str,
) -> PortalResult<UserRecord> {
    let limits = &state.config.sign_in;
    let now = state.now();
    let since = now - limits.window_minutes * 60 * 1000;
    let account = account_subject(email);
    let address = format!("ip:{ip}");
    if state.store.login_failures_since(&account, since).await? >= limits.per_account
        || state.store.login_failures_since(&address, since).await? >= limits.per_address
    {
        return Err(PortalError::TooMany(format!(
            "Too many failed sign-ins. Wait {} minutes and try again, or reset your password.",
            limits.window_minutes
        )));
    }
    let user = state.store.user_by_email(email).await?;
    if !verify_password(password, user.as_ref().map(|u| u.password_hash.as_str())).await {
        state
            .store
            .record_login_failure(&[&account, &address], now)
            .await?;
        return Err(PortalError::User {
            status: axum::http::StatusCode::UNAUTHORIZED,
            message: "The e-mail address or the password is not right.".into(),
        });
    }
    let mut user = user.ok_or_else(|| PortalError::internal("verified without a user"))?;
    if user.confirmed_at.is_none() {
        return Err(PortalError::User {
            status: axum::http::StatusCode::FORBIDDEN,
            message: format!(
                "Confirm your e-mail address first: open the link we sent to {}.",
                user.email
            ),
        });
    }
    state.store.clear_login_failures(&account).await?;
    if state.is_staff_email(&user.email) && user.role != Role::Staff {
        state.store.set_role(&user.id, Role::Staff).await?;
        user.role = Role::Staff;
    }
    Ok(user)
}

/// E-mails a password reset link when there is such an account; says nothing either way.
pub async fn request_reset(state: &PortalState, email: &str) -> PortalResult<()> {
    let email = check_email(email)?;
    let Some(user) = state.store.user_by_email(&email).await? else {
        return Ok(());
    };
    let token = random_token();
    let now = state.now();
    state
        .store
        .create_one_time_token(
            &token_hash(&token),
            OneTimePurpose::Reset,
            &user.id,
            now,
            now + RESET_TTL_MS,
        )
        .await?;
    let link = state.url(&format!("/password/reset?token={token}"));
    state
        .mailer
        .send(OutgoingMail {
            to: vec![user.email.clone()],
            subject: "Reset your password".into(),
            text: format!(
                "Someone (we hope you) asked to reset the password of your account.\n\n\
                 Choose a new password here:\n\n{link}\n\n\
                 The link works for one hour, once. If you did not ask, ignore this message: \
                 your password stays as it is.\n"
            ),
            attachments: Vec::new(),
        })
        .await?;
    Ok(())
}

/// Whether a reset link can still be used (to show its form or say it expired).
pub async fn reset_link_valid(state: &PortalState, token: &str) -> PortalResult<bool> {
    Ok(state
        .store
        .one_time_token_valid(
            &token_hash(token.trim()),
            OneTimePurpose::Reset,
            state.now(),
        )
        .await?)
}

/// Sets a new password with a reset link; every session of the account ends, and the
/// e-mail counts as confirmed (the link reached it).
pub async fn reset_password(
    state: &PortalState,
    token: &str,
    password: &str,
    again: &str,
) -> PortalResult<UserRecord> {
    check_new_password(password, again)?;
    let hash = hash_password(password)
        .await
        .map_err(PortalError::internal)?;
    let user_id = state
        .store
        .take_one_time_token(
            &token_hash(token.trim()),
            OneTimePurpose::Reset,
            state.now(),
        )
        .await?
        .ok_or_else(|| PortalError::User {
            status: axum::http::StatusCode::GONE,
            message: "This reset link has expired or was already used. Ask for a new one.".into(),
        })?;
    state.store.set_password_hash(&user_id, &hash).await?;
    state.store.delete_user_sessions(&user_id).await?;
    state.store.confirm_user(&user_id, state.now()).await?;
    let user = state
        .store
        .user(&user_id)
        .await?
        .ok_or(PortalError::NotFound)?;
    state
        .store
        .clear_login_failures(&account_subject(&user.email))
        .await?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_friendly() {
        assert_eq!(slugify("Kowalski & Partners"), "kowalski-partners");
        assert_eq!(slugify("  Żółć  Sp. z o.o. "), "sp-z-o-o");
        assert_eq!(slugify("!!!"), "org");
    }

    #[test]
    fn emails_are_checked() {
        assert!(check_email("a@b.example").is_ok());
        assert!(check_email("not an email").is_err());
        assert!(check_email("").is_err());
    }
}
