//! Receiving WeChat Pay's notifications (`POST /v1/wechatpay/notify`): verified on the raw
//! bytes, decrypted with the API v3 key, applied by the use case its type names.

use pay_core::v3::model::{RefundNotice, Transaction};
use pay_core::v3::notification::event_type;
use pay_core::v3::{Notification, SignedHeaders};
use worker::{Request, Response};

use checkout_service::error::ApiResult;
use checkout_service::http::request;
use checkout_service::http::RequestContext;
use checkout_service::services::{payments, refunds};

pub async fn receive(req: &mut Request, rc: &RequestContext) -> ApiResult<Response> {
    request::require_json(req)?;
    let body = request::body_bytes(req).await?;
    let headers = SignedHeaders::from_lookup(|name| req.headers().get(name).ok().flatten())?;
    let ctx = rc.services();
    // Verified once (refreshing certificates on an unknown serial), then decrypted.
    ctx.wechatpay.verify(&headers, &body).await?;
    let notification =
        Notification::decrypt_verified(&body, &rc.config.merchant.account.api_v3_key)?;
    let envelope = &notification.envelope;
    match envelope.event_type.as_str() {
        event_type::TRANSACTION_SUCCESS => {
            payments::apply_transaction(&ctx, &notification.resource::<Transaction>()?).await?
        }
        event_type::REFUND_SUCCESS | event_type::REFUND_ABNORMAL | event_type::REFUND_CLOSED => {
            refunds::apply_notice(&ctx, &notification.resource::<RefundNotice>()?).await?
        }
        other => worker::console_log!("notification {} of type {other} acknowledged", envelope.id),
    }
    // Applying is idempotent by itself; the ids are kept as a record of what arrived.
    rc.ledger
        .notifications()
        .record(&envelope.id, &envelope.event_type, rc.now)
        .await?;
    Ok(request::empty(204))
}
