//! The merchant's risk rules where they belong (pay_core::risk decides, the books count):
//! the amount ceiling when a session is created; the scene, block lists and payer / client
//! budgets when it is paid; anomaly flags where they are seen.

use pay_core::client_ip::ClientAddress;
use pay_core::requests::Scene;
use pay_core::risk::{over_budget, BudgetRule, Flag, Subject};
use pay_core::{CstDate, Error, Fen, UnixTime};
use serde_json::json;

use crate::error::ApiResult;
use crate::store::SessionRow;
use crate::App;

/// Pay: refuses (and counts as a failed attempt) what the rules do not allow; otherwise the
/// attempt is counted against every budget, atomically.
pub async fn check_pay(
    app: &App,
    row: &SessionRow,
    scene: Scene,
    client: &ClientAddress,
) -> ApiResult<()> {
    let ip = client.key.as_str();
    let rules = &app.config.risk;
    // The payer is known before paying only in the JSAPI scene (WeChat OAuth).
    let openid = row
        .payer_openid
        .as_deref()
        .filter(|_| scene == Scene::Jsapi);
    let refusal = match rules.check_payer(scene, openid, client) {
        Err(e) => Some(e),
        Ok(()) => {
            let budgets = rules.budgets();
            let counted = app
                .store
                .count_payment_attempt(&row.id, row.amount(), ip, openid, &budgets, app.now)
                .await?;
            if counted {
                None
            } else {
                Some(budget_refusal(app, row, ip, openid, &budgets).await?)
            }
        }
    };
    match refusal {
        None => Ok(()),
        Some(e) => {
            failed_attempt(app, &row.id, e.code()).await?;
            Err(e.into())
        }
    }
}

/// Which budget refused the attempt, and when it frees up.
async fn budget_refusal(
    app: &App,
    row: &SessionRow,
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
        let since = UnixTime(app.now.secs() - rule.window_secs);
        let (count, fen, oldest) = app
            .store
            .attempt_usage(rule.subject, who, since, &row.id)
            .await?;
        if !rule.budget.fits((count, fen), row.amount()) {
            return Ok(over_budget(rule, oldest, app.now));
        }
    }
    // Over a moment ago, free now (the window moved on): the payer tries again.
    Ok(Error::LimitExceeded {
        limit: "retry",
        resets_at: Some(app.now),
    })
}

/// Counts a failed payment attempt on a session (refused here, or PAYERROR at WeChat Pay) and
/// flags the session once they reach the threshold.
pub async fn failed_attempt(app: &App, session_id: &str, reason: &str) -> ApiResult<()> {
    let attempts = app
        .store
        .record_failed_attempt(session_id, reason, app.now)
        .await?;
    let threshold = app.config.risk.failed_attempts_flag;
    if threshold > 0 && attempts >= threshold {
        app.store
            .flag(
                session_id,
                Flag::ManyFailedAttempts,
                &json!({ "attempts": attempts }),
                app.now,
            )
            .await?;
    }
    Ok(())
}

/// A refund just recorded: flagged when it comes soon after the payment and is large against
/// the day's paid volume (China time).
pub async fn check_refund(app: &App, session: &SessionRow, refund: Fen) -> ApiResult<()> {
    let Some(paid_at) = session.paid_at else {
        return Ok(());
    };
    let day_start = CstDate::of(app.now).start();
    let volume = Fen::new(app.store.paid_volume_since(day_start).await?);
    let after = app.now.secs() - paid_at;
    if app.config.risk.is_quick_large_refund(refund, after, volume) {
        app.store
            .flag(
                &session.id,
                Flag::QuickLargeRefund,
                &json!({ "refund_fen": refund.get(), "secs_after_payment": after, "day_volume_fen": volume.get() }),
                app.now,
            )
            .await?;
    }
    Ok(())
}
