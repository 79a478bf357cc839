//! Applying what WeChat Pay says about a transaction to our books, whichever way it arrived.

use pay_core::checkout::{decide_payment, OrderFacts, PaymentDecision};
use pay_core::risk::Flag;
use pay_core::v3::model::{RefundNotice, TradeState, Transaction};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::store::SessionRow;
use crate::wechatpay::WechatPayClient;
use crate::{refunds, App};

/// Cross-checks `tx` against the stored order and records the outcome. Safe to call any number
/// of times with the same transaction: only the first call changes anything.
pub async fn apply_transaction(app: &App, tx: &Transaction) -> ApiResult<()> {
    // Two rounds at most: if another request changed the order between our read and our
    // conditional write, read again and decide on what is there now.
    for _ in 0..2 {
        let row = app
            .store
            .session_by_out_trade_no(&tx.out_trade_no)
            .await?
            .ok_or(ApiError::NotFound("order"))?;
        let facts = OrderFacts {
            mchid: &row.mchid,
            appid: &row.appid,
            out_trade_no: &row.out_trade_no,
            amount: row.amount(),
            status: row.status()?,
            transaction_id: row.transaction_id.as_deref(),
        };
        let decision = match decide_payment(&facts, tx, app.now) {
            Ok(decision) => decision,
            Err(e) => {
                // WeChat Pay's signed word disagrees with the order: refused, and kept as an anomaly.
                if let pay_core::Error::Mismatch {
                    field,
                    ours,
                    theirs,
                } = &e
                {
                    let detail = json!({ "field": field, "ours": ours, "theirs": theirs, "transaction_id": tx.transaction_id });
                    app.store
                        .flag(&row.id, Flag::NotificationMismatch, &detail, app.now)
                        .await?;
                }
                return Err(e.into());
            }
        };
        match decision {
            PaymentDecision::MarkPaid {
                transaction_id,
                paid_at,
            } => {
                if app
                    .store
                    .mark_paid(&row.id, &transaction_id, paid_at)
                    .await?
                {
                    return Ok(());
                }
            }
            PaymentDecision::PaidAfterClose { transaction_id } => {
                worker::console_warn!(
                    "payment {transaction_id} for closed order {}: kept for refund",
                    row.out_trade_no
                );
                app.store
                    .record_payment_after_close(&row.id, &transaction_id, app.now)
                    .await?;
                let detail = json!({ "transaction_id": transaction_id });
                return app
                    .store
                    .flag(&row.id, Flag::PaidAfterClose, &detail, app.now)
                    .await;
            }
            PaymentDecision::AlreadyPaid | PaymentDecision::NotPaid(_) => return Ok(()),
        }
    }
    Err(ApiError::Internal(format!(
        "order {} kept changing under us",
        tx.out_trade_no
    )))
}

/// Closes an open session: at WeChat Pay first, then locally. If WeChat Pay says it was paid
/// meanwhile, the payment is applied instead (a paid order is never closed).
pub async fn close_session(app: &App, row: &SessionRow) -> ApiResult<()> {
    let client = WechatPayClient::new(app);
    if row.prepay_created_at.is_some() {
        match client.close(&row.out_trade_no, app.now).await {
            Ok(()) => {}
            Err(ApiError::Upstream { code, .. }) if code == "ORDER_PAID" => {
                let tx = client.query(&row.out_trade_no, app.now).await?;
                return apply_transaction(app, &tx).await;
            }
            Err(e) => return Err(e),
        }
    }
    app.store.mark_closed(&row.id).await?;
    Ok(())
}

/// Asks WeChat Pay about an open session and applies the answer: heals a notification that
/// never arrived. An unpaid order past its expiry is closed.
/// Answers the trade state WeChat Pay reported, if it was asked.
pub async fn settle_by_query(app: &App, row: &SessionRow) -> ApiResult<Option<TradeState>> {
    let mut seen = None;
    if row.prepay_created_at.is_some() {
        let tx = WechatPayClient::new(app)
            .query(&row.out_trade_no, app.now)
            .await;
        match tx {
            Ok(tx) if tx.trade_state == TradeState::Success => {
                apply_transaction(app, &tx).await?;
                return Ok(Some(TradeState::Success));
            }
            Ok(tx) => seen = Some(tx.trade_state),
            Err(ApiError::Upstream { code, .. }) if code == "ORDER_NOT_EXIST" => {}
            Err(e) => return Err(e),
        }
    }
    if app.now.secs() >= row.expires_at {
        close_session(app, row).await?;
    }
    Ok(seen)
}

/// Applies a REFUND.* notification to the refund it names.
pub async fn apply_refund_notice(app: &App, notice: &RefundNotice) -> ApiResult<()> {
    let Some(refund) = app
        .store
        .refund_by_out_refund_no(&notice.out_refund_no)
        .await?
    else {
        // Not ours: made outside this Worker. Kept on its order (acknowledged, so WeChat Pay
        // stops retrying) for a person, and flagged again by reconciliation.
        let session = app
            .store
            .session_by_out_trade_no(&notice.out_trade_no)
            .await?
            .ok_or(ApiError::NotFound("order"))?;
        worker::console_warn!(
            "refund {} of {} was not made by this Worker",
            notice.out_refund_no,
            notice.out_trade_no
        );
        return app
            .store
            .record_outside_refund(
                &session.id,
                &notice.out_refund_no,
                &notice.refund_id,
                notice.amount.refund.get(),
                refunds::local_status(notice.refund_status),
                app.now,
            )
            .await;
    };
    let session = app
        .store
        .session_by_id(&refund.session_id)
        .await?
        .ok_or(ApiError::NotFound("order"))?;
    if session.out_trade_no != notice.out_trade_no
        || refund.amount_fen != notice.amount.refund.get()
        || notice.mchid != app.config.mchid
    {
        let detail = json!({ "field": "refund", "out_refund_no": notice.out_refund_no, "amount_fen": notice.amount.refund.get(), "mchid": notice.mchid });
        app.store
            .flag(&session.id, Flag::NotificationMismatch, &detail, app.now)
            .await?;
        return Err(pay_core::Error::Mismatch {
            field: "refund",
            ours: format!(
                "{} {} {}",
                session.out_trade_no, refund.amount_fen, app.config.mchid
            ),
            theirs: format!(
                "{} {} {}",
                notice.out_trade_no,
                notice.amount.refund.get(),
                notice.mchid
            ),
        }
        .into());
    }
    let to = refunds::local_status(notice.refund_status);
    app.store
        .update_refund(
            &refund.id,
            &["pending", "processing"],
            to,
            Some(&notice.refund_id),
            app.now,
        )
        .await?;
    Ok(())
}
