//! The Durable Objects' side of the books: one object class (`Books`, exported by the
//! edge-worker: edge-worker/src/books_object.rs), many objects addressed by name, each with its
//! own SQLite. What an object is for is in its name: `subject:{subject}` holds one subject's
//! rate-limit windows (`counters`); `session:{id}` holds the payer's live connections to a
//! session (`live`) and the session's due work (`timers`); `shard:0` holds the order books
//! (`ledger/`, its SQL sent over `worker_kit::sql`), one shard for now (README, "Notes for the
//! books' move").
//! One class for every role, so that its glue is in the bundle once; one schema for every
//! object (a table a role does not use stays empty and costs nothing).
//!
//! This module is both sides of the boundary: [`Books`], how a Worker asks an object, and
//! [`MIGRATIONS`] with each role's statements, which the object runs on its own storage.

pub mod counters;
pub mod live;
pub mod timers;

use pay_core::merchant::MerchantId;
use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Env, Method, ObjectNamespace, Request, RequestInit, Stub};
use worker_kit::sql::Db;

use crate::error::{ApiError, ApiResult};

/// The objects' binding (wrangler.toml, `[[durable_objects.bindings]]`).
const BINDING: &str = "BOOKS";

/// Where a Worker's request to an object goes: the host is a placeholder (a stub's fetch goes
/// to its object), the path names what is asked.
pub const ORIGIN: &str = "https://books.object";

/// The schema of every object, one entry per version, applied in order by the object itself
/// on first use (`worker_kit::object::migrate`); only ever appended to.
pub const MIGRATIONS: &[&str] = &[
    // 1: a subject's rate-limit windows (counters.rs).
    "CREATE TABLE rate_windows (
        bucket TEXT NOT NULL,
        start INTEGER NOT NULL,
        ends_at INTEGER NOT NULL CHECK (ends_at > start),
        hits INTEGER NOT NULL CHECK (hits > 0),
        PRIMARY KEY (bucket, start)
    ) WITHOUT ROWID",
    // 2: an object's due work (timers.rs).
    "CREATE TABLE due_work (
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        PRIMARY KEY (kind, subject)
    ) WITHOUT ROWID",
    // 3: the order books of a shard (ledger/), as D1 held them after its migration 0016.
    include_str!("books_schema.sql"),
    // 4: payment attempts counted in their subject's shard (ledger/attempts.rs), as in D1.
    include_str!("../../../migrations/0018_attempts_by_subject.sql"),
    // 5: the millisecond a session was made at, for the listing's order (ledger/listing.rs).
    include_str!("../../../migrations/0019_sessions_in_creation_order.sql"),
    // 6: what the listing shows of a session, as the shard projects it into D1 (ledger/listing.rs).
    include_str!("../../../migrations/0020_books_listing_view.sql"),
];

/// In the object: whether it holds any of the order books (a shard's object, even one whose
/// due work is all done, must never forget its storage the way a spent subject's does).
pub fn holds_books(sql: &worker::SqlStorage) -> worker::Result<bool> {
    let held = worker_kit::object::int(
        sql,
        "SELECT EXISTS (SELECT 1 FROM checkout_sessions) OR EXISTS (SELECT 1 FROM order_events) \
         OR EXISTS (SELECT 1 FROM refunds) OR EXISTS (SELECT 1 FROM idempotency_keys) \
         OR EXISTS (SELECT 1 FROM payment_attempts) OR EXISTS (SELECT 1 FROM notifications_received) AS value",
        None,
    )?;
    Ok(held != Some(0))
}

/// One shard of one merchant's order books: its object is `shard:{n}` for the default
/// merchant's (as before platform mode), `mch_{token}:shard:{n}` for a registry merchant's; its
/// due work's subject is `{n}`, or `mch_{token}:{n}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardOf {
    pub merchant: MerchantId,
    pub number: u32,
}

impl ShardOf {
    /// The name of its object.
    fn object(&self) -> String {
        match &self.merchant {
            MerchantId::Default => format!("shard:{}", self.number),
            registry => format!("{registry}:shard:{}", self.number),
        }
    }

    /// Its due work's subject.
    pub fn subject(&self) -> String {
        match &self.merchant {
            MerchantId::Default => self.number.to_string(),
            registry => format!("{registry}:{}", self.number),
        }
    }

    /// The shard a due work's subject names.
    pub fn of_subject(subject: &str) -> Option<Self> {
        let (merchant, number) = match subject.rsplit_once(':') {
            Some((merchant, number)) => (MerchantId::parse(merchant)?, number),
            None => (MerchantId::Default, subject),
        };
        Some(ShardOf {
            merchant,
            number: number.parse().ok()?,
        })
    }

    /// The shard whose books the object `name` holds, if it is a shard's.
    pub fn of_object(name: &str) -> Option<Self> {
        let (merchant, number) = match name.split_once(":shard:") {
            Some((merchant, number)) => (MerchantId::parse(merchant)?, number),
            None => (MerchantId::Default, name.strip_prefix("shard:")?),
        };
        Some(ShardOf {
            merchant,
            number: number.parse().ok()?,
        })
    }
}

/// The object of one checkout session: its payer's sockets and its due work.
fn session_object(session_id: &str) -> String {
    format!("session:{session_id}")
}

/// Every object of the class, by name; the shards' are those of one merchant's books.
#[derive(Clone)]
pub struct Books {
    namespace: Option<ObjectNamespace>,
    merchant: MerchantId,
}

impl Books {
    /// The binding, if the deployment has one (asking without it is a `misconfigured` error),
    /// with the default merchant's shards.
    pub fn of(env: &Env) -> Self {
        Books {
            namespace: env.durable_object(BINDING).ok(),
            merchant: MerchantId::Default,
        }
    }

    /// The same objects, with `merchant`'s shards.
    pub fn of_merchant(&self, merchant: &MerchantId) -> Self {
        Books {
            namespace: self.namespace.clone(),
            merchant: merchant.clone(),
        }
    }

    /// The merchant whose shards these are.
    pub fn merchant(&self) -> &MerchantId {
        &self.merchant
    }

    /// Shard `number` of this merchant's books.
    fn shard(&self, number: u32) -> ShardOf {
        ShardOf {
            merchant: self.merchant.clone(),
            number,
        }
    }

    /// The SQL database of shard `number` of the order books.
    pub fn shard_db(&self, number: u32) -> ApiResult<Db> {
        let name = self.shard(number).object();
        Ok(Db::object(self.stub(&name)?, &name))
    }

    /// The object named `name` (each call to it is counted: `worker_kit::usage`).
    fn stub(&self, name: &str) -> ApiResult<Stub> {
        let namespace = self.namespace.as_ref().ok_or_else(|| {
            ApiError::Config(format!(
                "{BINDING}: no Durable Object binding for the books"
            ))
        })?;
        Ok(namespace.get_by_name(name)?)
    }

    /// The object `name`'s JSON answer to `body` posted as JSON to `path`.
    async fn post<T: DeserializeOwned>(
        &self,
        name: &str,
        path: &str,
        body: &impl Serialize,
    ) -> ApiResult<T> {
        let body = serde_json::to_string(body).map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let request = Request::new_with_init(&format!("{ORIGIN}{path}"), &init)?;
        self.ask(name, request).await
    }

    /// Posts `body` to the object `name` for what follows a change already in the books (a push,
    /// a due time): a failure is logged, never the caller's, since a missed call only delays
    /// (the widget polls, the cron sweeps).
    async fn tell(&self, name: &str, path: &str, body: &impl Serialize) {
        let told = self.post::<serde::de::IgnoredAny>(name, path, body).await;
        if let Err(e) = told {
            worker::console_warn!("object {name} was not told {path}: {}", e.log_line());
        }
    }

    /// The object `name`'s JSON answer to `request`.
    async fn ask<T: DeserializeOwned>(&self, name: &str, request: Request) -> ApiResult<T> {
        worker_kit::usage::object_call();
        let mut answer = self.stub(name)?.fetch_with_request(request).await?;
        if answer.status_code() != 200 {
            return Err(ApiError::Internal(format!(
                "object {name} answered {}: {}",
                answer.status_code(),
                answer.text().await.unwrap_or_default()
            )));
        }
        Ok(answer.json().await?)
    }
}

/// The tests' build only: an object's schema as its storage holds it (no migration run first),
/// and the request that brings a fresh object to an older version, so that the tests can show
/// the upgrade from it (tests/e2e/objects.test.mjs).
#[cfg(feature = "test-routes")]
pub mod schema {
    use serde::{Deserialize, Serialize};
    use worker::SqlStorage;

    use super::{Books, MIGRATIONS};
    use crate::error::ApiResult;

    /// The path, asked with GET (what is there) or POST (a [`Version`] to bring it to).
    pub const PATH: &str = "/test/schema";

    /// The versions applied, in order, and the tables (the runtime's own, whose names start with
    /// `_`, left out: `_cf_…` in Cloudflare's, `__miniflare_…` locally).
    #[derive(Serialize, Deserialize)]
    pub struct Schema {
        pub versions: Vec<i64>,
        pub tables: Vec<String>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Version {
        pub version: usize,
    }

    #[derive(Deserialize)]
    struct Row {
        value: serde_json::Value,
    }

    fn column(sql: &SqlStorage, query: &str) -> worker::Result<Vec<serde_json::Value>> {
        let rows: Vec<Row> = sql.exec(query, None)?.to_array()?;
        Ok(rows.into_iter().map(|r| r.value).collect())
    }

    /// In the object: its schema as it is.
    pub fn read(sql: &SqlStorage) -> worker::Result<Schema> {
        let tables: Vec<String> = column(
            sql,
            "SELECT name AS value FROM sqlite_master WHERE type = 'table' \
             AND substr(name, 1, 1) != '_' ORDER BY name",
        )?
        .into_iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
        let versions = if tables.iter().any(|t| t == "schema_version") {
            column(
                sql,
                "SELECT version AS value FROM schema_version ORDER BY version",
            )?
            .into_iter()
            .filter_map(|v| v.as_i64())
            .collect()
        } else {
            Vec::new()
        };
        Ok(Schema { versions, tables })
    }

    /// In the object: the first `version` steps of the schema, as an older build left them.
    pub fn bring_to(sql: &SqlStorage, version: usize) -> worker::Result<Schema> {
        worker_kit::object::migrate(sql, &MIGRATIONS[..version.min(MIGRATIONS.len())])?;
        read(sql)
    }

    impl Books {
        /// The object `name`'s schema; brought to `version` first if one is given.
        pub async fn schema(&self, name: &str, version: Option<usize>) -> ApiResult<Schema> {
            match version {
                Some(version) => self.post(name, PATH, &Version { version }).await,
                None => {
                    let url = format!("{}{PATH}", super::ORIGIN);
                    let request = worker::Request::new(&url, worker::Method::Get)?;
                    self.ask(name, request).await
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shards_object_and_subject_name_its_merchant_and_the_default_ones_are_as_before() {
        let default = ShardOf {
            merchant: MerchantId::Default,
            number: 3,
        };
        assert_eq!(default.object(), "shard:3");
        assert_eq!(default.subject(), "3");
        let shop = ShardOf {
            merchant: MerchantId::parse("mch_0a1b").unwrap(),
            number: 3,
        };
        assert_eq!(shop.object(), "mch_0a1b:shard:3");
        assert_eq!(shop.subject(), "mch_0a1b:3");
        for shard in [&default, &shop] {
            assert_eq!(ShardOf::of_object(&shard.object()).as_ref(), Some(shard));
            assert_eq!(ShardOf::of_subject(&shard.subject()).as_ref(), Some(shard));
        }
        for odd in [
            "subject:1.2.3.4",
            "session:cs_1",
            "mch_XY:shard:1",
            "shard:x",
        ] {
            assert_eq!(ShardOf::of_object(odd), None, "{odd}");
        }
        assert_eq!(ShardOf::of_subject("mch_:1"), None);
    }
}
