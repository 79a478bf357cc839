//! WeChat Pay's verification keys. In public-key mode they are configuration
//! (`WECHATPAY_PUBLIC_KEY_ID` + `WECHATPAY_PUBLIC_KEY`). In certificate mode
//! (`WECHATPAY_TRUST_MODE = "certificate"`) they are the platform certificates, fetched from
//! `/v3/certificates`, decrypted with the API v3 key, kept in D1 and fetched again when a
//! response or notification names a serial we do not hold (certificates rotate).

use pay_core::crypto::webcrypto::WebCryptoVerifier;
use pay_core::v3::keys::may_refresh_for;
use pay_core::v3::{KeyId, PlatformCertificate, PlatformKeys, SignedHeaders};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::wechatpay::WechatPayClient;
use crate::App;

/// The keys to verify WeChat Pay's signatures with, now. With no certificate held yet (the
/// first need), they are downloaded at once.
pub async fn current(app: &App) -> ApiResult<PlatformKeys> {
    if !app.config.certificate_mode {
        return Ok(app.config.platform_keys.clone());
    }
    let keys = from_store(app).await?;
    if keys.is_empty() {
        let seen = app.store.last_certificate_refresh().await?;
        app.store.stamp_certificate_refresh(seen, app.now).await?;
        return refresh(app).await;
    }
    Ok(keys)
}

async fn from_store(app: &App) -> ApiResult<PlatformKeys> {
    let mut keys = PlatformKeys::new();
    for (serial, pem) in app.store.platform_certificates(app.now).await? {
        let cert = PlatformCertificate::from_pem(&pem)?;
        keys.insert(KeyId::parse(&serial)?, cert.public_key);
    }
    Ok(keys)
}

#[derive(Deserialize)]
struct CertificateList {
    data: Vec<CertificateEntry>,
}

#[derive(Deserialize)]
struct CertificateEntry {
    serial_no: String,
    encrypt_certificate: EncryptedCertificate,
}

/// Like a notification's resource, without `original_type`.
#[derive(Deserialize)]
struct EncryptedCertificate {
    algorithm: String,
    nonce: String,
    #[serde(default)]
    associated_data: String,
    ciphertext: String,
}

/// Fetches the platform certificates again and keeps the valid ones. The answer is signed by
/// one of the certificates it carries: it is checked against them before anything is kept.
pub async fn refresh(app: &App) -> ApiResult<PlatformKeys> {
    let (headers, body) = WechatPayClient::new(app).certificates().await?;
    let list: CertificateList = serde_json::from_slice(&body).map_err(|e| ApiError::Upstream {
        signed: false,
        status: 200,
        code: "UNEXPECTED_BODY".into(),
        message: e.to_string(),
    })?;
    let mut fetched = Vec::new();
    let mut keys = PlatformKeys::new();
    for entry in list.data {
        let r = &entry.encrypt_certificate;
        if r.algorithm != pay_core::v3::notification::AEAD_AES_256_GCM {
            return Err(pay_core::Error::UnsupportedAlgorithm(r.algorithm.clone()).into());
        }
        let pem = String::from_utf8(app.config.api_v3_key.decrypt(
            &r.nonce,
            &r.associated_data,
            &r.ciphertext,
        )?)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        let cert = PlatformCertificate::from_pem(&pem)?;
        if cert.serial != entry.serial_no.to_ascii_uppercase() || !cert.is_valid_at(app.now) {
            continue;
        }
        keys.insert(KeyId::parse(&cert.serial)?, cert.public_key.clone());
        fetched.push((cert, pem));
    }
    headers
        .verify(&body, &keys, app.now, &*WebCryptoVerifier::shared())
        .await?;
    for (cert, pem) in &fetched {
        app.store
            .save_platform_certificate(&cert.serial, pem, cert.not_before, cert.not_after, app.now)
            .await?;
    }
    from_store(app).await
}

/// Whether an error answer's signature verifies under the keys held now. Never fetches
/// certificates: an error answer of the certificate download must not ask for them again.
pub async fn signed_by_held_keys(app: &App, headers: &SignedHeaders, body: &[u8]) -> bool {
    let keys = if app.config.certificate_mode {
        match from_store(app).await {
            Ok(keys) => keys,
            Err(_) => return false,
        }
    } else {
        app.config.platform_keys.clone()
    };
    headers
        .verify(body, &keys, app.now, &*WebCryptoVerifier::shared())
        .await
        .is_ok()
}

/// Verifies signed bytes. In certificate mode a well-formed serial we do not hold triggers a
/// download of the certificates, at most once per window across all requests (the bytes are
/// not yet verified: anybody can name a serial); otherwise it is refused as unknown.
pub async fn verify(app: &App, headers: &SignedHeaders, body: &[u8]) -> ApiResult<()> {
    let keys = current(app).await?;
    match headers
        .verify(body, &keys, app.now, &*WebCryptoVerifier::shared())
        .await
    {
        Ok(()) => Ok(()),
        Err(pay_core::Error::UnknownSerial(serial)) if app.config.certificate_mode => {
            let seen = app.store.last_certificate_refresh().await?;
            if !may_refresh_for(&serial, seen, app.now)
                || !app.store.stamp_certificate_refresh(seen, app.now).await?
            {
                return Err(pay_core::Error::UnknownSerial(serial).into());
            }
            let keys = refresh(app).await?;
            headers
                .verify(body, &keys, app.now, &*WebCryptoVerifier::shared())
                .await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
