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

use checkout_service::config::{Trust, WechatPayAccount};
use checkout_service::error::{ApiError, ApiResult};
use checkout_service::http::request as http;

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
    /// `all` (default), or one step for the profile: `verify` (RSA over the raw bytes), `open`
    /// (decryption, parsing, cross-check and decision, the signature taken as verified), `aes`
    /// (AES-256-GCM alone) or `parse` (the envelope's and the transaction's JSON alone).
    #[serde(default)]
    part: Option<String>,
    /// For `aes-webcrypto` only: the API v3 key to import into Web Crypto.
    #[serde(default)]
    api_v3_key: Option<String>,
}

#[derive(Deserialize)]
struct SignBench {
    n: usize,
}

/// The bench runs in public-key mode: the configured key is what it verifies with.
fn platform_keys(account: &WechatPayAccount) -> ApiResult<&pay_core::v3::PlatformKeys> {
    match &account.trust {
        Trust::PublicKey(keys) => Ok(keys),
        Trust::Certificates => Err(ApiError::Config(
            "the bench needs WECHATPAY_PUBLIC_KEY".into(),
        )),
    }
}

pub async fn handle(
    req: &mut Request,
    config: &WechatPayAccount,
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
    config: &WechatPayAccount,
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
    if part == "aes-webcrypto" {
        // The comparison that decided against Web Crypto for AES-GCM: its glue and async hop.
        let opened: Vec<Notification> = cases
            .iter()
            .map(|(_, body)| Notification::decrypt_verified(body, &config.api_v3_key))
            .collect::<Result<_, _>>()?;
        let raw = bench.api_v3_key.as_deref().unwrap_or_default();
        let key = webcrypto_aes::import(raw).await?;
        for i in 0..bench.n {
            let r = &opened[i % opened.len()].envelope.resource;
            webcrypto_aes::decrypt(&key, &r.nonce, &r.associated_data, &r.ciphertext).await?;
            paid += 1;
        }
        return Ok(http::json(200, &json!({ "n": bench.n, "paid": paid })));
    }
    if part == "aes" || part == "parse" {
        let opened: Vec<Notification> = cases
            .iter()
            .map(|(_, body)| Notification::decrypt_verified(body, &config.api_v3_key))
            .collect::<Result<_, _>>()?;
        for i in 0..bench.n {
            let (_, body) = &cases[i % cases.len()];
            let n = &opened[i % opened.len()];
            let r = &n.envelope.resource;
            if part == "aes" {
                config
                    .api_v3_key
                    .decrypt(&r.nonce, &r.associated_data, &r.ciphertext)?;
            } else {
                let _: serde_json::Value =
                    serde_json::from_slice(body).map_err(|e| ApiError::Internal(e.to_string()))?;
                let _: Transaction = n.resource()?;
            }
            paid += 1;
        }
        return Ok(http::json(200, &json!({ "n": bench.n, "paid": paid })));
    }
    for i in 0..bench.n {
        let (headers, body) = &cases[i % cases.len()];
        if part == "verify" {
            headers
                .verify(body, platform_keys(config)?, now, &*verifier)
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
                platform_keys(config)?,
                &config.api_v3_key,
                now,
                &*verifier,
            )
            .await?
        };
        let tx: Transaction = notification.resource()?;
        let payee = config.payee();
        let facts = OrderFacts {
            payee: &payee,
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

async fn sign(req: &mut Request, config: &WechatPayAccount, now: UnixTime) -> ApiResult<Response> {
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

/// AES-256-GCM on the runtime's Web Crypto, measured against AES in wasm (`aes-webcrypto`).
mod webcrypto_aes {
    use base64::Engine;
    use wasm_bindgen_futures::JsFuture;
    use worker::js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
    use worker::wasm_bindgen::{JsCast, JsValue};

    use checkout_service::error::{ApiError, ApiResult};

    fn subtle() -> web_sys::SubtleCrypto {
        let crypto = Reflect::get(&worker::js_sys::global(), &"crypto".into()).expect("crypto");
        crypto.unchecked_into::<web_sys::Crypto>().subtle()
    }

    fn js(e: JsValue) -> ApiError {
        ApiError::Internal(format!("{e:?}"))
    }

    pub async fn import(raw: &str) -> ApiResult<web_sys::CryptoKey> {
        let algorithm = Object::new();
        Reflect::set(&algorithm, &"name".into(), &"AES-GCM".into()).map_err(js)?;
        let promise = subtle()
            .import_key_with_object(
                "raw",
                &Uint8Array::from(raw.as_bytes()).into(),
                &algorithm,
                false,
                &Array::of1(&"decrypt".into()),
            )
            .map_err(js)?;
        Ok(JsFuture::from(promise).await.map_err(js)?.unchecked_into())
    }

    pub async fn decrypt(
        key: &web_sys::CryptoKey,
        nonce: &str,
        aad: &str,
        ciphertext_b64: &str,
    ) -> ApiResult<Vec<u8>> {
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(ciphertext_b64)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let params = Object::new();
        Reflect::set(&params, &"name".into(), &"AES-GCM".into()).map_err(js)?;
        Reflect::set(&params, &"iv".into(), &Uint8Array::from(nonce.as_bytes())).map_err(js)?;
        Reflect::set(
            &params,
            &"additionalData".into(),
            &Uint8Array::from(aad.as_bytes()),
        )
        .map_err(js)?;
        let promise = subtle()
            .decrypt_with_object_and_u8_array(&params, key, &sealed)
            .map_err(js)?;
        let plain = JsFuture::from(promise).await.map_err(js)?;
        Ok(Uint8Array::new(&plain.unchecked_into::<ArrayBuffer>()).to_vec())
    }
}
