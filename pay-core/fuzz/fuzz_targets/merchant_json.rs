//! The JSON bodies of the merchant and widget APIs, parsed and validated as the Worker does
//! before touching the books, plus the merchant webhook signature header. Stage byte: 0 new
//! session, 1 refund, 2 reconciliation and pay requests, 3 webhook signature verification.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pay_core::requests::{
    from_json, validate_refund, NewRefund, NewSession, PayRequest, ReconcileRequest,
};
use pay_core::{webhook, UnixTime};

const NOW: UnixTime = UnixTime(1_764_000_000);

fuzz_target!(|data: &[u8]| {
    let Some((&stage, data)) = data.split_first() else {
        return;
    };
    match stage % 4 {
        0 => {
            if let Ok(valid) = from_json::<NewSession>(data).and_then(|s| s.validate(60)) {
                assert!(valid.amount.get() >= 1);
                assert!((60..=7 * 24 * 3600).contains(&valid.ttl_secs));
                assert!(valid.description.chars().count() <= 127);
            }
        }
        1 => {
            if let Ok(r) = from_json::<NewRefund>(data) {
                if let Ok(valid) = validate_refund(r.amount_fen, r.reason) {
                    assert!(valid.amount.get() >= 1);
                }
            }
        }
        2 => {
            if let Ok(r) = from_json::<ReconcileRequest>(data) {
                let _ = r.day();
            }
            let _ = from_json::<PayRequest>(data);
        }
        _ => {
            // header \0 body: a receiver's check of our signature, never passed by chance.
            let mut parts = data.splitn(2, |b| *b == 0);
            let header = String::from_utf8_lossy(parts.next().unwrap_or_default());
            let body = parts.next().unwrap_or_default();
            let _ = webhook::verify(&header, body, "whsec_fuzz", NOW);
            let signed = webhook::sign("whsec_fuzz", NOW, body);
            assert_eq!(webhook::verify(&signed, body, "whsec_fuzz", NOW), Ok(()));
        }
    }
});
