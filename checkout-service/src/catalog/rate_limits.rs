//! Rate-limit windows (`rate_limit_hits`): hits per bucket and window start, counted by one
//! atomic upsert each (pay_core::rate_limit decides).

use pay_core::UnixTime;
use worker_kit::d1::{int, text, Db};

use crate::error::{ApiError, ApiResult};

pub struct RateWindows<'a>(pub(super) &'a Db);

impl RateWindows<'_> {
    /// Counts one hit in a window and returns the window's count with it: concurrent hits never
    /// share a count.
    pub async fn hit(&self, bucket: &str, window_start: i64) -> ApiResult<i64> {
        let hits: Option<i64> = self
            .0
            .value(
                "INSERT INTO rate_limit_hits (bucket, window_start, hits) VALUES (?1, ?2, 1) \
                 ON CONFLICT (bucket, window_start) DO UPDATE SET hits = hits + 1 RETURNING hits",
                &[text(bucket), int(window_start)],
                "hits",
            )
            .await?;
        hits.ok_or_else(|| ApiError::Internal("the rate-limit upsert returned no count".into()))
    }

    /// Deletes windows that started before `before` (those that have ended).
    pub async fn forget_before(&self, before: UnixTime) -> ApiResult<()> {
        self.0
            .write(
                "DELETE FROM rate_limit_hits WHERE window_start < ?1",
                &[int(before.secs())],
            )
            .await?;
        Ok(())
    }
}
