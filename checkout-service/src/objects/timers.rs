//! Due work: what an object must do at a moment, kept in its own SQLite and woken by its alarm.
//! A session's object (`session:{id}`) is told when its session falls due (its expiry; the
//! query of its order after a prepay) and then settles it as the cron does, so a lost
//! notification is healed and an expired session closed at WeChat Pay on time, with no cron.
//! A shard's object (`shard:{n}`) is told when its books have work due (a webhook whose
//! delivery failed, a refund recorded) and does its shard's part of the cron's work: webhook
//! retries on their backoff, refunds asked about. The cron stays, as the sweep that reaches an
//! object that missed its alarm. The
//! Worker's side ([`Books::session_due`]) and the object's ([`keep`], [`due_by`],
//! [`reschedule`], [`done`], [`earliest`]).

use pay_core::UnixTime;
use serde::{Deserialize, Serialize};
use worker::{SqlStorage, SqlStorageValue};
use worker_kit::object::int;

#[cfg(feature = "test-routes")]
use super::ORIGIN;
use super::{session_object, Books};
#[cfg(feature = "test-routes")]
use crate::error::ApiResult;

/// A due time, as a Worker tells it (POST).
pub const DUE: &str = "/timers/due";

/// The due work an object holds, as the tests' build reads it (GET).
#[cfg(feature = "test-routes")]
pub const HELD: &str = "/timers/held";

/// The work a session's object does for its session: `jobs::settle_session`.
pub const SESSION: &str = "session";

/// The work a shard's object does for its shard of the books (`subject`: `ShardOf::subject`):
/// `jobs::settle_shard`, its webhook retries and the refunds waiting for WeChat Pay's word.
pub const SHARD: &str = "shard";

/// The work a shard's object does for the listing (`subject`: `ShardOf::subject`): its changes
/// projected into D1's (`jobs::project_listing`), `LISTING_LAG_SECS` after a write.
pub const LISTING: &str = "listing";

/// One piece of due work: what (`kind`), for whom (`subject`), and when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Due {
    pub kind: String,
    pub subject: String,
    pub at: i64,
}

/// The earliest due time the object holds after the Worker's.
#[derive(Serialize, Deserialize)]
pub struct Scheduled {
    pub earliest: i64,
}

impl Books {
    /// Tells the session's object that the session falls due at `at` (of two times, the
    /// earlier holds). Never fails the request it follows: the cron sweeps what an object
    /// misses.
    pub async fn session_due(&self, session_id: &str, at: UnixTime) {
        self.due(&session_object(session_id), SESSION, session_id.into(), at)
            .await;
    }

    /// Tells shard `number`'s object that it has work due at `at` (a webhook to retry, a
    /// refund to ask about); never fails the request it follows either.
    pub async fn shard_due(&self, number: u32, at: UnixTime) {
        let shard = self.shard(number);
        self.due(&shard.object(), SHARD, shard.subject(), at).await;
    }

    /// Tells the object `name` of its due work `kind` for `subject`.
    async fn due(&self, name: &str, kind: &str, subject: String, at: UnixTime) {
        let due = Due {
            kind: kind.into(),
            subject,
            at: at.secs(),
        };
        self.tell(name, DUE, &due).await;
    }

    /// The tests' build only: the due work shard `number`'s object holds.
    #[cfg(feature = "test-routes")]
    pub async fn shard_due_work(&self, number: u32) -> ApiResult<Vec<Due>> {
        let request = worker::Request::new(&format!("{ORIGIN}{HELD}"), worker::Method::Get)?;
        self.ask(&self.shard(number).object(), request).await
    }

    /// The tests' build only: the session's object loses its due work and its alarm.
    #[cfg(feature = "test-routes")]
    pub async fn forget_session_due_work(&self, session_id: &str) -> ApiResult<()> {
        let request = worker::Request::new(&format!("{ORIGIN}{HELD}"), worker::Method::Delete)?;
        let _: Vec<Due> = self.ask(&session_object(session_id), request).await?;
        Ok(())
    }

    /// The tests' build only: the due work the session's object holds.
    #[cfg(feature = "test-routes")]
    pub async fn session_due_work(&self, session_id: &str) -> ApiResult<Vec<Due>> {
        let request = worker::Request::new(&format!("{ORIGIN}{HELD}"), worker::Method::Get)?;
        self.ask(&session_object(session_id), request).await
    }
}

fn key(due: &Due) -> Vec<SqlStorageValue> {
    vec![
        SqlStorageValue::String(due.kind.clone()),
        SqlStorageValue::String(due.subject.clone()),
    ]
}

/// In the object: keeps `due`; of two times for the same work, the earlier.
pub fn keep(sql: &SqlStorage, due: &Due) -> worker::Result<()> {
    let mut args = key(due);
    args.push(SqlStorageValue::Integer(due.at));
    sql.exec(
        "INSERT INTO due_work (kind, subject, due_at) VALUES (?, ?, ?) \
         ON CONFLICT (kind, subject) DO UPDATE SET due_at = MIN(due_at, excluded.due_at)",
        args,
    )?;
    Ok(())
}

/// In the object: the work due by `now`, earliest first (it stays held until [`done`] or
/// [`reschedule`]: an alarm that dies midway runs it again).
pub fn due_by(sql: &SqlStorage, now: i64) -> worker::Result<Vec<Due>> {
    sql.exec(
        "SELECT kind, subject, due_at AS at FROM due_work WHERE due_at <= ? ORDER BY due_at",
        vec![SqlStorageValue::Integer(now)],
    )?
    .to_array()
}

/// In the object, the tests' build only: every piece of due work forgotten; what it held.
#[cfg(feature = "test-routes")]
pub fn forget_all(sql: &SqlStorage) -> worker::Result<Vec<Due>> {
    sql.exec(
        "DELETE FROM due_work RETURNING kind, subject, due_at AS at",
        None,
    )?
    .to_array()
}

/// In the object: `due` falls due again at `at`.
pub fn reschedule(sql: &SqlStorage, due: &Due, at: i64) -> worker::Result<()> {
    let mut args = vec![SqlStorageValue::Integer(at)];
    args.extend(key(due));
    sql.exec(
        "UPDATE due_work SET due_at = ? WHERE kind = ? AND subject = ?",
        args,
    )?;
    Ok(())
}

/// In the object: `due` is done (unless a later time was kept for it meanwhile).
pub fn done(sql: &SqlStorage, due: &Due) -> worker::Result<()> {
    let mut args = key(due);
    args.push(SqlStorageValue::Integer(due.at));
    sql.exec(
        "DELETE FROM due_work WHERE kind = ? AND subject = ? AND due_at <= ?",
        args,
    )?;
    Ok(())
}

/// In the object, the tests' build only: every piece of due work it holds, earliest first.
#[cfg(feature = "test-routes")]
pub fn held(sql: &SqlStorage) -> worker::Result<Vec<Due>> {
    sql.exec(
        "SELECT kind, subject, due_at AS at FROM due_work ORDER BY due_at",
        None,
    )?
    .to_array()
}

/// In the object: the earliest due time it holds.
pub fn earliest(sql: &SqlStorage) -> worker::Result<Option<i64>> {
    int(sql, "SELECT MIN(due_at) AS value FROM due_work", None)
}
