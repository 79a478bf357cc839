//! One signed request to WeChat Pay and its answer as it came: every request signed with the
//! merchant key (Web Crypto, imported once per isolate), every call bounded by a deadline.

use pay_core::crypto::webcrypto::{random_hex, WebCryptoSigner};
use pay_core::v3::{AuthorizationHeader, RequestToSign, SignedHeaders};
use pay_core::UnixTime;
use worker::{Headers, Method};
use worker_kit::fetch::{self, Outgoing};

use crate::config::WechatPayAccount;
use crate::error::ApiResult;

/// How long a call to WeChat Pay may take before it counts as unanswered: an unknown outcome,
/// like a 5xx, which the caller's retry (same out_trade_no / out_refund_no) or the scheduled
/// query settles.
const TIMEOUT_MS: u32 = 10_000;
const USER_AGENT: &str = concat!("wechat-checkout-edge/", env!("CARGO_PKG_VERSION"));

/// An answer, not yet verified.
pub struct Answer {
    pub status: u16,
    headers: Headers,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Its signature headers (`Wechatpay-Signature`, `-Serial`, `-Timestamp`, `-Nonce`).
    pub fn signature(&self) -> ApiResult<SignedHeaders> {
        Ok(SignedHeaders::from_lookup(|name| {
            self.headers.get(name).ok().flatten()
        })?)
    }
}

pub struct Transport<'a> {
    pub api_base: &'a str,
    pub account: &'a WechatPayAccount,
    pub now: UnixTime,
}

impl Transport<'_> {
    /// Signs and sends one request (`path_and_query` as signed); answers whatever came back.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: &[u8],
    ) -> ApiResult<Answer> {
        let signer = WebCryptoSigner::cached(&self.account.merchant_key).await?;
        let nonce = random_hex(16)?;
        let authorization = AuthorizationHeader::sign(
            &*signer,
            &self.account.mchid,
            &self.account.merchant_serial,
            RequestToSign {
                method: method.as_ref(),
                path_and_query,
                timestamp: self.now,
                nonce: &nonce,
                body,
            },
        )
        .await?
        .to_header_value();
        let url = format!("{}{}", self.api_base, path_and_query);
        let mut response = fetch::send(
            Outgoing {
                method,
                url: &url,
                headers: &[
                    ("Authorization", &authorization),
                    ("Accept", "application/json"),
                    ("Content-Type", "application/json"),
                    ("User-Agent", USER_AGENT),
                ],
                body,
            },
            TIMEOUT_MS,
        )
        .await?;
        let status = response.status_code();
        let body = response.bytes().await?;
        Ok(Answer {
            status,
            headers: response.headers().clone(),
            body,
        })
    }
}
