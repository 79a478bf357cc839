//! The checkout service's layers, on which both of a deployment's Workers are built: the
//! edge-worker (edge-worker/: the payer's path, the merchant API, notifications) and the back
//! office (back-office/: the console, reconciliation). A library of its own, not part of either
//! Worker's crate: a Worker crate that is also an `rlib` loses most of LTO's dead-code removal
//! (README, "Benchmarks": 31 KB gzip of the edge's bundle).
//!
//! | folder / module | layer |
//! |---|---|
//! | `http/` | the plumbing both Workers' handlers stand on: the request context, the route table, reading requests, authentication, rate limits |
//! | `services/` | the use cases over explicit ports (books, WeChat Pay, merchant settings, time): sessions, payments, refunds, risk, idempotency, webhooks, jobs |
//! | `ledger/` | the merchant's books, one module per aggregate (sessions, events + outbox, refunds, idempotency keys, attempts, notifications), the listing, and their move from D1 |
//! | `objects/` | the books' Durable Objects, both sides: how a Worker asks one, and each role's schema and statements (the books' shard, a subject's rate-limit windows, a session's sockets and due work) |
//! | `platform/` | platform mode: a registry merchant's or provider's settings (the default merchant's names), checked as the default one is read, their secrets sealed and opened; which merchant a request serves (`routing`) |
//! | `catalog/` | the control plane, in D1: the merchant registry, reconciliation runs, the books' move progress, platform certificates, console sign-ins |
//! | `merchant_cache.rs` | the KV cache of registry merchants' rows (secrets sealed), purged on change |
//! | `wechatpay/` | the connector: transport (sign, send, deadline) ← trust (keys, certificates) ← client (verified endpoints), bills |
//! | `back_office_client.rs` | the back-office Worker, over the edge's service binding: what the edge forwards to it |
//! | `views.rs`, `config.rs`, `error.rs` | answer shapes; settings (deployment + merchant profile); the one error enum |
//! | `inspect.rs` | the tests' build only: named reads of the books and the control plane, injected faults |
//!
//! Calls go down the table, never up or sideways; pay-core decides, worker-kit is the runtime.

pub mod back_office_client;
pub mod catalog;
pub mod config;
pub mod error;
pub mod http;
#[cfg(feature = "test-routes")]
pub mod inspect;
pub mod ledger;
pub mod merchant_cache;
pub mod objects;
pub mod platform;
pub mod services;
pub mod views;
pub mod wechatpay;

use pay_core::UnixTime;

/// The one clock: read once per request or run, and passed down.
pub fn now() -> UnixTime {
    UnixTime((worker::Date::now().as_millis() / 1000) as i64)
}

/// The clock in milliseconds, for the one thing that needs them: the order of sessions made
/// within one second (ledger/listing.rs).
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}
