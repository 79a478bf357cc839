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
pub use listing::{Listing, SessionFilter};
pub use notifications::Notifications;
pub use outbox::{DueEvent, Outbox, WebhookDelivery};
pub use refunds::{Refund, Refunds};
pub use sessions::{CheckoutSession, Sessions};
use worker_kit::sql::Db;

/// The books of the merchant this request serves.
#[derive(Clone)]
pub struct Ledger {
    db: Db,
}

impl Ledger {
    pub fn new(db: Db) -> Self {
        Ledger { db }
    }

    pub fn sessions(&self) -> Sessions<'_> {
        Sessions(&self.db)
    }

    pub fn events(&self) -> Events<'_> {
        Events(&self.db)
    }

    pub fn refunds(&self) -> Refunds<'_> {
        Refunds(&self.db)
    }

    pub fn outbox(&self) -> Outbox<'_> {
        Outbox(&self.db)
    }

    pub fn idempotency_keys(&self) -> IdempotencyKeys<'_> {
        IdempotencyKeys(&self.db)
    }

    pub fn attempts(&self) -> Attempts<'_> {
        Attempts(&self.db)
    }

    pub fn listing(&self) -> Listing<'_> {
        Listing(&self.db)
    }

    /// The move of the books from D1 into the objects: pages read, pages copied, totals.
    pub fn moving(&self) -> moving::Moving<'_> {
        moving::Moving(&self.db)
    }

    pub fn notifications(&self) -> Notifications<'_> {
        Notifications(&self.db)
    }

    /// The tests' build only: the database, for `crate::inspect`.
    #[cfg(feature = "test-routes")]
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }
}

/// A JSON object stored as text: read back as an object (anything else as an empty one).
pub(crate) fn json_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<serde_json::Map<String, serde_json::Value>, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}
