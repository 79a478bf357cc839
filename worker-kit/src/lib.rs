//! What the Workers (the edge-worker, the back office, the WeChat Pay simulator) need from the
//! runtime, written once: SQL statements and their outcome, on D1 or in an object ([`sql`]), settings from vars and
//! secrets ([`settings`]), outgoing calls that always have a deadline ([`fetch`]), JSON answers
//! ([`json`]), URLs by the runtime's own parser ([`url`]), a Durable Object's SQLite schema and
//! alarms ([`object`]), what storage was asked so far ([`usage`]) and a secret that cannot be
//! printed or serialized ([`secret`]).
//!
//! Errors are the runtime's (`worker::Error`) or small types of this crate; each Worker maps
//! them into its own error enum.

pub mod fetch;
pub mod json;
pub mod object;
pub mod secret;
pub mod settings;
pub mod sql;
pub mod url;
pub mod usage;

pub use secret::Secret;
