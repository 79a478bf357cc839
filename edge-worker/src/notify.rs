//! `POST /v1/wechatpay/notify`: WeChat Pay's notifications, verified on the raw bytes.

use pay_core::v3::model::{RefundNotice, Transaction};
use pay_core::v3::notification::event_type;
use pay_core::v3::{Notification, SignedHeaders};
use worker::{Request, Response};

use crate::error::ApiResult;
use crate::{http, keys, orders, App};

pub async fn receive(req: &mut Request, app: &App) -> ApiResult<Response> {
    http::require_json(req)?;
    let body = http::body_bytes(req).await?;
    let headers = SignedHeaders::from_lookup(|name| req.headers().get(name).ok().flatten())?;
    // Verified once (refreshing certificates on an unknown serial), then decrypted.
    keys::verify(app, &headers, &body).await?;
    let notification = Notification::decrypt_verified(&body, &app.config.api_v3_key)?;
    let envelope = &notification.envelope;
    match envelope.event_type.as_str() {
        event_type::TRANSACTION_SUCCESS => {
            orders::apply_transaction(app, &notification.resource::<Transaction>()?).await?
        }
        event_type::REFUND_SUCCESS | event_type::REFUND_ABNORMAL | event_type::REFUND_CLOSED => {
            orders::apply_refund_notice(app, &notification.resource::<RefundNotice>()?).await?
        }
        other => worker::console_log!("notification {} of type {other} acknowledged", envelope.id),
    }
    // Applying is idempotent by itself; the ids are kept as a record of what arrived.
    app.store
        .first_sight_of_notification(&envelope.id, &envelope.event_type, app.now)
        .await?;
    Ok(http::empty(204))
}
