//! A person's own licenses: their seats, the devices they are signed in on, and "Sign
//! out of all devices".

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{Notice, back, notice};
use crate::error::PortalResult;
use crate::pages::{Layout, page};
use crate::session::SignedIn;
use crate::state::Portal;

pub struct SeatView {
    pub product: String,
    pub team: String,
    pub period: String,
}

pub struct DeviceView {
    pub device: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "licenses.html")]
struct LicensesPage {
    layout: Layout,
    email: String,
    portal_url: String,
    seats: Vec<SeatView>,
    devices: Vec<DeviceView>,
}

/// `GET /account/licenses`: the person's own seats and the computer they are signed in on.
pub async fn licenses_page(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Query(n): Query<Notice>,
) -> PortalResult<Response> {
    let mut seats = Vec::new();
    for s in state.store.seats_of_user(&user.id).await? {
        let team = state.store.team(&s.team_id).await?;
        seats.push(SeatView {
            product: s.product_name,
            team: team.map(|t| t.name).unwrap_or_default(),
            period: format!("{} to {}", s.start_date, s.end_date),
        });
    }
    let devices = state
        .store
        .open_named_sessions(&user.id)
        .await?
        .into_iter()
        .map(|s| DeviceView {
            device: s.device,
            since: tessera_core::from_millis(s.created_at)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
        })
        .collect();
    let layout = Layout::build(&state, &visitor, "Your licenses", true)
        .await?
        .with_notice(notice(n));
    page(
        StatusCode::OK,
        &LicensesPage {
            layout,
            email: user.email.clone(),
            portal_url: state.config.base_url().to_string(),
            seats,
            devices,
        },
    )
}

/// `POST /account/licenses/sign-out-all`: "Sign out of all devices".
pub async fn sign_out_all(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
) -> PortalResult<Response> {
    let n = state
        .store
        .sign_out_all_devices(&user.id, state.now())
        .await?;
    Ok(back(
        "/account/licenses",
        &format!("Signed out of all devices ({n}). Sign in again on the computer you work at."),
    ))
}
