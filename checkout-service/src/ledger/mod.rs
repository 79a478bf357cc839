//! The merchant's books: checkout sessions and their append-only events, refunds, the webhook
//! outbox, idempotency keys, payment attempts and the notifications seen, and the listing that
//! reads them. In the objects' SQLite (`shard:0`), or in D1 until a deployment has moved them
//! (`BOOKS_IN`); the same SQL for both (`worker_kit::sql`). The SQL lives here only, one module
//! per aggregate, each reached from [`Ledger`] (`ledger.sessions().mark_paid(…)`).
//!
//! Every state change is one conditional statement, or one batch (a D1 transaction) that
//! writes the change, its order event and that event's outbox row together; an event is
//! written only if the change was (`events::Recorded`). The schema's triggers guard the
//! invariants (paid never goes back, refunds never above the payment, events append-only).

/// A session's columns but its client secret's hash: what the listing shows of it.
macro_rules! listed_columns {
    () => {
        "id, out_trade_no, mchid, appid, amount_fen, currency, description, status, scene, \
         code_url, prepay_created_at, transaction_id, paid_at, created_at, created_ms, expires_at, \
         return_url, metadata, payer_openid"
    };
}

mod attempts;
pub mod events;
mod idempotency;
mod listing;
pub mod moving;
mod notifications;
pub mod outbox;
pub mod refunds;
pub mod sessions;

pub use attempts::Attempts;
pub use events::{Events, OrderEvent};
pub use idempotency::{Claim, IdempotencyKeys};
pub use listing::{Listing, ListingSummary, SessionFilter};
pub use notifications::Notifications;
pub use outbox::{DueEvent, Outbox, WebhookDelivery};
pub use refunds::{Refund, Refunds};
pub use sessions::{CheckoutSession, Sessions};

use std::cell::Cell;
use std::rc::Rc;

use pay_core::merchant::MerchantId;
use pay_core::shard::ShardCount;
use pay_core::UnixTime;
use serde::de::DeserializeOwned;
use serde_json::Value;
use worker_kit::sql::{Arg, Db};

use crate::error::ApiResult;
use crate::objects::Books;

/// The books of the merchant this request serves: their aggregates, each of which finds the
/// shard that holds what it is asked about ([`Shards`]).
#[derive(Clone)]
pub struct Ledger {
    shards: Shards,
}

/// Where the books are, and which shard holds what (pay_core::shard decides): an order and
/// everything of it (its events and their outbox rows, its refunds) in the shard its
/// out_trade_no hashes to, which its ids name; an idempotency key, a notification's record and
/// a payment budget's subject in the shard their own key hashes to.
#[derive(Clone)]
pub(crate) struct Shards {
    place: Place,
    count: ShardCount,
    /// The shards asked about so far (bit n: shard n; at most 64 shards), shared by the
    /// ledger's clones: where a request's changes, and so their webhooks, are.
    asked: Rc<Cell<u64>>,
    /// Whether [`Shards::every`] yields only the shards asked about.
    only_asked: bool,
}

#[derive(Clone)]
enum Place {
    /// D1, until a deployment has moved its books (`BOOKS_IN`): one shard.
    D1(Db),
    /// The objects `shard:0` … `shard:{count - 1}`, and D1 for the listing projected from them.
    Objects { books: Books, listing: Db },
}

/// What a shard has waiting ([`Ledger::waiting_work`]).
pub struct WaitingWork {
    pub outbox: Option<UnixTime>,
    pub refunds: Option<UnixTime>,
}

/// A shard's database and its number (webhook event ids name it).
pub(crate) struct Shard {
    pub number: u32,
    pub db: Db,
}

impl Shards {
    /// The merchant whose books these are (books still in D1 are the default merchant's).
    fn merchant(&self) -> &MerchantId {
        match &self.place {
            Place::D1(_) => &MerchantId::Default,
            Place::Objects { books, .. } => books.merchant(),
        }
    }

    /// Shard `number`'s database.
    fn db(&self, number: u32) -> ApiResult<Db> {
        self.asked.set(self.asked.get() | 1 << number);
        match &self.place {
            Place::D1(db) => Ok(db.clone()),
            Place::Objects { books, .. } => books.shard_db(number),
        }
    }

    /// The shard an id (a session's, a refund's) names; an id that names no shard of this
    /// deployment is looked for in shard 0, where it is not (its ids name no shard).
    pub fn of_id(&self, id: &str) -> ApiResult<Db> {
        self.db(self.named_by(id))
    }

    /// The number of the shard an id names (0 for one that names none of this deployment's).
    pub fn named_by(&self, id: &str) -> u32 {
        self.count.named_by(id).unwrap_or(0)
    }

    /// The shard of a key: an out_trade_no, an idempotency key, a subject.
    pub fn of_key(&self, key: &str) -> ApiResult<Db> {
        self.db(self.count.of(key))
    }

    /// Every shard, in order (a listing, a sweep, reconciliation ask each).
    pub fn every(&self) -> ApiResult<Vec<Shard>> {
        let asked = self.asked.get();
        self.count
            .all()
            .filter(|n| !self.only_asked || asked & 1 << n != 0)
            .map(|number| {
                Ok(Shard {
                    number,
                    db: self.db(number)?,
                })
            })
            .collect()
    }

    /// The rows `sql` selects in every shard, shard by shard, each with its shard's number, as
    /// JSON: one loop for every row type ([`typed`] gives them theirs).
    pub async fn rows_of_every(&self, sql: &str, args: &[Arg]) -> ApiResult<Vec<(u32, Value)>> {
        let mut all = Vec::new();
        for shard in self.every()? {
            let rows: Vec<Value> = shard.db.rows(sql, args).await?;
            all.extend(rows.into_iter().map(|row| (shard.number, row)));
        }
        Ok(all)
    }

    /// Shard `number`, if the deployment has it.
    pub fn numbered(&self, number: u32) -> ApiResult<Option<Db>> {
        if number < self.count.get() {
            self.db(number).map(Some)
        } else {
            Ok(None)
        }
    }
}

impl Ledger {
    /// The books still in D1 (one shard).
    pub fn in_d1(db: Db) -> Self {
        Ledger {
            shards: Shards {
                place: Place::D1(db),
                count: ShardCount::ONE,
                asked: Rc::default(),
                only_asked: false,
            },
        }
    }

    /// The books in `count` shards of the objects, listed in D1 (`listing`).
    pub fn in_objects(books: Books, count: ShardCount, listing: Db) -> Self {
        Ledger {
            shards: Shards {
                place: Place::Objects { books, listing },
                count,
                asked: Rc::default(),
                only_asked: false,
            },
        }
    }

    /// These books, where whatever asks every shard (the webhooks due) asks only the shards
    /// asked about so far, if there were any.
    pub fn narrowed_to_asked(&self) -> Ledger {
        let mut narrowed = self.clone();
        narrowed.shards.only_asked = self.shards.asked.get() != 0;
        narrowed
    }

    /// These books narrowed to shard `number`: whatever asks every shard asks it alone (a
    /// shard's alarm doing its own due work).
    pub fn narrowed_to(&self, number: u32) -> Ledger {
        let mut narrowed = self.clone();
        narrowed.shards.asked = Rc::new(Cell::new(1 << number));
        narrowed.shards.only_asked = true;
        narrowed
    }

    /// The shards' numbers, when the books are in the objects (each wakes itself: the cron
    /// only sweeps them).
    pub fn shards_in_objects(&self) -> Option<impl Iterator<Item = u32>> {
        match self.shards.place {
            Place::Objects { .. } => Some(self.shards.count.all()),
            Place::D1(_) => None,
        }
    }

    /// The shard an order with this out_trade_no lives in (its ids name it).
    pub fn shard_of_order(&self, out_trade_no: &str) -> u32 {
        self.shards.count.of(out_trade_no)
    }

    /// The id of a new thing of kind `prefix` (`cs`, `re`) in `shard` of these books: it names
    /// their merchant and the shard (pay_core::shard).
    pub fn new_id(&self, prefix: &str, shard: u32, token: &str) -> String {
        pay_core::shard::id(prefix, self.shards.merchant(), shard, token)
    }

    /// The shard an id (a session's, a refund's) names.
    pub fn shard_of_id(&self, id: &str) -> u32 {
        self.shards.named_by(id)
    }

    pub fn sessions(&self) -> Sessions<'_> {
        Sessions(&self.shards)
    }

    pub fn events(&self) -> Events<'_> {
        Events(&self.shards)
    }

    pub fn refunds(&self) -> Refunds<'_> {
        Refunds(&self.shards)
    }

    pub fn outbox(&self) -> Outbox<'_> {
        Outbox(&self.shards)
    }

    pub fn idempotency_keys(&self) -> IdempotencyKeys<'_> {
        IdempotencyKeys(&self.shards)
    }

    pub fn attempts(&self) -> Attempts<'_> {
        Attempts(&self.shards)
    }

    pub fn listing(&self) -> Listing<'_> {
        Listing(&self.shards)
    }

    /// The move of the books from D1 into the objects: pages read, pages copied, totals (of
    /// shard 0: a deployment moves its books with one shard).
    pub fn moving(&self) -> ApiResult<moving::Moving> {
        Ok(moving::Moving(self.shards.db(0)?))
    }

    pub fn notifications(&self) -> Notifications<'_> {
        Notifications(&self.shards)
    }

    /// What the shards this ledger asks have waiting, in one read each: the earliest next
    /// attempt of an undelivered webhook event, and the earliest last change of a refund
    /// waiting for WeChat Pay's word (pending or processing).
    pub async fn waiting_work(&self) -> ApiResult<WaitingWork> {
        let rows = self
            .shards
            .rows_of_every(
                "SELECT (SELECT MIN(next_attempt_at) FROM webhook_outbox WHERE delivered_at IS NULL) AS outbox, \
                 (SELECT MIN(updated_at) FROM refunds WHERE status IN ('pending', 'processing')) AS refunds",
                &[],
            )
            .await?;
        let earliest = |column: &str| {
            rows.iter()
                .filter_map(|(_, row)| row[column].as_i64())
                .min()
                .map(UnixTime)
        };
        Ok(WaitingWork {
            outbox: earliest("outbox"),
            refunds: earliest("refunds"),
        })
    }

    /// The tests' build only: the shards, for `crate::inspect`.
    #[cfg(feature = "test-routes")]
    pub(crate) fn shards(&self) -> &Shards {
        &self.shards
    }
}

/// Rows read from every shard ([`Shards::rows_of_every`]) as `T`, each with its shard's number.
pub(crate) fn typed<T: DeserializeOwned>(rows: Vec<(u32, Value)>) -> ApiResult<Vec<(u32, T)>> {
    rows.into_iter()
        .map(|(shard, row)| Ok((shard, worker_kit::sql::typed_row(row)?)))
        .collect()
}

/// Rows read from every shard as `T`, their shards left out.
pub(crate) fn untagged<T: DeserializeOwned>(rows: Vec<(u32, Value)>) -> ApiResult<Vec<T>> {
    Ok(worker_kit::sql::typed_rows(
        rows.into_iter().map(|(_, row)| row).collect(),
    )?)
}

/// A JSON object stored as text: read back as an object (anything else as an empty one).
pub(crate) fn json_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<serde_json::Map<String, serde_json::Value>, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}
