//! The widget API, authenticated by the session's client secret: what the payer's browser
//! may see and do. It can pay the amount the merchant set, and nothing else.

use pay_core::checkout::SessionStatus;
use pay_core::v3::model::{OrderAmount, PrepayRequest};
use pay_core::UnixTime;
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response, Url};

use crate::error::{ApiError, ApiResult};
use crate::store::SessionRow;
use crate::wechatpay::WechatPayClient;
use crate::{http, sha256_hex, App};

/// A `code_url` lives 2 hours at WeChat Pay; reuse ours while it has at least 10 minutes left.
const PREPAY_REUSE_SECS: i64 = 2 * 3600 - 600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayRequest {
    scene: String,
}

async fn authorized_session(req: &Request, app: &App, id: &str) -> ApiResult<SessionRow> {
    let secret = http::bearer(req)?;
    let row = app.store.session_by_id(id).await?;
    // The same answer for an unknown session and a wrong secret: nothing to probe.
    match row {
        Some(row) if http::same_secret(&sha256_hex(secret.as_bytes()), &row.client_secret_hash) => {
            Ok(row)
        }
        _ => Err(ApiError::Unauthorized),
    }
}

pub async fn retrieve(req: &Request, app: &App, id: &str) -> ApiResult<Response> {
    let row = authorized_session(req, app, id).await?;
    Ok(http::json(200, &widget_view(&row, app)))
}

pub async fn pay(req: &mut Request, app: &App, id: &str) -> ApiResult<Response> {
    let row = authorized_session(req, app, id).await?;
    let PayRequest { scene } = http::json_body(req).await?;
    if scene != "native" {
        return Err(ApiError::invalid(
            "scene_unsupported",
            format!("scene {scene:?} is not available yet; use \"native\""),
        ));
    }
    match row.status()? {
        SessionStatus::Open if app.now.secs() >= row.expires_at => {
            return Err(ApiError::SessionExpired)
        }
        SessionStatus::Open => {}
        other => return Err(ApiError::SessionNotPayable(other)),
    }
    let code_url = match (&row.code_url, row.prepay_created_at) {
        (Some(code_url), Some(at)) if app.now.secs() - at < PREPAY_REUSE_SECS => code_url.clone(),
        _ => {
            let prepay = PrepayRequest {
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
            let code_url = WechatPayClient::new(&app.config)
                .native_prepay(&prepay, app.now)
                .await?
                .code_url;
            app.store
                .record_prepay(&row.id, "native", &code_url, app.now)
                .await?;
            code_url
        }
    };
    let cashier_url = match &app.config.sandbox_cashier_url {
        Some(base) => Some(
            Url::parse_with_params(base, &[("code_url", code_url.as_str())])
                .map_err(|e| ApiError::Config(format!("SANDBOX_CASHIER_URL: {e}")))?
                .to_string(),
        ),
        None => None,
    };
    Ok(http::json(
        200,
        &json!({ "scene": "native", "code_url": code_url, "sandbox_cashier_url": cashier_url }),
    ))
}

fn widget_view(row: &SessionRow, app: &App) -> serde_json::Value {
    json!({
        "id": row.id,
        "amount_fen": row.amount_fen,
        "amount_display": row.amount().display_cny(),
        "currency": row.currency,
        "description": row.description,
        "status": row.status,
        "expires_at": row.expires_at,
        "return_url": row.return_url,
        "server_time": app.now.secs(),
    })
}
