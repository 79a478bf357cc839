//! WeChat Pay API v3: request signing, response and notification verification, wire types.

pub mod auth;
pub mod certificate;
pub mod keys;
pub mod model;
pub mod notification;
pub mod pay_params;
pub mod signature;

pub use auth::{AuthorizationHeader, RequestToSign};
pub use certificate::PlatformCertificate;
pub use keys::{KeyId, PlatformKeys};
pub use notification::{Notification, NotificationEnvelope};
pub use signature::{SignedHeaders, MAX_CLOCK_SKEW_SECS};

/// The only signature scheme API v3 uses.
pub const SIGNATURE_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// Header names as WeChat Pay sends them (HTTP header names are case-insensitive).
pub mod headers {
    pub const TIMESTAMP: &str = "Wechatpay-Timestamp";
    pub const NONCE: &str = "Wechatpay-Nonce";
    pub const SIGNATURE: &str = "Wechatpay-Signature";
    pub const SERIAL: &str = "Wechatpay-Serial";
    pub const SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";
    pub const REQUEST_ID: &str = "Request-ID";
}
