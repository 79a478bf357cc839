//! Bills: `GET /v3/bill/tradebill` and `/v3/bill/fundflowbill` answer where to download a
//! bill and its SHA1; `GET /v3/billdownload/file` serves it (gzip when `tar_type=GZIP`). The
//! simulator serves any date, today included, from what has happened so far; the real platform
//! serves yesterday's after 10:00. `bill_type` SUCCESS and REFUND select lines but keep the ALL
//! layout. A service provider's trade bill holds its sub-merchants' lines (公众账号ID its
//! sp_appid, 商户号 its sp_mchid, 特约商户号 the sub-merchant), all of them or, with
//! `sub_mchid`, one sub-merchant's.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use pay_core::bill::{self, BillFee, FundFlowLine, RefundLine, TradeBillLine};
use pay_core::crypto::webcrypto::random_hex;
use pay_core::v3::model::BillLocation;
use pay_core::{CstDate, Fen, UnixTime};
use sha1::{Digest, Sha1};

use super::{json, Call};
use crate::error::{PlatformError, PlatformResult};
use crate::store::{BillScope, TransactionRow};
use crate::App;

/// The China-time day `bill_date=YYYY-MM-DD` as `[start, end)`.
fn day(call: &Call<'_>) -> PlatformResult<(UnixTime, UnixTime)> {
    let date = call
        .query("bill_date")
        .ok_or_else(|| PlatformError::Param("bill_date is required (YYYY-MM-DD)".into()))?;
    let day = CstDate::parse(&date)
        .map_err(|_| PlatformError::Param(format!("bill_date {date:?} is not YYYY-MM-DD")))?;
    Ok((day.start(), day.end()))
}

fn gzip_wanted(call: &Call<'_>) -> PlatformResult<bool> {
    match call.query("tar_type").as_deref() {
        None | Some("") => Ok(false),
        Some("GZIP") => Ok(true),
        Some(other) => Err(PlatformError::Param(format!(
            "tar_type {other:?}: only GZIP or none"
        ))),
    }
}

pub async fn trade_bill(app: &App, call: &Call<'_>) -> PlatformResult<(u16, Vec<u8>)> {
    let (start, end) = day(call)?;
    let bill_type = call.query("bill_type").unwrap_or_else(|| "ALL".into());
    if !matches!(bill_type.as_str(), "ALL" | "SUCCESS" | "REFUND") {
        return Err(PlatformError::Param(
            "bill_type must be ALL, SUCCESS or REFUND".into(),
        ));
    }
    let sub_mchid = call.query("sub_mchid");
    let scope = match sub_mchid.as_deref() {
        Some(sub) => BillScope::Books(call.books(Some(sub))?),
        None => BillScope::Provider(&call.merchant.mchid),
    };
    let rate = app.store.fee_rate_ppm().await?;
    // The fields a payment's line and its refunds' lines share.
    let line = |t: &TransactionRow, time: Option<i64>, state: &str| TradeBillLine {
        time: UnixTime(time.unwrap_or(0)),
        appid: t.appid.clone(),
        mchid: t.books().account().into(),
        sub_mchid: t.books().provider().map(|_| t.mchid.clone()),
        transaction_id: t.transaction_id.clone().unwrap_or_default(),
        out_trade_no: t.out_trade_no.clone(),
        openid: t.payer_openid.clone().unwrap_or_default(),
        trade_type: t.trade_type.clone(),
        trade_state: state.into(),
        bank_type: t.bank_type.clone().unwrap_or_default(),
        settlement_amount: Fen::new(0),
        coupon_amount: Fen::new(0),
        refund: None,
        description: t.description.clone(),
        fee: BillFee(0),
        fee_rate_ppm: rate,
        order_amount: Some(Fen::new(0)),
    };
    let mut rows = Vec::new();
    if bill_type != "REFUND" {
        for t in app.store.paid_between(scope, start, end).await? {
            rows.push(TradeBillLine {
                settlement_amount: Fen::new(t.amount_fen),
                order_amount: Some(Fen::new(t.amount_fen)),
                fee: BillFee::from_fen(Fen::new(t.fee_fen.unwrap_or(0))),
                ..line(&t, t.success_time, "SUCCESS")
            });
        }
    }
    if bill_type != "SUCCESS" {
        for r in app
            .store
            .refunds_succeeded_between(scope, start, end)
            .await?
        {
            let t = app
                .store
                .transaction(&r.books(), &r.out_trade_no)
                .await?
                .ok_or(PlatformError::OrderNotExist)?;
            rows.push(TradeBillLine {
                refund: Some(RefundLine {
                    refund_id: r.refund_id.clone(),
                    out_refund_no: r.out_refund_no.clone(),
                    amount: Fen::new(r.amount_fen),
                    status: r.status.clone(),
                }),
                fee: BillFee::from_fen(Fen::new(-r.fee_refund_fen)),
                ..line(&t, r.success_time, "REFUND")
            });
        }
    }
    rows.sort_by_key(|r| r.time);
    publish(app, call, bill::write_trade_bill(&rows)).await
}

/// The caller's own BASIC account. A provider's holds none of its sub-merchants' money, whose
/// balances are their own; their fund-flow bills (`/v3/bill/sub-merchant-fundflowbill`) are
/// not modelled.
pub async fn fund_flow_bill(app: &App, call: &Call<'_>) -> PlatformResult<(u16, Vec<u8>)> {
    let (start, end) = day(call)?;
    let account_type = call.query("account_type").unwrap_or_else(|| "BASIC".into());
    let account = match account_type.as_str() {
        "BASIC" => format!("merchant:{}:basic", call.merchant.mchid),
        "OPERATION" | "FEES" => String::new(), // no movements in these accounts here
        _ => {
            return Err(PlatformError::Param(
                "account_type must be BASIC, OPERATION or FEES".into(),
            ))
        }
    };
    let rows: Vec<FundFlowLine> = app
        .store
        .ledger_between(&account, start, end)
        .await?
        .into_iter()
        .map(|l| {
            let (name, kind) = match l.kind.as_str() {
                "payment" => ("交易", "交易"),
                "fee" => ("扣除交易手续费", "扣除交易手续费"),
                "refund" => ("退款", "退款"),
                "fee_refund" => ("退回交易手续费", "退回交易手续费"),
                _ => ("提现", "提现"),
            };
            FundFlowLine {
                time: UnixTime(l.at),
                business_id: l.reference.clone(),
                flow_id: format!("{}{:010}", l.movement, l.seq),
                name: name.into(),
                kind: kind.into(),
                amount: Fen::new(l.amount_fen),
                balance: Fen::new(l.balance_fen),
                remark: String::new(),
                voucher: l.reference,
            }
        })
        .collect();
    publish(app, call, bill::write_fund_flow_bill(&rows)).await
}

/// The bytes a download serves: the CSV, or its gzip.
fn file_bytes(content: &str, gzip: bool) -> PlatformResult<Vec<u8>> {
    if !gzip {
        return Ok(content.as_bytes().to_vec());
    }
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(content.as_bytes())
        .map_err(|e| PlatformError::System(e.to_string()))?;
    encoder
        .finish()
        .map_err(|e| PlatformError::System(e.to_string()))
}

async fn publish(app: &App, call: &Call<'_>, content: String) -> PlatformResult<(u16, Vec<u8>)> {
    let gzip = gzip_wanted(call)?;
    let token = random_hex(16)?;
    // The SHA1 of the bill itself: of the CSV before compression ("原始账单（gzip需要解压缩）的摘要值").
    let mut hash = pay_core::to_hex(&Sha1::digest(content.as_bytes()));
    if app
        .store
        .take_fault("bill_hash_mismatch", &[call.merchant.mchid.as_str()])
        .await?
        .is_some()
    {
        hash = pay_core::to_hex(&Sha1::digest(format!("{content}damaged").as_bytes()));
    }
    app.store
        .insert_bill(&token, &call.merchant.mchid, &content, gzip, app.now)
        .await?;
    let origin = call.url.origin().ascii_serialization();
    let download_url = format!("{origin}/v3/billdownload/file?token={token}");
    json(
        200,
        &BillLocation {
            hash_type: "SHA1".into(),
            hash_value: hash,
            download_url,
        },
    )
}

/// The bill file for `?token=`, to its own merchant only. Not signed, as on the real platform.
pub async fn download(app: &App, call: &Call<'_>) -> PlatformResult<(Vec<u8>, bool)> {
    let token = call
        .query("token")
        .ok_or_else(|| PlatformError::Param("token is required".into()))?;
    let (content, gzip) =
        app.store
            .bill(&token, &call.merchant.mchid)
            .await?
            .ok_or(PlatformError::OrderState {
                code: "RESOURCE_NOT_EXISTS",
                message: "账单不存在或下载链接已失效".into(),
            })?;
    Ok((file_bytes(&content, gzip)?, gzip))
}
