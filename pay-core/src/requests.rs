//! The JSON bodies the merchant API and the widget API accept, parsed and validated in one
//! place with no I/O (and fuzzed as such: `pay-core/fuzz`, target `merchant_json`). A body that
//! fails here changes nothing: the handlers parse before they touch the books.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

use crate::checkout::{
    validate_description, validate_metadata, validate_out_trade_no, validate_return_url,
    validate_ttl,
};
use crate::{CstDate, Error, Fen};

/// Parses a request body as `T`; any failure is [`Error::InvalidJson`] with serde's account of
/// where and why.
pub fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::InvalidJson {
        reason: e.to_string(),
    })
}

/// The largest integer a JSON number carries exactly (2^53 - 1): bounds of the API's whole
/// numbers other than amounts (timestamps, seconds).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// JSON Schema's `integer`, which the OpenAPI document promises: a number without a fractional
/// part, `748` and `748.0` alike. A fraction, or a float beyond 2^53, is refused.
fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64)
                .map(|f| f as i64)
        })
        .ok_or_else(|| D::Error::custom(format!("{n} is not a whole number")))
}

fn optional_whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_number")] i64);
    Ok(Option::<Whole>::deserialize(d)?.map(|Whole(n)| n))
}

/// `POST /v1/checkout/sessions`, as sent: the amount is decided by the merchant's server,
/// never by the payer's browser.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    #[serde(deserialize_with = "whole_number")]
    pub amount_fen: i64,
    pub description: String,
    #[serde(default)]
    pub out_trade_no: Option<String>,
    /// Seconds until the session expires (default 30 minutes).
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub expires_in: Option<i64>,
    /// Where the payer goes after paying (the widget links back to it).
    #[serde(default)]
    pub return_url: Option<String>,
    /// The merchant's own string key-values, returned with the session and in webhooks.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// A [`NewSession`] that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSession {
    pub amount: Fen,
    pub description: String,
    pub out_trade_no: Option<String>,
    pub ttl_secs: i64,
    pub return_url: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl NewSession {
    /// Checks every field; `min_ttl_secs` is the deployment's shortest allowed session.
    pub fn validate(self, min_ttl_secs: i64) -> Result<ValidSession, Error> {
        let amount = Fen::chargeable(self.amount_fen)?;
        validate_description(&self.description)?;
        let ttl_secs = validate_ttl(self.expires_in, min_ttl_secs)?;
        if let Some(url) = &self.return_url {
            validate_return_url(url)?;
        }
        validate_metadata(&self.metadata)?;
        if let Some(no) = &self.out_trade_no {
            validate_out_trade_no(no)?;
        }
        Ok(ValidSession {
            amount,
            description: self.description,
            out_trade_no: self.out_trade_no,
            ttl_secs,
            return_url: self.return_url,
            metadata: self.metadata,
        })
    }
}

/// `POST /v1/refunds`, as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    pub session_id: String,
    #[serde(deserialize_with = "whole_number")]
    pub amount_fen: i64,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A refund's amount and reason that passed their rules (whether the session can take it is
/// for the books to say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRefund {
    pub amount: Fen,
    pub reason: Option<String>,
}

/// The longest refund reason WeChat Pay takes (shown to the payer).
pub const MAX_REFUND_REASON_CHARS: usize = 80;

/// The rules for a refund's amount and reason, wherever it is asked for (API or console).
pub fn validate_refund(amount_fen: i64, reason: Option<String>) -> Result<ValidRefund, Error> {
    let amount = Fen::chargeable(amount_fen)?;
    if reason.as_ref().is_some_and(|r| {
        r.chars().count() > MAX_REFUND_REASON_CHARS || r.chars().any(char::is_control)
    }) {
        return Err(Error::InvalidField {
            field: "reason",
            reason: format!(
                "at most {MAX_REFUND_REASON_CHARS} characters without control characters"
            ),
        });
    }
    Ok(ValidRefund { amount, reason })
}

/// `POST /v1/admin/reconciliations`, as sent: `{"date": "YYYY-MM-DD"}` (China time).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileRequest {
    pub date: String,
}

impl ReconcileRequest {
    pub fn day(&self) -> Result<CstDate, Error> {
        CstDate::parse(&self.date).map_err(|_| Error::InvalidField {
            field: "date",
            reason: format!("{:?}: use YYYY-MM-DD", self.date),
        })
    }
}

/// `POST /v1/admin/books/move`, as sent: `{}`, or `{"from_start": true}` to go through every
/// table again, and `limit` rows per page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BooksMoveRequest {
    #[serde(default)]
    pub from_start: bool,
    #[serde(default, deserialize_with = "optional_whole_number")]
    pub limit: Option<i64>,
}

/// The platform API's body for a provider or a merchant (issue #19): its name, the id of the
/// provider it is a sub-merchant of (a merchant, when created), and its settings by the
/// default merchant's names lower-cased (checkout-service platform/ reads them). On an update,
/// what is left out stays as it was.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    pub name: Option<String>,
    pub provider_id: Option<String>,
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// The payment scenes the widget can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scene {
    Native,
    H5,
    Jsapi,
}

impl Scene {
    pub const ALL: [Scene; 3] = [Scene::Native, Scene::H5, Scene::Jsapi];

    pub fn parse(text: &str) -> Option<Scene> {
        Scene::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scene::Native => "native",
            Scene::H5 => "h5",
            Scene::Jsapi => "jsapi",
        }
    }
}

/// `POST /v1/widget/sessions/{id}/pay`, as sent by the widget.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    pub scene: Scene,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(body: &str) -> Result<ValidSession, Error> {
        from_json::<NewSession>(body.as_bytes())?.validate(300)
    }

    #[test]
    fn a_session_request_is_parsed_and_validated_in_one_step() {
        let ok = session(r#"{"amount_fen":1,"description":"Tea","metadata":{"k":"v"}}"#).unwrap();
        assert_eq!(ok.amount, Fen::chargeable(1).unwrap());
        assert_eq!(ok.ttl_secs, crate::checkout::DEFAULT_TTL_SECS);
        // JSON Schema's integer: 100.0 is 100, as the OpenAPI document says.
        let float =
            session(r#"{"amount_fen":100.0,"description":"T","expires_in":600.0}"#).unwrap();
        assert_eq!((float.amount.get(), float.ttl_secs), (100, 600));
        assert_eq!(
            session(r#"{"amount_fen":1,"description":"T","expires_in":null}"#)
                .unwrap()
                .ttl_secs,
            1800
        );
        for (body, code) in [
            (r#"{"amount_fen":0,"description":"Tea"}"#, "invalid_amount"),
            (r#"{"amount_fen":1.5,"description":"Tea"}"#, "invalid_json"),
            (r#"{"amount_fen":"1","description":"Tea"}"#, "invalid_json"),
            (
                r#"{"amount_fen":1e300,"description":"Tea"}"#,
                "invalid_json",
            ),
            (
                r#"{"amount_fen":1,"description":"T","expires_in":300.5}"#,
                "invalid_json",
            ),
            (
                r#"{"amount_fen":1,"description":"Tea","extra":1}"#,
                "invalid_json",
            ),
            (r#"{"amount_fen":1,"description":""}"#, "invalid_field"),
            (
                r#"{"amount_fen":1,"description":"T","expires_in":299}"#,
                "invalid_field",
            ),
            (
                r#"{"amount_fen":1,"description":"T","out_trade_no":"ab"}"#,
                "invalid_field",
            ),
            (
                r#"{"amount_fen":1,"description":"T","metadata":{"k":1}}"#,
                "invalid_field",
            ),
            (
                r#"{"amount_fen":1,"description":"T","return_url":"ftp://x"}"#,
                "invalid_field",
            ),
            ("[", "invalid_json"),
        ] {
            assert_eq!(session(body).unwrap_err().code(), code, "{body}");
        }
    }

    #[test]
    fn refunds_reconciliations_and_scenes_have_their_rules() {
        assert!(validate_refund(1, Some("x".repeat(80))).is_ok());
        assert_eq!(
            validate_refund(1, Some("x".repeat(81))).unwrap_err().code(),
            "invalid_field"
        );
        assert_eq!(
            validate_refund(-1, None).unwrap_err().code(),
            "invalid_amount"
        );
        let day = from_json::<ReconcileRequest>(br#"{"date":"2026-11-23"}"#).unwrap();
        assert_eq!(day.day().unwrap().to_string(), "2026-11-23");
        assert!(from_json::<ReconcileRequest>(br#"{"date":"2026-13-01"}"#)
            .unwrap()
            .day()
            .is_err());
        assert_eq!(
            from_json::<PayRequest>(br#"{"scene":"h5"}"#).unwrap().scene,
            Scene::H5
        );
        assert!(from_json::<PayRequest>(br#"{"scene":"app"}"#).is_err());
        let moved =
            from_json::<BooksMoveRequest>(br#"{"limit":1000.0,"from_start":true}"#).unwrap();
        assert_eq!((moved.limit, moved.from_start), (Some(1000), true));
        assert_eq!(from_json::<BooksMoveRequest>(b"{}").unwrap().limit, None);
        assert!(from_json::<BooksMoveRequest>(br#"{"limit":2.5}"#).is_err());
    }
}
