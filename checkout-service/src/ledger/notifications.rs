//! The WeChat Pay notifications received (`notifications_received`), by WeChat Pay's id: a
//! record of what arrived (applying one is idempotent by itself).

use pay_core::UnixTime;
use worker_kit::sql::{int, text};

use super::Shards;

use crate::error::ApiResult;

/// Each in the shard its id hashes to.
pub struct Notifications<'a>(pub(super) &'a Shards);

impl Notifications<'_> {
    /// Keeps a notification's id and type, once.
    pub async fn record(&self, id: &str, event_type: &str, now: UnixTime) -> ApiResult<()> {
        self.0
            .of_key(id)?
            .write(
                "INSERT OR IGNORE INTO notifications_received (id, event_type, received_at) VALUES (?1, ?2, ?3)",
                &[text(id), text(event_type), int(now.secs())],
            )
            .await?;
        Ok(())
    }
}
