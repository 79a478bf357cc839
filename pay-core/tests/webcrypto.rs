//! The Web Crypto backend (what both Workers use) against the official vectors, in a real
//! headless Chromium: it must agree byte for byte with the pure-Rust backend's results.
#![cfg(target_arch = "wasm32")]

use pay_core::crypto::webcrypto::{WebCryptoSigner, WebCryptoVerifier};
use pay_core::crypto::{RsaPrivateKeyDer, RsaPublicKey};
use pay_core::v3::{
    pay_params, AuthorizationHeader, KeyId, PlatformKeys, RequestToSign, SignedHeaders,
};
use pay_core::UnixTime;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const OFFICIAL_KEY: &str = include_str!("vectors/official_merchant_key.pem");
const OFFICIAL_KEY_PKCS1: &str = include_str!("vectors/official_merchant_key_pkcs1.pem");

fn vector(text: &str) -> &str {
    text.trim()
}

async fn signer(pem: &str) -> std::rc::Rc<WebCryptoSigner> {
    WebCryptoSigner::cached(&RsaPrivateKeyDer::from_pem(pem).unwrap())
        .await
        .unwrap()
}

#[wasm_bindgen_test]
async fn v3_and_v4_request_signatures() {
    let body = include_str!("vectors/v3_body.json");
    let post = RequestToSign {
        method: "POST",
        path_and_query: "/v3/pay/transactions/jsapi",
        timestamp: UnixTime(1554208460),
        nonce: "593BEC0C930BF1AFEB40B4A08C8FB242",
        body: body.as_bytes(),
    };
    let header = AuthorizationHeader::sign(&*signer(OFFICIAL_KEY).await, "1900007291", "S", post)
        .await
        .unwrap();
    assert_eq!(
        header.signature,
        vector(include_str!("vectors/v3_signature.txt"))
    );
    let get = RequestToSign {
        method: "GET",
        path_and_query: "/v3/refund/domestic/refunds/123123123123",
        timestamp: UnixTime(1554208460),
        nonce: "593BEC0C930BF1AFEB40B4A08C8FB242",
        body: b"",
    };
    // The PKCS#1 form of the same key, wrapped into PKCS#8 for Web Crypto, signs identically.
    let header = AuthorizationHeader::sign(&*signer(OFFICIAL_KEY_PKCS1).await, "1", "S", get)
        .await
        .unwrap();
    assert_eq!(
        header.signature,
        vector(include_str!("vectors/v4_signature.txt"))
    );
}

#[wasm_bindgen_test]
async fn v5_jsapi_and_v6_app_pay_signs() {
    let s = signer(OFFICIAL_KEY).await;
    let jsapi = pay_params::jsapi(
        &*s,
        "wx2421b1c4370ec43b",
        "wx201410272009395522657a690389285100",
        UnixTime(1554208460),
        "593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    .await
    .unwrap();
    assert_eq!(
        jsapi.pay_sign,
        vector(include_str!("vectors/v5_paysign.txt"))
    );
    let app = pay_params::app(
        &*s,
        "wx2421b1c4370ec43b",
        "1900000109",
        "wx201410272009395522657a690389285100",
        UnixTime(1554208460),
        "593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    .await
    .unwrap();
    assert_eq!(app.sign, vector(include_str!("vectors/v6_appsign.txt")));
}

#[wasm_bindgen_test]
async fn v7_public_key_verification_and_a_flipped_byte() {
    let mut keys = PlatformKeys::new();
    keys.insert(
        KeyId::parse("PUB_KEY_ID_0114232134912410000000000000").unwrap(),
        RsaPublicKey::from_pem(include_str!("vectors/v7_wechatpay_public_key.pem")).unwrap(),
    );
    let headers = SignedHeaders {
        timestamp: "1722850421".into(),
        nonce: "d824f2e086d3c1df967785d13fcd22ef".into(),
        signature: vector(include_str!("vectors/v7_signature.txt")).into(),
        serial: "PUB_KEY_ID_0114232134912410000000000000".into(),
        signature_type: None,
    };
    let body = br#"{"code_url":"weixin://wxpay/bizpayurl?pr=JyC91EIz1"}"#;
    let verifier = WebCryptoVerifier::shared();
    assert_eq!(
        headers
            .verify(body, &keys, UnixTime(1722850421), &*verifier)
            .await,
        Ok(())
    );
    let mut altered = body.to_vec();
    altered[5] ^= 1;
    assert_eq!(
        headers
            .verify(&altered, &keys, UnixTime(1722850421), &*verifier)
            .await,
        Err(pay_core::Error::BadSignature)
    );
}

/// A sub-merchant fund-flow bill's key, as the simulator seals it to a provider and the
/// provider opens it (RSA-OAEP, SHA-1): only the key pair's private half opens it.
#[wasm_bindgen_test]
async fn rsa_oaep_round_trip_opens_with_the_private_key_only() {
    use pay_core::crypto::webcrypto::{rsa_oaep_decrypt, rsa_oaep_encrypt};
    let public =
        RsaPublicKey::from_pem(include_str!("vectors/test_platform_cert_pubkey.pem")).unwrap();
    let private =
        RsaPrivateKeyDer::from_pem(include_str!("vectors/test_platform_key.pem")).unwrap();
    let key = [42u8; 32];
    let sealed = rsa_oaep_encrypt(&public, &key).await.unwrap();
    assert_eq!(sealed.len(), 256, "one RSA-2048 block");
    assert_ne!(
        rsa_oaep_encrypt(&public, &key).await.unwrap(),
        sealed,
        "OAEP is randomised"
    );
    assert_eq!(rsa_oaep_decrypt(&private, &sealed).await.unwrap(), key);
    let other = RsaPrivateKeyDer::from_pem(OFFICIAL_KEY).unwrap();
    assert!(rsa_oaep_decrypt(&other, &sealed).await.is_err());
}
