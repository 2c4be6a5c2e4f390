//! The OpenAPI document of the v1 protocol, generated from the handlers' annotations and
//! the wire types, served at `/api/v1/openapi.json`.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::server::Server;
use utoipa::openapi::{ContentBuilder, Header, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::api;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A checkout or a borrow carries a credential: on the web license server a person's sign-in token (`tessera login`) or a site key (`tsk_…`), on a LAN server a site key when it requires one. A lease or borrow call carries that lease's or borrow's own token; an admin call the admin token.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera license server protocol",
        version = "1",
        description = "One HTTP/JSON protocol for the LAN license server (http://HOST:27080) and the web license server (https://PORTAL/w/ORG). Errors are {\"error\": {\"code\", \"message\"}} with stable codes."
    ),
    paths(
        api::server_info,
        api::checkout,
        api::heartbeat,
        api::checkin,
        api::borrow,
        api::borrow_status,
        api::return_borrow,
        api::admin_leases,
        api::admin_remove,
        api::admin_activate,
        api::admin_usage,
        api::admin_policy,
        api::admin_put_policy,
        crate::audit::admin_audit,
    ),
    modifiers(&BearerAuth, &RateLimited)
)]
pub struct ProtocolDoc;

/// Every call may be turned away by the rate limits (per client, and on the web license
/// server per organization).
struct RateLimited;

impl Modify for RateLimited {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let answer = ResponseBuilder::new()
            .description("Too many requests (`rate_limited`); `Retry-After` says when to try again")
            .header(
                "Retry-After",
                Header::new(ObjectBuilder::new().schema_type(Type::Integer)),
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in operations(item) {
                op.responses
                    .responses
                    .entry("429".into())
                    .or_insert_with(|| answer.clone().into());
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The LAN server's document as JSON.
pub fn document() -> String {
    ProtocolDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// The name of the portal's session cookie, which authorizes the web license server's
/// admin calls (the portal owns sessions; the name is part of its contract).
pub const PORTAL_SESSION_COOKIE: &str = "tessera_session";

/// The document of one organization's web license server: the same calls under
/// `/w/{org}`, without the import of activation keys (its pools come from paid orders),
/// and admin calls authorized by a signed-in portal session instead of an admin token.
pub fn web_document(org: &str) -> String {
    static BASE: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    let mut doc = BASE
        .get_or_init(|| {
            let mut doc = ProtocolDoc::openapi();
            doc.paths.paths.remove("/api/v1/admin/activations");
            let components = doc.components.get_or_insert_with(Default::default);
            components.add_security_scheme(
                "portal_session",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                    PORTAL_SESSION_COOKIE,
                    "A portal session of someone of the organization (or the vendor's staff).",
                ))),
            );
            for (path, item) in doc.paths.paths.iter_mut() {
                // A checkout or a borrow always carries a credential here; the pools are
                // shown to a credential or to the organization's admin.
                let seat_call = matches!(path.as_str(), "/api/v1/leases" | "/api/v1/borrows");
                if seat_call || path == "/api/v1/server" {
                    let mut security = vec![SecurityRequirement::new(
                        "bearer",
                        Vec::<String>::new(),
                    )];
                    if !seat_call {
                        security.push(SecurityRequirement::new(
                            "portal_session",
                            Vec::<String>::new(),
                        ));
                    }
                    for op in operations(item) {
                        op.security = Some(security.clone());
                    }
                }
                if !path.starts_with("/api/v1/admin/") {
                    continue;
                }
                for op in operations(item) {
                    op.security = Some(vec![SecurityRequirement::new(
                        "portal_session",
                        Vec::<String>::new(),
                    )]);
                    if let Some(r) = op.responses.responses.get_mut("401")
                        && let RefOr::T(r) = r
                    {
                        r.description = "Not signed in to the portal (`unauthorized`)".into();
                    }
                }
            }
            doc.info.description = Some(
                "The web license server of one organization: the protocol of the LAN license server under https://PORTAL/w/ORG, tokens signed by the vendor key, pools from paid orders. Errors are {\"error\": {\"code\", \"message\"}} with stable codes.".into(),
            );
            doc
        })
        .clone();
    doc.servers = Some(vec![Server::new(format!("/w/{org}"))]);
    doc.to_pretty_json().unwrap_or_default()
}
