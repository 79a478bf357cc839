//! The tests' build only (http/test_routes.rs): named reads of the books (wherever they are:
//! `BOOKS_IN`) and of the control plane's certificates, and the writes a crash or a rotation
//! would leave behind, for the tests that prove the Worker recovers.

use serde::{Deserialize, Serialize};
use worker_kit::sql::{int, text, Arg, Db};

use crate::catalog::Catalog;
use crate::error::ApiResult;
use crate::ledger::{typed, Ledger, Shards};

/// The books a read may name: a name, its table and the columns it may be narrowed by (the
/// control plane's tables are the ones named in [`CATALOG`]).
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
    ("providers", "providers", &["id"]),
    ("merchants", "merchants", &["id"]),
    ("merchant_api_keys", "merchant_api_keys", &["merchant_id"]),
];

/// The tables of [`INSPECTABLE`] that are the control plane's, in D1.
const CATALOG: &[&str] = &[
    "platform_certificates",
    "providers",
    "merchants",
    "merchant_api_keys",
];

pub struct Inspect<'a> {
    books: &'a Shards,
    catalog: &'a Db,
    /// Whether the listing is D1's projection of the shards (the books are in the objects).
    projected: bool,
}

/// What one shard of the books holds, and how far the listing has projected it.
#[derive(Serialize, Deserialize)]
pub struct ShardHolds {
    pub shard: u32,
    pub sessions: i64,
    pub events: i64,
    pub refunds: i64,
    /// Its newest event's sequence number (0: none).
    pub newest_event: i64,
    /// The last of its events the listing holds (`newest_event` while the books are in D1:
    /// their listing is their own view).
    #[serde(default)]
    pub listed_up_to: i64,
}

impl<'a> Inspect<'a> {
    pub fn new(ledger: &'a Ledger, catalog: &'a Catalog) -> Self {
        Inspect {
            books: ledger.shards(),
            catalog: catalog.db(),
            projected: ledger.shards_in_objects().is_some(),
        }
    }
}

impl Inspect<'_> {
    /// Every row of the books named `name` whose columns equal `filters`, in insertion order in
    /// each shard, with its shard's number as `shard`; `None` for a name or column that is not
    /// inspectable.
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
        let args: Vec<Arg> = filters.iter().map(|(_, v)| text(v)).collect();
        let sql = format!("SELECT * FROM {table} WHERE {condition} ORDER BY rowid");
        if CATALOG.contains(table) {
            return Ok(Some(self.catalog.rows(&sql, &args).await?));
        }
        // Every shard's, shard by shard, each row with its shard's number (`shard`).
        let rows = self.books.rows_of_every(&sql, &args).await?;
        Ok(Some(
            rows.into_iter()
                .map(|(shard, mut row)| {
                    row["shard"] = shard.into();
                    row
                })
                .collect(),
        ))
    }

    /// What each shard holds (how the orders spread), and how far the listing has projected it.
    pub async fn shards(&self) -> ApiResult<Vec<ShardHolds>> {
        let holds = self
            .books
            .rows_of_every(
                "SELECT 0 AS shard, (SELECT COUNT(*) FROM checkout_sessions) AS sessions, \
                 (SELECT COUNT(*) FROM order_events) AS events, (SELECT COUNT(*) FROM refunds) AS refunds, \
                 (SELECT COALESCE(MAX(seq), 0) FROM order_events) AS newest_event",
                &[],
            )
            .await?;
        #[derive(Deserialize)]
        struct Progress {
            shard: u32,
            projected_seq: i64,
        }
        let progress: Vec<Progress> = self
            .catalog
            .rows(
                "SELECT shard, projected_seq FROM listing_progress WHERE merchant_id = 'default'",
                &[],
            )
            .await?;
        Ok(typed::<ShardHolds>(holds)?
            .into_iter()
            .map(|(shard, held)| ShardHolds {
                shard,
                listed_up_to: match self.projected {
                    true => progress
                        .iter()
                        .find(|p| p.shard == shard)
                        .map_or(0, |p| p.projected_seq),
                    false => held.newest_event,
                },
                ..held
            })
            .collect())
    }

    /// The listing's progress through shard `number` rewound to its start, as if it were
    /// never projected: its next projection replays every event.
    pub async fn rewind_listing(&self, number: u32) -> ApiResult<bool> {
        Ok(self
            .catalog
            .write(
                "UPDATE listing_progress SET projected_seq = 0 \
                 WHERE merchant_id = 'default' AND shard = ?1",
                &[int(number.into())],
            )
            .await?)
    }

    /// What a request that died right after its work leaves: the claim of `key` without its
    /// answer, claimed `secs_ago` earlier than it was. False if there is no such key.
    pub async fn unanswer_idempotency_key(&self, key: &str, secs_ago: i64) -> ApiResult<bool> {
        Ok(self
            .books
            .of_key(key)?
            .write(
                "UPDATE idempotency_keys SET status = NULL, response = NULL, created_at = created_at - ?2 WHERE key = ?1",
                &[text(key), int(secs_ago)],
            )
            .await?)
    }

    /// An emptied certificate cache, as after a rotation: every stored platform certificate gone.
    pub async fn forget_platform_certificates(&self) -> ApiResult<()> {
        self.catalog
            .write("DELETE FROM platform_certificates", &[])
            .await?;
        Ok(())
    }
}
