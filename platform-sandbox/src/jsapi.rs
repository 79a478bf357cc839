//! The in-WeChat payer side: `/jsapi/bridge.js` (WeixinJSBridge for test pages) and the two
//! calls it makes. Any origin may call these: in real life the bridge is inside WeChat itself.

use pay_core::crypto::webcrypto::WebCryptoVerifier;
use pay_core::v3::model::TradeState;
use pay_core::v3::pay_params::JsapiPayParams;
use pay_core::Fen;
use serde::Deserialize;
use serde_json::json;
use worker::{Method, Request, Response};

use crate::api::transaction_view;
use crate::cashier::{self, Approval};
use crate::error::{PlatformError, PlatformResult};
use crate::App;

const BRIDGE_JS: &str = include_str!("jsapi_bridge.js");

pub async fn handle(mut req: Request, app: &App, segments: &[&str]) -> Response {
    let response = match (req.method(), segments) {
        (Method::Get, ["jsapi", "bridge.js"]) => Response::ok(BRIDGE_JS).map(|mut r| {
            let _ = r
                .headers_mut()
                .set("Content-Type", "text/javascript; charset=utf-8");
            r
        }),
        (Method::Options, _) => Response::empty(),
        (Method::Post, ["jsapi", "pay-request"]) => answer(pay_request(&mut req, app).await),
        (Method::Post, ["jsapi", "confirm"]) => answer(confirm(&mut req, app).await),
        _ => Response::error("not found", 404),
    };
    let mut response =
        response.unwrap_or_else(|_| Response::error("internal", 500).expect("static"));
    let headers = response.headers_mut();
    let _ = headers.set("Access-Control-Allow-Origin", "*");
    let _ = headers.set("Access-Control-Allow-Headers", "Content-Type");
    let _ = headers.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    response
}

/// The bridge reads `{ok: true, …}` or `{ok: false, err_desc}`.
fn answer(result: PlatformResult<serde_json::Value>) -> worker::Result<Response> {
    match result {
        Ok(mut body) => {
            body["ok"] = json!(true);
            Response::from_json(&body)
        }
        Err(e) => Response::from_json(&json!({ "ok": false, "err_desc": e.message() })),
    }
}

/// Checks `getBrandWCPayRequest`'s parameters as the WeChat client does, and describes the
/// payment for the sheet.
async fn pay_request(req: &mut Request, app: &App) -> PlatformResult<serde_json::Value> {
    let params: JsapiPayParams = req
        .json()
        .await
        .map_err(|e| PlatformError::Param(format!("调用支付JSAPI缺少参数: {e}")))?;
    if !app.config.knows_app(&params.app_id) {
        return Err(PlatformError::Param("appId 无效".into()));
    }
    let token = params
        .package
        .strip_prefix("prepay_id=wx")
        .ok_or_else(|| PlatformError::Param("package must be prepay_id=<prepay_id>".into()))?;
    let row = cashier::transaction(app, token).await?;
    // The payer pays in the app whose openid the prepay named (a partner payment's sub_appid
    // for a sub_openid), under the key of the account that placed it (the provider's).
    if row.payer_app() != params.app_id || row.trade_type != "JSAPI" {
        return Err(PlatformError::Param(
            "this prepay_id was not made for this appId's JSAPI payments".into(),
        ));
    }
    let account = row.books().account();
    let merchant = app
        .config
        .merchant(account)
        .ok_or_else(|| PlatformError::System(format!("merchant {account} vanished")))?;
    params
        .verify(&merchant.public_key, &*WebCryptoVerifier::shared())
        .await
        .map_err(|e| PlatformError::Sign(format!("支付验证签名失败: {e}")))?;
    let state = transaction_view(&row, app.now)?.trade_state;
    if !matches!(state, TradeState::Notpay | TradeState::Payerror) {
        return Err(PlatformError::OrderState {
            code: "ORDER_STATE",
            message: format!("该订单不能支付 (trade_state {})", state.as_str()),
        });
    }
    Ok(json!({
        "token": token,
        "description": row.description,
        "amount_display": Fen::new(row.amount_fen).display_cny(),
        "cards": app.store.bank_cards().await?,
    }))
}

#[derive(Deserialize)]
struct Confirmation {
    token: String,
    card: String,
}

async fn confirm(req: &mut Request, app: &App) -> PlatformResult<serde_json::Value> {
    let c: Confirmation = req
        .json()
        .await
        .map_err(|e| PlatformError::Param(e.to_string()))?;
    let row = cashier::transaction(app, &c.token).await?;
    match cashier::pay_with_card(app, &row, &c.card).await? {
        Approval::Paid { transaction_id, .. } => Ok(json!({ "transaction_id": transaction_id })),
        Approval::InsufficientBalance => Err(PlatformError::OrderState {
            code: "NOTENOUGH",
            message: "余额不足".into(),
        }),
        Approval::NotPayable(state) => Err(PlatformError::OrderState {
            code: "ORDER_STATE",
            message: format!("订单状态 {}", state.as_str()),
        }),
    }
}
