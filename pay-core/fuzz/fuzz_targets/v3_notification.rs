//! API v3 notifications: the `Wechatpay-*` headers and the envelope, as WeChat Pay (or anyone)
//! may send them. The first byte picks the stage, so every stage is reached by random bytes:
//! 0 headers + signature check, 1 envelope parse + decrypt, 2 a resource sealed under our key
//! (reaches the transaction and refund models and the payment decision), 3 certificate DER.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pay_core::aead::ApiV3Key;
use pay_core::checkout::{decide_payment, OrderFacts, SessionStatus};
use pay_core::crypto::rustcrypto::{block_on, RustCryptoVerifier};
use pay_core::crypto::RsaPublicKey;
use pay_core::v3::certificate::PlatformCertificate;
use pay_core::v3::model::{Payee, RefundNotice, Transaction};
use pay_core::v3::notification::{Notification, Sealing};
use pay_core::v3::{KeyId, PlatformKeys, SignedHeaders};
use pay_core::{Fen, UnixTime};

const SERIAL: &str = "PUB_KEY_ID_0114232134912410000000000000";
const NOW: UnixTime = UnixTime(1_722_850_421);

fn key() -> ApiV3Key {
    ApiV3Key::new("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").unwrap()
}

fn keys() -> PlatformKeys {
    let mut keys = PlatformKeys::new();
    let pem = include_str!("../../tests/vectors/v7_wechatpay_public_key.pem");
    keys.insert(
        KeyId::parse(SERIAL).unwrap(),
        RsaPublicKey::from_pem(pem).unwrap(),
    );
    keys
}

/// Splits `data` at the first `n` NUL bytes into fields (the rest is the last field).
fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    data.splitn(n + 1, |b| *b == 0).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fuzz_target!(|data: &[u8]| {
    let Some((&stage, data)) = data.split_first() else {
        return;
    };
    match stage % 4 {
        0 => {
            // timestamp \0 nonce \0 signature \0 serial \0 body; a field left out is a
            // missing header, as from_lookup sees it.
            let parts = fields(data, 4);
            let get = |name: &str| {
                let i = [
                    "Wechatpay-Timestamp",
                    "Wechatpay-Nonce",
                    "Wechatpay-Signature",
                    "Wechatpay-Serial",
                ]
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))?;
                parts.get(i).map(|b| text(b))
            };
            let Ok(headers) = SignedHeaders::from_lookup(get) else {
                return;
            };
            let body = parts.get(4).copied().unwrap_or_default();
            let opened = block_on(Notification::open(
                &headers,
                body,
                &keys(),
                &key(),
                NOW,
                &RustCryptoVerifier,
            ));
            // Random bytes never carry WeChat Pay's signature.
            assert!(opened.is_err());
        }
        1 => {
            if let Ok(n) = Notification::decrypt_verified(data, &key()) {
                let _ = n.resource::<Transaction>();
            }
        }
        2 => {
            let sealing = Sealing {
                id: "EV-fuzz",
                create_time: NOW,
                event_type: "TRANSACTION.SUCCESS",
                summary: "",
                original_type: "transaction",
                associated_data: "transaction",
                nonce: "fuzznonce123",
            };
            let body = sealing
                .seal(data, &key())
                .expect("sealing takes any plaintext");
            let opened = Notification::decrypt_verified(&body, &key()).expect("our own seal opens");
            assert_eq!(opened.plaintext, data);
            if let Ok(tx) = opened.resource::<Transaction>() {
                let payee = Payee::Direct {
                    appid: "wxd678efh567hg6787".into(),
                    mchid: "1900000001".into(),
                };
                let order = OrderFacts {
                    payee: &payee,
                    out_trade_no: "CS1722850421abcdef",
                    amount: Fen::chargeable(100).unwrap(),
                    status: SessionStatus::Open,
                    transaction_id: None,
                };
                let _ = decide_payment(&order, &tx, NOW);
                let _ = decide_payment(
                    &OrderFacts {
                        status: SessionStatus::Paid,
                        transaction_id: Some("4200"),
                        ..order.clone()
                    },
                    &tx,
                    NOW,
                );
                // The same facts for a provider's sub-merchant (partner mode).
                let partner = Payee::Partner {
                    sp_appid: "wxd678efh567hg6787".into(),
                    sp_mchid: "1900000001".into(),
                    sub_appid: Some("wxd678efh567hg6999".into()),
                    sub_mchid: "1900000109".into(),
                };
                let _ = decide_payment(
                    &OrderFacts {
                        payee: &partner,
                        ..order.clone()
                    },
                    &tx,
                    NOW,
                );
                let _ = decide_payment(
                    &OrderFacts {
                        status: SessionStatus::Closed,
                        ..order
                    },
                    &tx,
                    NOW,
                );
            }
            let _ = opened.resource::<RefundNotice>();
        }
        _ => {
            if let Ok(cert) = PlatformCertificate::from_der(data) {
                let _ = cert.is_valid_at(NOW);
            }
            let _ = PlatformCertificate::from_pem(&text(data));
        }
    }
});
