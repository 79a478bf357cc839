//! AEAD_AES_256_GCM as WeChat Pay uses it: the API v3 key's 32 ASCII bytes are the key, a
//! 12-byte nonce, the associated data as given, and base64(ciphertext ‖ 16-byte tag).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;

use crate::Error;

/// The merchant's API v3 key, checked for its length when the configuration is loaded so that
/// a wrong key fails at start-up rather than on the first notification.
#[derive(Clone)]
pub struct ApiV3Key([u8; 32]);

impl core::fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ApiV3Key(<redacted>)")
    }
}

impl ApiV3Key {
    pub fn new(key: &str) -> Result<Self, Error> {
        let bytes: [u8; 32] = key
            .as_bytes()
            .try_into()
            .map_err(|_| Error::ApiV3KeyLength { len: key.len() })?;
        Ok(ApiV3Key(bytes))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }

    /// Opens `ciphertext_b64` (ciphertext and tag, base64) under `nonce` and `associated_data`.
    pub fn decrypt(
        &self,
        nonce: &str,
        associated_data: &str,
        ciphertext_b64: &str,
    ) -> Result<Vec<u8>, Error> {
        let data = base64::engine::general_purpose::STANDARD
            .decode(ciphertext_b64)
            .map_err(|e| Error::Malformed {
                what: "ciphertext",
                reason: format!("not base64: {e}"),
            })?;
        self.cipher()
            .decrypt(
                &nonce12(nonce)?,
                Payload {
                    msg: &data,
                    aad: associated_data.as_bytes(),
                },
            )
            .map_err(|_| Error::DecryptFailed)
    }

    /// Seals `plaintext`; the result is base64(ciphertext ‖ tag). The simulator encrypts with it.
    pub fn encrypt(
        &self,
        nonce: &str,
        associated_data: &str,
        plaintext: &[u8],
    ) -> Result<String, Error> {
        let sealed = self
            .cipher()
            .encrypt(
                &nonce12(nonce)?,
                Payload {
                    msg: plaintext,
                    aad: associated_data.as_bytes(),
                },
            )
            .map_err(|_| Error::Crypto {
                reason: "AES-256-GCM encryption failed".into(),
            })?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }
}

fn nonce12(nonce: &str) -> Result<Nonce<aes_gcm::aead::consts::U12>, Error> {
    let bytes: [u8; 12] = nonce.as_bytes().try_into().map_err(|_| Error::Malformed {
        what: "AES-GCM nonce",
        reason: format!("{} bytes; WeChat Pay nonces are 12", nonce.len()),
    })?;
    Ok(bytes.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// V11 (wechatpay-java AeadAesCipherTest): a real 32-byte key.
    const V11_KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";

    #[test]
    fn v11_official_vector_both_ways() {
        let key = ApiV3Key::new(V11_KEY).unwrap();
        let sealed = key
            .encrypt("uluk4a9R25RW", "associatedData", b"message")
            .unwrap();
        assert_eq!(sealed, "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=");
        assert_eq!(
            key.decrypt("uluk4a9R25RW", "associatedData", &sealed)
                .unwrap(),
            b"message"
        );
    }

    #[test]
    fn key_length_checked_up_front() {
        assert_eq!(
            ApiV3Key::new("testAPIv3Key0000").unwrap_err(),
            Error::ApiV3KeyLength { len: 16 }
        );
        assert!(format!("{:?}", ApiV3Key::new(V11_KEY).unwrap()).contains("redacted"));
    }

    #[test]
    fn tampering_fails_closed() {
        let key = ApiV3Key::new(V11_KEY).unwrap();
        let good = "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=";
        assert_eq!(
            key.decrypt("uluk4a9R25RW", "associatedDatx", good),
            Err(Error::DecryptFailed)
        );
        assert_eq!(
            key.decrypt("uluk4a9R25RX", "associatedData", good),
            Err(Error::DecryptFailed)
        );
        assert_eq!(
            key.decrypt(
                "uluk4a9R25RW",
                "associatedData",
                "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwM="
            ),
            Err(Error::DecryptFailed)
        );
        let other = ApiV3Key::new("b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").unwrap();
        assert_eq!(
            other.decrypt("uluk4a9R25RW", "associatedData", good),
            Err(Error::DecryptFailed)
        );
        assert!(matches!(
            key.decrypt("short", "", good),
            Err(Error::Malformed { .. })
        ));
    }
}
