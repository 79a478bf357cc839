//! Prepay (JSAPI, H5, Native), query by out_trade_no or transaction_id, and close: a direct
//! merchant's (`/v3/pay/transactions/…`) and a service provider's for its sub-merchant
//! (`/v3/pay/partner/transactions/…`). The two modes share every rule of the order itself; they
//! differ in who may place it, whose books it is in and how the payee and payer are named.

use pay_core::checkout::{validate_description, validate_out_trade_no};
use pay_core::crypto::webcrypto::random_hex;
use pay_core::v3::model::{
    H5PrepayResponse, JsapiPrepayResponse, Mchids, NativePrepayResponse, Payee, Payer,
    PrepayRequest, TradeState, Transaction, TransactionAmount,
};
use pay_core::{Fen, UnixTime};

use super::{json, Call};
use crate::books::Books;
use crate::error::{PlatformError, PlatformResult};
use crate::oauth_server::{test_openid, test_payer};
use crate::store::TransactionRow;
use crate::App;

/// Which API a call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Direct,
    Partner,
}

impl Mode {
    /// The mode of a `/v3/pay/…` path and the rest of it after `transactions`.
    pub fn of_path<'a, 's>(segments: &'a [&'s str]) -> Option<(Mode, &'a [&'s str])> {
        match segments {
            ["v3", "pay", "transactions", rest @ ..] => Some((Mode::Direct, rest)),
            ["v3", "pay", "partner", "transactions", rest @ ..] => Some((Mode::Partner, rest)),
            _ => None,
        }
    }
}

/// How a query names the transaction.
pub enum Lookup<'a> {
    OutTradeNo(&'a str),
    TransactionId(&'a str),
}

const PARTNER_FIELDS_ON_DIRECT_PATH: &str =
    "sp_mchid and sub_mchid belong to /v3/pay/partner/transactions";

/// Where a prepay's transaction goes, once the caller's right to place it is checked.
struct Placement<'r> {
    books: Books<'r>,
    /// The merchant's appid, or in partner mode the provider's sp_appid.
    appid: &'r str,
    sub_appid: Option<&'r str>,
}

/// The caller may place this order: the payee's numbers are its own (or its sub-merchant's)
/// and each appid is bound to its merchant number.
fn placement<'r>(call: &Call<'_>, mode: Mode, payee: &'r Payee) -> PlatformResult<Placement<'r>> {
    let merchant = call.merchant;
    match (mode, payee) {
        (Mode::Direct, Payee::Direct { appid, mchid }) => {
            if *mchid != merchant.mchid {
                return Err(PlatformError::Param(
                    "mchid in the body differs from the Authorization header".into(),
                ));
            }
            if !merchant.apps.has(appid) {
                return Err(PlatformError::AppidMchidNotMatch(format!(
                    "appid {appid} 与 mchid {mchid} 不匹配"
                )));
            }
            Ok(Placement {
                books: Books::Direct { mchid },
                appid,
                sub_appid: None,
            })
        }
        (
            Mode::Partner,
            Payee::Partner {
                sp_appid,
                sp_mchid,
                sub_appid,
                sub_mchid,
            },
        ) => {
            let books = call.sub_merchant_books(sp_mchid, sub_mchid)?;
            if !merchant.apps.has(sp_appid) {
                return Err(PlatformError::AppidMchidNotMatch(format!(
                    "sp_appid {sp_appid} 与 sp_mchid {sp_mchid} 不匹配"
                )));
            }
            let sub = merchant.sub_merchant(sub_mchid);
            if let Some(app) = sub_appid.as_deref() {
                if !sub.is_some_and(|s| s.apps.has(app)) {
                    return Err(PlatformError::AppidMchidNotMatch(format!(
                        "sub_appid {app} 与 sub_mchid {sub_mchid} 不匹配"
                    )));
                }
            }
            Ok(Placement {
                books,
                appid: sp_appid,
                sub_appid: sub_appid.as_deref(),
            })
        }
        (Mode::Direct, Payee::Partner { .. }) => {
            Err(PlatformError::Param(PARTNER_FIELDS_ON_DIRECT_PATH.into()))
        }
        (Mode::Partner, Payee::Direct { .. }) => Err(PlatformError::Param(
            "sp_appid, sp_mchid and sub_mchid are required".into(),
        )),
    }
}

/// A JSAPI payer as the prepay names it: the openid, and the app it belongs to when that is
/// not the payee's `appid` (partner mode names the app by the field: sp_openid under sp_appid,
/// sub_openid under sub_appid).
#[derive(Debug, PartialEq, Eq)]
struct NamedPayer {
    openid: String,
    appid: Option<String>,
}

fn named_payer(payee: &Payee, payer: Option<&Payer>) -> PlatformResult<NamedPayer> {
    let given = |o: Option<&String>| o.filter(|s| !s.is_empty()).cloned();
    let payer = payer.cloned().unwrap_or_default();
    match payee {
        Payee::Direct { .. } => given(payer.openid.as_ref())
            .map(|openid| NamedPayer {
                openid,
                appid: None,
            })
            .ok_or_else(|| PlatformError::Param("JSAPI 下单必须传 payer.openid".into())),
        Payee::Partner {
            sp_appid,
            sub_appid,
            ..
        } => match (
            given(payer.sp_openid.as_ref()),
            given(payer.sub_openid.as_ref()),
        ) {
            (Some(openid), None) => Ok(NamedPayer {
                openid,
                appid: Some(sp_appid.clone()),
            }),
            (None, Some(openid)) => {
                let appid = sub_appid.clone().ok_or_else(|| {
                    PlatformError::Param("传了 payer.sub_openid 时 sub_appid 必填".into())
                })?;
                Ok(NamedPayer {
                    openid,
                    appid: Some(appid),
                })
            }
            _ => Err(PlatformError::Param(
                "JSAPI 下单必须传 payer.sp_openid 或 payer.sub_openid 之一".into(),
            )),
        },
    }
}

/// The rules every order obeys, whoever places it. Returns its `time_expire`.
fn check_order(request: &PrepayRequest, now: UnixTime) -> PlatformResult<Option<UnixTime>> {
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
    if time_expire.is_some_and(|t| t <= now) {
        return Err(PlatformError::Param("time_expire is in the past".into()));
    }
    Ok(time_expire)
}

/// The scene's trade type, and H5's scene_info checked.
fn trade_type(scene: &str, request: &PrepayRequest) -> PlatformResult<&'static str> {
    match scene {
        "jsapi" => Ok("JSAPI"),
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
            Ok("MWEB")
        }
        _ => Ok("NATIVE"),
    }
}

pub async fn prepay(
    app: &App,
    call: &Call<'_>,
    mode: Mode,
    scene: &str,
) -> PlatformResult<(u16, Vec<u8>)> {
    let request: PrepayRequest = call.json()?;
    let placed = placement(call, mode, &request.payee)?;
    let trade_type = trade_type(scene, &request)?;
    let payer = match trade_type {
        "JSAPI" => Some(named_payer(&request.payee, request.payer.as_ref())?),
        _ => None,
    };
    let time_expire = check_order(&request, app.now)?;
    // Re-serialising the parsed request gives one canonical form to compare re-entries with.
    let canonical =
        serde_json::to_string(&request).map_err(|e| PlatformError::System(e.to_string()))?;
    let (payer_openid, payer_appid) = payer.map_or((None, None), |p| (Some(p.openid), p.appid));
    let row = TransactionRow {
        mchid: placed.books.mchid().into(),
        out_trade_no: request.out_trade_no.clone(),
        appid: placed.appid.into(),
        trade_type: trade_type.into(),
        request_json: canonical.clone(),
        description: request.description.clone(),
        amount_fen: request.amount.total.get(),
        notify_url: request.notify_url.clone(),
        time_expire: time_expire.map(UnixTime::secs),
        prepay_token: random_hex(10)?,
        trade_state: "NOTPAY".into(),
        transaction_id: None,
        payer_openid,
        success_time: None,
        created_at: app.now.secs(),
        fee_fen: None,
        refunded_fen: 0,
        bank_type: None,
        card_id: None,
        closed_at: None,
        sp_mchid: placed.books.provider().map(Into::into),
        sub_appid: placed.sub_appid.map(Into::into),
        payer_appid,
    };
    let row = if app.store.insert_transaction(&row).await? {
        row
    } else {
        let existing = app
            .store
            .transaction(&placed.books, &row.out_trade_no)
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
    mode: Mode,
    lookup: Lookup<'_>,
) -> PlatformResult<(u16, Vec<u8>)> {
    let (sp_mchid, sub_mchid) = (call.query("sp_mchid"), call.query("sub_mchid"));
    let books = match mode {
        Mode::Direct => {
            call.require_own_mchid()?;
            Books::Direct {
                mchid: &call.merchant.mchid,
            }
        }
        Mode::Partner => match (&sp_mchid, &sub_mchid) {
            (Some(sp), Some(sub)) => call.sub_merchant_books(sp, sub)?,
            _ => {
                return Err(PlatformError::Param(
                    "sp_mchid and sub_mchid query parameters are required".into(),
                ))
            }
        },
    };
    let row = match lookup {
        Lookup::OutTradeNo(no) => app.store.transaction(&books, no).await?,
        Lookup::TransactionId(id) => app.store.transaction_by_id(&books, id).await?,
    };
    let row = row.ok_or(PlatformError::OrderNotExist)?;
    json(200, &transaction_view(&row, app.now)?)
}

/// 204 for an open or already closed order; ORDER_PAID for a paid one.
pub async fn close(
    app: &App,
    call: &Call<'_>,
    mode: Mode,
    out_trade_no: &str,
) -> PlatformResult<(u16, Vec<u8>)> {
    let mchids: Mchids = call.json()?;
    let books = match (mode, &mchids) {
        (Mode::Direct, Mchids::Direct { mchid }) if *mchid == call.merchant.mchid => {
            Books::Direct { mchid }
        }
        (Mode::Direct, Mchids::Direct { .. }) => {
            return Err(PlatformError::Param(
                "mchid in the body differs from the Authorization header".into(),
            ))
        }
        (
            Mode::Partner,
            Mchids::Partner {
                sp_mchid,
                sub_mchid,
            },
        ) => call.sub_merchant_books(sp_mchid, sub_mchid)?,
        (Mode::Direct, Mchids::Partner { .. }) => {
            return Err(PlatformError::Param(PARTNER_FIELDS_ON_DIRECT_PATH.into()))
        }
        (Mode::Partner, Mchids::Direct { .. }) => {
            return Err(PlatformError::Param(
                "sp_mchid and sub_mchid are required".into(),
            ))
        }
    };
    let row = app
        .store
        .transaction(&books, out_trade_no)
        .await?
        .ok_or(PlatformError::OrderNotExist)?;
    if !app.store.close_transaction(&row, app.now).await? {
        let now = app
            .store
            .transaction(&books, out_trade_no)
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

/// The transaction as the query API and the notification resource present it, in its mode's
/// shape. An unpaid order past its `time_expire` reads as CLOSED, as WeChat Pay closes it.
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
    let payee = match row.books() {
        Books::Direct { mchid } => Payee::Direct {
            appid: row.appid.clone(),
            mchid: mchid.into(),
        },
        Books::Partner {
            sp_mchid,
            sub_mchid,
        } => Payee::Partner {
            sp_appid: row.appid.clone(),
            sp_mchid: sp_mchid.into(),
            sub_appid: row.sub_appid.clone(),
            sub_mchid: sub_mchid.into(),
        },
    };
    let payer = row.payer_openid.as_deref().map(|openid| match &payee {
        Payee::Direct { .. } => Payer {
            openid: Some(openid.into()),
            ..Payer::default()
        },
        Payee::Partner {
            sp_appid,
            sub_appid,
            ..
        } => partner_payer(openid, row.payer_app(), sp_appid, sub_appid.as_deref()),
    });
    Ok(Transaction {
        payee,
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
        payer,
        amount: Some(TransactionAmount {
            total: Fen::new(row.amount_fen),
            payer_total: paid.then_some(Fen::new(row.amount_fen)),
            currency: "CNY".into(),
            payer_currency: paid.then(|| "CNY".into()),
        }),
    })
}

/// A partner payment's payer under each app: the openid under the app it was named for, and
/// the same test payer's openid under the other app when the simulator knows who it is.
fn partner_payer(openid: &str, named_app: &str, sp_appid: &str, sub_appid: Option<&str>) -> Payer {
    let under = |app: &str| {
        if app == named_app {
            Some(openid.to_string())
        } else {
            test_payer(named_app, openid).map(|n| test_openid(app, n))
        }
    };
    Payer {
        openid: None,
        sp_openid: under(sp_appid),
        sub_openid: sub_appid.and_then(under),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SP_APP: &str = "wxa0b1c2d3e4f5a6b7";
    const SUB_APP: &str = "wxb1c2d3e4f5a6b7c8";

    fn partner(sub_appid: Option<&str>) -> Payee {
        Payee::Partner {
            sp_appid: SP_APP.into(),
            sp_mchid: "1230000112".into(),
            sub_appid: sub_appid.map(Into::into),
            sub_mchid: "1900000201".into(),
        }
    }

    fn payer(sp_openid: Option<&str>, sub_openid: Option<&str>) -> Payer {
        Payer {
            openid: None,
            sp_openid: sp_openid.map(Into::into),
            sub_openid: sub_openid.map(Into::into),
        }
    }

    #[test]
    fn paths_name_their_mode() {
        let direct = ["v3", "pay", "transactions", "id", "42"];
        assert_eq!(
            Mode::of_path(&direct),
            Some((Mode::Direct, &["id", "42"][..]))
        );
        let partner = ["v3", "pay", "partner", "transactions", "jsapi"];
        assert_eq!(
            Mode::of_path(&partner),
            Some((Mode::Partner, &["jsapi"][..]))
        );
        assert_eq!(
            Mode::of_path(&["v3", "refund", "domestic", "refunds"]),
            None
        );
    }

    #[test]
    fn a_partner_payer_is_named_by_exactly_one_openid_under_its_app() {
        let sub = named_payer(&partner(Some(SUB_APP)), Some(&payer(None, Some("o-sub"))));
        assert_eq!(
            sub.unwrap(),
            NamedPayer {
                openid: "o-sub".into(),
                appid: Some(SUB_APP.into())
            }
        );
        let sp = named_payer(&partner(Some(SUB_APP)), Some(&payer(Some("o-sp"), None)));
        assert_eq!(sp.unwrap().appid.as_deref(), Some(SP_APP));
        let refused = [
            named_payer(&partner(None), Some(&payer(None, Some("o-sub")))),
            named_payer(&partner(Some(SUB_APP)), Some(&payer(Some("a"), Some("b")))),
            named_payer(&partner(Some(SUB_APP)), Some(&payer(Some(""), None))),
            named_payer(&partner(Some(SUB_APP)), None),
        ];
        for r in refused {
            assert!(matches!(r, Err(PlatformError::Param(_))), "{r:?}");
        }
        let direct = Payee::Direct {
            appid: SP_APP.into(),
            mchid: "1230000109".into(),
        };
        assert!(named_payer(&direct, Some(&payer(Some("o-sp"), None))).is_err());
    }

    #[test]
    fn a_partner_payer_reads_under_both_apps_when_the_payer_is_known() {
        let named_sub = partner_payer(&test_openid(SUB_APP, 3), SUB_APP, SP_APP, Some(SUB_APP));
        assert_eq!(
            named_sub,
            payer(
                Some(&test_openid(SP_APP, 3)),
                Some(&test_openid(SUB_APP, 3))
            )
        );
        let sp_only = partner_payer(&test_openid(SP_APP, 1), SP_APP, SP_APP, None);
        assert_eq!(sp_only, payer(Some(&test_openid(SP_APP, 1)), None));
        // A payer the simulator does not know stays under the app it was named for only.
        assert_eq!(
            partner_payer("o-stranger", SUB_APP, SP_APP, Some(SUB_APP)),
            payer(None, Some("o-stranger"))
        );
    }
}
