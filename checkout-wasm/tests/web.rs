//! The widget's rendering in a real headless Chromium (wasm-bindgen-test + chromedriver).
#![cfg(target_arch = "wasm32")]

use checkout_wasm::view::View;
use checkout_wasm::{qr, render};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

fn root() -> HtmlElement {
    let doc = web_sys::window().unwrap().document().unwrap();
    let el = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&el).unwrap();
    el.unchecked_into()
}

#[wasm_bindgen_test]
fn scan_state_draws_an_accessible_qr_code() {
    let el = root();
    let svg = qr::qr_svg(
        "weixin://wxpay/bizpayurl?pr=abc123",
        "WeChat Pay QR code for ¥19.99",
    )
    .unwrap();
    let view = View::Scan {
        amount: "¥19.99".into(),
        description: "Tea".into(),
        qr_svg: svg,
        sandbox_link: None,
    };
    render(&el, &view);
    assert_eq!(el.get_attribute("data-state").as_deref(), Some("scan"));
    assert_eq!(el.get_attribute("aria-live").as_deref(), Some("polite"));
    let svg = el
        .query_selector("svg[role=img]")
        .unwrap()
        .expect("an svg QR code");
    assert_eq!(
        svg.get_attribute("aria-label").as_deref(),
        Some("WeChat Pay QR code for ¥19.99")
    );
    // The browser parsed the path: the QR code has a real rendered size.
    let rect = svg.get_bounding_client_rect();
    assert!(rect.width() > 0.0, "width {}", rect.width());
    assert!(el.query_selector("a.wx-cashier").unwrap().is_none());
}

#[wasm_bindgen_test]
fn paid_state_replaces_the_code() {
    let el = root();
    render(
        &el,
        &View::Paid {
            amount: "¥19.99".into(),
        },
    );
    assert_eq!(el.get_attribute("data-state").as_deref(), Some("paid"));
    assert!(el.query_selector("svg").unwrap().is_none());
    assert!(el.text_content().unwrap().contains("Paid"));
}

#[wasm_bindgen_test]
fn mount_refuses_options_without_a_session() {
    let el = root();
    let options = js_sys::Object::new();
    assert!(checkout_wasm::mount(el, options.into()).is_err());
}
