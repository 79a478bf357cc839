//! Refund notifications of API v2 carry `req_info`: base64 of AES-256-ECB (PKCS#7 padding)
//! whose key is the lower-case hex MD5 of the API key, used as 32 ASCII bytes.

use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use aes::Aes256;
use base64::Engine;
use md5::{Digest, Md5};

use crate::Error;

fn cipher(api_key: &str) -> Aes256 {
    let key = crate::to_hex(&Md5::digest(api_key.as_bytes()));
    Aes256::new_from_slice(key.as_bytes()).expect("32 hex characters are a 256-bit key")
}

/// Decrypts `req_info` to the `<root>…</root>` XML it carries.
pub fn decrypt_req_info(req_info: &str, api_key: &str) -> Result<Vec<u8>, Error> {
    let mut data = base64::engine::general_purpose::STANDARD
        .decode(req_info.trim())
        .map_err(|e| Error::Malformed {
            what: "req_info",
            reason: format!("not base64: {e}"),
        })?;
    if data.is_empty() || data.len() % 16 != 0 {
        return Err(Error::DecryptFailed);
    }
    let cipher = cipher(api_key);
    for block in data.chunks_exact_mut(16) {
        cipher.decrypt_block(block.try_into().expect("16-byte chunk"));
    }
    // PKCS#7: each padding byte holds the count. WeChat Pay pads to 16-byte blocks; some SDKs
    // pad to 32 (as WeChat's message encryption does), so up to 32 is read. Anything else
    // means a wrong key.
    let pad = *data.last().expect("not empty") as usize;
    if !(1..=32).contains(&pad)
        || pad > data.len()
        || !data[data.len() - pad..].iter().all(|&b| b as usize == pad)
    {
        return Err(Error::DecryptFailed);
    }
    data.truncate(data.len() - pad);
    Ok(data)
}

/// The inverse, as WeChat Pay (and the simulator) builds `req_info`.
pub fn encrypt_req_info(plaintext: &[u8], api_key: &str) -> String {
    let pad = 16 - plaintext.len() % 16;
    let mut data = plaintext.to_vec();
    data.extend(std::iter::repeat_n(pad as u8, pad));
    let cipher = cipher(api_key);
    for block in data.chunks_exact_mut(16) {
        cipher.encrypt_block(block.try_into().expect("16-byte chunk"));
    }
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v12_ijpay_vector() {
        assert_eq!(
            encrypt_req_info(b"IJPay", "42cc1d91bab89b65ff55b19e28fff4f0"),
            "K8fdh/6THGfTKio8pxXS6Q=="
        );
        assert_eq!(
            decrypt_req_info(
                "K8fdh/6THGfTKio8pxXS6Q==",
                "42cc1d91bab89b65ff55b19e28fff4f0"
            )
            .unwrap(),
            b"IJPay"
        );
    }

    #[test]
    fn round_trips_and_refuses_wrong_keys() {
        let xml = "<root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_fee>100</refund_fee></root>".as_bytes();
        let sealed = encrypt_req_info(xml, "k1");
        assert_eq!(decrypt_req_info(&sealed, "k1").unwrap(), xml);
        assert!(decrypt_req_info(&sealed, "k2").is_err());
        assert_eq!(decrypt_req_info("", "k1"), Err(Error::DecryptFailed));
        assert!(decrypt_req_info("%%%", "k1").is_err());
        // Exactly one block of padding when the plaintext fills whole blocks.
        assert_eq!(
            decrypt_req_info(&encrypt_req_info(&[7u8; 16], "k"), "k").unwrap(),
            vec![7u8; 16]
        );
    }
}
