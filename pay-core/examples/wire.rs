//! A JSON-lines front door to pay-core's wire functions, for cross-checking against other
//! implementations (tests/oracle drives it). One request per line on stdin, one answer per
//! line on stdout: `{"op": "...", ...}` → `{"ok": true, ...}` or `{"ok": false, "error": code}`.

use std::io::{BufRead, Write};

use pay_core::aead::ApiV3Key;
use pay_core::crypto::rustcrypto::{block_on, RustCryptoSigner, RustCryptoVerifier};
use pay_core::crypto::RsaPrivateKeyDer;
use pay_core::v3::certificate::public_key_from_pem;
use pay_core::v3::{
    pay_params, AuthorizationHeader, KeyId, PlatformKeys, RequestToSign, SignedHeaders,
};
use pay_core::{v2, Error, UnixTime};
use serde_json::{json, Value};

fn s<'a>(req: &'a Value, key: &str) -> &'a str {
    req[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string field {key}"))
}

fn n(req: &Value, key: &str) -> UnixTime {
    UnixTime(
        req[key]
            .as_i64()
            .unwrap_or_else(|| panic!("missing integer field {key}")),
    )
}

fn signer(req: &Value) -> Result<RustCryptoSigner, Error> {
    RustCryptoSigner::new(&RsaPrivateKeyDer::from_pem(s(req, "key_pem"))?)
}

fn params(req: &Value) -> v2::Params {
    req["params"]
        .as_object()
        .expect("params")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_string()))
        .collect()
}

fn answer(req: &Value) -> Result<Value, Error> {
    Ok(match s(req, "op") {
        "v3_request" => {
            let request = RequestToSign {
                method: s(req, "method"),
                path_and_query: s(req, "path"),
                timestamp: n(req, "timestamp"),
                nonce: s(req, "nonce"),
                body: s(req, "body").as_bytes(),
            };
            let header = block_on(AuthorizationHeader::sign(
                &signer(req)?,
                s(req, "mchid"),
                s(req, "serial"),
                request,
            ))?;
            json!({ "message": String::from_utf8(request.message()).expect("utf-8"), "signature": header.signature, "authorization": header.to_header_value() })
        }
        "v3_verify_authorization" => {
            let header = AuthorizationHeader::parse(s(req, "authorization"))?;
            let key = public_key_from_pem(s(req, "public_key_pem"))?;
            block_on(header.verify(
                s(req, "method"),
                s(req, "path"),
                s(req, "body").as_bytes(),
                &key,
                n(req, "now"),
                &RustCryptoVerifier,
            ))?;
            json!({ "mchid": header.mchid, "serial_no": header.serial_no, "nonce_str": header.nonce_str, "timestamp": header.timestamp.secs() })
        }
        "v3_sign_response" => {
            let h = block_on(SignedHeaders::sign(
                &signer(req)?,
                s(req, "serial"),
                n(req, "timestamp"),
                s(req, "nonce"),
                s(req, "body").as_bytes(),
            ))?;
            json!({ "signature": h.signature })
        }
        "v3_verify" => {
            let mut keys = PlatformKeys::new();
            keys.insert(
                KeyId::parse(s(req, "serial"))?,
                public_key_from_pem(s(req, "public_key_pem"))?,
            );
            let headers = SignedHeaders {
                timestamp: s(req, "timestamp").to_string(),
                nonce: s(req, "nonce").to_string(),
                signature: s(req, "signature").to_string(),
                serial: s(req, "serial").to_string(),
                signature_type: None,
            };
            block_on(headers.verify(
                s(req, "body").as_bytes(),
                &keys,
                n(req, "now"),
                &RustCryptoVerifier,
            ))?;
            json!({})
        }
        "aead_encrypt" => {
            json!({ "ciphertext": ApiV3Key::new(s(req, "key"))?.encrypt(s(req, "nonce"), s(req, "aad"), s(req, "plaintext").as_bytes())? })
        }
        "aead_decrypt" => {
            let plain = ApiV3Key::new(s(req, "key"))?.decrypt(
                s(req, "nonce"),
                s(req, "aad"),
                s(req, "ciphertext"),
            )?;
            json!({ "plaintext": String::from_utf8(plain).map_err(|e| Error::Malformed { what: "plaintext", reason: e.to_string() })? })
        }
        "jsapi" => serde_json::to_value(block_on(pay_params::jsapi(
            &signer(req)?,
            s(req, "appid"),
            s(req, "prepay_id"),
            n(req, "timestamp"),
            s(req, "nonce"),
        ))?)
        .expect("json"),
        "v2_sign" => {
            let sign_type = if s(req, "sign_type") == "MD5" {
                v2::SignType::Md5
            } else {
                v2::SignType::HmacSha256
            };
            json!({ "sign": v2::sign(&params(req), s(req, "key"), sign_type) })
        }
        "v2_verify" => json!({ "sign_type": v2::verify(&params(req), s(req, "key"))?.as_str() }),
        "v2_refund_encrypt" => {
            json!({ "req_info": v2::refund::encrypt_req_info(s(req, "plaintext").as_bytes(), s(req, "api_key")) })
        }
        "v2_refund_decrypt" => {
            let plain = v2::refund::decrypt_req_info(s(req, "req_info"), s(req, "api_key"))?;
            json!({ "plaintext": String::from_utf8_lossy(&plain) })
        }
        other => panic!("unknown op {other}"),
    })
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let req: Value =
            serde_json::from_str(&line.expect("stdin")).expect("one JSON object per line");
        let mut reply = match answer(&req) {
            Ok(v) => v,
            Err(e) => json!({ "ok": false, "error": e.code(), "message": e.to_string() }),
        };
        if reply.get("ok").is_none() {
            reply["ok"] = json!(true);
        }
        writeln!(out, "{reply}").expect("stdout");
        out.flush().expect("stdout");
    }
}
