//! The webhook outbox (`webhook_outbox`): one row per order event, written with it
//! (events::record), leased by a delivery run, marked delivered or rescheduled.

use pay_core::UnixTime;
use serde::Deserialize;
use worker_kit::sql::{int, opt_int, opt_text, Arg};

use super::events::EventKind;
use super::{typed, Shards};
use crate::error::ApiResult;

/// An undelivered event whose time has come.
#[derive(Debug, Deserialize)]
pub struct DueEvent {
    /// The shard it was read from: its `seq` is that shard's.
    #[serde(default)]
    pub shard: u32,
    pub seq: i64,
    pub session_id: String,
    pub kind: EventKind,
    #[serde(deserialize_with = "super::json_text")]
    pub detail: serde_json::Map<String, serde_json::Value>,
    pub created_at: i64,
    pub attempts: i64,
}

/// A webhook event and how its delivery went.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookDelivery {
    #[serde(default)]
    pub shard: u32,
    pub seq: i64,
    pub session_id: String,
    pub kind: EventKind,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

pub struct Outbox<'a>(pub(super) &'a Shards);

impl Outbox<'_> {
    /// How many events wait for a delivery that has failed at least once, over every shard.
    pub async fn failing(&self) -> ApiResult<i64> {
        let rows = self
            .0
            .rows_of_every(
                "SELECT COUNT(*) AS n FROM webhook_outbox WHERE delivered_at IS NULL AND attempts > 0",
                &[],
            )
            .await?;
        Ok(rows.iter().filter_map(|(_, row)| row["n"].as_i64()).sum())
    }

    /// Undelivered events whose time has come, oldest first in each shard (`limit` of each).
    pub async fn due(&self, now: UnixTime, limit: u32) -> ApiResult<Vec<DueEvent>> {
        let due = self
            .0
            .rows_of_every(
                "SELECT e.seq, e.session_id, e.kind, e.detail, e.created_at, o.attempts FROM webhook_outbox o \
                 JOIN order_events e ON e.seq = o.event_seq WHERE o.delivered_at IS NULL AND o.next_attempt_at <= ?1 \
                 ORDER BY o.event_seq LIMIT ?2",
                &[int(now.secs()), int(limit.into())],
            )
            .await?;
        Ok(typed(due)?
            .into_iter()
            .map(|(shard, e)| DueEvent { shard, ..e })
            .collect())
    }

    /// Runs one write on the outbox row of event `seq` of `shard`; false if there is no such
    /// shard or the write changed nothing.
    async fn write(&self, shard: u32, sql: &str, args: &[Arg]) -> ApiResult<bool> {
        match self.0.numbered(shard)? {
            Some(db) => Ok(db.write(sql, args).await?),
            None => Ok(false),
        }
    }

    /// Takes an event for `lease_secs` so that a concurrent run skips it.
    pub async fn lease(
        &self,
        shard: u32,
        seq: i64,
        now: UnixTime,
        lease_secs: i64,
    ) -> ApiResult<bool> {
        self.write(
                shard,
                "UPDATE webhook_outbox SET next_attempt_at = ?3 WHERE event_seq = ?1 AND delivered_at IS NULL AND next_attempt_at <= ?2",
                &[int(seq), int(now.secs()), int(now.secs() + lease_secs)],
            )
            .await
    }

    pub async fn delivered(
        &self,
        shard: u32,
        seq: i64,
        now: UnixTime,
        status: Option<u16>,
    ) -> ApiResult<()> {
        self.write(
                shard,
                "UPDATE webhook_outbox SET delivered_at = ?2, attempts = attempts + 1, last_status = ?3, last_error = NULL WHERE event_seq = ?1",
                &[int(seq), int(now.secs()), opt_int(status.map(i64::from))],
            )
            .await?;
        Ok(())
    }

    pub async fn failed(
        &self,
        shard: u32,
        seq: i64,
        attempts: i64,
        next_attempt_at: i64,
        status: Option<u16>,
        error: Option<&str>,
    ) -> ApiResult<()> {
        self.write(
                shard,
                "UPDATE webhook_outbox SET attempts = ?2, next_attempt_at = ?3, last_status = ?4, last_error = ?5 WHERE event_seq = ?1",
                &[int(seq), int(attempts), int(next_attempt_at), opt_int(status.map(i64::from)), opt_text(error)],
            )
            .await?;
        Ok(())
    }

    /// The latest events with their delivery state, newest first (by when they were made;
    /// each shard numbers its own).
    pub async fn deliveries(&self, limit: u32) -> ApiResult<Vec<WebhookDelivery>> {
        let latest = self
            .0
            .rows_of_every(
                "SELECT e.seq, e.session_id, e.kind, e.created_at, o.attempts, o.next_attempt_at, \
                        o.delivered_at, o.last_status, o.last_error \
                 FROM webhook_outbox o JOIN order_events e ON e.seq = o.event_seq \
                 ORDER BY e.seq DESC LIMIT ?1",
                &[int(limit.into())],
            )
            .await?;
        let mut latest: Vec<WebhookDelivery> = typed(latest)?
            .into_iter()
            .map(|(shard, d)| WebhookDelivery { shard, ..d })
            .collect();
        latest.sort_by_key(|d| std::cmp::Reverse((d.created_at, d.seq)));
        latest.truncate(limit as usize);
        Ok(latest)
    }

    /// Makes an undelivered event due now; false if it was delivered already.
    pub async fn retry_now(&self, shard: u32, seq: i64, now: UnixTime) -> ApiResult<bool> {
        self.write(
            shard,
            "UPDATE webhook_outbox SET next_attempt_at = ?2 WHERE event_seq = ?1 AND delivered_at IS NULL",
            &[int(seq), int(now.secs())],
        )
        .await
    }
}
