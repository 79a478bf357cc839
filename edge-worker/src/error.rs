//! The edge-worker's one error type, and the one place errors become HTTP responses.
//!
//! Every error answers `{"error": {"code": "...", "message": "..."}}` with a stable code,
//! except on the notification endpoint, where WeChat Pay expects `{"code": "FAIL", "message"}`.
//! Internal details (storage, runtime) are logged, never returned.

use pay_core::checkout::SessionStatus;
use serde_json::json;
use worker::Response;

#[derive(Debug)]
pub enum ApiError {
    /// Missing or wrong credentials for this route.
    Unauthorized,
    NotFound(&'static str),
    /// A known path asked with another method; `allow` lists the methods it takes.
    MethodNotAllowed {
        allow: &'static str,
    },
    /// A body over `http::MAX_BODY_BYTES`, refused before it is parsed.
    BodyTooLarge {
        limit: usize,
    },
    /// The request body or a parameter breaks a rule.
    InvalidRequest {
        code: &'static str,
        message: String,
    },
    /// The session cannot be paid in its current state.
    SessionNotPayable(SessionStatus),
    SessionExpired,
    /// A request refused by a rule about the state it meets (409: idempotency, a paid order, a
    /// used out_trade_no) or about who asks (401: a forged OAuth state; 403: an origin not allowed).
    Refused {
        status: u16,
        code: &'static str,
        message: String,
    },
    /// A rule of the payment domain refused the input (bad signature, mismatch, …).
    Domain(pay_core::Error),
    /// WeChat Pay (or the simulator) answered with an error, or did not answer (502, 504).
    Upstream {
        /// Whether the error answer's signature verified: only a signed answer is WeChat
        /// Pay's word (pay_core::refund).
        signed: bool,
        status: u16,
        code: String,
        message: String,
    },
    /// The deployment is misconfigured; the message names the setting.
    Config(String),
    /// D1, fetch or the runtime failed.
    Internal(String),
}

impl ApiError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> u16 {
        use pay_core::Error as E;
        match self {
            ApiError::Unauthorized => 401,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::BodyTooLarge { .. } => 413,
            ApiError::InvalidRequest { .. } => 400,
            ApiError::SessionNotPayable(_) => 409,
            ApiError::SessionExpired => 410,
            ApiError::Refused { status, .. } => *status,
            ApiError::Domain(e) => match e {
                E::InvalidAmount { .. }
                | E::InvalidField { .. }
                | E::InvalidJson { .. }
                | E::Malformed { .. }
                | E::MissingHeader(_) => 400,
                E::ClockSkew { .. } | E::SignatureProbe | E::UnknownSerial(_) | E::BadSignature => {
                    401
                }
                E::UnsupportedAlgorithm(_) | E::DecryptFailed => 400,
                E::Mismatch { .. } => 422,
                // WeChat Pay's file is damaged: its side, not the request's.
                E::BillHash { .. } => 502,
                E::RateLimited { .. } => 429,
                // A budget frees up in time (429); a ceiling on an amount does not (400).
                E::LimitExceeded {
                    resets_at: Some(_), ..
                } => 429,
                E::LimitExceeded {
                    resets_at: None, ..
                } => 400,
                E::Blocked | E::SceneNotAllowed(_) => 403,
                E::ApiV3KeyLength { .. } | E::Key { .. } | E::Crypto { .. } => 500,
            },
            ApiError::Upstream { .. } => 502,
            ApiError::Config(_) | ApiError::Internal(_) => 500,
        }
    }

    fn code(&self) -> String {
        match self {
            ApiError::Unauthorized => "unauthorized".into(),
            ApiError::NotFound(_) => "not_found".into(),
            ApiError::MethodNotAllowed { .. } => "method_not_allowed".into(),
            ApiError::BodyTooLarge { .. } => "body_too_large".into(),
            ApiError::InvalidRequest { code, .. } => (*code).into(),
            ApiError::SessionNotPayable(_) => "session_not_payable".into(),
            ApiError::SessionExpired => "session_expired".into(),
            ApiError::Refused { code, .. } => (*code).into(),
            ApiError::Domain(e) => e.code().into(),
            ApiError::Upstream { .. } => "wechatpay_error".into(),
            ApiError::Config(_) => "misconfigured".into(),
            ApiError::Internal(_) => "internal".into(),
        }
    }

    fn public_message(&self) -> String {
        match self {
            ApiError::Unauthorized => {
                "missing or wrong credentials: send Authorization: Bearer <key>".into()
            }
            ApiError::NotFound(what) => format!("no such {what}"),
            ApiError::MethodNotAllowed { allow } => format!("this path takes {allow}"),
            ApiError::BodyTooLarge { limit } => {
                format!("request bodies are limited to {limit} bytes")
            }
            ApiError::InvalidRequest { message, .. } => message.clone(),
            ApiError::SessionNotPayable(status) => {
                format!("the session is {} and cannot be paid", status.as_str())
            }
            ApiError::SessionExpired => {
                "the session has expired; ask the merchant for a new one".into()
            }
            ApiError::Refused { message, .. } => message.clone(),
            ApiError::Domain(e) => e.to_string(),
            ApiError::Upstream {
                status,
                code,
                message,
                ..
            } => format!("WeChat Pay answered {status} {code}: {message}"),
            ApiError::Config(_) | ApiError::Internal(_) => {
                "internal error; the details are in the Worker's log".into()
            }
        }
    }

    /// `code: message`, as stored where a person reads it (a reconciliation's outcome).
    pub fn summary(&self) -> String {
        format!("{}: {}", self.code(), self.public_message())
    }

    /// What the log says: the public summary, and for our own failures what they hide.
    pub fn log_line(&self) -> String {
        match self {
            ApiError::Config(detail) | ApiError::Internal(detail) => {
                format!("{}: {detail}", self.code())
            }
            _ => self.summary(),
        }
    }

    fn log_if_ours(&self) {
        if self.status() >= 500 {
            worker::console_error!("{}", self.log_line());
        }
    }

    /// The standard JSON error response (with `Retry-After` when rate-limited).
    pub fn into_response(self) -> Response {
        self.log_if_ours();
        let mut body =
            json!({ "error": { "code": self.code(), "message": self.public_message() } });
        // A risk limit says which one, and when it frees up, for programs as well as people.
        if let ApiError::Domain(pay_core::Error::LimitExceeded { limit, resets_at }) = &self {
            body["error"]["limit"] = json!(limit);
            body["error"]["resets_at"] = json!(resets_at.map(|t| t.secs()));
        }
        let mut response = json_response(self.status(), &body);
        let headers = response.headers_mut();
        match self {
            ApiError::Domain(pay_core::Error::RateLimited {
                retry_after_secs, ..
            }) => {
                let _ = headers.set("Retry-After", &retry_after_secs.to_string());
            }
            ApiError::Domain(pay_core::Error::LimitExceeded {
                resets_at: Some(at),
                ..
            }) => {
                let wait = at.secs().saturating_sub(crate::now().secs()).max(1);
                let _ = headers.set("Retry-After", &wait.to_string());
            }
            ApiError::MethodNotAllowed { allow } => {
                let _ = headers.set("Allow", allow);
            }
            _ => {}
        }
        response
    }

    /// WeChat Pay's failure shape, for the notification endpoint: it retries on any non-2xx.
    pub fn into_wechatpay_response(self) -> Response {
        self.log_if_ours();
        json_response(
            self.status(),
            &json!({ "code": "FAIL", "message": format!("{}: {}", self.code(), self.public_message()) }),
        )
    }
}

pub fn json_response(status: u16, body: &serde_json::Value) -> Response {
    match Response::from_json(body) {
        Ok(r) => r.with_status(status),
        Err(_) => Response::error("internal error", 500).expect("static response"),
    }
}

impl From<pay_core::Error> for ApiError {
    fn from(e: pay_core::Error) -> Self {
        ApiError::Domain(e)
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
