//! The checkout widget. `mount(element, {session, clientSecret, apiBase?})` renders a checkout
//! session into `element`: it asks the merchant's Worker for a Native prepay, draws `code_url`
//! as a QR code, and polls the Worker until the session is paid. The payer's browser never
//! decides the result: only the Worker's status says "paid".

mod api;
pub mod qr;
pub mod view;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{CustomEvent, CustomEventInit, HtmlElement};

use crate::api::{Api, MountOptions};
use crate::view::View;

/// Polling starts at this interval and backs off to the maximum.
const POLL_FIRST_MS: i32 = 1000;
const POLL_MAX_MS: i32 = 5000;

/// Mounts the widget into `element`. Progress is announced as DOM events on `element`:
/// `wx-ready`, `wx-paid` and `wx-error` (with `detail`), and as its `data-state` attribute.
#[wasm_bindgen]
pub fn mount(element: HtmlElement, options: JsValue) -> Result<(), JsValue> {
    let options: MountOptions = serde_wasm_bindgen::from_value(options)?;
    spawn_local(async move {
        render(&element, &View::Loading);
        if let Err(message) = run(&element, Api::new(options)).await {
            emit(&element, "wx-error", &JsValue::from_str(&message));
            render(&element, &View::Error { message });
        }
    });
    Ok(())
}

/// Writes `view` into the widget's root and exposes its state for styling and tests.
pub fn render(root: &HtmlElement, view: &View) {
    root.set_inner_html(&view.html());
    let _ = root.set_attribute("data-state", view.state());
    let _ = root.set_attribute("aria-live", "polite");
}

fn emit(root: &HtmlElement, name: &str, detail: &JsValue) {
    let init = CustomEventInit::new();
    init.set_bubbles(true);
    init.set_detail(detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
        let _ = root.dispatch_event(&event);
    }
}

async fn run(root: &HtmlElement, api: Api) -> Result<(), String> {
    let session = api.session().await?;
    emit(root, "wx-ready", &JsValue::from_str(&session.id));
    match session.status.as_str() {
        "paid" => return paid(root, &session.amount_display),
        "closed" => {
            render(root, &View::Closed);
            return Ok(());
        }
        _ => {}
    }
    let pay = api.pay("native").await?;
    let label = format!("WeChat Pay QR code for {}", session.amount_display);
    let qr_svg = qr::qr_svg(&pay.code_url, &label).ok_or("the payment code could not be drawn")?;
    render(
        root,
        &View::Scan {
            amount: session.amount_display.clone(),
            description: session.description.clone(),
            qr_svg,
            sandbox_link: pay.sandbox_cashier_url,
        },
    );
    let mut interval = POLL_FIRST_MS;
    loop {
        api::sleep(interval).await;
        interval = (interval * 3 / 2).min(POLL_MAX_MS);
        // A failed poll is retried: the network of a phone comes and goes.
        let Ok(now) = api.session().await else {
            continue;
        };
        match now.status.as_str() {
            "paid" => return paid(root, &now.amount_display),
            "closed" => {
                render(root, &View::Closed);
                return Ok(());
            }
            _ if now.server_time >= now.expires_at => {
                render(root, &View::Closed);
                return Ok(());
            }
            _ => {}
        }
    }
}

fn paid(root: &HtmlElement, amount: &str) -> Result<(), String> {
    render(
        root,
        &View::Paid {
            amount: amount.to_string(),
        },
    );
    emit(root, "wx-paid", &JsValue::from_str(amount));
    Ok(())
}
