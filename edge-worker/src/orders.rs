//! Applying what WeChat Pay says about a transaction to our books, whichever way it arrived.

use pay_core::checkout::{decide_payment, OrderFacts, PaymentDecision};
use pay_core::v3::model::Transaction;

use crate::error::{ApiError, ApiResult};
use crate::App;

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
        match decide_payment(&facts, tx, app.now)? {
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
                return app
                    .store
                    .record_payment_after_close(&row.id, &transaction_id, app.now)
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
