//! The platform's verification keys, chosen by `Wechatpay-Serial`.
//!
//! Two trust modes exist and may overlap during a switch: platform certificates (named by their
//! hex serial number) and the WeChat Pay public key (named `PUB_KEY_ID_…`). One set holds both.

use crate::crypto::RsaPublicKey;
use crate::Error;

/// What `Wechatpay-Serial` can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyId {
    /// A platform certificate's serial number, upper-case hex.
    CertificateSerial(String),
    /// A WeChat Pay public key's ID, `PUB_KEY_ID_` followed by letters and digits.
    PublicKeyId(String),
}

impl KeyId {
    /// Checks the format at configuration time, so a pasted merchant serial or a typo is
    /// reported before any notification arrives.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("PUB_KEY_ID_") {
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Ok(KeyId::PublicKeyId(text.to_string()));
            }
        } else if (8..=40).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(KeyId::CertificateSerial(text.to_ascii_uppercase()));
        }
        Err(Error::InvalidField {
            field: "Wechatpay-Serial",
            reason: format!(
                "{text:?} is neither a platform certificate serial (8–40 hex digits) nor a WeChat Pay public key ID (PUB_KEY_ID_…)"
            ),
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            KeyId::CertificateSerial(s) | KeyId::PublicKeyId(s) => s,
        }
    }
}

/// The shortest time between two downloads of the platform certificates caused by a message
/// naming a serial we do not hold ([`may_refresh_for`]).
pub const MIN_REFRESH_SECS: i64 = 300;

/// Whether an unverified message (a notification, an answer) naming `serial`, which no held key
/// has, may make the Worker download the platform certificates again: only for a well-formed
/// certificate serial, and only when the last download is [`MIN_REFRESH_SECS`] old or more. So
/// made-up serials cost at most one download per window, while a genuine rotation is fetched at
/// once (WeChat Pay lists a new certificate before it signs with it, so a download in the
/// window before already brought it).
pub fn may_refresh_for(
    serial: &str,
    last_refresh: Option<crate::UnixTime>,
    now: crate::UnixTime,
) -> bool {
    let well_formed = matches!(KeyId::parse(serial), Ok(KeyId::CertificateSerial(_)));
    well_formed && last_refresh.is_none_or(|at| now.secs() - at.secs() >= MIN_REFRESH_SECS)
}

#[derive(Debug, Clone, Default)]
pub struct PlatformKeys {
    keys: Vec<(KeyId, RsaPublicKey)>,
}

impl PlatformKeys {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the key with this ID.
    pub fn insert(&mut self, id: KeyId, key: RsaPublicKey) {
        self.keys.retain(|(k, _)| *k != id);
        self.keys.push((id, key));
    }

    /// The key a `Wechatpay-Serial` header names; an unknown one is its own error, so the
    /// caller can refresh the keys and try again.
    pub fn get(&self, serial: &str) -> Result<&RsaPublicKey, Error> {
        let wanted = KeyId::parse(serial).map_err(|_| Error::UnknownSerial(serial.to_string()))?;
        self.keys
            .iter()
            .find(|(id, _)| *id == wanted)
            .map(|(_, key)| key)
            .ok_or_else(|| Error::UnknownSerial(serial.to_string()))
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_download_for_an_unknown_serial_is_once_per_window_and_never_for_junk() {
        use crate::UnixTime;
        let serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
        let now = UnixTime(1_800_000_000);
        assert!(
            may_refresh_for(serial, None, now),
            "never downloaded: at once"
        );
        assert!(may_refresh_for(
            serial,
            Some(UnixTime(now.secs() - MIN_REFRESH_SECS)),
            now
        ));
        assert!(!may_refresh_for(
            serial,
            Some(UnixTime(now.secs() - MIN_REFRESH_SECS + 1)),
            now
        ));
        for junk in [
            "",
            "x",
            "AAAA",
            "not-a-serial!",
            "PUB_KEY_ID_0114232134912410000000000000",
            &"A".repeat(41),
        ] {
            assert!(!may_refresh_for(junk, None, now), "{junk:?}");
        }
    }
    use crate::crypto::test_keys::V7_PUBLIC_KEY;

    #[test]
    fn parses_both_id_kinds_and_refuses_others() {
        assert_eq!(
            KeyId::parse("PUB_KEY_ID_0114232134912410000000000000")
                .unwrap()
                .as_str(),
            "PUB_KEY_ID_0114232134912410000000000000"
        );
        assert_eq!(
            KeyId::parse("5157f09efdc096de15ebe81a47057a7232f1b8e1").unwrap(),
            KeyId::CertificateSerial("5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into())
        );
        for bad in [
            "",
            "PUB_KEY_ID_",
            "PUB_KEY_ID_12-3",
            "xyz",
            "5157F09EFDC096DE15EBE81A47057A7232F1B8E1AA",
        ] {
            assert!(KeyId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lookup_by_serial_any_case() {
        let mut keys = PlatformKeys::new();
        let key = RsaPublicKey::from_pem(V7_PUBLIC_KEY).unwrap();
        keys.insert(KeyId::parse("D7CE59D1F522D701").unwrap(), key.clone());
        assert_eq!(keys.get("d7ce59d1f522d701"), Ok(&key));
        assert_eq!(
            keys.get("PUB_KEY_ID_1"),
            Err(Error::UnknownSerial("PUB_KEY_ID_1".into()))
        );
    }
}
