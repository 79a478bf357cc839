//! QR codes as inline SVG: one path of unit squares, crisp at any size, no images or fonts.

use qrcodegen::{QrCode, QrCodeEcc};

/// Modules of quiet zone around the code, as the QR specification asks.
const QUIET_ZONE: i32 = 4;

/// An accessible SVG of `text` as a QR code, labelled with `label`. `None` if `text` is too
/// long to encode (a `code_url` is far below the limit).
pub fn qr_svg(text: &str, label: &str) -> Option<String> {
    let qr = QrCode::encode_binary(text.as_bytes(), QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let mut path = String::with_capacity((size * size) as usize * 8);
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + QUIET_ZONE, y + QUIET_ZONE));
            }
        }
    }
    let dim = size + 2 * QUIET_ZONE;
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" role=\"img\" aria-label=\"{}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{dim}\" height=\"{dim}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>",
        crate::view::escape(label)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_code_url_with_quiet_zone_and_label() {
        let svg = qr_svg("weixin://wxpay/bizpayurl?pr=abc123", "Pay ¥19.99 <now>").unwrap();
        // 36 bytes at ECC level M need version 3 (29 modules), plus 4 of quiet zone each side.
        assert!(svg.contains("viewBox=\"0 0 37 37\""), "{svg}");
        assert!(svg.contains("aria-label=\"Pay ¥19.99 &lt;now&gt;\""));
        // The top-left finder pattern starts at the quiet zone's corner.
        assert!(svg.contains("M4,4h1v1h-1z"));
        assert!(!svg.contains("M3,3h1"));
    }

    #[test]
    fn refuses_what_cannot_be_encoded() {
        assert!(qr_svg(&"x".repeat(5000), "too long").is_none());
    }
}
