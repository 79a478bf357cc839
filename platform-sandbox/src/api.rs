//! The merchant-facing API v3. Every request's Authorization is verified against the
//! merchant's registered key; every answer, errors included, is signed with `Wechatpay-*`
//! headers under the simulator's WeChat Pay public key ID.

use pay_core::checkout::{validate_description, validate_out_trade_no};
use pay_core::crypto::webcrypto::{random_hex, WebCryptoVerifier};
use pay_core::v3::model::{
    NativePrepayResponse, Payer, PrepayRequest, TradeState, Transaction, TransactionAmount,
};
use pay_core::v3::AuthorizationHeader;
use pay_core::{Fen, UnixTime};
use serde::Serialize;
use worker::{Method, Request, Response};

use crate::config::Merchant;
use crate::error::{PlatformError, PlatformResult};
use crate::store::TransactionRow;
use crate::App;

pub async fn handle(mut req: Request, app: &App, segments: &[&str]) -> Response {
    let (status, body) = match route(&mut req, app, segments).await {
        Ok((status, body)) => (status, body),
        Err(e) => (
            e.status(),
            serde_json::to_vec(&e.body()).unwrap_or_default(),
        ),
    };
    match signed_response(app, status, body).await {
        Ok(response) => response,
        Err(e) => Response::error(
            format!("simulator could not sign its answer: {}", e.message()),
            500,
        )
        .expect("static"),
    }
}

async fn route(req: &mut Request, app: &App, segments: &[&str]) -> PlatformResult<(u16, Vec<u8>)> {
    let method = req.method();
    let url = req.url()?;
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let body = req.bytes().await?;
    let merchant = authenticate(req, app, method.as_ref(), &path_and_query, &body).await?;
    match (method, segments) {
        (Method::Post, ["v3", "pay", "transactions", "native"]) => {
            native_prepay(app, merchant, &body).await
        }
        (Method::Get, ["v3", "pay", "transactions", "out-trade-no", out_trade_no]) => {
            let mchid = url
                .query_pairs()
                .find(|(k, _)| k == "mchid")
                .map(|(_, v)| v.to_string());
            if mchid.as_deref() != Some(merchant.mchid.as_str()) {
                return Err(PlatformError::Param(
                    "mchid query parameter must be the requesting merchant's".into(),
                ));
            }
            let row = app
                .store
                .transaction(&merchant.mchid, out_trade_no)
                .await?
                .ok_or(PlatformError::OrderNotExist)?;
            json(200, &transaction_view(&row)?)
        }
        _ => Err(PlatformError::NoSuchPath),
    }
}

/// Verifies `Authorization: WECHATPAY2-SHA256-RSA2048 …` as the real platform does.
async fn authenticate<'a>(
    req: &Request,
    app: &'a App,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> PlatformResult<&'a Merchant> {
    let value = req
        .headers()
        .get("Authorization")?
        .ok_or_else(|| PlatformError::Sign("Authorization header is missing".into()))?;
    let header =
        AuthorizationHeader::parse(&value).map_err(|e| PlatformError::Sign(e.to_string()))?;
    let merchant = app
        .config
        .merchant(&header.mchid)
        .ok_or_else(|| PlatformError::Sign(format!("unknown mchid {}", header.mchid)))?;
    if !header.serial_no.eq_ignore_ascii_case(&merchant.serial) {
        return Err(PlatformError::Sign(format!(
            "serial_no {} is not this merchant's API certificate",
            header.serial_no
        )));
    }
    header
        .verify(
            method,
            path_and_query,
            body,
            &merchant.public_key,
            app.now,
            &*WebCryptoVerifier::shared(),
        )
        .await
        .map_err(|e| PlatformError::Sign(e.to_string()))?;
    Ok(merchant)
}

async fn native_prepay(
    app: &App,
    merchant: &Merchant,
    body: &[u8],
) -> PlatformResult<(u16, Vec<u8>)> {
    let request: PrepayRequest = serde_json::from_slice(body)
        .map_err(|e| PlatformError::Param(format!("请求体格式错误: {e}")))?;
    if request.mchid != merchant.mchid {
        return Err(PlatformError::Param(
            "mchid in the body differs from the Authorization header".into(),
        ));
    }
    if !merchant.appids.contains(&request.appid) {
        return Err(PlatformError::Param(format!(
            "appid {} is not bound to mchid {}",
            request.appid, merchant.mchid
        )));
    }
    Fen::chargeable(request.amount.total.get())?;
    if request.amount.currency != "CNY" {
        return Err(PlatformError::Param("amount.currency must be CNY".into()));
    }
    validate_description(&request.description)?;
    validate_out_trade_no(&request.out_trade_no)?;
    if !(request.notify_url.starts_with("https://") || request.notify_url.starts_with("http://"))
        || request.notify_url.contains('?')
    {
        return Err(PlatformError::Param(
            "notify_url must be an http(s) URL without a query string".into(),
        ));
    }
    let time_expire = request
        .time_expire
        .as_deref()
        .map(UnixTime::parse_rfc3339)
        .transpose()?;
    if time_expire.is_some_and(|t| t <= app.now) {
        return Err(PlatformError::Param("time_expire is in the past".into()));
    }
    // Re-serialising the parsed request gives one canonical form to compare re-entries with.
    let canonical =
        serde_json::to_string(&request).map_err(|e| PlatformError::System(e.to_string()))?;
    let row = TransactionRow {
        mchid: request.mchid.clone(),
        out_trade_no: request.out_trade_no.clone(),
        appid: request.appid.clone(),
        trade_type: "NATIVE".into(),
        request_json: canonical.clone(),
        description: request.description.clone(),
        amount_fen: request.amount.total.get(),
        notify_url: request.notify_url.clone(),
        time_expire: time_expire.map(UnixTime::secs),
        prepay_token: random_hex(10)?,
        trade_state: "NOTPAY".into(),
        transaction_id: None,
        payer_openid: None,
        success_time: None,
        created_at: app.now.secs(),
    };
    if !app.store.insert_transaction(&row).await? {
        let existing = app
            .store
            .transaction(&row.mchid, &row.out_trade_no)
            .await?
            .ok_or_else(|| PlatformError::System("vanished".into()))?;
        match existing.trade_state.as_str() {
            "SUCCESS" | "REFUND" => {
                return Err(PlatformError::OrderState {
                    code: "ORDER_PAID",
                    message: "该订单已支付".into(),
                })
            }
            "CLOSED" => {
                return Err(PlatformError::OrderState {
                    code: "ORDER_CLOSED",
                    message: "该订单已关闭".into(),
                })
            }
            _ if existing.request_json != canonical => {
                return Err(PlatformError::InvalidRequest(
                    "请求重入时，参数与首次请求时不一致".into(),
                ));
            }
            _ => {
                return json(
                    200,
                    &NativePrepayResponse {
                        code_url: code_url(&existing.prepay_token),
                    },
                )
            }
        }
    }
    json(
        200,
        &NativePrepayResponse {
            code_url: code_url(&row.prepay_token),
        },
    )
}

pub fn code_url(token: &str) -> String {
    format!("weixin://wxpay/bizpayurl?pr={token}")
}

/// The transaction as the query API and the notification resource present it.
pub fn transaction_view(row: &TransactionRow) -> PlatformResult<Transaction> {
    let trade_state: TradeState =
        serde_json::from_value(serde_json::Value::String(row.trade_state.clone()))
            .map_err(|e| PlatformError::System(e.to_string()))?;
    let paid = row.transaction_id.is_some();
    Ok(Transaction {
        appid: row.appid.clone(),
        mchid: row.mchid.clone(),
        out_trade_no: row.out_trade_no.clone(),
        transaction_id: row.transaction_id.clone(),
        trade_type: Some(row.trade_type.clone()),
        trade_state,
        trade_state_desc: match trade_state {
            TradeState::Success => "支付成功",
            TradeState::Notpay => "未支付",
            TradeState::Closed => "已关闭",
            _ => "",
        }
        .into(),
        bank_type: paid.then(|| "OTHERS".into()),
        attach: None,
        success_time: row.success_time.map(|t| UnixTime(t).to_rfc3339_cst()),
        payer: row.payer_openid.clone().map(|openid| Payer { openid }),
        amount: Some(TransactionAmount {
            total: Fen::new(row.amount_fen),
            payer_total: paid.then_some(Fen::new(row.amount_fen)),
            currency: "CNY".into(),
            payer_currency: paid.then(|| "CNY".into()),
        }),
    })
}

fn json<T: Serialize>(status: u16, value: &T) -> PlatformResult<(u16, Vec<u8>)> {
    Ok((
        status,
        serde_json::to_vec(value).map_err(|e| PlatformError::System(e.to_string()))?,
    ))
}

/// Signs `body` as the platform signs every answer.
async fn signed_response(app: &App, status: u16, body: Vec<u8>) -> PlatformResult<Response> {
    let signed = app.sign_as_platform(&body).await?;
    let mut response = Response::from_bytes(body)?.with_status(status);
    let headers = response.headers_mut();
    headers.set("Content-Type", "application/json; charset=utf-8")?;
    headers.set("Request-ID", &format!("sandbox-{}", random_hex(8)?))?;
    for (name, value) in signed.pairs() {
        headers.set(name, value)?;
    }
    Ok(response)
}
