//! Pure-Rust RSA for native tests and tools. Not used inside the Workers: the `rsa` crate's
//! private-key operations carry the timing advisory RUSTSEC-2023-0071.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use sha2::Sha256;

use super::{RsaPrivateKeyDer, RsaPublicKey, RsaSigner, RsaVerifier};
use crate::Error;

pub struct RustCryptoSigner(rsa::PrivateKey);

impl RustCryptoSigner {
    pub fn new(key: &RsaPrivateKeyDer) -> Result<Self, Error> {
        rsa::PrivateKey::from_pkcs8_der(key.pkcs8_der())
            .map(RustCryptoSigner)
            .map_err(|e| Error::Key {
                reason: format!("not an RSA PKCS#8 key: {e}"),
            })
    }
}

impl RsaSigner for RustCryptoSigner {
    async fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.0
            .pkcs1v15_sign::<Sha256>(message)
            .map_err(|e| Error::Crypto {
                reason: e.to_string(),
            })
    }
}

pub struct RustCryptoVerifier;

impl RsaVerifier for RustCryptoVerifier {
    async fn verify_sha256(
        &self,
        key: &RsaPublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, Error> {
        let key = rsa::PublicKey::from_public_key_der(key.spki_der()).map_err(|e| Error::Key {
            reason: format!("not an RSA public key: {e}"),
        })?;
        Ok(key.pkcs1v15_verify::<Sha256>(message, signature).is_ok())
    }
}

/// Runs a future of this backend to completion. Its futures never wait on anything, so one
/// poll suffices; a future that does wait is a bug and panics.
pub fn block_on<F: Future>(future: F) -> F::Output {
    match pin!(future)
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a pure-Rust crypto future waited on something"),
    }
}
