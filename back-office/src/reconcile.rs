//! Daily reconciliation and settlement: the day's trade and fund-flow bills from WeChat Pay
//! (downloaded, gunzipped, SHA1-checked, parsed), compared with the books by
//! `pay_core::reconcile`; a payment whose notification never arrived is fixed by asking WeChat
//! Pay and applying its answer through the payment's state machine; every difference is stored
//! with its outcome. Run by the cron (after 10:00 China time, for the day before) and on demand.

use pay_core::bill;
use pay_core::checkout::SessionStatus;
use pay_core::reconcile::{
    expected_movements, reconcile_settlement, reconcile_trade_bill, scheduled_day, BookedOrder,
    BookedRefund, FundMovements, Resolution,
};
use pay_core::refund::RefundState;
use pay_core::{CstDate, Fen, UnixTime};
use serde::Serialize;
use serde_json::{json, Value};

use checkout_service::catalog::{Difference, ReconciliationRun, Reconciliations, RunStatus};
use checkout_service::error::{ApiError, ApiResult};
use checkout_service::ledger::refunds::ReconciledRefund;
use checkout_service::ledger::CheckoutSession;
use checkout_service::services::{payments, Ctx};
use checkout_service::wechatpay::{unreadable_bill, BillKind};

/// A stored reconciliation as the API answers it (`Reconciliation` in the OpenAPI document).
#[derive(Debug, Serialize)]
pub struct Report {
    pub run: ReconciliationRun,
    pub settlement: Value,
    pub differences: Vec<Difference>,
}

/// The cron's part: yesterday's reconciliation once its bills are out. The day it ran, if it did.
pub async fn run_if_due(ctx: &Ctx<'_>, runs: &Reconciliations<'_>) -> ApiResult<Option<String>> {
    let yesterday = CstDate::of(ctx.now).previous();
    let previous = runs
        .run(&yesterday.to_string())
        .await?
        .map(|r| (r.status == RunStatus::Done, UnixTime(r.ran_at)));
    match scheduled_day(ctx.now, previous) {
        Some(day) => run(ctx, runs, day).await.map(|r| Some(r.run.bill_date)),
        None => Ok(None),
    }
}

/// Reconciles `day` now, replacing any earlier run of it; a failure is recorded too.
pub async fn run(ctx: &Ctx<'_>, runs: &Reconciliations<'_>, day: CstDate) -> ApiResult<Report> {
    match reconcile_day(ctx, day).await {
        Ok((run, differences)) => {
            runs.save(&run, &differences).await?;
            report(runs, &day.to_string()).await
        }
        Err(e) => {
            let failed = ReconciliationRun {
                bill_date: day.to_string(),
                status: RunStatus::Failed,
                ran_at: ctx.now.secs(),
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
            runs.save(&failed, &[]).await?;
            Err(e)
        }
    }
}

/// A stored reconciliation: the run and its differences (the API's report and the console's
/// page both show this).
pub async fn report(runs: &Reconciliations<'_>, bill_date: &str) -> ApiResult<Report> {
    let run = runs
        .run(bill_date)
        .await?
        .ok_or(ApiError::NotFound("reconciliation"))?;
    let settlement = run
        .settlement
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let differences = runs.differences(bill_date).await?;
    Ok(Report {
        run,
        settlement,
        differences,
    })
}

fn booked_order(session: &CheckoutSession) -> BookedOrder {
    BookedOrder {
        out_trade_no: session.out_trade_no.clone(),
        status: session.status,
        amount: session.amount(),
        transaction_id: session.transaction_id.clone(),
        paid_at: session.paid_at.map(UnixTime),
    }
}

fn booked_refund(refund: &ReconciledRefund) -> BookedRefund {
    let succeeded = refund.status == RefundState::Succeeded;
    BookedRefund {
        out_refund_no: refund.out_refund_no.clone(),
        out_trade_no: refund.out_trade_no.clone(),
        amount: Fen::new(refund.amount_fen),
        order_amount: Fen::new(refund.order_amount_fen),
        succeeded,
        succeeded_at: succeeded.then_some(UnixTime(refund.updated_at)),
    }
}

/// Our books for the day: the orders and refunds the bill names and those booked that day.
async fn books(
    ctx: &Ctx<'_>,
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
    let orders = ctx
        .ledger
        .sessions()
        .for_reconciliation(&out_trade_nos, day.start(), day.end())
        .await?
        .iter()
        .map(booked_order)
        .collect();
    let refunds = ctx
        .ledger
        .refunds()
        .for_reconciliation(&out_refund_nos, day.start(), day.end())
        .await?
        .iter()
        .map(booked_refund)
        .collect();
    Ok((orders, refunds))
}

/// Asks WeChat Pay about an order the bill shows paid and applies the answer like a
/// notification; true when our books now say paid.
async fn fix_by_query(ctx: &Ctx<'_>, out_trade_no: &str) -> ApiResult<bool> {
    let sessions = ctx.ledger.sessions();
    let session = sessions
        .by_out_trade_no(out_trade_no)
        .await?
        .ok_or(ApiError::NotFound("order"))?;
    payments::settle_by_query(ctx, &session).await?;
    let after = sessions.by_out_trade_no(out_trade_no).await?;
    Ok(after.is_some_and(|s| s.status == SessionStatus::Paid))
}

/// What one difference's resolution came to.
async fn resolve(ctx: &Ctx<'_>, resolution: Resolution, out_trade_no: &str) -> (String, bool) {
    match resolution {
        Resolution::Flag => ("flagged".into(), false),
        Resolution::FixByQuery => match fix_by_query(ctx, out_trade_no).await {
            Ok(true) => ("fixed".into(), true),
            Ok(false) => (
                "not fixed: WeChat Pay does not say it is paid".into(),
                false,
            ),
            Err(e) => (format!("not fixed: {}", e.summary()), false),
        },
    }
}

fn movements(m: FundMovements) -> Value {
    json!({
        "payments_fen": m.payments.get(), "fees_fen": m.fees.get(), "refunds_fen": m.refunds.get(),
        "fees_returned_fen": m.fees_returned.get(), "settled_fen": m.settled.get(), "other_fen": m.other.get(),
    })
}

/// Fetch the bills → compare and fix → settle → the run and its differences, to be stored.
async fn reconcile_day(
    ctx: &Ctx<'_>,
    day: CstDate,
) -> ApiResult<(ReconciliationRun, Vec<Difference>)> {
    let unreadable = |e: pay_core::Error| unreadable_bill(e.to_string());
    let trade = bill::parse_trade_bill(&ctx.wechatpay.bill(BillKind::Trade, day).await?)
        .map_err(unreadable)?;
    let flow = bill::parse_fund_flow_bill(&ctx.wechatpay.bill(BillKind::FundFlow, day).await?)
        .map_err(unreadable)?;
    let fee_rate = ctx.merchant.fee_rate_ppm;
    let (orders, refunds) = books(ctx, day, &trade).await?;
    let result = reconcile_trade_bill(day, &trade, &orders, &refunds, fee_rate);
    let mut rows = Vec::with_capacity(result.differences.len());
    let mut fixed = 0;
    for d in &result.differences {
        let resolution = d.kind.resolution();
        let (outcome, was_fixed) = resolve(ctx, resolution, &d.out_trade_no).await;
        fixed += i64::from(was_fixed);
        rows.push(Difference {
            kind: d.kind.as_str().into(),
            out_trade_no: d.out_trade_no.clone(),
            out_refund_no: d.out_refund_no.clone().unwrap_or_default(),
            transaction_id: d.transaction_id.clone(),
            ours: d.ours,
            theirs: d.theirs,
            resolution: resolution.as_str().into(),
            outcome,
        });
    }
    // What our books expect of the fund flow, after the fixes above (read again only if a fix
    // changed them).
    let (orders, refunds) = if fixed > 0 {
        books(ctx, day, &trade).await?
    } else {
        (orders, refunds)
    };
    let settlement =
        reconcile_settlement(&flow, expected_movements(day, &orders, &refunds, fee_rate));
    for (kind, ours, theirs) in &settlement.differences {
        rows.push(Difference {
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
    let settlement_json = json!({
        "platform": movements(settlement.platform),
        "expected": movements(settlement.expected),
    });
    let totals = result.totals;
    let run = ReconciliationRun {
        bill_date: day.to_string(),
        status: RunStatus::Done,
        ran_at: ctx.now.secs(),
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
    Ok((run, rows))
}
