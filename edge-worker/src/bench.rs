//! Bench-only routes, compiled with `--features bench` (scripts/bench.mjs builds it apart; a
//! deployed Worker has none of this). Each loops a hot path N times inside one request, so the
//! runtime's own CPU accounting, read around the request, gives the cost per iteration without
//! HTTP around each one.
//!
//! - `POST /bench/notification-core {"n", "notifications": [{"headers", "body"}], "amount_fen"}`:
//!   pay-core's whole notification path — RSA verification over the raw bytes (Web Crypto),
//!   AES-256-GCM decryption, parsing, the cross-check against the order, the decision.
//! - `POST /bench/sign {"n"}`: an API v3 request signature with the merchant key imported once
//!   per isolate.

use std::collections::HashMap;

use pay_core::checkout::{decide_payment, OrderFacts, PaymentDecision, SessionStatus};
use pay_core::crypto::webcrypto::{WebCryptoSigner, WebCryptoVerifier};
use pay_core::v3::model::Transaction;
use pay_core::v3::{AuthorizationHeader, Notification, RequestToSign, SignedHeaders};
use pay_core::{Fen, UnixTime};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::http;

#[derive(Deserialize)]
struct NotificationCase {
    headers: HashMap<String, String>,
    body: String,
}

#[derive(Deserialize)]
struct NotificationBench {
    n: usize,
    notifications: Vec<NotificationCase>,
    amount_fen: i64,
    /// `all` (default), or one step for the profile: `verify` (RSA over the raw bytes) or
    /// `open` (decryption, parsing, cross-check and decision, the signature taken as verified).
    #[serde(default)]
    part: Option<String>,
}

#[derive(Deserialize)]
struct SignBench {
    n: usize,
}

pub async fn handle(
    req: &mut Request,
    config: &Config,
    now: UnixTime,
    what: &str,
) -> ApiResult<Response> {
    match what {
        "notification-core" => notification_core(req, config, now).await,
        "sign" => sign(req, config, now).await,
        _ => Err(ApiError::NotFound("bench")),
    }
}

async fn notification_core(
    req: &mut Request,
    config: &Config,
    now: UnixTime,
) -> ApiResult<Response> {
    let bench: NotificationBench = http::json_body(req).await?;
    let cases: Vec<(SignedHeaders, &[u8])> = bench
        .notifications
        .iter()
        .map(|c| {
            let headers = SignedHeaders::from_lookup(|name| {
                c.headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            })?;
            Ok((headers, c.body.as_bytes()))
        })
        .collect::<ApiResult<_>>()?;
    let verifier = WebCryptoVerifier::shared();
    let mut paid = 0;
    let part = bench.part.as_deref().unwrap_or("all");
    for i in 0..bench.n {
        let (headers, body) = &cases[i % cases.len()];
        if part == "verify" {
            headers
                .verify(body, &config.platform_keys, now, &*verifier)
                .await?;
            paid += 1;
            continue;
        }
        let notification = if part == "open" {
            Notification::decrypt_verified(body, &config.api_v3_key)?
        } else {
            Notification::open(
                headers,
                body,
                &config.platform_keys,
                &config.api_v3_key,
                now,
                &*verifier,
            )
            .await?
        };
        let tx: Transaction = notification.resource()?;
        let facts = OrderFacts {
            mchid: &config.mchid,
            appid: &config.appid,
            out_trade_no: &tx.out_trade_no,
            amount: Fen::new(bench.amount_fen),
            status: SessionStatus::Open,
            transaction_id: None,
        };
        if let PaymentDecision::MarkPaid { .. } = decide_payment(&facts, &tx, now)? {
            paid += 1;
        }
    }
    Ok(http::json(200, &json!({ "n": bench.n, "paid": paid })))
}

async fn sign(req: &mut Request, config: &Config, now: UnixTime) -> ApiResult<Response> {
    let SignBench { n } = http::json_body(req).await?;
    let signer = WebCryptoSigner::cached(&config.merchant_key).await?;
    let mut last = String::new();
    for i in 0..n {
        let nonce = format!("{i:032x}");
        let path = format!(
            "/v3/pay/transactions/out-trade-no/BENCH{i}?mchid={}",
            config.mchid
        );
        let header = AuthorizationHeader::sign(
            &*signer,
            &config.mchid,
            &config.merchant_serial,
            RequestToSign {
                method: "GET",
                path_and_query: &path,
                timestamp: now,
                nonce: &nonce,
                body: b"",
            },
        )
        .await?;
        last = header.to_header_value();
    }
    Ok(http::json(200, &json!({ "n": n, "last": last })))
}
