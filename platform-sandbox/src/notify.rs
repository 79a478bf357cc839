//! Notifications to the merchant's notify_url, encrypted and signed as the real ones are.

use pay_core::crypto::webcrypto::random_hex;
use pay_core::v3::notification::{event_type, Sealing};
use worker::{Fetch, Headers, Method, Request, RequestInit};

use crate::api::transaction_view;
use crate::config::Merchant;
use crate::error::{PlatformError, PlatformResult};
use crate::store::TransactionRow;
use crate::App;

/// Builds, stores and sends a TRANSACTION.SUCCESS notification for `row`.
pub async fn transaction_success(
    app: &App,
    merchant: &Merchant,
    row: &TransactionRow,
) -> PlatformResult<()> {
    let plaintext = serde_json::to_vec(&transaction_view(row)?)
        .map_err(|e| PlatformError::System(e.to_string()))?;
    let id = random_hex(16)?;
    let nonce = random_hex(6)?; // 12 ASCII characters, as AES-GCM nonces in notifications are
    let body = Sealing {
        id: &id,
        create_time: app.now,
        event_type: event_type::TRANSACTION_SUCCESS,
        summary: "支付成功",
        original_type: "transaction",
        associated_data: "transaction",
        nonce: &nonce,
    }
    .seal(&plaintext, &merchant.api_v3_key)?;
    let body = String::from_utf8(body).map_err(|e| PlatformError::System(e.to_string()))?;
    app.store
        .insert_notification(&id, row, event_type::TRANSACTION_SUCCESS, &body, app.now)
        .await?;
    deliver(app, &id, &row.notify_url, body.as_bytes())
        .await
        .map(|_| ())
}

/// One delivery attempt, freshly signed, logged whatever its outcome. Returns the merchant's
/// HTTP status, or `None` when the request failed.
pub async fn deliver(
    app: &App,
    id: &str,
    notify_url: &str,
    body: &[u8],
) -> PlatformResult<Option<u16>> {
    let signed = app.sign_as_platform(body).await?;
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    headers.set("User-Agent", "Mozilla/4.0 (wechatpay-sandbox)")?;
    for (name, value) in signed.pairs() {
        headers.set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(worker::js_sys::Uint8Array::from(body).into()));
    let outcome = Fetch::Request(Request::new_with_init(notify_url, &init)?)
        .send()
        .await;
    let (status, error) = match outcome {
        Ok(response) => (Some(response.status_code()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    app.store
        .record_attempt(id, app.now, status, error.as_deref())
        .await?;
    Ok(status)
}
