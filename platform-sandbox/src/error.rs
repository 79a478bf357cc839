//! The simulator's one error type, answered as WeChat Pay does: a status and
//! `{"code": "PARAM_ERROR", "message": "…"}`. Mapped to HTTP here and nowhere else.

#[derive(Debug)]
pub enum PlatformError {
    /// 401 SIGN_ERROR: the merchant's Authorization did not verify.
    Sign(String),
    /// 400 PARAM_ERROR: a missing or invalid parameter.
    Param(String),
    /// 400 INVALID_REQUEST: e.g. an out_trade_no re-sent with other parameters.
    InvalidRequest(String),
    /// 400 APPID_MCHID_NOT_MATCH: an appid not bound to the merchant number it comes with.
    AppidMchidNotMatch(String),
    /// 403 NO_AUTH: e.g. a provider acting for a sub-merchant that is not its own.
    NoAuth(String),
    /// 400 ORDER_PAID / ORDER_CLOSED: the order's state forbids this.
    OrderState { code: &'static str, message: String },
    /// 404 ORDER_NOT_EXIST.
    OrderNotExist,
    /// 404 RESOURCE_NOT_EXISTS: e.g. no refund under that out_refund_no.
    ResourceNotExists(String),
    /// 429 FREQUENCY_LIMITED: too many calls (the `frequency_limited` fault).
    FrequencyLimited,
    /// 404 for a path the platform does not have.
    NoSuchPath,
    /// 500 SYSTEM_ERROR: the simulator's own failure (logged).
    System(String),
}

impl PlatformError {
    pub fn status(&self) -> u16 {
        match self {
            PlatformError::Sign(_) => 401,
            PlatformError::Param(_)
            | PlatformError::InvalidRequest(_)
            | PlatformError::AppidMchidNotMatch(_)
            | PlatformError::OrderState { .. } => 400,
            PlatformError::NoAuth(_) => 403,
            PlatformError::OrderNotExist
            | PlatformError::ResourceNotExists(_)
            | PlatformError::NoSuchPath => 404,
            PlatformError::FrequencyLimited => 429,
            PlatformError::System(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            PlatformError::Sign(_) => "SIGN_ERROR",
            PlatformError::Param(_) => "PARAM_ERROR",
            PlatformError::InvalidRequest(_) => "INVALID_REQUEST",
            PlatformError::AppidMchidNotMatch(_) => "APPID_MCHID_NOT_MATCH",
            PlatformError::NoAuth(_) => "NO_AUTH",
            PlatformError::OrderState { code, .. } => code,
            PlatformError::OrderNotExist => "ORDER_NOT_EXIST",
            PlatformError::ResourceNotExists(_) => "RESOURCE_NOT_EXISTS",
            PlatformError::FrequencyLimited => "FREQUENCY_LIMITED",
            PlatformError::NoSuchPath => "NOT_FOUND",
            PlatformError::System(_) => "SYSTEM_ERROR",
        }
    }

    pub fn message(&self) -> String {
        match self {
            PlatformError::Sign(m)
            | PlatformError::Param(m)
            | PlatformError::InvalidRequest(m)
            | PlatformError::AppidMchidNotMatch(m)
            | PlatformError::NoAuth(m)
            | PlatformError::ResourceNotExists(m) => m.clone(),
            PlatformError::FrequencyLimited => "频率超限".into(),
            PlatformError::OrderState { message, .. } => message.clone(),
            PlatformError::OrderNotExist => "订单不存在".into(),
            PlatformError::NoSuchPath => "no such API path in the simulator".into(),
            PlatformError::System(m) => {
                worker::console_error!("simulator failure: {m}");
                "系统错误".into()
            }
        }
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "code": self.code(), "message": self.message() })
    }
}

impl From<worker::Error> for PlatformError {
    fn from(e: worker::Error) -> Self {
        PlatformError::System(e.to_string())
    }
}

impl From<pay_core::Error> for PlatformError {
    fn from(e: pay_core::Error) -> Self {
        match e {
            pay_core::Error::Crypto { .. } | pay_core::Error::Key { .. } => {
                PlatformError::System(e.to_string())
            }
            other => PlatformError::Param(other.to_string()),
        }
    }
}

pub type PlatformResult<T> = Result<T, PlatformError>;
