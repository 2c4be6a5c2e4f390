//! The OpenAPI document of the v1 protocol, generated from the handlers' annotations and
//! the wire types, served at `/api/v1/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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
                        "A lease or borrow call carries that lease's or borrow's own token; an admin call the admin token.",
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
    ),
    modifiers(&BearerAuth)
)]
pub struct ProtocolDoc;

/// The document as JSON.
pub fn document() -> String {
    ProtocolDoc::openapi().to_pretty_json().unwrap_or_default()
}
