//! RSA on the JavaScript runtime's Web Crypto (workerd in the Workers; browsers too).
//! Keys are imported once and kept: importing a PKCS#8 key costs far more than a signature.

use std::cell::RefCell;
use std::rc::Rc;

use sha2::{Digest, Sha256};

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use super::{RsaPrivateKeyDer, RsaPublicKey, RsaSigner, RsaVerifier};
use crate::Error;

const ALGORITHM: &str = "RSASSA-PKCS1-v1_5";

fn js_error(context: &str, e: JsValue) -> Error {
    Error::Crypto {
        reason: format!(
            "{context}: {}",
            e.as_string().unwrap_or_else(|| format!("{e:?}"))
        ),
    }
}

fn subtle() -> Result<SubtleCrypto, Error> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .map_err(|e| js_error("no global crypto", e))?;
    Ok(crypto.unchecked_into::<web_sys::Crypto>().subtle())
}

fn algorithm(name: &str, hash: &str) -> Result<Object, Error> {
    let params = Object::new();
    let set = |k: &str, v: &str| {
        Reflect::set(&params, &k.into(), &v.into()).map_err(|e| js_error("params", e))
    };
    set("name", name)?;
    set("hash", hash)?;
    Ok(params)
}

async fn import(format: &str, der: &[u8], usage: &str) -> Result<CryptoKey, Error> {
    import_as(format, der, usage, &algorithm(ALGORITHM, "SHA-256")?).await
}

async fn import_as(
    format: &str,
    der: &[u8],
    usage: &str,
    algorithm: &Object,
) -> Result<CryptoKey, Error> {
    let usages = Array::of1(&JsValue::from_str(usage));
    let promise = subtle()?
        .import_key_with_object(
            format,
            &Uint8Array::from(der).into(),
            algorithm,
            false,
            &usages,
        )
        .map_err(|e| js_error("importKey", e))?;
    let key = JsFuture::from(promise)
        .await
        .map_err(|e| js_error("importKey", e))?;
    Ok(key.unchecked_into())
}

/// RSA-OAEP with SHA-1 and MGF1 (WeChat Pay's `RSA/ECB/OAEPWithSHA-1AndMGF1Padding`): how it
/// hands a merchant a key, such as a sub-merchant fund-flow bill's `encrypt_key`.
const OAEP: &str = "RSA-OAEP";

/// Opens `ciphertext`, RSA-OAEP encrypted to the merchant's key.
pub async fn rsa_oaep_decrypt(key: &RsaPrivateKeyDer, ciphertext: &[u8]) -> Result<Vec<u8>, Error> {
    rsa_oaep(("pkcs8", key.pkcs8_der()), "decrypt", ciphertext).await
}

/// Encrypts `plaintext` to the holder of `key` with RSA-OAEP (the simulator, for a provider).
pub async fn rsa_oaep_encrypt(key: &RsaPublicKey, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    rsa_oaep(("spki", key.spki_der()), "encrypt", plaintext).await
}

/// `usage` ("encrypt" or "decrypt") of `data` with the key `(format, der)`.
async fn rsa_oaep(
    (format, der): (&str, &[u8]),
    usage: &str,
    data: &[u8],
) -> Result<Vec<u8>, Error> {
    let params = algorithm(OAEP, "SHA-1")?;
    let key = import_as(format, der, usage, &params).await?;
    let subtle = subtle()?;
    let promise = match usage {
        "decrypt" => subtle.decrypt_with_object_and_u8_array(&params, &key, data),
        _ => subtle.encrypt_with_object_and_u8_array(&params, &key, data),
    }
    .map_err(|e| js_error(usage, e))?;
    let out = JsFuture::from(promise)
        .await
        .map_err(|e| js_error(&format!("RSA-OAEP {usage}"), e))?;
    Ok(Uint8Array::new(&out.unchecked_into::<ArrayBuffer>()).to_vec())
}

/// `n` bytes from the runtime's CSPRNG (`crypto.getRandomValues`), as lower-case hex: nonces
/// and ids.
pub fn random_hex(n: usize) -> Result<String, Error> {
    let mut bytes = vec![0u8; n];
    fill_random(&mut bytes)?;
    Ok(crate::to_hex(&bytes))
}

/// `N` bytes from the runtime's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    fill_random(&mut bytes)?;
    Ok(bytes)
}

fn fill_random(bytes: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(bytes).map_err(|e| Error::Crypto {
        reason: format!("getrandom: {e}"),
    })
}

pub struct WebCryptoSigner {
    key: CryptoKey,
}

thread_local! {
    /// Imported private keys by the SHA-256 of their DER, kept for the life of the isolate.
    static SIGNERS: RefCell<Vec<([u8; 32], Rc<WebCryptoSigner>)>> = const { RefCell::new(Vec::new()) };
    static VERIFIER: Rc<WebCryptoVerifier> = Rc::new(WebCryptoVerifier::default());
}

impl WebCryptoSigner {
    /// The signer for `key`, imported on first use in this isolate and reused after.
    pub async fn cached(key: &RsaPrivateKeyDer) -> Result<Rc<Self>, Error> {
        let fingerprint: [u8; 32] = Sha256::digest(key.pkcs8_der()).into();
        let found = SIGNERS.with_borrow(|s| {
            s.iter()
                .find(|(f, _)| *f == fingerprint)
                .map(|(_, s)| s.clone())
        });
        if let Some(signer) = found {
            return Ok(signer);
        }
        let signer = Rc::new(WebCryptoSigner {
            key: import("pkcs8", key.pkcs8_der(), "sign").await?,
        });
        SIGNERS.with_borrow_mut(|s| s.push((fingerprint, signer.clone())));
        Ok(signer)
    }
}

impl RsaSigner for WebCryptoSigner {
    async fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let promise = subtle()?
            .sign_with_str_and_u8_array(ALGORITHM, &self.key, message)
            .map_err(|e| js_error("sign", e))?;
        let signature = JsFuture::from(promise)
            .await
            .map_err(|e| js_error("sign", e))?;
        Ok(Uint8Array::new(&signature.unchecked_into::<ArrayBuffer>()).to_vec())
    }
}

/// Verifies with Web Crypto, keeping each imported public key for the life of the isolate.
#[derive(Default)]
pub struct WebCryptoVerifier {
    imported: RefCell<Vec<(Vec<u8>, CryptoKey)>>,
}

impl WebCryptoVerifier {
    /// The isolate's one verifier, with its cache of imported public keys.
    pub fn shared() -> Rc<Self> {
        VERIFIER.with(Rc::clone)
    }

    async fn key_for(&self, key: &RsaPublicKey) -> Result<CryptoKey, Error> {
        if let Some((_, k)) = self
            .imported
            .borrow()
            .iter()
            .find(|(der, _)| der == key.spki_der())
        {
            return Ok(k.clone());
        }
        let imported = import("spki", key.spki_der(), "verify").await?;
        self.imported
            .borrow_mut()
            .push((key.spki_der().to_vec(), imported.clone()));
        Ok(imported)
    }
}

impl RsaVerifier for WebCryptoVerifier {
    async fn verify_sha256(
        &self,
        key: &RsaPublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, Error> {
        let key = self.key_for(key).await?;
        let promise = subtle()?
            .verify_with_str_and_u8_array_and_u8_array(ALGORITHM, &key, signature, message)
            .map_err(|e| js_error("verify", e))?;
        let ok = JsFuture::from(promise)
            .await
            .map_err(|e| js_error("verify", e))?;
        Ok(ok.as_bool() == Some(true))
    }
}
