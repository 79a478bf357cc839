//! Prepay (JSAPI, H5, Native), query by out_trade_no or transaction_id, and close.

use pay_core::checkout::{validate_description, validate_out_trade_no};
use pay_core::crypto::webcrypto::random_hex;
use pay_core::v3::model::{
    H5PrepayResponse, JsapiPrepayResponse, Mchids, NativePrepayResponse, Payee, Payer,
    PrepayRequest, TradeState, Transaction, TransactionAmount,
};
use pay_core::{Fen, UnixTime};

use super::{json, Call};
use crate::error::{PlatformError, PlatformResult};
use crate::store::TransactionRow;
use crate::App;

pub async fn prepay(app: &App, call: &Call<'_>, scene: &str) -> PlatformResult<(u16, Vec<u8>)> {
    let request: PrepayRequest = call.json()?;
    let merchant = call.merchant;
    let Payee::Direct { appid, mchid } = &request.payee else {
        return Err(PlatformError::Param(
            "sp_mchid and sub_mchid belong to /v3/pay/partner/transactions".into(),
        ));
    };
    if *mchid != merchant.mchid {
        return Err(PlatformError::Param(
            "mchid in the body differs from the Authorization header".into(),
        ));
    }
    if !merchant.appids.contains(appid) {
        return Err(PlatformError::OrderState {
            code: "APPID_MCHID_NOT_MATCH",
            message: format!("appid {} 与 mchid {} 不匹配", appid, merchant.mchid),
        });
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
    let trade_type = match scene {
        "jsapi" => {
            if request
                .payer
                .as_ref()
                .is_none_or(|p| p.openid.as_deref().unwrap_or_default().is_empty())
            {
                return Err(PlatformError::Param("JSAPI 下单必须传 payer.openid".into()));
            }
            "JSAPI"
        }
        "h5" => {
            let scene = request
                .scene_info
                .as_ref()
                .ok_or_else(|| PlatformError::Param("H5 下单必须传 scene_info".into()))?;
            if scene.payer_client_ip.parse::<std::net::IpAddr>().is_err() {
                return Err(PlatformError::Param(
                    "scene_info.payer_client_ip must be the payer's IP address".into(),
                ));
            }
            if scene.h5_info.as_ref().is_none_or(|h| h.kind.is_empty()) {
                return Err(PlatformError::Param(
                    "scene_info.h5_info.type is required (Wap, iOS or Android)".into(),
                ));
            }
            "MWEB"
        }
        _ => "NATIVE",
    };
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
        mchid: mchid.clone(),
        out_trade_no: request.out_trade_no.clone(),
        appid: appid.clone(),
        trade_type: trade_type.into(),
        request_json: canonical.clone(),
        description: request.description.clone(),
        amount_fen: request.amount.total.get(),
        notify_url: request.notify_url.clone(),
        time_expire: time_expire.map(UnixTime::secs),
        prepay_token: random_hex(10)?,
        trade_state: "NOTPAY".into(),
        transaction_id: None,
        payer_openid: request.payer.as_ref().and_then(|p| p.openid.clone()),
        success_time: None,
        created_at: app.now.secs(),
        fee_fen: None,
        refunded_fen: 0,
        bank_type: None,
        card_id: None,
        closed_at: None,
    };
    let row = if app.store.insert_transaction(&row).await? {
        row
    } else {
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
            _ => existing,
        }
    };
    match trade_type {
        "JSAPI" => json(
            200,
            &JsapiPrepayResponse {
                prepay_id: prepay_id(&row.prepay_token),
            },
        ),
        "MWEB" => {
            let origin = call.url.origin().ascii_serialization();
            let h5_url = format!(
                "{origin}/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={}&package={}",
                prepay_id(&row.prepay_token),
                row.created_at
            );
            json(200, &H5PrepayResponse { h5_url })
        }
        _ => json(
            200,
            &NativePrepayResponse {
                code_url: code_url(&row.prepay_token),
            },
        ),
    }
}

pub fn code_url(token: &str) -> String {
    format!("weixin://wxpay/bizpayurl?pr={token}")
}

pub fn prepay_id(token: &str) -> String {
    format!("wx{token}")
}

pub async fn query(
    app: &App,
    call: &Call<'_>,
    out_trade_no: Option<&str>,
    transaction_id: Option<&str>,
) -> PlatformResult<(u16, Vec<u8>)> {
    call.require_own_mchid()?;
    let mchid = &call.merchant.mchid;
    let row = match (out_trade_no, transaction_id) {
        (Some(no), _) => app.store.transaction(mchid, no).await?,
        (_, Some(id)) => app.store.transaction_by_id(mchid, id).await?,
        _ => None,
    };
    let row = row.ok_or(PlatformError::OrderNotExist)?;
    json(200, &transaction_view(&row, app.now)?)
}

/// 204 for an open or already closed order; ORDER_PAID for a paid one.
pub async fn close(
    app: &App,
    call: &Call<'_>,
    out_trade_no: &str,
) -> PlatformResult<(u16, Vec<u8>)> {
    let Mchids::Direct { mchid } = call.json()? else {
        return Err(PlatformError::Param(
            "sp_mchid and sub_mchid belong to /v3/pay/partner/transactions".into(),
        ));
    };
    if mchid != call.merchant.mchid {
        return Err(PlatformError::Param(
            "mchid in the body differs from the Authorization header".into(),
        ));
    }
    let row = app
        .store
        .transaction(&mchid, out_trade_no)
        .await?
        .ok_or(PlatformError::OrderNotExist)?;
    if !app.store.close_transaction(&row, app.now).await? {
        let now = app
            .store
            .transaction(&mchid, out_trade_no)
            .await?
            .ok_or(PlatformError::OrderNotExist)?;
        if matches!(now.trade_state.as_str(), "SUCCESS" | "REFUND") {
            return Err(PlatformError::OrderState {
                code: "ORDER_PAID",
                message: "订单已支付，不能关闭".into(),
            });
        }
    }
    Ok((204, Vec::new()))
}

/// The transaction as the query API and the notification resource present it. An unpaid order
/// past its `time_expire` reads as CLOSED, as WeChat Pay closes it.
pub fn transaction_view(row: &TransactionRow, now: UnixTime) -> PlatformResult<Transaction> {
    let expired = row.trade_state == "NOTPAY" && row.time_expire.is_some_and(|t| t <= now.secs());
    let state = if expired {
        "CLOSED"
    } else {
        row.trade_state.as_str()
    };
    let trade_state = TradeState::parse(state);
    let paid = row.transaction_id.is_some()
        && matches!(trade_state, TradeState::Success | TradeState::Refund);
    Ok(Transaction {
        payee: Payee::Direct {
            appid: row.appid.clone(),
            mchid: row.mchid.clone(),
        },
        out_trade_no: row.out_trade_no.clone(),
        transaction_id: row.transaction_id.clone(),
        trade_type: Some(row.trade_type.clone()),
        trade_state,
        trade_state_desc: match trade_state {
            TradeState::Success => "支付成功",
            TradeState::Refund => "转入退款",
            TradeState::Notpay => "未支付",
            TradeState::Closed => "已关闭",
            TradeState::Payerror => "支付失败，请重新下单支付",
            _ => "",
        }
        .into(),
        bank_type: row.bank_type.clone().filter(|_| paid),
        attach: None,
        success_time: row
            .success_time
            .filter(|_| paid)
            .map(|t| UnixTime(t).to_rfc3339_cst()),
        payer: row.payer_openid.clone().map(|openid| Payer {
            openid: Some(openid),
            ..Payer::default()
        }),
        amount: Some(TransactionAmount {
            total: Fen::new(row.amount_fen),
            payer_total: paid.then_some(Fen::new(row.amount_fen)),
            currency: "CNY".into(),
            payer_currency: paid.then(|| "CNY".into()),
        }),
    })
}
