//! Every outgoing call has a deadline: an answer that does not come is an unknown outcome the
//! caller settles later (a query, a retry), never a request left hanging for the runtime's.

use worker::{AbortSignal, Fetch, Headers, Method, Request, RequestInit, Response};

/// Why a call got no answer.
#[derive(Debug)]
pub enum FetchError {
    /// Nothing came back within the deadline.
    TimedOut { after_ms: u32 },
    /// The connection failed, or the request could not be made.
    Network(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::TimedOut { after_ms } => write!(f, "no answer within {after_ms} ms"),
            FetchError::Network(e) => write!(f, "{e}"),
        }
    }
}

/// One outgoing request: its method, URL, headers and (for anything but GET) body.
pub struct Outgoing<'a> {
    pub method: Method,
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Sends `out`, waiting at most `timeout_ms` for the answer's head.
pub async fn send(out: Outgoing<'_>, timeout_ms: u32) -> Result<Response, FetchError> {
    let network = |e: worker::Error| FetchError::Network(e.to_string());
    let headers = Headers::new();
    for (name, value) in out.headers {
        headers.set(name, value).map_err(network)?;
    }
    let mut init = RequestInit::new();
    init.with_method(out.method.clone()).with_headers(headers);
    if out.method != Method::Get {
        init.with_body(Some(worker::js_sys::Uint8Array::from(out.body).into()));
    }
    let request = Request::new_with_init(out.url, &init).map_err(network)?;
    let signal = AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(timeout_ms));
    match Fetch::Request(request).send_with_signal(&signal).await {
        Ok(response) => Ok(response),
        Err(_) if signal.aborted() => Err(FetchError::TimedOut {
            after_ms: timeout_ms,
        }),
        Err(e) => Err(network(e)),
    }
}
