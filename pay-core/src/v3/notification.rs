//! Notifications (回调通知): a signed JSON envelope whose `resource` is AES-256-GCM encrypted.
//!
//! The order is fixed: verify the signature over the raw bytes first, then parse, then decrypt.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{PlatformKeys, SignedHeaders};
use crate::aead::ApiV3Key;
use crate::crypto::RsaVerifier;
use crate::{Error, UnixTime};

pub const AEAD_AES_256_GCM: &str = "AEAD_AES_256_GCM";

pub mod event_type {
    pub const TRANSACTION_SUCCESS: &str = "TRANSACTION.SUCCESS";
    pub const REFUND_SUCCESS: &str = "REFUND.SUCCESS";
    pub const REFUND_ABNORMAL: &str = "REFUND.ABNORMAL";
    pub const REFUND_CLOSED: &str = "REFUND.CLOSED";
}

/// WeChat Pay's retry schedule for a notification not answered with 2xx: the waits before
/// attempts 2 to 16 (15 retries, 24 h 4 min in all), as documented for API v2 and v3.
pub const RETRY_SCHEDULE_SECS: [i64; 15] = [
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];

/// The wait before the next attempt after `attempts_made` attempts, in milliseconds scaled by
/// `time_scale` (1.0 is real time; the simulator's tests run the schedule in seconds), or
/// `None` when the schedule is exhausted.
pub fn next_retry_delay_ms(attempts_made: usize, time_scale: f64) -> Option<i64> {
    let secs = *RETRY_SCHEDULE_SECS.get(attempts_made.checked_sub(1)?)?;
    Some(((secs as f64) * 1000.0 * time_scale).round().max(0.0) as i64)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedResource {
    pub original_type: String,
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: String,
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationEnvelope {
    pub id: String,
    pub create_time: String,
    pub resource_type: String,
    pub event_type: String,
    #[serde(default)]
    pub summary: String,
    pub resource: EncryptedResource,
}

/// A verified and decrypted notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub envelope: NotificationEnvelope,
    pub plaintext: Vec<u8>,
}

impl Notification {
    /// Verifies `body` (the raw bytes as received) against `headers`, then decrypts it.
    pub async fn open<V: RsaVerifier>(
        headers: &SignedHeaders,
        body: &[u8],
        keys: &PlatformKeys,
        api_v3_key: &ApiV3Key,
        now: UnixTime,
        verifier: &V,
    ) -> Result<Self, Error> {
        headers.verify(body, keys, now, verifier).await?;
        Self::decrypt_verified(body, api_v3_key)
    }

    /// Decrypts a body whose signature the caller has verified already (for example with a
    /// key refresh on an unknown serial): RSA is the expensive step, done once.
    pub fn decrypt_verified(body: &[u8], api_v3_key: &ApiV3Key) -> Result<Self, Error> {
        let envelope: NotificationEnvelope =
            serde_json::from_slice(body).map_err(|e| Error::Malformed {
                what: "notification",
                reason: e.to_string(),
            })?;
        let r = &envelope.resource;
        if r.algorithm != AEAD_AES_256_GCM {
            return Err(Error::UnsupportedAlgorithm(r.algorithm.clone()));
        }
        let plaintext = api_v3_key.decrypt(&r.nonce, &r.associated_data, &r.ciphertext)?;
        Ok(Notification {
            envelope,
            plaintext,
        })
    }

    /// The decrypted resource as `T` (for example [`super::model::Transaction`]).
    pub fn resource<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.plaintext).map_err(|e| Error::Malformed {
            what: "notification resource",
            reason: e.to_string(),
        })
    }
}

/// What the simulator needs to build a notification body.
pub struct Sealing<'a> {
    pub id: &'a str,
    pub create_time: UnixTime,
    pub event_type: &'a str,
    pub summary: &'a str,
    pub original_type: &'a str,
    pub associated_data: &'a str,
    pub nonce: &'a str,
}

impl Sealing<'_> {
    /// Encrypts `plaintext` and returns the envelope's JSON bytes (to be signed as sent).
    pub fn seal(&self, plaintext: &[u8], api_v3_key: &ApiV3Key) -> Result<Vec<u8>, Error> {
        let envelope = NotificationEnvelope {
            id: self.id.to_string(),
            create_time: self.create_time.to_rfc3339_cst(),
            resource_type: "encrypt-resource".to_string(),
            event_type: self.event_type.to_string(),
            summary: self.summary.to_string(),
            resource: EncryptedResource {
                original_type: self.original_type.to_string(),
                algorithm: AEAD_AES_256_GCM.to_string(),
                ciphertext: api_v3_key.encrypt(self.nonce, self.associated_data, plaintext)?,
                associated_data: self.associated_data.to_string(),
                nonce: self.nonce.to_string(),
            },
        };
        serde_json::to_vec(&envelope).map_err(|e| Error::Malformed {
            what: "notification",
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rustcrypto::{RustCryptoSigner, RustCryptoVerifier};
    use crate::crypto::test_keys::OFFICIAL_MERCHANT_KEY;
    use crate::crypto::RsaPrivateKeyDer;
    use crate::test_support::{block_on, official_public_key};
    use crate::v3::model::{TradeState, Transaction};
    use crate::v3::KeyId;

    const KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    const SERIAL: &str = "PUB_KEY_ID_0100000000000000000001";
    const NOW: UnixTime = UnixTime(1_764_000_000);

    fn signed_notification() -> (SignedHeaders, Vec<u8>) {
        let tx = r#"{"appid":"wx1","mchid":"19","out_trade_no":"o123456","transaction_id":"4200","trade_state":"SUCCESS","trade_state_desc":"支付成功","amount":{"total":1,"currency":"CNY"}}"#;
        let body = Sealing {
            id: "EV-1",
            create_time: NOW,
            event_type: event_type::TRANSACTION_SUCCESS,
            summary: "支付成功",
            original_type: "transaction",
            associated_data: "transaction",
            nonce: "abcdefghijkl",
        }
        .seal(tx.as_bytes(), &ApiV3Key::new(KEY).unwrap())
        .unwrap();
        let signer =
            RustCryptoSigner::new(&RsaPrivateKeyDer::from_pem(OFFICIAL_MERCHANT_KEY).unwrap())
                .unwrap();
        let headers =
            block_on(SignedHeaders::sign(&signer, SERIAL, NOW, "nonce-1", &body)).unwrap();
        (headers, body)
    }

    fn keys() -> PlatformKeys {
        let mut keys = PlatformKeys::new();
        keys.insert(KeyId::parse(SERIAL).unwrap(), official_public_key());
        keys
    }

    fn open(headers: &SignedHeaders, body: &[u8]) -> Result<Notification, Error> {
        block_on(Notification::open(
            headers,
            body,
            &keys(),
            &ApiV3Key::new(KEY).unwrap(),
            NOW,
            &RustCryptoVerifier,
        ))
    }

    #[test]
    fn the_official_retry_schedule_scaled() {
        assert_eq!(RETRY_SCHEDULE_SECS.iter().sum::<i64>(), 24 * 3600 + 4 * 60);
        assert_eq!(
            next_retry_delay_ms(0, 1.0),
            None,
            "no attempt made yet: nothing to retry"
        );
        assert_eq!(next_retry_delay_ms(1, 1.0), Some(15_000));
        assert_eq!(next_retry_delay_ms(4, 1.0), Some(180_000));
        assert_eq!(next_retry_delay_ms(15, 1.0), Some(21_600_000));
        assert_eq!(next_retry_delay_ms(16, 1.0), None, "16 attempts in all");
        assert_eq!(next_retry_delay_ms(1, 0.001), Some(15));
    }

    #[test]
    fn seal_sign_verify_open_round_trip() {
        let (headers, body) = signed_notification();
        let n = open(&headers, &body).unwrap();
        assert_eq!(n.envelope.event_type, "TRANSACTION.SUCCESS");
        assert_eq!(n.envelope.create_time, "2025-11-25T00:00:00+08:00");
        let tx: Transaction = n.resource().unwrap();
        assert_eq!(tx.trade_state, TradeState::Success);
        assert_eq!(tx.transaction_id.as_deref(), Some("4200"));
    }

    #[test]
    fn any_changed_byte_of_body_or_signed_headers_is_refused() {
        let (headers, body) = signed_notification();
        for i in 0..body.len() {
            let mut altered = body.clone();
            altered[i] = altered[i].wrapping_add(1);
            assert!(open(&headers, &altered).is_err(), "body byte {i}");
        }
        // Every byte of every signed header: timestamp, nonce, serial, and the signature itself.
        let fields: [fn(&mut SignedHeaders) -> &mut String; 4] = [
            |h| &mut h.timestamp,
            |h| &mut h.nonce,
            |h| &mut h.serial,
            |h| &mut h.signature,
        ];
        for field in fields {
            let len = field(&mut headers.clone()).len();
            for i in 0..len {
                let mut h = headers.clone();
                let value = field(&mut h);
                let mut bytes = value.clone().into_bytes();
                bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
                *value = String::from_utf8(bytes).unwrap();
                assert!(
                    open(&h, &body).is_err(),
                    "header byte {i} of {:?}",
                    field(&mut headers.clone())
                );
            }
        }
    }

    #[test]
    fn a_changed_ciphertext_nonce_or_aad_fails_decryption_even_when_re_signed() {
        let (_, body) = signed_notification();
        let envelope: NotificationEnvelope = serde_json::from_slice(&body).unwrap();
        let sealed = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &envelope.resource.ciphertext,
        )
        .unwrap();
        let signer =
            RustCryptoSigner::new(&RsaPrivateKeyDer::from_pem(OFFICIAL_MERCHANT_KEY).unwrap())
                .unwrap();
        let mut variants = Vec::new();
        for i in 0..sealed.len() {
            let mut c = sealed.clone();
            c[i] ^= 0x80;
            let mut e = envelope.clone();
            e.resource.ciphertext =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, c);
            variants.push(e);
        }
        let mut e = envelope.clone();
        e.resource.nonce = "abcdefghijkm".into();
        variants.push(e);
        let mut e = envelope.clone();
        e.resource.associated_data = "refund".into();
        variants.push(e);
        for (i, e) in variants.into_iter().enumerate() {
            let body = serde_json::to_vec(&e).unwrap();
            let headers =
                block_on(SignedHeaders::sign(&signer, SERIAL, NOW, "nonce-2", &body)).unwrap();
            assert_eq!(
                open(&headers, &body).unwrap_err(),
                Error::DecryptFailed,
                "variant {i}"
            );
        }
    }

    #[test]
    fn wrong_api_v3_key_is_a_decrypt_error_after_a_good_signature() {
        let (headers, body) = signed_notification();
        let wrong = ApiV3Key::new("b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").unwrap();
        let got = block_on(Notification::open(
            &headers,
            &body,
            &keys(),
            &wrong,
            NOW,
            &RustCryptoVerifier,
        ));
        assert_eq!(got.unwrap_err(), Error::DecryptFailed);
    }
}
