//! Refunds: create (idempotent on out_refund_no, never more than what is left to refund) and
//! query. A provider refunds for its sub-merchant by naming its `sub_mchid` (body, or query
//! parameter of the query): the refund is then in the sub-merchant's books. The "bank" settles a refund at once: SUCCESS moves the money back by trigger (and
//! the proportional fee), unless a fault makes it ABNORMAL or CLOSED. Each outcome is notified
//! to the refund's notify_url as REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED.

use pay_core::crypto::webcrypto::random_hex;
use pay_core::v3::model::{
    Refund, RefundAmount, RefundNotice, RefundNoticeAmount, RefundRequest, RefundStatus,
};
use pay_core::v3::notification::event_type;
use pay_core::{Fen, UnixTime};

use super::{json, Call};
use crate::error::{PlatformError, PlatformResult};
use crate::notification_sender::{self, Subject};
use crate::store::{NewRefund, RefundRow};
use crate::App;

/// Refunds are accepted within a year of the payment, at most 50 per order.
const REFUND_WINDOW_SECS: i64 = 365 * 86_400;
const MAX_REFUNDS_PER_ORDER: i64 = 50;

pub async fn create(app: &App, call: &Call<'_>) -> PlatformResult<(u16, Vec<u8>)> {
    let request: RefundRequest = call.json()?;
    let books = call.books(request.sub_mchid.as_deref())?;
    if request.out_refund_no.is_empty() || request.out_refund_no.len() > 64 {
        return Err(PlatformError::Param(
            "out_refund_no must be 1 to 64 characters".into(),
        ));
    }
    let tx = match (&request.transaction_id, &request.out_trade_no) {
        (Some(id), _) => app.store.transaction_by_id(&books, id).await?,
        (None, Some(no)) => app.store.transaction(&books, no).await?,
        (None, None) => {
            return Err(PlatformError::Param(
                "transaction_id or out_trade_no is required".into(),
            ))
        }
    }
    .ok_or(PlatformError::OrderNotExist)?;
    let canonical =
        serde_json::to_string(&request).map_err(|e| PlatformError::System(e.to_string()))?;
    if let Some(existing) = app.store.refund(&books, &request.out_refund_no).await? {
        // The same out_refund_no is the same refund: answer it again, never refund twice.
        if existing.request_json != canonical {
            return Err(PlatformError::InvalidRequest(
                "请求重入时，参数与首次请求时不一致 (out_refund_no reused with other parameters)"
                    .into(),
            ));
        }
        return json(200, &refund_view(&existing));
    }
    if !matches!(tx.trade_state.as_str(), "SUCCESS" | "REFUND") {
        return Err(PlatformError::InvalidRequest(
            "订单未支付，不能退款 (only paid orders can be refunded)".into(),
        ));
    }
    if request.amount.total.get() != tx.amount_fen || request.amount.currency != "CNY" {
        return Err(PlatformError::Param(format!(
            "amount.total must be the order's total, {} fen, in CNY",
            tx.amount_fen
        )));
    }
    Fen::chargeable(request.amount.refund.get())?;
    if tx
        .success_time
        .is_some_and(|t| app.now.secs() - t > REFUND_WINDOW_SECS)
    {
        return Err(PlatformError::InvalidRequest(
            "订单已超过退款期限 (more than a year after payment)".into(),
        ));
    }
    if app
        .store
        .refund_count(books.mchid(), &tx.out_trade_no)
        .await?
        >= MAX_REFUNDS_PER_ORDER
    {
        return Err(PlatformError::InvalidRequest(
            "一笔订单最多可退款 50 次".into(),
        ));
    }
    let fee = Fen::new(tx.fee_fen.unwrap_or(0));
    let new = NewRefund {
        refund_id: format!("5030{}", random_hex(12)?),
        mchid: books.mchid().into(),
        sp_mchid: books.provider().map(Into::into),
        out_refund_no: request.out_refund_no.clone(),
        out_trade_no: tx.out_trade_no.clone(),
        transaction_id: tx.transaction_id.clone().unwrap_or_default(),
        request_json: canonical,
        reason: request.reason.clone(),
        notify_url: request.notify_url.clone(),
        amount_fen: request.amount.refund.get(),
        total_fen: tx.amount_fen,
        fee_refund_fen: fee
            .share(request.amount.refund, Fen::new(tx.amount_fen))
            .get(),
        card_id: tx.card_id.clone().unwrap_or_default(),
        created_at: app.now.secs(),
    };
    if !app.store.insert_refund(&new).await? {
        // Either a concurrent request with the same out_refund_no won, or nothing is left.
        if let Some(existing) = app.store.refund(&books, &request.out_refund_no).await? {
            return json(200, &refund_view(&existing));
        }
        return Err(PlatformError::InvalidRequest(
            "申请退款金额超过订单可退金额 (more than is left to refund)".into(),
        ));
    }
    let created = app
        .store
        .refund(&books, &request.out_refund_no)
        .await?
        .ok_or_else(|| PlatformError::System("refund vanished".into()))?;
    let answer = refund_view(&created);
    settle(app, call, &created).await?;
    json(200, &answer)
}

/// The bank's answer to a refund, right away.
async fn settle(app: &App, call: &Call<'_>, refund: &RefundRow) -> PlatformResult<()> {
    let books = refund.books();
    let faults = books.fault_keys();
    let outcome = if app
        .store
        .take_fault("refund_abnormal", &faults)
        .await?
        .is_some()
    {
        RefundStatus::Abnormal
    } else if app
        .store
        .take_fault("refund_closed", &faults)
        .await?
        .is_some()
    {
        RefundStatus::Closed
    } else {
        RefundStatus::Success
    };
    if !app
        .store
        .finish_refund(&refund.refund_id, outcome, app.now)
        .await?
    {
        return Ok(());
    }
    let Some(notify_url) = refund.notify_url.as_deref() else {
        return Ok(());
    };
    let done = app
        .store
        .refund(&books, &refund.out_refund_no)
        .await?
        .ok_or_else(|| PlatformError::System("refund vanished".into()))?;
    let (event, summary) = match outcome {
        RefundStatus::Success => (event_type::REFUND_SUCCESS, "退款成功"),
        RefundStatus::Abnormal => (event_type::REFUND_ABNORMAL, "退款异常"),
        _ => (event_type::REFUND_CLOSED, "退款关闭"),
    };
    let notice = RefundNotice {
        mchids: books.mchids(),
        out_trade_no: done.out_trade_no.clone(),
        transaction_id: done.transaction_id.clone(),
        out_refund_no: done.out_refund_no.clone(),
        refund_id: done.refund_id.clone(),
        refund_status: outcome,
        success_time: done.success_time.map(|t| UnixTime(t).to_rfc3339_cst()),
        user_received_account: done.user_received_account.clone(),
        amount: RefundNoticeAmount {
            total: Fen::new(done.total_fen),
            refund: Fen::new(done.amount_fen),
            payer_total: Fen::new(done.total_fen),
            payer_refund: Fen::new(done.amount_fen),
        },
    };
    let subject = Subject {
        event_type: event,
        summary,
        original_type: "refund",
        out_trade_no: &done.out_trade_no,
        notify_url,
    };
    notification_sender::enqueue(app, call.merchant, &books, subject, &notice).await?;
    Ok(())
}

pub async fn query(
    app: &App,
    call: &Call<'_>,
    out_refund_no: &str,
) -> PlatformResult<(u16, Vec<u8>)> {
    let sub_mchid = call.query("sub_mchid");
    let books = call.books(sub_mchid.as_deref())?;
    let refund = app.store.refund(&books, out_refund_no).await?;
    let refund = refund.ok_or(PlatformError::ResourceNotExists("退款单不存在".into()))?;
    json(200, &refund_view(&refund))
}

fn refund_view(r: &RefundRow) -> Refund {
    let status = match r.status.as_str() {
        "SUCCESS" => RefundStatus::Success,
        "CLOSED" => RefundStatus::Closed,
        "ABNORMAL" => RefundStatus::Abnormal,
        _ => RefundStatus::Processing,
    };
    Refund {
        refund_id: r.refund_id.clone(),
        out_refund_no: r.out_refund_no.clone(),
        transaction_id: r.transaction_id.clone(),
        out_trade_no: r.out_trade_no.clone(),
        channel: "ORIGINAL".into(),
        user_received_account: r.user_received_account.clone(),
        success_time: r.success_time.map(|t| UnixTime(t).to_rfc3339_cst()),
        create_time: UnixTime(r.created_at).to_rfc3339_cst(),
        status,
        funds_account: Some("AVAILABLE".into()),
        amount: RefundAmount {
            total: Fen::new(r.total_fen),
            refund: Fen::new(r.amount_fen),
            payer_total: Fen::new(r.total_fen),
            payer_refund: Fen::new(r.amount_fen),
            settlement_refund: Fen::new(r.amount_fen),
            settlement_total: Fen::new(r.total_fen),
            discount_refund: Fen::new(0),
            currency: "CNY".into(),
        },
    }
}
