//! Receiving WeChat Pay's notifications (`POST /v1/wechatpay/notify` for the default merchant,
//! `/v1/wechatpay/notify/{merchant id}` for a registry merchant: the request serves that one):
//! verified on the raw bytes with that merchant's keys, decrypted with its API v3 key, applied
//! by the use case its type names to its books (a resource naming another mchid is refused).

use pay_core::v3::model::{RefundNotice, Transaction};
use pay_core::v3::notification::event_type;
use pay_core::v3::{Notification, SignedHeaders};
use worker::{Request, Response};

use checkout_service::error::{ApiError, ApiResult};
use checkout_service::http::request;
use checkout_service::http::RequestContext;
use checkout_service::services::{payments, refunds};
use pay_core::merchant::MerchantId;

pub async fn receive(
    req: &mut Request,
    rc: &mut RequestContext,
    merchant: Option<&str>,
) -> ApiResult<Response> {
    if let Some(id) = merchant {
        // A registry merchant's path; the default merchant's has none.
        let known = match MerchantId::parse(id) {
            Some(id @ MerchantId::Registry(_)) => rc.serve_named(&id).await?,
            _ => false,
        };
        if !known {
            return Err(ApiError::NotFound("merchant"));
        }
    }
    let rc = &*rc;
    request::require_json(req)?;
    let body = request::body_bytes(req).await?;
    let headers = SignedHeaders::from_lookup(|name| req.headers().get(name).ok().flatten())?;
    let ctx = rc.services();
    // Verified once (refreshing certificates on an unknown serial), then decrypted.
    ctx.wechatpay.verify(&headers, &body).await?;
    let notification =
        Notification::decrypt_verified(&body, &rc.merchant.profile.account.api_v3_key)?;
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
