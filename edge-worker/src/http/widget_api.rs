//! The widget API, authenticated by the session's client secret: what the payer's browser may
//! see and do. It can pay the amount the merchant set, and nothing else.
//!
//! A session is paid in one scene: the first pay call fixes it (WeChat Pay refuses the same
//! out_trade_no with another trade type). A payer who moves to another device gets a new
//! session from the merchant.

use pay_core::checkout::SessionStatus;
use pay_core::requests::PayRequest;
use pay_core::v3::model::TradeState;
use serde_json::json;
use worker::{Request, Response};
use worker_kit::url::Url;

use checkout_service::error::{ApiError, ApiResult, BadInput};
use checkout_service::http::request::{self, json};
use checkout_service::http::{auth, limits, RequestContext};
use checkout_service::ledger::CheckoutSession;
use checkout_service::objects::live;
use checkout_service::services::payments::{self, PayStart, PayerOrigin};
use checkout_service::services::risk;
use checkout_service::views::WidgetSessionView;

/// Pay and check ask WeChat Pay something: rate-limited per client IP before the client secret
/// is looked at, and per session once it is.
async fn session_for_wechatpay_call(
    req: &Request,
    rc: &mut RequestContext,
    id: &str,
) -> ApiResult<CheckoutSession> {
    let limits = rc.config.deployment.limits;
    limits::hit_by_ip(req, rc, limits.pay_per_ip).await?;
    let session = auth::client_secret(req, rc, id).await?;
    limits::hit(rc, limits.pay_per_session, &session.id).await?;
    Ok(session)
}

pub async fn retrieve(req: &Request, rc: &mut RequestContext, id: &str) -> ApiResult<Response> {
    limits::hit_by_ip(req, rc, rc.config.deployment.limits.read_per_ip).await?;
    let session = auth::client_secret(req, rc, id).await?;
    Ok(json(200, &WidgetSessionView::new(&session, rc.now)))
}

/// `GET /v1/widget/sessions/{id}/events`: a WebSocket on which the session's changes arrive
/// the moment the books hold them (checkout-service objects/live.rs), served by the session's
/// object. The client secret comes as the second subprotocol (after `wx-checkout.v1`) or as
/// Bearer; counted as a read, and refused from an origin the widget API does not grant.
pub async fn events(req: &Request, rc: &mut RequestContext, id: &str) -> ApiResult<Response> {
    limits::hit_by_ip(req, rc, rc.config.deployment.limits.read_per_ip).await?;
    let session = auth::client_secret_of_socket(req, rc, id, live::PROTOCOL).await?;
    let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(ApiError::UpgradeRequired);
    }
    if let Some(origin) = req.headers().get("Origin")? {
        if !super::cors::allowed(req, &rc.merchant.profile, &origin) {
            return Err(ApiError::invalid(
                BadInput::CrossOrigin,
                "the widget's socket is only opened from an allowed origin",
            ));
        }
    }
    rc.books.connect(&session.id, req).await
}

/// The payer says they paid, or WeChat's page or sheet closed: ask WeChat Pay now rather than
/// wait for the notification, then answer as `retrieve` does. A failed query is not the
/// payer's problem: the answer is then what the books say, and the cron asks again.
pub async fn check(req: &Request, rc: &mut RequestContext, id: &str) -> ApiResult<Response> {
    let session = session_for_wechatpay_call(req, rc, id).await?;
    let ctx = rc.services();
    if session.status == SessionStatus::Open {
        match payments::settle_by_query(&ctx, &session).await {
            // The payer's card was refused: a failed attempt.
            Ok(Some(TradeState::Payerror)) => {
                risk::failed_attempt(&ctx, &session.id, "PAYERROR").await?
            }
            Ok(_) => {}
            Err(e) => {
                worker::console_warn!(
                    "check of {} at WeChat Pay failed: {}",
                    session.id,
                    e.log_line()
                )
            }
        }
    }
    let session = ctx.session(id).await?;
    Ok(json(200, &WidgetSessionView::new(&session, rc.now)))
}

pub async fn pay(req: &mut Request, rc: &mut RequestContext, id: &str) -> ApiResult<Response> {
    let session = session_for_wechatpay_call(req, rc, id).await?;
    let PayRequest { scene } = request::json_body(req).await?;
    let payer = PayerOrigin {
        client: &limits::client(req, rc),
        ip: limits::connecting_ip(req),
    };
    let answer = match payments::start(&rc.services(), &session, scene, &payer).await? {
        PayStart::Jsapi(params) => json!({ "scene": "jsapi", "jsapi": params }),
        PayStart::H5 { h5_url } => json!({ "scene": "h5", "h5_url": h5_url }),
        PayStart::Native { code_url } => {
            let cashier = sandbox_cashier_url(rc, &code_url)?;
            json!({ "scene": "native", "code_url": code_url, "sandbox_cashier_url": cashier })
        }
    };
    Ok(json(200, &answer))
}

/// In sandbox mode, the simulator's cashier page for a code_url: where the demo's "pay" goes.
fn sandbox_cashier_url(rc: &RequestContext, code_url: &str) -> ApiResult<Option<String>> {
    rc.config
        .deployment
        .sandbox_cashier_url
        .as_ref()
        .map(|base| {
            let url = Url::parse(base)
                .map_err(|e| ApiError::Config(format!("SANDBOX_CASHIER_URL: {e}")))?;
            url.append_query(&[("code_url", code_url)]);
            Ok(url.as_string())
        })
        .transpose()
}
