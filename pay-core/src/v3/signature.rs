//! Signatures over `TIMESTAMP\nNONCE\nBODY\n`: how WeChat Pay signs its responses and
//! notifications (we verify), and how the simulator signs them (we sign).
//!
//! Verification takes the raw body bytes and nothing else: there is deliberately no way to
//! verify a parsed and re-serialised body, the most common cause of failed verification.

use base64::Engine;

use super::{headers, PlatformKeys, SIGNATURE_SCHEME};
use crate::crypto::{RsaSigner, RsaVerifier};
use crate::{Error, UnixTime};

/// Responses and notifications dated 5 minutes or more from our clock are refused.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// WeChat Pay occasionally sends a deliberately wrong signature with this prefix to check that
/// merchants verify; the right answer is a 4xx.
const SIGNATURE_PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// The `Wechatpay-*` headers of a response or notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
    pub serial: String,
    pub signature_type: Option<String>,
}

impl SignedHeaders {
    /// Reads the headers through `get` (a case-insensitive lookup on the caller's header map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let need = |name: &'static str| get(name).ok_or(Error::MissingHeader(name));
        Ok(SignedHeaders {
            timestamp: need(headers::TIMESTAMP)?,
            nonce: need(headers::NONCE)?,
            signature: need(headers::SIGNATURE)?,
            serial: need(headers::SERIAL)?,
            signature_type: get(headers::SIGNATURE_TYPE),
        })
    }

    /// Signs `body` as WeChat Pay does, with the key named `serial` (simulator side).
    pub async fn sign<S: RsaSigner>(
        signer: &S,
        serial: &str,
        timestamp: UnixTime,
        nonce: &str,
        body: &[u8],
    ) -> Result<Self, Error> {
        let signature = signer
            .sign_sha256(&message(&timestamp.secs().to_string(), nonce, body))
            .await?;
        Ok(SignedHeaders {
            timestamp: timestamp.secs().to_string(),
            nonce: nonce.to_string(),
            signature: base64::engine::general_purpose::STANDARD.encode(signature),
            serial: serial.to_string(),
            signature_type: Some(SIGNATURE_SCHEME.to_string()),
        })
    }

    /// `(name, value)` pairs to put on a response.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = vec![
            (headers::TIMESTAMP, self.timestamp.as_str()),
            (headers::NONCE, self.nonce.as_str()),
            (headers::SIGNATURE, self.signature.as_str()),
            (headers::SERIAL, self.serial.as_str()),
        ];
        if let Some(t) = &self.signature_type {
            pairs.push((headers::SIGNATURE_TYPE, t));
        }
        pairs
    }

    /// Verifies the signature over the exact `body` bytes, the timestamp against `now`, and
    /// picks the key by `Wechatpay-Serial`.
    pub async fn verify<V: RsaVerifier>(
        &self,
        body: &[u8],
        keys: &PlatformKeys,
        now: UnixTime,
        verifier: &V,
    ) -> Result<(), Error> {
        if let Some(scheme) = &self.signature_type {
            if scheme != SIGNATURE_SCHEME {
                return Err(Error::UnsupportedAlgorithm(scheme.clone()));
            }
        }
        if self.signature.starts_with(SIGNATURE_PROBE_PREFIX) {
            return Err(Error::SignatureProbe);
        }
        let signed_at: i64 = self
            .timestamp
            .trim()
            .parse()
            .map_err(|_| Error::Malformed {
                what: "Wechatpay-Timestamp",
                reason: format!("{:?} is not whole seconds", self.timestamp),
            })?;
        let offset_secs = signed_at.saturating_sub(now.secs());
        if offset_secs.unsigned_abs() >= MAX_CLOCK_SKEW_SECS as u64 {
            return Err(Error::ClockSkew { offset_secs });
        }
        let key = keys.get(&self.serial)?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(self.signature.trim())
            .map_err(|_| Error::BadSignature)?;
        if verifier
            .verify_sha256(
                key,
                &message(&self.timestamp, &self.nonce, body),
                &signature,
            )
            .await?
        {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }
}

fn message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!("{timestamp}\n{nonce}\n").into_bytes();
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rustcrypto::{RustCryptoSigner, RustCryptoVerifier};
    use crate::crypto::test_keys::OFFICIAL_MERCHANT_KEY;
    use crate::crypto::RsaPrivateKeyDer;
    use crate::test_support::{block_on, v7, V7_BODY};
    use crate::v3::KeyId;

    #[test]
    fn v7_official_public_key_vector() {
        let (headers, keys) = v7();
        let now = UnixTime(1722850421 + 10);
        assert_eq!(
            block_on(headers.verify(V7_BODY, &keys, now, &RustCryptoVerifier)),
            Ok(())
        );
    }

    #[test]
    fn every_single_byte_change_of_the_body_fails() {
        let (headers, keys) = v7();
        let now = UnixTime(1722850421);
        for i in 0..V7_BODY.len() {
            let mut body = V7_BODY.to_vec();
            body[i] ^= 0x01;
            assert_eq!(
                block_on(headers.verify(&body, &keys, now, &RustCryptoVerifier)),
                Err(Error::BadSignature),
                "byte {i}"
            );
        }
        let mut nonce = headers.clone();
        nonce.nonce.replace_range(0..1, "e");
        assert_eq!(
            block_on(nonce.verify(V7_BODY, &keys, now, &RustCryptoVerifier)),
            Err(Error::BadSignature)
        );
    }

    #[test]
    fn skew_of_five_minutes_either_way_is_refused() {
        let (headers, keys) = v7();
        let verify =
            |now: i64| block_on(headers.verify(V7_BODY, &keys, UnixTime(now), &RustCryptoVerifier));
        assert_eq!(verify(1722850421 + 299), Ok(()));
        assert_eq!(verify(1722850421 - 299), Ok(()));
        assert_eq!(
            verify(1722850421 + 300),
            Err(Error::ClockSkew { offset_secs: -300 })
        );
        assert_eq!(
            verify(1722850421 - 300),
            Err(Error::ClockSkew { offset_secs: 300 })
        );
    }

    #[test]
    fn probes_unknown_serials_and_schemes_are_their_own_errors() {
        let (headers, keys) = v7();
        let now = UnixTime(1722850421);
        let mut probe = headers.clone();
        probe.signature = "WECHATPAY/SIGNTEST/abc".into();
        assert_eq!(
            block_on(probe.verify(V7_BODY, &keys, now, &RustCryptoVerifier)),
            Err(Error::SignatureProbe)
        );
        let mut unknown = headers.clone();
        unknown.serial = "PUB_KEY_ID_999".into();
        assert_eq!(
            block_on(unknown.verify(V7_BODY, &keys, now, &RustCryptoVerifier)),
            Err(Error::UnknownSerial("PUB_KEY_ID_999".into()))
        );
        let mut scheme = headers.clone();
        scheme.signature_type = Some("WECHATPAY2-SM2-WITH-SM3".into());
        assert!(matches!(
            block_on(scheme.verify(V7_BODY, &keys, now, &RustCryptoVerifier)),
            Err(Error::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn what_we_sign_we_verify() {
        let signer =
            RustCryptoSigner::new(&RsaPrivateKeyDer::from_pem(OFFICIAL_MERCHANT_KEY).unwrap())
                .unwrap();
        let public = block_on(async { crate::test_support::official_public_key() });
        let mut keys = PlatformKeys::new();
        keys.insert(KeyId::parse("PUB_KEY_ID_01").unwrap(), public);
        let body = "{\"summary\":\"支付成功\"}".as_bytes();
        let headers = block_on(SignedHeaders::sign(
            &signer,
            "PUB_KEY_ID_01",
            UnixTime(1000),
            "n0nce",
            body,
        ))
        .unwrap();
        assert_eq!(
            block_on(headers.verify(body, &keys, UnixTime(1001), &RustCryptoVerifier)),
            Ok(())
        );
        let looked_up = SignedHeaders::from_lookup(|name| {
            headers
                .pairs()
                .into_iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_string())
        });
        assert_eq!(looked_up, Ok(headers));
        assert_eq!(
            SignedHeaders::from_lookup(|_| None),
            Err(Error::MissingHeader(headers::TIMESTAMP))
        );
    }
}
