//! WeChat Pay API v2, for merchants still on it: parameter-map signatures (MD5 and
//! HMAC-SHA256 under the API key), the JSAPI paySign, notification XML, the success reply and
//! refund `req_info` decryption.

pub mod refund;
pub mod xml;

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::v3::pay_params::JsapiPayParams;
use crate::{Error, UnixTime};

/// A v2 parameter map, kept in ASCII order of its names (what the signature is computed over).
pub type Params = BTreeMap<String, String>;

/// The answer WeChat Pay expects to a v2 notification that was handled.
pub const SUCCESS_REPLY: &str = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignType {
    Md5,
    HmacSha256,
}

impl SignType {
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// The type named by `sign_type`, or, when it is absent (as in some notifications to
    /// HMAC-SHA256 merchants), the one the signature's length implies: 32 hex digits are MD5,
    /// 64 are HMAC-SHA256.
    pub fn of(sign_type: Option<&str>, sign: &str) -> Result<Self, Error> {
        match (sign_type, sign.len()) {
            (Some("MD5"), _) => Ok(SignType::Md5),
            (Some("HMAC-SHA256"), _) => Ok(SignType::HmacSha256),
            (Some(other), _) => Err(Error::UnsupportedAlgorithm(other.to_string())),
            (None, 32) => Ok(SignType::Md5),
            (None, 64) => Ok(SignType::HmacSha256),
            (None, n) => Err(Error::Malformed {
                what: "v2 sign",
                reason: format!("{n} characters is neither MD5 (32) nor HMAC-SHA256 (64)"),
            }),
        }
    }
}

fn signed_pairs(params: &Params) -> impl Iterator<Item = String> + '_ {
    params
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
}

/// `k1=v1&k2=v2…` over the non-empty parameters except `sign`, in ASCII order of their names.
pub fn string_to_sign(params: &Params) -> String {
    signed_pairs(params).collect::<Vec<_>>().join("&")
}

/// The upper-case hex signature of `params` under the API key.
pub fn sign(params: &Params, api_key: &str, sign_type: SignType) -> String {
    // `key=<API key>` is the last pair of the same `&`-joined list (so a map with nothing to
    // sign gives `key=…`, as established SDKs compute it).
    let message = signed_pairs(params)
        .chain([format!("key={api_key}")])
        .collect::<Vec<_>>()
        .join("&");
    let digest = match sign_type {
        SignType::Md5 => Md5::digest(message.as_bytes()).to_vec(),
        SignType::HmacSha256 => {
            // The message still ends in `&key=<API key>`: that is how WeChat Pay defines it.
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(api_key.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    };
    crate::to_hex(&digest).to_ascii_uppercase()
}

/// Verifies the `sign` in `params` (type from `sign_type`, or inferred), in constant time.
/// New fields WeChat Pay adds are signed too, so every field received takes part.
pub fn verify(params: &Params, api_key: &str) -> Result<SignType, Error> {
    let given = params.get("sign").ok_or(Error::MissingHeader("sign"))?;
    let sign_type = SignType::of(params.get("sign_type").map(String::as_str), given)?;
    let expected = sign(params, api_key, sign_type);
    if bool::from(
        expected
            .as_bytes()
            .ct_eq(given.to_ascii_uppercase().as_bytes()),
    ) {
        Ok(sign_type)
    } else {
        Err(Error::BadSignature)
    }
}

/// The bridge's parameters (the same object as in v3), with the five bridge fields (signType
/// included) signed by the v2 algorithm; `sign_type` must be the one the order was placed with.
pub fn jsapi_pay_params(
    appid: &str,
    prepay_id: &str,
    timestamp: UnixTime,
    nonce: &str,
    api_key: &str,
    sign_type: SignType,
) -> JsapiPayParams {
    let package = format!("prepay_id={prepay_id}");
    let fields: Params = [
        ("appId", appid),
        ("timeStamp", &timestamp.secs().to_string()),
        ("nonceStr", nonce),
        ("package", &package),
        ("signType", sign_type.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    JsapiPayParams {
        pay_sign: sign(&fields, api_key, sign_type),
        app_id: appid.to_string(),
        time_stamp: timestamp.secs().to_string(),
        nonce_str: nonce.to_string(),
        package,
        sign_type: sign_type.as_str().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// V1/V2: the official v2 signature example.
    fn official_params() -> Params {
        [
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
    const OFFICIAL_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

    #[test]
    fn v1_md5_and_v2_hmac_official_vectors() {
        let p = official_params();
        assert_eq!(string_to_sign(&p), "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA");
        assert_eq!(
            sign(&p, OFFICIAL_KEY, SignType::Md5),
            "9A0A8659F005D6984697E2CA0A9CF3B7"
        );
        assert_eq!(
            sign(&p, OFFICIAL_KEY, SignType::HmacSha256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn verify_infers_the_type_and_skips_empty_values() {
        let mut p = official_params();
        p.insert("attach".into(), String::new()); // empty: not signed
        p.insert(
            "sign".into(),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6".into(),
        );
        assert_eq!(verify(&p, OFFICIAL_KEY), Ok(SignType::HmacSha256));
        p.insert("sign".into(), "9A0A8659F005D6984697E2CA0A9CF3B7".into());
        assert_eq!(verify(&p, OFFICIAL_KEY), Ok(SignType::Md5));
        p.insert("sign_type".into(), "HMAC-SHA256".into());
        assert_eq!(
            verify(&p, OFFICIAL_KEY),
            Err(Error::BadSignature),
            "a named type is not second-guessed"
        );
        p.remove("sign_type");
        p.insert("total_fee".into(), "1".into()); // a field WeChat Pay added is signed too
        assert_eq!(verify(&p, OFFICIAL_KEY), Err(Error::BadSignature));
        p.remove("total_fee");
        assert_eq!(verify(&p, "wrong-key"), Err(Error::BadSignature));
        let empty: Params = [("attach".to_string(), String::new())]
            .into_iter()
            .collect();
        assert_eq!(
            sign(&empty, "k", SignType::Md5),
            crate::to_hex(&Md5::digest(b"key=k")).to_ascii_uppercase()
        );
        p.insert("sign".into(), "ABC".into());
        assert!(matches!(
            verify(&p, OFFICIAL_KEY),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn jsapi_pay_sign_covers_exactly_the_five_bridge_fields() {
        let params = jsapi_pay_params(
            "wx2421b1c4370ec43b",
            "wx2017",
            UnixTime(1414561699),
            "e61463f8efa94090b1f366cccfbbb444",
            OFFICIAL_KEY,
            SignType::Md5,
        );
        let fields: Params = [
            ("appId", "wx2421b1c4370ec43b"),
            ("timeStamp", "1414561699"),
            ("nonceStr", "e61463f8efa94090b1f366cccfbbb444"),
            ("package", "prepay_id=wx2017"),
            ("signType", "MD5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(params.pay_sign, sign(&fields, OFFICIAL_KEY, SignType::Md5));
        let json = serde_json::to_value(&params).unwrap();
        assert_eq!(json["timeStamp"], "1414561699", "a string of seconds");
        assert_eq!(json["package"], "prepay_id=wx2017");
        assert!(json.get("appId").is_some() && json.get("appid").is_none());
    }
}
