//! The edge-worker's one error type, every public error code listed once, and the one place
//! errors become HTTP responses.
//!
//! Every error answers `{"error": {"code": "...", "message": "..."}}` with a stable code,
//! except on the notification endpoint, where WeChat Pay expects `{"code": "FAIL", "message"}`.
//! Internal details (storage, runtime) are logged, never returned.

use pay_core::checkout::SessionStatus;
use pay_core::requests::Scene;
use pay_core::UnixTime;
use serde_json::json;
use worker::Response;
use worker_kit::fetch::FetchError;

#[derive(Debug)]
pub enum ApiError {
    /// Missing or wrong credentials for this route.
    Unauthorized,
    NotFound(&'static str),
    /// A known path asked with another method; `allow` lists the methods it takes.
    MethodNotAllowed {
        allow: String,
    },
    /// A WebSocket route asked without `Upgrade: websocket`.
    UpgradeRequired,
    /// A body over `http::request::MAX_BODY_BYTES`, refused before it is parsed.
    BodyTooLarge {
        limit: usize,
    },
    /// The request body or a parameter breaks a rule.
    InvalidRequest {
        kind: BadInput,
        message: String,
    },
    /// The session cannot be paid in its current state.
    SessionNotPayable(SessionStatus),
    SessionExpired,
    /// A close of a session that is no longer open (paid).
    SessionNotClosable(SessionStatus),
    /// A pay in another scene than the one the session's first pay fixed.
    SceneLocked(Scene),
    /// The JSAPI scene before the payer's openid is known (WeChat OAuth first).
    PayerUnknown {
        session_id: String,
    },
    /// The merchant's out_trade_no names another session already.
    OutTradeNoUsed {
        out_trade_no: String,
    },
    /// Refunds of the session would exceed what was paid (or it is not paid).
    RefundExceedsPayment,
    IdempotencyKeyReused,
    /// A duplicate that arrives while the first request with its key still runs.
    IdempotencyInProgress,
    /// An OAuth `return_to` outside the Worker's and the allowed origins.
    ReturnToNotAllowed,
    /// A forged or expired OAuth state.
    InvalidOAuthState,
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
    /// The books are being moved from D1 into the objects (`BOOKS_IN = "moving"`).
    BooksMoving,
    /// A move of the books asked while `BOOKS_IN` is not `"moving"`.
    BooksNotMoving,
    /// The platform API asked of a deployment without `PLATFORM_SECRET_KEY` and `SECRETS_KEK`.
    PlatformNotConfigured,
    /// A suspended merchant's new session: its open payments still complete and refund.
    MerchantSuspended,
    /// A merchant or provider with the same WeChat Pay identity exists (`what` says which).
    AlreadyExists(&'static str),
    /// A registry entry changed between its read and its write (`what` says which).
    ChangedMeanwhile(&'static str),
    /// The deployment is misconfigured; the message names the setting.
    Config(String),
    /// D1, fetch or the runtime failed.
    Internal(String),
}

/// The ways a request's input is refused with 400, each its own public code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadInput {
    UnsupportedMediaType,
    InvalidParameter,
    UnknownParameter,
    InvalidStatus,
    InvalidLimit,
    InvalidDate,
    InvalidIdempotencyKey,
    ClientIpUnknown,
    InvalidReturnTo,
    OauthDenied,
    UnknownProduct,
    CrossOrigin,
    /// A merchant's or provider's settings refused (the message names the setting).
    InvalidMerchant,
    /// The tests' build only: a read of books that are not inspectable.
    #[cfg(feature = "test-routes")]
    NotInspectable,
}

impl BadInput {
    pub fn code(self) -> &'static str {
        match self {
            BadInput::UnsupportedMediaType => "unsupported_media_type",
            BadInput::InvalidParameter => "invalid_parameter",
            BadInput::UnknownParameter => "unknown_parameter",
            BadInput::InvalidStatus => "invalid_status",
            BadInput::InvalidLimit => "invalid_limit",
            BadInput::InvalidDate => "invalid_date",
            BadInput::InvalidIdempotencyKey => "invalid_idempotency_key",
            BadInput::ClientIpUnknown => "client_ip_unknown",
            BadInput::InvalidReturnTo => "invalid_return_to",
            BadInput::OauthDenied => "oauth_denied",
            BadInput::UnknownProduct => "unknown_product",
            BadInput::CrossOrigin => "cross_origin",
            BadInput::InvalidMerchant => "invalid_merchant",
            #[cfg(feature = "test-routes")]
            BadInput::NotInspectable => "not_inspectable",
        }
    }
}

impl ApiError {
    pub fn invalid(kind: BadInput, message: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            kind,
            message: message.into(),
        }
    }

    pub fn status(&self) -> u16 {
        use pay_core::Error as E;
        match self {
            ApiError::Unauthorized | ApiError::InvalidOAuthState => 401,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::BodyTooLarge { .. } => 413,
            ApiError::UpgradeRequired => 426,
            ApiError::InvalidRequest { .. } => 400,
            ApiError::SessionNotPayable(_)
            | ApiError::SessionNotClosable(_)
            | ApiError::SceneLocked(_)
            | ApiError::PayerUnknown { .. }
            | ApiError::OutTradeNoUsed { .. }
            | ApiError::RefundExceedsPayment
            | ApiError::IdempotencyInProgress
            | ApiError::AlreadyExists(_)
            | ApiError::ChangedMeanwhile(_) => 409,
            ApiError::SessionExpired => 410,
            ApiError::IdempotencyKeyReused => 422,
            ApiError::ReturnToNotAllowed | ApiError::MerchantSuspended => 403,
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
            ApiError::BooksMoving | ApiError::PlatformNotConfigured => 503,
            ApiError::BooksNotMoving => 409,
            ApiError::Config(_) | ApiError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::BodyTooLarge { .. } => "body_too_large",
            ApiError::UpgradeRequired => "upgrade_required",
            ApiError::InvalidRequest { kind, .. } => kind.code(),
            ApiError::SessionNotPayable(_) => "session_not_payable",
            ApiError::SessionExpired => "session_expired",
            ApiError::SessionNotClosable(_) => "session_not_closable",
            ApiError::SceneLocked(_) => "scene_locked",
            ApiError::PayerUnknown { .. } => "payer_unknown",
            ApiError::OutTradeNoUsed { .. } => "out_trade_no_used",
            ApiError::RefundExceedsPayment => "refund_exceeds_payment",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::IdempotencyInProgress => "idempotency_in_progress",
            ApiError::ReturnToNotAllowed => "return_to_not_allowed",
            ApiError::InvalidOAuthState => "invalid_state",
            ApiError::Domain(e) => e.code(),
            ApiError::Upstream { .. } => "wechatpay_error",
            ApiError::BooksMoving => "books_moving",
            ApiError::BooksNotMoving => "books_not_moving",
            ApiError::PlatformNotConfigured => "platform_not_configured",
            ApiError::MerchantSuspended => "merchant_suspended",
            ApiError::AlreadyExists(_) => "already_exists",
            ApiError::ChangedMeanwhile(_) => "changed_meanwhile",
            ApiError::Config(_) => "misconfigured",
            ApiError::Internal(_) => "internal",
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
            ApiError::UpgradeRequired => {
                "this route is a WebSocket: ask with Upgrade: websocket".into()
            }
            ApiError::InvalidRequest { message, .. } => message.clone(),
            ApiError::SessionNotPayable(status) => {
                format!("the session is {} and cannot be paid", status.as_str())
            }
            ApiError::SessionExpired => {
                "the session has expired; ask the merchant for a new one".into()
            }
            ApiError::SessionNotClosable(status) => format!("the session is {}", status.as_str()),
            ApiError::SceneLocked(scene) => format!(
                "this session is being paid in the {} scene; ask the merchant for a new session",
                scene.as_str()
            ),
            ApiError::PayerUnknown { session_id } => format!(
                "the payer's openid is not known yet: open /v1/widget/sessions/{session_id}/oauth first"
            ),
            ApiError::OutTradeNoUsed { out_trade_no } => {
                format!("out_trade_no {out_trade_no} is already used by another session")
            }
            ApiError::RefundExceedsPayment => {
                "refunds of this session would exceed the amount paid (or it is not paid)".into()
            }
            ApiError::IdempotencyKeyReused => {
                "this Idempotency-Key was used with other parameters".into()
            }
            ApiError::IdempotencyInProgress => {
                "a request with this Idempotency-Key is still in progress; retry later".into()
            }
            ApiError::ReturnToNotAllowed => {
                "return_to must be on this Worker's origin or one in ALLOWED_ORIGINS".into()
            }
            ApiError::InvalidOAuthState => {
                "bad or expired OAuth state: start again from the checkout".into()
            }
            ApiError::Domain(e) => e.to_string(),
            ApiError::Upstream {
                status,
                code,
                message,
                ..
            } => format!("WeChat Pay answered {status} {code}: {message}"),
            ApiError::BooksMoving => {
                "the books are being moved to their new storage; try again in a minute".into()
            }
            ApiError::BooksNotMoving => {
                "the books are moved only while BOOKS_IN is \"moving\"".into()
            }
            ApiError::PlatformNotConfigured => {
                "the platform API needs PLATFORM_SECRET_KEY and SECRETS_KEK (README, \"Platform mode\")"
                    .into()
            }
            ApiError::MerchantSuspended => {
                "this merchant is suspended: it takes no new payments (its open ones complete)"
                    .into()
            }
            ApiError::AlreadyExists(what) => format!("{what} already exists"),
            ApiError::ChangedMeanwhile(what) => {
                format!("the {what} changed while this request was made; read it and try again")
            }
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

    /// The standard JSON error response, with `Retry-After` (counted from `now`) when a limit
    /// frees up in time and `Allow` on a 405.
    pub fn into_response(self, now: UnixTime) -> Response {
        self.log_if_ours();
        let mut body =
            json!({ "error": { "code": self.code(), "message": self.public_message() } });
        // A risk limit says which one, and when it frees up, for programs as well as people.
        if let ApiError::Domain(pay_core::Error::LimitExceeded { limit, resets_at }) = &self {
            body["error"]["limit"] = json!(limit);
            body["error"]["resets_at"] = json!(resets_at.map(|t| t.secs()));
        }
        let mut response = worker_kit::json::answer(self.status(), &body);
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
                let wait = at.secs().saturating_sub(now.secs()).max(1);
                let _ = headers.set("Retry-After", &wait.to_string());
            }
            ApiError::MethodNotAllowed { allow } => {
                let _ = headers.set("Allow", &allow);
            }
            ApiError::BooksMoving => {
                let _ = headers.set("Retry-After", "60");
            }
            _ => {}
        }
        response
    }

    /// WeChat Pay's failure shape, for the notification endpoint: it retries on any non-2xx.
    pub fn into_wechatpay_response(self) -> Response {
        self.log_if_ours();
        worker_kit::json::answer(
            self.status(),
            &json!({ "code": "FAIL", "message": format!("{}: {}", self.code(), self.public_message()) }),
        )
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

/// A call to WeChat Pay (or WeChat) that got no answer: an unknown outcome, like a 5xx.
impl From<FetchError> for ApiError {
    fn from(e: FetchError) -> Self {
        let (status, code) = match e {
            FetchError::TimedOut { .. } => (504, "TIMEOUT"),
            FetchError::Network(_) => (502, "NETWORK"),
        };
        ApiError::Upstream {
            signed: false,
            status,
            code: code.into(),
            message: e.to_string(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
