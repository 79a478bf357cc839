//! The endpoints this Worker uses, each answer's signature verified before it is believed; an
//! error answer is read (and whether it was signed is kept: only a signed one is WeChat Pay's
//! word), never acted on as success.

use pay_core::bill::encrypted::{sealed_key, BillFileKey};
use pay_core::bill::{self};
use pay_core::crypto::webcrypto::rsa_oaep_decrypt;
use pay_core::requests::Scene;
use pay_core::v3::model::{
    ApiErrorBody, BillLocation, EncryptedBillList, H5PrepayResponse, JsapiPrepayResponse,
    NativePrepayResponse, PrepayRequest, Refund, RefundRequest, Transaction,
};
use pay_core::{CstDate, UnixTime};
use serde::de::DeserializeOwned;
use worker::Method;

use super::bills::{gunzip, unreadable as unreadable_bill, BillKind};
use super::transport::{Answer, Transport};
use super::trust::PlatformTrust;
use crate::catalog::Certificates;
use crate::config::WechatPayAccount;
use crate::error::{ApiError, ApiResult};

/// WeChat Pay, as one merchant's account speaks to it at one moment.
pub struct WechatPay<'a> {
    transport: Transport<'a>,
    certificates: Certificates<'a>,
}

impl<'a> WechatPay<'a> {
    pub fn new(
        api_base: &'a str,
        account: &'a WechatPayAccount,
        certificates: Certificates<'a>,
        now: UnixTime,
    ) -> Self {
        WechatPay {
            transport: Transport {
                api_base,
                account,
                now,
            },
            certificates,
        }
    }

    pub fn account(&self) -> &WechatPayAccount {
        self.transport.account
    }

    fn trust(&self) -> PlatformTrust<'_> {
        PlatformTrust {
            transport: &self.transport,
            certificates: self.certificates,
        }
    }

    /// Verifies bytes WeChat Pay signed (a notification's), as every answer is verified.
    pub async fn verify(
        &self,
        headers: &pay_core::v3::SignedHeaders,
        body: &[u8],
    ) -> ApiResult<()> {
        self.trust().verify(headers, body).await
    }

    /// Where the transactions API is: a provider's calls for its sub-merchants go to the
    /// partner API (服务商模式).
    fn transactions(&self) -> &'static str {
        match self.account().sub_merchant {
            Some(_) => "/v3/pay/partner/transactions",
            None => "/v3/pay/transactions",
        }
    }

    /// The scene's prepay for `request`: a code_url (native), an h5_url (H5) or a prepay_id
    /// (JSAPI).
    pub async fn prepay(&self, scene: Scene, request: &PrepayRequest) -> ApiResult<String> {
        let path = format!("{}/{}", self.transactions(), scene.as_str());
        let body = json_bytes(request)?;
        Ok(match scene {
            Scene::Native => {
                self.call::<NativePrepayResponse>(Method::Post, &path, &body)
                    .await?
                    .code_url
            }
            Scene::H5 => {
                self.call::<H5PrepayResponse>(Method::Post, &path, &body)
                    .await?
                    .h5_url
            }
            Scene::Jsapi => {
                self.call::<JsapiPrepayResponse>(Method::Post, &path, &body)
                    .await?
                    .prepay_id
            }
        })
    }

    /// The transaction as WeChat Pay has it (unpaid orders are only found by out_trade_no).
    pub async fn query(&self, out_trade_no: &str) -> ApiResult<Transaction> {
        let account = self.account();
        let whose = match account.sub_mchid() {
            Some(sub) => format!("sp_mchid={}&sub_mchid={sub}", account.mchid),
            None => format!("mchid={}", account.mchid),
        };
        let path = format!(
            "{}/out-trade-no/{out_trade_no}?{whose}",
            self.transactions()
        );
        self.call(Method::Get, &path, b"").await
    }

    /// Closes an unpaid order (204). A paid one answers ORDER_PAID, returned as the error.
    pub async fn close(&self, out_trade_no: &str) -> ApiResult<()> {
        let path = format!("{}/out-trade-no/{out_trade_no}/close", self.transactions());
        let body = json_bytes(&self.account().payee().mchids())?;
        self.verified(Method::Post, &path, &body).await.map(|_| ())
    }

    /// A refund, asked for by the provider for its sub-merchant in partner mode.
    pub async fn refund(&self, request: &RefundRequest) -> ApiResult<Refund> {
        let request = RefundRequest {
            sub_mchid: self.account().sub_mchid().map(Into::into),
            ..request.clone()
        };
        self.call(
            Method::Post,
            "/v3/refund/domestic/refunds",
            &json_bytes(&request)?,
        )
        .await
    }

    /// A refund as WeChat Pay has it now (the fallback when its notification does not come).
    pub async fn refund_status(&self, out_refund_no: &str) -> ApiResult<Refund> {
        let sub = self
            .account()
            .sub_mchid()
            .map_or(String::new(), |s| format!("?sub_mchid={s}"));
        let path = format!("/v3/refund/domestic/refunds/{out_refund_no}{sub}");
        self.call(Method::Get, &path, b"").await
    }

    /// A day's bill, downloaded and checked (asked for gzipped). The location answer is signed
    /// and verified; the file itself is not signed (as on the platform) but must match its SHA1.
    /// A sub-merchant's fund flow is its own account's, which WeChat Pay gives its provider
    /// sealed.
    pub async fn bill(&self, kind: BillKind, day: CstDate) -> ApiResult<String> {
        let sub_mchid = self.account().sub_mchid();
        if let (BillKind::FundFlow, Some(sub_mchid)) = (kind, sub_mchid) {
            return self.sub_merchant_fund_flow(day, sub_mchid).await;
        }
        let location: BillLocation = self
            .call(Method::Get, &kind.location_path(day, sub_mchid), b"")
            .await?;
        let file = self.download(&location.download_url).await?;
        Ok(bill::checked_text(
            &gunzip(&file).await?,
            &location.hash_value,
        )?)
    }

    /// `/v3/bill/sub-merchant-fundflowbill`: each part downloaded, its key opened with the
    /// provider's private key (RSA-OAEP), the part opened (AES-256-GCM), gunzipped and checked
    /// against its SHA1, the parts joined in their sequence.
    async fn sub_merchant_fund_flow(&self, day: CstDate, sub_mchid: &str) -> ApiResult<String> {
        let path = format!(
            "/v3/bill/sub-merchant-fundflowbill?sub_mchid={sub_mchid}&bill_date={day}\
             &account_type=BASIC&algorithm=AEAD_AES_256_GCM&tar_type=GZIP"
        );
        let list: EncryptedBillList = self.call(Method::Get, &path, b"").await?;
        let mut parts = list.download_bill_list;
        if parts.len() != list.download_bill_count as usize {
            return Err(unreadable_bill(format!(
                "{} parts listed of {}",
                parts.len(),
                list.download_bill_count
            )));
        }
        parts.sort_by_key(|p| p.bill_sequence);
        let mut text = String::new();
        for part in parts {
            let key = sealed_key(&part.encrypt_key)?;
            let key = rsa_oaep_decrypt(&self.account().merchant_key, &key).await?;
            let file = self.download(&part.download_url).await?;
            let opened = BillFileKey::from_bytes(&key)?.open(&part.nonce, &file)?;
            text.push_str(&bill::checked_text(
                &gunzip(&opened).await?,
                &part.hash_value,
            )?);
        }
        Ok(text)
    }

    /// A bill file from its `download_url`: the request signed with the URL's own path and
    /// query (its host is WeChat Pay's), the answer unsigned, as on the platform.
    async fn download(&self, url: &str) -> ApiResult<Vec<u8>> {
        let path = worker_kit::url::Url::parse(url)
            .map_err(|e| ApiError::Internal(format!("download_url: {e}")))?
            .path_and_query();
        let file = self.transport.send(Method::Get, &path, b"").await?;
        Ok(self.success(file).await?.body)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        body: &[u8],
    ) -> ApiResult<T> {
        let answer = self.verified(method, path_and_query, body).await?;
        serde_json::from_slice(&answer.body).map_err(|e| ApiError::Upstream {
            signed: true,
            status: answer.status,
            code: "UNEXPECTED_BODY".into(),
            message: e.to_string(),
        })
    }

    /// Sends one request; answers a 2xx whose signature verified.
    async fn verified(
        &self,
        method: Method,
        path_and_query: &str,
        body: &[u8],
    ) -> ApiResult<Answer> {
        let answer = self.transport.send(method, path_and_query, body).await?;
        let answer = self.success(answer).await?;
        self.trust()
            .verify(&answer.signature()?, &answer.body)
            .await?;
        Ok(answer)
    }

    /// A 2xx as it is; any other answer as the error it says, noting whether it was signed.
    async fn success(&self, answer: Answer) -> ApiResult<Answer> {
        if answer.is_success() {
            return Ok(answer);
        }
        let status = answer.status;
        // Error answers are not always signed; read them, never act on them as success.
        let err: ApiErrorBody = serde_json::from_slice(&answer.body).unwrap_or(ApiErrorBody {
            code: format!("HTTP_{status}"),
            message: String::from_utf8_lossy(&answer.body)
                .chars()
                .take(200)
                .collect(),
        });
        let signed = match answer.signature() {
            Ok(headers) => {
                self.trust()
                    .signed_by_held_keys(&headers, &answer.body)
                    .await
            }
            Err(_) => false,
        };
        Err(ApiError::Upstream {
            signed,
            status,
            code: err.code,
            message: err.message,
        })
    }
}

fn json_bytes<T: serde::Serialize>(value: &T) -> ApiResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.to_string()))
}
