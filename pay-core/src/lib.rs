//! pay-core: the WeChat Pay domain with no I/O.
//!
//! Everything that decides something about money or touches WeChat Pay's bytes lives here as
//! plain functions and types. The clock (`UnixTime`), randomness (nonces, ids passed in as
//! strings or bytes) and the RSA backend (`crypto::RsaSigner` / `crypto::RsaVerifier`) are
//! passed in, so the same code runs natively in tests and inside both Workers.

pub mod aead;
pub mod checkout;
pub mod crypto;
pub mod error;
pub mod money;
pub mod pem;
pub mod time;
pub mod v3;

pub use error::Error;
pub use money::Fen;
pub use time::UnixTime;

pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Lower-case hex, for ids and nonces made from random bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod test_support {
    use core::future::Future;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    /// Runs a future that never waits on I/O (the pure-Rust crypto backend's futures).
    pub fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("test future waited on something"),
        }
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
