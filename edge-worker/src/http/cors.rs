//! CORS for the widget API: granted to the Worker's own origin and the origins the session's
//! merchant allows, and to nobody else. A WebSocket is not under CORS: its upgrade is refused from other origins here
//! ([`allowed`]), so another site cannot open a payer's socket with a secret it learned.

use worker::{Request, Response};

use checkout_service::config::MerchantProfile;

pub fn allow(req: &Request, merchant: &MerchantProfile, response: Response) -> Response {
    let Some(origin) = req.headers().get("Origin").ok().flatten() else {
        return response;
    };
    if !allowed(req, merchant, &origin) {
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

/// Whether `origin` is the Worker's own or one the merchant whose session it is allows.
pub fn allowed(req: &Request, merchant: &MerchantProfile, origin: &str) -> bool {
    let own_origin = super::request::own_origin(req).unwrap_or_default();
    origin == own_origin || merchant.allowed_origins.iter().any(|o| o == origin)
}
