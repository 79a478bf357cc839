//! The merchant-facing API v3. Every request's Authorization is verified against the
//! merchant's registered key; every answer, errors included, is signed with `Wechatpay-*`
//! headers under the simulator's WeChat Pay public key ID.

mod bill;
mod certificates;
mod pay;
mod refund;

use pay_core::crypto::webcrypto::{random_hex, WebCryptoVerifier};
use pay_core::v3::AuthorizationHeader;
use serde::Serialize;
use worker::{Delay, Method, Request, Response, Url};

use crate::books::Books;
use crate::config::Merchant;
use crate::error::{PlatformError, PlatformResult};
use crate::App;

pub use pay::transaction_view;

/// How long the `prepay_no_answer` fault holds a prepay before answering, unless its param says
/// otherwise (ms): long enough that clients time out first. The order is created all the same.
const NO_ANSWER_MS: i64 = 30_000;

pub async fn handle(mut req: Request, app: &App, segments: &[&str]) -> Response {
    // Who asked decides which key ID the answer is signed under; read it before routing.
    let caller = req
        .headers()
        .get("Authorization")
        .ok()
        .flatten()
        .and_then(|v| AuthorizationHeader::parse(&v).ok())
        .and_then(|h| app.config.merchant(&h.mchid));
    if segments == ["v3", "billdownload", "file"] {
        // The bill file itself is the one answer the platform does not sign.
        let download = match verified_call(&mut req, app).await {
            Ok(call) => bill::download(app, &call).await,
            Err(e) => Err(e),
        };
        return match download.and_then(|(bytes, content_type)| bill_file(bytes, content_type)) {
            Ok(response) => response,
            Err(e) => signed_response(
                app,
                e.status(),
                serde_json::to_vec(&e.body()).unwrap_or_default(),
                caller,
            )
            .await
            .unwrap_or_else(|_| Response::error("internal", 500).expect("static")),
        };
    }
    let (status, body) = match route(&mut req, app, segments).await {
        Ok((status, body)) => (status, body),
        Err(e) => (
            e.status(),
            serde_json::to_vec(&e.body()).unwrap_or_default(),
        ),
    };
    match signed_response(app, status, body, caller).await {
        Ok(response) => response,
        Err(e) => Response::error(
            format!("simulator could not sign its answer: {}", e.message()),
            500,
        )
        .expect("static"),
    }
}

/// A verified request: who sent it, what it asked for.
pub struct Call<'a> {
    pub merchant: &'a Merchant,
    pub url: Url,
    pub body: Vec<u8>,
}

impl Call<'_> {
    pub fn query(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string())
    }

    /// Most GETs name the merchant again in `?mchid=`; it must be the caller.
    pub fn require_own_mchid(&self) -> PlatformResult<()> {
        if self.query("mchid").as_deref() == Some(self.merchant.mchid.as_str()) {
            Ok(())
        } else {
            Err(PlatformError::Param(
                "mchid query parameter must be the requesting merchant's".into(),
            ))
        }
    }

    /// The books a caller names for a sub-merchant (`sp_mchid`, `sub_mchid`): the caller must
    /// be that provider, and the sub-merchant its own.
    pub fn sub_merchant_books<'s>(
        &self,
        sp_mchid: &'s str,
        sub_mchid: &'s str,
    ) -> PlatformResult<Books<'s>> {
        if sp_mchid != self.merchant.mchid {
            return Err(PlatformError::Param(
                "sp_mchid must be the requesting service provider's mchid".into(),
            ));
        }
        if self.merchant.sub_merchant(sub_mchid).is_none() {
            return Err(PlatformError::NoAuth(format!(
                "服务商 {sp_mchid} 与特约商户 {sub_mchid} 无受理关系"
            )));
        }
        Ok(Books::Partner {
            sp_mchid,
            sub_mchid,
        })
    }

    /// A caller's own books, or with `sub_mchid` (partner mode's refunds and bills) its
    /// sub-merchant's.
    pub fn books<'s>(&'s self, sub_mchid: Option<&'s str>) -> PlatformResult<Books<'s>> {
        match sub_mchid {
            Some(sub_mchid) => self.sub_merchant_books(&self.merchant.mchid, sub_mchid),
            None => Ok(Books::Direct {
                mchid: &self.merchant.mchid,
            }),
        }
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> PlatformResult<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| PlatformError::Param(format!("请求体格式错误: {e}")))
    }
}

/// Reads and authenticates a request: the merchant it comes from, its URL and body.
async fn verified_call<'a>(req: &mut Request, app: &'a App) -> PlatformResult<Call<'a>> {
    let url = req.url()?;
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let body = req.bytes().await?;
    let merchant = authenticate(req, app, req.method().as_ref(), &path_and_query, &body).await?;
    Ok(Call {
        merchant,
        url,
        body,
    })
}

async fn route(req: &mut Request, app: &App, segments: &[&str]) -> PlatformResult<(u16, Vec<u8>)> {
    let method = req.method();
    let call = verified_call(req, app).await?;
    let merchant = call.merchant;
    // Call faults are keyed by the caller: a provider's reach its partner calls.
    let caller = [merchant.mchid.as_str()];
    if app
        .store
        .take_fault("system_error_once", &caller)
        .await?
        .is_some()
    {
        return Err(PlatformError::System(
            "injected fault: system_error_once".into(),
        ));
    }
    if app
        .store
        .take_fault("frequency_limited", &caller)
        .await?
        .is_some()
    {
        return Err(PlatformError::FrequencyLimited);
    }
    if let Some((mode, rest)) = pay::Mode::of_path(segments) {
        return match (method, rest) {
            (Method::Post, [scene @ ("native" | "jsapi" | "h5")]) => {
                if app.store.take_fault("prepay_5xx", &caller).await?.is_some() {
                    return Err(PlatformError::System("injected fault: prepay_5xx".into()));
                }
                let answer = pay::prepay(app, &call, mode, scene).await;
                hold_answer(app, "prepay_no_answer", &caller).await?;
                answer
            }
            (Method::Get, ["out-trade-no", no]) => {
                pay::query(app, &call, mode, pay::Lookup::OutTradeNo(no)).await
            }
            (Method::Get, ["id", id]) => {
                pay::query(app, &call, mode, pay::Lookup::TransactionId(id)).await
            }
            (Method::Post, ["out-trade-no", no, "close"]) => pay::close(app, &call, mode, no).await,
            _ => Err(PlatformError::NoSuchPath),
        };
    }
    match (method, segments) {
        (Method::Post, ["v3", "refund", "domestic", "refunds"]) => {
            let answer = refund::create(app, &call).await;
            hold_answer(app, "refund_no_answer", &caller).await?;
            answer
        }
        (Method::Get, ["v3", "certificates"]) => certificates::list(app, &call),
        (Method::Get, ["v3", "bill", "tradebill"]) => bill::trade_bill(app, &call).await,
        (Method::Get, ["v3", "bill", "fundflowbill"]) => bill::fund_flow_bill(app, &call).await,
        (Method::Get, ["v3", "bill", "sub-merchant-fundflowbill"]) => {
            bill::sub_merchant_fund_flow_bill(app, &call).await
        }
        (Method::Get, ["v3", "refund", "domestic", "refunds", no]) => {
            refund::query(app, &call, no).await
        }
        _ => Err(PlatformError::NoSuchPath),
    }
}

/// The `*_no_answer` faults: the work is done, but its answer waits (param ms, default
/// [`NO_ANSWER_MS`]) long enough that the client gives up first.
async fn hold_answer(app: &App, fault: &str, caller: &[&str]) -> PlatformResult<()> {
    if let Some(hold) = app.store.take_fault(fault, caller).await? {
        let ms = hold.unwrap_or(NO_ANSWER_MS).clamp(0, 120_000) as u64;
        Delay::from(std::time::Duration::from_millis(ms)).await;
    }
    Ok(())
}

/// Verifies `Authorization: WECHATPAY2-SHA256-RSA2048 …` as the real platform does.
async fn authenticate<'a>(
    req: &Request,
    app: &'a App,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> PlatformResult<&'a Merchant> {
    let value = req
        .headers()
        .get("Authorization")?
        .ok_or_else(|| PlatformError::Sign("Authorization header is missing".into()))?;
    let header =
        AuthorizationHeader::parse(&value).map_err(|e| PlatformError::Sign(e.to_string()))?;
    let merchant = app
        .config
        .merchant(&header.mchid)
        .ok_or_else(|| PlatformError::Sign(format!("unknown mchid {}", header.mchid)))?;
    if !header.serial_no.eq_ignore_ascii_case(&merchant.serial) {
        return Err(PlatformError::Sign(format!(
            "serial_no {} is not this merchant's API certificate",
            header.serial_no
        )));
    }
    header
        .verify(
            method,
            path_and_query,
            body,
            &merchant.public_key,
            app.now,
            &*WebCryptoVerifier::shared(),
        )
        .await
        .map_err(|e| PlatformError::Sign(e.to_string()))?;
    Ok(merchant)
}

pub fn json<T: Serialize>(status: u16, value: &T) -> PlatformResult<(u16, Vec<u8>)> {
    Ok((
        status,
        serde_json::to_vec(value).map_err(|e| PlatformError::System(e.to_string()))?,
    ))
}

fn bill_file(bytes: Vec<u8>, content_type: &str) -> PlatformResult<Response> {
    let mut response = Response::from_bytes(bytes)?;
    response.headers_mut().set("Content-Type", content_type)?;
    Ok(response)
}

/// Signs `body` as the platform signs every answer.
async fn signed_response(
    app: &App,
    status: u16,
    body: Vec<u8>,
    caller: Option<&Merchant>,
) -> PlatformResult<Response> {
    let signed = app.sign_as_platform(&body, caller).await?;
    let mut response = if body.is_empty() {
        Response::empty()?
    } else {
        Response::from_bytes(body)?
    }
    .with_status(status);
    let headers = response.headers_mut();
    headers.set("Content-Type", "application/json; charset=utf-8")?;
    headers.set("Request-ID", &format!("sandbox-{}", random_hex(8)?))?;
    for (name, value) in signed.pairs() {
        headers.set(name, value)?;
    }
    Ok(response)
}
