//! A session's append-only events (`order_events`), each with its outbox row
//! (`webhook_outbox`, delivered as a merchant webhook): written in the same batch as the change
//! they record, and only if it changed something.

use pay_core::risk::{Flag, MAX_FAILED_ATTEMPT_EVENTS};
use pay_core::UnixTime;
use serde::Deserialize;
use serde_json::{json, Value};
use worker_kit::sql::{int, text, Db, Statement};

use super::Shards;
use crate::error::ApiResult;

/// What happened to an order: the closed set of event kinds, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    PrepayCreated,
    Paid,
    Closed,
    PaymentFailed,
    PaymentAfterClose,
    Flagged,
    RefundOutside,
    RefundPending,
    RefundProcessing,
    RefundSucceeded,
    RefundAbnormal,
    RefundFailed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::PrepayCreated => "prepay_created",
            EventKind::Paid => "paid",
            EventKind::Closed => "closed",
            EventKind::PaymentFailed => "payment_failed",
            EventKind::PaymentAfterClose => "payment_after_close",
            EventKind::Flagged => "flagged",
            EventKind::RefundOutside => "refund_outside",
            EventKind::RefundPending => "refund_pending",
            EventKind::RefundProcessing => "refund_processing",
            EventKind::RefundSucceeded => "refund_succeeded",
            EventKind::RefundAbnormal => "refund_abnormal",
            EventKind::RefundFailed => "refund_failed",
        }
    }

    /// The event a refund's move into `state` records.
    pub fn refund(state: pay_core::refund::RefundState) -> Self {
        use pay_core::refund::RefundState as S;
        match state {
            S::Pending => EventKind::RefundPending,
            S::Processing => EventKind::RefundProcessing,
            S::Succeeded => EventKind::RefundSucceeded,
            S::Abnormal => EventKind::RefundAbnormal,
            S::Failed => EventKind::RefundFailed,
        }
    }

    /// The type a merchant's webhook names: `checkout.session.paid`, `refund.succeeded`, …
    pub fn webhook_type(self) -> String {
        let kind = self.as_str();
        match kind.strip_prefix("refund_") {
            Some(rest) => format!("refund.{rest}"),
            None => format!("checkout.session.{kind}"),
        }
    }
}

/// One row of `order_events`.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderEvent {
    pub kind: EventKind,
    #[serde(deserialize_with = "super::json_text")]
    pub detail: serde_json::Map<String, Value>,
    pub created_at: i64,
}

/// When an event is written.
pub(super) enum When {
    /// Only if the statement before it in the batch changed a row (the change it records).
    Changed,
    /// Unless the schema already holds one like it (a flag, an anomaly: once each).
    Once,
}

/// The event's row and its outbox row, as two statements for the change's batch: the outbox
/// row is written only if the event was.
pub(super) fn record(
    db: &Db,
    session_id: &str,
    kind: EventKind,
    detail: &Value,
    at: UnixTime,
    when: When,
) -> [Statement; 2] {
    let sql = match when {
        When::Changed => {
            "INSERT INTO order_events (session_id, kind, detail, created_at) \
             SELECT ?1, ?2, ?3, ?4 WHERE changes() = 1"
        }
        When::Once => {
            "INSERT OR IGNORE INTO order_events (session_id, kind, detail, created_at) \
             VALUES (?1, ?2, ?3, ?4)"
        }
    };
    let event = db.statement(
        sql,
        &[
            text(session_id),
            text(kind.as_str()),
            text(&detail.to_string()),
            int(at.secs()),
        ],
    );
    [event, outbox_row(db, at)]
}

/// The outbox row of the event the statement before it wrote, due at once.
fn outbox_row(db: &Db, at: UnixTime) -> Statement {
    db.statement(
        "INSERT INTO webhook_outbox (event_seq, next_attempt_at) \
         SELECT last_insert_rowid(), ?1 WHERE changes() = 1",
        &[int(at.secs())],
    )
}

pub struct Events<'a>(pub(super) &'a Shards);

impl Events<'_> {
    /// A session's events, oldest first: its timeline.
    pub async fn of(&self, session_id: &str) -> ApiResult<Vec<OrderEvent>> {
        Ok(self
            .0
            .of_id(session_id)?
            .rows(
                "SELECT kind, detail, created_at FROM order_events WHERE session_id = ?1 ORDER BY seq",
                &[text(session_id)],
            )
            .await?)
    }

    async fn once(
        &self,
        session_id: &str,
        kind: EventKind,
        detail: &Value,
        at: UnixTime,
    ) -> ApiResult<()> {
        let db = self.0.of_id(session_id)?;
        let statements = record(&db, session_id, kind, detail, at, When::Once);
        db.batch(statements.into()).await?;
        Ok(())
    }

    /// Keeps an anomaly on its order, once per kind (a `flagged` event, and so a webhook);
    /// `detail` is a JSON object that says what was seen.
    pub async fn flag(
        &self,
        session_id: &str,
        flag: Flag,
        mut detail: Value,
        at: UnixTime,
    ) -> ApiResult<()> {
        detail["flag"] = json!(flag.as_str());
        self.once(session_id, EventKind::Flagged, &detail, at).await
    }

    /// Keeps a payment that arrived for a locally closed order, once per transaction.
    pub async fn payment_after_close(
        &self,
        session_id: &str,
        transaction_id: &str,
        at: UnixTime,
    ) -> ApiResult<()> {
        let detail = json!({ "transaction_id": transaction_id, "action": "refund" });
        self.once(session_id, EventKind::PaymentAfterClose, &detail, at)
            .await
    }

    /// Keeps a refund this Worker never made, notified by WeChat Pay, once on its order.
    pub async fn refund_outside(
        &self,
        session_id: &str,
        out_refund_no: &str,
        refund_id: &str,
        amount_fen: i64,
        status: &str,
        at: UnixTime,
    ) -> ApiResult<()> {
        let detail = json!({ "out_refund_no": out_refund_no, "refund_id": refund_id, "amount_fen": amount_fen, "status": status });
        self.once(session_id, EventKind::RefundOutside, &detail, at)
            .await
    }

    /// Records a failed payment attempt on a session (up to `MAX_FAILED_ATTEMPT_EVENTS` of
    /// them); answers how many it has had, counted that far.
    pub async fn payment_failed(
        &self,
        session_id: &str,
        reason: &str,
        at: UnixTime,
    ) -> ApiResult<i64> {
        // Capped per session: refused attempts are unauthenticated, so their events (and
        // webhooks) must not grow without bound.
        let db = self.0.of_id(session_id)?;
        let event = db.statement(
            "INSERT INTO order_events (session_id, kind, detail, created_at) \
             SELECT ?1, 'payment_failed', json_object('reason', ?2), ?3 \
             WHERE (SELECT COUNT(*) FROM order_events WHERE session_id = ?1 AND kind = 'payment_failed') < ?4",
            &[text(session_id), text(reason), int(at.secs()), int(MAX_FAILED_ATTEMPT_EVENTS)],
        );
        db.batch(vec![event, outbox_row(&db, at)]).await?;
        let n: Option<i64> = db
            .value(
                "SELECT COUNT(*) AS n FROM order_events WHERE session_id = ?1 AND kind = 'payment_failed'",
                &[text(session_id)],
                "n",
            )
            .await?;
        Ok(n.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::EventKind;
    use pay_core::refund::RefundState;

    #[test]
    fn webhook_types_name_the_resource_and_the_change() {
        let cases = [
            (EventKind::Created, "checkout.session.created"),
            (EventKind::Paid, "checkout.session.paid"),
            (EventKind::PrepayCreated, "checkout.session.prepay_created"),
            (
                EventKind::PaymentAfterClose,
                "checkout.session.payment_after_close",
            ),
            (EventKind::Flagged, "checkout.session.flagged"),
            (EventKind::RefundSucceeded, "refund.succeeded"),
            (EventKind::RefundOutside, "refund.outside"),
        ];
        for (kind, expected) in cases {
            assert_eq!(kind.webhook_type(), expected);
        }
    }

    #[test]
    fn stored_kinds_read_back_and_every_refund_state_has_its_event() {
        for state in RefundState::ALL {
            let kind = EventKind::refund(state);
            assert_eq!(kind.as_str(), format!("refund_{}", state.as_str()));
            let read: EventKind = serde_json::from_str(&format!("\"{}\"", kind.as_str())).unwrap();
            assert_eq!(read, kind);
        }
        assert!(serde_json::from_str::<EventKind>("\"refunded\"").is_err());
    }
}
