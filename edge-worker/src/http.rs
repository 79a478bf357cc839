//! HTTP plumbing shared by the handlers: JSON in and out, bearer credentials, CORS.

use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use worker::{Method, Request, Response};

use crate::config::Config;
use crate::error::{json_response, ApiError, ApiResult};

/// Request bodies above this are refused before they are read into memory.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn json(status: u16, body: &serde_json::Value) -> Response {
    json_response(status, body)
}

pub fn empty(status: u16) -> Response {
    Response::empty()
        .expect("empty response")
        .with_status(status)
}

/// Reads the raw body, refusing anything over [`MAX_BODY_BYTES`]: by its Content-Length, then
/// as it streams in (a body without Content-Length is read chunk by chunk and cut off at the
/// limit, never held whole in memory).
pub async fn body_bytes(req: &mut Request) -> ApiResult<Vec<u8>> {
    use wasm_bindgen::JsCast;
    let too_large = || ApiError::BodyTooLarge {
        limit: MAX_BODY_BYTES,
    };
    if let Some(len) = req
        .headers()
        .get("Content-Length")?
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > MAX_BODY_BYTES {
            return Err(too_large());
        }
    }
    let Some(stream) = req.inner().body() else {
        return Ok(Vec::new());
    };
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let js = |e: wasm_bindgen::JsValue| {
        ApiError::Internal(format!(
            "reading the body: {}",
            e.as_string().unwrap_or_default()
        ))
    };
    let mut body = Vec::new();
    loop {
        let chunk = wasm_bindgen_futures::JsFuture::from(reader.read())
            .await
            .map_err(js)?;
        let field = |name: &str| worker::js_sys::Reflect::get(&chunk, &name.into()).map_err(js);
        if field("done")?.as_bool() != Some(false) {
            return Ok(body);
        }
        let bytes: worker::js_sys::Uint8Array = field("value")?.unchecked_into();
        let start = body.len();
        if start + bytes.length() as usize > MAX_BODY_BYTES {
            // Tell the sender to stop: the rest is never read.
            let _ = reader.cancel();
            return Err(too_large());
        }
        body.resize(start + bytes.length() as usize, 0);
        bytes.copy_to(&mut body[start..]);
    }
}

/// Parses a JSON body into `T`; any failure is a 400 with serde's description.
pub async fn json_body<T: DeserializeOwned>(req: &mut Request) -> ApiResult<T> {
    require_json(req)?;
    Ok(pay_core::requests::from_json(&body_bytes(req).await?)?)
}

pub fn require_json(req: &Request) -> ApiResult<()> {
    let content_type = req.headers().get("Content-Type")?.unwrap_or_default();
    if content_type
        .split(';')
        .next()
        .map(str::trim)
        .map(|t| t.eq_ignore_ascii_case("application/json"))
        != Some(true)
    {
        return Err(ApiError::invalid(
            "unsupported_media_type",
            "send Content-Type: application/json",
        ));
    }
    Ok(())
}

/// The request's method, or `None` for one `worker::Method` does not name: workers-rs reads
/// any unknown method as GET, which would let `QUERY /x` act as `GET /x`.
pub fn method(req: &Request) -> Option<Method> {
    let raw = req.inner().method();
    let method = Method::from(raw.clone());
    (method.as_ref() == raw).then_some(method)
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(req: &Request) -> ApiResult<String> {
    req.headers()
        .get("Authorization")?
        .and_then(|v| v.strip_prefix("Bearer ").map(|t| t.trim().to_string()))
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)
}

/// Constant-time equality, so a wrong key reveals nothing about the right one.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Grants CORS to the Worker's own origin and the configured ones, and to nobody else.
pub fn with_cors(req: &Request, config: &Config, response: Response) -> Response {
    let Some(origin) = req.headers().get("Origin").ok().flatten() else {
        return response;
    };
    let own_origin = req
        .url()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    if origin != own_origin && !config.allowed_origins.contains(&origin) {
        return response;
    }
    let mut response = response;
    let headers = response.headers_mut();
    let _ = headers.set("Access-Control-Allow-Origin", &origin);
    let _ = headers.set("Vary", "Origin");
    let _ = headers.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    let _ = headers.set(
        "Access-Control-Allow-Headers",
        "Authorization, Content-Type",
    );
    let _ = headers.set("Access-Control-Max-Age", "600");
    response
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    let header = req.headers().get("Cookie").ok().flatten()?;
    header.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// A cookie's attributes: HttpOnly on `path`, and `Secure` everywhere but on this machine,
/// where there is no TLS.
pub fn cookie_attributes(req: &Request, path: &str, same_site: &str) -> String {
    let local = req
        .url()
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]");
    let secure = if local { "" } else { "; Secure" };
    format!("; Path={path}; HttpOnly; SameSite={same_site}{secure}")
}

/// A redirect to `location` (302, or 303 after a form), setting `set_cookie` if given. (Built
/// on an empty response: the runtime's own redirects have immutable headers.)
pub fn redirect(status: u16, location: &str, set_cookie: Option<&str>) -> Response {
    let mut response = empty(status);
    let headers = response.headers_mut();
    let _ = headers.set("Location", location);
    if let Some(cookie) = set_cookie {
        let _ = headers.set("Set-Cookie", cookie);
    }
    response
}
