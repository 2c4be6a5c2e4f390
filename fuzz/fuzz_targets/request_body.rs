//! Request bodies of the v1 protocol as the server reads them: the JSON extractor the
//! handlers use (syntax, types, unknown fields, the content type), then the field checks
//! of tessera-core's `validate`. Whatever is sent, the answer is an error of the
//! protocol with a 4xx status, never a panic or a 5xx. The first byte chooses the call.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{Request, header};
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use tessera_core::protocol::{BorrowRequest, CheckoutRequest};
use tessera_core::validate;
use tessera_server::extract::ApiJson;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().unwrap())
}

fn request(body: &[u8], json: bool) -> Request<Body> {
    let mut r = Request::builder().method("POST").uri("/api/v1/leases");
    if json {
        r = r.header(header::CONTENT_TYPE, "application/json");
    }
    r.body(Body::from(body.to_vec())).unwrap()
}

fn assert_client_error(e: impl IntoResponse) {
    let status = e.into_response().status();
    assert!(status.is_client_error(), "a bad body answered {status}");
}

/// The checks every seat call makes on its names (as `api::checkout` and `api::borrow`).
fn seat_fields(product: &str, user: &str, host: &str, client_id: &str) {
    let checks = [
        validate::product(product),
        validate::name("user", user),
        validate::name("host", host),
        validate::name("client_id", client_id),
    ];
    for check in checks {
        if let Err(e) = check {
            assert!(!e.to_string().is_empty());
            assert_client_error(tessera_server::error::ApiError::from(e));
        } else {
            // What passes is bounded and printable, as storage expects.
            for v in [product, user, host, client_id] {
                let _ = v.chars().count();
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let json = mode & 0x80 == 0;
    runtime().block_on(async {
        match mode & 1 {
            0 => match ApiJson::<CheckoutRequest>::from_request(request(body, json), &()).await {
                Ok(ApiJson(req)) => {
                    assert!(json, "a body without the JSON content type was read");
                    seat_fields(&req.product, &req.user, &req.host, &req.client_id);
                    if let Some(v) = &req.version {
                        let _ = validate::bounded("version", v, 64);
                    }
                }
                Err(e) => assert_client_error(e),
            },
            _ => match ApiJson::<BorrowRequest>::from_request(request(body, json), &()).await {
                Ok(ApiJson(req)) => {
                    assert!(json, "a body without the JSON content type was read");
                    seat_fields(&req.product, &req.user, &req.host, &req.client_id);
                }
                Err(e) => assert_client_error(e),
            },
        }
    });
});
