//! Who may call: a merchant (its secret key or API key as Bearer), the platform operator (the
//! platform key as Bearer), or the payer's widget (a session's client secret as Bearer, or on a
//! WebSocket as its second subprotocol). The merchant who calls, or whose session is asked
//! about, is the one the request then serves (`RequestContext::serve`). Compared in constant
//! time; an unknown session and a wrong secret get the same answer, so there is nothing to
//! probe.

use worker::Request;

use super::request::bearer;
use super::RequestContext;
use crate::config::Platform;
use crate::error::{ApiError, ApiResult};
use crate::ledger::CheckoutSession;
use crate::platform::routing::Merchant;
use pay_core::shard::merchant_named_by;
use worker_kit::secret::constant_time_eq;

/// The merchant API's credential: `Authorization: Bearer <key>` ([`merchant_key`]); the
/// request then serves that merchant, and only it: the context that does.
pub async fn merchant<'a>(
    req: &Request,
    rc: &'a mut RequestContext,
) -> ApiResult<&'a RequestContext> {
    merchant_key(&bearer(req)?, rc).await
}

/// The merchant whose key `key` is: the default merchant's `MERCHANT_SECRET_KEY` or a registry
/// merchant's API key (not revoked); the request then serves it (the API, a console sign-in).
pub async fn merchant_key<'a>(
    key: &str,
    rc: &'a mut RequestContext,
) -> ApiResult<&'a RequestContext> {
    let merchant = if rc.config.merchant.secret_key.matches(key) {
        Merchant::default_of(&rc.config)
    } else {
        Merchant::by_key(&rc.catalog, &rc.config, key)
            .await?
            .ok_or(ApiError::Unauthorized)?
    };
    rc.serve(merchant)?;
    Ok(rc)
}

/// The default merchant's key only (`MERCHANT_SECRET_KEY`): for the route that serves the
/// deployment's own books alone (the move of the books from D1).
pub fn default_merchant(req: &Request, rc: &RequestContext) -> ApiResult<()> {
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

/// The session `id`, if the request carries its client secret; the request then serves the
/// session's merchant (its id names it).
pub async fn client_secret(
    req: &Request,
    rc: &mut RequestContext,
    id: &str,
) -> ApiResult<CheckoutSession> {
    session_with_secret(rc, id, &bearer(req)?).await
}

/// The session `id`, if the WebSocket upgrade `req` carries its client secret: as Bearer, or
/// (a browser cannot set headers on a socket) as the subprotocol after `protocol`.
pub async fn client_secret_of_socket(
    req: &Request,
    rc: &mut RequestContext,
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
    rc: &mut RequestContext,
    id: &str,
    secret: &str,
) -> ApiResult<CheckoutSession> {
    // A merchant the deployment does not have: the same answer as a wrong secret.
    if !rc.serve_named(&merchant_named_by(id)).await? {
        return Err(ApiError::Unauthorized);
    }
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
