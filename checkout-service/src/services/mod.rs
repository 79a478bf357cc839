//! The use cases, over explicit ports: the merchant's books ([`Ledger`]), its WeChat Pay
//! ([`WechatPay`]), its settings ([`MerchantProfile`]) and the time. They never see a request
//! or the Worker's environment, so the same use case runs inside a request, a cron run and,
//! next, a Durable Object's alarm. They call each other only downward: payments → refunds →
//! risk; webhooks and jobs above them (and the back office's reconciliation, back-office/).

pub mod idempotency;
pub mod jobs;
pub mod payments;
pub mod refunds;
pub mod risk;
pub mod sessions;
pub mod webhooks;

use pay_core::crypto::webcrypto::random_hex;
use pay_core::UnixTime;

use crate::config::MerchantProfile;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{CheckoutSession, Ledger, Refund};
use crate::objects::Books;
use crate::wechatpay::WechatPay;

/// The random part of a new session's or refund's id (pay_core::shard::id adds its kind and
/// shard once the order is known); made before an idempotent request runs, and kept with its
/// key, so that a retry makes the same id.
pub fn new_token() -> ApiResult<String> {
    Ok(random_hex(12)?)
}

/// What a use case runs with.
pub struct Ctx<'a> {
    pub ledger: &'a Ledger,
    /// The books' objects: a session's change is told to its payer's live connection.
    pub books: &'a Books,
    pub wechatpay: WechatPay<'a>,
    pub merchant: &'a MerchantProfile,
    pub now: UnixTime,
}

impl Ctx<'_> {
    /// The session with this id, or a 404.
    pub async fn session(&self, id: &str) -> ApiResult<CheckoutSession> {
        self.ledger
            .sessions()
            .by_id(id)
            .await?
            .ok_or(ApiError::NotFound("checkout session"))
    }

    /// The refund with this id, or a 404.
    pub async fn refund(&self, id: &str) -> ApiResult<Refund> {
        self.ledger
            .refunds()
            .by_id(id)
            .await?
            .ok_or(ApiError::NotFound("refund"))
    }
}
