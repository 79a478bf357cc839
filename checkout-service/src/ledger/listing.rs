//! The merchant's order listing and search (the API's `GET /v1/checkout/sessions` and the
//! console): newest first, cursor paging, read from every shard of the books and merged.

use pay_core::checkout::SessionStatus;
use pay_core::risk::Flag;

use worker_kit::sql::{int, opt_int, opt_text, Arg};

use super::sessions::COLUMNS;
use super::{CheckoutSession, Shards};
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

/// Every shard is asked and the pages merged (the listing's projection into D1 is the next
/// step: README, "Notes for the books' move").
pub struct Listing<'a>(pub(super) &'a Shards);

impl Listing<'_> {
    /// Newest first, by the millisecond each was made at (sessions made before there were
    /// milliseconds: by their second); on a tie, the higher shard first, then the later insert.
    /// `after` is the last session of the previous page.
    pub async fn sessions(
        &self,
        filter: &SessionFilter,
        after: Option<&CheckoutSession>,
        limit: u32,
    ) -> ApiResult<Vec<CheckoutSession>> {
        let after_shard = after.map(|a| self.0.named_by(&a.id));
        // The same for every shard: only where the previous page ended differs (`cursor`).
        let flag = filter.flag.map(|f| f.map_or("any", |flag| flag.as_str()));
        let args: [Arg; 8] = [
            opt_text(filter.status.map(SessionStatus::as_str)),
            opt_int(after.map(|a| a.created_ms)),
            opt_text(after.map(|a| a.id.as_str())),
            int(limit.into()),
            opt_int(filter.created_gte),
            opt_int(filter.created_lt),
            opt_text(filter.search.as_deref()),
            opt_text(flag),
        ];
        // Each shard's page, reversed: `pop` takes its newest.
        let mut pages: Vec<Vec<CheckoutSession>> = Vec::new();
        for shard in self.0.every()? {
            // Where the previous page ended, as this shard sees it.
            let cursor = match after_shard {
                None => "1",
                Some(s) if s == shard.number => {
                    "(created_ms, rowid) < (?2, (SELECT rowid FROM checkout_sessions WHERE id = ?3))"
                }
                Some(s) if s > shard.number => "created_ms <= ?2",
                Some(_) => "created_ms < ?2",
            };
            let sql = format!(
                "SELECT {COLUMNS} FROM checkout_sessions WHERE (?1 IS NULL OR status = ?1) AND {cursor} \
                 AND (?5 IS NULL OR created_at >= ?5) AND (?6 IS NULL OR created_at < ?6) \
                 AND (?7 IS NULL OR id = ?7 OR out_trade_no = ?7 OR transaction_id = ?7 \
                      OR instr(lower(description), lower(?7)) > 0) \
                 AND (?8 IS NULL OR EXISTS (SELECT 1 FROM order_events e WHERE e.session_id = checkout_sessions.id \
                      AND e.kind = 'flagged' AND (?8 = 'any' OR json_extract(e.detail, '$.flag') = ?8))) \
                 ORDER BY created_ms DESC, rowid DESC LIMIT ?4"
            );
            let mut page: Vec<CheckoutSession> = shard.db.rows(&sql, &args).await?;
            page.reverse();
            pages.push(page);
        }
        // Merged newest first: the newest head of any page, the higher shard's on a tie.
        let mut merged = Vec::with_capacity(limit as usize);
        while merged.len() < limit as usize {
            let newest = pages
                .iter()
                .enumerate()
                .filter_map(|(shard, page)| page.last().map(|s| (s.created_ms, shard)))
                .max();
            let Some((_, shard)) = newest else { break };
            merged.extend(pages[shard].pop());
        }
        Ok(merged)
    }
}
