//! The widget's only network peer: the merchant's Worker, over the widget API.

use js_sys::Promise;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, RequestMode, Response};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MountOptions {
    pub session: String,
    pub client_secret: String,
    /// The Worker's origin; defaults to the page's own.
    #[serde(default)]
    pub api_base: Option<String>,
}

#[derive(Deserialize)]
pub struct SessionView {
    pub id: String,
    pub amount_display: String,
    pub description: String,
    pub status: String,
    pub expires_at: i64,
    pub server_time: i64,
}

#[derive(Deserialize)]
pub struct PayAnswer {
    pub code_url: String,
    #[serde(default)]
    pub sandbox_cashier_url: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

pub struct Api {
    base: String,
    options: MountOptions,
}

fn describe(e: JsValue) -> String {
    e.as_string()
        .unwrap_or_else(|| "the network request failed".into())
}

impl Api {
    pub fn new(options: MountOptions) -> Self {
        let base = options
            .api_base
            .clone()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string();
        Api { base, options }
    }

    pub async fn session(&self) -> Result<SessionView, String> {
        self.call("GET", "", None).await
    }

    pub async fn pay(&self, scene: &str) -> Result<PayAnswer, String> {
        self.call("POST", "/pay", Some(format!("{{\"scene\":\"{scene}\"}}")))
            .await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        suffix: &str,
        body: Option<String>,
    ) -> Result<T, String> {
        let url = format!(
            "{}/v1/widget/sessions/{}{suffix}",
            self.base, self.options.session
        );
        let headers = Headers::new().map_err(describe)?;
        headers
            .set(
                "Authorization",
                &format!("Bearer {}", self.options.client_secret),
            )
            .map_err(describe)?;
        let init = RequestInit::new();
        init.set_method(method);
        init.set_mode(RequestMode::Cors);
        if let Some(body) = body {
            headers
                .set("Content-Type", "application/json")
                .map_err(describe)?;
            init.set_body(&JsValue::from_str(&body));
        }
        init.set_headers(&headers);
        let request = Request::new_with_str_and_init(&url, &init).map_err(describe)?;
        let window = web_sys::window().ok_or("no window")?;
        let response: Response = JsFuture::from(window.fetch_with_request(&request))
            .await
            .map_err(describe)?
            .unchecked_into();
        let json = JsFuture::from(response.json().map_err(describe)?)
            .await
            .map_err(describe)?;
        if !response.ok() {
            let err: ErrorAnswer = serde_wasm_bindgen::from_value(json)
                .map_err(|_| format!("HTTP {}", response.status()))?;
            return Err(err.error.message);
        }
        serde_wasm_bindgen::from_value(json).map_err(|e| e.to_string())
    }
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}
