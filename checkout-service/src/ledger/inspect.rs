//! The tests' build only (http/test_routes.rs): named reads of the books, and the writes a
//! crash or a rotation would leave behind, for the tests that prove the Worker recovers.

use wasm_bindgen::JsValue;
use worker_kit::d1::{int, text, Db};

use crate::error::ApiResult;

/// The books a read may name: a name, its table and the columns it may be narrowed by.
const INSPECTABLE: &[(&str, &str, &[&str])] = &[
    ("idempotency_keys", "idempotency_keys", &["key"]),
    (
        "sessions",
        "checkout_sessions",
        &["id", "out_trade_no", "status", "description"],
    ),
    ("events", "order_events", &["session_id", "kind"]),
    (
        "refunds",
        "refunds",
        &["session_id", "status", "out_refund_no"],
    ),
    ("outbox", "webhook_outbox", &["event_seq"]),
    (
        "notifications_received",
        "notifications_received",
        &["event_type"],
    ),
    (
        "payment_attempts",
        "payment_attempts",
        &["session_id", "subject"],
    ),
    (
        "platform_certificates",
        "platform_certificates",
        &["serial"],
    ),
];

pub struct Inspect<'a>(pub(super) &'a Db);

impl Inspect<'_> {
    /// Every row of the books named `name` whose columns equal `filters`, in insertion order;
    /// `None` for a name or column that is not inspectable.
    pub async fn rows(
        &self,
        name: &str,
        filters: &[(String, String)],
    ) -> ApiResult<Option<Vec<serde_json::Value>>> {
        let Some((_, table, columns)) = INSPECTABLE.iter().find(|(n, ..)| *n == name) else {
            return Ok(None);
        };
        let mut conditions = Vec::new();
        for (i, (column, _)) in filters.iter().enumerate() {
            if !columns.contains(&column.as_str()) {
                return Ok(None);
            }
            conditions.push(format!("{column} = ?{}", i + 1));
        }
        let condition = if conditions.is_empty() {
            "1".to_string()
        } else {
            conditions.join(" AND ")
        };
        let args: Vec<JsValue> = filters.iter().map(|(_, v)| text(v)).collect();
        let sql = format!("SELECT * FROM {table} WHERE {condition} ORDER BY rowid");
        Ok(Some(self.0.rows(&sql, &args).await?))
    }

    /// What a request that died right after its work leaves: the claim of `key` without its
    /// answer, claimed `secs_ago` earlier than it was. False if there is no such key.
    pub async fn unanswer_idempotency_key(&self, key: &str, secs_ago: i64) -> ApiResult<bool> {
        Ok(self
            .0
            .write(
                "UPDATE idempotency_keys SET status = NULL, response = NULL, created_at = created_at - ?2 WHERE key = ?1",
                &[text(key), int(secs_ago)],
            )
            .await?)
    }

    /// An emptied certificate cache, as after a rotation: every stored platform certificate gone.
    pub async fn forget_platform_certificates(&self) -> ApiResult<()> {
        self.0
            .write("DELETE FROM platform_certificates", &[])
            .await?;
        Ok(())
    }
}
