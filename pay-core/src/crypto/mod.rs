//! RSA behind two small traits, so the same protocol code runs on the Workers' Web Crypto and,
//! natively, on pure-Rust RSA. Keys travel as DER: PKCS#8 for private keys, SPKI for public.

use core::future::Future;

use crate::{pem, Error};

#[cfg(feature = "rustcrypto-rsa")]
pub mod rustcrypto;
#[cfg(feature = "webcrypto")]
pub mod webcrypto;

/// Signs with RSASSA-PKCS1-v1_5 / SHA-256 under a private key the implementation holds.
pub trait RsaSigner {
    fn sign_sha256(&self, message: &[u8]) -> impl Future<Output = Result<Vec<u8>, Error>>;
}

/// Verifies RSASSA-PKCS1-v1_5 / SHA-256 signatures under a given public key.
pub trait RsaVerifier {
    fn verify_sha256(
        &self,
        key: &RsaPublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, Error>>;
}

/// An RSA public key as SubjectPublicKeyInfo DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    spki_der: Vec<u8>,
}

impl RsaPublicKey {
    /// From a `-----BEGIN PUBLIC KEY-----` PEM (a WeChat Pay public key as downloaded). The key
    /// inside a platform certificate's PEM: `v3::certificate::public_key_from_pem`.
    pub fn from_pem(text: &str) -> Result<Self, Error> {
        let block = pem::decode(text)?;
        match block.label.as_str() {
            "PUBLIC KEY" => Ok(RsaPublicKey { spki_der: block.der }),
            "PRIVATE KEY" | "RSA PRIVATE KEY" => Err(Error::Key {
                reason: "a private key was given where a public key belongs; never configure a private key here".into(),
            }),
            other => Err(Error::Key { reason: format!("expected a PUBLIC KEY PEM, got {other:?}") }),
        }
    }

    /// From SubjectPublicKeyInfo DER (as found inside a certificate).
    pub fn from_spki_der(spki_der: Vec<u8>) -> Self {
        RsaPublicKey { spki_der }
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
}

/// The merchant's (or, in the simulator, the platform's) private key as PKCS#8 DER, the form
/// Web Crypto imports. PKCS#1 (`RSA PRIVATE KEY`) is accepted and wrapped.
#[derive(Clone)]
pub struct RsaPrivateKeyDer(Vec<u8>);

impl core::fmt::Debug for RsaPrivateKeyDer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RsaPrivateKeyDer(<redacted>)")
    }
}

impl RsaPrivateKeyDer {
    pub fn from_pem(text: &str) -> Result<Self, Error> {
        let block = pem::decode(text)?;
        match block.label.as_str() {
            "PRIVATE KEY" => Ok(RsaPrivateKeyDer(block.der)),
            "RSA PRIVATE KEY" => Ok(RsaPrivateKeyDer(wrap_pkcs1_in_pkcs8(&block.der))),
            "CERTIFICATE" | "PUBLIC KEY" => Err(Error::Key {
                reason: "a certificate or public key was given where the merchant's private key (apiclient_key.pem) belongs".into(),
            }),
            other => Err(Error::Key { reason: format!("expected a PRIVATE KEY PEM, got {other:?}") }),
        }
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        &self.0
    }
}

/// PrivateKeyInfo { version 0, rsaEncryption + NULL, OCTET STRING(pkcs1) } in DER.
fn wrap_pkcs1_in_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    const VERSION_AND_ALGORITHM: [u8; 18] = [
        0x02, 0x01, 0x00, // INTEGER 0
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut octets = vec![0x04];
    octets.extend(der_length(pkcs1.len()));
    octets.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    out.extend(der_length(VERSION_AND_ALGORITHM.len() + octets.len()));
    out.extend_from_slice(&VERSION_AND_ALGORITHM);
    out.extend(octets);
    out
}

fn der_length(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

#[cfg(test)]
pub(crate) mod test_keys {
    /// The official WeChat Pay v3 documentation's test merchant key (vectors V3–V6).
    pub const OFFICIAL_MERCHANT_KEY: &str =
        include_str!("../../tests/vectors/official_merchant_key.pem");
    /// The WeChat Pay public key of vector V7.
    pub const V7_PUBLIC_KEY: &str = include_str!("../../tests/vectors/v7_wechatpay_public_key.pem");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(der_length(5), vec![5]);
        assert_eq!(der_length(0x80), vec![0x81, 0x80]);
        assert_eq!(der_length(0x1234), vec![0x82, 0x12, 0x34]);
    }

    #[test]
    fn keys_in_the_wrong_place_are_named() {
        let err = RsaPublicKey::from_pem(test_keys::OFFICIAL_MERCHANT_KEY).unwrap_err();
        assert!(err.to_string().contains("private key was given"), "{err}");
        let err = RsaPrivateKeyDer::from_pem(test_keys::V7_PUBLIC_KEY).unwrap_err();
        assert!(err.to_string().contains("apiclient_key.pem"), "{err}");
    }
}
