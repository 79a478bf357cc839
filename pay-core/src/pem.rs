//! PEM armour to DER bytes, for keys handed to the crypto backends.

use base64::Engine;

use crate::Error;

/// What a PEM block holds, by its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pem {
    pub label: String,
    pub der: Vec<u8>,
}

/// Decodes the first PEM block in `text`. Literal `\n` escapes (as a key pasted into a
/// one-line environment variable often carries) are accepted as newlines.
pub fn decode(text: &str) -> Result<Pem, Error> {
    let text = text.replace("\\n", "\n");
    let bad = |reason: &str| Error::Key {
        reason: reason.to_string(),
    };
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| bad("no -----BEGIN line: expected a PEM key"))?;
    let after_begin = &text[start + 11..];
    let label_end = after_begin
        .find("-----")
        .ok_or_else(|| bad("unterminated BEGIN line"))?;
    let label = after_begin[..label_end].to_string();
    let body_and_rest = &after_begin[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body_and_rest
        .find(&end_marker)
        .ok_or_else(|| bad("no matching -----END line"))?;
    let body: String = body_and_rest[..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| bad(&format!("PEM body is not base64: {e}")))?;
    Ok(Pem { label, der })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_with_real_or_escaped_newlines() {
        let pem = "-----BEGIN PUBLIC KEY-----\nAAEC\nAw==\n-----END PUBLIC KEY-----\n";
        let want = Pem {
            label: "PUBLIC KEY".into(),
            der: vec![0, 1, 2, 3],
        };
        assert_eq!(decode(pem), Ok(want.clone()));
        assert_eq!(decode(&pem.replace('\n', "\\n")), Ok(want));
    }

    #[test]
    fn refuses_garbage() {
        assert!(decode("not a key").is_err());
        assert!(decode("-----BEGIN X-----\nAA==\n-----END Y-----").is_err());
        assert!(decode("-----BEGIN X-----\n!!\n-----END X-----").is_err());
    }
}
