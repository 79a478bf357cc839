//! Reading requests and writing plain answers: bodies with a size limit, JSON, the method as
//! sent, bearer credentials, query strings, cookies, redirects.

use serde::de::DeserializeOwned;
use worker::{Method, Request, Response};
use worker_kit::url::Url;

use crate::error::{ApiError, ApiResult, BadInput};

/// Request bodies above this are refused before they are read into memory.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn json<T: serde::Serialize>(status: u16, body: &T) -> Response {
    worker_kit::json::answer(status, body)
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
    if !is_json(&content_type) {
        return Err(ApiError::invalid(
            BadInput::UnsupportedMediaType,
            "send Content-Type: application/json",
        ));
    }
    Ok(())
}

fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .map(str::trim)
        .is_some_and(|t| t.eq_ignore_ascii_case("application/json"))
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
        .as_deref()
        .and_then(bearer_token)
        .ok_or(ApiError::Unauthorized)
}

fn bearer_token(header: &str) -> Option<String> {
    header
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The request's URL (the runtime's parser: see worker_kit::url).
pub fn url(req: &Request) -> ApiResult<Url> {
    Url::of(req).map_err(ApiError::Internal)
}

/// The request's path, percent-encoded as sent.
pub fn path(req: &Request) -> ApiResult<String> {
    Ok(url(req)?.path())
}

/// The query string's pairs, decoded, in order.
pub fn query(req: &Request) -> ApiResult<Vec<(String, String)>> {
    Ok(url(req)?.query_pairs())
}

/// The first value of query parameter `name`, decoded.
pub fn query_value(req: &Request, name: &str) -> ApiResult<Option<String>> {
    Ok(query(req)?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v))
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    cookie_in(&req.headers().get("Cookie").ok().flatten()?, name)
}

fn cookie_in(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// A cookie's attributes: HttpOnly on `path`, and `Secure` everywhere but on this machine,
/// where there is no TLS.
pub fn cookie_attributes(req: &Request, path: &str, same_site: &str) -> String {
    let local = url(req)
        .map(|u| u.host_name())
        .is_ok_and(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]");
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

/// The request's own origin (`https://host`), as the browser names it.
pub fn own_origin(req: &Request) -> ApiResult<String> {
    Ok(url(req)?.origin())
}

#[cfg(test)]
mod tests {
    use super::{bearer_token, cookie_in, is_json};

    #[test]
    fn json_is_recognised_with_parameters_and_any_case() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/json-seq"));
        assert!(!is_json(""));
    }

    #[test]
    fn bearer_tokens_need_the_scheme_and_a_value() {
        assert_eq!(bearer_token("Bearer sk_1").as_deref(), Some("sk_1"));
        assert_eq!(bearer_token("Bearer  sk_1 ").as_deref(), Some("sk_1"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("bearer sk_1"), None);
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "a=1; wxc_console=tok; wxc_console_x=no";
        assert_eq!(cookie_in(header, "wxc_console").as_deref(), Some("tok"));
        assert_eq!(cookie_in(header, "wxc"), None);
        assert_eq!(cookie_in("broken", "broken"), None);
    }
}
