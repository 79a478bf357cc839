//! The books' scheduled work, one function per job; a failure of one session or refund does not
//! stop the others. Each shard's object does its own (its alarm: [`settle_shard`],
//! [`project_listing`]; each session's object its session's: [`settle_session`]); the cron is
//! the sweep that wakes every shard in case an alarm was lost ([`sweep`]); `POST
//! /v1/admin/run-scheduled` does all of it at once, now ([`run`]).

use pay_core::checkout::{self, SessionStatus};
use pay_core::merchant::MerchantId;
use pay_core::refund::RefundState;
use pay_core::shard;
use pay_core::UnixTime;
use serde::Serialize;

use super::webhooks::{self, Delivered};
use super::{payments, refunds, Ctx};
use crate::error::ApiResult;
use crate::ledger::CheckoutSession;

/// How many sessions (or refunds) one job looks at, so a run stays well inside the CPU limit.
const BATCH: u32 = 50;

/// What a run did.
#[derive(Debug, Serialize)]
pub struct Ran {
    pub checked: u32,
    pub failed: u32,
    pub webhooks: Delivered,
    /// The day the back office reconciled, when it did (`POST /v1/admin/run-scheduled` asks
    /// it after these jobs; the cron's run leaves that to the back office's own cron).
    pub reconciled: Option<String>,
}

/// Every job, in order, over every shard.
pub async fn run(ctx: &Ctx<'_>) -> ApiResult<Ran> {
    let (checked, failed) = settle_open_sessions(ctx, ctx.now).await?;
    settle_refunds(ctx, ctx.merchant.query_after_secs).await?;
    let webhooks = webhooks::deliver_due(ctx).await?;
    Ok(Ran {
        checked,
        failed,
        webhooks,
        reconciled: None,
    })
}

/// The cron's sweep: each shard's object, of this merchant's books and of each of the
/// registry merchants `others`, is told its work is due now, and its alarm does it
/// ([`settle_shard`], which also settles the sessions whose own alarm was lost). With the
/// books still in D1 there are no shards' objects (nor registry merchants), and the work is
/// done here ([`run`]).
pub async fn sweep(ctx: &Ctx<'_>, others: &[MerchantId]) -> ApiResult<()> {
    match ctx.ledger.shards_in_objects() {
        Some(shards) => {
            let shards: Vec<u32> = shards.collect();
            let books = std::iter::once(ctx.books.clone())
                .chain(others.iter().map(|m| ctx.books.of_merchant(m)));
            for books in books {
                for &number in &shards {
                    books.shard_due(number, ctx.now).await;
                }
            }
        }
        None => {
            run(ctx).await?;
        }
    }
    Ok(())
}

/// Sessions past their expiry by `due_by` are closed (at WeChat Pay first), and sessions still
/// unpaid a while after their prepay are queried: this heals a notification that never arrived.
async fn settle_open_sessions(ctx: &Ctx<'_>, due_by: UnixTime) -> ApiResult<(u32, u32)> {
    let (mut checked, mut failed) = (0, 0);
    let due = ctx
        .ledger
        .sessions()
        .to_settle(due_by, ctx.merchant.query_after_secs, BATCH)
        .await?;
    for session in due {
        checked += 1;
        if let Err(e) = payments::settle_by_query(ctx, &session).await {
            failed += 1;
            worker::console_warn!("scheduled check of {} failed: {}", session.id, e.log_line());
        }
    }
    Ok((checked, failed))
}

/// One session's due work, as its object's alarm runs it (objects/timers.rs): settled as the
/// cron settles it (its order asked about after the prepay, the session closed past its
/// expiry); when it falls due again if it is still open.
pub async fn settle_session(ctx: &Ctx<'_>, id: &str) -> ApiResult<Option<UnixTime>> {
    let sessions = ctx.ledger.sessions();
    let open = |s: Option<CheckoutSession>| s.filter(|s| s.status == SessionStatus::Open);
    let Some(session) = open(sessions.by_id(id).await?) else {
        return Ok(None);
    };
    payments::settle_by_query(ctx, &session).await?;
    Ok(open(sessions.by_id(id).await?).map(|s| {
        checkout::next_due(
            UnixTime(s.expires_at),
            s.prepay_created_at.map(UnixTime),
            ctx.merchant.query_after_secs,
            Some(ctx.now),
        )
    }))
}

/// Shard `number`'s due work, as its object's alarm runs it (objects/timers.rs) with a ledger
/// narrowed to that shard: the refunds waiting for WeChat Pay's word asked about, the webhooks
/// due delivered, the sessions whose own alarm was lost settled, the listing caught up; when
/// the shard falls due again, if it does (pay_core::shard::next_due).
pub async fn settle_shard(ctx: &Ctx<'_>, number: u32) -> ApiResult<Option<UnixTime>> {
    // Refunds only once they have waited as long as the alarm would wait for them (whatever
    // woke it: a webhook retry must not race a refund's own answer or notification).
    let wait = shard::refund_wait_secs(ctx.merchant.query_after_secs);
    settle_refunds(ctx, wait).await?;
    webhooks::deliver_due(ctx).await?;
    settle_open_sessions(ctx, shard::sweep_settles_due_by(ctx.now)).await?;
    if project_listing(ctx, number).await?.is_some() {
        return Ok(Some(ctx.now));
    }
    let waiting = ctx.ledger.waiting_work().await?;
    Ok(shard::next_due(
        // Without an endpoint nothing is delivered: no retry to wake for.
        waiting.outbox.filter(|_| ctx.merchant.webhook.is_some()),
        waiting.refunds,
        ctx.merchant.query_after_secs,
        ctx.now,
    ))
}

/// Shard `number`'s changes projected into the listing, one round (its object's alarm, told
/// by the shard's writes: `LISTING_LAG_SECS` after the first); due again at once if more wait.
pub async fn project_listing(ctx: &Ctx<'_>, number: u32) -> ApiResult<Option<UnixTime>> {
    let more = ctx.ledger.listing().project(number, ctx.now).await?;
    Ok(more.then_some(ctx.now))
}

/// The refunds waiting for WeChat Pay's word, unchanged for `older_than` seconds, asked about.
async fn settle_refunds(ctx: &Ctx<'_>, older_than: i64) -> ApiResult<()> {
    resume_lost_refunds(ctx, older_than).await?;
    settle_processing_refunds(ctx, older_than).await
}

/// Refunds whose answer was lost (5xx, network, a rate limit) and unchanged for `older_than`
/// seconds: asked about, and sent again with their own out_refund_no only if WeChat Pay holds
/// none.
async fn resume_lost_refunds(ctx: &Ctx<'_>, older_than: i64) -> ApiResult<()> {
    let waiting = ctx
        .ledger
        .refunds()
        .waiting(RefundState::Pending, ctx.now, older_than, BATCH)
        .await?;
    for refund in waiting {
        let Some(session) = ctx.ledger.sessions().by_id(&refund.session_id).await? else {
            continue;
        };
        if let Err(e) = refunds::resume(ctx, &refund, &session).await {
            worker::console_warn!("refund {} still pending: {}", refund.id, e.log_line());
        }
    }
    Ok(())
}

/// Refunds WeChat Pay accepted whose outcome no notification brought in `older_than` seconds:
/// asked about.
async fn settle_processing_refunds(ctx: &Ctx<'_>, older_than: i64) -> ApiResult<()> {
    let waiting = ctx
        .ledger
        .refunds()
        .waiting(RefundState::Processing, ctx.now, older_than, BATCH)
        .await?;
    for refund in waiting {
        if let Err(e) = refunds::settle_by_query(ctx, &refund).await {
            worker::console_warn!("refund {} not settled: {}", refund.id, e.log_line());
        }
    }
    Ok(())
}
