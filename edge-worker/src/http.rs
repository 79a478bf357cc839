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

/// Reads the raw body, refusing anything over [`MAX_BODY_BYTES`] (by header, then by size).
pub async fn body_bytes(req: &mut Request) -> ApiResult<Vec<u8>> {
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
    let bytes = req.bytes().await?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
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
