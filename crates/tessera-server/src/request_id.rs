//! One id per request, so that an admin can match a user's error to a log line: taken
//! from the client's `X-Request-Id` when it is a sane one (a proxy's), else made here;
//! every log line of the request carries it (a tracing span), the answer names it in
//! `X-Request-Id`, and an error answer in its body (`error.request_id`).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header that carries the id, both ways.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being answered, when inside one.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

fn sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The middleware: gives the request its id, its span, and the answer its header.
pub async fn middleware(request: Request, next: Next) -> Response {
    // Inside a request that has its id already (the portal around its web license
    // server): nothing to add.
    if current().is_some() {
        return next.run(request).await;
    }
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path()
    );
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span))
        .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::sane;

    #[test]
    fn only_short_plain_ids_are_taken_from_the_client() {
        assert!(sane("3f2c-aa_01.b"));
        assert!(!sane(""));
        assert!(!sane("a b"));
        assert!(!sane("x\ny"));
        assert!(!sane(&"a".repeat(65)));
    }
}
