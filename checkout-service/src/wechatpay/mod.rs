//! The WeChat Pay API v3 connector, in three layers that only call down: `transport` signs and
//! sends (with a deadline), `trust` holds and refreshes the keys WeChat Pay's signatures are
//! verified with, and `client` is the endpoints, each answer verified before it is believed.

mod bills;
mod client;
mod transport;
mod trust;

pub use bills::{unreadable as unreadable_bill, BillKind};
pub use client::WechatPay;
