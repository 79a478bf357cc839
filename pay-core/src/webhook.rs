//! Merchant webhooks: how the edge-worker signs the events it posts to the merchant, and how
//! a receiver verifies them. The signature is HMAC-SHA256 under the webhook secret over
//! `<timestamp>.<body>`, sent as `Wxc-Signature: t=<timestamp>,v1=<hex>`; receivers refuse
//! timestamps more than 5 minutes away, which stops replays of old deliveries.

use subtle::ConstantTimeEq;

use crate::{Error, UnixTime};

pub const SIGNATURE_HEADER: &str = "Wxc-Signature";
pub const TOLERANCE_SECS: i64 = 300;

/// Hex HMAC-SHA256 of `<timestamp>.<body>`.
fn mac(secret: &str, timestamp: UnixTime, body: &[u8]) -> String {
    let t = timestamp.secs().to_string();
    crate::hmac_sha256_hex(secret.as_bytes(), &[t.as_bytes(), b".", body])
}

/// The `Wxc-Signature` header value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: UnixTime, body: &[u8]) -> String {
    format!("t={},v1={}", timestamp.secs(), mac(secret, timestamp, body))
}

/// Verifies a delivery as a receiver should: the timestamp within tolerance of `now`, and one
/// of the `v1` signatures (several may be sent while a secret is rotated) in constant time.
pub fn verify(header: &str, body: &[u8], secret: &str, now: UnixTime) -> Result<(), Error> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v.to_string()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Error::Malformed {
        what: SIGNATURE_HEADER,
        reason: "no t=<timestamp>".into(),
    })?;
    let offset_secs = timestamp.saturating_sub(now.secs());
    if offset_secs.unsigned_abs() > TOLERANCE_SECS as u64 {
        return Err(Error::ClockSkew { offset_secs });
    }
    let expected = mac(secret, UnixTime(timestamp), body);
    if signatures
        .iter()
        .any(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
    {
        Ok(())
    } else {
        Err(Error::BadSignature)
    }
}

/// Wait before retry number `attempts` (1 = after the first failure): `base_secs` doubling,
/// capped at 6 hours, so a receiver down for a day still gets every event.
pub fn retry_delay_secs(attempts: u32, base_secs: i64) -> i64 {
    let factor = 1i64 << attempts.saturating_sub(1).min(20);
    base_secs.saturating_mul(factor).min(6 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_0123456789";

    #[test]
    fn signs_and_verifies_and_refuses_tampering() {
        let body = br#"{"id":"evt_1","type":"checkout.session.paid"}"#;
        let header = sign(SECRET, UnixTime(1_795_000_000), body);
        assert!(header.starts_with("t=1795000000,v1="));
        assert_eq!(
            verify(&header, body, SECRET, UnixTime(1_795_000_100)),
            Ok(())
        );
        assert_eq!(
            verify(&header, b"{}", SECRET, UnixTime(1_795_000_000)),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify(&header, body, "whsec_other", UnixTime(1_795_000_000)),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify(&header, body, SECRET, UnixTime(1_795_000_301)),
            Err(Error::ClockSkew { offset_secs: -301 })
        );
        let moved = header.replace("t=1795000000", "t=1795000001");
        assert_eq!(
            verify(&moved, body, SECRET, UnixTime(1_795_000_000)),
            Err(Error::BadSignature)
        );
        assert!(verify("v1=abc", body, SECRET, UnixTime(0)).is_err());
        // During a secret rotation a second signature may be present; either may match.
        let two = format!("{header},v1=00");
        assert_eq!(verify(&two, body, SECRET, UnixTime(1_795_000_000)), Ok(()));
    }

    #[test]
    fn a_timestamp_at_the_ends_of_i64_is_refused_without_overflow() {
        let now = UnixTime(1_764_000_000);
        for t in [i64::MIN, i64::MAX] {
            let err = verify(&format!("t={t},v1=00"), b"{}", "whsec_x", now).unwrap_err();
            assert_eq!(err.code(), "clock_skew");
        }
    }

    #[test]
    fn matches_an_independent_hmac() {
        // HMAC-SHA256(key "k", "1.{}") computed independently (Python's hmac module).
        assert_eq!(
            sign("k", UnixTime(1), b"{}"),
            "t=1,v1=3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158"
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(retry_delay_secs(1, 10), 10);
        assert_eq!(retry_delay_secs(2, 10), 20);
        assert_eq!(retry_delay_secs(5, 10), 160);
        assert_eq!(retry_delay_secs(40, 10), 6 * 3600);
        assert_eq!(retry_delay_secs(3, 0), 0);
    }
}
