//! JSON answers.

use serde::Serialize;
use worker::Response;

/// `body` as JSON with `status`; a body that cannot be encoded is a plain 500.
pub fn answer<T: Serialize>(status: u16, body: &T) -> Response {
    match Response::from_json(body) {
        Ok(r) => r.with_status(status),
        Err(_) => Response::error("internal error", 500).expect("static response"),
    }
}

/// `GET /health` of either Worker.
pub fn health() -> Response {
    answer(200, &serde_json::json!({ "ok": true }))
}
