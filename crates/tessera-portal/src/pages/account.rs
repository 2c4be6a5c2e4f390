//! Account pages: create an account, confirm the e-mail, sign in and out, reset a
//! password, and the company details kept with "Add company info".

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_store::portal::CompanyInfo;

use super::{Layout, local_path, message, page, see_other};
use crate::accounts::{self, SignUp};
use crate::error::{PortalError, PortalResult};
use crate::session::{ClientIp, SignedIn, Visitor};
use crate::state::Portal;

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUpPage {
    layout: Layout,
    error: Option<String>,
    email: String,
    organization: String,
}

pub async fn signup_page(State(state): State<Portal>, visitor: Visitor) -> PortalResult<Response> {
    let layout = Layout::build(&state, &visitor, "Create an account", true).await?;
    page(
        StatusCode::OK,
        &SignUpPage {
            layout,
            error: None,
            email: String::new(),
            organization: String::new(),
        },
    )
}

pub async fn signup(
    State(state): State<Portal>,
    visitor: Visitor,
    Form(form): Form<SignUp>,
) -> PortalResult<Response> {
    match accounts::sign_up(&state, &form).await {
        Ok(user) => {
            message(
                &state,
                &visitor,
                StatusCode::OK,
                "Check your e-mail",
                &format!(
                    "We sent a confirmation link to {}. Open it to confirm your e-mail address, then sign in.",
                    user.email
                ),
                Some(("/signin", "Sign in")),
            )
            .await
        }
        Err(e) if e.is_user_error() => {
            let layout = Layout::build(&state, &visitor, "Create an account", true).await?;
            page(
                e.status(),
                &SignUpPage {
                    layout,
                    error: Some(e.message()),
                    email: form.email,
                    organization: form.organization,
                },
            )
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub async fn confirm(
    State(state): State<Portal>,
    visitor: Visitor,
    Query(q): Query<TokenQuery>,
) -> PortalResult<Response> {
    match accounts::confirm(&state, &q.token).await {
        Ok(user) => {
            message(
                &state,
                &visitor,
                StatusCode::OK,
                "E-mail confirmed",
                &format!(
                    "Thank you: {} is confirmed. You can sign in now.",
                    user.email
                ),
                Some(("/signin", "Sign in")),
            )
            .await
        }
        Err(e) if e.is_user_error() => {
            message(
                &state,
                &visitor,
                e.status(),
                "Link not valid",
                &e.message(),
                Some(("/signin", "Sign in")),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

pub async fn resend_confirmation(
    State(state): State<Portal>,
    visitor: Visitor,
    Form(form): Form<EmailForm>,
) -> PortalResult<Response> {
    accounts::resend_confirmation(&state, &form.email).await?;
    message(
        &state,
        &visitor,
        StatusCode::OK,
        "Check your e-mail",
        "If that account still needs confirming, a new confirmation link is on its way.",
        Some(("/signin", "Sign in")),
    )
    .await
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    layout: Layout,
    error: Option<String>,
    email: String,
    next: String,
    unconfirmed: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn signin_page(
    State(state): State<Portal>,
    visitor: Visitor,
    Query(q): Query<NextQuery>,
) -> PortalResult<Response> {
    let layout = Layout::build(&state, &visitor, "Sign in", true).await?;
    page(
        StatusCode::OK,
        &SignInPage {
            layout,
            error: None,
            email: String::new(),
            next: local_path(q.next.as_deref(), "/account/orders"),
            unconfirmed: false,
        },
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn signin(
    State(state): State<Portal>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    Form(form): Form<SignInForm>,
) -> PortalResult<Response> {
    let next = local_path(form.next.as_deref(), "/account/orders");
    match accounts::sign_in(&state, &form.email, &form.password, &ip).await {
        Ok(user) => {
            visitor.sign_in(&state, user).await?;
            Ok(see_other(&next))
        }
        Err(e) if e.is_user_error() => {
            let layout = Layout::build(&state, &visitor, "Sign in", true).await?;
            page(
                e.status(),
                &SignInPage {
                    layout,
                    unconfirmed: e.status() == StatusCode::FORBIDDEN,
                    error: Some(e.message()),
                    email: form.email,
                    next,
                },
            )
        }
        Err(e) => Err(e),
    }
}

pub async fn signout(State(state): State<Portal>, visitor: Visitor) -> PortalResult<Response> {
    visitor.sign_out(&state).await?;
    Ok(see_other("/"))
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    layout: Layout,
    error: Option<String>,
    email: String,
}

pub async fn forgot_page(State(state): State<Portal>, visitor: Visitor) -> PortalResult<Response> {
    let layout = Layout::build(&state, &visitor, "Reset your password", true).await?;
    page(
        StatusCode::OK,
        &ForgotPage {
            layout,
            error: None,
            email: String::new(),
        },
    )
}

pub async fn forgot(
    State(state): State<Portal>,
    visitor: Visitor,
    Form(form): Form<EmailForm>,
) -> PortalResult<Response> {
    match accounts::request_reset(&state, &form.email).await {
        Ok(()) => {
            message(
                &state,
                &visitor,
                StatusCode::OK,
                "Check your e-mail",
                "If there is an account with that e-mail address, a link to choose a new password is on its way. It works for one hour.",
                Some(("/signin", "Sign in")),
            )
            .await
        }
        Err(e) if e.is_user_error() => {
            let layout = Layout::build(&state, &visitor, "Reset your password", true).await?;
            page(
                e.status(),
                &ForgotPage {
                    layout,
                    error: Some(e.message()),
                    email: form.email,
                },
            )
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    layout: Layout,
    error: Option<String>,
    token: String,
}

pub async fn reset_page(
    State(state): State<Portal>,
    visitor: Visitor,
    Query(q): Query<TokenQuery>,
) -> PortalResult<Response> {
    if !accounts::reset_link_valid(&state, &q.token).await? {
        return message(
            &state,
            &visitor,
            StatusCode::GONE,
            "Link not valid",
            "This reset link has expired or was already used. Ask for a new one.",
            Some(("/password/forgot", "Reset your password")),
        )
        .await;
    }
    let layout = Layout::build(&state, &visitor, "Choose a new password", true).await?;
    page(
        StatusCode::OK,
        &ResetPage {
            layout,
            error: None,
            token: q.token,
        },
    )
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

pub async fn reset(
    State(state): State<Portal>,
    visitor: Visitor,
    Form(form): Form<ResetForm>,
) -> PortalResult<Response> {
    match accounts::reset_password(&state, &form.token, &form.password, &form.password_again).await
    {
        Ok(_) => {
            message(
                &state,
                &visitor,
                StatusCode::OK,
                "Password changed",
                "Your new password is set, and every other session of your account has ended. Sign in with the new password.",
                Some(("/signin", "Sign in")),
            )
            .await
        }
        Err(e) if e.status() == StatusCode::GONE => {
            message(
                &state,
                &visitor,
                e.status(),
                "Link not valid",
                &e.message(),
                Some(("/password/forgot", "Reset your password")),
            )
            .await
        }
        Err(e) if e.is_user_error() => {
            let layout = Layout::build(&state, &visitor, "Choose a new password", true).await?;
            page(
                e.status(),
                &ResetPage {
                    layout,
                    error: Some(e.message()),
                    token: form.token,
                },
            )
        }
        Err(e) => Err(e),
    }
}

/// The company details as the form shows them.
pub struct CompanyView {
    pub name: String,
    pub address: String,
    pub tax_id: String,
    pub billing_email: String,
}

impl CompanyView {
    pub fn of(c: &CompanyInfo) -> Self {
        CompanyView {
            name: c.name.clone(),
            address: c.address.join("\n"),
            tax_id: c.tax_id.clone(),
            billing_email: c.billing_email.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "company.html")]
struct CompanyPage {
    layout: Layout,
    error: Option<String>,
    company: CompanyView,
    next: String,
}

pub async fn company_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(q): Query<NextQuery>,
) -> PortalResult<Response> {
    let org = state
        .store
        .organization(&user.organization_id)
        .await?
        .ok_or(PortalError::NotFound)?;
    let layout = Layout::build(&state, &visitor, "Add company info", true).await?;
    let mut company = org.company();
    if company.billing_email.is_empty() {
        company.billing_email = user.email.clone();
    }
    page(
        StatusCode::OK,
        &CompanyPage {
            layout,
            error: None,
            company: CompanyView::of(&company),
            next: local_path(q.next.as_deref(), "/checkout"),
        },
    )
}

#[derive(Deserialize)]
pub struct CompanyForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub tax_id: String,
    #[serde(default)]
    pub billing_email: String,
    pub next: Option<String>,
}

/// Checks the "Add company info" form.
pub fn check_company(form: &CompanyForm) -> PortalResult<CompanyInfo> {
    let company = CompanyInfo {
        name: form.name.trim().to_owned(),
        address: form
            .address
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect(),
        tax_id: form.tax_id.trim().to_owned(),
        billing_email: form.billing_email.trim().to_owned(),
    };
    if let Some(problem) = crate::ordering::company_problem(&company) {
        return Err(PortalError::invalid(problem));
    }
    accounts::check_email(&company.billing_email)?;
    if company.name.chars().count() > 200
        || company.address.len() > 6
        || company.address.iter().any(|l| l.chars().count() > 200)
        || company.tax_id.chars().count() > 50
    {
        return Err(PortalError::invalid(
            "Some of the company's details are too long (at most 6 address lines of 200 characters).",
        ));
    }
    Ok(company)
}

pub async fn save_company(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Form(form): Form<CompanyForm>,
) -> PortalResult<Response> {
    let next = local_path(form.next.as_deref(), "/checkout");
    match check_company(&form) {
        Ok(company) => {
            state
                .store
                .save_company(&user.organization_id, &company)
                .await?;
            Ok(see_other(&next))
        }
        Err(e) if e.is_user_error() => {
            let layout = Layout::build(&state, &visitor, "Add company info", true).await?;
            page(
                e.status(),
                &CompanyPage {
                    layout,
                    error: Some(e.message()),
                    company: CompanyView {
                        name: form.name,
                        address: form.address,
                        tax_id: form.tax_id,
                        billing_email: form.billing_email,
                    },
                    next,
                },
            )
        }
        Err(e) => Err(e),
    }
}
