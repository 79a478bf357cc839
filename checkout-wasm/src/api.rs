//! The widget's only network peer: the merchant's Worker, over the widget API. Answers are
//! read with the browser's own JSON parser and checked field by field (no serde: it would
//! double the widget's size for five small objects).

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestInit, Response};

use crate::model::{encode_uri_component, Scene, Session, Status};

/// Why a call did not give an answer: the Worker's stable error code and message, or
/// `network` / `bad_answer` when it could not be reached or understood.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

impl Failure {
    pub fn new(code: &str, message: &str) -> Failure {
        Failure {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// `value[key]`, or undefined.
pub fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub fn text_field(value: &JsValue, key: &str) -> Option<String> {
    field(value, key).as_string()
}

pub struct Api {
    base: String,
    session_id: String,
    client_secret: String,
    /// Aborts whatever is in flight when the widget is torn down.
    abort: AbortController,
}

impl Api {
    pub fn new(base: &str, session_id: String, client_secret: String) -> Result<Api, JsValue> {
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            session_id,
            client_secret,
            abort: AbortController::new()?,
        })
    }

    fn session_url(&self, suffix: &str) -> String {
        let mut url = self.base.clone();
        url.push_str("/v1/widget/sessions/");
        url.push_str(&encode_uri_component(&self.session_id));
        url.push_str(suffix);
        url
    }

    /// The session as it is now.
    pub async fn session(&self) -> Result<Session, Failure> {
        read_session(&self.call("GET", "", None).await?)
    }

    /// The session after the Worker asked WeChat Pay about it (the "I have paid" path).
    pub async fn check(&self) -> Result<Session, Failure> {
        read_session(&self.call("POST", "/check", Some("{}")).await?)
    }

    /// The scene's prepay: `{scene, code_url}`, `{scene, h5_url}` or `{scene, jsapi}`.
    pub async fn pay(&self, scene: Scene) -> Result<JsValue, Failure> {
        let body = match scene {
            Scene::Native => "{\"scene\":\"native\"}",
            Scene::H5 => "{\"scene\":\"h5\"}",
            Scene::Jsapi => "{\"scene\":\"jsapi\"}",
        };
        self.call("POST", "/pay", Some(body)).await
    }

    /// WeChat OAuth's start: `{url}`, a one-time link on the Worker where the payer goes (a
    /// top-level navigation) and comes back to `return_to` from. The client secret stays in
    /// the header; it never travels in a URL.
    pub async fn oauth(&self, return_to: &str) -> Result<JsValue, Failure> {
        let quoted = js_sys::JSON::stringify(&JsValue::from_str(return_to))
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default();
        let body = format!("{{\"return_to\":{quoted}}}");
        self.call("POST", "/oauth", Some(&body)).await
    }

    pub fn abort(&self) {
        self.abort.abort();
    }

    async fn call(
        &self,
        method: &str,
        suffix: &str,
        body: Option<&str>,
    ) -> Result<JsValue, Failure> {
        let network = |_| Failure::new("network", "the Worker could not be reached");
        let headers = Headers::new().map_err(network)?;
        let mut bearer = String::from("Bearer ");
        bearer.push_str(&self.client_secret);
        headers.set("Authorization", &bearer).map_err(network)?;
        let init = RequestInit::new();
        init.set_method(method);
        if let Some(body) = body {
            headers
                .set("Content-Type", "application/json")
                .map_err(network)?;
            init.set_body(&JsValue::from_str(body));
        }
        init.set_headers(&headers);
        init.set_signal(Some(&self.abort.signal()));
        let window = web_sys::window().ok_or_else(|| Failure::new("network", "no window"))?;
        let response: Response =
            JsFuture::from(window.fetch_with_str_and_init(&self.session_url(suffix), &init))
                .await
                .map_err(network)?
                .unchecked_into();
        let bad = |_| Failure::new("bad_answer", "the Worker's answer was not JSON");
        let json = JsFuture::from(response.json().map_err(bad)?)
            .await
            .map_err(bad)?;
        if response.ok() {
            return Ok(json);
        }
        let error = field(&json, "error");
        Err(Failure {
            code: text_field(&error, "code").unwrap_or_else(|| "http_error".into()),
            message: text_field(&error, "message").unwrap_or_else(|| "the request failed".into()),
        })
    }
}

fn read_session(value: &JsValue) -> Result<Session, Failure> {
    let number = |key| field(value, key).as_f64().map(|n| n as i64);
    let status = text_field(value, "status").and_then(|s| Status::parse(&s).ok());
    let session = (|| {
        Some(Session {
            id: text_field(value, "id")?,
            amount_fen: number("amount_fen")?,
            description: text_field(value, "description")?,
            status: status?,
            scene: text_field(value, "scene").and_then(|s| Scene::parse(&s)),
            payer_known: field(value, "payer_known").as_bool()?,
            expires_at: number("expires_at")?,
            server_time: number("server_time")?,
            return_url: text_field(value, "return_url"),
        })
    })();
    session.ok_or_else(|| Failure::new("bad_answer", "the Worker's answer lacks session fields"))
}
