//! Merchant webhooks. Every order event is written to `webhook_outbox` by trigger in the same
//! transaction as the change, so nothing is lost if the Worker stops before delivering. This
//! delivers what is due: each event is leased for a minute (so two runs do not send it at the
//! same time), posted signed (`Wxc-Signature`, see pay-core's `webhook`), and either marked
//! delivered on a 2xx or rescheduled with doubling backoff. Delivery is at least once; events
//! carry a stable id (`evt_<seq>`) for receivers to deduplicate.

use pay_core::webhook;
use serde::Deserialize;
use serde_json::json;
use worker::{AbortSignal, Fetch, Headers, Method, Request, RequestInit};

use crate::error::ApiResult;
use crate::merchant::merchant_view;
use crate::App;

const ANSWER_TIMEOUT_MS: u32 = 5000;
const LEASE_SECS: i64 = 60;
const BATCH: u32 = 100;

#[derive(Debug, Deserialize)]
pub struct DueEvent {
    pub seq: i64,
    pub session_id: String,
    pub kind: String,
    pub detail: String,
    pub created_at: i64,
    pub attempts: i64,
}

/// The event type a merchant sees: `checkout.session.paid`, `refund.succeeded`, …
fn event_type(kind: &str) -> String {
    match kind.strip_prefix("refund_") {
        Some(rest) => format!("refund.{rest}"),
        None => format!("checkout.session.{kind}"),
    }
}

pub async fn deliver_due(app: &App) -> ApiResult<serde_json::Value> {
    let Some((url, secret)) = &app.config.webhook else {
        return Ok(json!({ "webhooks": "not configured" }));
    };
    let (mut delivered, mut failed) = (0, 0);
    for event in app.store.due_webhooks(app.now, BATCH).await? {
        if !app
            .store
            .lease_webhook(event.seq, app.now, LEASE_SECS)
            .await?
        {
            continue;
        }
        let Some(session) = app.store.session_by_id(&event.session_id).await? else {
            continue;
        };
        let body = json!({
            "id": format!("evt_{}", event.seq),
            "type": event_type(&event.kind),
            "created": event.created_at,
            "data": { "session": merchant_view(&session), "detail": serde_json::from_str::<serde_json::Value>(&event.detail).unwrap_or_default() },
        })
        .to_string();
        let (status, error) = post(url, secret, app, body.as_bytes()).await;
        if status.is_some_and(|s| (200..300).contains(&s)) {
            app.store
                .webhook_delivered(event.seq, app.now, status)
                .await?;
            delivered += 1;
        } else {
            let attempts = event.attempts + 1;
            let next = app.now.secs()
                + webhook::retry_delay_secs(attempts as u32, app.config.webhook_retry_base_secs);
            app.store
                .webhook_failed(event.seq, attempts, next, status, error.as_deref())
                .await?;
            failed += 1;
        }
    }
    Ok(json!({ "delivered": delivered, "failed": failed }))
}

async fn post(url: &str, secret: &str, app: &App, body: &[u8]) -> (Option<u16>, Option<String>) {
    let attempt = async {
        let headers = Headers::new();
        headers.set("Content-Type", "application/json")?;
        headers.set(
            webhook::SIGNATURE_HEADER,
            &webhook::sign(secret, app.now, body),
        )?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(worker::js_sys::Uint8Array::from(body).into()));
        let signal = AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(ANSWER_TIMEOUT_MS));
        Fetch::Request(Request::new_with_init(url, &init)?)
            .send_with_signal(&signal)
            .await
    };
    match attempt.await {
        Ok(response) => (Some(response.status_code()), None),
        Err(e) => (None, Some(e.to_string())),
    }
}
