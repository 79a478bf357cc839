//! pay-core: the WeChat Pay domain with no I/O.
//!
//! Everything that decides something about money or touches WeChat Pay's bytes lives here as
//! plain functions and types. The clock (`UnixTime`), randomness (nonces, ids passed in as
//! strings or bytes) and the RSA backend (`crypto::RsaSigner` / `crypto::RsaVerifier`) are
//! passed in, so the same code runs natively in tests and inside both Workers.

pub mod aead;
pub mod bill;
pub mod checkout;
pub mod client_ip;
pub mod crypto;
pub mod endpoint;
pub mod error;
pub mod html;
pub mod merchant;
pub mod money;
pub mod oauth_state;
pub mod pem;
pub mod rate_limit;
pub mod reconcile;
pub mod refund;
pub mod requests;
pub mod risk;
pub mod sealed;
pub mod shard;
pub mod sign_in;
pub mod time;
pub mod v2;
pub mod v3;
pub mod webhook;

pub use error::Error;
pub use money::Fen;
pub use time::{CstDate, UnixTime};

pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Lower-case hex, for ids and nonces made from random bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 as lower-case hex: how secrets (client secrets, tickets, request bodies) are kept.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    to_hex(&sha2::Sha256::digest(data))
}

/// HMAC-SHA256 under `key` of the concatenation of `parts`, as lower-case hex. Every HMAC the
/// product makes goes through here: webhook signatures, the OAuth state, console sign-ins.
pub fn hmac_sha256_hex(key: &[u8], parts: &[&[u8]]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    to_hex(&mac.finalize().into_bytes())
}

#[cfg(test)]
pub(crate) mod test_support {
    pub use crate::crypto::rustcrypto::block_on;
    use crate::v3::{KeyId, PlatformKeys, SignedHeaders};

    /// Vector V7: a response body, its headers, and a key set holding that WeChat Pay public key.
    pub const V7_BODY: &[u8] = br#"{"code_url":"weixin://wxpay/bizpayurl?pr=JyC91EIz1"}"#;
    pub const V7_TIMESTAMP: i64 = 1722850421;

    pub fn v7() -> (SignedHeaders, PlatformKeys) {
        let headers = SignedHeaders {
            timestamp: V7_TIMESTAMP.to_string(),
            nonce: "d824f2e086d3c1df967785d13fcd22ef".into(),
            signature: include_str!("../tests/vectors/v7_signature.txt")
                .trim()
                .into(),
            serial: "PUB_KEY_ID_0114232134912410000000000000".into(),
            signature_type: None,
        };
        let mut keys = PlatformKeys::new();
        let key =
            crate::crypto::RsaPublicKey::from_pem(crate::crypto::test_keys::V7_PUBLIC_KEY).unwrap();
        keys.insert(KeyId::parse(&headers.serial).unwrap(), key);
        (headers, keys)
    }

    /// The public half of the official test merchant key.
    pub fn official_public_key() -> crate::crypto::RsaPublicKey {
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
        let der = crate::crypto::RsaPrivateKeyDer::from_pem(
            crate::crypto::test_keys::OFFICIAL_MERCHANT_KEY,
        )
        .unwrap();
        let private = rsa::PrivateKey::from_pkcs8_der(der.pkcs8_der()).unwrap();
        let spki = private.to_public_key().to_public_key_der().unwrap();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, spki.as_bytes())
        );
        crate::crypto::RsaPublicKey::from_pem(&pem).unwrap()
    }
}
