//! The merchant's risk rules where they apply (pay_core::risk decides, the books count): the
//! scene, block lists and payer / client budgets when a session is paid; anomaly flags where
//! they are seen. (The amount ceiling is checked when a session is created, services::sessions.)

use pay_core::client_ip::ClientAddress;
use pay_core::requests::Scene;
use pay_core::risk::{over_budget, BudgetRule, Flag, Subject};
use pay_core::{CstDate, Error, Fen, UnixTime};
use serde_json::json;

use super::Ctx;
use crate::error::ApiResult;
use crate::ledger::CheckoutSession;

/// Pay: refuses (and counts as a failed attempt) what the rules do not allow; otherwise the
/// attempt is counted against every budget, atomically.
pub async fn check_pay(
    ctx: &Ctx<'_>,
    session: &CheckoutSession,
    scene: Scene,
    client: &ClientAddress,
) -> ApiResult<()> {
    let ip = client.key.as_str();
    let rules = &ctx.merchant.risk;
    // The payer is known before paying only in the JSAPI scene (WeChat OAuth).
    let openid = session
        .payer_openid
        .as_deref()
        .filter(|_| scene == Scene::Jsapi);
    let refusal = match rules.check_payer(scene, openid, client) {
        Err(e) => Some(e),
        Ok(()) => {
            let budgets = rules.budgets();
            let counted = ctx
                .ledger
                .attempts()
                .count(&session.id, session.amount(), ip, openid, &budgets, ctx.now)
                .await?;
            if counted {
                None
            } else {
                Some(budget_refusal(ctx, session, ip, openid, &budgets).await?)
            }
        }
    };
    match refusal {
        None => Ok(()),
        Some(e) => {
            failed_attempt(ctx, &session.id, e.code()).await?;
            Err(e.into())
        }
    }
}

/// Which budget refused the attempt, and when it frees up.
async fn budget_refusal(
    ctx: &Ctx<'_>,
    session: &CheckoutSession,
    ip: &str,
    openid: Option<&str>,
    budgets: &[BudgetRule],
) -> ApiResult<Error> {
    for rule in budgets.iter().filter(|r| !r.budget.is_off()) {
        let who = match (rule.subject, openid) {
            (Subject::Ip, _) => ip,
            (Subject::Payer, Some(openid)) => openid,
            (Subject::Payer, None) => continue,
        };
        let since = UnixTime(ctx.now.secs() - rule.window_secs);
        let usage = ctx
            .ledger
            .attempts()
            .usage(rule.subject, who, since, &session.id)
            .await?;
        if !rule.budget.fits((usage.count, usage.fen), session.amount()) {
            return Ok(over_budget(rule, usage.oldest, ctx.now));
        }
    }
    // Over a moment ago, free now (the window moved on): the payer tries again.
    Ok(Error::LimitExceeded {
        limit: "retry",
        resets_at: Some(ctx.now),
    })
}

/// Counts a failed payment attempt on a session (refused here, or PAYERROR at WeChat Pay) and
/// flags the session once they reach the threshold.
pub async fn failed_attempt(ctx: &Ctx<'_>, session_id: &str, reason: &str) -> ApiResult<()> {
    let events = ctx.ledger.events();
    let attempts = events.payment_failed(session_id, reason, ctx.now).await?;
    let threshold = ctx.merchant.risk.failed_attempts_flag;
    if threshold > 0 && attempts >= threshold {
        let detail = json!({ "attempts": attempts });
        events
            .flag(session_id, Flag::ManyFailedAttempts, detail, ctx.now)
            .await?;
    }
    Ok(())
}

/// A refund just recorded is flagged when it comes soon after the payment and is large against
/// the day's paid volume (China time). It refuses nothing.
pub async fn flag_quick_large_refund(
    ctx: &Ctx<'_>,
    session: &CheckoutSession,
    refund: Fen,
) -> ApiResult<()> {
    let Some(paid_at) = session.paid_at else {
        return Ok(());
    };
    let day_start = CstDate::of(ctx.now).start();
    let volume = ctx.ledger.sessions().paid_volume_since(day_start).await?;
    let after = ctx.now.secs() - paid_at;
    if ctx
        .merchant
        .risk
        .is_quick_large_refund(refund, after, volume)
    {
        let detail = json!({ "refund_fen": refund.get(), "secs_after_payment": after, "day_volume_fen": volume.get() });
        ctx.ledger
            .events()
            .flag(&session.id, Flag::QuickLargeRefund, detail, ctx.now)
            .await?;
    }
    Ok(())
}
