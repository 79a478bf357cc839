//! The merchant's order listing and search (the API's `GET /v1/checkout/sessions` and the
//! console): newest first, cursor paging, read from the books' one shard. With more shards it
//! becomes a projection into D1 written from their events (README, "Notes for the books' move").

use pay_core::checkout::SessionStatus;
use pay_core::risk::Flag;

use worker_kit::sql::{int, opt_int, opt_text, Arg, Db};

use super::sessions::COLUMNS;
use super::CheckoutSession;
use crate::error::ApiResult;

/// What a listing is narrowed to.
#[derive(Debug, Default, PartialEq)]
pub struct SessionFilter {
    pub status: Option<SessionStatus>,
    /// A session id, out_trade_no or transaction_id, or words of the description.
    pub search: Option<String>,
    pub created_gte: Option<i64>,
    pub created_lt: Option<i64>,
    /// Only orders with this anomaly flag (`None` inside: with any).
    pub flag: Option<Option<Flag>>,
}

pub struct Listing<'a>(pub(super) &'a Db);

impl Listing<'_> {
    /// Newest first (insertion order breaks ties within a second); `after` is the last
    /// session of the previous page.
    pub async fn sessions(
        &self,
        filter: &SessionFilter,
        after: Option<&CheckoutSession>,
        limit: u32,
    ) -> ApiResult<Vec<CheckoutSession>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM checkout_sessions WHERE (?1 IS NULL OR status = ?1) \
             AND (?2 IS NULL OR (created_at, rowid) < (?2, (SELECT rowid FROM checkout_sessions WHERE id = ?3))) \
             AND (?5 IS NULL OR created_at >= ?5) AND (?6 IS NULL OR created_at < ?6) \
             AND (?7 IS NULL OR id = ?7 OR out_trade_no = ?7 OR transaction_id = ?7 \
                  OR instr(lower(description), lower(?7)) > 0) \
             AND (?8 IS NULL OR EXISTS (SELECT 1 FROM order_events e WHERE e.session_id = checkout_sessions.id \
                  AND e.kind = 'flagged' AND (?8 = 'any' OR json_extract(e.detail, '$.flag') = ?8))) \
             ORDER BY created_at DESC, rowid DESC LIMIT ?4"
        );
        let flag = filter.flag.map(|f| f.map_or("any", |flag| flag.as_str()));
        let args: [Arg; 8] = [
            opt_text(filter.status.map(SessionStatus::as_str)),
            opt_int(after.map(|a| a.created_at)),
            opt_text(after.map(|a| a.id.as_str())),
            int(limit.into()),
            opt_int(filter.created_gte),
            opt_int(filter.created_lt),
            opt_text(filter.search.as_deref()),
            opt_text(flag),
        ];
        Ok(self.0.rows(&sql, &args).await?)
    }
}
