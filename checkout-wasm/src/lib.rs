//! The checkout widget: `mount(element, options)` renders a checkout session into `element`
//! and takes the payment in the scene that fits the browser (JSAPI inside WeChat, H5 in other
//! mobile browsers, a Native QR code on desktop). It talks only to the merchant's Worker, and
//! only the Worker's status says "paid". `web/checkout.js` loads it and adds the
//! `<wx-checkout>` element and callbacks; this crate does the rest.

mod api;
pub mod i18n;
pub mod model;
pub mod qr;
pub mod view;
mod widget;

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

use crate::api::{text_field, Api};
use crate::model::{Locale, Scene};
use crate::widget::{Options, Widget};

// Talc instead of dlmalloc: a few kilobytes less for every payer to download.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// A mounted widget.
#[wasm_bindgen]
pub struct Checkout(Rc<Widget>);

#[wasm_bindgen]
impl Checkout {
    /// Asks the server now whether the session was paid (what "I have paid" does).
    pub fn check(&self) {
        self.0.check_now();
    }

    /// Reads the session now (the loader calls it when the Worker announces a change).
    pub fn refresh(&self) {
        self.0.refresh();
    }

    /// Stops every timer, listener and request, and empties the element.
    pub fn destroy(&self) {
        self.0.destroy();
    }
}

/// Mounts the widget into `element`. `options`: `session` and `clientSecret` (required),
/// `apiBase` (the Worker's origin), `scene` (`native` | `h5` | `jsapi` to force one),
/// `locale` (`zh-CN` | `en`; default from `navigator.language`), `returnUrl` (where WeChat
/// sends the payer back; default this page). Progress is announced as `wx-*` DOM events on
/// `element` and as its `data-state` attribute.
#[wasm_bindgen]
pub fn mount(element: HtmlElement, options: &JsValue) -> Result<Checkout, JsError> {
    let required = |key: &str| {
        text_field(options, key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| JsError::new(&format!("wx-checkout: options.{key} is required")))
    };
    let session = required("session")?;
    let client_secret = required("clientSecret")?;
    let forced_scene = match text_field(options, "scene").as_deref() {
        None | Some("" | "auto") => None,
        Some(name) => Some(Scene::parse(name).ok_or_else(|| {
            JsError::new("wx-checkout: options.scene must be auto, native, h5 or jsapi")
        })?),
    };
    let locale = text_field(options, "locale")
        .or_else(|| web_sys::window().and_then(|w| w.navigator().language()))
        .map_or(Locale::En, |tag| Locale::from_tag(&tag));
    let api_base = text_field(options, "apiBase").unwrap_or_default();
    let api = Api::new(&api_base, session, client_secret)
        .map_err(|_| JsError::new("wx-checkout: no AbortController"))?;
    let return_url = text_field(options, "returnUrl").filter(|v| !v.is_empty());
    let widget = Widget::mount(
        element,
        Options {
            api,
            locale,
            forced_scene,
            return_url,
        },
    )
    .map_err(|_| JsError::new("wx-checkout: the element could not be prepared"))?;
    Ok(Checkout(widget))
}
