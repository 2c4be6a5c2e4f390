//! The web license server's administration panel at `/w/{org}/`, behind "Use Web
//! License Server": the on/off switch and the allow and deny lists, the site keys
//! (made, shown once, revoked), live use per pool, who holds each seat (program, the
//! sign-in or site key it was taken with, address, OS account) with a Remove button, the
//! policy (the same TOML as a LAN server's), and usage with the sizing advice and a CSV
//! export. Who may see and change it is decided in one place, [`administered_by`];
//! anyone else gets 404, on the page and on every form.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tessera_core::access::{check_list, parse_list};
use tessera_core::policy::Policy;
use tessera_server::PoolUsageView;
use tessera_server::audit::{self, Actor};
use tessera_server::extract::ClientAddress;
use tessera_store::AuditAction;
use tessera_store::portal::{OrganizationRecord, UserRecord};

use super::{Layout, page, see_other};
use crate::error::{PortalError, PortalResult};
use crate::session::{SignedIn, Visitor};
use crate::state::{Portal, PortalState};
use crate::web::administered_by;

#[derive(Template)]
#[template(path = "web_server.html")]
struct PanelPage {
    layout: Layout,
    slug: String,
    org_name: String,
    server_url: String,
    enabled: bool,
    pools: Vec<PoolView>,
    seats: Vec<SeatView>,
    policy: String,
    policy_error: Option<String>,
    allow_domains: String,
    allow_list: String,
    deny_list: String,
    access_error: Option<String>,
    usage: Vec<PoolUsageView>,
    keys: Vec<KeyView>,
    /// A key just made: its name and text, shown this once.
    new_key: Option<(String, String)>,
    key_error: Option<String>,
    key_name: String,
    /// The fingerprint of the live parts, for their event stream.
    version: String,
    live_script: &'static str,
}

struct KeyView {
    id: String,
    name: String,
    made: String,
    by: String,
    last_used: String,
    last_address: String,
    revoked: Option<String>,
}

struct PoolView {
    products: String,
    seats: u32,
    occupied: u32,
    borrowed: u32,
    available: u32,
    end: String,
}

struct SeatView {
    id: String,
    borrowed: bool,
    products: String,
    program: String,
    user: String,
    /// What the seat was taken with: a person's sign-in or a site key.
    taken_with: String,
    address: String,
    host: String,
    since: String,
    until: String,
}

fn time(ms: tessera_core::Millis) -> String {
    tessera_core::from_millis(ms)
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

/// The organization whose panel `user` asks for, or 404 (the panel of an organization
/// one may not administer does not exist for them).
async fn own_panel(
    state: &PortalState,
    user: &UserRecord,
    slug: &str,
) -> PortalResult<OrganizationRecord> {
    administered_by(&state.store, user, slug)
        .await?
        .ok_or(PortalError::NotFound)
}

/// What a form sent back, to show again beside its error.
#[derive(Default)]
struct Retry {
    status: Option<StatusCode>,
    policy: Option<(String, String)>,
    access: Option<(AccessForm, String)>,
    key: Option<(String, String)>,
    new_key: Option<(String, String)>,
}

async fn render(
    state: &PortalState,
    visitor: &Visitor,
    org: &OrganizationRecord,
    notice: Option<String>,
    retry: Retry,
) -> PortalResult<Response> {
    let realm = &org.slug;
    let now = state.now();
    // Taken before the figures: a change in between makes the stream say so at once.
    let version = tessera_server::live_events::fingerprint(&state.web, realm)
        .await?
        .to_string();
    let record = state.store.realm(realm).await?;
    let usage = state.store.pool_usage(realm, now).await?;
    let products_of = |pool_id: &str| {
        usage
            .iter()
            .find(|u| u.pool.id == pool_id)
            .map(|u| u.pool.products.join(" + "))
            .unwrap_or_else(|| pool_id.to_owned())
    };
    let site_keys = state.store.site_keys(realm).await?;
    let key_name = |id: &str| {
        site_keys
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.name.clone())
            .unwrap_or_else(|| id.to_owned())
    };
    let seats = state
        .store
        .live_leases(realm, now)
        .await?
        .into_iter()
        .map(|l| SeatView {
            borrowed: l.kind() == tessera_core::protocol::LeaseKind::Borrow,
            products: products_of(&l.pool_id),
            program: match &l.version {
                Some(v) => format!("{} {v}", l.product),
                None => l.product.clone(),
            },
            taken_with: match (&l.signed_in, &l.site_key_id) {
                (Some(email), _) => format!("signed in as {email}"),
                (None, Some(key)) => format!("site key “{}”", key_name(key)),
                (None, None) => "no credential (taken before credentials were asked)".to_owned(),
            },
            address: l.address.clone().unwrap_or_default(),
            since: time(l.created_at),
            until: time(l.expires_at),
            id: l.id,
            user: l.user_name,
            host: l.host,
        })
        .collect();
    let pools = usage
        .iter()
        .map(|u| PoolView {
            products: u.pool.products.join(" + "),
            seats: u.pool.seats,
            occupied: u.in_use + u.borrowed,
            borrowed: u.borrowed,
            available: u.available(),
            end: u.pool.end.format("%Y-%m-%d").to_string(),
        })
        .collect();
    let usage_views = tessera_server::usage_views(&state.store, realm, now).await?;
    let keys = site_keys
        .iter()
        .map(|k| KeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            made: time(k.created_at),
            by: k.created_by.clone(),
            last_used: k.last_used_at.map(time).unwrap_or_else(|| "never".into()),
            last_address: k.last_address.clone().unwrap_or_default(),
            revoked: k.revoked_at.map(time),
        })
        .collect();
    let (key_name, key_error) = match retry.key {
        Some((name, error)) => (name, Some(error)),
        None => (String::new(), None),
    };
    let (enabled, stored_policy, domains, allow, deny) = match record {
        Some(r) => (
            r.enabled,
            r.policy,
            r.allow_domains,
            r.allow_list,
            r.deny_list,
        ),
        None => Default::default(),
    };
    let (policy, policy_error) = match retry.policy {
        Some((text, error)) => (text, Some(error)),
        None => (stored_policy, None),
    };
    let (access, access_error) = match retry.access {
        Some((form, error)) => (form, Some(error)),
        None => (
            AccessForm {
                allow_domains: domains,
                allow_list: allow,
                deny_list: deny,
            },
            None,
        ),
    };
    let layout = Layout::build(state, visitor, "Web License Server", true)
        .await?
        .with_notice(notice);
    page(
        retry.status.unwrap_or(StatusCode::OK),
        &PanelPage {
            layout,
            slug: org.slug.clone(),
            org_name: org.name.clone(),
            server_url: state.url(&format!("/w/{}", org.slug)),
            enabled,
            pools,
            seats,
            policy,
            policy_error,
            allow_domains: access.allow_domains,
            allow_list: access.allow_list,
            deny_list: access.deny_list,
            access_error,
            usage: usage_views,
            keys,
            new_key: retry.new_key,
            key_error,
            key_name,
            version,
            live_script: tessera_server::live_events::LIVE_SCRIPT,
        },
    )
}

#[derive(Deserialize)]
pub struct EventsQuery {
    since: Option<u64>,
}

/// The panel's event stream: `change` when its live use or seats change (see
/// `tessera_server::live_events`); 404 like the panel for anyone who may not see it.
pub async fn events(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<EventsQuery>,
) -> PortalResult<Response> {
    use axum::response::IntoResponse;
    let org = own_panel(&state, &user, &slug).await?;
    Ok(tessera_server::live_events::events(state.web.clone(), org.slug, q.since).into_response())
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// Where "Use Web License Server" leads.
pub async fn panel(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path(slug): Path<String>,
    Query(q): Query<DoneQuery>,
) -> PortalResult<Response> {
    let org = own_panel(&state, &user, &slug).await?;
    let notice = match q.done.as_deref() {
        Some("removed") => Some(
            "The seat was removed and is free again; the program learns on its next heartbeat."
                .to_owned(),
        ),
        Some("policy") => {
            Some("The policy was saved and applies from the next checkout.".to_owned())
        }
        Some("on") => Some("The web license server is switched on.".to_owned()),
        Some("off") => {
            Some("The web license server is switched off: checkouts are refused.".to_owned())
        }
        Some("access") => Some("The allow and deny lists were saved.".to_owned()),
        Some("revoked") => Some(
            "The site key was revoked: its seats ended, and programs using it take no more."
                .to_owned(),
        ),
        _ => None,
    };
    render(&state, &visitor, &org, notice, Retry::default()).await
}

/// Remove: frees a seat of this organization (and of no other: the realm is the
/// organization's own).
pub async fn remove_seat(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    ClientAddress(address): ClientAddress,
    Path((slug, id)): Path<(String, String)>,
) -> PortalResult<Response> {
    let org = own_panel(&state, &user, &slug).await?;
    let by = Actor::new(&org.slug, &user.email, address);
    match tessera_server::api::remove_seat(&state.web, &org.slug, &id, &by).await {
        Ok(removed) => {
            tracing::info!(org = %org.slug, by = %user.email, lease = %removed.id, "seat removed from the panel");
            Ok(see_other(&format!("/w/{}/?done=removed#seats", org.slug)))
        }
        Err(e) if e.code == tessera_core::ErrorCode::LeaseNotFound => Err(PortalError::User {
            status: StatusCode::NOT_FOUND,
            message: "That seat is no longer in use: it was checked in, removed or expired. Go back and reload the panel.".into(),
        }),
        Err(e) => Err(PortalError::internal(e.message)),
    }
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    policy: String,
}

/// Saves the policy; a bad one is shown again with its line and reason, and the old one stays.
pub async fn save_policy(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    ClientAddress(address): ClientAddress,
    Path(slug): Path<String>,
    Form(form): Form<PolicyForm>,
) -> PortalResult<Response> {
    let org = own_panel(&state, &user, &slug).await?;
    let text = form.policy.replace("\r\n", "\n");
    if let Err(e) = Policy::parse(&text) {
        let retry = Retry {
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            policy: Some((
                text,
                format!("The policy was not saved: {e}. The policy in force is unchanged."),
            )),
            ..Retry::default()
        };
        return render(&state, &visitor, &org, None, retry).await;
    }
    let by = Actor::new(&org.slug, &user.email, address);
    tessera_server::api::replace_policy(&state.web, &org.slug, &text, &by)
        .await
        .map_err(|e| PortalError::internal(e.message))?;
    tracing::info!(org = %org.slug, by = %user.email, "web license server policy saved from the panel");
    Ok(see_other(&format!("/w/{}/?done=policy#policy", org.slug)))
}

#[derive(Deserialize)]
pub struct SwitchForm {
    enabled: String,
}

/// The on/off switch: off refuses every checkout and borrow (seats held run on).
pub async fn switch(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    Path(slug): Path<String>,
    Form(form): Form<SwitchForm>,
) -> PortalResult<Response> {
    let org = own_panel(&state, &user, &slug).await?;
    let on = match form.enabled.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(PortalError::invalid("The switch is either on or off.")),
    };
    if !state.store.set_realm_enabled(&org.slug, on).await? {
        return Err(PortalError::conflict(
            "This organization has no web license server yet: it comes with a Paid order.",
        ));
    }
    state.web.pools_changed();
    tracing::info!(org = %org.slug, by = %user.email, on, "web license server switched");
    Ok(see_other(&format!(
        "/w/{}/?done={}#switch",
        org.slug,
        if on { "on" } else { "off" }
    )))
}

#[derive(Deserialize, Default)]
pub struct AccessForm {
    #[serde(default)]
    allow_domains: String,
    #[serde(default)]
    allow_list: String,
    #[serde(default)]
    deny_list: String,
}

/// Saves the allowed e-mail domains and the allow and deny lists.
pub async fn save_access(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    Path(slug): Path<String>,
    Form(form): Form<AccessForm>,
) -> PortalResult<Response> {
    let org = own_panel(&state, &user, &slug).await?;
    let domains = parse_list(&form.allow_domains);
    let allow = parse_list(&form.allow_list);
    let deny = parse_list(&form.deny_list);
    let checked = check_list("Allowed e-mail domains", &domains, true)
        .and_then(|_| check_list("Allow list", &allow, false))
        .and_then(|_| check_list("Deny list", &deny, false));
    if let Err(e) = checked {
        let retry = Retry {
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            access: Some((form, format!("The lists were not saved: {e}."))),
            ..Retry::default()
        };
        return render(&state, &visitor, &org, None, retry).await;
    }
    let saved = state
        .store
        .set_realm_access(
            &org.slug,
            &domains.join("\n"),
            &allow.join("\n"),
            &deny.join("\n"),
        )
        .await?;
    if !saved {
        return Err(PortalError::conflict(
            "This organization has no web license server yet: it comes with a Paid order.",
        ));
    }
    state.web.pools_changed();
    tracing::info!(org = %org.slug, by = %user.email, "web license server lists saved");
    Ok(see_other(&format!("/w/{}/?done=access#access", org.slug)))
}

#[derive(Deserialize)]
pub struct SiteKeyForm {
    #[serde(default)]
    name: String,
}

/// Makes a site key and shows it this once (only its hash is kept).
pub async fn add_site_key(
    State(state): State<Portal>,
    SignedIn(user, visitor): SignedIn,
    ClientAddress(address): ClientAddress,
    Path(slug): Path<String>,
    Form(form): Form<SiteKeyForm>,
) -> PortalResult<Response> {
    let org = own_panel(&state, &user, &slug).await?;
    if state.store.realm(&org.slug).await?.is_none() {
        return Err(PortalError::conflict(
            "This organization has no web license server yet: it comes with a Paid order.",
        ));
    }
    let made = tessera_server::credential::add_site_key(
        &state.store,
        &org.slug,
        &form.name,
        &user.email,
        state.now(),
    )
    .await;
    let retry = match made {
        Ok((key, text)) => {
            tracing::info!(org = %org.slug, by = %user.email, key = %key.id, name = %key.name, "site key made");
            let by = Actor::new(&org.slug, &user.email, address);
            audit::record(
                &state.store,
                &by,
                AuditAction::SiteKeyMade,
                &key.name,
                &format!("site key {}", key.id),
                state.now(),
            )
            .await;
            Retry {
                new_key: Some((key.name, text)),
                ..Retry::default()
            }
        }
        Err(tessera_store::SiteKeyError::Store(e)) => return Err(e.into()),
        Err(e) => Retry {
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            key: Some((form.name, format!("The site key was not made: {e}."))),
            ..Retry::default()
        },
    };
    render(&state, &visitor, &org, None, retry).await
}

/// Revokes a site key: it takes no more seats, and the seats it holds end now.
pub async fn revoke_site_key(
    State(state): State<Portal>,
    SignedIn(user, _): SignedIn,
    ClientAddress(address): ClientAddress,
    Path((slug, id)): Path<(String, String)>,
) -> PortalResult<Response> {
    let org = own_panel(&state, &user, &slug).await?;
    let Some((key, ended)) = state
        .store
        .revoke_site_key(&org.slug, &id, state.now())
        .await?
    else {
        return Err(PortalError::User {
            status: StatusCode::NOT_FOUND,
            message:
                "That site key is not in use: it was revoked already. Go back and reload the panel."
                    .into(),
        });
    };
    tracing::info!(org = %org.slug, by = %user.email, key = %key.id, name = %key.name, seats = ended.len(), "site key revoked");
    let by = Actor::new(&org.slug, &user.email, address);
    audit::record(
        &state.store,
        &by,
        AuditAction::SiteKeyRevoked,
        &key.name,
        &format!("site key {}; {} seat(s) it held ended", key.id, ended.len()),
        state.now(),
    )
    .await;
    state.web.seat_freed();
    Ok(see_other(&format!("/w/{}/?done=revoked#keys", org.slug)))
}
