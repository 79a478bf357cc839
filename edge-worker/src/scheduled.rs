//! The cron trigger's work, also runnable on demand (`POST /v1/admin/run-scheduled` with the
//! merchant key): close sessions past their expiry (at WeChat Pay first, then locally), and
//! query sessions still unpaid some minutes after their prepay, applying what WeChat Pay says
//! (this heals a notification that never arrived); then deliver the merchant webhooks due.

use serde_json::json;

use crate::error::ApiResult;
use crate::{orders, webhooks, App};

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
            Ok(()) => settled += 1,
            Err(e) => {
                failed += 1;
                worker::console_warn!("scheduled check of {} failed: {e:?}", row.id);
            }
        }
    }
    let webhooks = webhooks::deliver_due(app).await?;
    Ok(json!({ "checked": settled + failed, "failed": failed, "webhooks": webhooks }))
}
