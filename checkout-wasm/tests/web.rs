//! The widget in a real headless Chromium (wasm-bindgen-test + chromedriver): its views parsed
//! by the browser, its options checked, its error path and its teardown.
#![cfg(target_arch = "wasm32")]

use checkout_wasm::model::Locale;
use checkout_wasm::qr;
use checkout_wasm::view::{Frame, View};
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

fn root() -> HtmlElement {
    let doc = web_sys::window().unwrap().document().unwrap();
    let el = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&el).unwrap();
    el.unchecked_into()
}

fn options(pairs: &[(&str, &str)]) -> JsValue {
    let options = Object::new();
    for (k, v) in pairs {
        Reflect::set(&options, &(*k).into(), &(*v).into()).unwrap();
    }
    options.into()
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
fn scan_view_draws_an_accessible_qr_code() {
    let el = root();
    let svg = qr::qr_svg(
        "weixin://wxpay/bizpayurl?pr=abc123",
        "WeChat Pay QR code for ¥19.99",
    )
    .unwrap();
    let frame = Frame {
        locale: Locale::En,
        amount_fen: Some(1999),
        description: "Tea",
        remaining_secs: Some(600),
    };
    let view = View::Scan {
        qr_svg: svg,
        sandbox_link: None,
        notice: None,
    };
    el.set_inner_html(&view.html(&frame));
    let svg = el
        .query_selector("svg[role=img]")
        .unwrap()
        .expect("an svg QR code");
    assert_eq!(
        svg.get_attribute("aria-label").as_deref(),
        Some("WeChat Pay QR code for ¥19.99")
    );
    // The browser parsed the path: the QR code has a real rendered size.
    assert!(svg.get_bounding_client_rect().width() > 0.0);
    assert!(el.query_selector("a.wx-cashier").unwrap().is_none());
    let buttons = el.query_selector_all("button[data-action]").unwrap();
    assert_eq!(buttons.length(), 2, "I have paid, Cancel");
    assert_eq!(
        el.query_selector(".wx-timer")
            .unwrap()
            .unwrap()
            .text_content()
            .as_deref(),
        Some("10:00")
    );
}

#[wasm_bindgen_test]
fn mount_refuses_bad_options() {
    assert!(checkout_wasm::mount(root(), &options(&[("clientSecret", "x")])).is_err());
    assert!(checkout_wasm::mount(root(), &options(&[("session", "cs_1")])).is_err());
    assert!(checkout_wasm::mount(
        root(),
        &options(&[("session", "cs_1"), ("clientSecret", "x"), ("scene", "app")])
    )
    .is_err());
}

#[wasm_bindgen_test]
async fn an_unreachable_worker_is_an_error_and_destroy_leaves_nothing() {
    let el = root();
    let errors = js_sys::Array::new();
    let seen = errors.clone();
    let listener = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::CustomEvent)>::new(
        move |e: web_sys::CustomEvent| {
            seen.push(&e.detail());
        },
    );
    el.add_event_listener_with_callback("wx-error", listener.as_ref().unchecked_ref())
        .unwrap();
    // Port 9 (discard) on loopback: nothing listens, the fetch fails at once.
    let widget = checkout_wasm::mount(
        el.clone(),
        &options(&[
            ("session", "cs_1"),
            ("clientSecret", "x"),
            ("apiBase", "http://127.0.0.1:9"),
            ("locale", "zh-CN"),
        ]),
    )
    .unwrap();
    for _ in 0..50 {
        if el.get_attribute("data-state").as_deref() == Some("error") {
            break;
        }
        sleep(100).await;
    }
    assert_eq!(el.get_attribute("data-state").as_deref(), Some("error"));
    assert!(el.text_content().unwrap().contains("无法显示此订单"));
    assert_eq!(errors.length(), 1);
    let code = Reflect::get(&errors.get(0), &"code".into()).unwrap();
    assert_eq!(code.as_string().as_deref(), Some("network"));
    // The live region announced it.
    let live = el
        .query_selector(".wx-live[aria-live=polite]")
        .unwrap()
        .unwrap();
    assert!(live.text_content().unwrap().starts_with("无法显示此订单"));
    widget.destroy();
    assert_eq!(el.inner_html(), "");
    assert!(el.get_attribute("data-state").is_none());
}
