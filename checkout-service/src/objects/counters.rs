//! Rate-limit counters: one subject's windows (a client address's, a checkout session's) in an
//! object of its own, `subject:{subject}`. A limit stays exact however the books are sharded,
//! and counting a hit never queues on D1's one writer. `pay_core::rate_limit` decides; this
//! counts. The Worker's side ([`Books::hit`]) and the object's ([`count`], [`forget_ended`]).

use pay_core::rate_limit::Window;
use serde::{Deserialize, Serialize};
use worker::{SqlStorage, SqlStorageValue};
use worker_kit::object::int;

use super::Books;
#[cfg(feature = "test-routes")]
use super::ORIGIN;
use crate::error::ApiResult;

/// The path of a hit, asked with POST.
pub const HIT: &str = "/counters/hit";
/// The tests' build only: the windows an object holds, asked with GET.
pub const WINDOWS: &str = "/counters/windows";

/// One hit, as a Worker sends it to the subject's object.
#[derive(Serialize, Deserialize)]
pub struct Hit {
    pub bucket: String,
    pub start: i64,
    pub ends_at: i64,
}

/// The window's count with this hit in it.
#[derive(Serialize, Deserialize)]
pub struct Counted {
    pub hits: i64,
}

fn object_of(subject: &str) -> String {
    format!("subject:{subject}")
}

impl Books {
    /// Counts one hit of `subject` in `window` and returns the window's count with it:
    /// concurrent hits never share a count (an object runs one request at a time).
    pub async fn hit(&self, subject: &str, window: &Window) -> ApiResult<i64> {
        let hit = Hit {
            bucket: window.bucket.clone(),
            start: window.start,
            ends_at: window.resets_at,
        };
        let Counted { hits } = self.post(&object_of(subject), HIT, &hit).await?;
        Ok(hits)
    }

    /// The tests' build only: the windows `subject`'s object holds.
    #[cfg(feature = "test-routes")]
    pub async fn rate_windows(&self, subject: &str) -> ApiResult<serde_json::Value> {
        let request = worker::Request::new(&format!("{ORIGIN}{WINDOWS}"), worker::Method::Get)?;
        self.ask(&object_of(subject), request).await
    }
}

/// In the object: counts `hit` and returns its window's count with it.
pub fn count(sql: &SqlStorage, hit: Hit) -> worker::Result<i64> {
    int(
        sql,
        "INSERT INTO rate_windows (bucket, start, ends_at, hits) VALUES (?, ?, ?, 1) \
         ON CONFLICT (bucket, start) DO UPDATE SET hits = hits + 1 RETURNING hits AS value",
        vec![
            SqlStorageValue::String(hit.bucket),
            SqlStorageValue::Integer(hit.start),
            SqlStorageValue::Integer(hit.ends_at),
        ],
    )?
    .ok_or_else(|| worker::Error::RustError("the rate-window upsert returned no count".into()))
}

/// In the object: forgets the windows that have ended by `now` and returns when the next one
/// still held ends.
pub fn forget_ended(sql: &SqlStorage, now: i64) -> worker::Result<Option<i64>> {
    sql.exec(
        "DELETE FROM rate_windows WHERE ends_at <= ?",
        vec![SqlStorageValue::Integer(now)],
    )?;
    int(sql, "SELECT MIN(ends_at) AS value FROM rate_windows", None)
}

/// In the object, the tests' build only: the windows held, as rows.
#[cfg(feature = "test-routes")]
pub fn windows(sql: &SqlStorage) -> worker::Result<serde_json::Value> {
    let rows: Vec<serde_json::Value> = sql
        .exec(
            "SELECT bucket, start, ends_at, hits FROM rate_windows ORDER BY bucket, start",
            None,
        )?
        .to_array()?;
    Ok(serde_json::json!({ "windows": rows }))
}
