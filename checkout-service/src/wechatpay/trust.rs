//! WeChat Pay's verification keys. In public-key mode they are configuration
//! (`WECHATPAY_PUBLIC_KEY_ID` + `WECHATPAY_PUBLIC_KEY`). In certificate mode
//! (`WECHATPAY_TRUST_MODE = "certificate"`) they are the platform certificates, fetched from
//! `/v3/certificates`, decrypted with the API v3 key, kept in the catalog and fetched again
//! when an answer or notification names a serial we do not hold (certificates rotate).

use pay_core::crypto::webcrypto::WebCryptoVerifier;
use pay_core::v3::keys::may_refresh_for;
use pay_core::v3::{KeyId, PlatformCertificate, PlatformKeys, SignedHeaders};
use serde::Deserialize;
use worker::Method;

use super::transport::Transport;
use crate::catalog::Certificates;
use crate::config::Trust;
use crate::error::{ApiError, ApiResult};

pub struct PlatformTrust<'a> {
    pub transport: &'a Transport<'a>,
    pub certificates: Certificates<'a>,
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

impl PlatformTrust<'_> {
    fn certificate_mode(&self) -> bool {
        matches!(self.transport.account.trust, Trust::Certificates)
    }

    fn now(&self) -> pay_core::UnixTime {
        self.transport.now
    }

    /// The keys held now, without fetching any.
    async fn held(&self) -> ApiResult<PlatformKeys> {
        match &self.transport.account.trust {
            Trust::PublicKey(keys) => Ok(keys.clone()),
            Trust::Certificates => {
                let mut keys = PlatformKeys::new();
                for (serial, pem) in self.certificates.valid_at(self.now()).await? {
                    let cert = PlatformCertificate::from_pem(&pem)?;
                    keys.insert(KeyId::parse(&serial)?, cert.public_key);
                }
                Ok(keys)
            }
        }
    }

    /// The keys to verify with, now. With no certificate held yet (the first need), they are
    /// downloaded at once.
    async fn current(&self) -> ApiResult<PlatformKeys> {
        let keys = self.held().await?;
        if keys.is_empty() && self.certificate_mode() {
            let seen = self.certificates.last_refresh().await?;
            self.certificates.stamp_refresh(seen, self.now()).await?;
            return self.refresh().await;
        }
        Ok(keys)
    }

    /// Fetches the platform certificates again and keeps the valid ones. The answer is signed
    /// by one of the certificates it carries: it is checked against them before any is kept.
    async fn refresh(&self) -> ApiResult<PlatformKeys> {
        let answer = self
            .transport
            .send(Method::Get, "/v3/certificates", b"")
            .await?;
        let unexpected = |message: String| ApiError::Upstream {
            signed: false,
            status: answer.status,
            code: if answer.is_success() {
                "UNEXPECTED_BODY".into()
            } else {
                format!("HTTP_{}", answer.status)
            },
            message,
        };
        if !answer.is_success() {
            return Err(unexpected(
                String::from_utf8_lossy(&answer.body)
                    .chars()
                    .take(200)
                    .collect(),
            ));
        }
        let headers = answer.signature()?;
        let list: CertificateList =
            serde_json::from_slice(&answer.body).map_err(|e| unexpected(e.to_string()))?;
        let api_v3_key = &self.transport.account.api_v3_key;
        let mut fetched = Vec::new();
        let mut keys = PlatformKeys::new();
        for entry in list.data {
            let r = &entry.encrypt_certificate;
            if r.algorithm != pay_core::v3::notification::AEAD_AES_256_GCM {
                return Err(pay_core::Error::UnsupportedAlgorithm(r.algorithm.clone()).into());
            }
            let pem = String::from_utf8(api_v3_key.decrypt(
                &r.nonce,
                &r.associated_data,
                &r.ciphertext,
            )?)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
            let cert = PlatformCertificate::from_pem(&pem)?;
            if cert.serial != entry.serial_no.to_ascii_uppercase() || !cert.is_valid_at(self.now())
            {
                continue;
            }
            keys.insert(KeyId::parse(&cert.serial)?, cert.public_key.clone());
            fetched.push((cert, pem));
        }
        headers
            .verify(
                &answer.body,
                &keys,
                self.now(),
                &*WebCryptoVerifier::shared(),
            )
            .await?;
        for (cert, pem) in &fetched {
            self.certificates
                .save(
                    &cert.serial,
                    pem,
                    cert.not_before,
                    cert.not_after,
                    self.now(),
                )
                .await?;
        }
        self.held().await
    }

    /// Whether an error answer's signature verifies under the keys held now. Never fetches
    /// certificates: an error answer of the certificate download must not ask for them again.
    pub async fn signed_by_held_keys(&self, headers: &SignedHeaders, body: &[u8]) -> bool {
        match self.held().await {
            Ok(keys) => headers
                .verify(body, &keys, self.now(), &*WebCryptoVerifier::shared())
                .await
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Verifies signed bytes. In certificate mode a well-formed serial we do not hold triggers
    /// a download of the certificates, at most once per window across all requests (the bytes
    /// are not yet verified: anybody can name a serial); otherwise it is refused as unknown.
    pub async fn verify(&self, headers: &SignedHeaders, body: &[u8]) -> ApiResult<()> {
        let keys = self.current().await?;
        let verifier = WebCryptoVerifier::shared();
        match headers.verify(body, &keys, self.now(), &*verifier).await {
            Ok(()) => Ok(()),
            Err(pay_core::Error::UnknownSerial(serial)) if self.certificate_mode() => {
                let seen = self.certificates.last_refresh().await?;
                if !may_refresh_for(&serial, seen, self.now())
                    || !self.certificates.stamp_refresh(seen, self.now()).await?
                {
                    return Err(pay_core::Error::UnknownSerial(serial).into());
                }
                let keys = self.refresh().await?;
                Ok(headers.verify(body, &keys, self.now(), &*verifier).await?)
            }
            Err(e) => Err(e.into()),
        }
    }
}
