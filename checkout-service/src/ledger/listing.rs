//! The merchant's order listing and search (the API's `GET /v1/checkout/sessions` and the
//! console): newest first, cursor paging, in one query. With the books in the objects it reads
//! D1's `order_listing`, which each shard's object keeps up to date from its events
//! ([`Listing::project`]: a second or so behind them, never missing one); with the books still
//! in D1 it reads their own `books_listing` view. Both have the same columns (migrations 0020,
//! 0021).

use pay_core::checkout::SessionStatus;
use pay_core::risk::Flag;
use pay_core::UnixTime;
use serde::Deserialize;
use serde_json::Value;
use worker_kit::sql::{int, opt_int, opt_text, text, Db};

use super::sessions::LISTED;
use super::{CheckoutSession, Place, Shards};
use crate::error::{ApiError, ApiResult};

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

pub struct Listing<'a>(pub(super) &'a Shards);

/// What the listing holds of a merchant, for the operator's overview.
#[derive(Debug, Default, Deserialize)]
pub struct ListingSummary {
    pub paid: i64,
    pub paid_fen: i64,
    /// Orders with an anomaly flag.
    pub flagged: i64,
}

/// How many of a shard's events one round of the projection reads (one D1 write carries the
/// sessions they changed, bound as one JSON parameter).
const ROUND: i64 = 100;

/// The sessions that a shard's events after `?1` changed, up to `ROUND` (`?2`) events, as its
/// `books_listing` view shows them, each with the last event of the round (`upto`) and the
/// shard's newest (`newest`).
const CHANGED: &str = "WITH upto AS (SELECT COALESCE( \
       (SELECT seq FROM order_events WHERE seq > ?1 ORDER BY seq LIMIT 1 OFFSET ?2 - 1), \
       (SELECT MAX(seq) FROM order_events)) AS seq) \
     SELECT *, (SELECT seq FROM upto) AS upto, (SELECT MAX(seq) FROM order_events) AS newest \
     FROM books_listing WHERE id IN \
       (SELECT session_id FROM order_events WHERE seq > ?1 AND seq <= (SELECT seq FROM upto))";

/// Where one round of a projection got to.
#[derive(Deserialize)]
struct Round {
    upto: i64,
    newest: i64,
}

impl Listing<'_> {
    /// Where the listing is read: D1's projection, or the books' own view while they are in D1.
    fn source(&self) -> (&Db, &'static str) {
        match &self.0.place {
            Place::D1(db) => (db, "books_listing"),
            Place::Objects { listing, .. } => (listing, "order_listing"),
        }
    }

    /// The merchant whose orders D1's projection holds these books' under; `None` while the
    /// books are in D1 (the default merchant's alone).
    fn merchant(&self) -> Option<String> {
        match &self.0.place {
            Place::D1(_) => None,
            Place::Objects { .. } => Some(self.0.merchant().to_string()),
        }
    }

    /// Newest first, by the millisecond each was made at; on a tie, the higher shard first,
    /// then the later insert. `after` is the id of the last session of the previous page (one
    /// the listing does not hold is a 404).
    pub async fn sessions(
        &self,
        filter: &SessionFilter,
        after: Option<&str>,
        limit: u32,
    ) -> ApiResult<Vec<CheckoutSession>> {
        let (db, source) = self.source();
        let merchant = self.merchant();
        // The merchant's rows only (`?8`, and `?2` in the cursor's statement): another's id is
        // no cursor of this listing.
        let (mine, mine_2) = match merchant {
            Some(_) => ("merchant_id = ?8", "merchant_id = ?2"),
            None => ("1", "1"),
        };
        let flag = filter.flag.map(|f| f.map_or("any", |flag| flag.as_str()));
        let mut args = vec![
            opt_text(filter.status.map(SessionStatus::as_str)),
            opt_text(after),
            int(limit.into()),
            opt_int(filter.created_gte),
            opt_int(filter.created_lt),
            opt_text(filter.search.as_deref()),
            opt_text(flag),
        ];
        args.extend(merchant.as_deref().map(text));
        let page = db.statement(
            &format!(
                "SELECT {LISTED} FROM {source} WHERE {mine} AND (?1 IS NULL OR status = ?1) \
                 AND (?2 IS NULL OR (created_ms, shard, shard_row) < \
                      (SELECT created_ms, shard, shard_row FROM {source} WHERE id = ?2)) \
                 AND (?4 IS NULL OR created_at >= ?4) AND (?5 IS NULL OR created_at < ?5) \
                 AND (?6 IS NULL OR id = ?6 OR out_trade_no = ?6 OR transaction_id = ?6 \
                      OR instr(lower(description), lower(?6)) > 0) \
                 AND (?7 IS NULL OR (?7 = 'any' AND flags <> '') OR instr(flags, ' ' || ?7 || ' ') > 0) \
                 ORDER BY created_ms DESC, shard DESC, shard_row DESC LIMIT ?3"
            ),
            &args,
        );
        // With a cursor, whether this merchant's listing holds it, in the same round trip.
        let cursor = after.map(|id| {
            let mut args = vec![text(id)];
            args.extend(merchant.as_deref().map(text));
            db.statement(
                &format!("SELECT id FROM {source} WHERE id = ?1 AND {mine_2}"),
                &args,
            )
        });
        let mut outcomes = db.batch(cursor.into_iter().chain([page]).collect()).await?;
        let page = outcomes
            .pop()
            .ok_or_else(|| ApiError::Internal("a listing's batch answered nothing".into()))?;
        if after.is_some() && outcomes.pop().is_none_or(|cursor| cursor.rows.is_empty()) {
            return Err(ApiError::NotFound("checkout session for starting_after"));
        }
        Ok(worker_kit::sql::typed_rows(page.rows)?)
    }

    /// The merchant's paid orders, their sum, and its flagged orders.
    pub async fn summary(&self) -> ApiResult<ListingSummary> {
        let (db, source) = self.source();
        let merchant = self.merchant();
        let mine = if merchant.is_some() {
            "merchant_id = ?1"
        } else {
            "1"
        };
        let sql = format!(
            "SELECT COALESCE(SUM(status = 'paid'), 0) AS paid, \
             COALESCE(SUM(CASE WHEN status = 'paid' THEN amount_fen ELSE 0 END), 0) AS paid_fen, \
             COALESCE(SUM(flags <> ''), 0) AS flagged FROM {source} WHERE {mine}"
        );
        let args: Vec<_> = merchant.as_deref().map(text).into_iter().collect();
        Ok(db.first(&sql, &args).await?.unwrap_or_default())
    }

    /// One round of shard `number`'s projection into D1's listing: the sessions its events since
    /// the last round changed, written with the round's last event in one transaction; whether
    /// more events wait. A row never overwrites a newer one (a round run twice, or two at once,
    /// changes nothing). Nothing to do while the books are in D1.
    pub async fn project(&self, number: u32, now: UnixTime) -> ApiResult<bool> {
        let Place::Objects { listing, .. } = &self.0.place else {
            return Ok(false);
        };
        let shard = int(number.into());
        let merchant = text(&self.0.merchant().to_string());
        let since: i64 = listing
            .value(
                "SELECT projected_seq FROM listing_progress WHERE merchant_id = ?1 AND shard = ?2",
                &[merchant.clone(), shard.clone()],
                "projected_seq",
            )
            .await?
            .unwrap_or(0);
        let changed: Vec<Value> = self
            .0
            .db(number)?
            .rows(CHANGED, &[int(since), int(ROUND)])
            .await?;
        let Some(first) = changed.first() else {
            return Ok(false);
        };
        let round: Round = worker_kit::sql::typed_row(first.clone())?;
        let columns = LISTED_IN_ORDER_LISTING;
        let read: Vec<String> = columns
            .split(", ")
            .map(|c| format!("json_extract(value, '$.{c}')"))
            .collect();
        let update: Vec<String> = columns
            .split(", ")
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let upsert = listing.statement(
            &format!(
                "INSERT INTO order_listing ({columns}, shard, merchant_id) \
                 SELECT {}, ?2, ?3 FROM json_each(?1) WHERE 1 \
                 ON CONFLICT (id) DO UPDATE SET {}, shard = excluded.shard \
                 WHERE excluded.last_seq > order_listing.last_seq",
                read.join(", "),
                update.join(", ")
            ),
            &[
                text(&Value::Array(changed).to_string()),
                shard.clone(),
                merchant.clone(),
            ],
        );
        let progress = listing.statement(
            "INSERT INTO listing_progress (merchant_id, shard, projected_seq, projected_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (merchant_id, shard) DO UPDATE SET \
             projected_seq = MAX(projected_seq, excluded.projected_seq), projected_at = excluded.projected_at",
            &[merchant, shard, int(round.upto), int(now.secs())],
        );
        listing.batch(vec![upsert, progress]).await?;
        Ok(round.upto < round.newest)
    }
}

/// The columns a projected row is written with, its shard apart (the view says 0: it does not
/// know its shard's number).
const LISTED_IN_ORDER_LISTING: &str = concat!(listed_columns!(), ", shard_row, flags, last_seq");
