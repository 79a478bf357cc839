//! `GET /v3/certificates`: the platform certificates, each encrypted with the calling
//! merchant's API v3 key, for merchants in certificate mode.

use pay_core::crypto::webcrypto::random_hex;
use serde_json::json;

use super::{json, Call};
use crate::error::PlatformResult;
use crate::App;

pub fn list(app: &App, call: &Call<'_>) -> PlatformResult<(u16, Vec<u8>)> {
    let cert = &app.config.platform_certificate;
    let nonce = random_hex(6)?;
    let ciphertext = call.merchant.api_v3_key.encrypt(
        &nonce,
        "certificate",
        app.config.platform_certificate_pem.as_bytes(),
    )?;
    json(
        200,
        &json!({ "data": [{
            "serial_no": cert.serial,
            "effective_time": cert.not_before.to_rfc3339_cst(),
            "expire_time": cert.not_after.to_rfc3339_cst(),
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": "certificate",
                "ciphertext": ciphertext,
            },
        }] }),
    )
}
