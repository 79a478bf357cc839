//! Bills: `GET /v3/bill/tradebill` and `/v3/bill/fundflowbill` answer where to download a
//! bill and its SHA1; `GET /v3/billdownload/file` serves it (gzip when `tar_type=GZIP`). The
//! simulator serves any date, today included, from what has happened so far; the real platform
//! serves yesterday's after 10:00. `bill_type` SUCCESS and REFUND select lines but keep the ALL
//! layout. A service provider's trade bill holds its sub-merchants' lines (公众账号ID its
//! sp_appid, 商户号 its sp_mchid, 特约商户号 the sub-merchant), all of them or, with
//! `sub_mchid`, one sub-merchant's. `GET /v3/bill/sub-merchant-fundflowbill` gives a provider
//! one sub-merchant's fund-flow bill (the same bill as a direct merchant's own, of the
//! sub-merchant's account) as a list of one file, sealed for the provider: AES-256-GCM under a
//! fresh key with the answer's nonce, the key RSA-OAEP encrypted to the provider's merchant key.

use std::io::Write;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;
use pay_core::bill::encrypted::BillFileKey;
use pay_core::bill::{self, BillFee, FundFlowLine, RefundLine, TradeBillLine};
use pay_core::crypto::webcrypto::{random_bytes, random_hex, rsa_oaep_encrypt};
use pay_core::v3::model::{BillLocation, EncryptedBillList, EncryptedBillPart};
use pay_core::{CstDate, Fen, UnixTime};
use sha1::{Digest, Sha1};

use super::{json, Call};
use crate::error::{PlatformError, PlatformResult};
use crate::store::{BillRow, BillScope, BillSealing, TransactionRow};
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

/// The caller's own account. A provider's holds none of its sub-merchants' money, whose
/// balances are their own: their fund-flow bills are [`sub_merchant_fund_flow_bill`].
pub async fn fund_flow_bill(app: &App, call: &Call<'_>) -> PlatformResult<(u16, Vec<u8>)> {
    let account_type = call.query("account_type").unwrap_or_else(|| "BASIC".into());
    let content = fund_flow_content(app, call, &call.merchant.mchid, &account_type).await?;
    publish(app, call, content).await
}

/// The ledger account behind `mchid`'s fund-flow bill of `account_type` (none for OPERATION and
/// FEES, which see no movements here).
fn ledger_account(mchid: &str, account_type: &str) -> PlatformResult<Option<String>> {
    match account_type {
        "BASIC" => Ok(Some(format!("merchant:{mchid}:basic"))),
        "OPERATION" | "FEES" => Ok(None),
        _ => Err(PlatformError::Param(
            "account_type must be BASIC, OPERATION or FEES".into(),
        )),
    }
}

/// The fund-flow bill of `mchid`'s own account for `?bill_date=`: a direct merchant's or a
/// sub-merchant's (its payments, fees, refunds and settlements).
async fn fund_flow_content(
    app: &App,
    call: &Call<'_>,
    mchid: &str,
    account_type: &str,
) -> PlatformResult<String> {
    let (start, end) = day(call)?;
    let account = ledger_account(mchid, account_type)?.unwrap_or_default();
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
    Ok(bill::write_fund_flow_bill(&rows))
}

/// `GET /v3/bill/sub-merchant-fundflowbill`'s query, every field required.
#[derive(Debug, PartialEq, Eq)]
struct SubMerchantBillQuery {
    sub_mchid: String,
    account_type: String,
}

impl SubMerchantBillQuery {
    fn parse(query: impl Fn(&str) -> Option<String>) -> PlatformResult<Self> {
        let required = |name: &str| {
            query(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| PlatformError::Param(format!("{name} is required")))
        };
        let sub_mchid = required("sub_mchid")?;
        required("bill_date")?;
        let account_type = required("account_type")?;
        match required("algorithm")?.as_str() {
            "AEAD_AES_256_GCM" => {}
            "SM4_GCM" => {
                return Err(PlatformError::Param(
                    "algorithm SM4_GCM: the simulator does not implement it; use AEAD_AES_256_GCM"
                        .into(),
                ))
            }
            other => {
                return Err(PlatformError::Param(format!(
                    "algorithm {other:?} must be AEAD_AES_256_GCM or SM4_GCM"
                )))
            }
        }
        Ok(SubMerchantBillQuery {
            sub_mchid,
            account_type,
        })
    }
}

/// 16 ASCII letters and digits from 16 random bytes: a sealed file's nonce.
fn nonce_of(bytes: [u8; 16]) -> String {
    const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    bytes
        .iter()
        .map(|b| ALPHANUMERIC[*b as usize % ALPHANUMERIC.len()] as char)
        .collect()
}

/// A sub-merchant's fund-flow bill, to its provider only (403 `NO_AUTH` otherwise): one file,
/// sealed for the provider, its hash that of the plain uncompressed bill.
pub async fn sub_merchant_fund_flow_bill(
    app: &App,
    call: &Call<'_>,
) -> PlatformResult<(u16, Vec<u8>)> {
    let query = SubMerchantBillQuery::parse(|name| call.query(name))?;
    let gzip = gzip_wanted(call)?;
    let books = call.books(Some(&query.sub_mchid))?;
    let content = fund_flow_content(app, call, books.mchid(), &query.account_type).await?;
    let hash_value = hash_value(app, call, &content).await?;
    let key = random_bytes::<32>()?;
    let nonce = nonce_of(random_bytes::<16>()?);
    let encrypt_key = B64.encode(rsa_oaep_encrypt(&call.merchant.public_key, &key).await?);
    let sealing = BillSealing {
        aes_key: B64.encode(key),
        nonce: nonce.clone(),
    };
    let download_url = keep(app, call, &content, gzip, Some(&sealing)).await?;
    json(
        200,
        &EncryptedBillList {
            download_bill_count: 1,
            download_bill_list: vec![EncryptedBillPart {
                bill_sequence: 1,
                download_url,
                encrypt_key,
                hash_type: "SHA1".into(),
                hash_value,
                nonce,
            }],
        },
    )
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

/// The SHA1 of the bill itself: of the CSV before compression ("原始账单（gzip需要解压缩）的摘要值"),
/// or a wrong one under the `bill_hash_mismatch` fault (keyed by the caller).
async fn hash_value(app: &App, call: &Call<'_>, content: &str) -> PlatformResult<String> {
    if app
        .store
        .take_fault("bill_hash_mismatch", &[call.merchant.mchid.as_str()])
        .await?
        .is_some()
    {
        return Ok(pay_core::to_hex(&Sha1::digest(
            format!("{content}damaged").as_bytes(),
        )));
    }
    Ok(pay_core::to_hex(&Sha1::digest(content.as_bytes())))
}

/// Keeps a bill for its caller's download; its `download_url`.
async fn keep(
    app: &App,
    call: &Call<'_>,
    content: &str,
    gzip: bool,
    sealing: Option<&BillSealing>,
) -> PlatformResult<String> {
    let token = random_hex(16)?;
    app.store
        .insert_bill(
            &token,
            &call.merchant.mchid,
            content,
            gzip,
            sealing,
            app.now,
        )
        .await?;
    let origin = call.url.origin().ascii_serialization();
    Ok(format!("{origin}/v3/billdownload/file?token={token}"))
}

async fn publish(app: &App, call: &Call<'_>, content: String) -> PlatformResult<(u16, Vec<u8>)> {
    let gzip = gzip_wanted(call)?;
    let hash_value = hash_value(app, call, &content).await?;
    let download_url = keep(app, call, &content, gzip, None).await?;
    json(
        200,
        &BillLocation {
            hash_type: "SHA1".into(),
            hash_value,
            download_url,
        },
    )
}

/// A bill's file as downloaded, and its Content-Type: the CSV or its gzip, sealed when the bill
/// is a sub-merchant's fund flow.
fn file_of(bill: &BillRow) -> PlatformResult<(Vec<u8>, &'static str)> {
    let bytes = file_bytes(&bill.content, bill.gzip)?;
    match &bill.sealing {
        Some(sealing) => {
            let key = B64
                .decode(&sealing.aes_key)
                .map_err(|e| PlatformError::System(format!("a sealed bill's key: {e}")))?;
            let sealed = BillFileKey::from_bytes(&key)?.seal(&sealing.nonce, &bytes)?;
            Ok((sealed, "application/octet-stream"))
        }
        None if bill.gzip => Ok((bytes, "application/x-gzip")),
        None => Ok((bytes, "text/plain; charset=utf-8")),
    }
}

/// The bill file for `?token=`, to its own merchant only. Not signed, as on the real platform.
pub async fn download(app: &App, call: &Call<'_>) -> PlatformResult<(Vec<u8>, &'static str)> {
    let token = call
        .query("token")
        .ok_or_else(|| PlatformError::Param("token is required".into()))?;
    let bill =
        app.store
            .bill(&token, &call.merchant.mchid)
            .await?
            .ok_or(PlatformError::OrderState {
                code: "RESOURCE_NOT_EXISTS",
                message: "账单不存在或下载链接已失效".into(),
            })?;
    file_of(&bill)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn query<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    const FULL: [(&str, &str); 5] = [
        ("sub_mchid", "1900000201"),
        ("bill_date", "2026-12-06"),
        ("account_type", "BASIC"),
        ("algorithm", "AEAD_AES_256_GCM"),
        ("tar_type", "GZIP"),
    ];

    #[test]
    fn a_sub_merchant_bill_needs_every_field_and_aes_gcm() {
        assert_eq!(
            SubMerchantBillQuery::parse(query(&FULL)).unwrap(),
            SubMerchantBillQuery {
                sub_mchid: "1900000201".into(),
                account_type: "BASIC".into(),
            }
        );
        for missing in ["sub_mchid", "bill_date", "account_type", "algorithm"] {
            let rest: Vec<_> = FULL
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let err = SubMerchantBillQuery::parse(query(&rest)).unwrap_err();
            assert_eq!(
                (err.code(), err.message()),
                ("PARAM_ERROR", format!("{missing} is required"))
            );
        }
        let with = |algorithm| {
            let mut pairs = FULL;
            pairs[3].1 = algorithm;
            SubMerchantBillQuery::parse(query(&pairs)).unwrap_err()
        };
        let sm4 = with("SM4_GCM");
        assert_eq!(sm4.code(), "PARAM_ERROR");
        assert!(
            sm4.message().contains("does not implement"),
            "{}",
            sm4.message()
        );
        assert_eq!(with("AES_CBC").code(), "PARAM_ERROR");
    }

    #[test]
    fn fund_flow_bills_read_the_merchants_own_account() {
        assert_eq!(
            ledger_account("1900000201", "BASIC").unwrap().as_deref(),
            Some("merchant:1900000201:basic")
        );
        assert_eq!(ledger_account("1900000201", "FEES").unwrap(), None);
        assert_eq!(
            ledger_account("1900000201", "basic").unwrap_err().code(),
            "PARAM_ERROR"
        );
    }

    #[test]
    fn a_nonce_is_16_ascii_alphanumerics() {
        let nonce = nonce_of([0, 25, 26, 61, 62, 255, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]);
        assert_eq!(nonce.len(), 16);
        assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()), "{nonce}");
        assert_eq!(&nonce[..6], "AZa9AH");
    }

    #[test]
    fn a_sealed_bill_opens_under_its_key_and_nonce_to_the_gzipped_bill() {
        let content =
            "\u{feff}记账时间,微信支付业务单号\r\n`2026-12-06 10:00:00,`4200\r\n".to_string();
        let key = [9u8; 32];
        let bill = BillRow {
            content: content.clone(),
            gzip: true,
            sealing: Some(BillSealing {
                aes_key: B64.encode(key),
                nonce: "a8607ef79034c49c".into(),
            }),
        };
        let (sealed, content_type) = file_of(&bill).unwrap();
        assert_eq!(content_type, "application/octet-stream");
        assert_eq!(
            sealed,
            file_of(&bill).unwrap().0,
            "the same bytes every download"
        );
        let gzipped = BillFileKey(key).open("a8607ef79034c49c", &sealed).unwrap();
        let mut plain = String::new();
        flate2::read::GzDecoder::new(&gzipped[..])
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, content);
        let plain_bill = BillRow {
            sealing: None,
            gzip: false,
            ..bill
        };
        assert_eq!(
            file_of(&plain_bill).unwrap(),
            (content.into_bytes(), "text/plain; charset=utf-8")
        );
    }
}
