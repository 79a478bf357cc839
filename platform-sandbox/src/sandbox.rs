//! The simulator's own test endpoints (not part of WeChat Pay's API): the notification
//! delivery log, and redelivery of a stored notification (a replay, freshly signed).
//!
//! - `GET  /sandbox/notifications?out_trade_no=…` → `{"notifications": [{…, "attempts": […]}]}`
//! - `POST /sandbox/notifications/{id}/redeliver` → `{"http_status": 204}`

use serde_json::json;
use worker::{Method, Request, Response};

use crate::error::{PlatformError, PlatformResult};
use crate::{notify, App};

pub async fn handle(req: Request, app: &App, segments: &[&str]) -> Response {
    let result = match (req.method(), segments) {
        (Method::Get, ["sandbox", "notifications"]) => delivery_log(&req, app).await,
        (Method::Post, ["sandbox", "notifications", id, "redeliver"]) => redeliver(app, id).await,
        _ => Err(PlatformError::NoSuchPath),
    };
    let (status, body) = match result {
        Ok(body) => (200, body),
        Err(e) => (e.status(), e.body()),
    };
    Response::from_json(&body)
        .map(|r| r.with_status(status))
        .unwrap_or_else(|_| Response::error("internal", 500).expect("static"))
}

async fn delivery_log(req: &Request, app: &App) -> PlatformResult<serde_json::Value> {
    let url = req.url()?;
    let out_trade_no = url
        .query_pairs()
        .find(|(k, _)| k == "out_trade_no")
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| PlatformError::Param("out_trade_no is required".into()))?;
    let mut list = Vec::new();
    for n in app.store.notifications_for(&out_trade_no).await? {
        let attempts = app.store.attempts(&n.id).await?;
        list.push(json!({ "id": n.id, "event_type": n.event_type, "notify_url": n.notify_url, "body": n.body, "created_at": n.created_at, "attempts": attempts }));
    }
    Ok(json!({ "notifications": list }))
}

async fn redeliver(app: &App, id: &str) -> PlatformResult<serde_json::Value> {
    let n = app
        .store
        .notification(id)
        .await?
        .ok_or(PlatformError::OrderNotExist)?;
    let status = notify::deliver(app, &n.id, &n.notify_url, n.body.as_bytes()).await?;
    Ok(json!({ "http_status": status }))
}
