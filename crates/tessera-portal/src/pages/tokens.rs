//! The back office's token packs (staff only): grant an organization a pack of tokens
//! with its last day, and see an organization's packs and what is left of them.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_store::portal::TokenPackRecord;

use super::{Layout, page, see_other};
use crate::error::PortalResult;
use crate::session::Staff;
use crate::state::Portal;

#[derive(Template)]
#[template(path = "staff_tokens.html")]
struct StaffTokensPage {
    layout: Layout,
    org: String,
    org_name: String,
    packs: Vec<TokenPackRecord>,
    balance: i64,
    default_expiry: String,
}

#[derive(Deserialize)]
pub struct TokensQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    granted: String,
}

/// `GET /staff/tokens?org=SLUG`.
pub async fn page_of_tokens(
    State(state): State<Portal>,
    Staff(_, visitor): Staff,
    Query(q): Query<TokensQuery>,
) -> PortalResult<Response> {
    let org = match q.org.trim() {
        "" => None,
        slug => state.store.organization_by_slug(slug).await?,
    };
    let today = state.today().format("%Y-%m-%d").to_string();
    let (packs, balance) = match &org {
        Some(o) => (
            state.store.token_packs(&o.id).await?,
            state.store.token_balance(&o.id, &today).await?,
        ),
        None => (Vec::new(), 0),
    };
    let notice = (!q.granted.is_empty()).then(|| format!("{} tokens granted.", q.granted));
    let layout = Layout::build(&state, &visitor, "Back office: token packs", true)
        .await?
        .with_notice(notice);
    page(
        StatusCode::OK,
        &StaffTokensPage {
            layout,
            org: q.org.trim().to_owned(),
            org_name: org.map(|o| o.name).unwrap_or_default(),
            packs,
            balance,
            default_expiry: (state.today() + chrono::Duration::days(365))
                .format("%Y-%m-%d")
                .to_string(),
        },
    )
}

#[derive(Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    organization: String,
    #[serde(default)]
    tokens: String,
    #[serde(default)]
    expires_on: String,
    #[serde(default)]
    note: String,
}

/// `POST /staff/tokens`: grants a pack.
pub async fn grant(
    State(state): State<Portal>,
    Staff(staff, _): Staff,
    Form(form): Form<GrantForm>,
) -> PortalResult<Response> {
    let (org, pack) = crate::tokens::grant_pack(
        &state,
        &staff.email,
        &form.organization,
        &form.tokens,
        &form.expires_on,
        &form.note,
    )
    .await?;
    tracing::info!(org = %org.slug, tokens = pack.tokens, by = %staff.email, "token pack granted");
    let query = serde_urlencoded::to_string([
        ("org", org.slug.as_str()),
        ("granted", &pack.tokens.to_string()),
    ])
    .unwrap_or_default();
    Ok(see_other(&format!("/staff/tokens?{query}")))
}
