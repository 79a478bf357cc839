//! The cron trigger's work, also runnable on demand (`POST /v1/admin/run-scheduled` with the
//! merchant key): close sessions past their expiry (at WeChat Pay first, then locally), and
//! query sessions still unpaid some minutes after their prepay, applying what WeChat Pay says
//! (this heals a notification that never arrived); ask about refunds whose answer was lost
//! (and send them again if WeChat Pay holds none),
//! and ask about accepted refunds whose notification never came;
//! reconcile yesterday once its bills are out (after 10:00 China time); then deliver the
//! merchant webhooks due.

use serde_json::json;

use crate::error::ApiResult;
use crate::{orders, reconcile, refunds, webhooks, App};

/// How many sessions one run looks at, so a run stays well inside the CPU limit.
const BATCH: u32 = 50;

/// One pass; a failure on one session does not stop the others.
pub async fn run(app: &App) -> ApiResult<serde_json::Value> {
    let (mut settled, mut failed) = (0, 0);
    for row in app
        .store
        .sessions_to_settle(app.now, app.config.query_after_secs, BATCH)
        .await?
    {
        match orders::settle_by_query(app, &row).await {
            Ok(_) => settled += 1,
            Err(e) => {
                failed += 1;
                worker::console_warn!("scheduled check of {} failed: {}", row.id, e.log_line());
            }
        }
    }
    // Refunds whose answer was lost (5xx, network, a rate limit): asked about, and sent again
    // with their own out_refund_no only if WeChat Pay holds none.
    for refund in app
        .store
        .refunds_waiting("pending", app.now, app.config.query_after_secs, BATCH)
        .await?
    {
        let session = app.store.session_by_id(&refund.session_id).await?;
        if let Some(session) = session {
            if let Err(e) = refunds::resume(app, &refund, &session).await {
                worker::console_warn!("refund {} still pending: {}", refund.id, e.log_line());
            }
        }
    }
    // Refunds accepted whose outcome no notification brought: asked about.
    for refund in app
        .store
        .refunds_waiting("processing", app.now, app.config.query_after_secs, BATCH)
        .await?
    {
        if let Err(e) = refunds::settle_by_query(app, &refund).await {
            worker::console_warn!("refund {} not settled: {}", refund.id, e.log_line());
        }
    }
    // Yesterday's bills, once WeChat Pay has them out (after 10:00 China time).
    let reconciled = match reconcile::run_if_due(app).await {
        Ok(report) => report.map(|r| r["run"]["bill_date"].clone()),
        Err(e) => {
            worker::console_warn!("scheduled reconciliation failed: {}", e.log_line());
            None
        }
    };
    // Rate-limit windows that have ended are of no further use.
    app.store
        .forget_rate_windows(pay_core::UnixTime(
            app.now.secs() - app.config.limits.window_secs,
        ))
        .await?;
    let webhooks = webhooks::deliver_due(app).await?;
    Ok(
        json!({ "checked": settled + failed, "failed": failed, "webhooks": webhooks, "reconciled": reconciled }),
    )
}
