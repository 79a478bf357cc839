//! The widget API, authenticated by the session's client secret: what the payer's browser
//! may see and do. It can pay the amount the merchant set, and nothing else.
//!
//! A session is paid in one scene: the first pay call fixes it (WeChat Pay refuses the same
//! out_trade_no with another trade type). A payer who moves to another device gets a new
//! session from the merchant.

use pay_core::checkout::SessionStatus;
use pay_core::crypto::webcrypto::{random_hex, WebCryptoSigner};
use pay_core::requests::PayRequest;
use pay_core::v3::model::{H5Info, OrderAmount, Payer, PrepayRequest, SceneInfo, TradeState};
use pay_core::v3::pay_params;
use pay_core::UnixTime;
use serde_json::json;
use worker::{Request, Response, Url};

use crate::error::{ApiError, ApiResult};
use crate::store::SessionRow;
use crate::wechatpay::WechatPayClient;
use crate::widget_auth::authorized_session;
use crate::{http, orders, rate_limits, risk, App};

/// A `code_url` or `prepay_id` lives 2 hours at WeChat Pay; reuse ours while 10 minutes remain.
const PREPAY_REUSE_SECS: i64 = 2 * 3600 - 600;
/// An `h5_url` lives 5 minutes; past 4 a fresh one is asked for.
const H5_REUSE_SECS: i64 = 4 * 60;

/// Pay and check ask WeChat Pay something: rate-limited per client IP before the client secret
/// is looked at, and per session once it is.
async fn session_for_wechatpay_call(req: &Request, app: &App, id: &str) -> ApiResult<SessionRow> {
    let limits = app.config.limits;
    rate_limits::hit_by_ip(req, app, limits.pay_per_ip).await?;
    let row = authorized_session(req, app, id).await?;
    rate_limits::hit(app, limits.pay_per_session, &row.id).await?;
    Ok(row)
}

pub async fn retrieve(req: &Request, app: &App, id: &str) -> ApiResult<Response> {
    rate_limits::hit_by_ip(req, app, app.config.limits.read_per_ip).await?;
    let row = authorized_session(req, app, id).await?;
    Ok(http::json(200, &widget_view(&row, app)))
}

/// The payer says they paid, or WeChat's page or sheet closed: ask WeChat Pay now rather than
/// wait for the notification, then answer as `retrieve` does. A failed query is not the
/// payer's problem: the answer is then what the books say, and the cron asks again.
pub async fn check(req: &Request, app: &App, id: &str) -> ApiResult<Response> {
    let row = session_for_wechatpay_call(req, app, id).await?;
    if row.status()? == SessionStatus::Open {
        match orders::settle_by_query(app, &row).await {
            // The payer's card was refused: a failed attempt.
            Ok(Some(TradeState::Payerror)) => {
                risk::failed_attempt(app, &row.id, "PAYERROR").await?
            }
            Ok(_) => {}
            Err(e) => {
                worker::console_warn!("check of {} at WeChat Pay failed: {}", row.id, e.log_line())
            }
        }
    }
    let row = app
        .store
        .session_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("checkout session"))?;
    Ok(http::json(200, &widget_view(&row, app)))
}

pub async fn pay(req: &mut Request, app: &App, id: &str) -> ApiResult<Response> {
    let row = session_for_wechatpay_call(req, app, id).await?;
    let PayRequest { scene: asked } = http::json_body(req).await?;
    let scene = asked.as_str();
    match row.status()? {
        SessionStatus::Open if app.now.secs() >= row.expires_at => {
            return Err(ApiError::SessionExpired)
        }
        SessionStatus::Open => {}
        other => return Err(ApiError::SessionNotPayable(other)),
    }
    if let Some(fixed) = row.scene.as_deref().filter(|s| *s != scene) {
        return Err(ApiError::Refused {
            status: 409,
            code: "scene_locked",
            message: format!("this session is being paid in the {fixed} scene; ask the merchant for a new session"),
        });
    }
    risk::check_pay(app, &row, asked, &rate_limits::client(req, app)).await?;
    let reuse_secs = if scene == "h5" {
        H5_REUSE_SECS
    } else {
        PREPAY_REUSE_SECS
    };
    let prepay = match (&row.code_url, row.prepay_created_at) {
        (Some(prepay), Some(at)) if app.now.secs() - at < reuse_secs => prepay.clone(),
        _ => {
            let prepay = create_prepay(req, app, &row, scene).await?;
            if !app
                .store
                .record_prepay(&row.id, scene, &prepay, app.now)
                .await?
            {
                return Err(stopped_while_prepaying(app, &row).await);
            }
            prepay
        }
    };
    let answer = match scene {
        "jsapi" => {
            let signer = WebCryptoSigner::cached(&app.config.merchant_key).await?;
            let params =
                pay_params::jsapi(&*signer, &row.appid, &prepay, app.now, &random_hex(16)?).await?;
            json!({ "scene": "jsapi", "jsapi": params })
        }
        "h5" => json!({ "scene": "h5", "h5_url": prepay }),
        _ => {
            json!({ "scene": "native", "code_url": prepay, "sandbox_cashier_url": sandbox_cashier_url(app, &prepay)? })
        }
    };
    Ok(http::json(200, &answer))
}

/// The session stopped being open while WeChat Pay made its prepay (the merchant closed it, or
/// it was paid by another attempt): the new order is closed at WeChat Pay too, so the payer can
/// never pay a session closed here, and the payer is told the session's state.
async fn stopped_while_prepaying(app: &App, row: &SessionRow) -> ApiError {
    let closed = async {
        let now = app
            .store
            .session_by_id(&row.id)
            .await?
            .ok_or(ApiError::NotFound("checkout session"))?;
        let status = now.status()?;
        if status == SessionStatus::Closed {
            orders::close_at_wechatpay(app, &now.out_trade_no).await?;
        }
        Ok::<_, ApiError>(status)
    };
    match closed.await {
        Ok(status) => ApiError::SessionNotPayable(status),
        Err(e) => e,
    }
}

/// Asks WeChat Pay for the scene's prepay: a code_url, an h5_url or a prepay_id.
async fn create_prepay(
    req: &Request,
    app: &App,
    row: &SessionRow,
    scene: &str,
) -> ApiResult<String> {
    let mut request = PrepayRequest {
        appid: row.appid.clone(),
        mchid: row.mchid.clone(),
        description: row.description.clone(),
        out_trade_no: row.out_trade_no.clone(),
        time_expire: Some(UnixTime(row.expires_at).to_rfc3339_cst()),
        attach: None,
        notify_url: app.config.notify_url.clone(),
        amount: OrderAmount {
            total: row.amount(),
            currency: row.currency.clone(),
        },
        payer: None,
        scene_info: None,
    };
    let client = WechatPayClient::new(app);
    match scene {
        "jsapi" => {
            let openid = row.payer_openid.clone().ok_or_else(|| ApiError::Refused {
                status: 409,
                code: "payer_unknown",
                message: format!(
                    "the payer's openid is not known yet: open /v1/widget/sessions/{}/oauth first",
                    row.id
                ),
            })?;
            request.payer = Some(Payer { openid });
            Ok(client.jsapi_prepay(&request, app.now).await?.prepay_id)
        }
        "h5" => {
            // The payer's real address, as Cloudflare saw it; WeChat Pay checks it.
            let ip = req.headers().get("CF-Connecting-IP")?.ok_or_else(|| {
                ApiError::invalid(
                    "client_ip_unknown",
                    "no CF-Connecting-IP: the H5 scene needs the payer's IP",
                )
            })?;
            request.scene_info = Some(SceneInfo {
                payer_client_ip: ip,
                device_id: None,
                h5_info: Some(H5Info {
                    kind: "Wap".into(),
                    app_name: None,
                    app_url: None,
                }),
            });
            Ok(client.h5_prepay(&request, app.now).await?.h5_url)
        }
        _ => Ok(client.native_prepay(&request, app.now).await?.code_url),
    }
}

fn sandbox_cashier_url(app: &App, code_url: &str) -> ApiResult<Option<String>> {
    app.config
        .sandbox_cashier_url
        .as_ref()
        .map(|base| {
            Url::parse_with_params(base, &[("code_url", code_url)])
                .map(|u| u.to_string())
                .map_err(|e| ApiError::Config(format!("SANDBOX_CASHIER_URL: {e}")))
        })
        .transpose()
}

fn widget_view(row: &SessionRow, app: &App) -> serde_json::Value {
    json!({
        "id": row.id,
        "amount_fen": row.amount_fen,
        "amount_display": row.amount().display_cny(),
        "currency": row.currency,
        "description": row.description,
        "status": row.status,
        "scene": row.scene,
        "payer_known": row.payer_openid.is_some(),
        "expires_at": row.expires_at,
        "return_url": row.return_url,
        "server_time": app.now.secs(),
    })
}
