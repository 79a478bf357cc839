//! WeChat Pay's platform certificates (`platform_certificates`) in certificate mode, and when
//! they were last downloaded (`certificate_refreshes`, one row: downloads are throttled).

use pay_core::UnixTime;
use serde::Deserialize;
use worker_kit::sql::{int, text, Db};

use crate::error::ApiResult;

#[derive(Clone, Copy)]
pub struct Certificates<'a>(pub(super) &'a Db);

impl Certificates<'_> {
    /// Certificates valid at `now`: (serial, PEM).
    pub async fn valid_at(&self, now: UnixTime) -> ApiResult<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Row {
            serial: String,
            pem: String,
        }
        let rows: Vec<Row> = self
            .0
            .rows(
                "SELECT serial, pem FROM platform_certificates WHERE not_before <= ?1 AND not_after >= ?1",
                &[int(now.secs())],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.serial, r.pem)).collect())
    }

    pub async fn save(
        &self,
        serial: &str,
        pem: &str,
        not_before: UnixTime,
        not_after: UnixTime,
        now: UnixTime,
    ) -> ApiResult<()> {
        // A serial names one certificate for good: one already kept costs no write.
        self.0
            .write(
                "INSERT INTO platform_certificates (serial, pem, not_before, not_after, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (serial) DO NOTHING",
                &[text(serial), text(pem), int(not_before.secs()), int(not_after.secs()), int(now.secs())],
            )
            .await?;
        Ok(())
    }

    /// When the certificates were last downloaded.
    pub async fn last_refresh(&self) -> ApiResult<Option<UnixTime>> {
        let at: Option<i64> = self
            .0
            .value(
                "SELECT at FROM certificate_refreshes WHERE id = 1",
                &[],
                "at",
            )
            .await?;
        Ok(at.map(UnixTime))
    }

    /// Moves the last download time from `seen` (as read) to `now`; false if another request
    /// moved it first (that one downloads).
    pub async fn stamp_refresh(&self, seen: Option<UnixTime>, now: UnixTime) -> ApiResult<bool> {
        Ok(match seen {
            None => {
                self.0
                    .write(
                        "INSERT OR IGNORE INTO certificate_refreshes (id, at) VALUES (1, ?1)",
                        &[int(now.secs())],
                    )
                    .await?
            }
            Some(seen) => {
                self.0
                    .write(
                        "UPDATE certificate_refreshes SET at = ?1 WHERE id = 1 AND at = ?2",
                        &[int(now.secs()), int(seen.secs())],
                    )
                    .await?
            }
        })
    }
}
