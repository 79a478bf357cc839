//! Applying what WeChat Pay says about a transaction to our books, whichever way it arrived.

use pay_core::checkout::{decide_payment, OrderFacts, PaymentDecision};
use pay_core::refund::RefundState;
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
/// meanwhile, the payment is applied instead (a paid order is never closed). A session that
/// never had a prepay is closed locally alone, by a write that also requires it still has none:
/// a pay racing this close either records its prepay first (and the order is closed at WeChat
/// Pay here) or finds the session closed and closes its new order there itself (`widget::pay`).
pub async fn close_session(app: &App, row: &SessionRow) -> ApiResult<()> {
    if app.store.mark_closed(&row.id, true).await? {
        return Ok(());
    }
    close_at_wechatpay(app, &row.out_trade_no).await?;
    app.store.mark_closed(&row.id, false).await?;
    Ok(())
}

/// Closes the order `out_trade_no` at WeChat Pay; if it was paid meanwhile, the payment is
/// applied to our books instead (kept as `paid_after_close` on a session closed here).
pub async fn close_at_wechatpay(app: &App, out_trade_no: &str) -> ApiResult<()> {
    let client = WechatPayClient::new(app);
    match client.close(out_trade_no, app.now).await {
        Ok(()) => Ok(()),
        Err(ApiError::Upstream { code, .. }) if code == "ORDER_PAID" => {
            let tx = client.query(out_trade_no, app.now).await?;
            apply_transaction(app, &tx).await
        }
        Err(e) => Err(e),
    }
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

/// Applies a REFUND.* notification to the refund it names. Its mchid, order and amount are
/// checked against our books first, whether or not this Worker made the refund; a mismatch is
/// flagged and refused.
pub async fn apply_refund_notice(app: &App, notice: &RefundNotice) -> ApiResult<()> {
    let refund = app
        .store
        .refund_by_out_refund_no(&notice.out_refund_no)
        .await?;
    let session = match &refund {
        Some(refund) => app.store.session_by_id(&refund.session_id).await?,
        None => {
            app.store
                .session_by_out_trade_no(&notice.out_trade_no)
                .await?
        }
    }
    .ok_or(ApiError::NotFound("order"))?;
    let theirs = notice.amount.refund.get();
    let agrees = session.out_trade_no == notice.out_trade_no
        && notice.mchid == app.config.mchid
        && match &refund {
            Some(refund) => refund.amount_fen == theirs,
            // Made outside this Worker: at most what the order was paid.
            None => theirs <= session.amount_fen,
        };
    if !agrees {
        let detail = json!({ "field": "refund", "out_refund_no": notice.out_refund_no, "amount_fen": theirs, "mchid": notice.mchid });
        app.store
            .flag(&session.id, Flag::NotificationMismatch, &detail, app.now)
            .await?;
        let ours = refund.as_ref().map_or(session.amount_fen, |r| r.amount_fen);
        return Err(pay_core::Error::Mismatch {
            field: "refund",
            ours: format!("{} {} {}", session.out_trade_no, ours, app.config.mchid),
            theirs: format!("{} {} {}", notice.out_trade_no, theirs, notice.mchid),
        }
        .into());
    }
    let Some(refund) = refund else {
        // Not ours: made outside this Worker. Kept on its order (acknowledged, so WeChat Pay
        // stops retrying) for a person, and flagged again by reconciliation.
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
                theirs,
                RefundState::of_platform(notice.refund_status).as_str(),
                app.now,
            )
            .await;
    };
    refunds::book(app, &refund, notice.refund_status, &notice.refund_id).await
}
