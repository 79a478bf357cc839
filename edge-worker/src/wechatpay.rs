//! The WeChat Pay API v3 client: every request signed with the merchant key (Web Crypto,
//! imported once per isolate), every 2xx response verified before it is believed.

use pay_core::bill;
use pay_core::crypto::webcrypto::{random_hex, WebCryptoSigner};
use pay_core::v3::model::{
    ApiErrorBody, BillLocation, CloseRequest, H5PrepayResponse, JsapiPrepayResponse,
    NativePrepayResponse, PrepayRequest, Refund, RefundRequest, Transaction,
};
use pay_core::v3::{AuthorizationHeader, RequestToSign, SignedHeaders};
use pay_core::{CstDate, UnixTime};
use serde::de::DeserializeOwned;
use worker::{AbortSignal, Fetch, Headers, Method, Request, RequestInit};

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::{keys, App};

/// How long a call to WeChat Pay may take before it counts as unanswered.
const UPSTREAM_TIMEOUT_MS: u32 = 10_000;
const USER_AGENT: &str = concat!("wechat-checkout-edge/", env!("CARGO_PKG_VERSION"));

pub struct WechatPayClient<'a> {
    app: &'a App,
    config: &'a Config,
}

impl<'a> WechatPayClient<'a> {
    pub fn new(app: &'a App) -> Self {
        WechatPayClient {
            app,
            config: &app.config,
        }
    }

    /// `GET /v3/certificates`, unverified: `keys::refresh` checks it against what it carries.
    pub async fn certificates(&self) -> ApiResult<(SignedHeaders, Vec<u8>)> {
        let (_, headers, body) = self
            .send(Method::Get, "/v3/certificates", b"", self.app.now)
            .await?;
        Ok((signed_headers(&headers)?, body))
    }

    /// A day's bill, downloaded and checked: `kind` is `tradebill` (`bill_type=ALL`) or
    /// `fundflowbill` (the BASIC account), asked for gzipped. The location answer is signed and
    /// verified; the file itself is not signed (as on the platform) but must match its SHA1.
    pub async fn bill(&self, kind: &str, day: CstDate) -> ApiResult<String> {
        let extra = if kind == "tradebill" {
            "bill_type=ALL"
        } else {
            "account_type=BASIC"
        };
        let location: BillLocation = self
            .call(
                Method::Get,
                &format!("/v3/bill/{kind}?bill_date={day}&{extra}&tar_type=GZIP"),
                b"",
                self.app.now,
            )
            .await?;
        // The download is signed with the URL's own path and query (its host is WeChat Pay's).
        let url = worker::Url::parse(&location.download_url)
            .map_err(|e| ApiError::Internal(format!("download_url: {e}")))?;
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let (_, _, file) = self.send(Method::Get, &path, b"", self.app.now).await?;
        Ok(bill::checked_text(
            &gunzip(&file).await?,
            &location.hash_value,
        )?)
    }

    pub async fn native_prepay(
        &self,
        request: &PrepayRequest,
        now: UnixTime,
    ) -> ApiResult<NativePrepayResponse> {
        self.call(
            Method::Post,
            "/v3/pay/transactions/native",
            &json_bytes(request)?,
            now,
        )
        .await
    }

    pub async fn jsapi_prepay(
        &self,
        request: &PrepayRequest,
        now: UnixTime,
    ) -> ApiResult<JsapiPrepayResponse> {
        self.call(
            Method::Post,
            "/v3/pay/transactions/jsapi",
            &json_bytes(request)?,
            now,
        )
        .await
    }

    pub async fn h5_prepay(
        &self,
        request: &PrepayRequest,
        now: UnixTime,
    ) -> ApiResult<H5PrepayResponse> {
        self.call(
            Method::Post,
            "/v3/pay/transactions/h5",
            &json_bytes(request)?,
            now,
        )
        .await
    }

    /// WeChat OAuth (snsapi_base): the payer's openid for a code, with the app's AppSecret.
    pub async fn oauth_openid(&self, code: &str) -> ApiResult<String> {
        let secret = self.config.app_secret.as_deref().ok_or_else(|| {
            ApiError::Config("WECHAT_APP_SECRET is not set (JSAPI needs it)".into())
        })?;
        let mut url = worker::Url::parse(&format!(
            "{}/sns/oauth2/access_token",
            self.config.oauth_api_base
        ))
        .map_err(|e| ApiError::Config(format!("WECHAT_OAUTH_API_BASE: {e}")))?;
        url.query_pairs_mut()
            .append_pair("appid", &self.config.appid)
            .append_pair("secret", secret)
            .append_pair("code", code)
            .append_pair("grant_type", "authorization_code");
        let answer: serde_json::Value = Fetch::Url(url).send().await?.json().await?;
        match answer.get("openid").and_then(|o| o.as_str()) {
            Some(openid) => Ok(openid.to_string()),
            None => Err(ApiError::Upstream {
                signed: false,
                status: 400,
                code: answer
                    .get("errcode")
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                message: answer
                    .get("errmsg")
                    .and_then(|m| m.as_str())
                    .unwrap_or("no openid")
                    .to_string(),
            }),
        }
    }

    /// The transaction as WeChat Pay has it (unpaid orders are only found by out_trade_no).
    pub async fn query(&self, out_trade_no: &str, now: UnixTime) -> ApiResult<Transaction> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
            self.config.mchid
        );
        self.call(Method::Get, &path, b"", now).await
    }

    /// Closes an unpaid order (204). A paid one answers ORDER_PAID, returned as the error.
    pub async fn close(&self, out_trade_no: &str, now: UnixTime) -> ApiResult<()> {
        let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close");
        let body = json_bytes(&CloseRequest {
            mchid: self.config.mchid.clone(),
        })?;
        self.call_raw(Method::Post, &path, &body, now)
            .await
            .map(|_| ())
    }

    /// A refund as WeChat Pay has it now (the fallback when its notification does not come).
    pub async fn refund_status(&self, out_refund_no: &str, now: UnixTime) -> ApiResult<Refund> {
        self.call(
            Method::Get,
            &format!("/v3/refund/domestic/refunds/{out_refund_no}"),
            b"",
            now,
        )
        .await
    }

    pub async fn refund(&self, request: &RefundRequest, now: UnixTime) -> ApiResult<Refund> {
        self.call(
            Method::Post,
            "/v3/refund/domestic/refunds",
            &json_bytes(request)?,
            now,
        )
        .await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        body: &[u8],
        now: UnixTime,
    ) -> ApiResult<T> {
        let (status, bytes) = self.call_raw(method, path_and_query, body, now).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Upstream {
            signed: true,
            status,
            code: "UNEXPECTED_BODY".into(),
            message: e.to_string(),
        })
    }

    /// Signs and sends one request; answers the status and the verified body of a 2xx.
    async fn call_raw(
        &self,
        method: Method,
        path_and_query: &str,
        body: &[u8],
        now: UnixTime,
    ) -> ApiResult<(u16, Vec<u8>)> {
        let (status, headers, bytes) = self.send(method, path_and_query, body, now).await?;
        keys::verify(self.app, &signed_headers(&headers)?, &bytes).await?;
        Ok((status, bytes))
    }

    /// Signs and sends one request; answers a 2xx's status, headers and body, not yet verified.
    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: &[u8],
        now: UnixTime,
    ) -> ApiResult<(u16, Headers, Vec<u8>)> {
        let signer = WebCryptoSigner::cached(&self.config.merchant_key).await?;
        let nonce = random_hex(16)?;
        let authorization = AuthorizationHeader::sign(
            &*signer,
            &self.config.mchid,
            &self.config.merchant_serial,
            RequestToSign {
                method: method.as_ref(),
                path_and_query,
                timestamp: now,
                nonce: &nonce,
                body,
            },
        )
        .await?;

        let headers = Headers::new();
        headers.set("Authorization", &authorization.to_header_value())?;
        headers.set("Accept", "application/json")?;
        headers.set("Content-Type", "application/json")?;
        headers.set("User-Agent", USER_AGENT)?;
        let mut init = RequestInit::new();
        init.with_method(method.clone()).with_headers(headers);
        if method != Method::Get {
            init.with_body(Some(worker::js_sys::Uint8Array::from(body).into()));
        }
        let url = format!("{}{}", self.config.api_base, path_and_query);
        // An answer that does not come is an unknown outcome, like a 5xx: the caller's retry
        // (same out_trade_no / out_refund_no) or the scheduled query settles it.
        let signal = AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(UPSTREAM_TIMEOUT_MS));
        let mut response = Fetch::Request(Request::new_with_init(&url, &init)?)
            .send_with_signal(&signal)
            .await
            .map_err(|e| ApiError::Upstream {
                signed: false,
                status: if signal.aborted() { 504 } else { 502 },
                code: if signal.aborted() {
                    "TIMEOUT"
                } else {
                    "NETWORK"
                }
                .into(),
                message: if signal.aborted() {
                    format!("no answer within {UPSTREAM_TIMEOUT_MS} ms")
                } else {
                    e.to_string()
                },
            })?;
        let status = response.status_code();
        let bytes = response.bytes().await?;

        if !(200..300).contains(&status) {
            // Error answers are not always signed; read them, never act on them as success.
            let err: ApiErrorBody = serde_json::from_slice(&bytes).unwrap_or(ApiErrorBody {
                code: format!("HTTP_{status}"),
                message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            });
            let signed = match signed_headers(response.headers()) {
                Ok(headers) => keys::signed_by_held_keys(self.app, &headers, &bytes).await,
                Err(_) => false,
            };
            return Err(ApiError::Upstream {
                signed,
                status,
                code: err.code,
                message: err.message,
            });
        }
        Ok((status, response.headers().clone(), bytes))
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The runtime's `DecompressionStream` (web-sys has it only behind an unstable cfg).
    type DecompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<DecompressionStream, wasm_bindgen::JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &DecompressionStream) -> web_sys::ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &DecompressionStream) -> web_sys::WritableStream;
}

/// gunzip on the runtime's own DecompressionStream: native speed, and no inflate code in the
/// Worker's wasm.
async fn gunzip(gz: &[u8]) -> ApiResult<Vec<u8>> {
    use wasm_bindgen::JsCast;
    use web_sys::{Blob, ReadableWritablePair};
    let js = |e: wasm_bindgen::JsValue| ApiError::Upstream {
        signed: false,
        status: 502,
        code: "BILL_UNREADABLE".into(),
        message: format!(
            "the bill is not gzip: {}",
            e.as_string().unwrap_or_default()
        ),
    };
    let parts = worker::js_sys::Array::of1(&worker::js_sys::Uint8Array::from(gz));
    let blob = Blob::new_with_u8_array_sequence(&parts).map_err(js)?;
    let inflate = DecompressionStream::new("gzip").map_err(js)?;
    let pair = ReadableWritablePair::new(&inflate.readable(), &inflate.writable());
    let unpacked =
        web_sys::Response::new_with_opt_readable_stream(Some(&blob.stream().pipe_through(&pair)))
            .map_err(js)?;
    let buffer = wasm_bindgen_futures::JsFuture::from(unpacked.array_buffer().map_err(js)?)
        .await
        .map_err(js)?;
    Ok(worker::js_sys::Uint8Array::new(&buffer.unchecked_into()).to_vec())
}

fn signed_headers(headers: &Headers) -> ApiResult<SignedHeaders> {
    Ok(SignedHeaders::from_lookup(|name| {
        headers.get(name).ok().flatten()
    })?)
}

fn json_bytes<T: serde::Serialize>(value: &T) -> ApiResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.to_string()))
}
