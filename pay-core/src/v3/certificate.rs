//! WeChat Pay platform certificates (X.509, from `/v3/certificates` or a file): the serial that
//! `Wechatpay-Serial` names, the validity, and the public key inside. A small DER reader walks
//! only the fields needed; the certificate's own signature chain is not checked here, because
//! certificates arrive AEAD-encrypted under the API v3 key from an authenticated response.

use crate::crypto::RsaPublicKey;
use crate::{pem, Error, UnixTime};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformCertificate {
    /// Upper-case hex, as WeChat Pay writes it.
    pub serial: String,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    pub subject_common_name: String,
    pub public_key: RsaPublicKey,
}

/// The public key of a WeChat Pay public key PEM (`PUBLIC KEY`, as downloaded) or of a platform
/// certificate's PEM (`CERTIFICATE`): what a merchant may paste where WeChat Pay's key belongs.
pub fn public_key_from_pem(text: &str) -> Result<RsaPublicKey, Error> {
    let block = pem::decode(text)?;
    if block.label == "CERTIFICATE" {
        Ok(PlatformCertificate::from_der(&block.der)?.public_key)
    } else {
        RsaPublicKey::from_pem(text)
    }
}

fn bad(reason: &str) -> Error {
    Error::Key {
        reason: format!("not a usable X.509 certificate: {reason}"),
    }
}

/// One DER element: its tag, its content, and the whole encoding (header included).
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    raw: &'a [u8],
}

struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn next(&mut self) -> Result<Tlv<'a>, Error> {
        let data = self.0;
        let (&tag, rest) = data.split_first().ok_or_else(|| bad("truncated"))?;
        let (&first, rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
        let (len, header) = if first < 0x80 {
            (first as usize, 2)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return Err(bad("bad length"));
            }
            (
                rest[..n]
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | b as usize),
                2 + n,
            )
        };
        let end = header
            .checked_add(len)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| bad("truncated"))?;
        self.0 = &data[end..];
        Ok(Tlv {
            tag,
            content: &data[header..end],
            raw: &data[..end],
        })
    }

    fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, Error> {
        let tlv = self.next()?;
        if tlv.tag == tag {
            Ok(tlv)
        } else {
            Err(bad(&format!("expected {what}")))
        }
    }
}

const SEQUENCE: u8 = 0x30;
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

fn parse_time(tlv: &Tlv<'_>) -> Result<UnixTime, Error> {
    let text = core::str::from_utf8(tlv.content).map_err(|_| bad("validity is not text"))?;
    let digits = text
        .strip_suffix('Z')
        .ok_or_else(|| bad("validity must be in UTC"))?;
    // Only digits: the fields below are cut at byte offsets (fuzzing found a '₅' there).
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("validity must be digits"));
    }
    let full = match (tlv.tag, digits.len()) {
        // UTCTime: two-digit years, 50–99 meaning 19xx (RFC 5280).
        (0x17, 12) => format!(
            "{}{digits}",
            if digits[..2].parse::<u8>().map_err(|_| bad("validity"))? >= 50 {
                "19"
            } else {
                "20"
            }
        ),
        (0x18, 14) => digits.to_string(),
        _ => return Err(bad("unsupported validity format")),
    };
    UnixTime::parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[0..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    ))
}

fn common_name(name: &[u8]) -> Result<String, Error> {
    let mut rdns = Der(name);
    while !rdns.0.is_empty() {
        let set = rdns.next()?;
        let mut attrs = Der(set.content);
        while !attrs.0.is_empty() {
            let attr = attrs.expect(SEQUENCE, "attribute")?;
            let mut parts = Der(attr.content);
            if parts.expect(0x06, "attribute type")?.content == OID_COMMON_NAME {
                return Ok(String::from_utf8_lossy(parts.next()?.content).into_owned());
            }
        }
    }
    Ok(String::new())
}

impl PlatformCertificate {
    pub fn from_pem(text: &str) -> Result<Self, Error> {
        let block = pem::decode(text)?;
        if block.label != "CERTIFICATE" {
            return Err(Error::Key {
                reason: format!("expected a CERTIFICATE PEM, got {:?}", block.label),
            });
        }
        Self::from_der(&block.der)
    }

    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        let certificate = Der(der).expect(SEQUENCE, "certificate")?;
        let mut tbs = Der(Der(certificate.content)
            .expect(SEQUENCE, "tbsCertificate")?
            .content);
        let mut field = tbs.next()?;
        if field.tag == 0xa0 {
            field = tbs.next()?; // explicit version
        }
        if field.tag != 0x02 {
            return Err(bad("expected the serial number"));
        }
        let serial_bytes = match field.content {
            [0, rest @ ..] if !rest.is_empty() => rest, // the sign byte of a positive integer
            all => all,
        };
        tbs.expect(SEQUENCE, "signature algorithm")?;
        tbs.expect(SEQUENCE, "issuer")?;
        let mut validity = Der(tbs.expect(SEQUENCE, "validity")?.content);
        let not_before = parse_time(&validity.next()?)?;
        let not_after = parse_time(&validity.next()?)?;
        let subject_common_name = common_name(tbs.expect(SEQUENCE, "subject")?.content)?;
        let spki = tbs.expect(SEQUENCE, "subjectPublicKeyInfo")?;
        // A merchant's own API certificate has the mchid as its common name; it never verifies
        // WeChat Pay's signatures, and pasting it here is a common mistake.
        if !subject_common_name.is_empty()
            && subject_common_name.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(Error::Key {
                reason: format!(
                    "this is a merchant API certificate (CN={subject_common_name}, your mchid), not a WeChat Pay platform certificate; \
                     configure the platform certificate from /v3/certificates or the WeChat Pay public key instead"
                ),
            });
        }
        Ok(PlatformCertificate {
            serial: crate::to_hex(serial_bytes).to_ascii_uppercase(),
            not_before,
            not_after,
            subject_common_name,
            public_key: RsaPublicKey::from_spki_der(spki.raw.to_vec()),
        })
    }

    pub fn is_valid_at(&self, now: UnixTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rustcrypto::{RustCryptoSigner, RustCryptoVerifier};
    use crate::crypto::RsaPrivateKeyDer;
    use crate::test_support::{block_on, v7, V7_BODY, V7_TIMESTAMP};
    use crate::v3::{KeyId, PlatformKeys, SignedHeaders};
    use crate::Error;

    const PLATFORM_CERT: &str = include_str!("../../tests/vectors/test_platform_cert.pem");

    #[test]
    fn a_validity_with_other_than_digits_is_refused_not_a_panic() {
        // The fuzzer's input (crash-9b8e7d6b…): 12 bytes of UTCTime with a '₅' among them.
        for (tag, content) in [
            (0x17, "20461110\u{2085}0Z"),
            (0x18, "2046111\u{2085}0000Z"),
            (0x17, "2046111+1000Z"),
        ] {
            let tlv = Tlv {
                tag,
                content: content.as_bytes(),
                raw: content.as_bytes(),
            };
            assert!(parse_time(&tlv).is_err(), "{content}");
        }
        let fine = Tlv {
            tag: 0x17,
            content: b"461110054545Z",
            raw: b"",
        };
        assert!(parse_time(&fine).is_ok());
    }

    #[test]
    fn reads_serial_validity_subject_and_key() {
        let cert = PlatformCertificate::from_pem(PLATFORM_CERT).unwrap();
        assert_eq!(cert.serial, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
        assert_eq!(cert.subject_common_name, "Tenpay.com sign");
        assert!(cert.not_after.secs() - cert.not_before.secs() == 7300 * 86_400);
        let expected = RsaPublicKey::from_pem(include_str!(
            "../../tests/vectors/test_platform_cert_pubkey.pem"
        ))
        .unwrap();
        assert_eq!(cert.public_key, expected);
        assert!(cert.is_valid_at(cert.not_before) && !cert.is_valid_at(cert.not_after.plus(1)));
    }

    #[test]
    fn a_certificate_keyed_by_serial_verifies_platform_signatures() {
        let cert = PlatformCertificate::from_pem(PLATFORM_CERT).unwrap();
        let mut keys = PlatformKeys::new();
        keys.insert(KeyId::parse(&cert.serial).unwrap(), cert.public_key.clone());
        let signer = RustCryptoSigner::new(
            &RsaPrivateKeyDer::from_pem(include_str!("../../tests/vectors/test_platform_key.pem"))
                .unwrap(),
        )
        .unwrap();
        let body = br#"{"code_url":"weixin://wxpay/bizpayurl?pr=x"}"#;
        let headers = block_on(SignedHeaders::sign(
            &signer,
            &cert.serial,
            cert.not_before.plus(60),
            "n",
            body,
        ))
        .unwrap();
        assert_eq!(
            block_on(headers.verify(body, &keys, cert.not_before.plus(61), &RustCryptoVerifier)),
            Ok(())
        );
    }

    #[test]
    fn one_key_set_holds_a_certificate_and_a_public_key_and_the_serial_decides() {
        let cert = PlatformCertificate::from_pem(PLATFORM_CERT).unwrap();
        let mut keys = PlatformKeys::new();
        keys.insert(KeyId::parse(&cert.serial).unwrap(), cert.public_key.clone());
        // V7, signed with the WeChat Pay public key's private half, named by its ID: verifies.
        let (v7, v7_keys) = v7();
        keys.insert(
            KeyId::parse(&v7.serial).unwrap(),
            v7_keys.get(&v7.serial).unwrap().clone(),
        );
        let now = UnixTime(V7_TIMESTAMP);
        assert_eq!(
            block_on(v7.verify(V7_BODY, &keys, now, &RustCryptoVerifier)),
            Ok(())
        );
        // The same signature named by the certificate's serial is checked with the certificate's key.
        let misnamed = SignedHeaders {
            serial: cert.serial.clone(),
            ..v7
        };
        assert_eq!(
            block_on(misnamed.verify(V7_BODY, &keys, now, &RustCryptoVerifier)),
            Err(Error::BadSignature)
        );
        // A certificate PEM also reads as the public key inside it (and a plain public-key
        // reading refuses it: crypto knows no certificates).
        assert_eq!(public_key_from_pem(PLATFORM_CERT).unwrap(), cert.public_key);
        assert!(RsaPublicKey::from_pem(PLATFORM_CERT).is_err());
    }

    #[test]
    fn refuses_a_merchant_certificate_and_garbage() {
        let err = PlatformCertificate::from_pem(include_str!(
            "../../tests/vectors/test_merchant_cert.pem"
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("merchant API certificate (CN=1230000109"),
            "{err}"
        );
        let der = pem::decode(PLATFORM_CERT).unwrap().der;
        for cut in [0, 1, 10, der.len() / 2, der.len() - 1] {
            assert!(
                PlatformCertificate::from_der(&der[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        assert!(PlatformCertificate::from_pem(include_str!(
            "../../tests/vectors/v7_wechatpay_public_key.pem"
        ))
        .is_err());
    }
}
