//! Rate limits on the routes a browser can reach that cost something: creating sessions, and
//! pay and check (each asks WeChat Pay), the OAuth round trip, reads and console sign-ins. Per
//! client IP before credentials are looked at (so guessing secrets is slow too), per session
//! after (so nobody else can use up a payer's). Counted by the subject's own object
//! (`objects::counters`), decided by `pay_core::rate_limit`.

use pay_core::client_ip::ClientAddress;
use pay_core::rate_limit::RateLimit;
use worker::Request;

use super::RequestContext;
use crate::error::ApiResult;

/// The client as the limits count it (pay_core::client_ip: an IPv6 client by its network), from
/// the address Cloudflare gives (`CF-Connecting-IP`, set by the edge and not by the client;
/// locally `wrangler dev` sets it to the loopback address).
pub fn client(req: &Request, rc: &RequestContext) -> ClientAddress {
    ClientAddress::parse(
        &connecting_ip(req).unwrap_or_default(),
        rc.config.deployment.limits.v6_prefix,
    )
}

/// The address Cloudflare saw the request come from.
pub fn connecting_ip(req: &Request) -> Option<String> {
    req.headers().get("CF-Connecting-IP").ok().flatten()
}

/// Counts this hit on `limit` for `subject`; a `rate_limited` error (429) when over.
pub async fn hit(rc: &RequestContext, limit: RateLimit, subject: &str) -> ApiResult<()> {
    if limit.is_off() {
        return Ok(());
    }
    let window = limit.window(subject, rc.now);
    let hits = rc.books.hit(subject, &window).await?;
    Ok(limit.check(&window, hits, rc.now)?)
}

/// Counts this request against `limit` for its client IP.
pub async fn hit_by_ip(req: &Request, rc: &RequestContext, limit: RateLimit) -> ApiResult<()> {
    hit(rc, limit, &client(req, rc).key).await
}
