//! Who may call: the merchant (its secret key as Bearer), the platform operator (the platform
//! key as Bearer), or the payer's widget (a session's client secret as Bearer, or on a
//! WebSocket as its second subprotocol). Compared in constant
//! time; an unknown session and a wrong secret get the same answer, so there is nothing to
//! probe.

use worker::Request;

use super::request::bearer;
use super::RequestContext;
use crate::config::Platform;
use crate::error::{ApiError, ApiResult};
use crate::ledger::CheckoutSession;
use worker_kit::secret::constant_time_eq;

/// The merchant API's credential: `Authorization: Bearer <MERCHANT_SECRET_KEY>`.
pub fn merchant(req: &Request, rc: &RequestContext) -> ApiResult<()> {
    if rc.config.merchant.secret_key.matches(&bearer(req)?) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// The platform API's credential: `Authorization: Bearer <PLATFORM_SECRET_KEY>`; the
/// platform's keys, or that platform mode is not configured.
pub fn platform<'a>(req: &Request, rc: &'a RequestContext) -> ApiResult<&'a Platform> {
    let platform = rc
        .config
        .deployment
        .platform
        .as_ref()
        .ok_or(ApiError::PlatformNotConfigured)?;
    if platform.key.matches(&bearer(req)?) {
        Ok(platform)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// The session `id`, if the request carries its client secret.
pub async fn client_secret(
    req: &Request,
    rc: &RequestContext,
    id: &str,
) -> ApiResult<CheckoutSession> {
    session_with_secret(rc, id, &bearer(req)?).await
}

/// The session `id`, if the WebSocket upgrade `req` carries its client secret: as Bearer, or
/// (a browser cannot set headers on a socket) as the subprotocol after `protocol`.
pub async fn client_secret_of_socket(
    req: &Request,
    rc: &RequestContext,
    id: &str,
    protocol: &str,
) -> ApiResult<CheckoutSession> {
    if let Ok(secret) = bearer(req) {
        return session_with_secret(rc, id, &secret).await;
    }
    let offered = req
        .headers()
        .get("Sec-WebSocket-Protocol")?
        .unwrap_or_default();
    let mut offered = offered.split(',').map(str::trim);
    match (offered.next(), offered.next()) {
        (Some(p), Some(secret)) if p == protocol => session_with_secret(rc, id, secret).await,
        _ => Err(ApiError::Unauthorized),
    }
}

async fn session_with_secret(
    rc: &RequestContext,
    id: &str,
    secret: &str,
) -> ApiResult<CheckoutSession> {
    let session = rc.ledger.sessions().by_id(id).await?;
    match session {
        Some(s)
            if constant_time_eq(
                &s.client_secret_hash,
                &pay_core::sha256_hex(secret.as_bytes()),
            ) =>
        {
            Ok(s)
        }
        _ => Err(ApiError::Unauthorized),
    }
}
