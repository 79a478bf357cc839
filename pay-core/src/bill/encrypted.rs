//! A sub-merchant's fund-flow bill (`/v3/bill/sub-merchant-fundflowbill`), which WeChat Pay
//! gives its provider encrypted: each file AES-256-GCM under a fresh key, with the location's
//! `nonce` (its ASCII bytes, 16 in the documented example) and no associated data, as raw
//! `ciphertext ‖ tag` bytes; the key itself RSA-OAEP encrypted to the provider's merchant key
//! (`encrypt_key`, base64), opened with Web Crypto where the private key is.

use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
use base64::Engine;

use crate::Error;

/// A part's `encrypt_key` as bytes, to be opened with the provider's private key.
pub fn sealed_key(encrypt_key: &str) -> Result<Vec<u8>, Error> {
    base64::engine::general_purpose::STANDARD
        .decode(encrypt_key)
        .map_err(|e| Error::Malformed {
            what: "encrypt_key",
            reason: format!("not base64: {e}"),
        })
}

/// The bytes of a file's AES-256 key, once `encrypt_key` is opened.
pub struct BillFileKey(pub [u8; 32]);

impl BillFileKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| Error::Malformed {
            what: "bill file key",
            reason: format!("{} bytes; AES-256 keys are 32", bytes.len()),
        })?;
        Ok(BillFileKey(key))
    }

    /// Opens a downloaded file (`ciphertext ‖ tag`) under `nonce`.
    pub fn open(&self, nonce: &str, file: &[u8]) -> Result<Vec<u8>, Error> {
        self.apply(nonce, file, false)
            .map_err(|_| Error::DecryptFailed)
    }

    /// Seals a file under `nonce` (the simulator writes them so).
    pub fn seal(&self, nonce: &str, file: &[u8]) -> Result<Vec<u8>, Error> {
        self.apply(nonce, file, true).map_err(|_| Error::Crypto {
            reason: format!("AES-256-GCM sealing failed (a {}-byte nonce)", nonce.len()),
        })
    }

    /// Runs `op` with the cipher whose nonce length is the nonce's: 16 bytes as WeChat Pay's
    /// bills have them, or the usual 12.
    fn apply(&self, nonce: &str, data: &[u8], seal: bool) -> Result<Vec<u8>, aes_gcm::Error> {
        fn run<C: Aead + KeyInit>(
            key: &[u8; 32],
            nonce: &[u8],
            data: &[u8],
            seal: bool,
        ) -> Result<Vec<u8>, aes_gcm::Error> {
            let cipher = C::new_from_slice(key).map_err(|_| aes_gcm::Error)?;
            let nonce = aes_gcm::aead::Nonce::<C>::try_from(nonce).map_err(|_| aes_gcm::Error)?;
            match seal {
                true => cipher.encrypt(&nonce, data),
                false => cipher.decrypt(&nonce, data),
            }
        }
        match nonce.len() {
            16 => run::<AesGcm<Aes256, U16>>(&self.0, nonce.as_bytes(), data, seal),
            _ => run::<AesGcm<Aes256, U12>>(&self.0, nonce.as_bytes(), data, seal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_opens_under_its_key_and_nonce_only() {
        let key = BillFileKey::from_bytes(&[7u8; 32]).unwrap();
        let file = "记账时间,微信支付业务单号\r\n`2026-12-06 10:00:00,`4200\r\n".as_bytes();
        // The documented example's nonce: 16 ASCII characters.
        let sealed = key.seal("a8607ef79034c49c", file).unwrap();
        assert_eq!(
            sealed.len(),
            file.len() + 16,
            "ciphertext and a 16-byte tag"
        );
        assert_eq!(key.open("a8607ef79034c49c", &sealed).unwrap(), file);
        assert!(key.open("a8607ef79034c49d", &sealed).is_err());
        let other = BillFileKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open("a8607ef79034c49c", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[0] ^= 1;
        assert!(key.open("a8607ef79034c49c", &tampered).is_err());
        assert!(key.open("short", &sealed).is_err());
        assert!(BillFileKey::from_bytes(&[0u8; 16]).is_err());
    }
}
