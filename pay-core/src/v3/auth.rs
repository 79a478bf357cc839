//! The merchant's side of API v3 request signing, and its parsing (the simulator checks it).
//!
//! The signed message is five lines, each ending in `\n`, the last one too:
//! `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n` (an empty body still ends in `\n`).

use base64::Engine;

use super::{MAX_CLOCK_SKEW_SECS, SIGNATURE_SCHEME};
use crate::crypto::{RsaPublicKey, RsaSigner, RsaVerifier};
use crate::{Error, UnixTime};

/// One outgoing request, exactly as it goes on the wire.
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    pub method: &'a str,
    /// The path with its query string, no scheme or host: `/v3/pay/transactions/out-trade-no/1?mchid=2`.
    pub path_and_query: &'a str,
    pub timestamp: UnixTime,
    pub nonce: &'a str,
    /// The exact bytes that will be sent; empty for GET.
    pub body: &'a [u8],
}

impl RequestToSign<'_> {
    pub fn message(&self) -> Vec<u8> {
        let mut m = format!(
            "{}\n{}\n{}\n{}\n",
            self.method,
            self.path_and_query,
            self.timestamp.secs(),
            self.nonce
        )
        .into_bytes();
        m.extend_from_slice(self.body);
        m.push(b'\n');
        m
    }
}

/// The fields of an `Authorization: WECHATPAY2-SHA256-RSA2048 …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    pub mchid: String,
    pub nonce_str: String,
    pub timestamp: UnixTime,
    /// The merchant certificate's serial number (not the platform's).
    pub serial_no: String,
    pub signature: String,
}

impl AuthorizationHeader {
    /// Signs `request` for merchant `mchid` whose API certificate has serial `serial_no`.
    pub async fn sign<S: RsaSigner>(
        signer: &S,
        mchid: &str,
        serial_no: &str,
        request: RequestToSign<'_>,
    ) -> Result<Self, Error> {
        let signature = signer.sign_sha256(&request.message()).await?;
        Ok(AuthorizationHeader {
            mchid: mchid.to_string(),
            nonce_str: request.nonce.to_string(),
            timestamp: request.timestamp,
            serial_no: serial_no.to_string(),
            signature: base64::engine::general_purpose::STANDARD.encode(signature),
        })
    }

    /// Checks this header against the request it came with (the platform's side): the
    /// timestamp within 5 minutes of `now`, then the signature under the merchant's key.
    pub async fn verify<V: RsaVerifier>(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        merchant_key: &RsaPublicKey,
        now: UnixTime,
        verifier: &V,
    ) -> Result<(), Error> {
        let offset_secs = self.timestamp.secs().saturating_sub(now.secs());
        if offset_secs.unsigned_abs() >= MAX_CLOCK_SKEW_SECS as u64 {
            return Err(Error::ClockSkew { offset_secs });
        }
        let request = RequestToSign {
            method,
            path_and_query,
            timestamp: self.timestamp,
            nonce: &self.nonce_str,
            body,
        };
        let signature = base64::engine::general_purpose::STANDARD
            .decode(&self.signature)
            .map_err(|_| Error::BadSignature)?;
        if verifier
            .verify_sha256(merchant_key, &request.message(), &signature)
            .await?
        {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }

    /// The header value.
    pub fn to_header_value(&self) -> String {
        format!(
            "{SIGNATURE_SCHEME} mchid=\"{}\",nonce_str=\"{}\",timestamp=\"{}\",serial_no=\"{}\",signature=\"{}\"",
            self.mchid,
            self.nonce_str,
            self.timestamp.secs(),
            self.serial_no,
            self.signature
        )
    }

    /// Parses a header value; every field must be present exactly once.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::Malformed {
            what: "Authorization header",
            reason,
        };
        let rest = value
            .strip_prefix(SIGNATURE_SCHEME)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or_else(|| bad(format!("must start with {SIGNATURE_SCHEME} and a space")))?;
        let (mut mchid, mut nonce, mut ts, mut serial, mut sig) = (None, None, None, None, None);
        for part in rest.split(',') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| bad(format!("{part:?} is not key=\"value\"")))?;
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| bad(format!("the value of {k} must be quoted")))?
                .to_string();
            let slot = match k {
                "mchid" => &mut mchid,
                "nonce_str" => &mut nonce,
                "timestamp" => &mut ts,
                "serial_no" => &mut serial,
                "signature" => &mut sig,
                other => return Err(bad(format!("unknown field {other:?}"))),
            };
            if slot.replace(v).is_some() {
                return Err(bad(format!("{k} appears twice")));
            }
        }
        let need = |v: Option<String>, k: &str| v.ok_or_else(|| bad(format!("{k} is missing")));
        let ts = need(ts, "timestamp")?;
        Ok(AuthorizationHeader {
            mchid: need(mchid, "mchid")?,
            nonce_str: need(nonce, "nonce_str")?,
            timestamp: UnixTime(
                ts.parse()
                    .map_err(|_| bad(format!("timestamp {ts:?} is not whole seconds")))?,
            ),
            serial_no: need(serial, "serial_no")?,
            signature: need(sig, "signature")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rustcrypto::RustCryptoSigner;
    use crate::crypto::test_keys::OFFICIAL_MERCHANT_KEY;
    use crate::crypto::RsaPrivateKeyDer;

    fn official_signer() -> RustCryptoSigner {
        RustCryptoSigner::new(&RsaPrivateKeyDer::from_pem(OFFICIAL_MERCHANT_KEY).unwrap()).unwrap()
    }

    fn block_on<F: core::future::Future>(f: F) -> F::Output {
        crate::test_support::block_on(f)
    }

    /// Vector V4: a GET with an empty body.
    fn v4_request() -> RequestToSign<'static> {
        RequestToSign {
            method: "GET",
            path_and_query: "/v3/refund/domestic/refunds/123123123123",
            timestamp: UnixTime(1554208460),
            nonce: "593BEC0C930BF1AFEB40B4A08C8FB242",
            body: b"",
        }
    }

    #[test]
    fn v3_official_post_vector() {
        let body = include_str!("../../tests/vectors/v3_body.json");
        let request = RequestToSign {
            method: "POST",
            path_and_query: "/v3/pay/transactions/jsapi",
            timestamp: UnixTime(1554208460),
            nonce: "593BEC0C930BF1AFEB40B4A08C8FB242",
            body: body.as_bytes(),
        };
        let header = block_on(AuthorizationHeader::sign(
            &official_signer(),
            "1900007291",
            "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",
            request,
        ))
        .unwrap();
        assert_eq!(
            header.signature,
            include_str!("../../tests/vectors/v3_signature.txt").trim()
        );
        let value = header.to_header_value();
        assert!(value.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900007291\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",timestamp=\"1554208460\",serial_no=\"408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB\",signature=\""));
        assert_eq!(AuthorizationHeader::parse(&value).unwrap(), header);
    }

    #[test]
    fn a_pkcs1_key_signs_exactly_like_its_pkcs8_form() {
        let pkcs1 = include_str!("../../tests/vectors/official_merchant_key_pkcs1.pem");
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let der = RsaPrivateKeyDer::from_pem(pkcs1).unwrap();
        assert_eq!(
            der.pkcs8_der(),
            RsaPrivateKeyDer::from_pem(OFFICIAL_MERCHANT_KEY)
                .unwrap()
                .pkcs8_der()
        );
        let request = v4_request();
        let signer = RustCryptoSigner::new(&der).unwrap();
        let header = block_on(AuthorizationHeader::sign(&signer, "1", "S", request)).unwrap();
        assert_eq!(
            header.signature,
            include_str!("../../tests/vectors/v4_signature.txt").trim()
        );
    }

    #[test]
    fn v4_get_with_empty_body_ends_in_two_newlines() {
        let request = v4_request();
        assert!(request
            .message()
            .ends_with(b"593BEC0C930BF1AFEB40B4A08C8FB242\n\n"));
        let header = block_on(AuthorizationHeader::sign(
            &official_signer(),
            "1",
            "S",
            request,
        ))
        .unwrap();
        assert_eq!(
            header.signature,
            include_str!("../../tests/vectors/v4_signature.txt").trim()
        );
    }

    #[test]
    fn the_platform_side_verifies_what_the_merchant_signed() {
        use crate::crypto::rustcrypto::RustCryptoVerifier;
        let key = crate::test_support::official_public_key();
        let body = "{\"description\":\"茶\"}".as_bytes();
        let request = RequestToSign {
            method: "POST",
            path_and_query: "/v3/pay/transactions/native",
            timestamp: UnixTime(1000),
            nonce: "n",
            body,
        };
        let header = block_on(AuthorizationHeader::sign(
            &official_signer(),
            "1",
            "S",
            request,
        ))
        .unwrap();
        let verify = |method, path, body: &[u8], now| {
            block_on(header.verify(method, path, body, &key, UnixTime(now), &RustCryptoVerifier))
        };
        assert_eq!(
            verify("POST", "/v3/pay/transactions/native", body, 1000),
            Ok(())
        );
        assert_eq!(
            verify("GET", "/v3/pay/transactions/native", body, 1000),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify("POST", "/v3/pay/transactions/jsapi", body, 1000),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify("POST", "/v3/pay/transactions/native", b"{}", 1000),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify("POST", "/v3/pay/transactions/native", body, 1300),
            Err(Error::ClockSkew { offset_secs: -300 })
        );
    }

    #[test]
    fn parse_refuses_malformed_headers() {
        for bad in [
            "",
            "Bearer x",
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1\"",
            "WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str=\"n\",timestamp=\"1\",serial_no=\"s\",signature=\"x\"",
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1\",mchid=\"1\",nonce_str=\"n\",timestamp=\"1\",serial_no=\"s\",signature=\"x\"",
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"n\",timestamp=\"1.5\",serial_no=\"s\",signature=\"x\"",
        ] {
            assert!(AuthorizationHeader::parse(bad).is_err(), "{bad}");
        }
    }
}
