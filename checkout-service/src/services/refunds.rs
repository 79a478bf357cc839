//! Refunds: recorded with an out_refund_no fixed for good and reused on every retry, so WeChat
//! Pay refunds at most once; then moved only on WeChat Pay's signed word (an answer, a query or
//! a notification), as pay_core::refund decides.

use pay_core::checkout::generate_reference;
use pay_core::crypto::webcrypto::random_bytes;
use pay_core::refund::{self, ErrorAnswer, RefundEvidence, RefundMove, RefundState};
use pay_core::requests::{self, ValidRefund};
use pay_core::risk::Flag;
use pay_core::shard;
use pay_core::v3::model::{RefundAmountRequest, RefundNotice, RefundRequest, RefundStatus};
use pay_core::Fen;
use serde_json::json;

use super::{risk, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::ledger::{CheckoutSession, Refund};

/// Records a refund of `amount_fen` on a paid session and sends it to WeChat Pay (the merchant
/// API and the console both refund through here). An unknown outcome leaves it pending, to be
/// asked about (and only then sent again, with the same out_refund_no) by the scheduled run.
pub async fn start(
    ctx: &Ctx<'_>,
    session_id: &str,
    amount_fen: i64,
    reason: Option<String>,
    token: &str,
) -> ApiResult<Refund> {
    let ValidRefund { amount, reason } = requests::validate_refund(amount_fen, reason)?;
    // In its order's shard, which the session id names.
    let in_shard = ctx.ledger.shard_of_id(session_id);
    let id = ctx.ledger.new_id("re", in_shard, token);
    let refunds = ctx.ledger.refunds();
    // A refund `id` that exists already was recorded by a request that crashed before it
    // answered: it is answered as it is (the scheduled run sends a pending one again).
    if let Some(refund) = refunds.by_id(&id).await? {
        return Ok(refund);
    }
    let session = ctx.session(session_id).await?;
    let out_refund_no = generate_reference("RF", ctx.now, random_bytes()?);
    refunds
        .insert(
            &id,
            &session.id,
            &out_refund_no,
            amount,
            reason.as_deref(),
            ctx.now,
        )
        .await?;
    // Its shard's alarm asks WeChat Pay about it if no answer or notification settles it.
    let wait = shard::refund_wait_secs(ctx.merchant.query_after_secs);
    ctx.books.shard_due(in_shard, ctx.now.plus(wait)).await;
    risk::flag_quick_large_refund(ctx, &session, amount).await?;
    let refund = ctx.refund(&id).await?;
    if let Err(e) = send(ctx, &refund, &session).await {
        if ctx.refund(&id).await?.status == RefundState::Failed {
            // Refused by WeChat Pay, signed: nothing was refunded, and the merchant is told why.
            return Err(e);
        }
        // Unknown outcome: the refund stays pending; the scheduled run asks about it.
        worker::console_warn!("refund {id} pending: {}", e.log_line());
    }
    ctx.refund(&id).await
}

/// Asks WeChat Pay for the refund and books its answer. Sent only when no earlier request for
/// it can have reached WeChat Pay (its first send, or after [`resume`] proved WeChat Pay holds
/// none); the out_refund_no is the refund's own, so WeChat Pay refunds at most once in any case.
/// A signed refusal books it `failed`; any other error leaves it pending and is returned.
async fn send(ctx: &Ctx<'_>, refund: &Refund, session: &CheckoutSession) -> ApiResult<()> {
    let request = RefundRequest {
        sub_mchid: None,
        transaction_id: session.transaction_id.clone(),
        out_trade_no: None,
        out_refund_no: refund.out_refund_no.clone(),
        reason: refund.reason.clone(),
        notify_url: Some(ctx.merchant.notify_url.clone()),
        amount: RefundAmountRequest {
            refund: Fen::new(refund.amount_fen),
            total: session.amount(),
            currency: "CNY".into(),
        },
    };
    match ctx.wechatpay.refund(&request).await {
        Ok(answer) => book(ctx, refund, answer.status, &answer.refund_id).await,
        Err(e) => {
            if evidence(&e, refund::after_refund_error) == RefundEvidence::NotRefunded {
                ctx.ledger
                    .refunds()
                    .move_to(
                        refund,
                        RefundState::Pending,
                        RefundState::Failed,
                        None,
                        ctx.now,
                    )
                    .await?;
            }
            Err(e)
        }
    }
}

/// A pending refund whose answer was lost: WeChat Pay is asked about it first, and it is sent
/// again (same out_refund_no) only when WeChat Pay proves, signed, that it holds none. A rate
/// limit, an unsigned error or no answer leaves it pending for the next run.
pub async fn resume(ctx: &Ctx<'_>, refund: &Refund, session: &CheckoutSession) -> ApiResult<()> {
    match ctx.wechatpay.refund_status(&refund.out_refund_no).await {
        Ok(answer) => book(ctx, refund, answer.status, &answer.refund_id).await,
        Err(e) if evidence(&e, refund::after_query_error) == RefundEvidence::NotRefunded => {
            send(ctx, refund, session).await
        }
        Err(e) => Err(e),
    }
}

/// Asks WeChat Pay how a refund it accepted went and books a final answer: heals a REFUND.*
/// notification that never arrived.
pub async fn settle_by_query(ctx: &Ctx<'_>, refund: &Refund) -> ApiResult<()> {
    let answer = ctx.wechatpay.refund_status(&refund.out_refund_no).await?;
    book(ctx, refund, answer.status, &answer.refund_id).await
}

/// Books WeChat Pay's signed word about a refund: the move pay-core decides, as one
/// conditional write from the state it was decided on (decided again on a fresh read if
/// another request moved the refund meanwhile). A refund booked `failed` that WeChat Pay did
/// refund is corrected and its order flagged (the flag first, so a retry after a crash between
/// the two still raises it).
async fn book(
    ctx: &Ctx<'_>,
    refund: &Refund,
    theirs: RefundStatus,
    refund_id: &str,
) -> ApiResult<()> {
    let mut refund = refund.clone();
    for _ in 0..3 {
        let ours = refund.status;
        let to = match refund::next_state(ours, theirs) {
            RefundMove::Stay => return Ok(()),
            RefundMove::To(to) => to,
            RefundMove::Corrected(to) => {
                let detail = json!({ "refund": refund.id, "out_refund_no": refund.out_refund_no, "was": ours.as_str(), "now": to.as_str() });
                ctx.ledger
                    .events()
                    .flag(&refund.session_id, Flag::RefundCorrected, detail, ctx.now)
                    .await?;
                to
            }
        };
        if ctx
            .ledger
            .refunds()
            .move_to(&refund, ours, to, Some(refund_id), ctx.now)
            .await?
        {
            return Ok(());
        }
        refund = ctx.refund(&refund.id).await?;
    }
    Err(ApiError::Internal(format!(
        "refund {} kept changing under us",
        refund.id
    )))
}

/// What an error of a call to WeChat Pay proves, by `judge` (pay_core::refund).
fn evidence(e: &ApiError, judge: fn(ErrorAnswer) -> RefundEvidence) -> RefundEvidence {
    match e {
        ApiError::Upstream {
            signed,
            status,
            code,
            ..
        } => judge(ErrorAnswer {
            status: *status,
            code,
            signed: *signed,
        }),
        _ => RefundEvidence::Unknown,
    }
}

/// Applies a REFUND.* notification to the refund it names. Its mchid, order and amount are
/// checked against our books first, whether or not this Worker made the refund; a mismatch is
/// flagged and refused.
pub async fn apply_notice(ctx: &Ctx<'_>, notice: &RefundNotice) -> ApiResult<()> {
    let refund = ctx
        .ledger
        .refunds()
        .by_out_refund_no(&notice.out_trade_no, &notice.out_refund_no)
        .await?;
    let sessions = ctx.ledger.sessions();
    let session = match &refund {
        Some(refund) => sessions.by_id(&refund.session_id).await?,
        None => sessions.by_out_trade_no(&notice.out_trade_no).await?,
    }
    .ok_or(ApiError::NotFound("order"))?;
    let mchids = ctx.wechatpay.account().payee().mchids();
    let theirs = notice.amount.refund.get();
    let agrees = session.out_trade_no == notice.out_trade_no
        && notice.mchids == mchids
        && match &refund {
            Some(refund) => refund.amount_fen == theirs,
            // Made outside this Worker: at most what the order was paid.
            None => theirs <= session.amount_fen,
        };
    let events = ctx.ledger.events();
    if !agrees {
        let detail = json!({ "field": "refund", "out_refund_no": notice.out_refund_no, "amount_fen": theirs, "mchid": notice.mchids.books_mchid() });
        events
            .flag(&session.id, Flag::NotificationMismatch, detail, ctx.now)
            .await?;
        let ours = refund.as_ref().map_or(session.amount_fen, |r| r.amount_fen);
        return Err(pay_core::Error::Mismatch {
            field: "refund",
            ours: format!("{} {} {}", session.out_trade_no, ours, mchids.books_mchid()),
            theirs: format!(
                "{} {} {}",
                notice.out_trade_no,
                theirs,
                notice.mchids.books_mchid()
            ),
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
        return events
            .refund_outside(
                &session.id,
                &notice.out_refund_no,
                &notice.refund_id,
                theirs,
                RefundState::of_platform(notice.refund_status).as_str(),
                ctx.now,
            )
            .await;
    };
    book(ctx, &refund, notice.refund_status, &notice.refund_id).await
}
