//! Refunds (`refunds`): recorded pending with an out_refund_no fixed for good, then moved by
//! WeChat Pay's signed word. A refund is recorded only if refunds of its session stay within
//! what was paid (the insert is conditional; a trigger guards the same rule).

use pay_core::refund::RefundState;
use pay_core::{Fen, UnixTime};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker_kit::sql::{changed, int, opt_text, text, Db};

use super::events::{record, EventKind, When};
use super::sessions::json_list;
use super::{untagged, Shards};
use crate::error::{ApiError, ApiResult};

/// One refund of a paid session.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Refund {
    pub id: String,
    pub session_id: String,
    pub out_refund_no: String,
    pub amount_fen: i64,
    pub reason: Option<String>,
    pub status: RefundState,
    /// WeChat Pay's id, once it accepted the refund.
    pub refund_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A refund as reconciliation needs it, with its order's number and amount.
#[derive(Debug, Clone, Deserialize)]
pub struct ReconciledRefund {
    pub out_refund_no: String,
    pub out_trade_no: String,
    pub amount_fen: i64,
    pub order_amount_fen: i64,
    pub status: RefundState,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, session_id, out_refund_no, amount_fen, reason, status, refund_id, created_at, updated_at";

pub struct Refunds<'a>(pub(super) &'a Shards);

impl Refunds<'_> {
    /// Records a new pending refund of `amount` on the paid session `session_id`; refused when
    /// it would take the session's refunds above what was paid (or it is not paid).
    pub async fn insert(
        &self,
        id: &str,
        session_id: &str,
        out_refund_no: &str,
        amount: Fen,
        reason: Option<&str>,
        now: UnixTime,
    ) -> ApiResult<()> {
        let inserted = self
            .0
            .of_id(session_id)?
            .write(
                &format!(
                    "INSERT INTO refunds ({COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, 'pending', NULL, ?6, ?6 \
                     WHERE (SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE session_id = ?2 AND status <> 'failed') + ?4 \
                           <= (SELECT amount_fen FROM checkout_sessions WHERE id = ?2 AND status = 'paid')"
                ),
                &[
                    text(id),
                    text(session_id),
                    text(out_refund_no),
                    int(amount.get()),
                    opt_text(reason),
                    int(now.secs()),
                ],
            )
            .await?;
        if inserted {
            Ok(())
        } else {
            Err(ApiError::RefundExceedsPayment)
        }
    }

    async fn find(db: &Db, column: &str, value: &str) -> ApiResult<Option<Refund>> {
        let sql = format!("SELECT {COLUMNS} FROM refunds WHERE {column} = ?1");
        Ok(db.first(&sql, &[text(value)]).await?)
    }

    /// The refund with this id (which names its order's shard).
    pub async fn by_id(&self, id: &str) -> ApiResult<Option<Refund>> {
        Self::find(&self.0.of_id(id)?, "id", id).await
    }

    /// The refund `out_refund_no` of the order `out_trade_no` (a notification names both).
    pub async fn by_out_refund_no(
        &self,
        out_trade_no: &str,
        out_refund_no: &str,
    ) -> ApiResult<Option<Refund>> {
        let db = self.0.of_key(out_trade_no)?;
        Self::find(&db, "out_refund_no", out_refund_no).await
    }

    pub async fn of_session(&self, session_id: &str) -> ApiResult<Vec<Refund>> {
        let sql =
            format!("SELECT {COLUMNS} FROM refunds WHERE session_id = ?1 ORDER BY created_at");
        Ok(self
            .0
            .of_id(session_id)?
            .rows(&sql, &[text(session_id)])
            .await?)
    }

    /// Refunds in `status` (`pending`: the answer was lost; `processing`: the notification is
    /// awaited) unchanged for `older_than` seconds, oldest first.
    pub async fn waiting(
        &self,
        status: RefundState,
        now: UnixTime,
        older_than: i64,
        limit: u32,
    ) -> ApiResult<Vec<Refund>> {
        let sql = format!("SELECT {COLUMNS} FROM refunds WHERE status = ?3 AND updated_at <= ?1 ORDER BY created_at LIMIT ?2");
        let args = [
            int(now.secs() - older_than),
            int(limit.into()),
            text(status.as_str()),
        ];
        untagged(self.0.rows_of_every(&sql, &args).await?)
    }

    /// Moves `refund` from `from` to `to` (with WeChat Pay's refund id when known), and writes
    /// the move's event with it; false if the refund was no longer in `from`.
    pub async fn move_to(
        &self,
        refund: &Refund,
        from: RefundState,
        to: RefundState,
        refund_id: Option<&str>,
        now: UnixTime,
    ) -> ApiResult<bool> {
        let db = self.0.of_id(&refund.session_id)?;
        let update = db.statement(
            "UPDATE refunds SET status = ?2, refund_id = COALESCE(?3, refund_id), updated_at = ?4 WHERE id = ?1 AND status = ?5",
            &[
                text(&refund.id),
                text(to.as_str()),
                opt_text(refund_id),
                int(now.secs()),
                text(from.as_str()),
            ],
        );
        let detail = json!({ "refund": refund.id, "amount_fen": refund.amount_fen });
        let [event, outbox] = record(
            &db,
            &refund.session_id,
            EventKind::refund(to),
            &detail,
            now,
            When::Changed,
        );
        let results = db.batch(vec![update, event, outbox]).await?;
        Ok(changed(&results[0])?)
    }

    /// The refunds a day's bill names, and those our books saw succeed that day.
    pub async fn for_reconciliation(
        &self,
        out_refund_nos: &[&str],
        start: UnixTime,
        end: UnixTime,
    ) -> ApiResult<Vec<ReconciledRefund>> {
        let args = [
            json_list(out_refund_nos),
            int(start.secs()),
            int(end.secs()),
        ];
        let rows = self
            .0
            .rows_of_every(
                "SELECT r.out_refund_no, s.out_trade_no, r.amount_fen, s.amount_fen AS order_amount_fen, \
                        r.status, r.updated_at \
                 FROM refunds r JOIN checkout_sessions s ON s.id = r.session_id \
                 WHERE r.out_refund_no IN (SELECT value FROM json_each(?1)) \
                    OR (r.status = 'succeeded' AND r.updated_at >= ?2 AND r.updated_at < ?3)",
                &args,
            )
            .await?;
        untagged(rows)
    }
}
