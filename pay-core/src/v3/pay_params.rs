//! What the payer's client needs to open WeChat Pay, signed on the server with the merchant
//! key. Field names are exactly what each client reads (the casing is a classic failure).

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::crypto::{RsaPublicKey, RsaSigner, RsaVerifier};
use crate::{Error, UnixTime};

/// For `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` (JSAPI, and mini programs), in API v3
/// and v2 alike; only how `paySign` is computed differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsapiPayParams {
    #[serde(rename = "appId")]
    pub app_id: String,
    /// Seconds, as a string.
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `prepay_id=<id>`.
    pub package: String,
    /// `RSA` in API v3; `MD5` or `HMAC-SHA256` in v2.
    #[serde(rename = "signType")]
    pub sign_type: String,
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

/// For the WeChat app SDK's `PayReq` (APP payments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppPayParams {
    #[serde(rename = "appId")]
    pub app_id: String,
    #[serde(rename = "partnerId")]
    pub partner_id: String,
    #[serde(rename = "prepayId")]
    pub prepay_id: String,
    /// Always `Sign=WXPay`.
    #[serde(rename = "packageValue")]
    pub package_value: String,
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    pub sign: String,
}

fn message(lines: [&str; 4]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

async fn sign_lines<S: RsaSigner>(signer: &S, lines: [&str; 4]) -> Result<String, Error> {
    Ok(base64::engine::general_purpose::STANDARD
        .encode(signer.sign_sha256(message(lines).as_bytes()).await?))
}

impl JsapiPayParams {
    /// What the WeChat client checks before it opens the payment sheet: `signType` RSA and
    /// `paySign` valid under the merchant's key.
    pub async fn verify<V: RsaVerifier>(
        &self,
        merchant_key: &RsaPublicKey,
        verifier: &V,
    ) -> Result<(), Error> {
        if self.sign_type != "RSA" {
            return Err(Error::UnsupportedAlgorithm(self.sign_type.clone()));
        }
        let signature = base64::engine::general_purpose::STANDARD
            .decode(&self.pay_sign)
            .map_err(|_| Error::BadSignature)?;
        let lines = message([
            &self.app_id,
            &self.time_stamp,
            &self.nonce_str,
            &self.package,
        ]);
        if verifier
            .verify_sha256(merchant_key, lines.as_bytes(), &signature)
            .await?
        {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }
}

/// Signs `appId\ntimeStamp\nnonceStr\nprepay_id=…\n` with the merchant key.
pub async fn jsapi<S: RsaSigner>(
    signer: &S,
    appid: &str,
    prepay_id: &str,
    timestamp: UnixTime,
    nonce: &str,
) -> Result<JsapiPayParams, Error> {
    let time_stamp = timestamp.secs().to_string();
    let package = format!("prepay_id={prepay_id}");
    let pay_sign = sign_lines(signer, [appid, &time_stamp, nonce, &package]).await?;
    Ok(JsapiPayParams {
        app_id: appid.into(),
        time_stamp,
        nonce_str: nonce.into(),
        package,
        sign_type: "RSA".into(),
        pay_sign,
    })
}

/// Signs `appid\ntimestamp\nnoncestr\n<bare prepay_id>\n`: unlike JSAPI, no `prepay_id=`.
pub async fn app<S: RsaSigner>(
    signer: &S,
    appid: &str,
    mchid: &str,
    prepay_id: &str,
    timestamp: UnixTime,
    nonce: &str,
) -> Result<AppPayParams, Error> {
    let time_stamp = timestamp.secs().to_string();
    let sign = sign_lines(signer, [appid, &time_stamp, nonce, prepay_id]).await?;
    Ok(AppPayParams {
        app_id: appid.into(),
        partner_id: mchid.into(),
        prepay_id: prepay_id.into(),
        package_value: "Sign=WXPay".into(),
        nonce_str: nonce.into(),
        time_stamp,
        sign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rustcrypto::RustCryptoSigner;
    use crate::crypto::test_keys::OFFICIAL_MERCHANT_KEY;
    use crate::crypto::RsaPrivateKeyDer;
    use crate::test_support::block_on;

    fn signer() -> RustCryptoSigner {
        RustCryptoSigner::new(&RsaPrivateKeyDer::from_pem(OFFICIAL_MERCHANT_KEY).unwrap()).unwrap()
    }

    #[test]
    fn v5_official_jsapi_pay_sign_with_bridge_casing() {
        let p = block_on(jsapi(
            &signer(),
            "wx2421b1c4370ec43b",
            "wx201410272009395522657a690389285100",
            UnixTime(1554208460),
            "593BEC0C930BF1AFEB40B4A08C8FB242",
        ))
        .unwrap();
        assert_eq!(
            p.pay_sign,
            include_str!("../../tests/vectors/v5_paysign.txt").trim()
        );
        let json = serde_json::to_value(&p).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "appId",
                "nonceStr",
                "package",
                "paySign",
                "signType",
                "timeStamp"
            ]
        );
        assert_eq!(json["timeStamp"], "1554208460");
        assert_eq!(
            json["package"],
            "prepay_id=wx201410272009395522657a690389285100"
        );
        assert_eq!(json["signType"], "RSA");
        let key = crate::test_support::official_public_key();
        let verifier = crate::crypto::rustcrypto::RustCryptoVerifier;
        assert_eq!(block_on(p.verify(&key, &verifier)), Ok(()));
        let wrong_casing: Result<JsapiPayParams, _> =
            serde_json::from_str(&json.to_string().replace("timeStamp", "timestamp"));
        assert!(
            wrong_casing.is_err(),
            "the bridge reads timeStamp, not timestamp"
        );
        for alter in [
            |p: &mut JsapiPayParams| p.package = p.package.replace("prepay_id=", ""),
            |p: &mut JsapiPayParams| p.time_stamp.push('0'),
        ] {
            let mut bad = p.clone();
            alter(&mut bad);
            assert_eq!(
                block_on(bad.verify(&key, &verifier)),
                Err(Error::BadSignature)
            );
        }
    }

    #[test]
    fn v6_official_app_sign_uses_the_bare_prepay_id() {
        let p = block_on(app(
            &signer(),
            "wx2421b1c4370ec43b",
            "1900000109",
            "wx201410272009395522657a690389285100",
            UnixTime(1554208460),
            "593BEC0C930BF1AFEB40B4A08C8FB242",
        ))
        .unwrap();
        assert_eq!(
            p.sign,
            include_str!("../../tests/vectors/v6_appsign.txt").trim()
        );
        assert_eq!(p.package_value, "Sign=WXPay");
    }
}
