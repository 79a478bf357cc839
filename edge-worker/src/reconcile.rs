//! Daily reconciliation and settlement: the day's trade and fund-flow bills from WeChat Pay
//! (downloaded, gunzipped, SHA1-checked, parsed), compared with D1 by `pay_core::reconcile`; a payment
//! whose notification never arrived is fixed by asking WeChat Pay and applying its answer
//! through the notification's state machine; every difference is stored with its outcome.
//! Run by the cron (after 10:00 China time, for the day before) and on demand
//! (`POST /v1/admin/reconciliations {"date"}`).

use pay_core::bill;
use pay_core::checkout::SessionStatus;
use pay_core::reconcile::{
    expected_movements, reconcile_settlement, reconcile_trade_bill, scheduled_day, BookedOrder,
    BookedRefund, Resolution,
};
use pay_core::{CstDate, Fen, UnixTime};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::store::{DifferenceRow, ReconciledRefund, ReconciliationRun, SessionRow};
use crate::wechatpay::WechatPayClient;
use crate::{orders, App};

/// The cron's part: yesterday's reconciliation once its bills are out.
pub async fn run_if_due(app: &App) -> ApiResult<Option<Value>> {
    let yesterday = CstDate::of(app.now).previous();
    let previous = app
        .store
        .reconciliation_run(&yesterday.to_string())
        .await?
        .map(|r| (r.status == "done", UnixTime(r.ran_at)));
    match scheduled_day(app.now, previous) {
        Some(day) => run(app, day).await.map(Some),
        None => Ok(None),
    }
}

/// Reconciles `day` now, replacing any earlier run of it; a failure is recorded too.
pub async fn run(app: &App, day: CstDate) -> ApiResult<Value> {
    match reconcile_day(app, day).await {
        Ok(()) => report(app, &day.to_string()).await,
        Err(e) => {
            let failed = ReconciliationRun {
                bill_date: day.to_string(),
                status: "failed".into(),
                ran_at: app.now.secs(),
                error: Some(e.summary()),
                payments: 0,
                paid_fen: 0,
                refunds: 0,
                refunded_fen: 0,
                fees_millifen: 0,
                differences: 0,
                fixed: 0,
                settlement: None,
            };
            app.store.save_reconciliation(&failed, &[]).await?;
            Err(e)
        }
    }
}

/// A stored reconciliation: the run and its differences (the API's report and the console's
/// page both show this).
pub async fn stored(
    app: &App,
    bill_date: &str,
) -> ApiResult<(ReconciliationRun, Vec<DifferenceRow>)> {
    let run = app
        .store
        .reconciliation_run(bill_date)
        .await?
        .ok_or(ApiError::NotFound("reconciliation"))?;
    Ok((run, app.store.reconciliation_differences(bill_date).await?))
}

/// A stored reconciliation as the API answers it.
pub async fn report(app: &App, bill_date: &str) -> ApiResult<Value> {
    let (run, differences) = stored(app, bill_date).await?;
    let settlement: Value = run
        .settlement
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    Ok(json!({ "run": run, "settlement": settlement, "differences": differences }))
}

fn booked_order(row: &SessionRow) -> ApiResult<BookedOrder> {
    Ok(BookedOrder {
        out_trade_no: row.out_trade_no.clone(),
        status: row.status()?,
        amount: row.amount(),
        transaction_id: row.transaction_id.clone(),
        paid_at: row.paid_at.map(UnixTime),
    })
}

fn booked_refund(row: &ReconciledRefund) -> BookedRefund {
    let succeeded = row.status == "succeeded";
    BookedRefund {
        out_refund_no: row.out_refund_no.clone(),
        out_trade_no: row.out_trade_no.clone(),
        amount: Fen::new(row.amount_fen),
        order_amount: Fen::new(row.order_amount_fen),
        succeeded,
        succeeded_at: succeeded.then_some(UnixTime(row.updated_at)),
    }
}

/// Our books for the day: the orders and refunds the bill names and those booked that day.
async fn books(
    app: &App,
    day: CstDate,
    trade: &bill::TradeBill,
) -> ApiResult<(Vec<BookedOrder>, Vec<BookedRefund>)> {
    let out_trade_nos: Vec<&str> = trade
        .lines
        .iter()
        .map(|l| l.out_trade_no.as_str())
        .collect();
    let out_refund_nos: Vec<&str> = trade
        .lines
        .iter()
        .filter_map(|l| l.refund.as_ref().map(|r| r.out_refund_no.as_str()))
        .collect();
    let orders = app
        .store
        .sessions_for_reconciliation(&out_trade_nos, day.start(), day.end())
        .await?
        .iter()
        .map(booked_order)
        .collect::<ApiResult<Vec<_>>>()?;
    let refunds = app
        .store
        .refunds_for_reconciliation(&out_refund_nos, day.start(), day.end())
        .await?
        .iter()
        .map(booked_refund)
        .collect();
    Ok((orders, refunds))
}

/// Asks WeChat Pay about an order the bill shows paid and applies the answer like a
/// notification; true when our books now say paid.
async fn fix_by_query(app: &App, out_trade_no: &str) -> ApiResult<bool> {
    let row = app
        .store
        .session_by_out_trade_no(out_trade_no)
        .await?
        .ok_or(ApiError::NotFound("order"))?;
    orders::settle_by_query(app, &row).await?;
    let now = app.store.session_by_out_trade_no(out_trade_no).await?;
    Ok(now.is_some_and(|r| r.status == SessionStatus::Paid.as_str()))
}

/// A bill that does not read is WeChat Pay's data at fault, not the request.
fn bad_bill(e: pay_core::Error) -> ApiError {
    ApiError::Upstream {
        signed: false,
        status: 502,
        code: "BILL_UNREADABLE".into(),
        message: e.to_string(),
    }
}

async fn reconcile_day(app: &App, day: CstDate) -> ApiResult<()> {
    let client = WechatPayClient::new(app);
    let trade = bill::parse_trade_bill(&client.bill("tradebill", day).await?).map_err(bad_bill)?;
    let flow =
        bill::parse_fund_flow_bill(&client.bill("fundflowbill", day).await?).map_err(bad_bill)?;
    let (orders, refunds) = books(app, day, &trade).await?;
    let result = reconcile_trade_bill(day, &trade, &orders, &refunds, app.config.fee_rate_ppm);
    let mut rows = Vec::with_capacity(result.differences.len());
    let mut fixed = 0;
    for d in &result.differences {
        let outcome = match d.kind.resolution() {
            Resolution::Flag => "flagged".to_string(),
            Resolution::FixByQuery => match fix_by_query(app, &d.out_trade_no).await {
                Ok(true) => {
                    fixed += 1;
                    "fixed".to_string()
                }
                Ok(false) => "not fixed: WeChat Pay does not say it is paid".to_string(),
                Err(e) => format!("not fixed: {}", e.summary()),
            },
        };
        rows.push(DifferenceRow {
            kind: d.kind.as_str().into(),
            out_trade_no: d.out_trade_no.clone(),
            out_refund_no: d.out_refund_no.clone().unwrap_or_default(),
            transaction_id: d.transaction_id.clone(),
            ours: d.ours,
            theirs: d.theirs,
            resolution: d.kind.resolution().as_str().into(),
            outcome,
        });
    }
    // What our books expect of the fund flow, after the fixes above (read again only if a fix
    // changed them).
    let (orders, refunds) = if fixed > 0 {
        books(app, day, &trade).await?
    } else {
        (orders, refunds)
    };
    let settlement = reconcile_settlement(
        &flow,
        expected_movements(day, &orders, &refunds, app.config.fee_rate_ppm),
    );
    for (kind, ours, theirs) in &settlement.differences {
        rows.push(DifferenceRow {
            kind: kind.as_str().into(),
            out_trade_no: String::new(),
            out_refund_no: String::new(),
            transaction_id: None,
            ours: Some(ours.get()),
            theirs: Some(theirs.get()),
            resolution: Resolution::Flag.as_str().into(),
            outcome: "flagged".into(),
        });
    }
    let movements = |m: pay_core::reconcile::FundMovements| {
        json!({
            "payments_fen": m.payments.get(), "fees_fen": m.fees.get(), "refunds_fen": m.refunds.get(),
            "fees_returned_fen": m.fees_returned.get(), "settled_fen": m.settled.get(), "other_fen": m.other.get(),
        })
    };
    let settlement_json = json!({
        "platform": movements(settlement.platform),
        "expected": movements(settlement.expected),
    });
    let totals = result.totals;
    let run = ReconciliationRun {
        bill_date: day.to_string(),
        status: "done".into(),
        ran_at: app.now.secs(),
        error: None,
        payments: totals.payments as i64,
        paid_fen: totals.paid.get(),
        refunds: totals.refunds as i64,
        refunded_fen: totals.refunded.get(),
        fees_millifen: totals.fees.0,
        differences: rows.len() as i64,
        fixed,
        settlement: Some(settlement_json.to_string()),
    };
    app.store.save_reconciliation(&run, &rows).await
}
