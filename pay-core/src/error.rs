//! The one error type of pay-core. Each variant says what went wrong and, where it is the
//! merchant's to fix, how; `code()` gives a stable machine-readable name for each.

use core::fmt;

use crate::UnixTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An amount outside 1..=2,147,483,647 fen.
    InvalidAmount { fen: i64 },
    /// A request or configuration field that breaks its rule.
    InvalidField { field: &'static str, reason: String },
    /// A request body that is not the JSON its endpoint takes (syntax, types, unknown fields).
    InvalidJson { reason: String },
    /// Bytes that do not parse as what they should be.
    Malformed { what: &'static str, reason: String },
    /// A `Wechatpay-*` or `Authorization` header is missing.
    MissingHeader(&'static str),
    /// The signed timestamp is 5 minutes or more away from our clock.
    ClockSkew { offset_secs: i64 },
    /// WeChat Pay's deliberate wrong-signature probe (`WECHATPAY/SIGNTEST/…`): answer 4xx.
    SignatureProbe,
    /// `Wechatpay-Serial` names a key we do not hold: refresh the platform keys, then retry.
    UnknownSerial(String),
    /// The RSA signature does not match the message.
    BadSignature,
    /// A signature or encryption algorithm other than the ones WeChat Pay uses.
    UnsupportedAlgorithm(String),
    /// The API v3 key must be exactly 32 bytes.
    ApiV3KeyLength { len: usize },
    /// Decryption refused the ciphertext: wrong key, or the data was altered.
    DecryptFailed,
    /// A key that cannot be used where it was given.
    Key { reason: String },
    /// The crypto backend itself failed.
    Crypto { reason: String },
    /// A verified notification or query result disagrees with the stored order.
    Mismatch {
        field: &'static str,
        ours: String,
        theirs: String,
    },
    /// Too many hits on `limit` in its window; try again after `retry_after_secs`.
    RateLimited {
        limit: &'static str,
        max_hits: i64,
        window_secs: i64,
        retry_after_secs: i64,
    },
    /// A risk rule of the merchant's refused the attempt: `limit` names it, `resets_at` says
    /// when an attempt may fit again (`None`: never, for this amount).
    LimitExceeded {
        limit: &'static str,
        resets_at: Option<UnixTime>,
    },
    /// The payer or the client address is on the merchant's block list.
    Blocked,
    /// The merchant does not take payments in this scene.
    SceneNotAllowed(&'static str),
    /// A downloaded bill file does not match the SHA1 WeChat Pay gave for it.
    BillHash { expected: String, actual: String },
}

impl Error {
    /// A stable name for the error, safe to show and to match on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidAmount { .. } => "invalid_amount",
            Error::InvalidField { .. } => "invalid_field",
            Error::InvalidJson { .. } => "invalid_json",
            Error::Malformed { .. } => "malformed",
            Error::MissingHeader(_) => "missing_header",
            Error::ClockSkew { .. } => "clock_skew",
            Error::SignatureProbe => "signature_probe",
            Error::UnknownSerial(_) => "unknown_serial",
            Error::BadSignature => "bad_signature",
            Error::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Error::ApiV3KeyLength { .. } => "apiv3_key_length",
            Error::DecryptFailed => "decrypt_failed",
            Error::Key { .. } => "bad_key",
            Error::Crypto { .. } => "crypto_backend",
            Error::Mismatch { .. } => "order_mismatch",
            Error::BillHash { .. } => "bill_hash_mismatch",
            Error::RateLimited { .. } => "rate_limited",
            Error::LimitExceeded { .. } => "limit_exceeded",
            Error::Blocked => "blocked",
            Error::SceneNotAllowed(_) => "scene_not_allowed",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidAmount { fen } => {
                write!(f, "amount {fen} fen is not chargeable: it must be an integer from 1 to 2147483647 fen")
            }
            Error::InvalidField { field, reason } => write!(f, "{field}: {reason}"),
            Error::InvalidJson { reason } => write!(f, "request body: {reason}"),
            Error::Malformed { what, reason } => write!(f, "malformed {what}: {reason}"),
            Error::MissingHeader(name) => write!(f, "the {name} header is missing"),
            Error::ClockSkew { offset_secs } => write!(
                f,
                "the signed timestamp is {offset_secs} s away from this server's clock; \
                 more than 5 minutes either way is refused (check the server's clock if this repeats)"
            ),
            Error::SignatureProbe => {
                write!(f, "WeChat Pay signature probe (WECHATPAY/SIGNTEST/): refused on purpose")
            }
            Error::UnknownSerial(serial) => write!(
                f,
                "no platform certificate or WeChat Pay public key with serial {serial:?} is configured; \
                 refresh the platform certificates or add the public key shown in the merchant platform"
            ),
            Error::BadSignature => write!(
                f,
                "the signature does not match: verify the exact raw bytes received, with the right key \
                 (the one Wechatpay-Serial names in API v3, the API key in v2)"
            ),
            Error::UnsupportedAlgorithm(name) => write!(f, "unsupported algorithm {name:?}"),
            Error::ApiV3KeyLength { len } => write!(
                f,
                "the API v3 key is {len} bytes; it must be the 32-character key set in the merchant platform (API安全)"
            ),
            Error::DecryptFailed => write!(
                f,
                "decryption failed: the key is wrong (the API v3 key for notifications, the API key for v2 refund req_info) or the data was altered"
            ),
            Error::Key { reason } => write!(f, "unusable key: {reason}"),
            Error::Crypto { reason } => write!(f, "crypto backend failed: {reason}"),
            Error::Mismatch { field, ours, theirs } => write!(
                f,
                "{field} is {theirs:?} in WeChat Pay's data but {ours:?} in the stored order; nothing was changed"
            ),
            Error::RateLimited {
                limit,
                max_hits,
                window_secs,
                retry_after_secs,
            } => write!(
                f,
                "too many requests: {limit} allows {max_hits} per {window_secs} s; try again in {retry_after_secs} s"
            ),
            Error::LimitExceeded { limit, resets_at } => match resets_at {
                Some(at) => write!(
                    f,
                    "the merchant's limit {limit} is reached; it frees up at {}",
                    at.to_rfc3339_cst()
                ),
                None => write!(f, "the merchant's limit {limit} does not allow this amount"),
            },
            Error::Blocked => write!(f, "payments from this payer or address are not accepted here"),
            Error::SceneNotAllowed(scene) => {
                write!(f, "this merchant does not take payments in the {scene} scene")
            }
            Error::BillHash { expected, actual } => write!(
                f,
                "the bill file's SHA1 is {actual} but WeChat Pay gave {expected}: the file is refused (download it again)"
            ),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_tell_what_to_fix() {
        let skew = Error::ClockSkew { offset_secs: -301 }.to_string();
        assert!(skew.contains("-301 s"), "{skew}");
        assert!(Error::ApiV3KeyLength { len: 16 }
            .to_string()
            .contains("16 bytes"));
        assert!(Error::UnknownSerial("PUB_KEY_ID_1".into())
            .to_string()
            .contains("PUB_KEY_ID_1"));
        assert_eq!(Error::SignatureProbe.code(), "signature_probe");
    }
}
