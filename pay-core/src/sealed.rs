//! Secrets at rest (platform mode, issue #19): a merchant's or a provider's private key, API v3
//! key, webhook secret and app secret are stored sealed with AES-256-GCM under a key-encryption
//! key (KEK) that only the Workers hold (a Worker secret), never in clear.
//!
//! A sealed secret is `v1:{kek_id}:{base64(nonce ‖ ciphertext ‖ tag)}`: the KEK's id says which
//! key opens it, so the KEK can be rotated by sealing again under the new key while the old one
//! still opens what is not yet re-sealed ([`Keyring`]). The associated data names the secret
//! and its owner (`merchant:mch_…:api_v3_key`): a sealed value copied onto another merchant, or
//! into another field, does not open. Nonces are 96 random bits from the caller (pay-core has
//! no randomness of its own).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::Error;

const VERSION: &str = "v1";

/// A key-encryption key and its id.
#[derive(Clone)]
pub struct Kek {
    id: String,
    key: [u8; 32],
}

impl core::fmt::Debug for Kek {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Kek({}, <redacted>)", self.id)
    }
}

impl Kek {
    /// A KEK from its id (letters, digits, `-`, `_`; it is written into every sealed value) and
    /// its 32 bytes as base64.
    pub fn new(id: &str, key_b64: &str) -> Result<Self, Error> {
        let valid_id = !id.is_empty()
            && id.len() <= 32
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_id {
            return Err(Error::Key {
                reason: "a key-encryption key's id is 1 to 32 letters, digits, - or _".into(),
            });
        }
        let key = B64
            .decode(key_b64.trim())
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or_else(|| Error::Key {
                reason: "a key-encryption key is 32 bytes, base64".into(),
            })?;
        Ok(Kek {
            id: id.to_owned(),
            key,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.key.into())
    }

    /// `plaintext` sealed under this key, bound to `associated_data`, with `nonce`.
    pub fn seal(&self, nonce: [u8; 12], associated_data: &str, plaintext: &[u8]) -> String {
        let sealed = self
            .cipher()
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad: associated_data.as_bytes(),
                },
            )
            .expect("AES-256-GCM seals any input under 64 GiB");
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{VERSION}:{}:{}", self.id, B64.encode(bytes))
    }
}

/// The KEK that seals, and those that still open what they sealed before a rotation.
#[derive(Debug, Clone)]
pub struct Keyring {
    current: Kek,
    previous: Vec<Kek>,
}

impl Keyring {
    pub fn new(current: Kek, previous: Vec<Kek>) -> Self {
        Keyring { current, previous }
    }

    /// The key new secrets are sealed with.
    pub fn current(&self) -> &Kek {
        &self.current
    }

    /// Whether `sealed` was sealed with another key than the current one (to seal again).
    pub fn is_stale(&self, sealed: &str) -> bool {
        parse(sealed).is_none_or(|(id, _)| id != self.current.id)
    }

    /// The secret `sealed` holds, if one of these keys sealed it for `associated_data`.
    pub fn open(&self, sealed: &str, associated_data: &str) -> Result<Vec<u8>, Error> {
        let (id, data) = parse(sealed).ok_or_else(|| Error::Malformed {
            what: "sealed secret",
            reason: "not v1:{kek_id}:{base64}".into(),
        })?;
        let kek = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| Error::Key {
                reason: format!("sealed with key-encryption key {id:?}, which is not configured"),
            })?;
        if data.len() < 12 + 16 {
            return Err(Error::DecryptFailed);
        }
        let (nonce, ciphertext) = data.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().expect("split at 12");
        kek.cipher()
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad: associated_data.as_bytes(),
                },
            )
            .map_err(|_| Error::DecryptFailed)
    }
}

/// The key id and the bytes of a sealed value.
fn parse(sealed: &str) -> Option<(&str, Vec<u8>)> {
    let mut parts = sealed.splitn(3, ':');
    let (version, id, data) = (parts.next()?, parts.next()?, parts.next()?);
    if version != VERSION {
        return None;
    }
    Some((id, B64.decode(data).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(id: &str, byte: u8) -> Kek {
        Kek::new(id, &B64.encode([byte; 32])).unwrap()
    }

    #[test]
    fn seals_as_aes_256_gcm_does_in_the_published_test_case() {
        // The GCM specification's test case 14 (McGrew and Viega, "The Galois/Counter Mode of
        // Operation", appendix B): a zero key, a zero nonce, sixteen zero bytes, no AAD.
        let sealed = kek("k0", 0).seal([0; 12], "", &[0; 16]);
        let bytes = B64.decode(sealed.strip_prefix("v1:k0:").unwrap()).unwrap();
        assert_eq!(
            crate::to_hex(&bytes[..12]),
            "0".repeat(24),
            "the nonce first"
        );
        assert_eq!(
            crate::to_hex(&bytes[12..]),
            "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919",
            "ciphertext, then tag"
        );
    }

    #[test]
    fn opens_what_it_sealed_only_for_the_same_owner_and_field() {
        let ring = Keyring::new(kek("2026-12", 7), vec![]);
        let sealed = ring
            .current()
            .seal([9; 12], "merchant:mch_a:api_v3_key", b"secret");
        assert!(!sealed.contains("secret"));
        assert_eq!(
            ring.open(&sealed, "merchant:mch_a:api_v3_key").unwrap(),
            b"secret"
        );
        // Copied onto another merchant, or into another field: refused.
        for other in ["merchant:mch_b:api_v3_key", "merchant:mch_a:webhook_secret"] {
            assert!(matches!(
                ring.open(&sealed, other),
                Err(Error::DecryptFailed)
            ));
        }
        // Altered: refused.
        let mut bytes = B64.decode(sealed.rsplit(':').next().unwrap()).unwrap();
        bytes[14] ^= 1;
        let altered = format!("v1:2026-12:{}", B64.encode(bytes));
        assert!(matches!(
            ring.open(&altered, "merchant:mch_a:api_v3_key"),
            Err(Error::DecryptFailed)
        ));
        assert!(matches!(
            ring.open("plain text", "merchant:mch_a:api_v3_key"),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn a_rotation_opens_the_old_seals_and_says_which_to_seal_again() {
        let old = kek("old", 1);
        let sealed = old.seal([3; 12], "provider:sp_a:merchant_key", b"pem");
        let rotated = Keyring::new(kek("new", 2), vec![old]);
        assert!(rotated.is_stale(&sealed));
        assert_eq!(
            rotated.open(&sealed, "provider:sp_a:merchant_key").unwrap(),
            b"pem"
        );
        let again = rotated
            .current()
            .seal([4; 12], "provider:sp_a:merchant_key", b"pem");
        assert!(!rotated.is_stale(&again));
        // Once the old key is gone, what it sealed says so.
        let without_old = Keyring::new(kek("new", 2), vec![]);
        assert!(matches!(
            without_old.open(&sealed, "provider:sp_a:merchant_key"),
            Err(Error::Key { .. })
        ));
    }

    #[test]
    fn a_kek_is_32_bytes_with_a_plain_id() {
        assert!(Kek::new("k1", &B64.encode([0u8; 31])).is_err());
        assert!(Kek::new("k:1", &B64.encode([0u8; 32])).is_err());
        assert!(Kek::new("", &B64.encode([0u8; 32])).is_err());
        assert_eq!(format!("{:?}", kek("k1", 5)), "Kek(k1, <redacted>)");
    }
}
