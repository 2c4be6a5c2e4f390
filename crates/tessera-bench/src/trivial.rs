//! The ceiling: the least an HTTP server on this stack can do per request. Axum on a
//! multi-threaded Tokio runtime, like `tessera server`, answering every request with a
//! small JSON after reading its body; run as its own process so it is measured the same
//! way as the real server.

use axum::Json;
use axum::body::Bytes;

async fn answer(body: Bytes) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true, "read": body.len() }))
}

pub fn serve(listen: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        println!("listening on http://{addr}");
        let app = axum::Router::new().fallback(answer);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
